/* Unit tests of the downsampling of history for charts. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "downsample.h"
#include "check_run.h"

static struct point *
series(size_t n)
{
	struct point	*p = calloc(n, sizeof(*p));
	size_t		 i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		p[i].step = (int64_t)i;
		p[i].value = 1.0 + (double)(i % 7) / 10.0;
		p[i].time = 1000.0 + (double)i;
	}
	return p;
}

static int
has_step(const struct point *p, size_t n, int64_t step)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i].step == step)
			return 1;
	return 0;
}

START_TEST(short_series_untouched)
{
	struct point	*p = series(10);

	ck_assert_uint_eq(downsample(p, 10, 10), 10);
	ck_assert_uint_eq(downsample(p, 10, 0), 10);
	ck_assert_uint_eq(downsample(p, 3, 100), 3);
	free(p);
}
END_TEST

START_TEST(bounded_ordered_first_last)
{
	size_t		 n = 100000, max = 2000, m, i;
	struct point	*p = series(n);

	m = downsample(p, n, max);
	ck_assert_uint_le(m, max);
	ck_assert_uint_gt(m, max / 2);
	ck_assert_int_eq(p[0].step, 0);
	ck_assert_int_eq(p[m - 1].step, (int64_t)n - 1);
	for (i = 1; i < m; i++)
		ck_assert_int_lt(p[i - 1].step, p[i].step);
	free(p);
}
END_TEST

START_TEST(spike_and_dip_survive)
{
	size_t		 n = 1000000, m;
	struct point	*p = series(n);

	p[123457].value = 1e6;
	p[765433].value = -1e6;
	m = downsample(p, n, 100);
	ck_assert(has_step(p, m, 123457));
	ck_assert(has_step(p, m, 765433));
	free(p);
}
END_TEST

START_TEST(non_finite_kept)
{
	size_t		 n = 50000, m, i;
	struct point	*p = series(n);
	int		 nan = 0, inf = 0;

	p[4242].value = NAN;
	p[30001].value = INFINITY;
	m = downsample(p, n, 50);
	for (i = 0; i < m; i++) {
		nan += isnan(p[i].value) && p[i].step == 4242;
		inf += isinf(p[i].value) && p[i].step == 30001;
	}
	ck_assert_int_eq(nan, 1);
	ck_assert_int_eq(inf, 1);
	free(p);
}
END_TEST

START_TEST(deterministic)
{
	size_t		 n = 77777, m1, m2;
	struct point	*a = series(n), *b = series(n);

	m1 = downsample(a, n, 333);
	m2 = downsample(b, n, 333);
	ck_assert_uint_eq(m1, m2);
	ck_assert_mem_eq(a, b, m1 * sizeof(*a));
	free(a);
	free(b);
}
END_TEST

START_TEST(tiny_max)
{
	size_t		 m;
	struct point	*p = series(100);

	m = downsample(p, 100, 1);
	ck_assert_uint_le(m, 5);
	ck_assert_int_eq(p[0].step, 0);
	ck_assert_int_eq(p[m - 1].step, 99);
	free(p);
}
END_TEST

/* A small deterministic generator, so that a failure can be replayed. */
static uint64_t
rnd(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

/* Values with ties, NaN and infinities among them. */
static double
rnd_value(uint64_t *st)
{
	switch (rnd(st) % 20) {
	case 0:
		return NAN;
	case 1:
		return INFINITY;
	case 2:
		return -INFINITY;
	default:
		return (double)(rnd(st) % 9) / 4.0 - 1.0;
	}
}

static struct point *
rnd_series(size_t n, uint64_t *st)
{
	struct point	*p = calloc(n, sizeof(*p));
	int64_t		 step = 0;
	size_t		 i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		step += 1 + (int64_t)(rnd(st) % 3);
		p[i].step = step;
		p[i].value = rnd_value(st);
		p[i].time = 1e9 + (double)i;
	}
	return p;
}

static int
same_point(const struct point *a, const struct point *b)
{
	return a->step == b->step && a->time == b->time &&
	    (a->value == b->value || (isnan(a->value) && isnan(b->value)));
}

/* The summary of pts[lo..hi), written out plainly from its definition. */
static void
expected_summary(const struct point *p, size_t lo, size_t hi,
    struct summary *s)
{
	size_t	 i;

	memset(s, 0, sizeof(*s));
	s->n = (int64_t)(hi - lo);
	s->first = p[lo];
	s->last = p[hi - 1];
	for (i = lo; i < hi; i++) {
		if (!isfinite(p[i].value)) {
			if (!s->has_bad)
				s->bad = p[i];
			s->has_bad = 1;
			continue;
		}
		if (!s->has_finite || p[i].value < s->min.value)
			s->min = p[i];
		if (!s->has_finite || p[i].value > s->max.value)
			s->max = p[i];
		s->has_finite = 1;
	}
}

static void
assert_same_summary(const struct summary *a, const struct summary *b)
{
	ck_assert_int_eq(a->n, b->n);
	ck_assert(same_point(&a->first, &b->first));
	ck_assert(same_point(&a->last, &b->last));
	ck_assert_int_eq(a->has_finite, b->has_finite);
	ck_assert_int_eq(a->has_bad, b->has_bad);
	if (a->has_finite) {
		ck_assert(same_point(&a->min, &b->min));
		ck_assert(same_point(&a->max, &b->max));
	}
	if (a->has_bad)
		ck_assert(same_point(&a->bad, &b->bad));
}

/* Merging the summaries of parts, in any order, gives the summary of
 * the whole, ties going to the earlier step. */
START_TEST(merge_in_any_order)
{
	uint64_t	 st = 7;
	size_t		 n = 300, round, i, k, cut[12], order[11], t;
	struct point	*p;
	struct summary	 want, got, part[11], one;

	for (round = 0; round < 200; round++) {
		p = rnd_series(n, &st);
		expected_summary(p, 0, n, &want);
		cut[0] = 0;
		cut[11] = n;
		for (i = 1; i < 11; i++)
			cut[i] = cut[i - 1] + rnd(&st) % (n / 11);
		for (k = 0; k < 11; k++) {
			part[k].n = 0;
			for (i = cut[k]; i < cut[k + 1]; i++) {
				downsample_point(&one, &p[i]);
				downsample_merge(&part[k], &one);
			}
			order[k] = k;
		}
		for (k = 10; k > 0; k--) {
			i = rnd(&st) % (k + 1);
			t = order[k];
			order[k] = order[i];
			order[i] = t;
		}
		got.n = 0;
		for (k = 0; k < 11; k++)
			downsample_merge(&got, &part[order[k]]);
		assert_same_summary(&got, &want);
		free(p);
	}
}
END_TEST

/*
 * Blocks of consecutive points (of any sizes, some empty) downsampled
 * keep, for each group of blocks, exactly the first, last, smallest,
 * largest and first non-finite point of the group's points.
 */
START_TEST(blocks_keep_their_groups_picks)
{
	uint64_t	 st = 11;
	size_t		 n = 5000, max, nb, b, i, k, lo, hi, m, want_n;
	size_t		*start;
	struct point	*p, *out, want[5], tmp;
	struct summary	*blk, s;
	struct downsampler d;

	p = rnd_series(n, &st);
	start = calloc(n + 1, sizeof(*start));
	blk = calloc(n, sizeof(*blk));
	out = calloc(1000, sizeof(*out));
	ck_assert(start && blk && out);
	for (max = 5; max <= 1000; max = max * 3 + 1) {
		/* Cut into blocks of 1 to 40 points. */
		nb = 0;
		for (i = 0; i < n; i += k) {
			k = 1 + rnd(&st) % 40;
			if (i + k > n)
				k = n - i;
			start[nb] = i;
			expected_summary(p, i, i + k, &blk[nb++]);
		}
		start[nb] = n;
		downsample_begin(&d, nb, max, out);
		for (b = 0; b < nb; b++)
			downsample_add(&d, &blk[b]);
		m = downsample_end(&d);
		ck_assert_uint_le(m, max);

		/* The groups, cut by position among the blocks. */
		k = 0;
		for (b = 0; b < d.nbuckets; b++) {
			lo = start[b * nb / d.nbuckets];
			hi = start[(b + 1) * nb / d.nbuckets];
			expected_summary(p, lo, hi, &s);
			want_n = 0;
			want[want_n++] = s.first;
			want[want_n++] = s.last;
			if (s.has_finite) {
				want[want_n++] = s.min;
				want[want_n++] = s.max;
			}
			if (s.has_bad)
				want[want_n++] = s.bad;
			for (i = 1; i < want_n; i++)
				for (lo = i; lo > 0 &&
				    want[lo - 1].step > want[lo].step; lo--) {
					tmp = want[lo];
					want[lo] = want[lo - 1];
					want[lo - 1] = tmp;
				}
			for (i = 0; i < want_n; i++) {
				if (i > 0 && want[i].step == want[i - 1].step)
					continue;
				ck_assert_uint_lt(k, m);
				ck_assert(same_point(&out[k++], &want[i]));
			}
		}
		ck_assert_uint_eq(k, m);
	}
	free(p);
	free(start);
	free(blk);
	free(out);
}
END_TEST

/* More or fewer blocks than announced: still at most max points, in
 * order, the first and the last kept. */
START_TEST(blocks_miscounted)
{
	uint64_t	 st = 3;
	size_t		 n = 1000, i, m, announce[] = { 10, 999, 1000, 5000 };
	size_t		 a;
	struct point	*p, out[50];
	struct summary	 s;
	struct downsampler d;

	p = rnd_series(n, &st);
	for (a = 0; a < sizeof(announce) / sizeof(announce[0]); a++) {
		downsample_begin(&d, announce[a], 50, out);
		for (i = 0; i < n; i++) {
			downsample_point(&s, &p[i]);
			downsample_add(&d, &s);
		}
		m = downsample_end(&d);
		ck_assert_uint_le(m, 50);
		ck_assert_int_eq(out[0].step, p[0].step);
		ck_assert_int_eq(out[m - 1].step, p[n - 1].step);
		for (i = 1; i < m; i++)
			ck_assert_int_lt(out[i - 1].step, out[i].step);
	}
	downsample_begin(&d, 0, 50, out);
	ck_assert_uint_eq(downsample_end(&d), 0);
	free(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("downsample");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, short_series_untouched);
	tcase_add_test(tc, bounded_ordered_first_last);
	tcase_add_test(tc, spike_and_dip_survive);
	tcase_add_test(tc, non_finite_kept);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, tiny_max);
	tcase_add_test(tc, merge_in_any_order);
	tcase_add_test(tc, blocks_keep_their_groups_picks);
	tcase_add_test(tc, blocks_miscounted);
	suite_add_tcase(s, tc);
	return check_run(s);
}
