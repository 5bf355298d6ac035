/* Unit tests of input arrays: nested JSON numbers and .npy files. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays.h"
#include "check_run.h"

static int
json(const char *s, struct codec_array *a, struct codec_error *err)
{
	size_t	 used;
	int	 rc;

	rc = arrays_json(s, strlen(s), "predictions", 1000, a, &used, err);
	if (rc == 0)
		ck_assert_uint_eq(used, strlen(s));
	return rc;
}

/* Asserts that s is refused with code and a message holding want. */
static void
refused(const char *s, const char *code, const char *want)
{
	struct codec_array	 a;
	struct codec_error	 err;

	ck_assert_msg(json(s, &a, &err) == -1, "accepted %s", s);
	ck_assert_str_eq(err.code, code);
	ck_assert_msg(strstr(err.message, want) != NULL,
	    "for %s: \"%s\" lacks \"%s\"", s, err.message, want);
}

START_TEST(json_shapes)
{
	struct codec_array	 a;
	struct codec_error	 err;

	ck_assert_int_eq(json("[[1, 2.5, -3e2], [0.1, \"NaN\", \"-Infinity\"]]",
	    &a, &err), 0);
	ck_assert_int_eq(a.t.ndim, 2);
	ck_assert_uint_eq(a.t.shape[0], 2);
	ck_assert_uint_eq(a.t.shape[1], 3);
	ck_assert_uint_eq(a.t.n, 6);
	ck_assert(a.t.data[2] == -300.0 && a.t.data[3] == 0.1);
	ck_assert(isnan(a.t.data[4]) && isinf(a.t.data[5]) &&
	    a.t.data[5] < 0);
	free(a.data);

	ck_assert_int_eq(json("[ ]", &a, &err), 0);
	ck_assert_int_eq(a.t.ndim, 1);
	ck_assert_uint_eq(a.t.n, 0);
	free(a.data);

	ck_assert_int_eq(json("[[], []]", &a, &err), 0);
	ck_assert_int_eq(a.t.ndim, 2);
	ck_assert_uint_eq(a.t.shape[0], 2);
	ck_assert_uint_eq(a.t.n, 0);
	free(a.data);

	ck_assert_int_eq(json("[5e-324,1e999,-0]", &a, &err), 0);
	ck_assert(a.t.data[0] > 0 && isinf(a.t.data[1]));
	ck_assert(a.t.data[2] == 0 && signbit(a.t.data[2]));
	free(a.data);
}
END_TEST

START_TEST(json_errors)
{
	refused("[[1, 2], [3]]", "invalid_field",
	    "predictions[1] has 1 elements but the first array");
	refused("[[1, 2], 3]", "invalid_field",
	    "predictions[1] must be an array");
	refused("[1, [2]]", "invalid_field",
	    "predictions[1] is an array but the first element");
	refused("[1, \"two\"]", "invalid_field",
	    "predictions[1] is not a number");
	refused("[1, null]", "invalid_field", "predictions[1] is not a number");
	refused("[1, {}]", "invalid_field", "predictions[1] is not a number");
	refused("[[[[[[[[[1]]]]]]]]]", "invalid_field",
	    "deeper than 8 dimensions");
	refused("[1,", "bad_json", "predictions[1] is not valid JSON");
	refused("[1 2]", "bad_json", "',' or ']' expected");
	refused("[01]", "bad_json", "expected");
	refused("[+1]", "bad_json", "predictions[0] is not valid JSON");
	refused("[.5]", "bad_json", "predictions[0] is not valid JSON");
	refused("[1.]", "bad_json", "predictions[0] is not valid JSON");
	refused("[1e]", "bad_json", "predictions[0] is not valid JSON");
	refused("[0x10]", "bad_json", "expected");
	refused("[NaN]", "bad_json", "predictions[0] is not valid JSON");
	refused("[Infinity]", "bad_json", "predictions[0] is not valid JSON");
	refused("[\"nan\"]", "invalid_field", "predictions[0] is not a number");
	refused("[1", "bad_json", "expected");
}
END_TEST

START_TEST(json_limit)
{
	struct codec_array	 a;
	struct codec_error	 err;
	size_t			 used;

	ck_assert_int_eq(arrays_json("[1,2,3,4]", 9, "targets", 3, &a, &used,
	    &err), -1);
	ck_assert_int_eq(err.status, 413);
	ck_assert_ptr_nonnull(strstr(err.message, "targets[3]"));
	ck_assert_int_eq(arrays_json("[1,2,3] tail", 12, "targets", 3, &a,
	    &used, &err), 0);
	ck_assert_uint_eq(used, 7);
	free(a.data);
}
END_TEST

/* An .npy file: the header dictionary, padded, then the data. */
static size_t
npy(unsigned char *out, const char *dict, const void *data, size_t len)
{
	size_t	 h = strlen(dict), pad = 64 - (10 + h + 1) % 64;

	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (unsigned char)((h + pad + 1) & 0xff);
	out[9] = (unsigned char)((h + pad + 1) >> 8);
	memcpy(out + 10, dict, h);
	memset(out + 10 + h, ' ', pad);
	out[10 + h + pad] = '\n';
	memcpy(out + 11 + h + pad, data, len);
	return 11 + h + pad + len;
}

/* A fixed sequence of pseudo-random numbers (xorshift64*). */
static uint64_t
next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

/* Writes a number as a training job might, or as nobody would: the
 * shortest forms of random doubles, and random digit strings with
 * random decimal points and exponents, most of them inside the range
 * that is converted without strtod and some just outside it. */
static void
random_number(uint64_t *x, char *buf, size_t len)
{
	uint64_t	 r = next_random(x), bits;
	double		 d;
	size_t		 i, k, ndig, point;

	if (r % 3 == 0) {
		do {
			bits = next_random(x);
			/* exponents near 0 are the common case */
			if (r & 8)
				bits = (bits & 0x800fffffffffffffULL) |
				    ((uint64_t)(1023 - 60 + (r >> 8) % 120)
				    << 52);
			memcpy(&d, &bits, sizeof(d));
		} while (!isfinite(d));
		/* "%.12f" only for the small exponents: it fits buf */
		switch ((r >> 4) % (r & 8 ? 6 : 5)) {
		case 0:
			snprintf(buf, len, "%.17g", d);
			break;
		case 1:
			snprintf(buf, len, "%.16g", d);
			break;
		case 2:
			snprintf(buf, len, "%.15g", d);
			break;
		case 3:
			snprintf(buf, len, "%.6e", d);
			break;
		case 4:
			snprintf(buf, len, "%.3g", d);
			break;
		default:
			snprintf(buf, len, "%.12f", d);
			break;
		}
		return;
	}
	k = 0;
	if (r & 16)
		buf[k++] = '-';
	ndig = 1 + (r >> 5) % 21;
	point = (r >> 10) % (ndig + 1);
	for (i = 0; i < ndig; i++) {
		if (i == point && i > 0)
			buf[k++] = '.';
		buf[k++] = (char)('0' + (i == 0 && ndig > 1 ?
		    1 + next_random(x) % 9 : next_random(x) % 10));
	}
	if (r & 32)
		snprintf(buf + k, len - k, "e%d", (int)((r >> 20) % 81) - 40);
	else
		buf[k] = '\0';
}

/* Every number reads as the double strtod gives for its text. */
START_TEST(json_numbers_exact)
{
	enum { N = 200000 };
	/* Ties to even above 2^53 (one each way), exact halves, 10^23
	 * (whose nearest double lies below it), the ends of the exact
	 * range, and numbers only strtod reads. */
	static const char *const hard[] = { "9007199254740993",
	    "9007199254740995", "-9007199254740993", "0.5", "-0.0",
	    "1e23", "1e-27", "1e27", "9999999999999999999e-27",
	    "9999999999999999999e27", "1e28", "1e-28", "0.1", "0.3",
	    "12345678901234567890", "2.2250738585072014e-308",
	    "1.7976931348623157e308", "4.9e-324", "0e400", "-0.000e-7" };
	struct codec_array	 a;
	struct codec_error	 err;
	char			*text, (*nums)[48];
	uint64_t		 x = 0x9e3779b97f4a7c15ULL;
	size_t			 i, k = 0, used;
	double			 want;

	nums = malloc(N * sizeof(*nums));
	text = malloc(N * sizeof(*nums) + 2);
	ck_assert(nums != NULL && text != NULL);
	text[k++] = '[';
	for (i = 0; i < N; i++) {
		if (i < sizeof(hard) / sizeof(hard[0]))
			snprintf(nums[i], sizeof(nums[i]), "%s", hard[i]);
		else
			random_number(&x, nums[i], sizeof(nums[i]));
		k += (size_t)sprintf(text + k, "%s%s", i ? "," : "", nums[i]);
	}
	text[k++] = ']';
	ck_assert_int_eq(arrays_json(text, k, "predictions", N, &a, &used,
	    &err), 0);
	ck_assert_uint_eq(a.t.n, N);
	for (i = 0; i < N; i++) {
		want = strtod(nums[i], NULL);
		ck_assert_msg(memcmp(&want, &a.t.data[i], sizeof(want)) == 0,
		    "%s read as %.17g, strtod says %.17g", nums[i],
		    a.t.data[i], want);
	}
	free(a.data);
	free(text);
	free(nums);
}
END_TEST

START_TEST(npy_types)
{
	static const double	 f8[6] = { 1, 2.5, -3, 0.1, 1e300, -0.0 };
	static const float	 f4[3] = { 0.5f, -1.25f, 3.0f };
	static const int64_t	 i8[4] = { 0, 3, 9, -1 };
	struct codec_array	 a;
	struct codec_error	 err;
	unsigned char		 buf[512];
	size_t			 n;

	n = npy(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3),"
	    " }", f8, sizeof(f8));
	ck_assert_int_eq(arrays_npy(buf, n, "predictions", 100, &a, &err), 0);
	ck_assert_int_eq(a.t.ndim, 2);
	ck_assert_uint_eq(a.t.shape[1], 3);
	ck_assert_mem_eq(a.t.data, f8, sizeof(f8));
	free(a.data);

	n = npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
	    f4, sizeof(f4));
	ck_assert_int_eq(arrays_npy(buf, n, "predictions", 100, &a, &err), 0);
	ck_assert(a.t.ndim == 1 && a.t.data[1] == -1.25);
	free(a.data);

	n = npy(buf, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
	    i8, sizeof(i8));
	ck_assert_int_eq(arrays_npy(buf, n, "targets", 100, &a, &err), 0);
	ck_assert(a.t.data[2] == 9 && a.t.data[3] == -1);
	free(a.data);
}
END_TEST

/* Every dtype, at its extremes, and float64 both in place (aligned)
 * and copied (one byte off). */
START_TEST(npy_every_dtype)
{
	static const int8_t	 i1[2] = { -128, 127 };
	static const uint8_t	 u1[2] = { 0, 255 };
	static const int16_t	 i2[2] = { -32768, 32767 };
	static const uint16_t	 u2[2] = { 0, 65535 };
	static const int32_t	 i4[2] = { INT32_MIN, INT32_MAX };
	static const uint32_t	 u4[2] = { 0, UINT32_MAX };
	static const int64_t	 i8[2] = { INT64_MIN, INT64_MAX };
	static const uint64_t	 u8[2] = { 0, UINT64_MAX };
	static const uint8_t	 b1[2] = { 0, 1 };
	static const double	 f8[2] = { -0.0, 1e-300 };
	static const struct {
		const char	*descr;
		const void	*data;
		size_t		 size;
		double		 lo, hi;
	} cases[] = {
		{ "|i1", i1, sizeof(i1), -128, 127 },
		{ "|u1", u1, sizeof(u1), 0, 255 },
		{ "<i2", i2, sizeof(i2), -32768, 32767 },
		{ "<u2", u2, sizeof(u2), 0, 65535 },
		{ "<i4", i4, sizeof(i4), INT32_MIN, INT32_MAX },
		{ "<u4", u4, sizeof(u4), 0, UINT32_MAX },
		{ "<i8", i8, sizeof(i8), -9223372036854775808.0,
		    9223372036854775808.0 },
		{ "<u8", u8, sizeof(u8), 0, 18446744073709551616.0 },
		{ "|b1", b1, sizeof(b1), 0, 1 },
		{ "<f8", f8, sizeof(f8), -0.0, 1e-300 },
	};
	struct codec_array	 a;
	struct codec_error	 err;
	_Alignas(double) unsigned char buf[520];
	char			 dict[80];
	size_t			 i, n, skew;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (skew = 0; skew < 2; skew++) {
			snprintf(dict, sizeof(dict), "{'descr': '%s',"
			    " 'fortran_order': False, 'shape': (2,), }",
			    cases[i].descr);
			n = npy(buf + skew, dict, cases[i].data,
			    cases[i].size);
			ck_assert_int_eq(arrays_npy(buf + skew, n, "targets",
			    100, &a, &err), 0);
			ck_assert_msg(a.t.data[0] == cases[i].lo &&
			    a.t.data[1] == cases[i].hi && signbit(a.t.data[0])
			    == signbit(cases[i].lo), "%s: %g %g",
			    cases[i].descr, a.t.data[0], a.t.data[1]);
			/* in place exactly when float64 and aligned */
			ck_assert((a.data == NULL) ==
			    (cases[i].data == f8 && skew == 0));
			free(a.data);
		}
}
END_TEST

START_TEST(npy_errors)
{
	static const double	 d[4] = { 1, 2, 3, 4 };
	static const char *const bad[][2] = {
		{ "{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }",
		    "dtype" },
		{ "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }",
		    "dtype" },
		{ "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
		    "C order" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }",
		    "holds 32 bytes of data but its shape needs 40" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (x), }",
		    "shape" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (9999,"
		    " 9999), }", "past 100 values" },
	};
	struct codec_array	 a;
	struct codec_error	 err;
	unsigned char		 buf[512];
	size_t			 i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = npy(buf, bad[i][0], d, sizeof(d));
		ck_assert_int_eq(arrays_npy(buf, n, "predictions", 100, &a,
		    &err), -1);
		ck_assert_msg(strstr(err.message, bad[i][1]) != NULL,
		    "case %zu: \"%s\" lacks \"%s\"", i, err.message, bad[i][1]);
	}
	ck_assert_int_eq(arrays_npy((const unsigned char *)"PK\3\4 zip file",
	    14, "predictions", 100, &a, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "not a NumPy .npy file"));
	n = npy(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
	    d, sizeof(d));
	ck_assert_int_eq(arrays_npy(buf, 40, "predictions", 100, &a, &err),
	    -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("arrays");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, json_shapes);
	tcase_add_test(tc, json_errors);
	tcase_add_test(tc, json_limit);
	tcase_add_test(tc, json_numbers_exact);
	tcase_add_test(tc, npy_types);
	tcase_add_test(tc, npy_every_dtype);
	tcase_add_test(tc, npy_errors);
	/* 200,000 numbers take long under the sanitizers */
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
