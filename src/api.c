/* The REST API: routing, handlers, JSON replies. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "codec.h"
#include "downsample.h"
#include "log.h"
#include "loss.h"
#include "store.h"

#define HISTORY_MAX_POINTS	1000000	/* largest max_points asked */
#define POINT_TEXT		96	/* "[step,value,time]" at most */

/* A run as the handlers use it: its row and its decoded terms. */
struct run {
	struct store_run	 row;
	struct loss_term	*terms;
	size_t			 nterms;
	struct cached_run	*shared;	/* owns row and terms */
};

/*
 * The runs posts went to, decoded: a post reads neither the store nor
 * the run's JSON again.  An entry is never changed; the requests that
 * use it and its slot each hold a reference.  The writer checks the run
 * once more in the transaction of the write (api_write_run), so a stale
 * entry, of a run deleted or replaced by another process say, costs one
 * refused request: the API drops it then, and when it deletes the run
 * itself.  A generation number, moved by each drop, keeps a load that
 * raced with a drop from storing what it read.
 */
#define RUN_SLOTS	64

struct cached_run {
	struct run		 run;
	struct run_cache	*cache;
	unsigned		 refs;
};

struct run_cache {
	pthread_mutex_t		 lock;
	unsigned long		 gen;
	struct cached_run	*slot[RUN_SLOTS];
};

/* A growing text buffer for large replies. */
struct buf {
	char	*s;
	size_t	 len, cap;
	int	 oom;
};

void
api_error(struct api_reply *rep, int status, const char *code,
    const char *fmt, ...)
{
	cJSON	*root, *err;
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* It may quote bad input, or cut a character in two. */
	codec_clean_utf8(msg);

	free(rep->body);
	rep->status = status;
	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	rep->body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
}

static void
api_codec_error(struct api_reply *rep, const struct codec_error *err)
{
	api_error(rep, err->status, err->code, "%s", err->message);
}

static void
api_internal(struct api_reply *rep)
{
	api_error(rep, 500, "internal", "the store failed; the request was"
	    " not applied (see the daemon's log)");
}

/* Replies with a JSON document, which it deletes. */
static void
api_json(struct api_reply *rep, int status, cJSON *doc)
{
	free(rep->body);
	rep->body = codec_print(doc);
	cJSON_Delete(doc);
	if (rep->body == NULL) {
		api_error(rep, 500, "internal", "out of memory");
		return;
	}
	rep->status = status;
}

static void	 api_cache_release(struct cached_run *);

static void
api_run_free(struct run *run)
{
	if (run->shared != NULL)
		api_cache_release(run->shared);
	else {
		store_run_free(&run->row);
		free(run->terms);
	}
	run->shared = NULL;
	run->terms = NULL;
}

struct run_cache *
api_cache_new(void)
{
	struct run_cache	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

/* Lets go of an entry; with the cache locked. */
static void
api_cache_unref(struct cached_run *e)
{
	if (--e->refs > 0)
		return;
	store_run_free(&e->run.row);
	free(e->run.terms);
	free(e);
}

void
api_cache_free(struct run_cache *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < RUN_SLOTS; i++)
		if (c->slot[i] != NULL)
			api_cache_unref(c->slot[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void
api_cache_release(struct cached_run *e)
{
	struct run_cache	*c = e->cache;

	pthread_mutex_lock(&c->lock);
	api_cache_unref(e);
	pthread_mutex_unlock(&c->lock);
}

static struct cached_run **
api_cache_slot(struct run_cache *c, const char *name)
{
	unsigned	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return &c->slot[h % RUN_SLOTS];
}

/* Fills run with the cached entry of name and returns 1; or returns 0
 * with the generation a load from the store starts in. */
static int
api_cache_get(struct run_cache *c, const char *name, struct run *run,
    unsigned long *gen)
{
	struct cached_run	*e;
	int			 hit;

	pthread_mutex_lock(&c->lock);
	e = *api_cache_slot(c, name);
	if ((hit = e != NULL && strcmp(e->run.row.name, name) == 0)) {
		e->refs++;
		*run = e->run;
		run->shared = e;
	}
	*gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* Hands a run loaded in generation gen to the cache, which then owns
 * its row and terms, unless a drop came between. */
static void
api_cache_put(struct run_cache *c, struct run *run, unsigned long gen)
{
	struct cached_run	*e, **slot;

	if ((e = malloc(sizeof(*e))) == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (gen != c->gen) {
		pthread_mutex_unlock(&c->lock);
		free(e);
		return;
	}
	e->run = *run;
	e->cache = c;
	e->refs = 2;		/* the slot's and this request's */
	slot = api_cache_slot(c, run->row.name);
	if (*slot != NULL)
		api_cache_unref(*slot);
	*slot = e;
	run->shared = e;
	pthread_mutex_unlock(&c->lock);
}

/* Forgets the run of that name, if the cache holds it. */
static void
api_cache_drop(struct run_cache *c, const char *name)
{
	struct cached_run	**slot;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->gen++;
	slot = api_cache_slot(c, name);
	if (*slot != NULL && strcmp((*slot)->run.row.name, name) == 0) {
		api_cache_unref(*slot);
		*slot = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Decodes the terms of a run from its canonical JSON; -1 with a 500
 * reply, having freed the run, when they do not decode. */
static int
api_run_terms(struct run *run, struct api_reply *rep)
{
	struct codec_error	 err;
	cJSON			*arr;
	int			 rc;

	arr = cJSON_Parse(run->row.losses);
	rc = codec_terms(arr, "losses", &run->terms, &run->nterms, &err);
	cJSON_Delete(arr);
	if (rc == -1) {
		log_error("api", "run %lld has unreadable losses: %s",
		    (long long)run->row.id, err.message);
		api_run_free(run);
		api_internal(rep);
	}
	return rc;
}

/*
 * Loads a run and decodes its terms.  Returns 0; STORE_NOTFOUND, with a
 * 404 reply, when the run does not exist; -1 with a 500 reply on error.
 */
static int
api_run_load(struct api *api, const char *name, struct run *run,
    struct api_reply *rep)
{
	int	 rc;

	memset(run, 0, sizeof(*run));
	rc = store_run_get(api->store, name, &run->row);
	if (rc == STORE_NOTFOUND) {
		api_error(rep, 404, "not_found", "run \"%s\" does not exist",
		    name);
		return rc;
	}
	if (rc != 0) {
		api_internal(rep);
		return -1;
	}
	return api_run_terms(run, rep);
}

static int
api_total_one(const struct store_total *t, void *arg)
{
	cJSON	*o = cJSON_AddObjectToObject(arg, t->split);

	cJSON_AddNumberToObject(o, "last_step", (double)t->last_step);
	cJSON_AddItemToObject(o, "last", codec_number(t->last));
	if (t->best_step < 0) {
		cJSON_AddNullToObject(o, "best_step");
		cJSON_AddNullToObject(o, "best");
	} else {
		cJSON_AddNumberToObject(o, "best_step", (double)t->best_step);
		cJSON_AddItemToObject(o, "best", codec_number(t->best));
	}
	return 0;
}

/*
 * The JSON object of a run's row, without its totals.  The losses,
 * params and tags are kept as text that codec_print() wrote, which
 * parsing and printing again would give back byte for byte: they go
 * out as they are.
 */
static cJSON *
api_run_row_json(const struct store_run *row)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", row->name);
	cJSON_AddItemToObject(o, "losses", cJSON_CreateRaw(row->losses));
	cJSON_AddItemToObject(o, "params", cJSON_CreateRaw(row->params));
	cJSON_AddItemToObject(o, "tags", cJSON_CreateRaw(row->tags));
	cJSON_AddNumberToObject(o, "created", row->created);
	if (row->last_step < 0) {
		cJSON_AddNullToObject(o, "last_step");
		cJSON_AddNullToObject(o, "last_time");
	} else {
		cJSON_AddNumberToObject(o, "last_step",
		    (double)row->last_step);
		cJSON_AddNumberToObject(o, "last_time", row->last_time);
	}
	return o;
}

/* The JSON object of a run, with the last and best total of each
 * split; NULL when the store fails. */
static cJSON *
api_run_json(struct api *api, const struct run *run)
{
	cJSON	*o = api_run_row_json(&run->row);

	if (store_run_totals(api->store, run->row.id, api_total_one,
	    cJSON_AddObjectToObject(o, "totals")) != 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Creates a run with the given or default losses; see store_run_ensure. */
static int
api_run_ensure(struct api *api, const char *name, const struct run_spec *rs,
    enum store_outcome *outcome)
{
	const struct loss_term	*terms = rs->terms;
	size_t			 n = rs->nterms;
	char			*losses;
	int			 rc;

	if (terms == NULL) {
		terms = api->default_terms;
		n = api->ndefault;
	}
	if ((losses = codec_terms_json(terms, n)) == NULL)
		return -1;
	rc = store_run_ensure(api->store, name, losses,
	    rs->params ? rs->params : "{}", rs->tags ? rs->tags : "{}",
	    outcome);
	free(losses);
	return rc;
}

static void
api_run_put(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct codec_error	 err;
	struct run_spec		 rs;
	struct run		 run;
	enum store_outcome	 outcome;
	int			 tries, rc;

	if (codec_run_spec(req->body, req->len, &rs, &err) == -1) {
		api_codec_error(rep, &err);
		return;
	}
	/* Without losses, an existing run is taken as it is. */
	if (rs.terms == NULL && api_run_load(api, req->seg[1], &run, rep) !=
	    STORE_NOTFOUND) {
		if (run.row.name != NULL) {
			api_json(rep, 200, api_run_json(api, &run));
			api_run_free(&run);
		}
		goto out;
	}
	/* A DELETE may come between the write and the read back: the
	 * run is then made again. */
	for (tries = 0;; tries++) {
		if (api_run_ensure(api, req->seg[1], &rs, &outcome) != 0) {
			api_internal(rep);
			goto out;
		}
		rc = api_run_load(api, req->seg[1], &run, rep);
		if (rc == 0)
			break;
		if (rc != STORE_NOTFOUND || tries == 2) {
			if (rc == STORE_NOTFOUND)
				api_error(rep, 409, "conflict", "run \"%s\""
				    " was deleted again and again while this"
				    " request made it", req->seg[1]);
			goto out;
		}
	}
	if (outcome == STORE_CONFLICT)
		api_error(rep, 409, "conflict", "run \"%s\" exists with other"
		    " losses: %s", req->seg[1], run.row.losses);
	else
		api_json(rep, outcome == STORE_CREATED ? 201 : 200,
		    api_run_json(api, &run));
	api_run_free(&run);

out:
	codec_run_spec_free(&rs);
}

static void
api_run_get(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct run	 run;

	if (api_run_load(api, req->seg[1], &run, rep) != 0)
		return;
	api_json(rep, 200, api_run_json(api, &run));
	api_run_free(&run);
}

static void
api_run_delete(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	cJSON	*o;
	int	 rc = store_run_delete(api->store, req->seg[1]);

	api_cache_drop(api->runs, req->seg[1]);
	if (rc == STORE_NOTFOUND) {
		api_error(rep, 404, "not_found", "run \"%s\" does not exist",
		    req->seg[1]);
		return;
	}
	if (rc != 0) {
		api_internal(rep);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "run", req->seg[1]);
	cJSON_AddTrueToObject(o, "deleted");
	api_json(rep, 200, o);
}

/* The run list being built: its array and the totals of its last run. */
struct run_list {
	cJSON		*arr;
	cJSON		*totals;
};

static int
api_run_list_run(const struct store_run *row, void *arg)
{
	struct run_list	*l = arg;
	cJSON		*o = api_run_row_json(row);

	cJSON_AddItemToArray(l->arr, o);
	l->totals = cJSON_AddObjectToObject(o, "totals");
	return 0;
}

static int
api_run_list_total(const struct store_total *t, void *arg)
{
	struct run_list	*l = arg;

	return api_total_one(t, l->totals);
}

static void
api_run_list(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	cJSON		*o = cJSON_CreateObject();
	struct run_list	 l = { cJSON_AddArrayToObject(o, "runs"), NULL };

	(void)req;
	if (store_run_list(api->store, api_run_list_run, api_run_list_total,
	    &l) != 0) {
		cJSON_Delete(o);
		api_internal(rep);
		return;
	}
	api_json(rep, 200, o);
}

/*
 * Loads the run a post goes to, creating it with the default losses
 * when it is new.  Returns 0, or -1 with the reply set.
 */
static int
api_run_for_post(struct api *api, const char *name, struct run *run,
    struct api_reply *rep)
{
	unsigned long	 gen = 0;
	int		 rc;

	if (api->runs != NULL && api_cache_get(api->runs, name, run, &gen))
		return 0;
	rc = api_run_load(api, name, run, rep);
	if (rc == 0 && api->runs != NULL)
		api_cache_put(api->runs, run, gen);
	if (rc != STORE_NOTFOUND)
		return rc == 0 ? 0 : -1;
	/* Not stored yet: api_write() creates it with the write, so that
	 * a refused request leaves no run behind. */
	memset(run, 0, sizeof(*run));
	run->row.id = -1;
	run->row.last_step = -1;
	run->row.name = strdup(name);
	run->row.losses = codec_terms_json(api->default_terms, api->ndefault);
	run->row.params = strdup("{}");
	run->row.tags = strdup("{}");
	if (run->row.name == NULL || run->row.losses == NULL ||
	    run->row.params == NULL || run->row.tags == NULL) {
		api_run_free(run);
		api_internal(rep);
		return -1;
	}
	return api_run_terms(run, rep) == 0 ? 0 : -1;
}

/*
 * Adds one batch's statistics to what the step holds and writes the new
 * values of the terms and the total; in a store transaction.  Returns
 * 0; 1 with a 400 reply when the batch does not fit what the step holds
 * (another number of classes, say); -1 when the store fails.
 */
static int
api_accumulate(struct api *api, const struct run *run,
    const struct batch_req *b, const struct loss_stats *batch,
    struct api_reply *rep)
{
	struct store_value	 v[CODEC_TERMS_MAX + 1];
	struct loss_stats	*acc;
	const struct loss_term	*t;
	char			 why[256];
	size_t			 i;
	double			 total = 0;
	int			 rc = -1;

	if ((acc = calloc(run->nterms, sizeof(*acc))) == NULL)
		return -1;
	for (i = 0; i < run->nterms; i++) {
		t = &run->terms[i];
		rc = store_stats_get(api->store, run->row.id, b->split,
		    b->step, t->name, acc[i].s, LOSS_MAX_STATS, &acc[i].n);
		if (rc == STORE_NOTFOUND)
			acc[i].n = 0;
		else if (rc != 0)
			goto out;
		if (loss_stats_add(&t->spec, &acc[i], &batch[i], why,
		    sizeof(why)) == -1) {
			api_error(rep, 400, "invalid_field", "%s (loss term"
			    " \"%s\", %s)", why, t->name,
			    loss_type_name(t->spec.type));
			rc = 1;
			goto out;
		}
		v[i].metric = t->name;
		v[i].kind = METRIC_LOSS;
		v[i].value = loss_value(&t->spec, &acc[i]);
		v[i].stats = acc[i].s;
		v[i].nstats = acc[i].n;
		total += t->weight * v[i].value;
	}
	v[i].metric = "total";
	v[i].kind = METRIC_TOTAL;
	v[i].value = total;
	v[i].stats = NULL;
	v[i].nstats = 0;
	rc = store_values_put(api->store, run->row.id, b->split, b->step, v,
	    run->nterms + 1);

out:
	free(acc);
	return rc;
}

/* A write as the store's writer thread applies it. */
struct write_job {
	struct api		*api;
	struct run		*run;	/* id -1: to be created */
	char			 id[CODEC_NAME_MAX + 16];	/* "" or kind:id */
	char			 digest[24];
	int			(*write)(struct api *, const void *);
	const void		*arg;
	char			*text;	/* the reply; or an older one */
	struct api_reply	*rep;
	int			 refused;	/* rep holds an error */
	int			 gone;		/* the run read is not stored */
};

/* Creates the run of a job that was first seen in this request, or
 * checks that a known one is still there. */
static int
api_write_run(struct store *st, struct write_job *j)
{
	struct store_run	*row = &j->run->row;
	enum store_outcome	 outcome;
	int			 rc;

	/* The run was read before this transaction: it may have been
	 * deleted, or replaced, since. */
	if (row->id >= 0) {
		rc = store_run_same(st, row->name, row->id, row->losses);
		if (rc != STORE_NOTFOUND)
			return rc;
		api_error(j->rep, 409, "conflict", "run \"%s\" was deleted or"
		    " replaced while this request was handled; nothing was"
		    " written", row->name);
		j->refused = 1;
		j->gone = 1;
		return 1;
	}
	if (store_run_create(st, row->name, row->losses, row->params,
	    row->tags, &row->id, &outcome) != 0)
		return -1;
	if (outcome != STORE_CONFLICT)
		return 0;
	api_error(j->rep, 409, "conflict", "run \"%s\" was created by another"
	    " request meanwhile, with other losses", row->name);
	j->refused = 1;
	return 1;
}

static int
api_write_apply(struct store *st, void *arg)
{
	struct write_job	*j = arg;
	char			*prior;
	int			 rc;

	if ((rc = api_write_run(st, j)) != 0)
		return rc;
	if (*j->id != '\0') {
		rc = store_reply_get(st, j->run->row.id, j->id, j->digest,
		    &prior);
		if (rc == 0) {
			free(j->text);
			j->text = prior;
			return 0;
		}
		if (rc == STORE_CONFLICT_ID) {
			api_error(j->rep, 409, "conflict", "id \"%s\" was used"
			    " for another request to this run",
			    strchr(j->id, ':') + 1);
			j->refused = 1;
			return 1;
		}
		if (rc != STORE_NOTFOUND)
			return -1;
	}
	if ((rc = j->write(j->api, j->arg)) != 0) {
		j->refused = rc > 0;
		return rc;
	}
	if (*j->id != '\0' && store_reply_put(st, j->run->row.id, j->id,
	    j->digest, j->text) != 0)
		return -1;
	return 0;
}

/* A digest of the request's content (FNV-1a, 64 bits): a retry sends
 * the same bytes, another request under the same id does not. */
static void
api_digest(const struct api_request *req, char *out, size_t len)
{
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i, k;

#define MIX(p, n) do { \
	for (k = 0; k < (n); k++) \
		h = (h ^ ((const unsigned char *)(p))[k]) * \
		    1099511628211ULL; \
} while (0)
	if (req->parts == NULL)
		MIX(req->body, req->len);
	for (i = 0; req->parts != NULL && i < req->nparts; i++) {
		MIX(req->parts[i].name, strlen(req->parts[i].name) + 1);
		MIX(&req->parts[i].len, sizeof(req->parts[i].len));
		MIX(req->parts[i].data, req->parts[i].len);
	}
#undef MIX
	snprintf(out, len, "%016llx", (unsigned long long)h);
}

/*
 * Applies a write in one transaction and answers with doc, which it
 * deletes.  A request with an id that was answered before gets that
 * first reply again and writes nothing; otherwise the reply is kept
 * under the id in the same transaction as the write, which the
 * store's writer thread applies.  write returns 0, -1 when the store
 * failed, or 1 when it refused the request, having set an error reply.
 * Returns 1 when the run was read from the cache and is no longer the
 * stored one: the caller may try again, with the run the store holds.
 */
static int
api_write(struct api *api, const struct api_request *req, struct run *run,
    const char *id, int (*write)(struct api *, const void *),
    const void *arg, cJSON *doc, struct api_reply *rep)
{
	struct write_job	 j;
	int			 rc = -1;

	memset(&j, 0, sizeof(j));
	j.api = api;
	j.run = run;
	j.write = write;
	j.arg = arg;
	j.rep = rep;
	/* Ids of batches and of scalars are apart. */
	if (*id != '\0') {
		snprintf(j.id, sizeof(j.id), "%s:%s", req->seg[2], id);
		api_digest(req, j.digest, sizeof(j.digest));
	}
	j.text = codec_print(doc);
	cJSON_Delete(doc);
	if (j.text != NULL)
		rc = store_submit(api->store, api_write_apply, &j);
	if (j.gone)
		api_cache_drop(api->runs, run->row.name);
	if (rc != 0) {
		free(j.text);
		if (!j.refused)
			api_internal(rep);
		return j.gone && run->shared != NULL;
	}
	free(rep->body);
	rep->body = j.text;
	rep->status = 200;
	return 0;
}

/* What api_batch_write() adds to the store. */
struct batch_write {
	const struct run	*run;
	const struct batch_req	*b;
	const struct loss_stats	*stats;
	struct api_reply	*rep;
};

static int
api_batch_write(struct api *api, const void *arg)
{
	const struct batch_write	*w = arg;

	return api_accumulate(api, w->run, w->b, w->stats, w->rep);
}

/* The reply to a batch: the values of this batch alone. */
static cJSON *
api_batch_json(const char *name, const struct run *run,
    const struct batch_req *b, const struct loss_stats *batch)
{
	cJSON	*o = cJSON_CreateObject(), *losses;
	double	 v, total = 0;
	size_t	 i;

	cJSON_AddStringToObject(o, "run", name);
	cJSON_AddNumberToObject(o, "step", (double)b->step);
	cJSON_AddStringToObject(o, "split", b->split);
	losses = cJSON_AddObjectToObject(o, "losses");
	for (i = 0; i < run->nterms; i++) {
		v = loss_value(&run->terms[i].spec, &batch[i]);
		total += run->terms[i].weight * v;
		cJSON_AddItemToObject(losses, run->terms[i].name,
		    codec_number(v));
	}
	cJSON_AddItemToObject(o, "total", codec_number(total));
	return o;
}

/* The fields the terms of a run take, as bits 1 << field, and their
 * names in buf: "predictions, targets". */
static unsigned
api_run_fields(const struct run *run, char *buf, size_t len)
{
	const struct loss_input	*in;
	unsigned		 used = 0;
	size_t			 i, j, o = 0;
	int			 f;

	for (i = 0; i < run->nterms; i++)
		for (j = 0; (in = loss_input_info(run->terms[i].spec.type,
		    j)) != NULL; j++)
			used |= 1u << in->field;
	buf[0] = '\0';
	for (f = 0; f < LOSS_NFIELDS && o < len; f++)
		if (used & (1u << f))
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			    o ? ", " : "", loss_field_name(f));
	return used;
}

/*
 * Checks that a batch has every input array the terms of the run need
 * and none that no term takes.  Returns 0, or -1 with the reply set.
 */
static int
api_batch_inputs(const struct run *run, const struct batch_req *b,
    struct api_reply *rep)
{
	const struct loss_input	*in;
	const struct loss_term	*t;
	char			 fields[256];
	unsigned		 used;
	size_t			 i, j;
	int			 f;

	used = api_run_fields(run, fields, sizeof(fields));
	for (i = 0; i < run->nterms; i++) {
		t = &run->terms[i];
		for (j = 0; (in = loss_input_info(t->spec.type, j)) != NULL;
		    j++) {
			if (in->optional || b->inputs.t[in->field] != NULL)
				continue;
			api_error(rep, 400, "missing_field", "%s is missing"
			    " (loss term \"%s\", %s, takes %s)",
			    loss_field_name(in->field), t->name,
			    loss_type_name(t->spec.type), in->shape);
			return -1;
		}
	}
	for (f = 0; f < LOSS_NFIELDS; f++) {
		if (b->inputs.t[f] == NULL || (used & (1u << f)))
			continue;
		api_error(rep, 400, "invalid_field", "%s: no loss term of"
		    " this run takes it (they take %s)", loss_field_name(f),
		    fields);
		return -1;
	}
	return 0;
}

/* Posts a decoded batch to its run; 1 when the run had changed under a
 * cached copy of it, for api_batch_post() to try again. */
static int
api_batch_apply(struct api *api, const struct api_request *req,
    const struct batch_req *b, struct api_reply *rep)
{
	struct run		 run;
	struct loss_stats	*batch = NULL;
	struct batch_write	 ctx;
	char			 why[256];
	size_t			 i;
	int			 stale = 0;

	if (api_run_for_post(api, req->seg[1], &run, rep) == -1)
		return 0;
	if (api_batch_inputs(&run, b, rep) == -1)
		goto done;
	if ((batch = calloc(run.nterms, sizeof(*batch))) == NULL) {
		api_error(rep, 500, "internal", "out of memory");
		goto done;
	}
	/* The math runs before the store is locked. */
	for (i = 0; i < run.nterms; i++) {
		if (loss_batch(&run.terms[i].spec, &b->inputs, &batch[i], why,
		    sizeof(why)) == -1) {
			api_error(rep, 400, "invalid_field", "%s (loss term"
			    " \"%s\", %s)", why, run.terms[i].name,
			    loss_type_name(run.terms[i].spec.type));
			goto done;
		}
	}

	ctx.run = &run;
	ctx.b = b;
	ctx.stats = batch;
	ctx.rep = rep;
	stale = api_write(api, req, &run, b->id, api_batch_write, &ctx,
	    api_batch_json(req->seg[1], &run, b, batch), rep);

done:
	free(batch);
	api_run_free(&run);
	return stale;
}

static void
api_batch_post(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct codec_error	 err;
	struct batch_req	 b;
	int			 rc;

	rc = req->parts != NULL ?
	    codec_batch_parts(req->parts, req->nparts, &b, &err) :
	    codec_batch(req->body, req->len, &b, &err);
	if (rc == -1) {
		api_codec_error(rep, &err);
		return;
	}
	/* A run deleted or replaced behind the cache's back, by another
	 * process say, is read again once. */
	if (api_batch_apply(api, req, &b, rep))
		api_batch_apply(api, req, &b, rep);
	codec_batch_free(&b);
}

/* Checks that no scalar takes the name of a loss term or a metric of
 * another kind; -1 with the reply set. */
static int
api_scalar_names(struct api *api, const struct run *run,
    const struct scalars_req *s, struct api_reply *rep)
{
	enum metric_kind	 kind;
	size_t			 i, j;
	int			 rc;

	for (i = 0; i < s->n; i++) {
		for (j = 0; j < run->nterms; j++)
			if (strcmp(s->names[i], run->terms[j].name) == 0)
				goto taken;
		rc = store_metric_kind(api->store, run->row.id, s->names[i],
		    &kind);
		if (rc == 0 && kind != METRIC_SCALAR)
			goto taken;
		if (rc == -1) {
			api_internal(rep);
			return -1;
		}
	}
	return 0;

taken:
	api_error(rep, 409, "conflict", "values.%s: the name of a loss term"
	    " of this run", s->names[i]);
	return -1;
}

/* What api_scalars_write() adds to the store. */
struct scalars_write {
	const struct run	*run;
	const struct scalars_req *s;
};

/* Adds the scalars to the step; a repeated name keeps the mean. */
static int
api_scalars_write(struct api *api, const void *arg)
{
	const struct scalars_write	*w = arg;
	const struct scalars_req	*s = w->s;
	struct store_value		 v;
	double				 st[3], x;
	size_t				 i, n;
	int				 rc;

	for (i = 0; i < s->n; i++) {
		rc = store_stats_get(api->store, w->run->row.id, s->split,
		    s->step, s->names[i], st, 3, &n);
		if (rc == STORE_NOTFOUND)
			st[0] = st[1] = st[2] = 0;
		else if (rc != 0 || n != 3)
			return -1;
		/*
		 * The sum gives the mean exactly as the posts' arithmetic
		 * would; a running mean, which cannot overflow, stands in
		 * when finite posts overflow the sum.
		 */
		x = s->values[i];
		st[0] += x;
		st[1] += 1;
		st[2] = st[2] * ((st[1] - 1) / st[1]) + x / st[1];
		v.metric = s->names[i];
		v.kind = METRIC_SCALAR;
		v.value = isfinite(st[0]) ? st[0] / st[1] : st[2];
		v.stats = st;
		v.nstats = 3;
		if (store_values_put(api->store, w->run->row.id, s->split,
		    s->step, &v, 1) != 0)
			return -1;
	}
	return 0;
}

/* Posts decoded scalars to their run; 1 when the run had changed under
 * a cached copy of it, as api_batch_apply(). */
static int
api_scalars_apply(struct api *api, const struct api_request *req,
    const struct scalars_req *s, struct api_reply *rep)
{
	struct run		 run;
	struct scalars_write	 ctx;
	cJSON			*o, *vals;
	size_t			 i;
	int			 stale = 0;

	if (api_run_for_post(api, req->seg[1], &run, rep) == -1)
		return 0;
	if (api_scalar_names(api, &run, s, rep) == -1)
		goto done;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "run", req->seg[1]);
	cJSON_AddNumberToObject(o, "step", (double)s->step);
	cJSON_AddStringToObject(o, "split", s->split);
	vals = cJSON_AddObjectToObject(o, "values");
	for (i = 0; i < s->n; i++)
		cJSON_AddItemToObject(vals, s->names[i],
		    codec_number(s->values[i]));
	ctx.run = &run;
	ctx.s = s;
	stale = api_write(api, req, &run, s->id, api_scalars_write, &ctx, o,
	    rep);

done:
	api_run_free(&run);
	return stale;
}

static void
api_scalars_post(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct codec_error	 err;
	struct scalars_req	 s;

	if (codec_scalars(req->body, req->len, &s, &err) == -1) {
		api_codec_error(rep, &err);
		return;
	}
	if (api_scalars_apply(api, req, &s, rep))
		api_scalars_apply(api, req, &s, rep);
	codec_scalars_free(&s);
}

static int
api_metric_one(const struct store_metric *m, void *arg)
{
	static const char *const kinds[] = { "loss", "total", "scalar" };
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", m->name);
	cJSON_AddStringToObject(o, "split", m->split);
	cJSON_AddStringToObject(o, "kind", kinds[m->kind]);
	cJSON_AddNumberToObject(o, "points", (double)m->points);
	cJSON_AddNumberToObject(o, "first_step", (double)m->first_step);
	cJSON_AddNumberToObject(o, "last_step", (double)m->last_step);
	cJSON_AddItemToArray(arg, o);
	return 0;
}

static void
api_metrics_get(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct run	 run;
	cJSON		*o, *arr;

	if (api_run_load(api, req->seg[1], &run, rep) != 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "run", req->seg[1]);
	arr = cJSON_AddArrayToObject(o, "metrics");
	if (store_metric_list(api->store, run.row.id, api_metric_one, arr)
	    != 0) {
		cJSON_Delete(o);
		api_internal(rep);
	} else
		api_json(rep, 200, o);
	api_run_free(&run);
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	char	*p;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if ((p = realloc(b->s, b->cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = p;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Appends a JSON string; s is a checked name or JSON-safe text. */
static void
buf_json_string(struct buf *b, const char *s)
{
	cJSON	*str = cJSON_CreateString(s);
	char	*text = cJSON_PrintUnformatted(str);

	if (text == NULL)
		b->oom = 1;
	else
		buf_add(b, text, strlen(text));
	cJSON_free(text);
	cJSON_Delete(str);
}

/* Writes a number the way codec_number() does; returns its length. */
static size_t
api_number_text(double v, char *out, size_t len)
{
	if (isnan(v))
		snprintf(out, len, "\"NaN\"");
	else if (isinf(v))
		snprintf(out, len, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		codec_format(v, out, len);
	return strlen(out);
}

/* Writes a point of history, "[step,value,time]", preceded by a comma
 * unless it is the first; returns its length. */
static size_t
api_point_text(const struct point *p, int first, char *out, size_t len)
{
	size_t	 o;

	o = (size_t)snprintf(out, len, "%s[%lld,", first ? "" : ",",
	    (long long)p->step);
	o += api_number_text(p->value, out + o, len - o);
	out[o++] = ',';
	o += api_number_text(p->time, out + o, len - o);
	out[o++] = ']';
	out[o] = '\0';
	return o;
}

/* The start of a history reply, up to the opening of its points. */
static void
api_history_head(struct buf *b, const char *run, const char *metric,
    const char *split)
{
	buf_add(b, "{\"run\":", 7);
	buf_json_string(b, run);
	buf_add(b, ",\"metric\":", 10);
	buf_json_string(b, metric);
	buf_add(b, ",\"split\":", 9);
	buf_json_string(b, split);
	buf_add(b, ",\"points\":[", 11);
}

/* A downsampled history reply, written in memory. */
static char *
api_history_json(const char *run, const char *metric, const char *split,
    const struct point *pts, size_t n)
{
	struct buf	 b = { NULL, 0, 0, 0 };
	char		 line[POINT_TEXT];
	size_t		 i;

	api_history_head(&b, run, metric, split);
	for (i = 0; i < n; i++)
		buf_add(&b, line, api_point_text(&pts[i], i == 0, line,
		    sizeof(line)));
	buf_add(&b, "]}", 2);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static void
api_no_metric(struct api_reply *rep, const char *run, const char *metric,
    const char *split)
{
	api_error(rep, 404, "not_found", "run \"%s\" has no metric \"%s\""
	    " on split \"%s\"", run, metric, split);
}

/* A full history reply, written as it is sent: a point at a time from
 * a cursor, so that a million points take no more memory than one. */
struct export {
	struct store_cursor	*cur;
	struct buf		 head;
	const char		*pend;		/* text not yet handed out */
	size_t			 pend_len;
	char			 line[POINT_TEXT];
	int			 points, ended;
};

static long
api_export_read(void *arg, char *out, size_t max)
{
	struct export	*e = arg;
	struct point	 p;
	size_t		 o = 0, k;
	int		 rc;

	while (o < max) {
		if (e->pend_len > 0) {
			k = e->pend_len < max - o ? e->pend_len : max - o;
			memcpy(out + o, e->pend, k);
			e->pend += k;
			e->pend_len -= k;
			o += k;
			continue;
		}
		if (e->ended)
			break;
		if ((rc = store_cursor_next(e->cur, &p)) == -1)
			return -1;
		if (rc == 0) {
			e->pend = "]}";
			e->pend_len = 2;
			e->ended = 1;
			continue;
		}
		e->pend = e->line;
		e->pend_len = api_point_text(&p, e->points++ == 0, e->line,
		    sizeof(e->line));
	}
	return (long)o;
}

static void
api_export_free(void *arg)
{
	struct export	*e = arg;

	store_cursor_close(e->cur);
	free(e->head.s);
	free(e);
}

/* Answers with every point of a metric in [from, to], streamed. */
static void
api_history_stream(struct api *api, const struct run *run,
    const char *metric, const char *split, int64_t from, int64_t to,
    struct api_reply *rep)
{
	struct export	*e;
	int		 rc;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		api_internal(rep);
		return;
	}
	rc = store_cursor_open(api->store, run->row.id, metric, split, from,
	    to, &e->cur);
	api_history_head(&e->head, run->row.name, metric, split);
	if (rc != 0 || e->head.oom) {
		if (rc == STORE_NOTFOUND)
			api_no_metric(rep, run->row.name, metric, split);
		else
			api_internal(rep);
		api_export_free(e);
		return;
	}
	e->pend = e->head.s;
	e->pend_len = e->head.len;
	free(rep->body);
	rep->body = NULL;
	rep->status = 200;
	rep->stream = api_export_read;
	rep->stream_arg = e;
	rep->stream_free = api_export_free;
}

/* Reads an optional integer query argument; -1 with the reply set. */
static int
api_int_arg(const struct api_request *req, const char *name, int64_t def,
    int64_t *out, struct api_reply *rep)
{
	struct codec_error	 err;
	const char		*s = req->arg(req->arg_ctx, name);

	*out = def;
	if (s == NULL)
		return 0;
	if (codec_step_text(s, name, out, &err) == -1) {
		api_codec_error(rep, &err);
		return -1;
	}
	return 0;
}

/*
 * The points of a downsampled history of at most max points, in a new
 * array the caller frees: every point when there are no more than max
 * in [from, to], else the points the buckets of the store's summaries
 * keep.  Returns as store_blocks_open(), or -1 when out of memory.
 */
static int
api_history_sample(struct api *api, int64_t run, const char *metric,
    const char *split, int64_t from, int64_t to, size_t max,
    struct point **pts, size_t *n)
{
	struct store_blocks	*cur;
	struct downsampler	 d;
	struct summary		 s;
	size_t			 nblocks;
	int64_t			 npoints;
	int			 rc;

	*pts = NULL;
	*n = 0;
	rc = store_blocks_open(api->store, run, metric, split, from, to,
	    downsample_buckets(max), &cur, &nblocks, &npoints);
	if (rc != 0)
		return rc;
	if (npoints <= (int64_t)max) {
		store_blocks_close(cur);
		rc = store_history(api->store, run, metric, split, from, to,
		    pts, n);
		/* Points may have come since the count. */
		if (rc == 0)
			*n = downsample(*pts, *n, max);
		return rc;
	}
	if ((*pts = calloc(max, sizeof(**pts))) == NULL) {
		store_blocks_close(cur);
		return -1;
	}
	downsample_begin(&d, nblocks, max, *pts);
	while ((rc = store_blocks_next(cur, &s)) == 1)
		downsample_add(&d, &s);
	store_blocks_close(cur);
	if (rc == -1) {
		free(*pts);
		*pts = NULL;
		return -1;
	}
	*n = downsample_end(&d);
	return 0;
}

static void
api_history_get(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct codec_error	 err;
	struct run		 run;
	struct point		*pts = NULL;
	const char		*metric = req->arg(req->arg_ctx, "metric");
	const char		*split = req->arg(req->arg_ctx, "split");
	int64_t			 from, to, max;
	size_t			 n;
	int			 rc;

	if (split == NULL)
		split = "train";
	if (metric == NULL) {
		api_error(rep, 400, "missing_field", "metric is missing (a"
		    " query argument: ?metric=total)");
		return;
	}
	if (codec_check_name(metric, "metric", &err) == -1 ||
	    codec_check_name(split, "split", &err) == -1) {
		api_codec_error(rep, &err);
		return;
	}
	if (api_int_arg(req, "from", 0, &from, rep) == -1 ||
	    api_int_arg(req, "to", (int64_t)CODEC_STEP_MAX, &to, rep) == -1 ||
	    api_int_arg(req, "max_points", 0, &max, rep) == -1)
		return;
	/* Each bucket keeps up to 5 points: fewer than 5 cannot be met. */
	if (max > HISTORY_MAX_POINTS || (max > 0 && max < 5)) {
		api_error(rep, 400, "invalid_field", "max_points must be 0"
		    " (every point) or from 5 to %d", HISTORY_MAX_POINTS);
		return;
	}
	if (api_run_load(api, req->seg[1], &run, rep) != 0)
		return;
	if (max == 0) {
		api_history_stream(api, &run, metric, split, from, to, rep);
		api_run_free(&run);
		return;
	}
	rc = api_history_sample(api, run.row.id, metric, split, from, to,
	    (size_t)max, &pts, &n);
	if (rc == STORE_NOTFOUND)
		api_no_metric(rep, req->seg[1], metric, split);
	else if (rc != 0)
		api_internal(rep);
	else {
		free(rep->body);
		rep->body = api_history_json(req->seg[1], metric, split, pts,
		    n);
		rep->status = 200;
		if (rep->body == NULL)
			api_error(rep, 500, "internal", "out of memory");
	}
	free(pts);
	api_run_free(&run);
}

/* GET /losses: the catalogue of loss types, from the engine's tables
 * (the README's table is written from the same). */
static void
api_losses_get(struct api_reply *rep, const char *method)
{
	if (strcmp(method, "GET") != 0) {
		rep->allow = "GET";
		api_error(rep, 405, "method_not_allowed", "%s is not allowed"
		    " here (allowed: GET)", method);
		return;
	}
	api_json(rep, 200, codec_losses_json());
}

typedef void (*api_handler)(struct api *, const struct api_request *,
    struct api_reply *);

/* What a route reads of the request's body. */
enum route_body { BODY_NONE, BODY_JSON, BODY_FORM };	/* form or JSON */

struct route {
	const char	*method;
	size_t		 nseg;
	const char	*last;		/* the last segment, or NULL for any */
	api_handler	 fn;
	enum route_body	 body;
};

static const struct route routes[] = {
	{ "GET", 1, "runs", api_run_list, BODY_NONE },
	{ "GET", 2, NULL, api_run_get, BODY_NONE },
	{ "PUT", 2, NULL, api_run_put, BODY_JSON },
	{ "DELETE", 2, NULL, api_run_delete, BODY_NONE },
	{ "POST", 3, "batches", api_batch_post, BODY_FORM },
	{ "POST", 3, "scalars", api_scalars_post, BODY_JSON },
	{ "GET", 3, "metrics", api_metrics_get, BODY_NONE },
	{ "GET", 3, "history", api_history_get, BODY_NONE },
};

static const char *const allows[] = {
	[1] = "GET", [2] = "GET, PUT, DELETE",
};

void
api_handle(struct api *api, const struct api_request *req,
    struct api_reply *rep)
{
	struct codec_error	 err;
	const struct route	*r;
	const char		*method = req->method;
	size_t			 i;
	int			 path = 0;

	memset(rep, 0, sizeof(*rep));
	/* HEAD is a GET whose body the server leaves out. */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	if (req->nseg == 1 && strcmp(req->seg[0], "losses") == 0) {
		api_losses_get(rep, method);
		return;
	}
	if (req->nseg < 1 || req->nseg > 3 || strcmp(req->seg[0], "runs"))
		goto notfound;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		if (r->nseg != req->nseg || (r->last != NULL &&
		    strcmp(r->last, req->seg[req->nseg - 1]) != 0))
			continue;
		path = 1;
		if (strcmp(r->method, method) != 0)
			continue;
		if (req->nseg > 1 && codec_check_name(req->seg[1], "run name",
		    &err) == -1) {
			api_codec_error(rep, &err);
			return;
		}
		if (req->parts != NULL && r->body == BODY_JSON) {
			api_error(rep, 415, "unsupported_media_type", "%s here"
			    " takes a JSON body, not multipart/form-data (which"
			    " only POST /runs/NAME/batches takes)", req->method);
			return;
		}
		r->fn(api, req, rep);
		return;
	}
	if (path) {
		rep->allow = req->nseg < 3 ? allows[req->nseg] :
		    strcmp(req->seg[2], "batches") == 0 ||
		    strcmp(req->seg[2], "scalars") == 0 ? "POST" : "GET";
		api_error(rep, 405, "method_not_allowed", "%s is not allowed"
		    " here (allowed: %s)", req->method, rep->allow);
		return;
	}

notfound:
	api_error(rep, 404, "not_found", "no such API endpoint");
}
