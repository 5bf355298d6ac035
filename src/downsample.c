/* Downsampling of a series for charts: first, last, min, max per bucket. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "downsample.h"

#define PICKS	5	/* points a bucket may keep */

/* Sorts the few picked indices and drops repeats; returns their count. */
static size_t
downsample_unique(size_t *idx, size_t k)
{
	size_t	 i, j, t, m = 0;

	for (i = 1; i < k; i++)
		for (j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
			t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	for (i = 0; i < k; i++)
		if (m == 0 || idx[m - 1] != idx[i])
			idx[m++] = idx[i];
	return m;
}

/* The indices a bucket [lo, hi) keeps: its first and last points, its
 * smallest and largest finite values and its first non-finite one. */
static size_t
downsample_bucket(const struct point *pts, size_t lo, size_t hi,
    size_t *idx)
{
	size_t	 i, k = 0, lo_i = hi, hi_i = hi, bad = hi;

	for (i = lo; i < hi; i++) {
		double	 v = pts[i].value;

		if (!isfinite(v)) {
			if (bad == hi)
				bad = i;
			continue;
		}
		if (lo_i == hi || v < pts[lo_i].value)
			lo_i = i;
		if (hi_i == hi || v > pts[hi_i].value)
			hi_i = i;
	}
	idx[k++] = lo;
	idx[k++] = hi - 1;
	if (lo_i != hi)
		idx[k++] = lo_i;
	if (hi_i != hi)
		idx[k++] = hi_i;
	if (bad != hi)
		idx[k++] = bad;
	return downsample_unique(idx, k);
}

size_t
downsample(struct point *pts, size_t n, size_t max)
{
	size_t	 nb, b, lo, hi, k, j, out = 0;
	size_t	 idx[PICKS];

	if (max > 0 && max < PICKS)
		max = PICKS;
	if (max == 0 || n <= max)
		return n;
	nb = max / PICKS;

	/*
	 * Buckets are cut by position, and every pick of a bucket lies at
	 * or after its start, so the points can be moved down in place.
	 */
	for (b = 0; b < nb; b++) {
		lo = b * n / nb;
		hi = (b + 1) * n / nb;
		k = downsample_bucket(pts, lo, hi, idx);
		for (j = 0; j < k; j++)
			pts[out++] = pts[idx[j]];
	}
	return out;
}
