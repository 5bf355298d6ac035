/* Unit tests of the configuration: defaults, file, flags. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "check_run.h"

START_TEST(defaults)
{
	struct conf	 c;

	ck_assert_int_eq(conf_defaults(&c), 0);
	ck_assert_str_eq(c.listen, "127.0.0.1:8080");
	ck_assert_str_eq(c.synchronous, "full");
	ck_assert_uint_eq(c.ndefault, 1);
	ck_assert_str_eq(c.default_terms[0].name, "mse");
	conf_free(&c);
}
END_TEST

START_TEST(example_file_parses)
{
	struct conf	 c;
	char		 err[256];

	ck_assert_int_eq(conf_defaults(&c), 0);
	ck_assert_msg(conf_load(&c, TOP_SRCDIR "/examples/lossmond.conf", err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.db, "lossmon.db");
	conf_free(&c);
}
END_TEST

START_TEST(comments_and_losses)
{
	struct conf	 c;
	char		 err[256];
	const char	*text = "// a comment\n{ /* here too */\n"
	    "\"listen\": \"[::1]:0\", \"threads\": 2,\n"
	    "\"default_losses\": [{\"type\": \"huber\", \"delta\": 0.5,"
	    " \"weight\": 2}, {\"type\": \"mae\", \"name\": \"l1\"}]}";

	ck_assert_int_eq(conf_defaults(&c), 0);
	ck_assert_msg(conf_parse(&c, text, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.listen, "[::1]:0");
	ck_assert_uint_eq(c.threads, 2);
	ck_assert_uint_eq(c.ndefault, 2);
	ck_assert_str_eq(c.default_terms[1].name, "l1");
	ck_assert_double_eq(c.default_terms[0].spec.params[0], 0.5);
	conf_free(&c);
}
END_TEST

/* Each bad file names the key and the problem. */
START_TEST(bad_files)
{
	static const char *const cases[][2] = {
		{ "[1, 2]", "not a JSON object" },
		{ "{\"listne\": \"x\"}", "listne: unknown key" },
		{ "{\"threads\": -1}", "threads must be an integer" },
		{ "{\"threads\": 257}", "threads must be an integer" },
		{ "{\"threads\": 2.5}", "threads must be an integer" },
		{ "{\"db\": 5}", "db must be a string" },
		{ "{\"log_level\": \"loud\"}", "log_level must be" },
		{ "{\"synchronous\": \"maybe\"}", "synchronous must be" },
		{ "{\"default_losses\": []}", "at least one" },
		{ "{\"default_losses\": [{\"type\": \"huber\", \"delta\": -1}]}",
		    "delta" },
	};
	struct conf	 c;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(conf_defaults(&c), 0);
		err[0] = '\0';
		ck_assert_int_eq(conf_parse(&c, cases[i][0], err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, cases[i][1]) != NULL,
		    "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i][1]);
		conf_free(&c);
	}
}
END_TEST

START_TEST(flags_override_file)
{
	struct conf	 c;
	char		 err[256], path[] = "/tmp/lossmon-conf-XXXXXX";
	char		*argv[] = { "lossmond", "--db", "b.db", "--config", path,
			    NULL };
	FILE		*f;
	int		 fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("{\"db\": \"a.db\", \"listen\": \"127.0.0.1:9\"}", f);
	fclose(f);
	ck_assert_int_eq(conf_defaults(&c), 0);
	ck_assert_msg(conf_args(&c, 5, argv, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_str_eq(c.db, "b.db");
	ck_assert_str_eq(c.listen, "127.0.0.1:9");
	remove(path);
	conf_free(&c);
}
END_TEST

START_TEST(bad_flags)
{
	struct conf	 c;
	char		 err[256];
	char		*a1[] = { "lossmond", "--lisen", "x", NULL };
	char		*a2[] = { "lossmond", "--db", NULL };
	char		*a3[] = { "lossmond", "--config", "/nonexistent/x", NULL };

	ck_assert_int_eq(conf_defaults(&c), 0);
	ck_assert_int_eq(conf_args(&c, 3, a1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--lisen"));
	ck_assert_int_eq(conf_args(&c, 2, a2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--db needs a value"));
	ck_assert_int_eq(conf_args(&c, 3, a3, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x"));
	conf_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, example_file_parses);
	tcase_add_test(tc, comments_and_losses);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, flags_override_file);
	tcase_add_test(tc, bad_flags);
	suite_add_tcase(s, tc);
	return check_run(s);
}
