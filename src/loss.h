/*
 * The loss engine: PyTorch's loss functions on arrays of doubles.
 *
 * Pure computation: no I/O, no JSON, no allocation.  A loss over one
 * batch is reduced to a vector of statistics that add up across batches
 * (sums and counts); the value of a loss is a function of those
 * statistics alone, so the batches of one step give exactly the loss of
 * all their samples taken together.
 *
 * Each type describes itself in tables: the input arrays it takes (by
 * the names of their fields in a batch), its parameters with their
 * kinds, defaults and bounds, and its formula in one line.  The API's
 * catalogue of losses and the README's table are written from them.
 */
#ifndef LOSSMON_LOSS_H
#define LOSSMON_LOSS_H

#include <stddef.h>

#define LOSS_MAX_DIMS		8	/* dimensions of one input */
#define LOSS_MAX_PARAMS		6	/* parameters of one loss */
#define LOSS_MAX_CLASSES	1024	/* classes of a multi-class Dice */
#define LOSS_MAX_STATS		(3 * LOSS_MAX_CLASSES + 1)

enum loss_type {
	LOSS_MSE,
	LOSS_MAE,
	LOSS_HUBER,
	LOSS_BCE,
	LOSS_CROSS_ENTROPY,
	LOSS_FOCAL,
	LOSS_CONTRASTIVE,
	LOSS_DICE,
	LOSS_BCE_WITH_LOGITS,
	LOSS_SMOOTH_L1,
	LOSS_NLL,
	LOSS_KL_DIV,
	LOSS_SIGMOID_FOCAL,
	LOSS_COSINE_EMBEDDING,
	LOSS_MARGIN_RANKING,
	LOSS_TRIPLET_MARGIN,
	LOSS_HINGE_EMBEDDING,
	LOSS_POISSON_NLL,
	LOSS_GAUSSIAN_NLL,
	LOSS_LOG_COSH,
	LOSS_QUANTILE,
	LOSS_NTYPES
};

/* The input arrays of a batch, named as the fields of its body. */
enum loss_field {
	LOSS_PREDICTIONS,
	LOSS_TARGETS,
	LOSS_PREDICTIONS2,
	LOSS_POSITIVES,
	LOSS_NEGATIVES,
	LOSS_VARIANCE,
	LOSS_WEIGHTS,
	LOSS_NFIELDS
};

/* A dense row-major array and its shape; the engine never owns data. */
struct tensor {
	const double	*data;
	size_t		 n;			/* product of shape */
	int		 ndim;			/* 0 for a scalar */
	size_t		 shape[LOSS_MAX_DIMS];
};

/* The arrays of one batch by field; NULL where the batch has none. */
struct loss_inputs {
	const struct tensor	*t[LOSS_NFIELDS];
};

/* An input array that a loss type takes. */
struct loss_input {
	enum loss_field	 field;
	int		 optional;
	const char	*shape;		/* what it holds and its shape */
};

enum loss_param_kind {
	LOSS_PARAM_NUMBER,
	LOSS_PARAM_BOOLEAN,		/* 0 or 1 */
	LOSS_PARAM_WORD,		/* the index of one of words */
	LOSS_PARAM_LIST,		/* a list of numbers, or none */
	LOSS_PARAM_NUMBER_OR_LIST	/* one number or a list of them */
};

/* Flags of a parameter. */
#define LOSS_MIN_OPEN	0x01	/* the value must exceed min */
#define LOSS_MAX_OPEN	0x02	/* the value must be below max */
#define LOSS_INTEGER	0x04	/* the value must be an integer */
#define LOSS_OPTION	0x08	/* a switch: written out when set */
#define LOSS_PER_CLASS	0x10	/* a list of one value per class */

/*
 * A parameter of a loss type, as the API names it.  Numbers, and the
 * entries of lists, must be finite and within [min,max]; a list has at
 * least one entry.  A type has at most one parameter that may be a
 * list, and its values live outside the spec (see loss_spec).
 */
struct loss_param {
	const char		*name;
	enum loss_param_kind	 kind;
	double			 def;		/* value when omitted */
	double			 min, max;
	unsigned		 flags;
	const char *const	*words;		/* NULL-terminated */
	const char		*doc;		/* one line */
};

/*
 * A configured loss: its type and its parameter values in the order
 * loss_param_info() gives them (booleans 0 or 1, words by index).  The
 * values of the list parameter, when it was given as a list, are list
 * and nlist; they belong to whoever filled the spec.
 */
struct loss_spec {
	enum loss_type	 type;
	double		 params[LOSS_MAX_PARAMS];
	const double	*list;
	size_t		 nlist;
};

/*
 * Additive statistics of a loss over some samples: n of them are in
 * use.  n depends on the spec and the shape of the inputs (a Dice over
 * C classes keeps 3C + 1); n == 0 means no sample at all.
 */
struct loss_stats {
	size_t		 n;
	double		 s[LOSS_MAX_STATS];
};

/* The API name of a type ("mse", "cross_entropy", ...); NULL for a
 * value that is no type. */
const char	*loss_type_name(enum loss_type);

/* Looks a type up by its API name; 0 when found, -1 when unknown. */
int		 loss_type_lookup(const char *, enum loss_type *);

/* The formula of a type in one line; NULL for a value that is no
 * type. */
const char	*loss_type_formula(enum loss_type);

/* The input arrays of a type: their number and the i-th (NULL when i
 * is out of range). */
size_t		 loss_ninputs(enum loss_type);
const struct loss_input *loss_input_info(enum loss_type, size_t);

/* The name of a batch field ("predictions", ...), NULL when it is
 * none; and the field of a name, 0 when found and -1 when not. */
const char	*loss_field_name(enum loss_field);
int		 loss_field_lookup(const char *, enum loss_field *);

/* Number of parameters of a type and the description of the i-th
 * (NULL when i is out of range); the index of a parameter by name, 0
 * when found and -1 when the type has none of that name. */
size_t		 loss_nparams(enum loss_type);
const struct loss_param *loss_param_info(enum loss_type, size_t);
int		 loss_param_lookup(enum loss_type, const char *, size_t *);

/* A spec of the type with every parameter at its default. */
void		 loss_spec_default(struct loss_spec *, enum loss_type);

/*
 * Checks the value of a parameter, or one entry of a list parameter,
 * against its kind and bounds.  Returns 0 when it is allowed; otherwise
 * -1 with a message such as "must be greater than 0" or "must be a
 * finite number" (without the parameter's name) written to err.  NaN
 * and infinities are never allowed.
 */
int		 loss_param_check(enum loss_type, size_t, double,
		    char *err, size_t errlen);

/*
 * Computes the statistics of one batch.  Checks that every input the
 * type needs is there, that the shapes fit the type (never broadcast
 * or truncate, but for the variance of gaussian_nll, which PyTorch
 * broadcasts over the last dimension), that list parameters have one
 * value per class, and that values are in range (probabilities in
 * [0,1], class indices integral and in [0,C) or ignore_index, labels 0
 * or 1 or 1 and -1, variances not negative).  Inputs the type does not
 * take are ignored.  Returns 0 on success; -1 with a message naming
 * the field and the problem, for example "targets has 4 rows but
 * predictions has 3", written to err (when err is not NULL), and out
 * left untouched.
 * A batch whose inputs are all empty arrays has no samples: out->n is
 * 0.  Any other input without elements is an error.
 * Non-finite inputs are not an error: they give a non-finite loss.
 * A NaN probability or [0,1] target is taken as unknown, not out of
 * range; class indices and labels must be exact, so NaN is an error
 * there.
 */
int		 loss_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *out,
		    char *err, size_t errlen);

/*
 * acc += b, entry by entry; a b without samples changes nothing.
 * Returns -1, leaving acc untouched, when the two do not fit together
 * (a Dice over another number of classes, cross_entropy with class
 * indices after class probabilities), with a message such as "this
 * batch has 3 classes but earlier batches of the step have 5" in err.
 */
int		 loss_stats_add(const struct loss_spec *,
		    struct loss_stats *acc, const struct loss_stats *b,
		    char *err, size_t errlen);

/* The value of the loss (mean reduction) for accumulated statistics.
 * May be NaN or infinite; statistics of no sample give NaN. */
double		 loss_value(const struct loss_spec *,
		    const struct loss_stats *);

#endif
