/*
 * Unit tests of the loss engine: every case of tests/reference.json
 * (values computed by PyTorch, see tests/gen_reference.py) batch by batch
 * and accumulated, then the checks on bad input.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loss.h"

#define REFERENCE	TOP_SRCDIR "/tests/reference.json"
#define REL_TOL		1e-9

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

static const char *names[LOSS_NTYPES] = {
	"mse", "mae", "huber", "bce", "cross_entropy", "focal",
	"contrastive", "dice"
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

/* The spec of a case: its type, and its params over the defaults. */
static int
case_spec(const char *name, const cJSON *c, struct loss_spec *spec)
{
	const cJSON	*type, *params, *p;
	enum loss_type	 t;
	size_t		 i, n;
	char		 err[128];

	type = cJSON_GetObjectItemCaseSensitive(c, "type");
	if (!cJSON_IsString(type) ||
	    loss_type_lookup(type->valuestring, &t) == -1) {
		printf("FAIL %s: unknown type\n", name);
		return -1;
	}
	loss_spec_default(spec, t);
	params = cJSON_GetObjectItemCaseSensitive(c, "params");
	n = loss_nparams(t);
	cJSON_ArrayForEach(p, params) {
		for (i = 0; i < n; i++) {
			if (strcmp(p->string,
			    loss_param_info(t, i)->name) == 0)
				break;
		}
		if (i == n || !cJSON_IsNumber(p) ||
		    loss_param_check(t, i, p->valuedouble, err,
		    sizeof(err)) == -1) {
			printf("FAIL %s: bad parameter %s\n", name, p->string);
			return -1;
		}
		spec->params[i] = p->valuedouble;
	}
	return 0;
}

/* Computes the statistics of one batch and checks its own value. */
static int
run_batch(const char *name, int k, const struct loss_spec *spec,
    const cJSON *b, struct loss_stats *acc, struct tally *tl)
{
	struct array		 pred, target;
	struct loss_stats	 st;
	char			 err[256], what[32];
	int			 rc = -1;

	snprintf(what, sizeof(what), "batch %d", k);
	if (array_decode(cJSON_GetObjectItemCaseSensitive(b, "predictions"),
	    &pred) == -1 ||
	    array_decode(cJSON_GetObjectItemCaseSensitive(b, "targets"),
	    &target) == -1) {
		printf("FAIL %s: %s: malformed input\n", name, what);
		goto out;
	}
	if (loss_batch(spec, &pred.t, &target.t, &st, err,
	    sizeof(err)) == -1) {
		printf("FAIL %s: %s: %s\n", name, what, err);
		goto out;
	}
	rc = check_value(name, what, loss_value(spec, &st),
	    cJSON_GetObjectItemCaseSensitive(b, "expected"), tl);
	loss_stats_add(spec->type, acc, &st);
out:
	free(pred.data);
	free(target.data);
	return rc;
}

/* Runs one case: each batch alone, then all of them accumulated. */
static int
run_case(const cJSON *c, struct tally *tl)
{
	const cJSON		*jname, *batches, *b;
	const char		*name = "(unnamed)";
	struct loss_spec	 spec;
	struct loss_stats	 acc;
	int			 k = 0, rc = 0;

	jname = cJSON_GetObjectItemCaseSensitive(c, "name");
	if (cJSON_IsString(jname))
		name = jname->valuestring;
	if (case_spec(name, c, &spec) == -1)
		return -1;
	tl->seen[spec.type]++;

	batches = cJSON_GetObjectItemCaseSensitive(c, "batches");
	if (cJSON_GetArraySize(batches) < 1) {
		printf("FAIL %s: no batches\n", name);
		return -1;
	}
	memset(&acc, 0, sizeof(acc));
	cJSON_ArrayForEach(b, batches) {
		if (run_batch(name, k++, &spec, b, &acc, tl) == -1)
			rc = -1;
	}
	if (check_value(name, "accumulated", loss_value(&spec, &acc),
	    cJSON_GetObjectItemCaseSensitive(c, "expected"), tl) == -1)
		rc = -1;
	return rc;
}

START_TEST(test_reference)
{
	struct tally	 tl;
	cJSON		*root, *cases, *c;
	char		*text;
	int		 i;

	memset(&tl, 0, sizeof(tl));
	text = read_file(REFERENCE);
	ck_assert_msg(text != NULL, "cannot read %s", REFERENCE);
	root = cJSON_Parse(text);
	free(text);
	ck_assert_msg(root != NULL, "%s is not JSON", REFERENCE);
	cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
	ck_assert_msg(cJSON_GetArraySize(cases) > 0, "%s has no cases",
	    REFERENCE);

	cJSON_ArrayForEach(c, cases) {
		tl.cases++;
		if (run_case(c, &tl) == -1)
			tl.failed++;
	}
	cJSON_Delete(root);

	printf("reference: %d cases, largest relative error %.3g in %s\n",
	    tl.cases, tl.maxrel, tl.maxname);
	/* A failed assertion ends this forked child without flushing. */
	fflush(stdout);
	for (i = 0; i < LOSS_NTYPES; i++)
		ck_assert_msg(tl.seen[i] > 0, "no reference case of %s",
		    names[i]);
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

/* Asserts that a batch is refused with a message containing want, and
 * that the statistics are left alone. */
static void
expect_error(enum loss_type type, struct tensor p, struct tensor t,
    const char *want)
{
	struct loss_spec	 spec;
	struct loss_stats	 st;
	char			 err[256] = "";

	loss_spec_default(&spec, type);
	st.s[0] = 42.0;
	ck_assert_int_eq(loss_batch(&spec, &p, &t, &st, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, want) != NULL,
	    "%s: error \"%s\" lacks \"%s\"", names[type], err, want);
	ck_assert(st.s[0] == 42.0);
}

/* The value of one batch that must be accepted. */
static double
accept(enum loss_type type, struct tensor p, struct tensor t)
{
	struct loss_spec	 spec;
	struct loss_stats	 st;
	char			 err[256] = "";

	loss_spec_default(&spec, type);
	ck_assert_msg(loss_batch(&spec, &p, &t, &st, err, sizeof(err)) == 0,
	    "%s refused: %s", names[type], err);
	return loss_value(&spec, &st);
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

START_TEST(test_empty)
{
	int	 i;

	for (i = 0; i < LOSS_NTYPES; i++) {
		expect_error(i, tens(zeros, 1, 0, 0, 0),
		    tens(zeros, 1, 0, 0, 0), "predictions is empty");
		expect_error(i, tens(zeros, 3, 0, 2, 3),
		    tens(zeros, 1, 0, 0, 0), "predictions is empty");
	}
	expect_error(LOSS_MSE, tens(zeros, 1, 2, 0, 0),
	    tens(zeros, 1, 0, 0, 0), "targets is empty");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 2, 3, 0),
	    tens(zeros, 1, 0, 0, 0), "targets is empty");
	expect_error(LOSS_CROSS_ENTROPY, tens(zeros, 2, 2, 0, 0),
	    tens(zeros, 1, 2, 0, 0), "predictions is empty");
	expect_error(LOSS_CONTRASTIVE, tens(zeros, 3, 2, 2, 0),
	    tens(zeros, 1, 2, 0, 0), "predictions is empty");
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

START_TEST(test_error_buffer)
{
	struct loss_spec	 spec;
	struct loss_stats	 st;
	struct tensor		 p = tens(zeros, 1, 3, 0, 0);
	struct tensor		 t = tens(zeros, 1, 4, 0, 0);
	char			 err[8];

	loss_spec_default(&spec, LOSS_MSE);
	ck_assert_int_eq(loss_batch(&spec, &p, &t, &st, NULL, 0), -1);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(loss_batch(&spec, &p, &t, &st, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "targets");
	spec.type = LOSS_NTYPES;
	ck_assert_int_eq(loss_batch(&spec, &p, &p, &st, NULL, 0), -1);
	ck_assert(isnan(loss_value(&spec, &st)));
}
END_TEST

/* The parameters of every type, their API names and defaults. */
START_TEST(test_params)
{
	static const struct {
		enum loss_type	 type;
		const char	*name;
		double		 def;
	} want[] = {
		{ LOSS_HUBER, "delta", 1.0 },
		{ LOSS_FOCAL, "alpha", 1.0 },
		{ LOSS_FOCAL, "gamma", 2.0 },
		{ LOSS_CONTRASTIVE, "margin", 1.0 },
		{ LOSS_DICE, "smooth", 1.0 },
	};
	const struct loss_param	*p;
	struct loss_spec	 spec;
	size_t			 i, j, total = 0;
	int			 t;

	for (t = 0; t < LOSS_NTYPES; t++) {
		loss_spec_default(&spec, t);
		ck_assert_int_eq(spec.type, t);
		ck_assert_uint_le(loss_nparams(t), LOSS_MAX_PARAMS);
		ck_assert_ptr_null(loss_param_info(t, loss_nparams(t)));
		for (i = 0; i < loss_nparams(t); i++, total++) {
			p = loss_param_info(t, i);
			for (j = 0; j < sizeof(want) / sizeof(want[0]); j++)
				if (want[j].type == (enum loss_type)t &&
				    strcmp(want[j].name, p->name) == 0)
					break;
			ck_assert_msg(j < sizeof(want) / sizeof(want[0]),
			    "unexpected parameter %s", p->name);
			ck_assert(p->def == want[j].def);
			ck_assert(spec.params[i] == p->def);
			ck_assert_ptr_nonnull(p->doc);
			ck_assert_int_eq(loss_param_check(t, i, p->def, NULL,
			    0), 0);
		}
	}
	ck_assert_uint_eq(total, sizeof(want) / sizeof(want[0]));
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
		    names[t], i, v, err);
		return;
	}
	ck_assert_msg(rc == -1, "%s param %zu = %g allowed", names[t], i, v);
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

START_TEST(test_type_lookup)
{
	static const char	*bad[] = { "", "MSE", "mse ", "l1",
	    "cross-entropy", "dice_loss", "nope" };
	enum loss_type		 t;
	size_t			 i;

	for (i = 0; i < LOSS_NTYPES; i++) {
		ck_assert_int_eq(loss_type_lookup(names[i], &t), 0);
		ck_assert_int_eq(t, i);
		ck_assert_str_eq(loss_type_name(t), names[i]);
		ck_assert(strlen(loss_type_inputs(t)) > 0);
		ck_assert(strlen(loss_type_formula(t)) > 0);
		ck_assert_uint_ge(loss_nstats(t), 1);
		ck_assert_uint_le(loss_nstats(t), LOSS_MAX_STATS);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(loss_type_lookup(bad[i], &t), -1);
	ck_assert_ptr_null(loss_type_name(LOSS_NTYPES));
	ck_assert_ptr_null(loss_type_inputs(LOSS_NTYPES));
	ck_assert_uint_eq(loss_nparams(LOSS_NTYPES), 0);
}
END_TEST

/* Nothing accumulated: no mean exists. */
START_TEST(test_empty_accumulation)
{
	struct loss_spec	 spec;
	struct loss_stats	 st;
	int			 i;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < LOSS_NTYPES; i++) {
		loss_spec_default(&spec, i);
		ck_assert_msg(isnan(loss_value(&spec, &st)), "%s", names[i]);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("loss");
	TCase	*ref = tcase_create("reference");
	TCase	*bad = tcase_create("errors");
	TCase	*api = tcase_create("types");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(ref, 60);
	tcase_add_test(ref, test_reference);
	tcase_add_test(bad, test_shape_mismatch);
	tcase_add_test(bad, test_rows);
	tcase_add_test(bad, test_bce_range);
	tcase_add_test(bad, test_classes);
	tcase_add_test(bad, test_labels);
	tcase_add_test(bad, test_empty);
	tcase_add_test(bad, test_malformed_tensor);
	tcase_add_test(bad, test_error_buffer);
	tcase_add_test(api, test_params);
	tcase_add_test(api, test_param_bounds);
	tcase_add_test(api, test_type_lookup);
	tcase_add_test(api, test_empty_accumulation);
	suite_add_tcase(s, ref);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, api);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
