/*
 * The store: runs and the values of their metrics per split and step,
 * in one SQLite file (WAL mode, numbered migrations, prepared
 * statements).  It knows SQL, not HTTP and not the loss math: a loss
 * is kept as its additive statistics (an opaque vector of doubles that
 * is summed across batches) and the value its caller computed.
 *
 * Functions return 0 on success, STORE_NOTFOUND where a thing is
 * missing, and -1 on a database error, which they log.  All calls are
 * safe from several threads.
 */
#ifndef LOSSMON_STORE_H
#define LOSSMON_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "downsample.h"

#define STORE_NOTFOUND	1
#define STORE_CONFLICT_ID 2	/* a request id kept for another request */
#define STORE_MAX_STATS	16

struct store;

enum metric_kind { METRIC_LOSS, METRIC_TOTAL, METRIC_SCALAR };

enum store_outcome { STORE_CREATED, STORE_SAME, STORE_CONFLICT };

struct store_run {
	int64_t	 id;
	char	*name;
	char	*losses;		/* canonical JSON of the terms */
	char	*params;		/* JSON object text */
	char	*tags;			/* JSON object text */
	double	 created;		/* unix seconds */
	int64_t	 last_step;		/* -1 when nothing was posted */
	double	 last_time;		/* 0 when nothing was posted */
};

struct store_metric {
	const char	*name;
	const char	*split;
	enum metric_kind kind;
	int64_t		 points;
	int64_t		 first_step, last_step;
};

/* The weighted total of a run on one split: its last value and its
 * best (smallest finite) one; best_step is -1 when none is finite. */
struct store_total {
	const char	*split;
	int64_t		 last_step;
	double		 last;
	int64_t		 best_step;
	double		 best;
};

/* A value to write at a step: name, kind, the new value and, for a
 * loss, its accumulated statistics. */
struct store_value {
	const char	*metric;
	enum metric_kind kind;
	double		 value;
	const double	*stats;
	size_t		 nstats;
};

/* Opens (creating if needed) and migrates the database, with the given
 * PRAGMA synchronous setting ("full", "normal", "off").  On failure
 * returns NULL and writes the reason to err. */
struct store	*store_open(const char *path, const char *synchronous,
		    char *err, size_t errlen);
void		 store_close(struct store *);

/*
 * Creates the run unless it exists.  *outcome says whether it was
 * created, existed with the same losses (the params and tags of the
 * request are then ignored), or exists with other losses.
 */
int	 store_run_ensure(struct store *, const char *name,
	    const char *losses, const char *params, const char *tags,
	    enum store_outcome *outcome);

/* As store_run_ensure(), inside store_submit(), and gives the run's id
 * whatever the outcome. */
int	 store_run_create(struct store *, const char *name,
	    const char *losses, const char *params, const char *tags,
	    int64_t *id, enum store_outcome *outcome);

/* 0 when the run of that name is still the one of that id and losses,
 * STORE_NOTFOUND when it was deleted or replaced; inside store_submit()
 * only, where a write checks that its run did not change under it. */
int	 store_run_same(struct store *, const char *name, int64_t id,
	    const char *losses);

/* Fills run; free it with store_run_free(). */
int	 store_run_get(struct store *, const char *name, struct store_run *);
void	 store_run_free(struct store_run *);

/*
 * Calls run_fn for every run, ordered by name, and after it total_fn
 * for the total of each of the run's splits, ordered by split (as
 * store_run_totals() does); stops when either returns non-zero, and
 * returns that.  The list is read as one snapshot, during the calls:
 * what they are given is valid only during the call, and they must not
 * call the store.
 */
int	 store_run_list(struct store *,
	    int (*run_fn)(const struct store_run *, void *),
	    int (*total_fn)(const struct store_total *, void *), void *);

/* Calls fn for the total of each split of a run, ordered by split. */
int	 store_run_totals(struct store *, int64_t run,
	    int (*fn)(const struct store_total *, void *), void *);

/* Deletes the run and all its points. */
int	 store_run_delete(struct store *, const char *name);

/* Calls fn for each metric of a run, ordered by name then split. */
int	 store_metric_list(struct store *, int64_t run,
	    int (*fn)(const struct store_metric *, void *), void *);

/*
 * Runs apply(store, arg) on the writer thread inside a transaction and
 * waits until that transaction has committed: returns apply's result,
 * which is 0 only when what it wrote is committed.  When apply returns
 * non-zero, what it wrote is rolled back and nothing else is.  Only
 * inside apply may store_stats_get(), store_values_put(),
 * store_reply_get() and store_reply_put() be called.  Concurrent
 * submissions are grouped into one transaction (group commit).
 */
int	 store_submit(struct store *, int (*apply)(struct store *, void *),
	    void *arg);

/* The accumulated statistics of a loss metric at a step: copies up to
 * max of them into stats and sets *n; STORE_NOTFOUND when the step has
 * no point for that metric yet.  Inside store_submit() only. */
int	 store_stats_get(struct store *, int64_t run, const char *split,
	    int64_t step, const char *metric, double *stats, size_t max,
	    size_t *n);

/* Writes the values at a step, replacing what was there; inside
 * store_submit() only.  A metric written with a kind other than the one it
 * was created with is an error (-1). */
int	 store_values_put(struct store *, int64_t run, const char *split,
	    int64_t step, const struct store_value *, size_t n);

/* The kind of an existing metric of a run (any split), or
 * STORE_NOTFOUND. */
int	 store_metric_kind(struct store *, int64_t run, const char *metric,
	    enum metric_kind *);

/*
 * The points of a metric and split with from <= step <= to, ordered by
 * step, in a new array the caller frees (NULL when there are none).
 */
int	 store_history(struct store *, int64_t run, const char *metric,
	    const char *split, int64_t from, int64_t to,
	    struct point **pts, size_t *n);

/*
 * A cursor over the points of a metric and split with from <= step <=
 * to, ordered by step, on a read-only connection of its own, for
 * answers too long to hold in memory.  store_cursor_open() returns 0,
 * STORE_NOTFOUND when there is no such metric, or -1; the caller closes
 * an opened cursor with store_cursor_close().  store_cursor_next()
 * returns 1 with the next point, 0 at the end, -1 on error.
 */
struct store_cursor;
int	 store_cursor_open(struct store *, int64_t run, const char *metric,
	    const char *split, int64_t from, int64_t to,
	    struct store_cursor **);
int	 store_cursor_next(struct store_cursor *, struct point *);
void	 store_cursor_close(struct store_cursor *);

/*
 * The points of a metric and split with from <= step <= to, read as
 * summaries of ranges of steps for downsampling, in step order, without
 * reading every point: the summaries kept of the coarsest level of
 * ranges (64 or 4,096 steps) that has at least want of them
 * with points in [from, to], the ranges that from or to cut summarised
 * exactly from finer ones; or, when no level has that many, each point
 * as the summary of itself.  store_blocks_open() returns 0,
 * STORE_NOTFOUND when there is no such metric, or -1; on success it sets
 * *nblocks to the number of summaries to come and *npoints to the number
 * of points in [from, to], and the caller closes the reading with
 * store_blocks_close(), soon: it holds a connection of the store.
 * store_blocks_next() returns 1 with the next summary, 0 at the end, -1
 * on error.
 */
struct store_blocks;
int	 store_blocks_open(struct store *, int64_t run, const char *metric,
	    const char *split, int64_t from, int64_t to, size_t want,
	    struct store_blocks **, size_t *nblocks, int64_t *npoints);
int	 store_blocks_next(struct store_blocks *, struct summary *);
void	 store_blocks_close(struct store_blocks *);

/* The reply kept for a request id of a run: a new string the caller
 * frees; STORE_NOTFOUND; or STORE_CONFLICT_ID when the id was kept
 * with another digest of the request.  Inside store_submit() only. */
int	 store_reply_get(struct store *, int64_t run, const char *id,
	    const char *digest, char **reply);

/* Keeps the reply to a request id with the digest of the request;
 * inside store_submit() only. */
int	 store_reply_put(struct store *, int64_t run, const char *id,
	    const char *digest, const char *reply);

/*
 * Copies the database at src to dst with SQLite's online backup, as
 * one consistent snapshot, while another process may be writing to it.
 * Returns 0, or -1 with the reason in err.
 */
int	 store_backup(const char *src, const char *dst, char *err,
	    size_t errlen);

#endif
