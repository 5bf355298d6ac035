/* Downsampling of a series for charts: first, last, min, max per bucket. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "downsample.h"

#define PICKS	5	/* points a bucket may keep */

void
downsample_point(struct summary *s, const struct point *p)
{
	s->n = 1;
	s->first = s->last = *p;
	s->has_finite = isfinite(p->value);
	s->has_bad = !s->has_finite;
	if (s->has_finite)
		s->min = s->max = *p;
	else
		s->bad = *p;
}

/* Whether a is a smaller minimum than b: smaller, or as small and
 * earlier.  Earlier wins on a tie for the maximum too. */
static int
downsample_below(const struct point *a, const struct point *b)
{
	return a->value < b->value || (a->value == b->value &&
	    a->step < b->step);
}

static int
downsample_above(const struct point *a, const struct point *b)
{
	return a->value > b->value || (a->value == b->value &&
	    a->step < b->step);
}

void
downsample_merge(struct summary *s, const struct summary *o)
{
	if (o->n == 0)
		return;
	if (s->n == 0) {
		*s = *o;
		return;
	}
	s->n += o->n;
	if (o->first.step < s->first.step)
		s->first = o->first;
	if (o->last.step > s->last.step)
		s->last = o->last;
	if (o->has_finite) {
		if (!s->has_finite || downsample_below(&o->min, &s->min))
			s->min = o->min;
		if (!s->has_finite || downsample_above(&o->max, &s->max))
			s->max = o->max;
		s->has_finite = 1;
	}
	if (o->has_bad && (!s->has_bad || o->bad.step < s->bad.step)) {
		s->bad = o->bad;
		s->has_bad = 1;
	}
}

size_t
downsample_buckets(size_t max)
{
	return max < PICKS ? 1 : max / PICKS;
}

/* Appends the points a bucket keeps to the output, in step order and
 * each step once. */
static void
downsample_flush(struct downsampler *d)
{
	struct point	 pick[PICKS], t;
	size_t		 i, j, k = 0;

	if (d->cur.n == 0)
		return;
	pick[k++] = d->cur.first;
	pick[k++] = d->cur.last;
	if (d->cur.has_finite) {
		pick[k++] = d->cur.min;
		pick[k++] = d->cur.max;
	}
	if (d->cur.has_bad)
		pick[k++] = d->cur.bad;
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && pick[j - 1].step > pick[j].step; j--) {
			t = pick[j];
			pick[j] = pick[j - 1];
			pick[j - 1] = t;
		}
	for (i = 0; i < k; i++)
		if (i == 0 || pick[i - 1].step != pick[i].step)
			d->out[d->nout++] = pick[i];
	d->cur.n = 0;
}

/* Where the bucket of index b ends, as a position among the blocks. */
static size_t
downsample_bucket_end(const struct downsampler *d, size_t b)
{
	if (b + 1 >= d->nbuckets)
		return (size_t)-1;	/* the last takes any extra block */
	return (size_t)((uint64_t)(b + 1) * d->nblocks / d->nbuckets);
}

void
downsample_begin(struct downsampler *d, size_t nblocks, size_t max,
    struct point *out)
{
	d->out = out;
	d->nout = 0;
	d->nblocks = nblocks;
	d->nbuckets = downsample_buckets(max);
	if (d->nbuckets > nblocks)
		d->nbuckets = nblocks > 0 ? nblocks : 1;
	d->seen = 0;
	d->bucket = 0;
	d->end = downsample_bucket_end(d, 0);
	d->cur.n = 0;
}

void
downsample_add(struct downsampler *d, const struct summary *s)
{
	if (d->seen == d->end) {
		downsample_flush(d);
		d->bucket++;
		d->end = downsample_bucket_end(d, d->bucket);
	}
	downsample_merge(&d->cur, s);
	d->seen++;
}

size_t
downsample_end(struct downsampler *d)
{
	downsample_flush(d);
	return d->nout;
}

size_t
downsample(struct point *pts, size_t n, size_t max)
{
	struct downsampler	 d;
	struct summary		 s;
	size_t			 i;

	if (max > 0 && max < PICKS)
		max = PICKS;
	if (max == 0 || n <= max)
		return n;

	/*
	 * Each bucket spans more than PICKS points, so the points a bucket
	 * keeps are written behind the ones still to be read.
	 */
	downsample_begin(&d, n, max, pts);
	for (i = 0; i < n; i++) {
		downsample_point(&s, &pts[i]);
		downsample_add(&d, &s);
	}
	return downsample_end(&d);
}
