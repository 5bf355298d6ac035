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
	S_RUN_SAME,
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
	S_BEGIN,
	S_COMMIT,
	S_SAVE,
	S_UNDO,
	S_RELEASE,
	S_BLOCKS_COUNT,
	S_BLOCKS,
	S_NSTMTS
};

#define RUN_COLUMNS \
	"runs.id, runs.name, runs.losses, runs.params, runs.tags," \
	" runs.created, runs.last_step, runs.last_time"

/*
 * The total of the metric m: its split, the last point (one seek) and
 * the best, the smallest finite value (the earlier step on a tie), read
 * from the summaries of 4,096 steps: a few rows for any length of
 * history, read in the order of the key (a sort would cost a sorter's
 * memory).
 */
#define TOTAL_COLUMNS \
	"m.split," \
	" (SELECT step FROM points WHERE metric_id = m.id" \
	"  ORDER BY step DESC LIMIT 1)," \
	" (SELECT value FROM points WHERE metric_id = m.id" \
	"  ORDER BY step DESC LIMIT 1)," \
	" (SELECT min_step FROM point_blocks WHERE metric_id = m.id" \
	"  AND level = 2 AND min_value = (SELECT min(min_value)" \
	"  FROM point_blocks WHERE metric_id = m.id AND level = 2)" \
	"  ORDER BY block LIMIT 1)," \
	" (SELECT min(min_value) FROM point_blocks" \
	"  WHERE metric_id = m.id AND level = 2)"

static const char *const stmt_sql[S_NSTMTS] = {
	[S_RUN_INSERT] = "INSERT INTO runs (name, losses, params, tags,"
	    " created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
	[S_RUN_GET] = "SELECT " RUN_COLUMNS " FROM runs WHERE name = ?",
	[S_RUN_SAME] = "SELECT 1 FROM runs WHERE name = ? AND id = ?"
	    " AND losses = ?",
	/* Every run with its totals, if any, in one statement: one read
	 * transaction, and so one snapshot, for the whole list. */
	[S_RUN_LIST] = "SELECT " RUN_COLUMNS ", " TOTAL_COLUMNS
	    " FROM runs LEFT JOIN metrics m ON m.run_id = runs.id"
	    " AND m.name = 'total' ORDER BY runs.name, m.split",
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
	[S_REPLY_GET] = "SELECT reply, digest FROM requests"
	    " WHERE run_id = ? AND id = ?",
	[S_REPLY_PUT] = "INSERT INTO requests (run_id, id, reply, digest)"
	    " VALUES (?, ?, ?, ?)",
	[S_TOTALS] = "SELECT " TOTAL_COLUMNS " FROM metrics m"
	    " WHERE m.run_id = ? AND m.name = 'total' ORDER BY m.split",
	/* The writer's transactions, prepared once like the rest. */
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_SAVE] = "SAVEPOINT job",
	[S_UNDO] = "ROLLBACK TO job",
	[S_RELEASE] = "RELEASE job",
	[S_BLOCKS_COUNT] = "SELECT count(*), coalesce(sum(n), 0)"
	    " FROM point_blocks WHERE metric_id = ? AND level = ?"
	    " AND block BETWEEN ? AND ?",
	[S_BLOCKS] = "SELECT n, first_step, first_value, first_time,"
	    " last_step, last_value, last_time, min_step, min_value,"
	    " min_time, max_step, max_value, max_time, bad_step, bad_value,"
	    " bad_time FROM point_blocks WHERE metric_id = ? AND level = ?"
	    " AND block BETWEEN ? AND ? ORDER BY block",
};

/*
 * The statements only the writer runs.  Readers do not prepare them:
 * a statement that writes points carries the summaries' triggers
 * compiled in, and five connections' copies of those cost a megabyte.
 */
static int
store_writes(enum stmt_id id)
{
	switch (id) {
	case S_RUN_INSERT: case S_RUN_SAME: case S_RUN_DELETE:
	case S_RUN_TOUCH:
	case S_METRIC_INSERT: case S_STATS_GET: case S_POINT_PUT:
	case S_REPLY_GET: case S_REPLY_PUT: case S_BEGIN: case S_COMMIT:
	case S_SAVE: case S_UNDO: case S_RELEASE:
		return 1;
	default:
		return 0;
	}
}

/* The summaries of schema/005: a block of level L (1 to BLOCK_LEVELS)
 * holds the steps with the same step >> (BLOCK_BITS * L). */
#define BLOCK_LEVELS	2
#define BLOCK_BITS	6

/* A connection and its prepared statements; the lock keeps it to one
 * thread at a time. */
struct conn {
	sqlite3		*db;
	sqlite3_stmt	*stmt[S_NSTMTS];
	pthread_mutex_t	 lock;
};

/* A write waiting for the writer thread. */
struct job {
	int		(*apply)(struct store *, void *);
	void		*arg;
	int		 rc;
	int		 done;
	pthread_cond_t	 woken;		/* when done */
	struct job	*next;
};

#define READERS	4

/*
 * The page size of a new database (an existing one keeps its own).  A
 * commit writes every page it changed to the WAL whole, and a training
 * step changes a few rows in each of many places: the last leaf of each
 * metric's points and of its summaries.  Pages of 1 KiB instead of
 * SQLite's 4 KiB make those writes, and the fsync that waits for them,
 * smaller: 12% more batches per second in the training benchmark.
 */
#define PAGE_SIZE	"1024"

/*
 * Bytes of WAL after which a commit copies it into the database.  The
 * copy holds every write back while it runs (about a millisecond), and
 * costs about the same whatever its length: training writes the same
 * few pages again and again, which it copies once each.  40 MB, forty
 * times SQLite's default with pages of 1 KiB, makes those waits forty
 * times rarer; a database made with larger pages checkpoints after as
 * many bytes, in fewer pages.
 */
#define CHECKPOINT_BYTES	(40 * 1000 * 1000)

/*
 * Writes go through one writer thread, which applies every job queued
 * while the previous transaction committed in one new transaction, each
 * job in a savepoint of its own: one commit, and one fsync, serves many
 * requests, and a failing job takes no other down.  Reads use a few
 * connections of their own, which WAL lets run beside the writer.
 */
struct store {
	struct conn	 w;		/* the writer thread's */
	struct conn	 r[READERS];
	unsigned	 next_reader;
	pthread_t	 writer;
	int		 running;
	pthread_mutex_t	 qlock;
	pthread_cond_t	 queued;
	struct job	*head, **tail;
	int		 stopping;
	char		*path;		/* for the connections of cursors */
};

/* A cursor over points, on a read-only connection of its own: a slow
 * reader of a long history holds none of the store's connections. */
struct store_cursor {
	sqlite3		*db;
	sqlite3_stmt	*s;
};

static double
store_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
store_fail(struct conn *c, const char *what)
{
	log_error("store", "%s: %s", what, sqlite3_errmsg(c->db));
	return -1;
}

/* Returns a statement of the cache, reset and with its bindings cleared. */
static sqlite3_stmt *
store_stmt(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt	*s = c->stmt[id];

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
store_exec(struct conn *c, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("store", "%s", msg ? msg : sqlite3_errmsg(c->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Runs a prepared statement that returns no rows. */
static int
store_step(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt	*s = c->stmt[id];
	int		 rc = 0;

	if (sqlite3_step(s) != SQLITE_DONE) {
		log_error("store", "%s: %s", stmt_sql[id],
		    sqlite3_errmsg(c->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

/* Steps a statement that looks one row up: 0 with the row there to
 * read, STORE_NOTFOUND without one, or -1 when the store fails at
 * what it was doing.  The caller resets the statement. */
static int
store_lookup(struct conn *c, sqlite3_stmt *s, const char *what)
{
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		return 0;
	case SQLITE_DONE:
		return STORE_NOTFOUND;
	default:
		return store_fail(c, what);
	}
}

/* Reads an integer PRAGMA, such as user_version or page_size. */
static int
store_pragma(struct conn *c, const char *name, int *v)
{
	sqlite3_stmt	*s;
	char		 sql[64];
	int		 rc = -1;

	snprintf(sql, sizeof(sql), "PRAGMA %s", name);
	if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*v = sqlite3_column_int(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Applies the migrations the file has not seen, each in a transaction
 * with the new PRAGMA user_version.  A file from a newer lossmond is
 * refused rather than misread.
 */
static int
store_migrate(struct conn *c, char *err, size_t errlen)
{
	int		 version;
	size_t		 i;
	char		 sql[64];

	if (store_pragma(c, "user_version", &version) == -1) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(c->db));
		return -1;
	}
	if (version < 0 || (size_t)version > store_nmigrations) {
		snprintf(err, errlen, "the database has schema version %d;"
		    " this lossmond knows up to %zu", version,
		    store_nmigrations);
		return -1;
	}
	for (i = (size_t)version; i < store_nmigrations; i++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", i + 1);
		if (store_exec(c, "BEGIN IMMEDIATE") == -1)
			goto fail;
		if (store_exec(c, store_migrations[i]) == -1 ||
		    store_exec(c, sql) == -1 ||
		    store_exec(c, "COMMIT") == -1) {
			store_exec(c, "ROLLBACK");
			goto fail;
		}
		log_info("store", "applied schema migration %zu", i + 1);
	}
	return 0;

fail:
	snprintf(err, errlen, "schema migration %zu failed: %s",
	    (size_t)version + 1, sqlite3_errmsg(c->db));
	return -1;
}

/* Opens a connection with the settings every one of them needs and
 * prepares its statements; the writer's also migrates the schema.  -1
 * with the reason in err. */
static int
store_connect(struct conn *c, const char *path, const char *synchronous,
    int writer, char *err, size_t errlen)
{
	char	 sql[64];
	int	 i, page;

	pthread_mutex_init(&c->lock, NULL);
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(c->db, 10000);
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s", synchronous);
	if (store_exec(c, "PRAGMA page_size = " PAGE_SIZE) == -1 ||
	    store_exec(c, "PRAGMA journal_mode = WAL") == -1 ||
	    store_exec(c, "PRAGMA foreign_keys = ON") == -1 ||
	    store_exec(c, sql) == -1) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(c->db));
		return -1;
	}
	if (writer && store_migrate(c, err, errlen) == -1)
		return -1;
	if (writer && store_pragma(c, "page_size", &page) == 0 && page > 0)
		sqlite3_wal_autocheckpoint(c->db, CHECKPOINT_BYTES / page);
	for (i = 0; i < S_NSTMTS; i++) {
		if (!writer && store_writes(i))
			continue;	/* a reader's: NULL, never used */
		if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &c->stmt[i], NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "preparing statement %d: %s", i,
			    sqlite3_errmsg(c->db));
			return -1;
		}
	}
	return 0;
}

static void
store_disconnect(struct conn *c)
{
	int	 i;

	for (i = 0; i < S_NSTMTS; i++)
		sqlite3_finalize(c->stmt[i]);
	if (c->db != NULL) {
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->lock);
	}
	memset(c, 0, sizeof(*c));
}

/* Takes a free reader connection, or waits for one. */
static struct conn *
store_reader(struct store *st)
{
	unsigned	 i, start;

	start = __atomic_fetch_add(&st->next_reader, 1, __ATOMIC_RELAXED);
	for (i = 0; i < READERS; i++)
		if (pthread_mutex_trylock(&st->r[(start + i) % READERS].lock)
		    == 0)
			return &st->r[(start + i) % READERS];
	pthread_mutex_lock(&st->r[start % READERS].lock);
	return &st->r[start % READERS];
}

static void
store_release(struct conn *c)
{
	pthread_mutex_unlock(&c->lock);
}

/* Applies a group of jobs in one transaction, each in a savepoint. */
static void
store_apply(struct store *st, struct job *jobs)
{
	struct job	*j;

	if (store_step(&st->w, S_BEGIN) == -1) {
		for (j = jobs; j != NULL; j = j->next)
			j->rc = -1;
		return;
	}
	for (j = jobs; j != NULL; j = j->next) {
		store_step(&st->w, S_SAVE);
		j->rc = j->apply(st, j->arg);
		if (j->rc != 0)
			store_step(&st->w, S_UNDO);
		store_step(&st->w, S_RELEASE);
	}
	if (store_step(&st->w, S_COMMIT) == -1) {
		store_exec(&st->w, "ROLLBACK");
		for (j = jobs; j != NULL; j = j->next)
			j->rc = -1;
	}
}

static void *
store_writer(void *arg)
{
	struct store	*st = arg;
	struct job	*jobs, *j, *next;

	pthread_mutex_lock(&st->qlock);
	for (;;) {
		while (st->head == NULL && !st->stopping)
			pthread_cond_wait(&st->queued, &st->qlock);
		if (st->head == NULL)
			break;
		jobs = st->head;
		st->head = NULL;
		st->tail = &st->head;
		pthread_mutex_unlock(&st->qlock);

		pthread_mutex_lock(&st->w.lock);
		store_apply(st, jobs);
		pthread_mutex_unlock(&st->w.lock);

		pthread_mutex_lock(&st->qlock);
		/* Each submitter is woken alone: one broadcast would wake
		 * every waiting thread, most of them to sleep again. */
		for (j = jobs; j != NULL; j = next) {
			next = j->next;
			j->done = 1;
			pthread_cond_signal(&j->woken);
		}
	}
	pthread_mutex_unlock(&st->qlock);
	return NULL;
}

int
store_submit(struct store *st, int (*apply)(struct store *, void *),
    void *arg)
{
	struct job	 job = { apply, arg, 0, 0, PTHREAD_COND_INITIALIZER,
			    NULL };

	pthread_mutex_lock(&st->qlock);
	*st->tail = &job;
	st->tail = &job.next;
	pthread_cond_signal(&st->queued);
	while (!job.done)
		pthread_cond_wait(&job.woken, &st->qlock);
	pthread_mutex_unlock(&st->qlock);
	pthread_cond_destroy(&job.woken);
	return job.rc;
}

struct store *
store_open(const char *path, const char *synchronous, char *err,
    size_t errlen)
{
	struct store	*st;
	int		 i;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->tail = &st->head;
	if ((st->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->qlock, NULL);
	pthread_cond_init(&st->queued, NULL);
	if (store_connect(&st->w, path, synchronous, 1, err, errlen) == -1)
		goto fail;
	for (i = 0; i < READERS; i++)
		if (store_connect(&st->r[i], path, synchronous, 0, err,
		    errlen) == -1)
			goto fail;
	if (pthread_create(&st->writer, NULL, store_writer, st) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		goto fail;
	}
	st->running = 1;
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
	if (st->running) {
		pthread_mutex_lock(&st->qlock);
		st->stopping = 1;
		pthread_cond_signal(&st->queued);
		pthread_mutex_unlock(&st->qlock);
		pthread_join(st->writer, NULL);
	}
	for (i = 0; i < READERS; i++)
		store_disconnect(&st->r[i]);
	store_disconnect(&st->w);
	pthread_cond_destroy(&st->queued);
	pthread_mutex_destroy(&st->qlock);
	free(st->path);
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

/* Reads a run by name on a connection the caller holds. */
static int
store_run_read(struct conn *c, const char *name, struct store_run *run)
{
	sqlite3_stmt	*s = store_stmt(c, S_RUN_GET);
	int		 rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if ((rc = store_lookup(c, s, "reading a run")) == 0)
		rc = store_run_row(s, run);
	sqlite3_reset(s);
	return rc;
}

int
store_run_create(struct store *st, const char *name, const char *losses,
    const char *params, const char *tags, int64_t *id,
    enum store_outcome *outcome)
{
	struct store_run	 run;
	sqlite3_stmt		*s = store_stmt(&st->w, S_RUN_INSERT);
	int			 rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, losses, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, params, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, tags, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 5, store_now());
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_fail(&st->w, "inserting a run");
	if (sqlite3_changes(st->w.db) == 1) {
		*id = sqlite3_last_insert_rowid(st->w.db);
		*outcome = STORE_CREATED;
		return 0;
	}
	if ((rc = store_run_read(&st->w, name, &run)) != 0)
		return rc;
	*id = run.id;
	*outcome = strcmp(run.losses, losses) == 0 ? STORE_SAME :
	    STORE_CONFLICT;
	store_run_free(&run);
	return 0;
}

int
store_run_same(struct store *st, const char *name, int64_t id,
    const char *losses)
{
	sqlite3_stmt	*s = store_stmt(&st->w, S_RUN_SAME);
	int		 rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_text(s, 3, losses, -1, SQLITE_STATIC);
	rc = store_lookup(&st->w, s, "reading a run");
	sqlite3_reset(s);
	return rc;
}

struct ensure_job {
	const char		*name, *losses, *params, *tags;
	int64_t			 id;
	enum store_outcome	 outcome;
};

static int
store_ensure_apply(struct store *st, void *arg)
{
	struct ensure_job	*e = arg;

	return store_run_create(st, e->name, e->losses, e->params, e->tags,
	    &e->id, &e->outcome);
}

int
store_run_ensure(struct store *st, const char *name, const char *losses,
    const char *params, const char *tags, enum store_outcome *outcome)
{
	struct ensure_job	 e = { name, losses, params, tags, -1,
				    STORE_CONFLICT };
	int			 rc;

	rc = store_submit(st, store_ensure_apply, &e);
	*outcome = e.outcome;
	return rc;
}

int
store_run_get(struct store *st, const char *name, struct store_run *run)
{
	struct conn	*c = store_reader(st);
	int		 rc;

	rc = store_run_read(c, name, run);
	store_release(c);
	return rc;
}

/* Reads the total of a row of S_TOTALS from column i on. */
static void
store_total_row(sqlite3_stmt *s, int i, struct store_total *t)
{
	t->split = (const char *)sqlite3_column_text(s, i);
	t->last_step = sqlite3_column_int64(s, i + 1);
	t->last = store_column_double(s, i + 2);
	t->best_step = sqlite3_column_type(s, i + 3) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, i + 3);
	t->best = store_column_double(s, i + 4);
}

/* Calls fn for the run of a row of S_RUN_LIST, whose text it does not
 * copy: -1 when SQLite has no memory for the text. */
static int
store_run_list_one(sqlite3_stmt *s, int (*fn)(const struct store_run *,
    void *), void *arg)
{
	struct store_run	 run;

	run.id = sqlite3_column_int64(s, 0);
	run.name = (char *)sqlite3_column_text(s, 1);
	run.losses = (char *)sqlite3_column_text(s, 2);
	run.params = (char *)sqlite3_column_text(s, 3);
	run.tags = (char *)sqlite3_column_text(s, 4);
	run.created = sqlite3_column_double(s, 5);
	run.last_step = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, 6);
	run.last_time = sqlite3_column_double(s, 7);
	if (run.name == NULL || run.losses == NULL || run.params == NULL ||
	    run.tags == NULL)
		return -1;
	return fn(&run, arg);
}

int
store_run_list(struct store *st, int (*run_fn)(const struct store_run *,
    void *), int (*total_fn)(const struct store_total *, void *),
    void *arg)
{
	struct conn		*c = store_reader(st);
	sqlite3_stmt		*s = store_stmt(c, S_RUN_LIST);
	struct store_total	 t;
	int64_t			 id, prev = 0;
	int			 rc = 0, step, first = 1;

	/* A run has a row per split with a total, or one without. */
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		if ((first || id != prev) &&
		    (rc = store_run_list_one(s, run_fn, arg)) != 0)
			break;
		first = 0;
		prev = id;
		if (sqlite3_column_type(s, 8) == SQLITE_NULL)
			continue;
		store_total_row(s, 8, &t);
		if ((rc = total_fn(&t, arg)) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_fail(c, "listing runs");
	sqlite3_reset(s);
	store_release(c);
	return rc;
}

static int
store_delete_apply(struct store *st, void *arg)
{
	sqlite3_stmt	*s = store_stmt(&st->w, S_RUN_DELETE);
	int		 rc = 0;

	sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(&st->w, "deleting a run");
	else if (sqlite3_changes(st->w.db) == 0)
		rc = STORE_NOTFOUND;
	sqlite3_reset(s);
	return rc;
}

int
store_run_delete(struct store *st, const char *name)
{
	return store_submit(st, store_delete_apply, (void *)(uintptr_t)name);
}

int
store_metric_list(struct store *st, int64_t run,
    int (*fn)(const struct store_metric *, void *), void *arg)
{
	struct conn		*c = store_reader(st);
	sqlite3_stmt		*s = store_stmt(c, S_METRIC_LIST);
	struct store_metric	 m;
	int			 rc = 0, step;

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
		rc = store_fail(c, "listing metrics");
	sqlite3_reset(s);
	store_release(c);
	return rc;
}

/* The kind of a run's metric on a connection the caller holds. */
static int
store_kind_read(struct conn *c, int64_t run, const char *metric,
    enum metric_kind *kind)
{
	sqlite3_stmt	*s = store_stmt(c, S_METRIC_KIND);
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	if ((rc = store_lookup(c, s, "reading a metric")) == 0)
		*kind = (enum metric_kind)sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return rc;
}

int
store_metric_kind(struct store *st, int64_t run, const char *metric,
    enum metric_kind *kind)
{
	struct conn	*c = store_reader(st);
	int		 rc;

	rc = store_kind_read(c, run, metric, kind);
	store_release(c);
	return rc;
}

int
store_stats_get(struct store *st, int64_t run, const char *split,
    int64_t step, const char *metric, double *stats, size_t max, size_t *n)
{
	sqlite3_stmt	*s = store_stmt(&st->w, S_STATS_GET);
	int		 rc;
	size_t		 bytes;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, step);
	if ((rc = store_lookup(&st->w, s, "reading statistics")) == 0) {
		bytes = (size_t)sqlite3_column_bytes(s, 0);
		*n = bytes / sizeof(double);
		if (*n > max)
			*n = max;
		if (*n > 0)
			memcpy(stats, sqlite3_column_blob(s, 0),
			    *n * sizeof(double));
	}
	sqlite3_reset(s);
	return rc;
}

/* The id of a run's metric, created with the kind when new; -1 on error
 * or when the metric exists with another kind. */
static int64_t
store_metric_id(struct conn *c, int64_t run, const char *split,
    const struct store_value *v)
{
	sqlite3_stmt	*s = store_stmt(c, S_METRIC_GET);
	int64_t		 id = -1;
	int		 rc;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, v->metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	rc = store_lookup(c, s, "reading a metric");
	if (rc == 0 && sqlite3_column_int(s, 1) == (int)v->kind)
		id = sqlite3_column_int64(s, 0);
	else if (rc == 0)
		log_error("store", "metric kind mismatch");
	sqlite3_reset(s);
	if (rc != STORE_NOTFOUND)
		return id;

	s = store_stmt(c, S_METRIC_INSERT);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, v->metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, (int)v->kind);
	if (sqlite3_step(s) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(c->db);
	else
		store_fail(c, "adding a metric");
	sqlite3_reset(s);
	return id;
}

int
store_values_put(struct store *st, int64_t run, const char *split,
    int64_t step, const struct store_value *v, size_t n)
{
	struct conn	*c = &st->w;
	sqlite3_stmt	*s;
	int64_t		 id;
	double		 now = store_now();
	size_t		 i;
	int		 rc = -1;

	for (i = 0; i < n; i++) {
		if ((id = store_metric_id(c, run, split, &v[i])) == -1)
			goto out;
		s = store_stmt(c, S_POINT_PUT);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, step);
		store_bind_double(s, 3, v[i].value);
		if (v[i].nstats > 0)
			sqlite3_bind_blob(s, 4, v[i].stats,
			    (int)(v[i].nstats * sizeof(double)),
			    SQLITE_STATIC);
		sqlite3_bind_double(s, 5, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			store_fail(c, "writing a point");
			goto out;
		}
	}
	s = store_stmt(c, S_RUN_TOUCH);
	sqlite3_bind_int64(s, 1, step);
	sqlite3_bind_double(s, 2, now);
	sqlite3_bind_int64(s, 3, run);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(c, "updating a run");
		goto out;
	}
	rc = 0;

out:
	sqlite3_reset(c->stmt[S_POINT_PUT]);
	sqlite3_reset(c->stmt[S_RUN_TOUCH]);
	return rc;
}

/* Fills a point from the columns step, value, time from col on. */
static void
store_point_at(sqlite3_stmt *s, int col, struct point *p)
{
	p->step = sqlite3_column_int64(s, col);
	p->value = store_column_double(s, col + 1);
	p->time = sqlite3_column_double(s, col + 2);
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
	store_point_at(s, 0, &(*pts)[(*n)++]);
	return 0;
}

/* The id of a run's metric on a split, with a statement of
 * S_METRIC_GET: 0, STORE_NOTFOUND, or -1 for the caller to report. */
static int
store_metric_find(sqlite3_stmt *s, int64_t run, const char *metric,
    const char *split, int64_t *id)
{
	int	 step;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, split, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ?
	    STORE_NOTFOUND : -1;
}

/* The points of a metric id, on a connection the caller holds. */
static int
store_points_read(struct conn *c, int64_t id, int64_t from, int64_t to,
    struct point **pts, size_t *n)
{
	sqlite3_stmt	*s = store_stmt(c, S_HISTORY);
	size_t		 cap = 0;
	int		 rc = 0, step;

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
		rc = store_fail(c, "reading history");
	sqlite3_reset(s);
	return rc;
}

int
store_history(struct store *st, int64_t run, const char *metric,
    const char *split, int64_t from, int64_t to, struct point **pts,
    size_t *n)
{
	struct conn	*c = store_reader(st);
	int		 rc;
	int64_t		 id = -1;

	*pts = NULL;
	*n = 0;
	rc = store_metric_find(store_stmt(c, S_METRIC_GET), run, metric,
	    split, &id);
	if (rc == -1)
		store_fail(c, "reading a metric");
	if (rc == 0)
		rc = store_points_read(c, id, from, to, pts, n);
	store_release(c);
	if (rc != 0) {
		free(*pts);
		*pts = NULL;
		*n = 0;
	}
	return rc;
}

int
store_reply_get(struct store *st, int64_t run, const char *id,
    const char *digest, char **reply)
{
	sqlite3_stmt	*s = store_stmt(&st->w, S_REPLY_GET);
	const char	*kept;
	int		 rc;

	*reply = NULL;
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if ((rc = store_lookup(&st->w, s, "reading a reply")) == 0) {
		kept = (const char *)sqlite3_column_text(s, 1);
		if (kept != NULL && *kept != '\0' &&
		    strcmp(kept, digest) != 0)
			rc = STORE_CONFLICT_ID;
		else if ((*reply = store_column_text(s, 0)) == NULL)
			rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

int
store_reply_put(struct store *st, int64_t run, const char *id,
    const char *digest, const char *reply)
{
	sqlite3_stmt	*s = store_stmt(&st->w, S_REPLY_PUT);
	int		 rc = 0;

	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, reply, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, digest, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(&st->w, "keeping a reply");
	sqlite3_reset(s);
	return rc;
}

int
store_run_totals(struct store *st, int64_t run,
    int (*fn)(const struct store_total *, void *), void *arg)
{
	struct conn		*c = store_reader(st);
	sqlite3_stmt		*s = store_stmt(c, S_TOTALS);
	struct store_total	 t;
	int			 rc = 0, step;

	sqlite3_bind_int64(s, 1, run);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_total_row(s, 0, &t);
		if ((rc = fn(&t, arg)) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_fail(c, "reading totals");
	sqlite3_reset(s);
	store_release(c);
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
store_cursor_open(struct store *st, int64_t run, const char *metric,
    const char *split, int64_t from, int64_t to, struct store_cursor **out)
{
	struct store_cursor	*cur;
	sqlite3_stmt		*s = NULL;
	int64_t			 id = -1;
	int			 rc = -1;

	*out = NULL;
	if ((cur = calloc(1, sizeof(*cur))) == NULL)
		return -1;
	if (sqlite3_open_v2(st->path, &cur->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("store", "opening a cursor: %s",
		    cur->db ? sqlite3_errmsg(cur->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(cur->db, 10000);
	if (sqlite3_prepare_v2(cur->db, stmt_sql[S_METRIC_GET], -1, &s,
	    NULL) != SQLITE_OK)
		goto dberr;
	rc = store_metric_find(s, run, metric, split, &id);
	sqlite3_finalize(s);
	if (rc == -1)
		goto dberr;
	if (rc == STORE_NOTFOUND)
		goto fail;
	if (sqlite3_prepare_v2(cur->db, stmt_sql[S_HISTORY], -1, &cur->s,
	    NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(cur->s, 1, id);
	sqlite3_bind_int64(cur->s, 2, from);
	sqlite3_bind_int64(cur->s, 3, to);
	*out = cur;
	return 0;

dberr:
	log_error("store", "opening a cursor: %s", sqlite3_errmsg(cur->db));
	rc = -1;
fail:
	store_cursor_close(cur);
	return rc;
}

int
store_cursor_next(struct store_cursor *cur, struct point *p)
{
	switch (sqlite3_step(cur->s)) {
	case SQLITE_ROW:
		store_point_at(cur->s, 0, p);
		return 1;
	case SQLITE_DONE:
		return 0;
	default:
		log_error("store", "reading history: %s",
		    sqlite3_errmsg(cur->db));
		return -1;
	}
}

void
store_cursor_close(struct store_cursor *cur)
{
	if (cur == NULL)
		return;
	sqlite3_finalize(cur->s);
	sqlite3_close(cur->db);
	free(cur);
}

/*
 * The reading of a downsampled history: the summaries of one level of
 * point_blocks over [from, to] in step order, or at level 0 the points
 * themselves.  The blocks that from or to cut are read as head and tail,
 * summaries of their points inside the range only; lo and hi are the
 * blocks between them.  One read transaction on a reader connection,
 * held until closed, so that the counts given at opening hold.
 */
enum blocks_state { BLOCKS_HEAD, BLOCKS_MIDDLE, BLOCKS_TAIL, BLOCKS_DONE };

struct store_blocks {
	struct conn		*c;
	sqlite3_stmt		*s;		/* the middle, once bound */
	int			 in_txn;
	int			 level;
	int64_t			 lo, hi;
	struct summary		 head, tail;
	enum blocks_state	 state;
};

/* Fills a summary from a row of S_BLOCKS. */
static void
store_block_row(sqlite3_stmt *s, struct summary *sum)
{
	sum->n = sqlite3_column_int64(s, 0);
	store_point_at(s, 1, &sum->first);
	store_point_at(s, 4, &sum->last);
	sum->has_finite = sqlite3_column_type(s, 7) != SQLITE_NULL;
	if (sum->has_finite) {
		store_point_at(s, 7, &sum->min);
		store_point_at(s, 10, &sum->max);
	}
	sum->has_bad = sqlite3_column_type(s, 13) != SQLITE_NULL;
	if (sum->has_bad)
		store_point_at(s, 13, &sum->bad);
}

/* S_BLOCKS for the blocks lo to hi of a level, or at level 0 S_HISTORY
 * for the steps lo to hi. */
static sqlite3_stmt *
store_blocks_stmt(struct conn *c, int64_t id, int level, int64_t lo,
    int64_t hi)
{
	sqlite3_stmt	*s;
	int		 i = 1;

	s = store_stmt(c, level == 0 ? S_HISTORY : S_BLOCKS);
	sqlite3_bind_int64(s, i++, id);
	if (level > 0)
		sqlite3_bind_int(s, i++, level);
	sqlite3_bind_int64(s, i++, lo);
	sqlite3_bind_int64(s, i, hi);
	return s;
}

/* Fills sum from the current row of a statement of store_blocks_stmt(). */
static void
store_blocks_row(sqlite3_stmt *s, int level, struct summary *sum)
{
	struct point	 p;

	if (level > 0) {
		store_block_row(s, sum);
		return;
	}
	store_point_at(s, 0, &p);
	downsample_point(sum, &p);
}

/*
 * Merges into sum the points of metric id with a <= step <= b: the
 * blocks of the level that lie wholly in the range, and the ends from
 * the levels below, down to the points.  The range lies within one block
 * of the level above, so each level reads at most 2 * 64 rows.  -1 on a
 * database error.
 */
static int
store_range_merge(struct conn *c, int64_t id, int level, int64_t a,
    int64_t b, struct summary *sum)
{
	sqlite3_stmt	*s;
	struct summary	 one;
	int64_t		 lo = a, hi = b;
	int		 shift = BLOCK_BITS * level, step;

	if (a > b)
		return 0;
	if (level > 0) {
		lo = (a + ((int64_t)1 << shift) - 1) >> shift;
		hi = ((b + 1) >> shift) - 1;
		if (lo > hi)
			return store_range_merge(c, id, level - 1, a, b, sum);
		if (store_range_merge(c, id, level - 1, a, (lo << shift) - 1,
		    sum) == -1 || store_range_merge(c, id, level - 1,
		    (hi + 1) << shift, b, sum) == -1)
			return -1;
	}
	s = store_blocks_stmt(c, id, level, lo, hi);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_blocks_row(s, level, &one);
		downsample_merge(sum, &one);
	}
	sqlite3_reset(s);
	return step == SQLITE_DONE ? 0 : store_fail(c, "reading summaries");
}

/*
 * Plans the reading of a level over [from, to]: the cut blocks at the
 * ends summarised into head and tail, lo and hi the blocks between.
 * Sets *k to the number of blocks with points and *n to the number of
 * points, from the summaries' counts; -1 on a database error.
 */
static int
store_blocks_plan(struct store_blocks *b, int64_t id, int level,
    int64_t from, int64_t to, size_t *k, int64_t *n)
{
	sqlite3_stmt	*s;
	int64_t		 mask = ((int64_t)1 << (BLOCK_BITS * level)) - 1;
	int		 shift = BLOCK_BITS * level, rc = 0;

	b->level = level;
	b->head.n = b->tail.n = 0;
	b->lo = from >> shift;
	b->hi = to >> shift;
	if ((from & mask) != 0) {
		if (store_range_merge(b->c, id, level - 1, from,
		    to < (from | mask) ? to : (from | mask), &b->head) == -1)
			return -1;
		b->lo++;
	}
	if (((to + 1) & mask) != 0 && b->hi >= b->lo) {
		if (store_range_merge(b->c, id, level - 1, b->hi << shift, to,
		    &b->tail) == -1)
			return -1;
		b->hi--;
	}
	*k = (b->head.n > 0) + (b->tail.n > 0);
	*n = b->head.n + b->tail.n;
	if (b->lo > b->hi)
		return 0;

	s = store_stmt(b->c, S_BLOCKS_COUNT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, level);
	sqlite3_bind_int64(s, 3, b->lo);
	sqlite3_bind_int64(s, 4, b->hi);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*k += (size_t)sqlite3_column_int64(s, 0);
		*n += sqlite3_column_int64(s, 1);
	} else
		rc = store_fail(b->c, "counting summaries");
	sqlite3_reset(s);
	return rc;
}

int
store_blocks_open(struct store *st, int64_t run, const char *metric,
    const char *split, int64_t from, int64_t to, size_t want,
    struct store_blocks **out, size_t *nblocks, int64_t *npoints)
{
	struct store_blocks	*b;
	int64_t			 id = -1;
	int			 rc, level;

	*out = NULL;
	*nblocks = 0;
	*npoints = 0;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -1;
	b->c = store_reader(st);
	rc = store_metric_find(store_stmt(b->c, S_METRIC_GET), run, metric,
	    split, &id);
	if (rc == -1)
		store_fail(b->c, "reading a metric");
	if (rc != 0)
		goto fail;
	if ((rc = store_exec(b->c, "BEGIN")) == -1)
		goto fail;
	b->in_txn = 1;

	/* The coarsest level with enough blocks; the one below it has at
	 * most 64 times as many, which bounds the rows read. */
	for (level = BLOCK_LEVELS; level > 0; level--) {
		rc = store_blocks_plan(b, id, level, from, to, nblocks,
		    npoints);
		if (rc != 0)
			goto fail;
		if (*nblocks >= want)
			break;
	}
	if (level == 0) {
		b->level = 0;
		b->head.n = b->tail.n = 0;
		b->lo = from;
		b->hi = to;
		*nblocks = (size_t)*npoints;
	}
	b->s = store_blocks_stmt(b->c, id, b->level, b->lo, b->hi);
	*out = b;
	return 0;

fail:
	store_blocks_close(b);
	return rc;
}

int
store_blocks_next(struct store_blocks *b, struct summary *sum)
{
	switch (b->state) {
	case BLOCKS_HEAD:
		b->state = BLOCKS_MIDDLE;
		if (b->head.n > 0) {
			*sum = b->head;
			return 1;
		}
		/* FALLTHROUGH */
	case BLOCKS_MIDDLE:
		switch (sqlite3_step(b->s)) {
		case SQLITE_ROW:
			store_blocks_row(b->s, b->level, sum);
			return 1;
		case SQLITE_DONE:
			break;
		default:
			return store_fail(b->c, "reading summaries");
		}
		b->state = BLOCKS_TAIL;
		/* FALLTHROUGH */
	case BLOCKS_TAIL:
		b->state = BLOCKS_DONE;
		if (b->tail.n > 0) {
			*sum = b->tail;
			return 1;
		}
		/* FALLTHROUGH */
	case BLOCKS_DONE:
		break;
	}
	return 0;
}

void
store_blocks_close(struct store_blocks *b)
{
	if (b == NULL)
		return;
	if (b->s != NULL)
		sqlite3_reset(b->s);
	if (b->in_txn)
		store_exec(b->c, "COMMIT");
	store_release(b->c);
	free(b);
}
