/*
 * Deterministic downsampling of a series ordered by step, for charts:
 * the series is cut into buckets of consecutive blocks (a block is one
 * point, or the summary of the points of a range of steps) and each
 * bucket keeps its first, last, minimum and maximum point, and its first
 * NaN or infinite one.  The first and last points of the series are
 * therefore always kept, and so are a lone spike and the start of a
 * divergence.  Pure computation: the store reads the blocks.
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
 * The points of a range of steps, summarised: how many there are, the
 * first and the last, the smallest and the largest finite value (the
 * earlier step on a tie) and the first NaN or infinite one.  A summary
 * depends on its points alone, not on the order they came in.
 */
struct summary {
	int64_t		 n;		/* 0: empty, the rest unset */
	struct point	 first, last;
	struct point	 min, max;	/* set when has_finite */
	struct point	 bad;		/* set when has_bad */
	int		 has_finite, has_bad;
};

/* Sets s to the summary of the one point p. */
void	 downsample_point(struct summary *s, const struct point *p);

/* Merges the summary of other points into s (either may be empty). */
void	 downsample_merge(struct summary *s, const struct summary *other);

/* The number of buckets a downsampled answer of at most max points
 * holds (max >= 5; smaller values count as 5). */
size_t	 downsample_buckets(size_t max);

/*
 * Downsamples a series given as blocks in step order, without holding
 * them: downsample_begin() with the number of blocks to come and room
 * for max points in out, downsample_add() for each block, and
 * downsample_end(), which returns how many points out holds, at most
 * max, in step order without repeats.  The blocks are grouped by
 * position, downsample_buckets(max) groups (fewer when there are fewer
 * blocks); blocks beyond the announced count join the last group.
 */
struct downsampler {
	struct point	*out;
	size_t		 nout;
	size_t		 nblocks, nbuckets;
	size_t		 seen;		/* blocks added */
	size_t		 bucket;	/* index of the current group */
	size_t		 end;		/* position where the group ends */
	struct summary	 cur;
};

void	 downsample_begin(struct downsampler *, size_t nblocks, size_t max,
	    struct point *out);
void	 downsample_add(struct downsampler *, const struct summary *);
size_t	 downsample_end(struct downsampler *);

/*
 * Reduces pts[0..n) in place to at most max points (max >= 5; smaller
 * values count as 5), each point its own block, and returns the new
 * count.  With max == 0 or n <= max the series is left as it is.  The
 * result depends on the points alone, so the same history always gives
 * the same answer.
 */
size_t	 downsample(struct point *pts, size_t n, size_t max);

#endif
