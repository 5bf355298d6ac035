/*
 * The loss engine: PyTorch's loss functions on arrays of doubles, reduced
 * to additive statistics.
 *
 * Each per-element or per-sample term is computed with the same operations
 * in the same order as PyTorch's CPU kernels, so that the results agree to
 * rounding.  Every statistic is a sum of terms that are never negative,
 * which keeps the sums well conditioned whatever the batch split.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"

/* Where a message about bad input goes. */
struct errbuf {
	char	*buf;
	size_t	 len;
};

typedef double	(*term_fn)(double, double, const double *);
typedef int	(*batch_fn)(const struct loss_spec *, const struct tensor *,
		    const struct tensor *, struct loss_stats *,
		    struct errbuf *);

/* What the engine knows about one loss type. */
struct loss_kind {
	const char		*name;
	const char		*inputs;
	const char		*formula;
	const struct loss_param	*params;
	size_t			 nparams;
	size_t			 nstats;
	batch_fn		 batch;
	term_fn			 term;		/* elementwise types only */
	int			 unit;		/* values must be in [0,1] */
};

static double	 mse_term(double, double, const double *);
static double	 mae_term(double, double, const double *);
static double	 huber_term(double, double, const double *);
static double	 bce_term(double, double, const double *);
static int	 elementwise_batch(const struct loss_spec *,
		    const struct tensor *, const struct tensor *,
		    struct loss_stats *, struct errbuf *);
static int	 ce_batch(const struct loss_spec *, const struct tensor *,
		    const struct tensor *, struct loss_stats *,
		    struct errbuf *);
static int	 focal_batch(const struct loss_spec *, const struct tensor *,
		    const struct tensor *, struct loss_stats *,
		    struct errbuf *);
static int	 contrastive_batch(const struct loss_spec *,
		    const struct tensor *, const struct tensor *,
		    struct loss_stats *, struct errbuf *);
static int	 dice_batch(const struct loss_spec *, const struct tensor *,
		    const struct tensor *, struct loss_stats *,
		    struct errbuf *);

static const struct loss_param huber_params[] = {
	{ "delta", 1.0, 0.0, 1,
	    "where the quadratic part turns linear" },
};

static const struct loss_param focal_params[] = {
	{ "alpha", 1.0, 0.0, 0, "weight of every sample's term" },
	{ "gamma", 2.0, 0.0, 0, "focusing exponent on (1 - pt)" },
};

static const struct loss_param contrastive_params[] = {
	{ "margin", 1.0, 0.0, 0,
	    "distance beyond which dissimilar pairs cost nothing" },
};

static const struct loss_param dice_params[] = {
	{ "smooth", 1.0, 0.0, 0,
	    "added to numerator and denominator" },
};

#define NPARAMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct loss_kind kinds[LOSS_NTYPES] = {
	[LOSS_MSE] = { "mse",
	    "predictions of any shape; targets of the same shape",
	    "mean((x - y)^2)",
	    NULL, 0, 2, elementwise_batch, mse_term, 0 },
	[LOSS_MAE] = { "mae",
	    "predictions of any shape; targets of the same shape",
	    "mean(|x - y|)",
	    NULL, 0, 2, elementwise_batch, mae_term, 0 },
	[LOSS_HUBER] = { "huber",
	    "predictions of any shape; targets of the same shape",
	    "mean(z < delta ? z^2/2 : delta (z - delta/2)), z = |x - y|",
	    huber_params, NPARAMS(huber_params), 2,
	    elementwise_batch, huber_term, 0 },
	[LOSS_BCE] = { "bce",
	    "probabilities in [0,1] of any shape; targets in [0,1] of the "
	    "same shape",
	    "mean(-(y max(log x, -100) + (1 - y) max(log(1 - x), -100)))",
	    NULL, 0, 2, elementwise_batch, bce_term, 1 },
	[LOSS_CROSS_ENTROPY] = { "cross_entropy",
	    "logits [N][C]; class indices [N], integers in [0,C)",
	    "mean(logsumexp(x_i) - x_i[y_i])",
	    NULL, 0, 2, ce_batch, NULL, 0 },
	[LOSS_FOCAL] = { "focal",
	    "logits [N][C]; class indices [N], integers in [0,C)",
	    "mean(alpha (1 - pt)^gamma CE), pt = exp(-CE)",
	    focal_params, NPARAMS(focal_params), 2, focal_batch, NULL, 0 },
	[LOSS_CONTRASTIVE] = { "contrastive",
	    "pairs [N][2][D]; labels [N], 0 similar or 1 dissimilar",
	    "mean((1 - y) d^2 + y max(margin - d, 0)^2), "
	    "d = ||x1 - x2 + 1e-6||",
	    contrastive_params, NPARAMS(contrastive_params), 2,
	    contrastive_batch, NULL, 0 },
	[LOSS_DICE] = { "dice",
	    "logits of any shape; targets 0 or 1 of the same shape",
	    "1 - (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth), "
	    "p = sigmoid(x)",
	    dice_params, NPARAMS(dice_params), 4, dice_batch, NULL, 0 },
};

static const struct loss_kind *
kind(enum loss_type type)
{
	if ((unsigned)type >= LOSS_NTYPES)
		return NULL;
	return &kinds[type];
}

static int __attribute__((format(printf, 2, 3)))
fail(struct errbuf *e, const char *fmt, ...)
{
	va_list	 ap;

	if (e->buf == NULL || e->len == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -1;
}

/* The shortest text that reads back as v; JSON's words for non-finite
 * values, since that is how clients send them. */
static const char *
num_text(double v, char *buf, size_t len)
{
	int	 prec;

	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "Infinity" : "-Infinity";
	/* %g would write 10 as 1e+01. */
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v);
		return buf;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return buf;
	}
	snprintf(buf, len, "%.17g", v);
	return buf;
}

/* "predictions has shape [3][4]" or "predictions is a scalar". */
static const char *
shape_text(const char *what, const struct tensor *t, char *buf, size_t len)
{
	size_t	 o;
	int	 d;

	if (t->ndim == 0) {
		snprintf(buf, len, "%s is a scalar", what);
		return buf;
	}
	o = (size_t)snprintf(buf, len, "%s has shape ", what);
	for (d = 0; d < t->ndim && o < len; d++)
		o += (size_t)snprintf(buf + o, len - o, "[%zu]", t->shape[d]);
	return buf;
}

/* "targets[2][1]": the name of the element at flat index i. */
static const char *
elem_text(const char *what, const struct tensor *t, size_t i, char *buf,
    size_t len)
{
	size_t	 idx[LOSS_MAX_DIMS], o;
	int	 d;

	for (d = t->ndim - 1; d >= 0; d--) {
		idx[d] = i % t->shape[d];
		i /= t->shape[d];
	}
	o = (size_t)snprintf(buf, len, "%s", what);
	for (d = 0; d < t->ndim && o < len; d++)
		o += (size_t)snprintf(buf + o, len - o, "[%zu]", idx[d]);
	return buf;
}

/* Checks that a tensor is well formed and not empty. */
static int
check_tensor(const char *what, const struct tensor *t, struct errbuf *e)
{
	size_t	 prod = 1;
	int	 d;

	if (t->ndim < 0 || t->ndim > LOSS_MAX_DIMS)
		return fail(e, "%s has %d dimensions, more than %d", what,
		    t->ndim, LOSS_MAX_DIMS);
	for (d = 0; d < t->ndim; d++) {
		if (t->shape[d] != 0 && prod > SIZE_MAX / t->shape[d])
			return fail(e, "%s is too large", what);
		prod *= t->shape[d];
	}
	if (prod != t->n)
		return fail(e, "%s has %zu values, not the %zu of its shape",
		    what, t->n, prod);
	if (t->n == 0)
		return fail(e, "%s is empty", what);
	if (t->data == NULL)
		return fail(e, "%s has no data", what);
	return 0;
}

/* Checks both inputs and that their shapes are identical. */
static int
check_same_shape(const struct tensor *pred, const struct tensor *target,
    struct errbuf *e)
{
	char	 a[256], b[256];
	int	 d;

	if (check_tensor("predictions", pred, e) == -1 ||
	    check_tensor("targets", target, e) == -1)
		return -1;
	if (pred->ndim == target->ndim) {
		for (d = 0; d < pred->ndim; d++) {
			if (pred->shape[d] != target->shape[d])
				break;
		}
		if (d == pred->ndim)
			return 0;
	}
	return fail(e, "%s but %s",
	    shape_text("targets", target, a, sizeof(a)),
	    shape_text("predictions", pred, b, sizeof(b)));
}

/* Checks that every value is in [0,1] or NaN; NaN means "unknown" and
 * gives a NaN loss rather than an error. */
static int
check_unit(const char *what, const struct tensor *t, struct errbuf *e)
{
	char	 name[256], num[32];
	size_t	 i;
	double	 v;

	for (i = 0; i < t->n; i++) {
		v = t->data[i];
		if (v < 0.0 || v > 1.0)
			return fail(e, "%s is %s, outside [0,1]",
			    elem_text(what, t, i, name, sizeof(name)),
			    num_text(v, num, sizeof(num)));
	}
	return 0;
}

/* Checks that every value is exactly 0 or 1 (labels; NaN is no label). */
static int
check_binary(const char *what, const struct tensor *t, struct errbuf *e)
{
	char	 name[256], num[32];
	size_t	 i;
	double	 v;

	for (i = 0; i < t->n; i++) {
		v = t->data[i];
		if (v != 0.0 && v != 1.0)
			return fail(e, "%s is %s, not 0 or 1",
			    elem_text(what, t, i, name, sizeof(name)),
			    num_text(v, num, sizeof(num)));
	}
	return 0;
}

/*
 * Checks inputs of the per-sample losses: predictions with ndim
 * dimensions whose second is dim1 (0: any), and targets [N] with one
 * entry per row of predictions.  need describes predictions' shape.
 */
static int
check_rows(enum loss_type type, const struct tensor *pred, int ndim,
    size_t dim1, const char *need, const struct tensor *target,
    struct errbuf *e)
{
	char	 buf[256];

	if (check_tensor("predictions", pred, e) == -1 ||
	    check_tensor("targets", target, e) == -1)
		return -1;
	if (pred->ndim != ndim || (dim1 != 0 && pred->shape[1] != dim1))
		return fail(e, "%s but %s needs %s",
		    shape_text("predictions", pred, buf, sizeof(buf)),
		    kinds[type].name, need);
	if (target->ndim != 1)
		return fail(e, "%s but %s needs one target per row [N]",
		    shape_text("targets", target, buf, sizeof(buf)),
		    kinds[type].name);
	if (target->shape[0] != pred->shape[0])
		return fail(e, "targets has %zu rows but predictions has %zu",
		    target->shape[0], pred->shape[0]);
	return 0;
}

/* Checks class indices: integral and in [0,nclass). */
static int
check_classes(const struct tensor *target, size_t nclass, struct errbuf *e)
{
	char	 num[32];
	size_t	 i;
	double	 v;

	for (i = 0; i < target->n; i++) {
		v = target->data[i];
		if (isnan(v))
			return fail(e, "targets[%zu] is NaN, not a class "
			    "index", i);
		if (v != floor(v))
			return fail(e, "targets[%zu] is %s, not an integral "
			    "class index", i, num_text(v, num, sizeof(num)));
		if (v < 0.0 || v >= (double)nclass)
			return fail(e, "targets[%zu] is %s but predictions "
			    "has %zu class%s", i,
			    num_text(v, num, sizeof(num)), nclass,
			    nclass == 1 ? "" : "es");
	}
	return 0;
}

static double
mse_term(double x, double y, const double *params)
{
	double	 d = x - y;

	(void)params;
	return d * d;
}

static double
mae_term(double x, double y, const double *params)
{
	(void)params;
	return fabs(x - y);
}

static double
huber_term(double x, double y, const double *params)
{
	double	 delta = params[0], z = fabs(x - y);

	return z < delta ? 0.5 * z * z : delta * (z - 0.5 * delta);
}

/* log v, but never below -100; NaN stays NaN. */
static double
clamped_log(double v)
{
	double	 l = log(v);

	return l < -100.0 ? -100.0 : l;
}

static double
bce_term(double x, double y, const double *params)
{
	(void)params;
	return (y - 1.0) * clamped_log(1.0 - x) - y * clamped_log(x);
}

/* Mean reduction: s[0] is the sum of the terms, s[1] their number. */
static int
elementwise_batch(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	const struct loss_kind	*k = &kinds[spec->type];
	double			 sum = 0.0;
	size_t			 i;

	if (check_same_shape(pred, target, e) == -1)
		return -1;
	if (k->unit && (check_unit("predictions", pred, e) == -1 ||
	    check_unit("targets", target, e) == -1))
		return -1;

	for (i = 0; i < pred->n; i++)
		sum += k->term(pred->data[i], target->data[i], spec->params);
	out->s[0] = sum;
	out->s[1] = (double)pred->n;
	return 0;
}

/*
 * Cross entropy of one row of logits against class y, as log_softmax
 * then negation: -((x[y] - max) - log(sum(exp(x - max)))).  Subtracting
 * the maximum first keeps exp finite, and this grouping keeps a small
 * result exact next to large logits.  A NaN logit makes the row NaN, as
 * torch's maximum propagates NaN.
 */
static double
row_ce(const double *x, size_t nclass, size_t y)
{
	double	 max = x[0], sum = 0.0;
	size_t	 j;

	for (j = 0; j < nclass; j++) {
		if (isnan(x[j]))
			return NAN;
		if (x[j] > max)
			max = x[j];
	}
	for (j = 0; j < nclass; j++)
		sum += exp(x[j] - max);
	return -((x[y] - max) - log(sum));
}

/* Checks cross_entropy's or focal's inputs. */
static int
check_logits(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct errbuf *e)
{
	if (check_rows(spec->type, pred, 2, 0, "logits [N][C]", target,
	    e) == -1)
		return -1;
	return check_classes(target, pred->shape[1], e);
}

static int
ce_batch(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	size_t	 i, nrow, nclass;
	double	 sum = 0.0;

	if (check_logits(spec, pred, target, e) == -1)
		return -1;

	nrow = pred->shape[0];
	nclass = pred->shape[1];
	for (i = 0; i < nrow; i++)
		sum += row_ce(pred->data + i * nclass, nclass,
		    (size_t)target->data[i]);
	out->s[0] = sum;
	out->s[1] = (double)nrow;
	return 0;
}

static int
focal_batch(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	double	 alpha = spec->params[0], gamma = spec->params[1];
	double	 sum = 0.0, ce, pt;
	size_t	 i, nrow, nclass;

	if (check_logits(spec, pred, target, e) == -1)
		return -1;

	nrow = pred->shape[0];
	nclass = pred->shape[1];
	for (i = 0; i < nrow; i++) {
		ce = row_ce(pred->data + i * nclass, nclass,
		    (size_t)target->data[i]);
		/* 1 - exp(-ce), not -expm1(-ce): the torch formula. */
		pt = exp(-ce);
		sum += alpha * pow(1.0 - pt, gamma) * ce;
	}
	out->s[0] = sum;
	out->s[1] = (double)nrow;
	return 0;
}

/* torch.nn.functional.pairwise_distance: ||a - b + 1e-6||_2, without
 * scaling, so that it overflows where torch's does. */
static double
pair_distance(const double *a, const double *b, size_t dim)
{
	double	 ss = 0.0, v;
	size_t	 k;

	for (k = 0; k < dim; k++) {
		v = (a[k] - b[k]) + 1e-6;
		ss += v * v;
	}
	return sqrt(ss);
}

static int
contrastive_batch(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	double	 margin = spec->params[0], sum = 0.0, d, h, y;
	size_t	 i, nrow, dim;

	if (check_rows(spec->type, pred, 3, 2, "pairs [N][2][D]", target,
	    e) == -1 || check_binary("targets", target, e) == -1)
		return -1;

	nrow = pred->shape[0];
	dim = pred->shape[2];
	for (i = 0; i < nrow; i++) {
		d = pair_distance(pred->data + 2 * i * dim,
		    pred->data + (2 * i + 1) * dim, dim);
		h = margin - d;
		if (h < 0.0)
			h = 0.0;
		y = target->data[i];
		/* Literal, like torch: 0 * inf is NaN when d overflows. */
		sum += (1.0 - y) * (d * d) + y * (h * h);
	}
	out->s[0] = sum;
	out->s[1] = (double)nrow;
	return 0;
}

/* s[0] = sum(p y), s[1] = sum(p), s[2] = sum(y), s[3] = elements. */
static int
dice_batch(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	double	 spt = 0.0, sp = 0.0, st = 0.0, p, t;
	size_t	 i;

	(void)spec;
	if (check_same_shape(pred, target, e) == -1 ||
	    check_binary("targets", target, e) == -1)
		return -1;

	for (i = 0; i < pred->n; i++) {
		p = 1.0 / (1.0 + exp(-pred->data[i]));
		t = target->data[i];
		spt += p * t;
		sp += p;
		st += t;
	}
	out->s[0] = spt;
	out->s[1] = sp;
	out->s[2] = st;
	out->s[3] = (double)pred->n;
	return 0;
}

const char *
loss_type_name(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? NULL : k->name;
}

int
loss_type_lookup(const char *name, enum loss_type *out)
{
	int	 i;

	for (i = 0; i < LOSS_NTYPES; i++) {
		if (strcmp(name, kinds[i].name) == 0) {
			*out = (enum loss_type)i;
			return 0;
		}
	}
	return -1;
}

const char *
loss_type_inputs(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? NULL : k->inputs;
}

const char *
loss_type_formula(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? NULL : k->formula;
}

size_t
loss_nparams(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? 0 : k->nparams;
}

const struct loss_param *
loss_param_info(enum loss_type type, size_t i)
{
	const struct loss_kind	*k = kind(type);

	if (k == NULL || i >= k->nparams)
		return NULL;
	return &k->params[i];
}

void
loss_spec_default(struct loss_spec *spec, enum loss_type type)
{
	size_t	 i, n = loss_nparams(type);

	memset(spec, 0, sizeof(*spec));
	spec->type = type;
	for (i = 0; i < n; i++)
		spec->params[i] = kinds[type].params[i].def;
}

int
loss_param_check(enum loss_type type, size_t i, double v, char *err,
    size_t errlen)
{
	const struct loss_param	*p = loss_param_info(type, i);
	struct errbuf		 e = { err, errlen };
	char			 num[32];

	if (p == NULL)
		return fail(&e, "is not a parameter of this loss");
	if (!isfinite(v))
		return fail(&e, "must be a finite number");
	if (p->min_open && v <= p->min)
		return fail(&e, "must be greater than %s",
		    num_text(p->min, num, sizeof(num)));
	if (v < p->min)
		return fail(&e, "must be at least %s",
		    num_text(p->min, num, sizeof(num)));
	return 0;
}

size_t
loss_nstats(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? 0 : k->nstats;
}

int
loss_batch(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, char *err,
    size_t errlen)
{
	const struct loss_kind	*k = kind(spec->type);
	struct errbuf		 e = { err, errlen };
	struct loss_stats	 st;

	if (k == NULL)
		return fail(&e, "unknown loss type %d", (int)spec->type);

	memset(&st, 0, sizeof(st));
	if (k->batch(spec, pred, target, &st, &e) == -1)
		return -1;
	*out = st;
	return 0;
}

void
loss_stats_add(enum loss_type type, struct loss_stats *acc,
    const struct loss_stats *b)
{
	size_t	 i, n = loss_nstats(type);

	for (i = 0; i < n; i++)
		acc->s[i] += b->s[i];
}

double
loss_value(const struct loss_spec *spec, const struct loss_stats *st)
{
	double	 smooth;

	if (kind(spec->type) == NULL)
		return NAN;

	if (spec->type == LOSS_DICE) {
		if (st->s[3] == 0.0)
			return NAN;
		smooth = spec->params[0];
		return 1.0 - (2.0 * st->s[0] + smooth) /
		    (st->s[1] + st->s[2] + smooth);
	}
	if (st->s[1] == 0.0)
		return NAN;
	return st->s[0] / st->s[1];
}
