/*
 * Times the loss engine alone: loss_batch() of one type, with its
 * default parameters, over arrays of doubles read from raw files.
 *
 *   loss_bench --list
 *   loss_bench REPS TYPE FIELD=FILE:SHAPE...
 *
 * --list prints each type and the fields it takes (optional ones with
 * a "?").  Otherwise FILE holds the native doubles of the field, SHAPE
 * is like 100000x10; one call warms up, then REPS calls are timed.
 * Prints {"type", "seconds" (median of the calls), "value"}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loss.h"

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "loss_bench: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	exit(2);
}

static void
list_types(void)
{
	const struct loss_input	*in;
	enum loss_type		 t;
	size_t			 i;

	for (t = 0; t < LOSS_NTYPES; t++) {
		printf("%s", loss_type_name(t));
		for (i = 0; (in = loss_input_info(t, i)) != NULL; i++)
			printf(" %s%s", loss_field_name(in->field),
			    in->optional ? "?" : "");
		printf("\n");
	}
}

/* Reads FIELD=FILE:SHAPE into a tensor whose data it allocates. */
static void
load_field(char *arg, struct tensor *t, enum loss_field *field)
{
	char	*file, *shape, *dim;
	double	*data;
	FILE	*f;

	if ((file = strchr(arg, '=')) == NULL ||
	    (shape = strrchr(file, ':')) == NULL)
		die("expected FIELD=FILE:SHAPE", arg);
	*file++ = '\0';
	*shape++ = '\0';
	if (loss_field_lookup(arg, field) == -1)
		die("no such field", arg);
	memset(t, 0, sizeof(*t));
	t->n = 1;
	for (dim = strtok(shape, "x"); dim != NULL; dim = strtok(NULL, "x")) {
		if (t->ndim == LOSS_MAX_DIMS)
			die("too many dimensions", file);
		t->shape[t->ndim++] = strtoul(dim, NULL, 10);
		t->n *= t->shape[t->ndim - 1];
	}
	if ((data = malloc(t->n * sizeof(*data))) == NULL)
		die("out of memory", NULL);
	if ((f = fopen(file, "rb")) == NULL ||
	    fread(data, sizeof(*data), t->n, f) != t->n)
		die("cannot read", file);
	fclose(f);
	t->data = data;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	static struct tensor	 tensors[LOSS_NFIELDS];
	static struct loss_stats stats;
	struct loss_inputs	 in;
	struct tensor		 t;
	struct loss_spec	 spec;
	enum loss_type		 type;
	enum loss_field		 field;
	double			*secs, t0;
	char			 err[512];
	int			 reps, i;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		list_types();
		return 0;
	}
	if (argc < 4 || (reps = atoi(argv[1])) < 1)
		die("usage: loss_bench REPS TYPE FIELD=FILE:SHAPE...", NULL);
	if (loss_type_lookup(argv[2], &type) == -1)
		die("no such loss type", argv[2]);
	memset(&in, 0, sizeof(in));
	for (i = 3; i < argc; i++) {
		load_field(argv[i], &t, &field);
		tensors[field] = t;
		in.t[field] = &tensors[field];
	}
	loss_spec_default(&spec, type);
	if ((secs = calloc((size_t)reps, sizeof(*secs))) == NULL)
		die("out of memory", NULL);

	for (i = -1; i < reps; i++) {
		t0 = now();
		if (loss_batch(&spec, &in, &stats, err, sizeof(err)) == -1)
			die(argv[2], err);
		if (i >= 0)
			secs[i] = now() - t0;
	}
	qsort(secs, (size_t)reps, sizeof(*secs), cmp_double);
	printf("{\"type\": \"%s\", \"seconds\": %.9g, \"value\": %.17g}\n",
	    argv[2], secs[reps / 2], loss_value(&spec, &stats));
	return 0;
}
