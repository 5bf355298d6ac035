/*
 * The loss engine: PyTorch's loss functions on arrays of doubles.
 *
 * Pure computation: no I/O, no JSON, no allocation that outlives a call.
 * A loss over one batch is reduced to a short vector of statistics that
 * add up across batches (sums and counts); the value of a loss is a
 * function of those statistics alone, so the batches of one step give
 * exactly the loss of all their samples taken together.
 */
#ifndef LOSSMON_LOSS_H
#define LOSSMON_LOSS_H

#include <stddef.h>

#define LOSS_MAX_DIMS	8	/* dimensions of one input */
#define LOSS_MAX_PARAMS	4	/* scalar parameters of one loss */
#define LOSS_MAX_STATS	4	/* statistics kept for one loss */

enum loss_type {
	LOSS_MSE,
	LOSS_MAE,
	LOSS_HUBER,
	LOSS_BCE,
	LOSS_CROSS_ENTROPY,
	LOSS_FOCAL,
	LOSS_CONTRASTIVE,
	LOSS_DICE,
	LOSS_NTYPES
};

/* A dense row-major array and its shape; the engine never owns data. */
struct tensor {
	const double	*data;
	size_t		 n;			/* product of shape */
	int		 ndim;			/* 0 for a scalar */
	size_t		 shape[LOSS_MAX_DIMS];
};

/* One scalar parameter of a loss type, as the API names it. */
struct loss_param {
	const char	*name;
	double		 def;		/* value when the request omits it */
	double		 min;		/* smallest allowed value */
	int		 min_open;	/* 1: the value must exceed min */
	const char	*doc;		/* one line for documentation */
};

/* A configured loss: its type and the values of its parameters, in the
 * order loss_param_info() gives them. */
struct loss_spec {
	enum loss_type	 type;
	double		 params[LOSS_MAX_PARAMS];
};

/* Additive statistics of a loss over some samples. */
struct loss_stats {
	double		 s[LOSS_MAX_STATS];
};

/* The API name of a type ("mse", "cross_entropy", ...); NULL for a
 * value that is no type. */
const char	*loss_type_name(enum loss_type);

/* Looks a type up by its API name; 0 when found, -1 when unknown. */
int		 loss_type_lookup(const char *, enum loss_type *);

/* What a type expects, in one line each, for error messages and docs;
 * NULL for a value that is no type. */
const char	*loss_type_inputs(enum loss_type);
const char	*loss_type_formula(enum loss_type);

/* Number of parameters of a type and the description of the i-th
 * (NULL when i is out of range). */
size_t		 loss_nparams(enum loss_type);
const struct loss_param *loss_param_info(enum loss_type, size_t);

/* A spec of the type with every parameter at its default. */
void		 loss_spec_default(struct loss_spec *, enum loss_type);

/*
 * Checks a parameter value against its bounds.  Returns 0 when it is
 * allowed; otherwise -1 with a message such as "must be greater than 0"
 * or "must be a finite number" (without the parameter's name) written
 * to err.  NaN and infinities are never allowed.
 */
int		 loss_param_check(enum loss_type, size_t, double,
		    char *err, size_t errlen);

/* Number of entries of loss_stats that a type uses. */
size_t		 loss_nstats(enum loss_type);

/*
 * Computes the statistics of one batch.  Checks that the shapes of
 * predictions and targets fit the type (never broadcast or truncate)
 * and that values are in range (probabilities in [0,1], class indices
 * integral and in [0,C), labels 0 or 1).  Returns 0 on success; -1 with
 * a message naming "predictions" or "targets" and the problem, for
 * example "targets has 4 rows but predictions has 3", written to err
 * (when err is not NULL), and out left untouched.  An input without
 * elements is an error.
 * Non-finite inputs are not an error: they give a non-finite loss.
 * For bce a NaN probability or target is taken as unknown, not out of
 * range (torch would refuse a NaN probability); class indices and 0/1
 * labels (contrastive, dice targets) must be exact, so NaN is an error
 * there.
 */
int		 loss_batch(const struct loss_spec *,
		    const struct tensor *pred, const struct tensor *target,
		    struct loss_stats *out, char *err, size_t errlen);

/* acc += b, entry by entry, over the entries the type uses. */
void		 loss_stats_add(enum loss_type, struct loss_stats *acc,
		    const struct loss_stats *b);

/* The value of the loss (mean reduction) for accumulated statistics.
 * May be NaN or infinite; an empty accumulation gives NaN. */
double		 loss_value(const struct loss_spec *,
		    const struct loss_stats *);

#endif
