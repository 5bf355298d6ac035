/*
 * libFuzzer target: the loss engine on arbitrary shapes and values.
 * Input: a type byte, the parameters as raw doubles, then for
 * predictions and targets a dimension count and small dimensions, and
 * the rest as raw doubles (NaN, infinities and denormals included).
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "loss.h"

#define MAX_VALUES	4096

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Takes n bytes from the input, or zeros when it is used up. */
static void
take(const uint8_t **data, size_t *size, void *out, size_t n)
{
	size_t	 k = n < *size ? n : *size;

	memset(out, 0, n);
	memcpy(out, *data, k);
	*data += k;
	*size -= k;
}

static void
shape(const uint8_t **data, size_t *size, struct tensor *t)
{
	uint8_t	 b;
	int	 i;

	take(data, size, &b, 1);
	t->ndim = b % 4;
	t->n = 1;
	for (i = 0; i < t->ndim; i++) {
		take(data, size, &b, 1);
		t->shape[i] = b % 9;
		t->n *= t->shape[i];
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static double		 buf[2][MAX_VALUES];
	/* The statistics of multi-class Dice make these large. */
	static struct loss_stats one, acc;
	struct loss_spec	 spec;
	struct loss_inputs	 in;
	struct tensor		 pred, tgt;
	char			 err[256];
	uint8_t			 b;
	size_t			 i, np;
	double			 v;

	take(&data, &size, &b, 1);
	loss_spec_default(&spec, (enum loss_type)(b % LOSS_NTYPES));
	np = loss_nparams(spec.type);
	for (i = 0; i < np; i++) {
		take(&data, &size, &v, sizeof(v));
		if (loss_param_check(spec.type, i, v, err, sizeof(err)) == 0)
			spec.params[i] = v;
	}
	shape(&data, &size, &pred);
	shape(&data, &size, &tgt);
	if (pred.n > MAX_VALUES || tgt.n > MAX_VALUES)
		return 0;
	take(&data, &size, buf[0], pred.n * sizeof(double));
	take(&data, &size, buf[1], tgt.n * sizeof(double));
	pred.data = buf[0];
	tgt.data = buf[1];

	memset(&in, 0, sizeof(in));
	in.t[LOSS_PREDICTIONS] = &pred;
	in.t[LOSS_TARGETS] = &tgt;
	memset(&acc, 0, sizeof(acc));
	if (loss_batch(&spec, &in, &one, err, sizeof(err)) == 0) {
		/* Twice the same batch: the mean of a mean-reduced loss. */
		if (loss_stats_add(&spec, &acc, &one, err, sizeof(err)) == 0 &&
		    loss_stats_add(&spec, &acc, &one, err, sizeof(err)) == 0) {
			v = loss_value(&spec, &acc);
			(void)isnan(v);
		}
	}
	return 0;
}
