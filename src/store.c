/* The store: SQLite schema, migrations and prepared statements. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"

/* Generated from schema/ by schema/embed.sh. */
extern const char *const store_migrations[];
extern const size_t store_nmigrations;

enum stmt_id {
	S_RUN_INSERT,
	S_RUN_GET,
	S_RUN_LIST,
	S_RUN_DELETE,
	S_RUN_TOUCH,
	S_METRIC_LIST,
	S_METRIC_GET,
	S_METRIC_INSERT,
	S_METRIC_KIND,
	S_STATS_GET,
	S_POINT_PUT,
	S_HISTORY,
	S_REPLY_GET,
	S_REPLY_PUT,
	S_TOTALS,
	S_NSTMTS
};

#define RUN_COLUMNS \
	"id, name, losses, params, tags, created, last_step, last_time"

static const char *const stmt_sql[S_NSTMTS] = {
	[S_RUN_INSERT] = "INSERT INTO runs (name, losses, params, tags,"
	    " created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
	[S_RUN_GET] = "SELECT " RUN_COLUMNS " FROM runs WHERE name = ?",
	[S_RUN_LIST] = "SELECT " RUN_COLUMNS " FROM runs ORDER BY name",
	[S_RUN_DELETE] = "DELETE FROM runs WHERE name = ?",
	[S_RUN_TOUCH] = "UPDATE runs SET last_step ="
	    " max(coalesce(last_step, -1), ?), last_time = ? WHERE id = ?",
	[S_METRIC_LIST] = "SELECT m.name, m.split, m.kind, count(p.step),"
	    " min(p.step), max(p.step) FROM metrics m"
	    " LEFT JOIN points p ON p.metric_id = m.id"
	    " WHERE m.run_id = ? GROUP BY m.id ORDER BY m.name, m.split",
	[S_METRIC_GET] = "SELECT id, kind FROM metrics"
	    " WHERE run_id = ? AND name = ? AND split = ?",
	[S_METRIC_INSERT] = "INSERT INTO metrics (run_id, name, split, kind)"
	    " VALUES (?, ?, ?, ?)",
	[S_METRIC_KIND] = "SELECT kind FROM metrics"
	    " WHERE run_id = ? AND name = ? LIMIT 1",
	[S_STATS_GET] = "SELECT p.stats FROM points p"
	    " JOIN metrics m ON p.metric_id = m.id"
	    " WHERE m.run_id = ? AND m.name = ? AND m.split = ?"
	    " AND p.step = ?",
	[S_POINT_PUT] = "INSERT INTO points (metric_id, step, value, stats,"
	    " time) VALUES (?, ?, ?, ?, ?) ON CONFLICT (metric_id, step)"
	    " DO UPDATE SET value = excluded.value, stats = excluded.stats,"
	    " time = excluded.time",
	[S_HISTORY] = "SELECT step, value, time FROM points"
	    " WHERE metric_id = ? AND step BETWEEN ? AND ? ORDER BY step",
	[S_REPLY_GET] = "SELECT reply FROM requests"
	    " WHERE run_id = ? AND id = ?",
	[S_REPLY_PUT] = "INSERT INTO requests (run_id, id, reply)"
	    " VALUES (?, ?, ?)",
	/* Each subquery is one seek in the primary key or the index. */
	[S_TOTALS] = "SELECT m.split,"
	    " (SELECT step FROM points WHERE metric_id = m.id"
	    "  ORDER BY step DESC LIMIT 1),"
	    " (SELECT value FROM points WHERE metric_id = m.id"
	    "  ORDER BY step DESC LIMIT 1),"
	    " (SELECT step FROM points WHERE metric_id = m.id"
	    "  AND value IS NOT NULL ORDER BY value, step LIMIT 1),"
	    " (SELECT min(value) FROM points WHERE metric_id = m.id)"
	    " FROM metrics m WHERE m.run_id = ? AND m.name = 'total'"
	    " ORDER BY m.split",
};

struct store {
	sqlite3		*db;
	sqlite3_stmt	*stmt[S_NSTMTS];
	/* One connection serves every thread; the lock is recursive so
	 * that calls made inside store_begin() .. store_commit() nest. */
	pthread_mutex_t	 lock;
};

static double
store_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
store_fail(struct store *st, const char *what)
{
	log_error("store", "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

/* Returns a statement of the cache, reset and with its bindings cleared. */
static sqlite3_stmt *
store_stmt(struct store *st, enum stmt_id id)
{
	sqlite3_stmt	*s = st->stmt[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Binds a double; NaN becomes NULL, as SQLite would store it anyway. */
static void
store_bind_double(sqlite3_stmt *s, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_double(s, i, v);
}

static double
store_column_double(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(s, i);
}

static int
store_exec(struct store *st, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("store", "%s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/*
 * Applies the migrations the file has not seen, each in a transaction
 * with the new PRAGMA user_version.  A file from a newer lossmond is
 * refused rather than misread.
 */
static int
store_migrate(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt	*s;
	int		 version;
	size_t		 i;
	char		 sql[64];

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return -1;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);

	if (version < 0 || (size_t)version > store_nmigrations) {
		snprintf(err, errlen, "the database has schema version %d;"
		    " this lossmond knows up to %zu", version,
		    store_nmigrations);
		return -1;
	}
	for (i = (size_t)version; i < store_nmigrations; i++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", i + 1);
		if (store_exec(st, "BEGIN IMMEDIATE") == -1)
			goto fail;
		if (store_exec(st, store_migrations[i]) == -1 ||
		    store_exec(st, sql) == -1 ||
		    store_exec(st, "COMMIT") == -1) {
			store_exec(st, "ROLLBACK");
			goto fail;
		}
		log_info("store", "applied schema migration %zu", i + 1);
	}
	return 0;

fail:
	snprintf(err, errlen, "schema migration %zu failed: %s",
	    (size_t)version + 1, sqlite3_errmsg(st->db));
	return -1;
}

static int
store_prepare(struct store *st, char *err, size_t errlen)
{
	int	 i;

	for (i = 0; i < S_NSTMTS; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "preparing statement %d: %s", i,
			    sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

struct store *
store_open(const char *path, const char *synchronous, char *err,
    size_t errlen)
{
	struct store		*st;
	pthread_mutexattr_t	 attr;
	char			 sql[64];

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s", synchronous);
	if (store_exec(st, "PRAGMA journal_mode = WAL") == -1 ||
	    store_exec(st, "PRAGMA foreign_keys = ON") == -1 ||
	    store_exec(st, sql) == -1) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (store_migrate(st, err, errlen) == -1 ||
	    store_prepare(st, err, errlen) == -1)
		goto fail;
	return st;

fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int	 i;

	if (st == NULL)
		return;
	for (i = 0; i < S_NSTMTS; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static char *
store_column_text(sqlite3_stmt *s, int i)
{
	const unsigned char	*t = sqlite3_column_text(s, i);

	return strdup(t ? (const char *)t : "");
}

/* Fills a run from a row of RUN_COLUMNS; -1 when out of memory. */
static int
store_run_row(sqlite3_stmt *s, struct store_run *run)
{
	run->id = sqlite3_column_int64(s, 0);
	run->name = store_column_text(s, 1);
	run->losses = store_column_text(s, 2);
	run->params = store_column_text(s, 3);
	run->tags = store_column_text(s, 4);
	run->created = sqlite3_column_double(s, 5);
	run->last_step = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, 6);
	run->last_time = sqlite3_column_double(s, 7);
	if (run->name == NULL || run->losses == NULL || run->params == NULL ||
	    run->tags == NULL) {
		store_run_free(run);
		return -1;
	}
	return 0;
}

void
store_run_free(struct store_run *run)
{
	free(run->name);
	free(run->losses);
	free(run->params);
	free(run->tags);
	memset(run, 0, sizeof(*run));
}

int
store_run_ensure(struct store *st, const char *name, const char *losses,
    const char *params, const char *tags, enum store_outcome *outcome)
{
	sqlite3_stmt	*s;
	struct store_run run;
	int		 rc = -1;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_RUN_INSERT);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, losses, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, params, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, tags, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 5, store_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(st, "inserting a run");
		goto out;
	}
	if (sqlite3_changes(st->db) == 1) {
		*outcome = STORE_CREATED;
		rc = 0;
		goto out;
	}
	if ((rc = store_run_get(st, name, &run)) != 0)
		goto out;
	*outcome = strcmp(run.losses, losses) == 0 ? STORE_SAME :
	    STORE_CONFLICT;
	store_run_free(&run);

out:
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_run_get(struct store *st, const char *name, struct store_run *run)
{
	sqlite3_stmt	*s;
	int		 rc;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_RUN_GET);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = store_run_row(s, run);
		break;
	case SQLITE_DONE:
		rc = STORE_NOTFOUND;
		break;
	default:
		rc = store_fail(st, "reading a run");
		break;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_run_list(struct store *st, int (*fn)(const struct store_run *, void *),
    void *arg)
{
	sqlite3_stmt	*s;
	struct store_run run;
	int		 rc = 0, step;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_RUN_LIST);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_run_row(s, &run) == -1) {
			rc = -1;
			break;
		}
		rc = fn(&run, arg);
		store_run_free(&run);
		if (rc != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_fail(st, "listing runs");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_run_delete(struct store *st, const char *name)
{
	sqlite3_stmt	*s;
	int		 rc = 0;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_RUN_DELETE);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "deleting a run");
	else if (sqlite3_changes(st->db) == 0)
		rc = STORE_NOTFOUND;
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_metric_list(struct store *st, int64_t run,
    int (*fn)(const struct store_metric *, void *), void *arg)
{
	sqlite3_stmt		*s;
	struct store_metric	 m;
	int			 rc = 0, step;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_METRIC_LIST);
	sqlite3_bind_int64(s, 1, run);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		m.name = (const char *)sqlite3_column_text(s, 0);
		m.split = (const char *)sqlite3_column_text(s, 1);
		m.kind = (enum metric_kind)sqlite3_column_int(s, 2);
		m.points = sqlite3_column_int64(s, 3);
		m.first_step = sqlite3_column_int64(s, 4);
		m.last_step = sqlite3_column_int64(s, 5);
		if ((rc = fn(&m, arg)) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_fail(st, "listing metrics");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_begin(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	if (store_exec(st, "BEGIN IMMEDIATE") == -1) {
		pthread_mutex_unlock(&st->lock);
		return -1;
	}
	return 0;
}

int
store_commit(struct store *st)
{
	int	 rc = 0;

	if (store_exec(st, "COMMIT") == -1) {
		store_exec(st, "ROLLBACK");
		rc = -1;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void
store_rollback(struct store *st)
{
	store_exec(st, "ROLLBACK");
	pthread_mutex_unlock(&st->lock);
}

int
store_metric_kind(struct store *st, int64_t run, const char *metric,
    enum metric_kind *kind)
{
	sqlite3_stmt	*s;
	int		 rc;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_METRIC_KIND);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		*kind = (enum metric_kind)sqlite3_column_int(s, 0);
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = STORE_NOTFOUND;
		break;
	default:
		rc = store_fail(st, "reading a metric");
		break;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_stats_get(struct store *st, int64_t run, const char *split,
    int64_t step, const char *metric, double *stats, size_t max, size_t *n)
{
	sqlite3_stmt	*s;
	int		 rc;
	size_t		 bytes;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_STATS_GET);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, step);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		bytes = (size_t)sqlite3_column_bytes(s, 0);
		*n = bytes / sizeof(double);
		if (*n > max)
			*n = max;
		if (*n > 0)
			memcpy(stats, sqlite3_column_blob(s, 0),
			    *n * sizeof(double));
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = STORE_NOTFOUND;
		break;
	default:
		rc = store_fail(st, "reading statistics");
		break;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* The id of a run's metric, created with the kind when new; -1 on error
 * or when the metric exists with another kind. */
static int64_t
store_metric_id(struct store *st, int64_t run, const char *split,
    const struct store_value *v)
{
	sqlite3_stmt	*s;
	int64_t		 id = -1;

	s = store_stmt(st, S_METRIC_GET);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, v->metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		if (sqlite3_column_int(s, 1) == (int)v->kind)
			id = sqlite3_column_int64(s, 0);
		else
			log_error("store", "metric kind mismatch");
		sqlite3_reset(s);
		return id;
	case SQLITE_DONE:
		break;
	default:
		store_fail(st, "reading a metric");
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);

	s = store_stmt(st, S_METRIC_INSERT);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, v->metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, (int)v->kind);
	if (sqlite3_step(s) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(st->db);
	else
		store_fail(st, "adding a metric");
	sqlite3_reset(s);
	return id;
}

int
store_values_put(struct store *st, int64_t run, const char *split,
    int64_t step, const struct store_value *v, size_t n)
{
	sqlite3_stmt	*s;
	int64_t		 id;
	double		 now = store_now();
	size_t		 i;
	int		 rc = -1;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < n; i++) {
		if ((id = store_metric_id(st, run, split, &v[i])) == -1)
			goto out;
		s = store_stmt(st, S_POINT_PUT);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, step);
		store_bind_double(s, 3, v[i].value);
		if (v[i].nstats > 0)
			sqlite3_bind_blob(s, 4, v[i].stats,
			    (int)(v[i].nstats * sizeof(double)),
			    SQLITE_STATIC);
		sqlite3_bind_double(s, 5, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			store_fail(st, "writing a point");
			goto out;
		}
	}
	s = store_stmt(st, S_RUN_TOUCH);
	sqlite3_bind_int64(s, 1, step);
	sqlite3_bind_double(s, 2, now);
	sqlite3_bind_int64(s, 3, run);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(st, "updating a run");
		goto out;
	}
	rc = 0;

out:
	sqlite3_reset(st->stmt[S_POINT_PUT]);
	sqlite3_reset(st->stmt[S_RUN_TOUCH]);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Appends a row to a growing array of points; -1 when out of memory. */
static int
store_push(struct point **pts, size_t *n, size_t *cap, sqlite3_stmt *s)
{
	struct point	*p;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		if ((p = realloc(*pts, *cap * sizeof(**pts))) == NULL)
			return -1;
		*pts = p;
	}
	p = &(*pts)[(*n)++];
	p->step = sqlite3_column_int64(s, 0);
	p->value = store_column_double(s, 1);
	p->time = sqlite3_column_double(s, 2);
	return 0;
}

int
store_history(struct store *st, int64_t run, const char *metric,
    const char *split, int64_t from, int64_t to, struct point **pts,
    size_t *n)
{
	sqlite3_stmt		*s;
	size_t			 cap = 0;
	int			 rc = 0, step;
	int64_t			 id = -1;

	*pts = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_METRIC_GET);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	else if (step == SQLITE_DONE)
		rc = STORE_NOTFOUND;
	else
		rc = store_fail(st, "reading a metric");
	sqlite3_reset(s);
	if (rc != 0)
		goto out;

	s = store_stmt(st, S_HISTORY);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int64(s, 3, to);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_push(pts, n, &cap, s) == -1) {
			log_error("store", "history: out of memory");
			rc = -1;
			break;
		}
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_fail(st, "reading history");
	sqlite3_reset(s);
	if (rc != 0) {
		free(*pts);
		*pts = NULL;
		*n = 0;
	}

out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_reply_get(struct store *st, int64_t run, const char *id, char **reply)
{
	sqlite3_stmt	*s;
	int		 rc;

	*reply = NULL;
	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_REPLY_GET);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		*reply = store_column_text(s, 0);
		rc = *reply ? 0 : -1;
		break;
	case SQLITE_DONE:
		rc = STORE_NOTFOUND;
		break;
	default:
		rc = store_fail(st, "reading a reply");
		break;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_reply_put(struct store *st, int64_t run, const char *id,
    const char *reply)
{
	sqlite3_stmt	*s;
	int		 rc = 0;

	pthread_mutex_lock(&st->lock);
	s = store_stmt(st, S_REPLY_PUT);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, reply, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "keeping a reply");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
store_backup(const char *src, const char *dst, char *err, size_t errlen)
{
	sqlite3		*from = NULL, *to = NULL;
	sqlite3_backup	*b;
	int		 rc = -1, step;

	if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", src, sqlite3_errmsg(from));
		goto out;
	}
	if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(to));
		goto out;
	}
	sqlite3_busy_timeout(from, 10000);
	if ((b = sqlite3_backup_init(to, "main", from, "main")) == NULL) {
		snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(to));
		goto out;
	}
	/* All pages in one step: a snapshot of one moment, which writers
	 * in WAL mode do not disturb. */
	step = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		snprintf(err, errlen, "backup to %s: %s", dst,
		    sqlite3_errstr(step));
		goto out;
	}
	rc = 0;

out:
	sqlite3_close(from);
	sqlite3_close(to);
	return rc;
}

int
store_run_totals(struct store *st, int64_t run,
    int (*fn)(const struct store_total *, void *), void *arg)
{
	sqlite3_stmt		*s;
	struct store_total	 t;
	int			 rc = 0, step;

	pthread_mutex_lock(&st->lock);
	/* Not the cached statement: a caller may be iterating the runs
	 * with it while it asks for the totals of each. */
	if (sqlite3_prepare_v2(st->db, stmt_sql[S_TOTALS], -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = store_fail(st, "reading totals");
		goto out;
	}
	sqlite3_bind_int64(s, 1, run);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		t.split = (const char *)sqlite3_column_text(s, 0);
		t.last_step = sqlite3_column_int64(s, 1);
		t.last = store_column_double(s, 2);
		t.best_step = sqlite3_column_type(s, 3) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(s, 3);
		t.best = store_column_double(s, 4);
		if ((rc = fn(&t, arg)) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_fail(st, "reading totals");
	sqlite3_finalize(s);

out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}
