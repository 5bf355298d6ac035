/* Unit tests of URL routing: decoding once, segments, web-root files. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "route.h"
#include "check_run.h"

START_TEST(unescape)
{
	char	 a[] = "a%2Fb%20c%25d%C3%A9", b[] = "%zz", c[] = "%4",
		 d[] = "x%00y", e[] = "plain";

	ck_assert_int_eq(route_unescape(a), 9);
	ck_assert_str_eq(a, "a/b c%d\xc3\xa9");
	ck_assert_int_eq(route_unescape(b), -1);
	ck_assert_int_eq(route_unescape(c), -1);
	ck_assert_int_eq(route_unescape(d), -1);
	ck_assert_int_eq(route_unescape(e), 5);
}
END_TEST

/* "%2F" decodes inside its segment; "%2525" decodes once, to "%25". */
START_TEST(segments)
{
	char	 buf[256], *seg[ROUTE_MAX_SEGMENTS];
	size_t	 n;

	ck_assert_int_eq(route_segments("runs/a%2Fb/history", buf,
	    sizeof(buf), seg, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(seg[1], "a/b");
	ck_assert_int_eq(route_segments("runs/%2525", buf, sizeof(buf), seg,
	    &n), 0);
	ck_assert_str_eq(seg[1], "%25");
	ck_assert_int_eq(route_segments("a/b/c/d/e/f/g/h/i", buf,
	    sizeof(buf), seg, &n), -1);
	ck_assert_int_eq(route_segments("runs/%G0", buf, sizeof(buf), seg,
	    &n), -1);
	ck_assert_int_eq(route_segments("runs/x", buf, 4, seg, &n), -1);
	ck_assert_int_eq(route_segments("runs//x", buf, sizeof(buf), seg, &n),
	    -1);
	ck_assert_int_eq(route_segments("runs/x/", buf, sizeof(buf), seg, &n),
	    0);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(files)
{
	static const char *const refused[] = {
		"/../etc/passwd", "/%2e%2e/etc/passwd", "/a/%2E%2E/b",
		"/..%2Fetc/passwd", "/%2F%2Fetc/passwd", "/a%5C..%5Cb",
		"/.git/config", "/vendor/.hidden", "/%00", "/%zz",
	};
	char	 out[256];
	size_t	 i;

	ck_assert_int_eq(route_file("/w", "/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/w/index.html");
	ck_assert_int_eq(route_file("/w", "/vendor/u.js", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "/w/vendor/u.js");
	ck_assert_int_eq(route_file("/w", "/sub/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/w/sub/index.html");
	ck_assert_int_eq(route_file("/w", "//app.js", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/w/app.js");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_msg(route_file("/w", refused[i], out, sizeof(out))
		    == -1, "served %s as %s", refused[i], out);
	ck_assert_int_eq(route_file("/w", "/long-name.js", out, 8), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("route");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, unescape);
	tcase_add_test(tc, segments);
	tcase_add_test(tc, files);
	suite_add_tcase(s, tc);
	return check_run(s);
}
