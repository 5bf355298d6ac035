/* The end of every unit test program: run the suite, report as Check
 * does, and exit 0 only when every test passed (automake's protocol). */
#ifndef LOSSMON_CHECK_RUN_H
#define LOSSMON_CHECK_RUN_H

#include <check.h>

static int
check_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

#endif
