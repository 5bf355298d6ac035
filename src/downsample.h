/*
 * Deterministic downsampling of a series ordered by step, for charts:
 * the points are cut into buckets of consecutive steps and each bucket
 * keeps its first, last, minimum and maximum point, and its first NaN or
 * infinite one.  The first and last points of the series are therefore
 * always kept, and so are a lone spike and the start of a divergence.
 */
#ifndef LOSSMON_DOWNSAMPLE_H
#define LOSSMON_DOWNSAMPLE_H

#include <stddef.h>
#include <stdint.h>

struct point {
	int64_t	 step;
	double	 value;
	double	 time;		/* unix seconds */
};

/*
 * Reduces pts[0..n) in place to at most max points (max >= 5; smaller
 * values count as 5) and returns the new count.  With max == 0 or
 * n <= max the series is left as it is.  The result depends on the
 * points alone, so the same history always gives the same answer.
 */
size_t	 downsample(struct point *pts, size_t n, size_t max);

#endif
