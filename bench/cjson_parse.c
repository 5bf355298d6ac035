/*
 * The floor of the big JSON batch: cJSON parsing the same bytes alone,
 * with no HTTP, validation, loss or store.
 *
 *   cjson_parse REPS FILE
 *
 * One parse warms up, then REPS parses are timed (each tree is deleted
 * outside the timing).  Prints {"bytes", "seconds" (median), "tree_rss"
 * (how much the resident memory grew while a tree was held)}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static void
die(const char *what)
{
	fprintf(stderr, "cjson_parse: %s\n", what);
	exit(2);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The resident memory of this process in bytes, from /proc. */
static long
rss(void)
{
	char	 line[256];
	long	 kb = 0;
	FILE	*f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb * 1024;
}

static char *
slurp(const char *path, size_t *len)
{
	char	*s;
	long	 n;
	FILE	*f;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) == -1 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) == -1)
		die("cannot read the file");
	if ((s = malloc((size_t)n + 1)) == NULL)
		die("out of memory");
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		die("short read");
	fclose(f);
	s[n] = '\0';
	*len = (size_t)n;
	return s;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	cJSON	*root;
	double	*secs, t0;
	size_t	 len;
	long	 before, grown = 0;
	char	*text;
	int	 reps, i;

	if (argc != 3 || (reps = atoi(argv[1])) < 1)
		die("usage: cjson_parse REPS FILE");
	text = slurp(argv[2], &len);
	if ((secs = calloc((size_t)reps, sizeof(*secs))) == NULL)
		die("out of memory");
	for (i = -1; i < reps; i++) {
		before = rss();
		t0 = now();
		root = cJSON_ParseWithLength(text, len);
		if (i >= 0)
			secs[i] = now() - t0;
		if (root == NULL)
			die("the file is not JSON");
		if (rss() - before > grown)
			grown = rss() - before;
		cJSON_Delete(root);
	}
	qsort(secs, (size_t)reps, sizeof(*secs), cmp_double);
	printf("{\"bytes\": %zu, \"seconds\": %.9g, \"tree_rss\": %ld}\n",
	    len, secs[reps / 2], grown);
	free(text);
	return 0;
}
