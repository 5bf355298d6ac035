/* Unit tests of request decoding and validation. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "check_run.h"

static int
batch(const char *body, struct batch_req *b, struct codec_error *err)
{
	return codec_batch(body, strlen(body), b, err);
}

/* Asserts that body is refused with status and a message holding want. */
static void
batch_refused(const char *body, int status, const char *want)
{
	struct batch_req	 b;
	struct codec_error	 err;

	memset(&err, 0, sizeof(err));
	ck_assert_msg(batch(body, &b, &err) == -1, "accepted: %s", body);
	ck_assert_int_eq(err.status, status);
	ck_assert_msg(strstr(err.message, want) != NULL,
	    "for %s: \"%s\" lacks \"%s\"", body, err.message, want);
}

START_TEST(batch_shapes)
{
	struct batch_req	 b;
	struct codec_error	 err;

	ck_assert_int_eq(batch("{\"step\": 7, \"predictions\": [[1, 2, 3],"
	    " [4, 5, 6]], \"targets\": [0, 2], \"split\": \"val/a\"}", &b,
	    &err), 0);
	ck_assert_int_eq(b.step, 7);
	ck_assert_str_eq(b.split, "val/a");
	ck_assert_int_eq(b.in[LOSS_PREDICTIONS].t.ndim, 2);
	ck_assert_uint_eq(b.in[LOSS_PREDICTIONS].t.shape[0], 2);
	ck_assert_uint_eq(b.in[LOSS_PREDICTIONS].t.shape[1], 3);
	ck_assert_uint_eq(b.in[LOSS_PREDICTIONS].t.n, 6);
	ck_assert_double_eq(b.in[LOSS_PREDICTIONS].t.data[5], 6);
	ck_assert_int_eq(b.in[LOSS_TARGETS].t.ndim, 1);
	ck_assert_uint_eq(b.in[LOSS_TARGETS].t.n, 2);
	codec_batch_free(&b);
}
END_TEST

START_TEST(batch_defaults_and_specials)
{
	struct batch_req	 b;
	struct codec_error	 err;
	const double		*x;

	ck_assert_int_eq(batch("{\"step\": 9007199254740991, \"predictions\":"
	    " [\"NaN\", \"Infinity\", \"-Infinity\", 1e999],"
	    " \"targets\": [0, 0, 0, 0]}", &b, &err), 0);
	ck_assert_int_eq(b.step, 9007199254740991LL);
	ck_assert_str_eq(b.split, "train");
	x = b.in[LOSS_PREDICTIONS].t.data;
	ck_assert(isnan(x[0]));
	ck_assert(isinf(x[1]) && x[1] > 0);
	ck_assert(isinf(x[2]) && x[2] < 0);
	ck_assert(isinf(x[3]));
	codec_batch_free(&b);
}
END_TEST

/* Input arrays other than predictions decode when present; which
 * ones a batch needs depends on the run's losses. */
START_TEST(batch_inputs)
{
	struct batch_req	 b;
	struct codec_error	 err;
	int			 f;

	ck_assert_int_eq(batch("{\"step\": 1, \"predictions\": [[1, 2]],"
	    " \"positives\": [[3, 4]], \"negatives\": [[5, 6]]}", &b, &err),
	    0);
	for (f = 0; f < LOSS_NFIELDS; f++)
		ck_assert_int_eq(b.inputs.t[f] != NULL,
		    f == LOSS_PREDICTIONS || f == LOSS_POSITIVES ||
		    f == LOSS_NEGATIVES);
	ck_assert_ptr_eq(b.inputs.t[LOSS_NEGATIVES], &b.in[LOSS_NEGATIVES].t);
	ck_assert_double_eq(b.inputs.t[LOSS_NEGATIVES]->data[1], 6);
	codec_batch_free(&b);
	ck_assert_ptr_null(b.inputs.t[LOSS_PREDICTIONS]);
}
END_TEST

START_TEST(batch_errors)
{
	batch_refused("", 400, "empty");
	batch_refused("{\"step\": 1,", 400, "not valid JSON");
	batch_refused("[1]", 400, "must be a JSON object");
	batch_refused("{\"step\": 1} x", 400, "not valid JSON");
	batch_refused("{\"predictions\": [1], \"targets\": [1]}", 400,
	    "step is missing");
	batch_refused("{\"step\": -1, \"predictions\": [1], \"targets\": [1]}",
	    400, "step must be an integer");
	batch_refused("{\"step\": 1.5, \"predictions\": [1], \"targets\": [1]}",
	    400, "step must be an integer");
	batch_refused("{\"step\": \"3\", \"predictions\": [1], \"targets\":"
	    " [1]}", 400, "step must be an integer");
	batch_refused("{\"step\": 9007199254740992, \"predictions\": [1],"
	    " \"targets\": [1]}", 400, "step must be an integer");
	batch_refused("{\"step\": 1e300, \"predictions\": [1], \"targets\":"
	    " [1]}", 400, "step must be an integer");
	batch_refused("{\"step\": 1, \"targets\": [1]}", 400,
	    "predictions is missing");
	batch_refused("{\"step\": 1, \"predictions\": [1], \"colour\":"
	    " [1]}", 400, "colour: unknown field");
	batch_refused("{\"step\": 1, \"predictions\": [1], \"variance\":"
	    " [[1], 2]}", 400, "variance[1] must be an array");
	batch_refused("{\"step\": 1, \"predictions\": 3, \"targets\": [1]}",
	    400, "predictions must be an array");
	batch_refused("{\"step\": 1, \"predictions\": [[1, 2], [3]],"
	    " \"targets\": [1]}", 400, "predictions[1] has 1 elements");
	batch_refused("{\"step\": 1, \"predictions\": [[1, 2], 3],"
	    " \"targets\": [1]}", 400, "predictions[1] must be an array");
	batch_refused("{\"step\": 1, \"predictions\": [1, [2]],"
	    " \"targets\": [1]}", 400, "predictions[1] is an array");
	batch_refused("{\"step\": 1, \"predictions\": [1, \"two\"],"
	    " \"targets\": [1]}", 400, "predictions[1] is not a number");
	batch_refused("{\"step\": 1, \"predictions\": [1], \"targets\":"
	    " [null]}", 400, "targets[0] is not a number");
	batch_refused("{\"step\": 1, \"predictions\": [1], \"targets\": [1],"
	    " \"target\": [1]}", 400, "target: unknown field");
	batch_refused("{\"step\": 1, \"split\": \"a\\u0001\", \"predictions\":"
	    " [1], \"targets\": [1]}", 400, "split has a control character");
	batch_refused("{\"step\": 1, \"step\": 2, \"predictions\": [1],"
	    " \"targets\": [1]}", 400, "step is given twice");
	batch_refused("{\"step\": 1, \"split\": 7, \"predictions\": [1],"
	    " \"targets\": [1]}", 400, "split must be a string");
	batch_refused("{\"step\": 1, \"predictions\": [[[[[[[[[1]]]]]]]]],"
	    " \"targets\": [1]}", 400, "deeper than 8 dimensions");
}
END_TEST

START_TEST(names)
{
	struct codec_error	 err;
	char			 longname[CODEC_NAME_MAX + 2];

	static const char *const good[] = { "run-1.a_b", "train/loss",
	    "a b %41 100%", "caf\xc3\xa9", "\xe5\xad\xa6\xe7\xbf\x92",
	    "\xf0\x9f\x93\x89 loss", "~!@#$^&*()[]{}|;:'\",<>?=+" };
	static const char *const bad[][2] = {
		{ "", "is empty" },
		{ "a\tb", "control character at byte 1" },
		{ "a\x7f", "control character" },
		{ "\xc2\x85", "control character" },
		{ "\xc3", "not valid UTF-8 (at byte 0)" },
		{ "ab\xff", "not valid UTF-8 (at byte 2)" },
		{ "\xc0\xaf", "not valid UTF-8" },		/* overlong '/' */
		{ "\xed\xa0\x80", "not valid UTF-8" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "not valid UTF-8" },	/* > U+10FFFF */
	};
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(codec_check_name(good[i], "run name", &err) == 0,
		    "refused %s: %s", good[i], err.message);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(codec_check_name(bad[i][0], "run name", &err),
		    -1);
		ck_assert_msg(strstr(err.message, bad[i][1]) != NULL,
		    "case %zu: \"%s\" lacks \"%s\"", i, err.message,
		    bad[i][1]);
	}
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(codec_check_name(longname, "run name", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "129 bytes"));
	longname[CODEC_NAME_MAX] = '\0';
	ck_assert_int_eq(codec_check_name(longname, "run name", &err), 0);
}
END_TEST

static int
run_spec(const char *body, struct run_spec *rs, struct codec_error *err)
{
	return codec_run_spec(body, strlen(body), rs, err);
}

START_TEST(run_spec_terms)
{
	struct run_spec		 rs;
	struct codec_error	 err;
	char			*json;

	ck_assert_int_eq(run_spec("{\"losses\": [{\"type\": \"mse\"},"
	    " {\"type\": \"huber\", \"weight\": 0.5, \"name\": \"h\","
	    " \"delta\": 2}], \"params\": {\"lr\": 0.1}, \"tags\": {}}", &rs,
	    &err), 0);
	ck_assert_uint_eq(rs.nterms, 2);
	ck_assert_str_eq(rs.terms[0].name, "mse");
	ck_assert_double_eq(rs.terms[0].weight, 1.0);
	ck_assert_str_eq(rs.terms[1].name, "h");
	ck_assert_str_eq(rs.params, "{\"lr\":0.1}");
	json = codec_terms_json(rs.terms, rs.nterms);
	ck_assert_str_eq(json, "[{\"name\":\"mse\",\"type\":\"mse\","
	    "\"weight\":1},{\"name\":\"h\",\"type\":\"huber\",\"weight\":0.5,"
	    "\"delta\":2}]");
	free(json);
	codec_run_spec_free(&rs);

	ck_assert_int_eq(run_spec("{}", &rs, &err), 0);
	ck_assert_ptr_null(rs.terms);
	ck_assert_str_eq(rs.tags, "{}");
	codec_run_spec_free(&rs);
}
END_TEST

/* The same losses written two ways give the same canonical JSON. */
START_TEST(canonical_terms)
{
	struct run_spec		 a, b;
	struct codec_error	 err;
	char			*ja, *jb;

	ck_assert_int_eq(run_spec("{\"losses\": [{\"type\": \"huber\"}]}", &a,
	    &err), 0);
	ck_assert_int_eq(run_spec("{\"losses\": [{\"delta\": 1.0, \"name\":"
	    " \"huber\", \"weight\": 1, \"type\": \"huber\"}]}", &b, &err), 0);
	ja = codec_terms_json(a.terms, a.nterms);
	jb = codec_terms_json(b.terms, b.nterms);
	ck_assert_str_eq(ja, jb);
	free(ja);
	free(jb);
	codec_run_spec_free(&a);
	codec_run_spec_free(&b);
}
END_TEST

START_TEST(run_spec_errors)
{
	static const char *const cases[][2] = {
		{ "{\"losses\": {}}", "losses must be an array" },
		{ "{\"losses\": []}", "at least one" },
		{ "{\"losses\": [3]}", "losses[0] must be an object" },
		{ "{\"losses\": [{}]}", "losses[0].type is missing" },
		{ "{\"losses\": [{\"type\": \"l2\"}]}",
		    "losses[0].type is not a known loss type" },
		{ "{\"losses\": [{\"type\": \"mse\"}, {\"type\": \"mse\"}]}",
		    "losses[1].name: \"mse\" is already" },
		{ "{\"losses\": [{\"type\": \"huber\", \"delta\": 0}]}",
		    "losses[0].delta" },
		{ "{\"losses\": [{\"type\": \"huber\", \"delat\": 1}]}",
		    "losses[0].delat: unknown parameter of huber" },
		{ "{\"losses\": [{\"type\": \"mse\", \"weight\": \"1\"}]}",
		    "losses[0].weight must be a number" },
		{ "{\"losses\": [{\"type\": \"mse\", \"name\": \"total\"}]}",
		    "\"total\" is the name" },
		{ "{\"losses\": [{\"type\": \"mse\", \"name\": \"\"}]}",
		    "losses[0].name is empty" },
		{ "{\"losses\": [{\"type\": \"mse\", \"type\": \"mae\"}]}",
		    "losses[0].type is given twice" },
		{ "{\"params\": []}", "params must be a JSON object" },
		{ "{\"tags\": \"x\"}", "tags must be a JSON object" },
		{ "{\"loss\": []}", "loss: unknown field" },
	};
	struct run_spec		 rs;
	struct codec_error	 err;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err.message[0] = '\0';
		ck_assert_int_eq(run_spec(cases[i][0], &rs, &err), -1);
		ck_assert_int_eq(err.status, 400);
		ck_assert_msg(strstr(err.message, cases[i][1]) != NULL,
		    "%s: \"%s\" lacks \"%s\"", cases[i][0], err.message,
		    cases[i][1]);
	}
}
END_TEST

START_TEST(scalars)
{
	struct scalars_req	 s;
	struct codec_error	 err;
	const char		*ok = "{\"step\": 3, \"values\": {\"lr\": 0.5,"
	    " \"acc\": \"NaN\"}}";
	const char		*bad[][2] = {
		{ "{\"step\": 3}", "values is missing" },
		{ "{\"step\": 3, \"values\": {}}", "values is empty" },
		{ "{\"step\": 3, \"values\": [1]}", "values must be an object" },
		{ "{\"step\": 3, \"values\": {\"lr\": \"x\"}}",
		    "values.lr is not a number" },
		{ "{\"step\": 3, \"values\": {\"total\": 1}}", "values.total" },
	};
	size_t			 i;

	ck_assert_int_eq(codec_scalars(ok, strlen(ok), &s, &err), 0);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.names[0], "lr");
	ck_assert_double_eq(s.values[0], 0.5);
	ck_assert(isnan(s.values[1]));
	codec_scalars_free(&s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(codec_scalars(bad[i][0], strlen(bad[i][0]),
		    &s, &err), -1);
		ck_assert_msg(strstr(err.message, bad[i][1]) != NULL,
		    "\"%s\" lacks \"%s\"", err.message, bad[i][1]);
	}
}
END_TEST

START_TEST(step_text)
{
	struct codec_error	 err;
	int64_t			 v;

	ck_assert_int_eq(codec_step_text("0", "from", &v, &err), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(codec_step_text("9007199254740991", "to", &v, &err),
	    0);
	ck_assert_int_eq(codec_step_text("9007199254740992", "to", &v, &err),
	    -1);
	ck_assert_int_eq(codec_step_text("-1", "from", &v, &err), -1);
	ck_assert_int_eq(codec_step_text("1.5", "from", &v, &err), -1);
	ck_assert_int_eq(codec_step_text("", "from", &v, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "from must be"));
}
END_TEST

START_TEST(numbers_out)
{
	cJSON	*n;

	n = codec_number(NAN);
	ck_assert_str_eq(n->valuestring, "NaN");
	cJSON_Delete(n);
	n = codec_number(-INFINITY);
	ck_assert_str_eq(n->valuestring, "-Infinity");
	cJSON_Delete(n);
	n = codec_number(0.25);
	ck_assert(cJSON_IsNumber(n));
	cJSON_Delete(n);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("codec");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, batch_shapes);
	tcase_add_test(tc, batch_defaults_and_specials);
	tcase_add_test(tc, batch_inputs);
	tcase_add_test(tc, batch_errors);
	tcase_add_test(tc, names);
	tcase_add_test(tc, run_spec_terms);
	tcase_add_test(tc, canonical_terms);
	tcase_add_test(tc, run_spec_errors);
	tcase_add_test(tc, scalars);
	tcase_add_test(tc, step_text);
	tcase_add_test(tc, numbers_out);
	suite_add_tcase(s, tc);
	return check_run(s);
}
