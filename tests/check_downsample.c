/* Unit tests of the downsampling of history for charts. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "downsample.h"
#include "check_run.h"

static struct point *
series(size_t n)
{
	struct point	*p = calloc(n, sizeof(*p));
	size_t		 i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		p[i].step = (int64_t)i;
		p[i].value = 1.0 + (double)(i % 7) / 10.0;
		p[i].time = 1000.0 + (double)i;
	}
	return p;
}

static int
has_step(const struct point *p, size_t n, int64_t step)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i].step == step)
			return 1;
	return 0;
}

START_TEST(short_series_untouched)
{
	struct point	*p = series(10);

	ck_assert_uint_eq(downsample(p, 10, 10), 10);
	ck_assert_uint_eq(downsample(p, 10, 0), 10);
	ck_assert_uint_eq(downsample(p, 3, 100), 3);
	free(p);
}
END_TEST

START_TEST(bounded_ordered_first_last)
{
	size_t		 n = 100000, max = 2000, m, i;
	struct point	*p = series(n);

	m = downsample(p, n, max);
	ck_assert_uint_le(m, max);
	ck_assert_uint_gt(m, max / 2);
	ck_assert_int_eq(p[0].step, 0);
	ck_assert_int_eq(p[m - 1].step, (int64_t)n - 1);
	for (i = 1; i < m; i++)
		ck_assert_int_lt(p[i - 1].step, p[i].step);
	free(p);
}
END_TEST

START_TEST(spike_and_dip_survive)
{
	size_t		 n = 1000000, m;
	struct point	*p = series(n);

	p[123457].value = 1e6;
	p[765433].value = -1e6;
	m = downsample(p, n, 100);
	ck_assert(has_step(p, m, 123457));
	ck_assert(has_step(p, m, 765433));
	free(p);
}
END_TEST

START_TEST(non_finite_kept)
{
	size_t		 n = 50000, m, i;
	struct point	*p = series(n);
	int		 nan = 0, inf = 0;

	p[4242].value = NAN;
	p[30001].value = INFINITY;
	m = downsample(p, n, 50);
	for (i = 0; i < m; i++) {
		nan += isnan(p[i].value) && p[i].step == 4242;
		inf += isinf(p[i].value) && p[i].step == 30001;
	}
	ck_assert_int_eq(nan, 1);
	ck_assert_int_eq(inf, 1);
	free(p);
}
END_TEST

START_TEST(deterministic)
{
	size_t		 n = 77777, m1, m2;
	struct point	*a = series(n), *b = series(n);

	m1 = downsample(a, n, 333);
	m2 = downsample(b, n, 333);
	ck_assert_uint_eq(m1, m2);
	ck_assert_mem_eq(a, b, m1 * sizeof(*a));
	free(a);
	free(b);
}
END_TEST

START_TEST(tiny_max)
{
	size_t		 m;
	struct point	*p = series(100);

	m = downsample(p, 100, 1);
	ck_assert_uint_le(m, 5);
	ck_assert_int_eq(p[0].step, 0);
	ck_assert_int_eq(p[m - 1].step, 99);
	free(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("downsample");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, short_series_untouched);
	tcase_add_test(tc, bounded_ordered_first_last);
	tcase_add_test(tc, spike_and_dip_survive);
	tcase_add_test(tc, non_finite_kept);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, tiny_max);
	suite_add_tcase(s, tc);
	return check_run(s);
}
