/*
 * Unit tests of the loss engine: every case of tests/reference.json and
 * tests/reference_catalogue.json (values computed by PyTorch, see
 * tests/gen_reference.py) batch by batch and accumulated, then the
 * checks on bad input, the parameter tables and the edge cases.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loss.h"
#include "check_run.h"

#define REFERENCE	TOP_SRCDIR "/tests/reference.json"
#define CATALOGUE	TOP_SRCDIR "/tests/reference_catalogue.json"
#define REL_TOL		1e-9
#define MAX_LIST	64	/* values of a list parameter in a case */

/* An input decoded from the reference file. */
struct array {
	double		*data;
	struct tensor	 t;
};

/* What the reference test has seen so far. */
struct tally {
	int	 cases;
	int	 failed;
	int	 seen[LOSS_NTYPES];
	double	 maxrel;
	char	 maxname[160];
};

/* A spec decoded from a case, with room for its list. */
struct case_spec {
	struct loss_spec	 spec;
	double			 list[MAX_LIST];
};

/* Reads a whole file; NULL when it cannot.  The caller frees. */
static char *
read_file(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	long	 len;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1)
		goto out;
	if ((buf = malloc((size_t)len + 1)) == NULL)
		goto out;
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[len] = '\0';
out:
	fclose(f);
	return buf;
}

/* A number, or one of the strings that stand for non-finite ones. */
static int
json_double(const cJSON *j, double *out)
{
	if (cJSON_IsNumber(j)) {
		*out = j->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(j))
		return -1;
	if (strcmp(j->valuestring, "NaN") == 0)
		*out = NAN;
	else if (strcmp(j->valuestring, "Infinity") == 0)
		*out = INFINITY;
	else if (strcmp(j->valuestring, "-Infinity") == 0)
		*out = -INFINITY;
	else
		return -1;
	return 0;
}

/* Fills data in row-major order, checking that the nesting is regular. */
static int
array_fill(const cJSON *j, const struct tensor *t, int depth, double *data,
    size_t *pos)
{
	const cJSON	*e;

	if (depth == t->ndim)
		return json_double(j, &data[(*pos)++]);
	if (!cJSON_IsArray(j) ||
	    (size_t)cJSON_GetArraySize(j) != t->shape[depth])
		return -1;
	cJSON_ArrayForEach(e, j) {
		if (array_fill(e, t, depth + 1, data, pos) == -1)
			return -1;
	}
	return 0;
}

/* Decodes nested arrays; the shape comes from the first elements. */
static int
array_decode(const cJSON *j, struct array *a)
{
	const cJSON	*e = j;
	size_t		 pos = 0;

	memset(a, 0, sizeof(*a));
	a->t.n = 1;
	while (cJSON_IsArray(e)) {
		if (a->t.ndim == LOSS_MAX_DIMS)
			return -1;
		a->t.shape[a->t.ndim++] = (size_t)cJSON_GetArraySize(e);
		a->t.n *= a->t.shape[a->t.ndim - 1];
		e = e->child;
	}
	if ((a->data = calloc(a->t.n + 1, sizeof(double))) == NULL)
		return -1;
	a->t.data = a->data;
	return array_fill(j, &a->t, 0, a->data, &pos);
}

/* Compares within REL_TOL; non-finite values must match in kind. */
static int
close_enough(double got, double want, double *rel)
{
	*rel = 0.0;
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	if (!isfinite(got))
		return 0;
	if (want == 0.0)
		return got == 0.0;
	*rel = fabs(got - want) / fabs(want);
	return *rel <= REL_TOL;
}

/* Compares one value, reporting a mismatch under the case's name. */
static int
check_value(const char *name, const char *what, double got,
    const cJSON *jwant, struct tally *tl)
{
	double	 want, rel;

	if (json_double(jwant, &want) == -1) {
		printf("FAIL %s: %s: no expected value\n", name, what);
		return -1;
	}
	if (!close_enough(got, want, &rel)) {
		printf("FAIL %s: %s: got %.17g, expected %.17g\n", name, what,
		    got, want);
		return -1;
	}
	if (rel > tl->maxrel) {
		tl->maxrel = rel;
		snprintf(tl->maxname, sizeof(tl->maxname), "%s (%s)", name,
		    what);
	}
	return 0;
}

/* The value of one parameter from its JSON: a number, true or false,
 * a word, or a list. */
static int
param_value(const cJSON *p, size_t i, struct case_spec *cs)
{
	const struct loss_param	*info = loss_param_info(cs->spec.type, i);
	const cJSON		*v;
	size_t			 w, n = 0;

	if (cJSON_IsBool(p) && info->kind == LOSS_PARAM_BOOLEAN) {
		cs->spec.params[i] = cJSON_IsTrue(p);
		return 0;
	}
	if (cJSON_IsString(p) && info->kind == LOSS_PARAM_WORD) {
		for (w = 0; info->words[w] != NULL; w++)
			if (strcmp(info->words[w], p->valuestring) == 0)
				break;
		cs->spec.params[i] = (double)w;
	} else if (cJSON_IsArray(p)) {
		cJSON_ArrayForEach(v, p) {
			if (n == MAX_LIST || !cJSON_IsNumber(v) ||
			    loss_param_check(cs->spec.type, i, v->valuedouble,
			    NULL, 0) == -1)
				return -1;
			cs->list[n++] = v->valuedouble;
		}
		cs->spec.list = cs->list;
		cs->spec.nlist = n;
		return n > 0 ? 0 : -1;
	} else if (cJSON_IsNumber(p))
		cs->spec.params[i] = p->valuedouble;
	else
		return -1;
	return loss_param_check(cs->spec.type, i, cs->spec.params[i], NULL,
	    0);
}

/* The spec of a case: its type, and its params over the defaults. */
static int
case_spec(const char *name, const cJSON *c, struct case_spec *cs)
{
	const cJSON	*type, *params, *p;
	enum loss_type	 t;
	size_t		 i;

	type = cJSON_GetObjectItemCaseSensitive(c, "type");
	if (!cJSON_IsString(type) ||
	    loss_type_lookup(type->valuestring, &t) == -1) {
		printf("FAIL %s: unknown type\n", name);
		return -1;
	}
	loss_spec_default(&cs->spec, t);
	params = cJSON_GetObjectItemCaseSensitive(c, "params");
	cJSON_ArrayForEach(p, params) {
		if (loss_param_lookup(t, p->string, &i) == -1 ||
		    param_value(p, i, cs) == -1) {
			printf("FAIL %s: bad parameter %s\n", name, p->string);
			return -1;
		}
	}
	return 0;
}

/* Computes the statistics of one batch and checks its own value. */
static int
run_batch(const char *name, int k, const struct loss_spec *spec,
    const cJSON *b, struct loss_stats *acc, struct tally *tl)
{
	struct array		 in[LOSS_NFIELDS];
	struct loss_inputs	 inputs;
	struct loss_stats	*st;
	const cJSON		*field;
	enum loss_field		 f;
	char			 err[256], what[32];
	int			 i, rc = -1;

	memset(in, 0, sizeof(in));
	memset(&inputs, 0, sizeof(inputs));
	snprintf(what, sizeof(what), "batch %d", k);
	if ((st = malloc(sizeof(*st))) == NULL)
		return -1;
	cJSON_ArrayForEach(field, b) {
		if (loss_field_lookup(field->string, &f) == -1)
			continue;
		if (array_decode(field, &in[f]) == -1) {
			printf("FAIL %s: %s: malformed %s\n", name, what,
			    field->string);
			goto out;
		}
		inputs.t[f] = &in[f].t;
	}
	if (loss_batch(spec, &inputs, st, err, sizeof(err)) == -1) {
		printf("FAIL %s: %s: %s\n", name, what, err);
		goto out;
	}
	rc = check_value(name, what, loss_value(spec, st),
	    cJSON_GetObjectItemCaseSensitive(b, "expected"), tl);
	if (loss_stats_add(spec, acc, st, err, sizeof(err)) == -1) {
		printf("FAIL %s: %s: %s\n", name, what, err);
		rc = -1;
	}
out:
	for (i = 0; i < LOSS_NFIELDS; i++)
		free(in[i].data);
	free(st);
	return rc;
}

/* Runs one case: each batch alone, then all of them accumulated. */
static int
run_case(const cJSON *c, struct tally *tl)
{
	const cJSON		*jname, *batches, *b;
	const char		*name = "(unnamed)";
	struct case_spec	 cs;
	struct loss_stats	*acc;
	int			 k = 0, rc = 0;

	jname = cJSON_GetObjectItemCaseSensitive(c, "name");
	if (cJSON_IsString(jname))
		name = jname->valuestring;
	if (case_spec(name, c, &cs) == -1)
		return -1;
	tl->seen[cs.spec.type]++;

	batches = cJSON_GetObjectItemCaseSensitive(c, "batches");
	if (cJSON_GetArraySize(batches) < 1) {
		printf("FAIL %s: no batches\n", name);
		return -1;
	}
	if ((acc = calloc(1, sizeof(*acc))) == NULL)
		return -1;
	cJSON_ArrayForEach(b, batches) {
		if (run_batch(name, k++, &cs.spec, b, acc, tl) == -1)
			rc = -1;
	}
	if (check_value(name, "accumulated", loss_value(&cs.spec, acc),
	    cJSON_GetObjectItemCaseSensitive(c, "expected"), tl) == -1)
		rc = -1;
	free(acc);
	return rc;
}

/* Runs every case of a reference file. */
static void
run_file(const char *path, struct tally *tl)
{
	cJSON	*root, *cases, *c;
	char	*text;

	text = read_file(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	root = cJSON_Parse(text);
	free(text);
	ck_assert_msg(root != NULL, "%s is not JSON", path);
	cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
	ck_assert_msg(cJSON_GetArraySize(cases) > 0, "%s has no cases",
	    path);
	cJSON_ArrayForEach(c, cases) {
		tl->cases++;
		if (run_case(c, tl) == -1)
			tl->failed++;
	}
	cJSON_Delete(root);
}

START_TEST(test_reference)
{
	struct tally	 tl;
	int		 i;

	memset(&tl, 0, sizeof(tl));
	run_file(REFERENCE, &tl);
	run_file(CATALOGUE, &tl);

	printf("reference: %d cases, largest relative error %.3g in %s\n",
	    tl.cases, tl.maxrel, tl.maxname);
	for (i = 0; i < LOSS_NTYPES; i++)
		printf("reference: %3d cases of %s\n", tl.seen[i],
		    loss_type_name(i));
	/* A failed assertion ends this forked child without flushing. */
	fflush(stdout);
	for (i = 0; i < LOSS_NTYPES; i++)
		ck_assert_msg(tl.seen[i] > 0, "no reference case of %s",
		    loss_type_name(i));
	ck_assert_msg(tl.failed == 0, "%d of %d reference cases failed",
	    tl.failed, tl.cases);
}
END_TEST

/* A tensor of up to three dimensions over data. */
static struct tensor
tens(const double *data, int ndim, size_t d0, size_t d1, size_t d2)
{
	struct tensor	 t;
	size_t		 dims[3] = { d0, d1, d2 };
	int		 i;

	memset(&t, 0, sizeof(t));
	t.data = data;
	t.ndim = ndim;
	t.n = 1;
	for (i = 0; i < ndim; i++) {
		t.shape[i] = dims[i];
		t.n *= dims[i];
	}
	return t;
}

/* The inputs of a batch of predictions and targets. */
static struct loss_inputs
inputs2(const struct tensor *p, const struct tensor *t)
{
	struct loss_inputs	 in;

	memset(&in, 0, sizeof(in));
	in.t[LOSS_PREDICTIONS] = p;
	in.t[LOSS_TARGETS] = t;
	return in;
}

/* Statistics are large; the tests of one process share these. */
static struct loss_stats	 st1, st2;

/* Asserts that a batch is refused with a message containing want, and
 * that the statistics are left alone. */
static void
expect_fail(const struct loss_spec *spec, const struct loss_inputs *in,
    const char *want)
{
	char	 err[256] = "";

	st1.n = 7;
	st1.s[0] = 42.0;
	ck_assert_int_eq(loss_batch(spec, in, &st1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, want) != NULL,
	    "%s: error \"%s\" lacks \"%s\"", loss_type_name(spec->type), err,
	    want);
	ck_assert(st1.n == 7 && st1.s[0] == 42.0);
}

/* The value of a batch that must be accepted; its statistics in st1. */
static double
expect_ok(const struct loss_spec *spec, const struct loss_inputs *in)
{
	char	 err[256] = "";

	ck_assert_msg(loss_batch(spec, in, &st1, err, sizeof(err)) == 0,
	    "%s refused: %s", loss_type_name(spec->type), err);
	return loss_value(spec, &st1);
}

static void
expect_error(enum loss_type type, struct tensor p, struct tensor t,
    const char *want)
{
	struct loss_spec	 spec;
	struct loss_inputs	 in = inputs2(&p, &t);

	loss_spec_default(&spec, type);
	expect_fail(&spec, &in, want);
}

static double
accept(enum loss_type type, struct tensor p, struct tensor t)
{
	struct loss_spec	 spec;
	struct loss_inputs	 in = inputs2(&p, &t);

	loss_spec_default(&spec, type);
	return expect_ok(&spec, &in);
}

/* A spec of type with parameter name set to v. */
static struct loss_spec
with(enum loss_type type, const char *name, double v)
{
	struct loss_spec	 spec;
	size_t			 i;

	loss_spec_default(&spec, type);
	ck_assert_int_eq(loss_param_lookup(type, name, &i), 0);
	spec.params[i] = v;
	return spec;
}

static const double	 zeros[256];	/* more than any test reads */
static const double	 halves[8] = { .5, .5, .5, .5, .5, .5, .5, .5 };

START_TEST(test_shape_mismatch)
{
	enum loss_type	 types[] = { LOSS_MSE, LOSS_MAE, LOSS_HUBER,
	    LOSS_BCE, LOSS_DICE };
	size_t		 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		expect_error(types[i], tens(halves, 2, 3, 4, 0),
		    tens(zeros, 2, 3, 5, 0),
		    "targets has shape [3][5] but predictions has shape "
		    "[3][4]");
		/* Same number of values: still never reshaped. */
		expect_error(types[i], tens(zeros, 1, 12, 0, 0),
		    tens(zeros, 2, 3, 4, 0),
		    "targets has shape [3][4] but predictions has shape "
		    "[12]");
		expect_error(types[i], tens(zeros, 2, 2, 3, 0),
		    tens(zeros, 2, 3, 2, 0), "targets has shape [3][2]");
		expect_error(types[i], tens(zeros, 1, 1, 0, 0),
		    tens(zeros, 0, 0, 0, 0),
		    "targets is a scalar but predictions has shape [1]");
		/* Not broadcast either. */
		expect_error(types[i], tens(zeros, 2, 3, 4, 0),
		    tens(zeros, 2, 1, 4, 0),
		    "targets has shape [1][4] but predictions has shape "
		    "[3][4]");
	}
}
END_TEST

START_TEST(test_rows)
{
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 3, 2, 0),
	    tens(zeros, 1, 4, 0, 0),
	    "targets has 4 rows but predictions has 3");
	expect_error(LOSS_FOCAL, tens(zeros, 2, 3, 2, 0),
	    tens(zeros, 1, 2, 0, 0),
	    "targets has 2 rows but predictions has 3");
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 3, 2, 2),
	    tens(zeros, 1, 2, 0, 0),
	    "targets has 2 rows but predictions has 3");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 1, 4, 0, 0),
	    tens(zeros, 1, 4, 0, 0),
	    "predictions has shape [4] but cross_entropy needs logits");
	expect_error(LOSS_FOCAL, tens(zeros, 3, 2, 2, 2),
	    tens(zeros, 1, 2, 0, 0),
	    "predictions has shape [2][2][2] but focal needs logits");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 3, 2, 0),
	    tens(zeros, 2, 3, 1, 0), "targets has shape [3][1] but");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 1, 2, 0),
	    tens(zeros, 0, 0, 0, 0), "targets is a scalar but");
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 2, 3, 2),
	    tens(zeros, 1, 2, 0, 0),
	    "predictions has shape [2][3][2] but contrastive needs pairs");
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 2, 2, 2, 0),
	    tens(zeros, 1, 2, 0, 0),
	    "predictions has shape [2][2] but contrastive needs pairs");
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 2, 2, 2),
	    tens(zeros, 2, 2, 1, 0), "targets has shape [2][1] but");
}
END_TEST

START_TEST(test_bce_range)
{
	double	 p[6] = { 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 };
	double	 t[6] = { 0, 0, 0, 1, 0, 1 };

	p[3] = 1.5;
	expect_error(LOSS_BCE, tens(p, 2, 3, 2, 0), tens(t, 2, 3, 2, 0),
	    "predictions[1][1] is 1.5, outside [0,1]");
	p[3] = -0.25;
	expect_error(LOSS_BCE, tens(p, 1, 6, 0, 0), tens(t, 1, 6, 0, 0),
	    "predictions[3] is -0.25, outside [0,1]");
	p[3] = INFINITY;
	expect_error(LOSS_BCE, tens(p, 1, 6, 0, 0), tens(t, 1, 6, 0, 0),
	    "predictions[3] is Infinity, outside [0,1]");
	p[3] = 0.5;
	t[5] = 2.0;
	expect_error(LOSS_BCE, tens(p, 3, 1, 2, 3), tens(t, 3, 1, 2, 3),
	    "targets[0][1][2] is 2, outside [0,1]");
	t[5] = -INFINITY;
	expect_error(LOSS_BCE, tens(p, 1, 6, 0, 0), tens(t, 1, 6, 0, 0),
	    "targets[5] is -Infinity, outside [0,1]");

	/* The ends of [0,1] are allowed, and NaN is unknown, not wrong. */
	t[5] = 1.0;
	p[0] = 0.0;
	p[1] = 1.0;
	ck_assert(isfinite(accept(LOSS_BCE, tens(p, 1, 6, 0, 0),
	    tens(t, 1, 6, 0, 0))));
	p[2] = NAN;
	ck_assert(isnan(accept(LOSS_BCE, tens(p, 1, 6, 0, 0),
	    tens(t, 1, 6, 0, 0))));
}
END_TEST

START_TEST(test_classes)
{
	double	 y[8] = { 0, 1, 2, 3, 4, 5, 6, 12 };

	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0),
	    "targets[7] is 12 but predictions has 10 classes");
	expect_error(LOSS_FOCAL, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0),
	    "targets[7] is 12 but predictions has 10 classes");
	y[7] = 10;
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0),
	    "targets[7] is 10 but predictions has 10 classes");
	y[7] = 7;
	y[1] = -1;
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0),
	    "targets[1] is -1 but predictions has 10 classes");
	y[1] = 1;
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 2, 1, 0),
	    tens(y, 1, 2, 0, 0),
	    "targets[1] is 1 but predictions has 1 class");
	y[2] = 2.5;
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0),
	    "targets[2] is 2.5, not an integral class index");
	y[2] = NAN;
	expect_error(LOSS_FOCAL, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0), "targets[2] is NaN, not a class index");
	y[2] = INFINITY;
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 8, 10, 0),
	    tens(y, 1, 8, 0, 0),
	    "targets[2] is Infinity but predictions has 10 classes");
	y[2] = 2;

	/* In range: accepted, and NaN logits only make the loss NaN. */
	ck_assert(isfinite(accept(LOSS_CROSS_ENTROPY,
	    tens(zeros, 2, 8, 10, 0), tens(y, 1, 8, 0, 0))));
	ck_assert(isnan(accept(LOSS_FOCAL, tens((double[]){ NAN, 0.0 }, 2,
	    1, 2, 0), tens(y, 1, 1, 0, 0))));
}
END_TEST

START_TEST(test_labels)
{
	double	 y[3] = { 0, 0.5, 1 };
	double	 t[4] = { 0, 1, 1, 0.5 };

	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 3, 2, 2),
	    tens(y, 1, 3, 0, 0), "targets[1] is 0.5, not 0 or 1");
	y[1] = NAN;
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 3, 2, 2),
	    tens(y, 1, 3, 0, 0), "targets[1] is NaN, not 0 or 1");
	y[1] = 1;
	y[2] = 2;
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 3, 2, 2),
	    tens(y, 1, 3, 0, 0), "targets[2] is 2, not 0 or 1");
	y[2] = -0.0;
	ck_assert(isfinite(accept(LOSS_CONTRASTIVE, tens(zeros, 3, 3, 2, 2),
	    tens(y, 1, 3, 0, 0))));

	expect_error(LOSS_DICE, tens(zeros, 2, 2, 2, 0), tens(t, 2, 2, 2, 0),
	    "targets[1][1] is 0.5, not 0 or 1");
	t[3] = NAN;
	expect_error(LOSS_DICE, tens(zeros, 1, 4, 0, 0), tens(t, 1, 4, 0, 0),
	    "targets[3] is NaN, not 0 or 1");
	t[3] = 1;
	ck_assert(isfinite(accept(LOSS_DICE, tens(zeros, 1, 4, 0, 0),
	    tens(t, 1, 4, 0, 0))));
}
END_TEST

START_TEST(test_malformed_tensor)
{
	struct tensor	 p = tens(zeros, 2, 2, 3, 0);

	p.n = 5;
	expect_error(LOSS_MSE, p, tens(zeros, 2, 2, 3, 0),
	    "predictions has 5 values, not the 6 of its shape");
	p = tens(zeros, 1, 2, 0, 0);
	p.ndim = LOSS_MAX_DIMS + 1;
	expect_error(LOSS_MAE, tens(zeros, 1, 2, 0, 0), p,
	    "targets has 9 dimensions");
	p = tens(NULL, 1, 2, 0, 0);
	expect_error(LOSS_MAE, p, tens(zeros, 1, 2, 0, 0),
	    "predictions has no data");
}
END_TEST

/* Checks one parameter value; want is NULL when it must be allowed. */
static void
expect_param(enum loss_type t, size_t i, double v, const char *want)
{
	char	 err[128] = "";
	int	 rc;

	rc = loss_param_check(t, i, v, err, sizeof(err));
	if (want == NULL) {
		ck_assert_msg(rc == 0, "%s param %zu = %g refused: %s",
		    loss_type_name(t), i, v, err);
		return;
	}
	ck_assert_msg(rc == -1, "%s param %zu = %g allowed",
	    loss_type_name(t), i, v);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"", err,
	    want);
}

START_TEST(test_param_bounds)
{
	expect_param(LOSS_HUBER, 0, 0.0, "must be greater than 0");
	expect_param(LOSS_HUBER, 0, -1.0, "must be greater than 0");
	expect_param(LOSS_HUBER, 0, 1e-300, NULL);
	expect_param(LOSS_HUBER, 0, NAN, "must be a finite number");
	expect_param(LOSS_HUBER, 0, INFINITY, "must be a finite number");
	expect_param(LOSS_HUBER, 1, 1.0, "not a parameter");
	expect_param(LOSS_MSE, 0, 1.0, "not a parameter");
	expect_param(LOSS_FOCAL, 0, 0.0, NULL);
	expect_param(LOSS_FOCAL, 0, -0.5, "must be at least 0");
	expect_param(LOSS_FOCAL, 1, 0.0, NULL);
	expect_param(LOSS_FOCAL, 1, -1.0, "must be at least 0");
	expect_param(LOSS_FOCAL, 1, -INFINITY, "must be a finite number");
	expect_param(LOSS_CONTRASTIVE, 0, 0.0, NULL);
	expect_param(LOSS_CONTRASTIVE, 0, -1e-9, "must be at least 0");
	expect_param(LOSS_DICE, 0, 0.0, NULL);
	expect_param(LOSS_DICE, 0, -2.0, "must be at least 0");
	expect_param(LOSS_DICE, 0, NAN, "must be a finite number");
}
END_TEST

/* Bounds of the parameters that came with the catalogue. */
START_TEST(test_param_bounds_catalogue)
{
	expect_param(LOSS_CROSS_ENTROPY, 2, 0.0, NULL);
	expect_param(LOSS_CROSS_ENTROPY, 2, 1.0, NULL);
	expect_param(LOSS_CROSS_ENTROPY, 2, -0.1, "must be in [0, 1]");
	expect_param(LOSS_CROSS_ENTROPY, 2, 1.5, "must be in [0, 1]");
	expect_param(LOSS_CROSS_ENTROPY, 1, -100.0, NULL);
	expect_param(LOSS_CROSS_ENTROPY, 1, 2.5, "must be an integer");
	expect_param(LOSS_CROSS_ENTROPY, 0, -1.0, "must be at least 0");
	expect_param(LOSS_CROSS_ENTROPY, 0, INFINITY, "finite");
	expect_param(LOSS_SMOOTH_L1, 0, 0.0, NULL);
	expect_param(LOSS_SMOOTH_L1, 0, -0.5, "must be at least 0");
	expect_param(LOSS_QUANTILE, 0, 1.0, NULL);
	expect_param(LOSS_QUANTILE, 0, 1.01, "must be in [0, 1]");
	expect_param(LOSS_COSINE_EMBEDDING, 0, -1.0, NULL);
	expect_param(LOSS_COSINE_EMBEDDING, 0, 1.5, "must be in [-1, 1]");
	expect_param(LOSS_SIGMOID_FOCAL, 0, -3.0, NULL);
	expect_param(LOSS_SIGMOID_FOCAL, 0, 1.5, "must be at most 1");
	expect_param(LOSS_TRIPLET_MARGIN, 1, 0.0, "must be greater than 0");
	expect_param(LOSS_TRIPLET_MARGIN, 2, 1.0, NULL);
	expect_param(LOSS_TRIPLET_MARGIN, 2, 0.5, "must be true or false");
	expect_param(LOSS_POISSON_NLL, 2, 0.0, "must be greater than 0");
	expect_param(LOSS_GAUSSIAN_NLL, 1, -1e-6, "must be greater than 0");
	expect_param(LOSS_MARGIN_RANKING, 0, -5.0, NULL);
	expect_param(LOSS_KL_DIV, 0, 1.0, NULL);
	expect_param(LOSS_KL_DIV, 0, 2.0,
	    "must be one of \"mean\", \"batchmean\"");
	expect_param(LOSS_CONTRASTIVE, 1, 0.5, "must be one of");
	expect_param(LOSS_BCE_WITH_LOGITS, 0, -0.5, "must be at least 0");
}
END_TEST

START_TEST(test_error_buffer)
{
	struct loss_spec	 spec;
	struct tensor		 p = tens(zeros, 1, 3, 0, 0);
	struct tensor		 t = tens(zeros, 1, 4, 0, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	char			 err[8];

	loss_spec_default(&spec, LOSS_MSE);
	ck_assert_int_eq(loss_batch(&spec, &in, &st1, NULL, 0), -1);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(loss_batch(&spec, &in, &st1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "targets");
	spec.type = LOSS_NTYPES;
	ck_assert_int_eq(loss_batch(&spec, &in, &st1, NULL, 0), -1);
	st1.n = 2;
	ck_assert(isnan(loss_value(&spec, &st1)));
}
END_TEST

/* The parameters of every type: API names, kinds and defaults. */
START_TEST(test_params)
{
	static const struct {
		enum loss_type		 type;
		const char		*name;
		enum loss_param_kind	 kind;
		double			 def;
		int			 option;
	} want[] = {
#define P(t, n, k, d, o) { LOSS_##t, n, LOSS_PARAM_##k, d, o }
		P(HUBER, "delta", NUMBER, 1, 0),
		P(CROSS_ENTROPY, "class_weight", LIST, 0, 1),
		P(CROSS_ENTROPY, "ignore_index", NUMBER, -100, 1),
		P(CROSS_ENTROPY, "label_smoothing", NUMBER, 0, 1),
		P(FOCAL, "alpha", NUMBER_OR_LIST, 1, 0),
		P(FOCAL, "gamma", NUMBER, 2, 0),
		P(FOCAL, "ignore_index", NUMBER, -100, 1),
		P(CONTRASTIVE, "margin", NUMBER, 1, 0),
		P(CONTRASTIVE, "labels", WORD, 0, 1),
		P(DICE, "smooth", NUMBER, 1, 0),
		P(DICE, "from_logits", BOOLEAN, 1, 1),
		P(DICE, "include_background", BOOLEAN, 1, 1),
		P(DICE, "squared", BOOLEAN, 0, 1),
		P(BCE_WITH_LOGITS, "pos_weight", LIST, 0, 1),
		P(SMOOTH_L1, "beta", NUMBER, 1, 0),
		P(NLL, "class_weight", LIST, 0, 1),
		P(NLL, "ignore_index", NUMBER, -100, 1),
		P(KL_DIV, "reduction", WORD, 0, 1),
		P(KL_DIV, "log_target", BOOLEAN, 0, 1),
		P(SIGMOID_FOCAL, "alpha", NUMBER, 0.25, 0),
		P(SIGMOID_FOCAL, "gamma", NUMBER, 2, 0),
		P(COSINE_EMBEDDING, "margin", NUMBER, 0, 0),
		P(MARGIN_RANKING, "margin", NUMBER, 0, 0),
		P(TRIPLET_MARGIN, "margin", NUMBER, 1, 0),
		P(TRIPLET_MARGIN, "p", NUMBER, 2, 0),
		P(TRIPLET_MARGIN, "swap", BOOLEAN, 0, 1),
		P(HINGE_EMBEDDING, "margin", NUMBER, 1, 0),
		P(POISSON_NLL, "log_input", BOOLEAN, 1, 1),
		P(POISSON_NLL, "full", BOOLEAN, 0, 1),
		P(POISSON_NLL, "eps", NUMBER, 1e-8, 0),
		P(GAUSSIAN_NLL, "full", BOOLEAN, 0, 1),
		P(GAUSSIAN_NLL, "eps", NUMBER, 1e-6, 0),
		P(QUANTILE, "tau", NUMBER, 0.5, 0),
#undef P
	};
	const struct loss_param	*p;
	struct loss_spec	 spec;
	size_t			 i, j, k, total = 0, nlist;
	int			 t;

	for (t = 0; t < LOSS_NTYPES; t++) {
		loss_spec_default(&spec, t);
		ck_assert_int_eq(spec.type, t);
		ck_assert_ptr_null(spec.list);
		ck_assert_uint_le(loss_nparams(t), LOSS_MAX_PARAMS);
		ck_assert_ptr_null(loss_param_info(t, loss_nparams(t)));
		for (i = nlist = 0; i < loss_nparams(t); i++, total++) {
			p = loss_param_info(t, i);
			for (j = 0; j < sizeof(want) / sizeof(want[0]); j++)
				if (want[j].type == (enum loss_type)t &&
				    strcmp(want[j].name, p->name) == 0)
					break;
			ck_assert_msg(j < sizeof(want) / sizeof(want[0]),
			    "unexpected parameter %s", p->name);
			ck_assert_int_eq(p->kind, want[j].kind);
			ck_assert(p->def == want[j].def);
			ck_assert_int_eq((p->flags & LOSS_OPTION) != 0,
			    want[j].option);
			ck_assert(spec.params[i] == p->def);
			ck_assert_ptr_nonnull(p->doc);
			ck_assert_int_eq(loss_param_lookup(t, p->name, &k), 0);
			ck_assert_uint_eq(k, i);
			nlist += p->kind == LOSS_PARAM_LIST ||
			    p->kind == LOSS_PARAM_NUMBER_OR_LIST;
			ck_assert_int_eq(p->kind == LOSS_PARAM_WORD,
			    p->words != NULL);
			if (p->kind != LOSS_PARAM_LIST)
				ck_assert_int_eq(loss_param_check(t, i,
				    p->def, NULL, 0), 0);
		}
		/* The spec has room for one list. */
		ck_assert_uint_le(nlist, 1);
		ck_assert_int_eq(loss_param_lookup(t, "nope", &k), -1);
	}
	ck_assert_uint_eq(total, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(test_type_lookup)
{
	static const char	*bad[] = { "", "MSE", "mse ", "l1",
	    "cross-entropy", "dice_loss", "nope", "hinge" };
	const struct loss_input	*in;
	enum loss_type		 t;
	enum loss_field		 f;
	size_t			 i, j;

	for (i = 0; i < LOSS_NTYPES; i++) {
		ck_assert_int_eq(loss_type_lookup(loss_type_name(i), &t), 0);
		ck_assert_int_eq(t, i);
		ck_assert(strlen(loss_type_formula(t)) > 0);
		ck_assert_uint_ge(loss_ninputs(t), 2);
		ck_assert_ptr_null(loss_input_info(t, loss_ninputs(t)));
		/* Every loss takes predictions, first and required. */
		in = loss_input_info(t, 0);
		ck_assert_int_eq(in->field, LOSS_PREDICTIONS);
		ck_assert_int_eq(in->optional, 0);
		for (j = 0; (in = loss_input_info(t, j)) != NULL; j++) {
			ck_assert(strlen(in->shape) > 0);
			ck_assert_ptr_nonnull(loss_field_name(in->field));
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(loss_type_lookup(bad[i], &t), -1);
	for (i = 0; i < LOSS_NFIELDS; i++) {
		ck_assert_int_eq(loss_field_lookup(loss_field_name(i), &f), 0);
		ck_assert_int_eq(f, i);
	}
	ck_assert_int_eq(loss_field_lookup("prediction", &f), -1);
	ck_assert_ptr_null(loss_field_name(LOSS_NFIELDS));
	ck_assert_ptr_null(loss_type_name(LOSS_NTYPES));
	ck_assert_ptr_null(loss_type_formula(LOSS_NTYPES));
	ck_assert_uint_eq(loss_nparams(LOSS_NTYPES), 0);
	ck_assert_uint_eq(loss_ninputs(LOSS_NTYPES), 0);
}
END_TEST

/* No sample accumulated: no mean exists. */
START_TEST(test_empty_accumulation)
{
	struct loss_spec	 spec;
	int			 i;

	for (i = 0; i < LOSS_NTYPES; i++) {
		loss_spec_default(&spec, i);
		memset(&st1, 0, sizeof(st1));
		ck_assert_msg(isnan(loss_value(&spec, &st1)), "%s",
		    loss_type_name(i));
	}
}
END_TEST

/*
 * A batch whose inputs are all empty arrays has no samples: accepted,
 * NaN alone, and nothing added to a step.  An empty input next to one
 * with values is an error.
 */
START_TEST(test_empty)
{
	struct loss_spec	 spec;
	struct tensor		 e = tens(zeros, 1, 0, 0, 0);
	struct tensor		 pe = tens(zeros, 3, 0, 2, 3);
	struct tensor		 two = tens(zeros, 1, 2, 0, 0);
	struct loss_inputs	 in, half;
	char			 err[128];
	int			 i, f;

	for (f = 0; f < LOSS_NFIELDS; f++) {
		in.t[f] = &e;
		half.t[f] = &two;
	}
	half.t[LOSS_PREDICTIONS] = &pe;
	for (i = 0; i < LOSS_NTYPES; i++) {
		loss_spec_default(&spec, i);
		ck_assert(isnan(expect_ok(&spec, &in)));
		ck_assert_uint_eq(st1.n, 0);
		st2.n = 2;
		st2.s[0] = 3.0;
		st2.s[1] = 4.0;
		ck_assert_int_eq(loss_stats_add(&spec, &st2, &st1, err,
		    sizeof(err)), 0);
		ck_assert(st2.n == 2 && st2.s[0] == 3.0 && st2.s[1] == 4.0);
		expect_fail(&spec, &half, "predictions is empty but ");
		expect_fail(&spec, &half, " has 2 values");
	}
	expect_error(LOSS_MSE, tens(zeros, 1, 2, 0, 0),
	    tens(zeros, 1, 0, 0, 0), "targets is empty but predictions has 2");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 2, 3, 0),
	    tens(zeros, 1, 0, 0, 0), "targets is empty");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 2, 0, 0),
	    tens(zeros, 1, 2, 0, 0), "predictions is empty");
	/* No rows at all, whatever the shape of a row. */
	ck_assert(isnan(accept(LOSS_CROSS_ENTROPY, tens(zeros, 2, 0, 5, 0),
	    tens(zeros, 1, 0, 0, 0))));
}
END_TEST

/* Every target ignored: NaN alone, nothing added to the step. */
START_TEST(test_all_ignored)
{
	double			 y[3] = { -100, -100, -100 }, logits[6];
	struct tensor		 p = tens(logits, 2, 3, 2, 0);
	struct tensor		 t = tens(y, 1, 3, 0, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	enum loss_type		 types[] = { LOSS_CROSS_ENTROPY, LOSS_NLL,
	    LOSS_FOCAL };
	struct loss_spec	 spec;
	double			 before;
	char			 err[128];
	size_t			 i;

	for (i = 0; i < 6; i++)
		logits[i] = (double)i / 3.0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		loss_spec_default(&spec, types[i]);
		y[0] = 1;
		expect_ok(&spec, &in);
		st2 = st1;
		before = loss_value(&spec, &st2);
		ck_assert(isfinite(before));
		y[0] = -100;
		ck_assert(isnan(expect_ok(&spec, &in)));
		ck_assert_int_eq(loss_stats_add(&spec, &st2, &st1, err,
		    sizeof(err)), 0);
		ck_assert(loss_value(&spec, &st2) == before);
	}
}
END_TEST

/* Inputs other than predictions and targets: missing, mis-shaped. */
START_TEST(test_other_inputs)
{
	double			 v[6] = { 1, 1, 1, 1, 1, 1 };
	struct tensor		 p = tens(zeros, 2, 2, 3, 0);
	struct tensor		 t = tens(zeros, 2, 2, 3, 0);
	struct tensor		 var = tens(v, 2, 2, 3, 0);
	struct tensor		 y = tens(halves, 1, 2, 0, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	struct loss_spec	 spec;

	loss_spec_default(&spec, LOSS_GAUSSIAN_NLL);
	expect_fail(&spec, &in, "variance is missing");
	in.t[LOSS_VARIANCE] = &var;
	expect_ok(&spec, &in);
	var = tens(v, 1, 2, 0, 0);
	expect_ok(&spec, &in);
	var = tens(v, 2, 2, 1, 0);
	expect_ok(&spec, &in);
	var = tens(v, 1, 3, 0, 0);
	expect_fail(&spec, &in, "variance has shape [3] but predictions "
	    "has shape [2][3] (variance takes");
	var = tens(v, 2, 3, 2, 0);
	expect_fail(&spec, &in, "variance has shape [3][2]");
	var = tens(v, 2, 2, 3, 0);
	v[4] = -0.5;
	expect_fail(&spec, &in, "variance[1][1] is -0.5, negative");
	v[4] = NAN;
	ck_assert(isnan(expect_ok(&spec, &in)));

	loss_spec_default(&spec, LOSS_TRIPLET_MARGIN);
	in = inputs2(&p, NULL);
	in.t[LOSS_POSITIVES] = &t;
	expect_fail(&spec, &in, "negatives is missing");
	in.t[LOSS_NEGATIVES] = &y;
	expect_fail(&spec, &in, "negatives has shape [2] but predictions "
	    "has shape [2][3]");
	in.t[LOSS_NEGATIVES] = &t;
	ck_assert(isfinite(expect_ok(&spec, &in)));
	in.t[LOSS_PREDICTIONS] = &y;
	expect_fail(&spec, &in, "triplet_margin needs anchors [N][D]");

	loss_spec_default(&spec, LOSS_COSINE_EMBEDDING);
	in = inputs2(&p, &y);
	expect_fail(&spec, &in, "predictions2 is missing");
	in.t[LOSS_PREDICTIONS2] = &var;
	expect_fail(&spec, &in, "targets[0] is 0.5, not 1 or -1");

	/* bce's weights take the shape of targets. */
	loss_spec_default(&spec, LOSS_BCE);
	in = inputs2(&p, &t);
	in.t[LOSS_WEIGHTS] = &y;
	expect_fail(&spec, &in, "weights has shape [2] but targets has "
	    "shape [2][3]");
	/* Inputs a type does not take are ignored. */
	loss_spec_default(&spec, LOSS_MSE);
	ck_assert(expect_ok(&spec, &in) == 0.0);
}
END_TEST

START_TEST(test_signs)
{
	double	 y[4] = { 1, -1, 0, 1 };

	expect_error(LOSS_HINGE_EMBEDDING, tens(zeros, 1, 4, 0, 0),
	    tens(y, 1, 4, 0, 0), "targets[2] is 0, not 1 or -1");
	y[2] = NAN;
	expect_error(LOSS_HINGE_EMBEDDING, tens(zeros, 1, 4, 0, 0),
	    tens(y, 1, 4, 0, 0), "targets[2] is NaN, not 1 or -1");
	y[2] = -1;
	ck_assert(accept(LOSS_HINGE_EMBEDDING, tens(zeros, 1, 4, 0, 0),
	    tens(y, 1, 4, 0, 0)) == 0.5);
}
END_TEST

/* Lists with one value per class, checked when C is known. */
START_TEST(test_class_lists)
{
	double			 w[3] = { 1, 2, 3 }, y[2] = { 0, 1 };
	struct tensor		 p = tens(zeros, 2, 2, 5, 0);
	struct tensor		 t = tens(y, 1, 2, 0, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	struct loss_spec	 spec;

	loss_spec_default(&spec, LOSS_CROSS_ENTROPY);
	spec.list = w;
	spec.nlist = 3;
	expect_fail(&spec, &in,
	    "class_weight has 3 values but predictions has 5 classes");
	spec.type = LOSS_NLL;
	expect_fail(&spec, &in,
	    "class_weight has 3 values but predictions has 5 classes");
	loss_spec_default(&spec, LOSS_FOCAL);
	spec.list = w;
	spec.nlist = 1;
	expect_fail(&spec, &in,
	    "alpha has 1 value but predictions has 5 classes");
	p = tens(zeros, 2, 2, 3, 0);
	spec.nlist = 3;
	ck_assert(isfinite(expect_ok(&spec, &in)));

	loss_spec_default(&spec, LOSS_BCE_WITH_LOGITS);
	spec.list = w;
	spec.nlist = 2;
	in = inputs2(&p, &p);
	expect_fail(&spec, &in, "pos_weight has 2 values but the last "
	    "dimension of targets has 3");
}
END_TEST

/* cross_entropy's two forms of targets. */
START_TEST(test_ce_targets)
{
	double			 probs[6] = { .5, .5, 0, 1, .2, .8 };
	struct tensor		 p = tens(zeros, 2, 2, 3, 0);
	struct tensor		 t = tens(probs, 2, 2, 3, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	struct loss_spec	 spec;

	loss_spec_default(&spec, LOSS_CROSS_ENTROPY);
	ck_assert(isfinite(expect_ok(&spec, &in)));
	ck_assert_uint_eq(st1.n, 2);
	spec = with(LOSS_CROSS_ENTROPY, "ignore_index", 0);
	expect_fail(&spec, &in, "ignore_index 0 applies to class indices");
	spec = with(LOSS_CROSS_ENTROPY, "ignore_index", -1);
	ck_assert(isfinite(expect_ok(&spec, &in)));
	t = tens(probs, 2, 3, 2, 0);
	expect_fail(&spec, &in, "targets has shape [3][2] but predictions "
	    "has shape [2][3]");
}
END_TEST

/* A step's batches must agree where the statistics depend on shape. */
START_TEST(test_stats_mismatch)
{
	double			 y[4] = { 0, 1, 2, 1 }, probs[12];
	struct tensor		 p = tens(zeros, 2, 4, 3, 0);
	struct tensor		 t = tens(y, 1, 4, 0, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	struct loss_spec	 spec;
	char			 err[128];

	loss_spec_default(&spec, LOSS_DICE);
	expect_ok(&spec, &in);
	st2 = st1;
	ck_assert_uint_eq(st2.n, 10);
	p = tens(zeros, 2, 4, 5, 0);
	expect_ok(&spec, &in);
	ck_assert_int_eq(loss_stats_add(&spec, &st2, &st1, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "this batch has 5 classes but earlier "
	    "batches of this step have 3 classes");
	ck_assert_uint_eq(st2.n, 10);

	loss_spec_default(&spec, LOSS_CROSS_ENTROPY);
	p = tens(zeros, 2, 4, 3, 0);
	expect_ok(&spec, &in);
	st2 = st1;
	memset(probs, 0, sizeof(probs));
	t = tens(probs, 2, 4, 3, 0);
	expect_ok(&spec, &in);
	ck_assert_int_eq(loss_stats_add(&spec, &st2, &st1, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "this batch has class probabilities as "
	    "targets but earlier batches of this step have class indices")
	    != NULL, "%s", err);
}
END_TEST

/* Dice: the multi-class form and what does not fit either form. */
START_TEST(test_dice_forms)
{
	double			 y[8] = { 0, 1, 2, 1, 0, 0, 2, 2 };
	struct tensor		 p = tens(zeros, 3, 2, 3, 4);
	struct tensor		 t = tens(y, 2, 2, 4, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	struct loss_spec	 spec;

	loss_spec_default(&spec, LOSS_DICE);
	ck_assert(isfinite(expect_ok(&spec, &in)));
	ck_assert_uint_eq(st1.n, 10);
	ck_assert(st1.s[9] == 8.0);
	y[3] = 3;
	expect_fail(&spec, &in, "targets[0][3] is 3 but predictions has 3 "
	    "classes");
	y[3] = 1;
	t = tens(y, 2, 2, 3, 0);
	expect_fail(&spec, &in, "targets has shape [2][3] but predictions "
	    "has shape [2][3][4] (class indices take");
	p = tens(zeros, 2, 2, LOSS_MAX_CLASSES + 1, 0);
	t = tens(y, 1, 2, 0, 0);
	expect_fail(&spec, &in, "dice takes at most 1024");

	spec = with(LOSS_DICE, "include_background", 0);
	p = tens(zeros, 2, 2, 4, 0);
	t = tens(zeros, 2, 2, 4, 0);
	expect_fail(&spec, &in, "include_background false needs the "
	    "multi-class form");
	p = tens(zeros, 2, 2, 1, 0);
	t = tens(zeros, 1, 2, 0, 0);
	expect_fail(&spec, &in, "needs at least 2 classes");

	spec = with(LOSS_DICE, "from_logits", 0);
	p = tens(zeros, 1, 2, 0, 0);
	p.data = (double[]){ 0.5, 1.5 };
	t = tens(zeros, 1, 2, 0, 0);
	expect_fail(&spec, &in, "predictions[1] is 1.5, outside [0,1]");
}
END_TEST

/* Dice 0/0 (nothing predicted, nothing to find, no smoothing) is 0. */
START_TEST(test_dice_zero_over_zero)
{
	double			 x[2] = { -INFINITY, -INFINITY };
	struct tensor		 p = tens(x, 1, 2, 0, 0);
	struct tensor		 t = tens(zeros, 1, 2, 0, 0);
	struct loss_inputs	 in = inputs2(&p, &t);
	struct loss_spec	 spec;

	spec = with(LOSS_DICE, "smooth", 0);
	ck_assert(expect_ok(&spec, &in) == 0.0);
	spec.params[1] = 0;	/* probabilities: 0 and 0 */
	p.data = zeros;
	ck_assert(expect_ok(&spec, &in) == 0.0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("loss");
	TCase	*ref = tcase_create("reference");
	TCase	*bad = tcase_create("errors");
	TCase	*api = tcase_create("types");
	TCase	*edge = tcase_create("edges");

	tcase_set_timeout(ref, 60);
	tcase_add_test(ref, test_reference);
	tcase_add_test(bad, test_shape_mismatch);
	tcase_add_test(bad, test_rows);
	tcase_add_test(bad, test_bce_range);
	tcase_add_test(bad, test_classes);
	tcase_add_test(bad, test_labels);
	tcase_add_test(bad, test_signs);
	tcase_add_test(bad, test_malformed_tensor);
	tcase_add_test(bad, test_error_buffer);
	tcase_add_test(bad, test_other_inputs);
	tcase_add_test(bad, test_class_lists);
	tcase_add_test(bad, test_ce_targets);
	tcase_add_test(bad, test_dice_forms);
	tcase_add_test(api, test_params);
	tcase_add_test(api, test_param_bounds);
	tcase_add_test(api, test_param_bounds_catalogue);
	tcase_add_test(api, test_type_lookup);
	tcase_add_test(edge, test_empty);
	tcase_add_test(edge, test_empty_accumulation);
	tcase_add_test(edge, test_all_ignored);
	tcase_add_test(edge, test_stats_mismatch);
	tcase_add_test(edge, test_dice_zero_over_zero);
	suite_add_tcase(s, ref);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, api);
	suite_add_tcase(s, edge);

	return check_run(s);
}
