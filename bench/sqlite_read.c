/*
 * The floor of the history scenario: SQLite reading all the rows of
 * one metric in step order, the rows a full history answer holds.
 *
 *   sqlite_read REPS DB METRIC_ID
 *
 * One read warms the page cache, then REPS reads are timed.  Prints
 * {"rows", "seconds" (median)}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>

static void
die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlite_read: %s: %s\n", what,
	    db ? sqlite3_errmsg(db) : "");
	exit(2);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Steps through the rows, reading every column; the row count. */
static long
read_all(sqlite3 *db, sqlite3_stmt *s, double *sink)
{
	long	 rows = 0;
	int	 rc;

	sqlite3_reset(s);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*sink += (double)sqlite3_column_int64(s, 0) +
		    sqlite3_column_double(s, 1) + sqlite3_column_double(s, 2);
		rows++;
	}
	if (rc != SQLITE_DONE)
		die(db, "reading");
	return rows;
}

int
main(int argc, char **argv)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*s;
	double		*secs, t0, sink = 0;
	long		 rows = 0;
	int		 reps, i;

	if (argc != 4 || (reps = atoi(argv[1])) < 1)
		die(NULL, "usage: sqlite_read REPS DB METRIC_ID");
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		die(db, argv[2]);
	if (sqlite3_prepare_v2(db, "SELECT step, value, time FROM points"
	    " WHERE metric_id = ? ORDER BY step", -1, &s, NULL) != SQLITE_OK)
		die(db, "preparing");
	sqlite3_bind_int64(s, 1, atoll(argv[3]));
	if ((secs = calloc((size_t)reps, sizeof(*secs))) == NULL)
		die(NULL, "out of memory");
	for (i = -1; i < reps; i++) {
		t0 = now();
		rows = read_all(db, s, &sink);
		if (i >= 0)
			secs[i] = now() - t0;
	}
	qsort(secs, (size_t)reps, sizeof(*secs), cmp_double);
	printf("{\"rows\": %ld, \"seconds\": %.9g, \"sink\": %g}\n", rows,
	    secs[reps / 2], sink);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return 0;
}
