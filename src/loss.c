/*
 * The loss engine: PyTorch's loss functions on arrays of doubles, reduced
 * to additive statistics.
 *
 * Each per-element or per-sample term is computed with the same operations
 * in the same order as PyTorch's CPU kernels (or, for the losses PyTorch
 * lacks, as tests/gen_reference.py writes them with torch ops), so that
 * the results agree to rounding.  The statistics of a loss are sums over
 * its samples and the number of samples (or their summed weights); the
 * value divides them.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"
#include "vmath.h"

/* Where a message about bad input goes. */
struct errbuf {
	char	*buf;
	size_t	 len;
};

/*
 * The arrays of an elementwise loop over n elements: x and y, the third
 * input z of a type that has one, the weights w; z and w are NULL when
 * there are none.
 */
struct elems {
	const double	*x, *y, *z, *w;
	size_t		 n;
};

/* The loss of one element from x, y and z (0 without z), and the sum of
 * the weighted terms of a type over some elements. */
typedef double	(*term_fn)(double, double, double, const double *);
typedef double	(*sum_fn)(const struct elems *, const double *);
typedef int	(*batch_fn)(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
typedef double	(*value_fn)(const struct loss_spec *,
		    const struct loss_stats *);
typedef const char *(*form_fn)(size_t, char *, size_t);

/* Checks of the values of elementwise types. */
#define CHECK_UNIT_PRED		0x01	/* predictions in [0,1] */
#define CHECK_UNIT_TARGET	0x02	/* targets in [0,1] */
#define CHECK_SIGNS		0x04	/* targets 1 or -1 */
#define CHECK_BLOCK		1024	/* elements checked, then summed */
#define VBLOCK			256	/* values vmath maps at a time */

/* What the engine knows about one loss type. */
struct loss_kind {
	const char		*name;
	const char		*formula;
	const struct loss_input	*inputs;
	size_t			 ninputs;
	const struct loss_param	*params;
	size_t			 nparams;
	batch_fn		 batch;
	sum_fn			 sum;		/* elementwise types */
	unsigned		 checks;	/* elementwise types */
	value_fn		 value;
	form_fn			 form;		/* what its stats say */
	sum_fn			 vsum;		/* sum with vmath, or NULL */
};

/* The parameters of the types, by index. */
enum { HUBER_DELTA };
enum { CE_WEIGHT, CE_IGNORE, CE_SMOOTHING };
enum { FOCAL_ALPHA, FOCAL_GAMMA, FOCAL_IGNORE };
enum { CONTRASTIVE_MARGIN, CONTRASTIVE_LABELS };
enum { DICE_SMOOTH, DICE_LOGITS, DICE_BACKGROUND, DICE_SQUARED };
enum { BCEL_POS_WEIGHT };
enum { SMOOTH_L1_BETA };
enum { NLL_WEIGHT, NLL_IGNORE };
enum { KL_REDUCTION, KL_LOG_TARGET };
enum { SFOCAL_ALPHA, SFOCAL_GAMMA };
enum { MARGIN };
enum { TRIPLET_MARGIN, TRIPLET_P, TRIPLET_SWAP };
enum { POISSON_LOG_INPUT, POISSON_FULL, POISSON_EPS };
enum { GAUSSIAN_FULL, GAUSSIAN_EPS };
enum { QUANTILE_TAU };

enum { LABELS_DISSIMILAR, LABELS_SIMILAR };
enum { KL_MEAN, KL_BATCHMEAN };

#define EPS_PAIRWISE	1e-6	/* torch pairwise_distance's eps */
#define EPS_COSINE	1e-12	/* torch cosine_embedding_loss's */
#define NLL_SHORT	16	/* classes of a row nll prefetches */
#define NLL_AHEAD	32	/* rows ahead it prefetches */

static int	 elementwise_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 bcel_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 ce_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 nll_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 focal_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 contrastive_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 dice_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 kl_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 cosine_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 ranking_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 triplet_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);
static int	 gaussian_batch(const struct loss_spec *,
		    const struct loss_inputs *, struct loss_stats *,
		    struct errbuf *);

static double	 mse_sum(const struct elems *, const double *);
static double	 mae_sum(const struct elems *, const double *);
static double	 huber_sum(const struct elems *, const double *);
static double	 bce_sum(const struct elems *, const double *);
static double	 smooth_l1_sum(const struct elems *, const double *);
static double	 sfocal_sum(const struct elems *, const double *);
static double	 hinge_sum(const struct elems *, const double *);
static double	 poisson_sum(const struct elems *, const double *);
static double	 log_cosh_sum(const struct elems *, const double *);
static double	 poisson_vsum(const struct elems *, const double *);
static double	 log_cosh_vsum(const struct elems *, const double *);
static double	 bce_vsum(const struct elems *, const double *);
static double	 sfocal_vsum(const struct elems *, const double *);
static double	 quantile_sum(const struct elems *, const double *);

static double	 mean_value(const struct loss_spec *,
		    const struct loss_stats *);
static double	 ce_value(const struct loss_spec *,
		    const struct loss_stats *);
static double	 dice_value(const struct loss_spec *,
		    const struct loss_stats *);
static const char *ce_form(size_t, char *, size_t);
static const char *dice_form(size_t, char *, size_t);

/* Parameter tables.  Shorthands keep them one entry a line or two. */
#define NUM(n, d, lo, hi, f, doc) \
	{ n, LOSS_PARAM_NUMBER, d, lo, hi, f, NULL, doc }
#define BOOL(n, d, doc) \
	{ n, LOSS_PARAM_BOOLEAN, d, 0, 1, LOSS_OPTION, NULL, doc }
#define WORD(n, w, doc) \
	{ n, LOSS_PARAM_WORD, 0, 0, 0, LOSS_OPTION, w, doc }
#define LIST(n, doc) \
	{ n, LOSS_PARAM_LIST, 0, 0, HUGE_VAL, LOSS_OPTION, NULL, doc }
#define INF		HUGE_VAL
#define IGNORE_INDEX \
	NUM("ignore_index", -100, -9007199254740991.0, \
	    9007199254740991.0, LOSS_INTEGER | LOSS_OPTION, \
	    "a target equal to it is left out")
#define CLASS_WEIGHT \
	{ "class_weight", LOSS_PARAM_LIST, 0, 0, HUGE_VAL, \
	    LOSS_OPTION | LOSS_PER_CLASS, NULL, "weight of each class, one " \
	    "per class (PyTorch's weight); none weighs every class 1" }

static const char *const contrastive_words[] = { "dissimilar", "similar",
    NULL };
static const char *const kl_words[] = { "mean", "batchmean", NULL };

static const struct loss_param huber_params[] = {
	NUM("delta", 1, 0, INF, LOSS_MIN_OPEN,
	    "where the quadratic part turns linear"),
};
static const struct loss_param ce_params[] = {
	CLASS_WEIGHT,
	IGNORE_INDEX,
	NUM("label_smoothing", 0, 0, 1, LOSS_OPTION,
	    "share of the target spread evenly over the classes"),
};
static const struct loss_param focal_params[] = {
	{ "alpha", LOSS_PARAM_NUMBER_OR_LIST, 1, 0, INF, LOSS_PER_CLASS,
	    NULL, "weight of every sample's term, or a list of one per "
	    "class" },
	NUM("gamma", 2, 0, INF, 0, "focusing exponent on (1 - pt)"),
	IGNORE_INDEX,
};
static const struct loss_param contrastive_params[] = {
	NUM("margin", 1, 0, INF, 0,
	    "distance beyond which dissimilar pairs cost nothing"),
	WORD("labels", contrastive_words,
	    "what a label 1 marks: a dissimilar pair or a similar one"),
};
static const struct loss_param dice_params[] = {
	NUM("smooth", 1, 0, INF, 0, "added to numerator and denominator"),
	BOOL("from_logits", 1,
	    "predictions are logits (false: probabilities)"),
	BOOL("include_background", 1,
	    "multi-class form: count class 0 in the mean"),
	BOOL("squared", 0, "the denominator sums squares"),
};
static const struct loss_param bcel_params[] = {
	LIST("pos_weight", "weight of the positive term, one per entry "
	    "of the last dimension of targets"),
};
static const struct loss_param smooth_l1_params[] = {
	NUM("beta", 1, 0, INF, 0,
	    "where the quadratic part turns linear; 0 is plain L1"),
};
static const struct loss_param nll_params[] = {
	CLASS_WEIGHT,
	IGNORE_INDEX,
};
static const struct loss_param kl_params[] = {
	WORD("reduction", kl_words,
	    "mean over elements (PyTorch's default) or over rows"),
	BOOL("log_target", 0, "targets are log-probabilities"),
};
static const struct loss_param sfocal_params[] = {
	NUM("alpha", 0.25, -INF, 1, 0,
	    "weight of positives (negatives: 1 - alpha); < 0 for none"),
	NUM("gamma", 2, 0, INF, 0, "focusing exponent on (1 - p_t)"),
};
static const struct loss_param cosine_params[] = {
	NUM("margin", 0, -1, 1, 0,
	    "cosine below which dissimilar pairs cost nothing"),
};
static const struct loss_param ranking_params[] = {
	NUM("margin", 0, -INF, INF, 0, "the gap the order must keep"),
};
static const struct loss_param triplet_params[] = {
	NUM("margin", 1, 0, INF, 0,
	    "how much nearer the positive must be"),
	NUM("p", 2, 0, INF, LOSS_MIN_OPEN, "degree of the distance's norm"),
	BOOL("swap", 0, "also measure the negative from the positive"),
};
static const struct loss_param hinge_params[] = {
	NUM("margin", 1, 0, INF, 0,
	    "value below which dissimilar samples cost"),
};
static const struct loss_param poisson_params[] = {
	BOOL("log_input", 1, "predictions are log-rates (false: rates)"),
	BOOL("full", 0, "add the Stirling term"),
	NUM("eps", 1e-8, 0, INF, LOSS_MIN_OPEN,
	    "added to rates before the log, without log_input"),
};
static const struct loss_param gaussian_params[] = {
	BOOL("full", 0, "add the constant log(2 pi)/2"),
	NUM("eps", 1e-6, 0, INF, LOSS_MIN_OPEN,
	    "smallest variance (larger ones are kept)"),
};
static const struct loss_param quantile_params[] = {
	NUM("tau", 0.5, 0, 1, 0, "the quantile predicted"),
};

/* Input tables. */
#define IN(f, s)	{ f, 0, s }
#define OPT(f, s)	{ f, 1, s }

static const struct loss_input same_inputs[] = {
	IN(LOSS_PREDICTIONS, "any shape"),
	IN(LOSS_TARGETS, "same shape"),
};
static const struct loss_input bce_inputs[] = {
	IN(LOSS_PREDICTIONS, "probabilities in [0,1], any shape"),
	IN(LOSS_TARGETS, "in [0,1], same shape"),
	OPT(LOSS_WEIGHTS, "same shape, multiplies each term"),
};
static const struct loss_input ce_inputs[] = {
	IN(LOSS_PREDICTIONS, "logits [N][C]"),
	IN(LOSS_TARGETS, "class indices [N] (integers in [0,C) or "
	    "ignore_index), or class probabilities [N][C]"),
};
static const struct loss_input focal_inputs[] = {
	IN(LOSS_PREDICTIONS, "logits [N][C]"),
	IN(LOSS_TARGETS, "class indices [N] (integers in [0,C) or "
	    "ignore_index)"),
};
static const struct loss_input contrastive_inputs[] = {
	IN(LOSS_PREDICTIONS, "pairs [N][2][D]"),
	IN(LOSS_TARGETS, "labels [N], 0 or 1"),
};
static const struct loss_input dice_inputs[] = {
	IN(LOSS_PREDICTIONS, "logits of any shape; or [N][C][...] for "
	    "C classes"),
	IN(LOSS_TARGETS, "0 or 1, same shape; or class indices [N][...]"),
};
static const struct loss_input bcel_inputs[] = {
	IN(LOSS_PREDICTIONS, "logits, any shape"),
	IN(LOSS_TARGETS, "in [0,1], same shape"),
	OPT(LOSS_WEIGHTS, "same shape, multiplies each term"),
};
static const struct loss_input nll_inputs[] = {
	IN(LOSS_PREDICTIONS, "log-probabilities [N][C]"),
	IN(LOSS_TARGETS, "class indices [N] (integers in [0,C) or "
	    "ignore_index)"),
};
static const struct loss_input kl_inputs[] = {
	IN(LOSS_PREDICTIONS, "log-probabilities, any shape"),
	IN(LOSS_TARGETS, "probabilities (log-probabilities with "
	    "log_target), same shape"),
};
static const struct loss_input sfocal_inputs[] = {
	IN(LOSS_PREDICTIONS, "logits, any shape"),
	IN(LOSS_TARGETS, "in [0,1], same shape"),
};
static const struct loss_input cosine_inputs[] = {
	IN(LOSS_PREDICTIONS, "first vectors [N][D]"),
	IN(LOSS_PREDICTIONS2, "second vectors [N][D]"),
	IN(LOSS_TARGETS, "labels [N], 1 (similar) or -1 (dissimilar)"),
};
static const struct loss_input ranking_inputs[] = {
	IN(LOSS_PREDICTIONS, "first scores, any shape"),
	IN(LOSS_PREDICTIONS2, "second scores, same shape"),
	IN(LOSS_TARGETS, "1 (first ranks higher) or -1, same shape"),
};
static const struct loss_input triplet_inputs[] = {
	IN(LOSS_PREDICTIONS, "anchors [N][D]"),
	IN(LOSS_POSITIVES, "positives [N][D]"),
	IN(LOSS_NEGATIVES, "negatives [N][D]"),
};
static const struct loss_input hinge_inputs[] = {
	IN(LOSS_PREDICTIONS, "distances or scores, any shape"),
	IN(LOSS_TARGETS, "1 or -1, same shape"),
};
static const struct loss_input poisson_inputs[] = {
	IN(LOSS_PREDICTIONS, "log-rates (rates without log_input), any "
	    "shape"),
	IN(LOSS_TARGETS, "counts, same shape"),
};
static const struct loss_input gaussian_inputs[] = {
	IN(LOSS_PREDICTIONS, "means, any shape"),
	IN(LOSS_TARGETS, "same shape"),
	IN(LOSS_VARIANCE, "variances >= 0: same shape, or that shape "
	    "without its last dimension or with it 1"),
};

#define N(a)		(sizeof(a) / sizeof((a)[0]))
#define TABLE(a)	a, N(a)
#define NONE		NULL, 0
#define ELEMENTWISE(t, c) \
	elementwise_batch, t, c, mean_value, NULL
/* An elementwise type whose sum v maps blocks with vmath. */
#define MAPPED(t, v, c) \
	elementwise_batch, t, c, mean_value, NULL, v

static const struct loss_kind kinds[LOSS_NTYPES] = {
	[LOSS_MSE] = { "mse", "mean((x - y)^2)",
	    TABLE(same_inputs), NONE, ELEMENTWISE(mse_sum, 0) },
	[LOSS_MAE] = { "mae", "mean(|x - y|)",
	    TABLE(same_inputs), NONE, ELEMENTWISE(mae_sum, 0) },
	[LOSS_HUBER] = { "huber",
	    "mean(z < delta ? z^2/2 : delta (z - delta/2)), z = |x - y|",
	    TABLE(same_inputs), TABLE(huber_params),
	    ELEMENTWISE(huber_sum, 0) },
	[LOSS_BCE] = { "bce",
	    "mean(-w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))), "
	    "w = weights or 1",
	    TABLE(bce_inputs), NONE,
	    MAPPED(bce_sum, bce_vsum,
	    CHECK_UNIT_PRED | CHECK_UNIT_TARGET) },
	[LOSS_CROSS_ENTROPY] = { "cross_entropy",
	    "sum((1 - ls) w[y] CE_y + ls/C sum_c w[c] CE_c) / sum(w[y]) over "
	    "rows not ignored; class probabilities: mean(sum_c w[c] y'[c] "
	    "CE_c), y' = (1 - ls) y + ls/C; CE_c = logsumexp(x) - x[c], "
	    "w = class_weight or 1, ls = label_smoothing",
	    TABLE(ce_inputs), TABLE(ce_params), ce_batch, NULL, 0,
	    ce_value, ce_form },
	[LOSS_FOCAL] = { "focal",
	    "mean(a (1 - pt)^gamma CE) over rows not ignored, "
	    "CE = logsumexp(x) - x[y], pt = exp(-CE), "
	    "a = alpha, or alpha[y] for a list",
	    TABLE(focal_inputs), TABLE(focal_params), focal_batch, NULL, 0,
	    mean_value, NULL },
	[LOSS_CONTRASTIVE] = { "contrastive",
	    "mean((1 - s) d^2 + s max(margin - d, 0)^2), s = 1 for a "
	    "dissimilar pair, d = ||x1 - x2 + 1e-6||",
	    TABLE(contrastive_inputs), TABLE(contrastive_params),
	    contrastive_batch, NULL, 0, mean_value, NULL },
	[LOSS_DICE] = { "dice",
	    "1 - (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth) over "
	    "the step, p = sigmoid(x); multi-class: mean over classes, "
	    "p = softmax(x) over C, y one-hot; squared: sum(p^2) + "
	    "sum(y^2); 0/0 gives 0",
	    TABLE(dice_inputs), TABLE(dice_params), dice_batch, NULL, 0,
	    dice_value, dice_form },
	[LOSS_BCE_WITH_LOGITS] = { "bce_with_logits",
	    "mean(w ((1 - y) x + (1 + (pw - 1) y) log(1 + exp(-x)))) "
	    "without overflow, w = weights or 1, pw = pos_weight[j] for "
	    "the last index j, or 1",
	    TABLE(bcel_inputs), TABLE(bcel_params), bcel_batch, NULL, 0,
	    mean_value, NULL },
	[LOSS_SMOOTH_L1] = { "smooth_l1",
	    "mean(z < beta ? z^2/(2 beta) : z - beta/2), z = |x - y|",
	    TABLE(same_inputs), TABLE(smooth_l1_params),
	    ELEMENTWISE(smooth_l1_sum, 0) },
	[LOSS_NLL] = { "nll",
	    "sum(-w[y] x[y]) / sum(w[y]) over rows not ignored, "
	    "w = class_weight or 1",
	    TABLE(nll_inputs), TABLE(nll_params), nll_batch, NULL, 0,
	    mean_value, NULL },
	[LOSS_KL_DIV] = { "kl_div",
	    "sum(y (log y - x)) / (number of elements, or N with "
	    "batchmean); log_target: sum(exp(y) (y - x)) / ...",
	    TABLE(kl_inputs), TABLE(kl_params), kl_batch, NULL, 0,
	    mean_value, NULL },
	[LOSS_SIGMOID_FOCAL] = { "sigmoid_focal",
	    "mean(a (1 - p_t)^gamma BCE(x, y)), p = sigmoid(x), p_t = p y "
	    "+ (1 - p)(1 - y), a = alpha y + (1 - alpha)(1 - y), or 1 for "
	    "alpha < 0",
	    TABLE(sfocal_inputs), TABLE(sfocal_params),
	    MAPPED(sfocal_sum, sfocal_vsum, CHECK_UNIT_TARGET) },
	[LOSS_COSINE_EMBEDDING] = { "cosine_embedding",
	    "mean(y = 1 ? 1 - cos : max(cos - margin, 0)), cos = x1.x2 / "
	    "sqrt((x1.x1 + 1e-12)(x2.x2 + 1e-12))",
	    TABLE(cosine_inputs), TABLE(cosine_params), cosine_batch,
	    NULL, 0, mean_value, NULL },
	[LOSS_MARGIN_RANKING] = { "margin_ranking",
	    "mean(max(-y (x1 - x2) + margin, 0))",
	    TABLE(ranking_inputs), TABLE(ranking_params), ranking_batch,
	    NULL, 0, mean_value, NULL },
	[LOSS_TRIPLET_MARGIN] = { "triplet_margin",
	    "mean(max(margin + d(a, p) - d(a, n), 0)), d(u, v) = "
	    "||u - v + 1e-6||_p; swap: d(a, n) = min(d(a, n), d(p, n))",
	    TABLE(triplet_inputs), TABLE(triplet_params), triplet_batch,
	    NULL, 0, mean_value, NULL },
	[LOSS_HINGE_EMBEDDING] = { "hinge_embedding",
	    "mean(y = 1 ? x : max(margin - x, 0))",
	    TABLE(hinge_inputs), TABLE(hinge_params),
	    ELEMENTWISE(hinge_sum, CHECK_SIGNS) },
	[LOSS_POISSON_NLL] = { "poisson_nll",
	    "mean(exp(x) - y x); without log_input mean(x - y log(x + "
	    "eps)); full adds y log y - y + log(2 pi y)/2 where y > 1",
	    TABLE(poisson_inputs), TABLE(poisson_params),
	    MAPPED(poisson_sum, poisson_vsum, 0) },
	[LOSS_GAUSSIAN_NLL] = { "gaussian_nll",
	    "mean((log v + (x - y)^2 / v) / 2), v = max(variance, eps); "
	    "full adds log(2 pi)/2",
	    TABLE(gaussian_inputs), TABLE(gaussian_params), gaussian_batch,
	    NULL, 0, mean_value, NULL },
	[LOSS_LOG_COSH] = { "log_cosh",
	    "mean(log(cosh(x - y))), without overflow",
	    TABLE(same_inputs), NONE,
	    MAPPED(log_cosh_sum, log_cosh_vsum, 0) },
	[LOSS_QUANTILE] = { "quantile",
	    "mean(r >= 0 ? tau r : (tau - 1) r), r = y - x",
	    TABLE(same_inputs), TABLE(quantile_params),
	    ELEMENTWISE(quantile_sum, 0) },
};

static const char *const field_names[LOSS_NFIELDS] = {
	[LOSS_PREDICTIONS] = "predictions",
	[LOSS_TARGETS] = "targets",
	[LOSS_PREDICTIONS2] = "predictions2",
	[LOSS_POSITIVES] = "positives",
	[LOSS_NEGATIVES] = "negatives",
	[LOSS_VARIANCE] = "variance",
	[LOSS_WEIGHTS] = "weights",
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

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
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

/* Checks that a tensor is well formed: its shape, size and data. */
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
	if (t->n > 0 && t->data == NULL)
		return fail(e, "%s has no data", what);
	return 0;
}

/* The input of a type's i-th input table entry, or NULL. */
static const struct tensor *
input_at(const struct loss_kind *k, const struct loss_inputs *in, size_t i)
{
	return in->t[k->inputs[i].field];
}

/* Whether a type takes an input field. */
static int
takes(const struct loss_kind *k, enum loss_field f)
{
	size_t	 i;

	for (i = 0; i < k->ninputs; i++)
		if (k->inputs[i].field == f)
			return 1;
	return 0;
}

/*
 * Checks that the inputs a type needs are there and well formed, and
 * tells whether the batch is empty: every input without elements.  An
 * empty input next to one with elements is an error.
 */
static int
check_inputs(const struct loss_kind *k, const struct loss_inputs *in,
    int *empty, struct errbuf *e)
{
	const struct tensor	*t, *full = NULL, *hollow = NULL;
	size_t			 i, ifull = 0, ihollow = 0;

	for (i = 0; i < k->ninputs; i++) {
		if ((t = input_at(k, in, i)) == NULL) {
			if (k->inputs[i].optional)
				continue;
			return fail(e, "%s is missing",
			    field_names[k->inputs[i].field]);
		}
		if (check_tensor(field_names[k->inputs[i].field], t, e) == -1)
			return -1;
		if (t->n == 0 && hollow == NULL) {
			hollow = t;
			ihollow = i;
		} else if (t->n > 0 && full == NULL) {
			full = t;
			ifull = i;
		}
	}
	*empty = full == NULL;
	if (hollow == NULL || full == NULL)
		return 0;
	return fail(e, "%s is empty but %s has %zu value%s",
	    field_names[k->inputs[ihollow].field],
	    field_names[k->inputs[ifull].field], full->n,
	    plural(full->n, "", "s"));
}

static int
same_shape(const struct tensor *a, const struct tensor *b)
{
	int	 d;

	if (a->ndim != b->ndim)
		return 0;
	for (d = 0; d < a->ndim; d++)
		if (a->shape[d] != b->shape[d])
			return 0;
	return 1;
}

/* Checks that t has the same shape as ref; names are fields. */
static int
check_same(const char *what, const struct tensor *t, const char *refname,
    const struct tensor *ref, struct errbuf *e)
{
	char	 a[256], b[256];

	if (same_shape(t, ref))
		return 0;
	return fail(e, "%s but %s", shape_text(what, t, a, sizeof(a)),
	    shape_text(refname, ref, b, sizeof(b)));
}

/*
 * The checks of values below first scan them with one of these, which
 * tell whether every value passes.  They have no branch that depends on
 * the data and no early exit, which makes them cheaper than a loop that
 * stops at the first bad value; only a batch that fails is scanned
 * again, to find that value and name it.
 */

/*
 * The least and the greatest value, each in four running values that
 * take turns (a NaN is passed over); then their bounds.  The running
 * values are variables, not an array, which the compiler would keep in
 * memory: each step would then wait for the store of the one before.
 */
static int
all_unit(const double *v, size_t n)
{
	double	 lo0 = 0.0, lo1 = 0.0, lo2 = 0.0, lo3 = 0.0;
	double	 hi0 = 1.0, hi1 = 1.0, hi2 = 1.0, hi3 = 1.0;
	size_t	 i;

	for (i = 0; i + 4 <= n; i += 4) {
		lo0 = v[i] < lo0 ? v[i] : lo0;
		lo1 = v[i + 1] < lo1 ? v[i + 1] : lo1;
		lo2 = v[i + 2] < lo2 ? v[i + 2] : lo2;
		lo3 = v[i + 3] < lo3 ? v[i + 3] : lo3;
		hi0 = v[i] > hi0 ? v[i] : hi0;
		hi1 = v[i + 1] > hi1 ? v[i + 1] : hi1;
		hi2 = v[i + 2] > hi2 ? v[i + 2] : hi2;
		hi3 = v[i + 3] > hi3 ? v[i + 3] : hi3;
	}
	for (; i < n; i++) {
		lo0 = v[i] < lo0 ? v[i] : lo0;
		hi0 = v[i] > hi0 ? v[i] : hi0;
	}
	return !(lo0 < 0.0 || lo1 < 0.0 || lo2 < 0.0 || lo3 < 0.0 ||
	    hi0 > 1.0 || hi1 > 1.0 || hi2 > 1.0 || hi3 > 1.0);
}

static int
all_labels(const double *v, size_t n, double a, double b)
{
	size_t	 i;
	int	 ok = 1;

	for (i = 0; i < n; i++)
		ok &= (v[i] == a) | (v[i] == b);
	return ok;
}

/*
 * Class indices, as check_classes takes them.  Below 2^52, v is
 * integral just when (v + 2^52) - 2^52 gives v back (the sum is rounded
 * to an integer); above, every double is.  So this never passes a bad
 * index, and fails a good one only beyond 2^52 classes.
 */
static int
all_classes(const double *v, size_t n, size_t nclass, double ignore)
{
	double	 top = (double)nclass, big = 0x1p52;
	size_t	 i;
	int	 ok = 1;

	for (i = 0; i < n; i++)
		ok &= (v[i] == ignore) | ((v[i] >= 0.0) & (v[i] < top) &
		    ((v[i] + big) - big == v[i]));
	return ok;
}

/* Checks that every value is in [0,1] or NaN; NaN means "unknown" and
 * gives a NaN loss rather than an error. */
static int
check_unit(const char *what, const struct tensor *t, struct errbuf *e)
{
	char	 name[256], num[32];
	size_t	 i;
	double	 v;

	if (all_unit(t->data, t->n))
		return 0;
	for (i = 0; i < t->n; i++) {
		v = t->data[i];
		if (v < 0.0 || v > 1.0)
			return fail(e, "%s is %s, outside [0,1]",
			    elem_text(what, t, i, name, sizeof(name)),
			    num_text(v, num, sizeof(num)));
	}
	return 0;
}

/* Checks that every value is exactly a or b (labels; NaN is no
 * label). */
static int
check_labels(const char *what, const struct tensor *t, double a, double b,
    struct errbuf *e)
{
	char	 name[256], num[32], na[32], nb[32];
	size_t	 i;
	double	 v;

	if (all_labels(t->data, t->n, a, b))
		return 0;
	for (i = 0; i < t->n; i++) {
		v = t->data[i];
		if (v != a && v != b)
			return fail(e, "%s is %s, not %s or %s",
			    elem_text(what, t, i, name, sizeof(name)),
			    num_text(v, num, sizeof(num)),
			    num_text(a, na, sizeof(na)),
			    num_text(b, nb, sizeof(nb)));
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

/*
 * Checks class indices: integral and in [0,nclass), or equal to
 * ignore (pass NAN for none, which no index equals).
 */
static int
check_classes(const struct tensor *target, size_t nclass, double ignore,
    struct errbuf *e)
{
	char	 name[256], num[32];
	size_t	 i;
	double	 v;

	if (all_classes(target->data, target->n, nclass, ignore))
		return 0;
	for (i = 0; i < target->n; i++) {
		v = target->data[i];
		if (v == ignore || (v >= 0.0 && v < (double)nclass &&
		    v == floor(v)))
			continue;
		elem_text("targets", target, i, name, sizeof(name));
		if (isnan(v))
			return fail(e, "%s is NaN, not a class index", name);
		if (v != floor(v))
			return fail(e, "%s is %s, not an integral class index",
			    name, num_text(v, num, sizeof(num)));
		return fail(e, "%s is %s but predictions has %zu class%s",
		    name, num_text(v, num, sizeof(num)), nclass,
		    plural(nclass, "", "es"));
	}
	return 0;
}

/* The per-class list of a spec, NULL when it has none; checks that it
 * has one value per class. */
static int
class_list(const struct loss_spec *spec, size_t param, size_t nclass,
    const double **out, struct errbuf *e)
{
	*out = NULL;
	if (spec->list == NULL)
		return 0;
	if (spec->nlist != nclass)
		return fail(e, "%s has %zu value%s but predictions has %zu "
		    "class%s", kinds[spec->type].params[param].name,
		    spec->nlist, plural(spec->nlist, "", "s"), nclass,
		    plural(nclass, "", "es"));
	*out = spec->list;
	return 0;
}

/* max(v, 0) as torch's clamp_min: NaN stays NaN. */
static double
clamp0(double v)
{
	return v < 0.0 ? 0.0 : v;
}

/* pow(b, gamma), with the usual focusing exponent 2 as one product. */
static double
focus(double b, double gamma)
{
	return gamma == 2.0 ? b * b : pow(b, gamma);
}

/*
 * c ? a : b, both computed, without a branch.  On random data a branch
 * between the two cases of a term is mispredicted about half the time,
 * which costs more than computing both; and compilers turn a plain
 * c ? a : b between two computed values back into a branch.
 */
static double
pick(int c, double a, double b)
{
	double	 v[2] = { b, a };

	return v[c != 0];
}

static double
mse_term(double x, double y, double z, const double *params)
{
	double	 d = x - y;

	(void)z;
	(void)params;
	return d * d;
}

static double
mae_term(double x, double y, double z, const double *params)
{
	(void)z;
	(void)params;
	return fabs(x - y);
}

static double
huber_term(double x, double y, double z, const double *params)
{
	double	 delta = params[HUBER_DELTA], a = fabs(x - y), m;

	/*
	 * With m = min(a, delta), m (a - m/2) is a^2/2 below delta and
	 * delta (a - delta/2) above, with the same roundings (a - a/2 is
	 * exact): no branch, and a min and products that vectorise.
	 */
	(void)z;
	m = a < delta ? a : delta;
	return m * (a - 0.5 * m);
}

static double
smooth_l1_term(double x, double y, double z, const double *params)
{
	double	 beta = params[SMOOTH_L1_BETA], a = fabs(x - y);
	double	 quad = 0.5 * a * a / beta, half = 0.5 * beta;
	double	 lin = a - half;

	/*
	 * The square is never below the line (they differ by (a - beta)^2
	 * / (2 beta)); it is below beta/2 just where a < beta, and there
	 * the line is below beta/2 too.  So max(min(square, beta/2), line)
	 * is the square before beta and the line from there on: each case
	 * its very value, without a branch (but for a rounding where a is
	 * within an ulp of beta).  A NaN a makes the line, and so the term,
	 * NaN.  With beta 0 the min is 0 and the term a - 0, plain L1.
	 */
	(void)z;
	quad = quad < half ? quad : half;
	return quad > lin ? quad : lin;
}

/* A log l, but never below -100; NaN stays NaN. */
static double
clamp_log(double l)
{
	return l < -100.0 ? -100.0 : l;
}

/* bce_term from lx = log x and l1x = log(1 - x). */
static double
bce_of(double lx, double y, double l1x, const double *params)
{
	(void)params;
	return (y - 1.0) * clamp_log(l1x) - y * clamp_log(lx);
}

static double
bce_term(double x, double y, double z, const double *params)
{
	(void)z;
	return bce_of(log(x), y, log(1.0 - x), params);
}

/*
 * torch's binary_cross_entropy_with_logits of one element is, with m =
 * max(-x, 0), (1 - y) x + m + log(exp(-m) + exp(-x - m)), which never
 * overflows.  One of the two exponentials is exp(0) = 1, so the sum is
 * 1 + exp(-|x|): the same number from one exponential.  torch takes the
 * log of that sum, not log1p of the exponential, and so does this, for
 * the same roundings.  But at x = -inf torch's sum is NaN (exp(inf -
 * inf)), and m infinite: m - m adds that NaN.  Returns the log, given
 * l = log(1 + exp(-|x|)); *m is m.
 */
static double
bcel_log(double x, double l, double *m)
{
	/* clamp0(-x) by pick: with clamp0 the compiler branches, to
	 * know m - m on one side, wrongly half the time on random x. */
	*m = pick(x > 0.0, 0.0, -x);
	return l + (*m - *m);
}

/* log(1 + exp(-|x|)) of bcel_log, one value at a time. */
static double
bcel_softplus(double x)
{
	return log(1.0 + exp(-fabs(x)));
}

/* bcel_term of x and y, given l = log(1 + exp(-|x|)). */
static double
bcel_of(double x, double y, double l, const double *params)
{
	double	 m;

	(void)params;
	l = bcel_log(x, l, &m);
	return (1.0 - y) * x + m + l;
}

static double
bcel_term(double x, double y, double z, const double *params)
{
	(void)z;
	return bcel_of(x, y, bcel_softplus(x), params);
}

/* bcel_pw_term's log term: lw (l + m) for positive weight z, given l =
 * log(1 + exp(-|x|)). */
static double
bcel_pw_log(double x, double y, double z, double l)
{
	double	 m, lw;

	l = bcel_log(x, l, &m);
	lw = (z - 1.0) * y + 1.0;
	return lw * (l + m);
}

/* bcel_pw_term of x and y, given v, its log term. */
static double
bcel_pw_of(double x, double y, double v, const double *params)
{
	(void)params;
	return (1.0 - y) * x + v;
}

/* With a positive weight z the log term is scaled by 1 + (z - 1) y. */
static double
bcel_pw_term(double x, double y, double z, const double *params)
{
	return bcel_pw_of(x, y, bcel_pw_log(x, y, z, bcel_softplus(x)),
	    params);
}

/* sigmoid(x) = 1 / (1 + exp(-x)) from e = exp(-|x|), the exponential
 * of bcel_log. */
static double
sfocal_p(double x, double e)
{
	return pick(x >= 0.0, 1.0, e) / (1.0 + e);
}

/* sfocal_term from p = sigmoid(x) and ce, the bcel_term of x and y.
 * Inlined in both loops, which the compiler would not do by itself. */
static inline __attribute__((always_inline)) double
sfocal_of(double p, double y, double ce, const double *params)
{
	double	 alpha = params[SFOCAL_ALPHA], gamma = params[SFOCAL_GAMMA];
	double	 pt, loss, at;

	pt = p * y + (1.0 - p) * (1.0 - y);
	loss = ce * focus(1.0 - pt, gamma);
	if (alpha >= 0.0) {
		at = alpha * y + (1.0 - alpha) * (1.0 - y);
		loss = at * loss;
	}
	return loss;
}

/* torchvision's sigmoid_focal_loss of one element. */
static double
sfocal_term(double x, double y, double z, const double *params)
{
	double	 e = exp(-fabs(x));

	(void)z;
	return sfocal_of(sfocal_p(x, e), y,
	    bcel_of(x, y, log(1.0 + e), params), params);
}

static double
hinge_term(double x, double y, double z, const double *params)
{
	(void)z;
	return pick(y == 1.0, x, clamp0(params[MARGIN] - x));
}

/* The term of x and y, given f: exp(x) with log_input, else log(x +
 * eps).  Inlined in both loops, which the compiler would not do by
 * itself. */
static inline __attribute__((always_inline)) double
poisson_of(double x, double y, double f, const double *params)
{
	double	 loss;

	if (params[POISSON_LOG_INPUT] != 0.0)
		loss = f - y * x;
	else
		loss = x - y * f;
	/* torch masks the Stirling term where y <= 1, not where NaN. */
	if (params[POISSON_FULL] != 0.0 && !(y <= 1.0))
		loss += y * log(y) - y + 0.5 * log(2.0 * M_PI * y);
	return loss;
}

static double
poisson_term(double x, double y, double z, const double *params)
{
	double	 f;

	(void)z;
	if (params[POISSON_LOG_INPUT] != 0.0)
		f = exp(x);
	else
		f = log(x + params[POISSON_EPS]);
	return poisson_of(x, y, f, params);
}

/*
 * log(cosh(r)) accurately for every r: near 0 as log1p(2 sinh(r/2)^2)
 * (cosh(r) - 1 without cancellation), elsewhere as |r| + log1p(exp(-2
 * |r|)) - log 2, which cannot overflow.
 */
static double
log_cosh_term(double x, double y, double z, const double *params)
{
	double	 a = fabs(x - y), s;

	(void)z;
	(void)params;
	if (a < 1.0) {
		s = sinh(a / 2.0);
		return log1p(2.0 * (s * s));
	}
	return a + log1p(exp(-2.0 * a)) - M_LN2;
}

/* log_cosh_term's last step: its term from a = |x - y| and l, the log1p
 * of its case. */
static double
log_cosh_of(double a, double l, double z, const double *params)
{
	(void)z;
	(void)params;
	return pick(a < 1.0, l, a + l - M_LN2);
}

static double
quantile_term(double x, double y, double z, const double *params)
{
	double	 tau = params[QUANTILE_TAU], r = y - x;

	(void)z;
	return pick(r >= 0.0, tau, tau - 1.0) * r;
}

/* torch.xlogy(t, t): 0 where t is 0, NaN where t is NaN. */
static double
xlogx(double t)
{
	if (isnan(t))
		return NAN;
	return t == 0.0 ? 0.0 : t * log(t);
}

/* Predictions x, targets y. */
static double
kl_term(double x, double y, double z, const double *params)
{
	(void)z;
	if (params[KL_LOG_TARGET] != 0.0)
		return exp(y) * (y - x);
	return xlogx(y) - y * x;
}

/* Scores x1 and x2, label y. */
static double
ranking_term(double x1, double x2, double y, const double *params)
{
	return clamp0(-y * (x1 - x2) + params[MARGIN]);
}

/* The term of element i, times its weight when there are weights. */
static inline __attribute__((always_inline)) double
term_at(term_fn term, const double *x, const double *y, const double *z,
    const double *w, size_t i, const double *params)
{
	double	 v = term(x[i], y[i], z != NULL ? z[i] : 0.0, params);

	return w != NULL ? v * w[i] : v;
}

/*
 * The sum of the terms of n elements in four partial sums that take
 * turns, so that an addition need not wait for the one before (the
 * order of a sum is free: torch's own are pairwise).  Always inlined
 * with a known term, z and w, so that the term is inlined too and no
 * test of z or w is left in the loop.
 */
static inline __attribute__((always_inline)) double
sum_loop(term_fn term, const double *x, const double *y, const double *z,
    const double *w, size_t n, const double *params)
{
	double	 s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
	size_t	 i;

	for (i = 0; i + 4 <= n; i += 4) {
		s0 += term_at(term, x, y, z, w, i, params);
		s1 += term_at(term, x, y, z, w, i + 1, params);
		s2 += term_at(term, x, y, z, w, i + 2, params);
		s3 += term_at(term, x, y, z, w, i + 3, params);
	}
	for (; i < n; i++)
		s0 += term_at(term, x, y, z, w, i, params);
	return (s0 + s1) + (s2 + s3);
}

/* One loop for each case of z and w. */
static inline __attribute__((always_inline)) double
sum_terms(term_fn term, const struct elems *e, const double *params)
{
	if (e->z == NULL && e->w == NULL)
		return sum_loop(term, e->x, e->y, NULL, NULL, e->n, params);
	if (e->z == NULL)
		return sum_loop(term, e->x, e->y, NULL, e->w, e->n, params);
	if (e->w == NULL)
		return sum_loop(term, e->x, e->y, e->z, NULL, e->n, params);
	return sum_loop(term, e->x, e->y, e->z, e->w, e->n, params);
}

/* Defines name_sum, the loop of name_term. */
#define TERMS_SUM(name)							\
	static double							\
	name##_sum(const struct elems *e, const double *params)	\
	{								\
		return sum_terms(name##_term, e, params);		\
	}

/* The elements of the block of at most VBLOCK that starts at i. */
static size_t
block_len(size_t i, size_t n)
{
	return n - i < VBLOCK ? n - i : VBLOCK;
}

/* poisson_term a block at a time: the exps or logs of a block at once,
 * then its terms. */
static double
poisson_vsum(const struct elems *e, const double *params)
{
	double	 f[VBLOCK], sum = 0.0;
	size_t	 i, j, n;

	for (i = 0; i < e->n; i += n) {
		n = block_len(i, e->n);
		if (params[POISSON_LOG_INPUT] != 0.0)
			vmath_exp(f, e->x + i, n);
		else {
			for (j = 0; j < n; j++)
				f[j] = e->x[i + j] + params[POISSON_EPS];
			vmath_log(f, f, n);
		}
		sum += sum_loop(poisson_of, e->x + i, e->y + i, f, NULL, n,
		    params);
	}
	return sum;
}

/*
 * log_cosh_term a block at a time.  A block mixes its two cases, so
 * every element gets both sinh(a/2) and exp(-2a), which together still
 * cost less than one libm call when vmath computes four at a time; then
 * the log1p of the one its case needs.
 */
static double
log_cosh_vsum(const struct elems *e, const double *params)
{
	double	 a[VBLOCK], s[VBLOCK], u[VBLOCK], sum = 0.0;
	size_t	 i, j, n;

	for (i = 0; i < e->n; i += n) {
		n = block_len(i, e->n);
		for (j = 0; j < n; j++) {
			a[j] = fabs(e->x[i + j] - e->y[i + j]);
			s[j] = a[j] / 2.0;
			u[j] = -2.0 * a[j];
		}
		vmath_sinh(s, s, n);
		vmath_exp(u, u, n);
		for (j = 0; j < n; j++)
			u[j] = pick(a[j] < 1.0, 2.0 * (s[j] * s[j]), u[j]);
		vmath_log1p(u, u, n);
		sum += sum_loop(log_cosh_of, a, u, NULL, NULL, n, params);
	}
	return sum;
}

/* The sum of term over a block of n elements: x, y and z of the block,
 * times w[j] when there are weights. */
static inline __attribute__((always_inline)) double
block_sum(term_fn term, const double *x, const double *y, const double *z,
    const double *w, size_t n, const double *params)
{
	if (w == NULL)
		return sum_loop(term, x, y, z, NULL, n, params);
	return sum_loop(term, x, y, z, w, n, params);
}

/* The weights of the block that starts at i, or NULL. */
static const double *
block_w(const struct elems *e, size_t i)
{
	return e->w != NULL ? e->w + i : NULL;
}

/* bce_term a block at a time: the logs of x and of 1 - x of a block at
 * once, then its terms. */
static double
bce_vsum(const struct elems *e, const double *params)
{
	double	 lx[VBLOCK], l1x[VBLOCK], sum = 0.0;
	size_t	 i, j, n;

	for (i = 0; i < e->n; i += n) {
		n = block_len(i, e->n);
		for (j = 0; j < n; j++)
			l1x[j] = 1.0 - e->x[i + j];
		vmath_log(lx, e->x + i, n);
		vmath_log(l1x, l1x, n);
		sum += block_sum(bce_of, lx, e->y + i, l1x, block_w(e, i), n,
		    params);
	}
	return sum;
}

/* exp(-|x|) of n values into e, and the log of 1 plus each into l. */
static void
bcel_vlogs(double *e, double *l, const double *x, size_t n)
{
	size_t	 j;

	for (j = 0; j < n; j++)
		e[j] = -fabs(x[j]);
	vmath_exp(e, e, n);
	for (j = 0; j < n; j++)
		l[j] = 1.0 + e[j];
	vmath_log(l, l, n);
}

/* bcel_term a block at a time. */
static double
bcel_vsum(const struct elems *e, const double *params)
{
	double	 u[VBLOCK], l[VBLOCK], sum = 0.0;
	size_t	 i, n;

	for (i = 0; i < e->n; i += n) {
		n = block_len(i, e->n);
		bcel_vlogs(u, l, e->x + i, n);
		sum += block_sum(bcel_of, e->x + i, e->y + i, l,
		    block_w(e, i), n, params);
	}
	return sum;
}

/*
 * bcel_pw_term a block at a time, over whole rows of the positive
 * weights z: the log terms of a block first, with the weight of each
 * element's place in its row, then the terms.
 */
static double
bcel_pw_vsum(const struct elems *e, size_t row, const double *params)
{
	double	 u[VBLOCK], l[VBLOCK], sum = 0.0;
	size_t	 i, j, k, n;

	for (i = 0, k = 0; i < e->n; i += n) {
		n = block_len(i, e->n);
		bcel_vlogs(u, l, e->x + i, n);
		for (j = 0; j < n; j++) {
			l[j] = bcel_pw_log(e->x[i + j], e->y[i + j], e->z[k],
			    l[j]);
			if (++k == row)
				k = 0;
		}
		sum += block_sum(bcel_pw_of, e->x + i, e->y + i, l,
		    block_w(e, i), n, params);
	}
	return sum;
}

/* sfocal_term a block at a time: sigmoid(x) and the bcel_term of a
 * block, then its terms. */
static double
sfocal_vsum(const struct elems *e, const double *params)
{
	double		 p[VBLOCK], ce[VBLOCK], sum = 0.0;
	const double	*x, *y;
	size_t		 i, j, n;

	for (i = 0; i < e->n; i += n) {
		n = block_len(i, e->n);
		x = e->x + i;
		y = e->y + i;
		bcel_vlogs(p, ce, x, n);
		for (j = 0; j < n; j++) {
			ce[j] = bcel_of(x[j], y[j], ce[j], params);
			p[j] = sfocal_p(x[j], p[j]);
		}
		sum += sum_loop(sfocal_of, p, y, ce, NULL, n, params);
	}
	return sum;
}

TERMS_SUM(mse)
TERMS_SUM(mae)
TERMS_SUM(huber)
TERMS_SUM(smooth_l1)
TERMS_SUM(bce)
TERMS_SUM(bcel)
TERMS_SUM(bcel_pw)
TERMS_SUM(sfocal)
TERMS_SUM(hinge)
TERMS_SUM(poisson)
TERMS_SUM(log_cosh)
TERMS_SUM(quantile)
TERMS_SUM(kl)
TERMS_SUM(ranking)

/* Checks the inputs of an elementwise type: targets and weights of the
 * shape of predictions, values in range. */
static int
check_elementwise(const struct loss_kind *k, const struct tensor *x,
    const struct tensor *y, const struct tensor *w, struct errbuf *e)
{
	if (check_same("targets", y, "predictions", x, e) == -1)
		return -1;
	if (w != NULL && check_same("weights", w, "targets", y, e) == -1)
		return -1;
	if ((k->checks & CHECK_UNIT_PRED) &&
	    check_unit("predictions", x, e) == -1)
		return -1;
	if ((k->checks & CHECK_UNIT_TARGET) &&
	    check_unit("targets", y, e) == -1)
		return -1;
	if ((k->checks & CHECK_SIGNS) &&
	    check_labels("targets", y, 1.0, -1.0, e) == -1)
		return -1;
	return 0;
}

/* Whether the values of n elements of predictions x and targets y pass
 * the checks of an elementwise type (check_elementwise names the first
 * that does not). */
static int
values_ok(unsigned checks, const double *x, const double *y, size_t n)
{
	return (!(checks & CHECK_UNIT_PRED) || all_unit(x, n)) &&
	    (!(checks & CHECK_UNIT_TARGET) || all_unit(y, n)) &&
	    (!(checks & CHECK_SIGNS) || all_labels(y, n, 1.0, -1.0));
}

/*
 * Mean reduction: s[0] is the sum of the terms, s[1] their number.
 * Values are checked a block at a time, each block just before it is
 * summed, so that the sum reads it from cache rather than from memory
 * a second time.  When a block fails, check_elementwise goes through
 * the whole batch in its usual order and names the first bad value.
 */
static int
elementwise_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct loss_kind	*k = &kinds[spec->type];
	const struct tensor	*x = in->t[LOSS_PREDICTIONS];
	const struct tensor	*y = in->t[LOSS_TARGETS];
	const struct tensor	*w = in->t[LOSS_WEIGHTS];
	struct elems		 el;
	sum_fn			 sum_of = k->sum;
	double			 sum = 0.0;
	size_t			 i, step;

	/* Blocks mapped by vmath cost more than the loop of terms, which
	 * calls libm only for what each element needs, unless vmath
	 * computes several values at a time. */
	if (k->vsum != NULL && vmath_vector())
		sum_of = k->vsum;
	if (!takes(k, LOSS_WEIGHTS))
		w = NULL;
	if (check_same("targets", y, "predictions", x, e) == -1 ||
	    (w != NULL && check_same("weights", w, "targets", y, e) == -1))
		return -1;

	step = k->checks != 0 ? CHECK_BLOCK : x->n;
	for (i = 0; i < x->n; i += step) {
		el.x = x->data + i;
		el.y = y->data + i;
		el.z = NULL;
		el.w = w != NULL ? w->data + i : NULL;
		el.n = x->n - i < step ? x->n - i : step;
		if (!values_ok(k->checks, el.x, el.y, el.n))
			return check_elementwise(k, x, y, w, e);
		sum += sum_of(&el, spec->params);
	}
	out->s[0] = sum;
	out->s[1] = (double)x->n;
	out->n = 2;
	return 0;
}

/* bcel_pw_sum of e, whose z is one row of positive weights, over each
 * row of e in turn. */
static double
bcel_pw_rows(const struct elems *e, size_t row, const double *params)
{
	struct elems	 el = *e;
	double		 sum = 0.0;
	size_t		 i;

	el.n = row;
	for (i = 0; i < e->n; i += row) {
		el.x = e->x + i;
		el.y = e->y + i;
		el.w = e->w != NULL ? e->w + i : NULL;
		sum += bcel_pw_sum(&el, params);
	}
	return sum;
}

/* A positive weight is per entry of the last dimension: that is, an
 * array of one row, z of the loop over each row in turn. */
static int
bcel_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*x = in->t[LOSS_PREDICTIONS];
	const struct tensor	*y = in->t[LOSS_TARGETS];
	const struct tensor	*w = in->t[LOSS_WEIGHTS];
	const double		*pw = spec->list;
	struct elems		 el = { x->data, y->data, NULL, NULL, x->n };
	double			 sum;
	size_t			 last;

	if (check_elementwise(&kinds[spec->type], x, y, w, e) == -1)
		return -1;
	last = y->ndim > 0 ? y->shape[y->ndim - 1] : 1;
	if (pw != NULL && (y->ndim == 0 || spec->nlist != last))
		return fail(e, "pos_weight has %zu value%s but the last "
		    "dimension of targets has %zu", spec->nlist,
		    plural(spec->nlist, "", "s"), y->ndim ? last : 0);

	if (w != NULL)
		el.w = w->data;
	el.z = pw;
	if (pw == NULL && vmath_vector())
		sum = bcel_vsum(&el, spec->params);
	else if (pw == NULL)
		sum = bcel_sum(&el, spec->params);
	else if (vmath_vector())
		sum = bcel_pw_vsum(&el, last, spec->params);
	else
		sum = bcel_pw_rows(&el, last, spec->params);
	out->s[0] = sum;
	out->s[1] = (double)x->n;
	out->n = 2;
	return 0;
}

/*
 * The maximum of a row of logits and the log of its sum of exp(x -
 * max), so that log_softmax(x)[c] = (x[c] - max) - lse, as torch
 * computes it.  Subtracting the maximum first keeps exp finite.  A NaN
 * logit makes both NaN, as torch's maximum propagates NaN.
 */
static void
row_lse(const double *x, size_t nclass, double *max, double *lse)
{
	double	 m = x[0], sum = 0.0;
	size_t	 j;

	for (j = 0; j < nclass; j++) {
		if (isnan(x[j])) {
			*max = *lse = NAN;
			return;
		}
		if (x[j] > m)
			m = x[j];
	}
	for (j = 0; j < nclass; j++)
		sum += exp(x[j] - m);
	*max = m;
	*lse = log(sum);
}

/* Cross entropy of one row of logits against class y. */
static double
row_ce(const double *x, size_t nclass, size_t y)
{
	double	 max, lse;

	row_lse(x, nclass, &max, &lse);
	return -((x[y] - max) - lse);
}

/* Checks the logits [N][C] of cross_entropy, focal and nll against
 * class indices, and the per-class list of param. */
static int
check_logits(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, double ignore, size_t param,
    const double **list, struct errbuf *e)
{
	const char	*need = spec->type == LOSS_NLL ?
			    "log-probabilities [N][C]" : "logits [N][C]";

	if (check_rows(spec->type, pred, 2, 0, need, target, e) == -1 ||
	    check_classes(target, pred->shape[1], ignore, e) == -1)
		return -1;
	return class_list(spec, param, pred->shape[1], list, e);
}

/*
 * Cross entropy against class probabilities [N][C]: the sum over rows
 * of -sum_c log_softmax(x)[c] y'[c] w[c], y' smoothed, and N.
 */
static int
ce_probs(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	double		 ls = spec->params[CE_SMOOTHING];
	double		 sum = 0.0, max, lse, t, v;
	const double	*w, *x, *y;
	size_t		 i, j, nrow, nclass;

	if (check_same("targets", target, "predictions", pred, e) == -1 ||
	    class_list(spec, CE_WEIGHT, pred->shape[1], &w, e) == -1)
		return -1;
	/* torch refuses it: a class that probabilities cannot leave out. */
	if (spec->params[CE_IGNORE] >= 0.0)
		return fail(e, "ignore_index %.0f applies to class indices, "
		    "not to class probabilities as targets",
		    spec->params[CE_IGNORE]);

	nrow = pred->shape[0];
	nclass = pred->shape[1];
	for (i = 0; i < nrow; i++) {
		x = pred->data + i * nclass;
		y = target->data + i * nclass;
		row_lse(x, nclass, &max, &lse);
		for (j = 0; j < nclass; j++) {
			t = ls > 0.0 ? y[j] * (1.0 - ls) + ls / nclass : y[j];
			v = ((x[j] - max) - lse) * t;
			sum -= w != NULL ? v * w[j] : v;
		}
	}
	out->s[0] = sum;
	out->s[1] = (double)nrow;
	out->n = 2;
	return 0;
}

/*
 * Cross entropy against class indices: s[0] the weighted sum of the
 * rows' CE, s[1] the sum of their weights, s[2] the smoothing term
 * (sum_c w[c] CE_c / C per row); ignored rows add nothing.
 */
static int
ce_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*pred = in->t[LOSS_PREDICTIONS];
	const struct tensor	*target = in->t[LOSS_TARGETS];
	double			 ls = spec->params[CE_SMOOTHING];
	double			 ignore = spec->params[CE_IGNORE];
	double			 sum = 0.0, wsum = 0.0, smooth = 0.0, max, lse;
	double			 wy, row;
	const double		*w, *x;
	size_t			 i, j, y, nclass;

	if (pred->ndim == 2 && target->ndim == 2)
		return ce_probs(spec, pred, target, out, e);
	if (check_logits(spec, pred, target, ignore, CE_WEIGHT, &w,
	    e) == -1)
		return -1;

	nclass = pred->shape[1];
	for (i = 0; i < pred->shape[0]; i++) {
		if (target->data[i] == ignore)
			continue;
		x = pred->data + i * nclass;
		y = (size_t)target->data[i];
		wy = w != NULL ? w[y] : 1.0;
		row_lse(x, nclass, &max, &lse);
		sum += -((x[y] - max) - lse) * wy;
		wsum += wy;
		if (ls == 0.0)
			continue;
		row = 0.0;
		for (j = 0; j < nclass; j++)
			row += w != NULL ? ((x[j] - max) - lse) * w[j] :
			    (x[j] - max) - lse;
		smooth += -row / nclass;
	}
	out->s[0] = sum;
	out->s[1] = wsum;
	out->s[2] = smooth;
	out->n = 3;
	return 0;
}

/*
 * The sums of nll over rows of log-probabilities x against class
 * indices t: s[0] = sum of -w[y] x[y], s[1] = sum of w[y], over rows
 * not ignored; w NULL weighs every class 1.  Returns -1 at the first
 * index that is not one, and 0 when all are.
 *
 * Each row is read at one place, in no fixed pattern, which the CPU's
 * prefetcher follows poorly.  So where a row spans at most two cache
 * lines (NLL_SHORT classes), the start of the row NLL_AHEAD rows on is
 * fetched ahead, which in turn fetches every line; in longer rows that
 * would fetch lines that are not read.
 */
static int
nll_sums(const struct tensor *x, const struct tensor *t, const double *w,
    double ignore, struct loss_stats *out)
{
	size_t	 i, nclass = x->shape[1], count = 0;
	double	 v, wy, top = (double)nclass, sum = 0.0, wsum = 0.0;
	long long y;
	int	 ahead = nclass <= NLL_SHORT;

	/* Below nclass, which is far below 2^63 (the rows of x are in
	 * memory), v converts to a long long, the cheaper conversion. */
	for (i = 0; i < t->n; i++) {
		if (ahead && i + NLL_AHEAD < t->n)
			__builtin_prefetch(x->data + (i + NLL_AHEAD) * nclass);
		v = t->data[i];
		if (v == ignore)
			continue;
		if (!(v >= 0.0 && v < top))
			return -1;
		y = (long long)v;
		if ((double)y != v)
			return -1;
		/* Unweighted, the weights sum to the count of rows, which
		 * spares the loop a second chain of additions. */
		if (w == NULL) {
			sum -= x->data[i * nclass + y];
			count++;
			continue;
		}
		wy = w[y];
		sum -= x->data[i * nclass + y] * wy;
		wsum += wy;
	}
	out->s[0] = sum;
	out->s[1] = w == NULL ? (double)count : wsum;
	out->n = 2;
	return 0;
}

/*
 * nll reads one value of each row, so its loop waits on memory; the
 * class indices are checked within it rather than in a pass of their
 * own beforehand.  When they or the weights are wrong, check_logits
 * names the problem, in its usual order.
 */
static int
nll_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*pred = in->t[LOSS_PREDICTIONS];
	const struct tensor	*target = in->t[LOSS_TARGETS];
	double			 ignore = spec->params[NLL_IGNORE];
	const double		*w = spec->list;

	if (check_rows(spec->type, pred, 2, 0, "log-probabilities [N][C]",
	    target, e) == -1)
		return -1;
	if ((w != NULL && spec->nlist != pred->shape[1]) ||
	    nll_sums(pred, target, w, ignore, out) == -1) {
		check_logits(spec, pred, target, ignore, NLL_WEIGHT, &w, e);
		return -1;
	}
	return 0;
}

static int
focal_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*pred = in->t[LOSS_PREDICTIONS];
	const struct tensor	*target = in->t[LOSS_TARGETS];
	double			 gamma = spec->params[FOCAL_GAMMA];
	double			 ignore = spec->params[FOCAL_IGNORE];
	double			 sum = 0.0, count = 0.0, ce, pt, a;
	const double		*alpha;
	size_t			 i, y, nclass;

	if (check_logits(spec, pred, target, ignore, FOCAL_ALPHA, &alpha,
	    e) == -1)
		return -1;

	nclass = pred->shape[1];
	for (i = 0; i < pred->shape[0]; i++) {
		if (target->data[i] == ignore)
			continue;
		y = (size_t)target->data[i];
		a = alpha != NULL ? alpha[y] : spec->params[FOCAL_ALPHA];
		ce = row_ce(pred->data + i * nclass, nclass, y);
		/* 1 - exp(-ce), not -expm1(-ce): the torch formula. */
		pt = exp(-ce);
		sum += a * focus(1.0 - pt, gamma) * ce;
		count++;
	}
	out->s[0] = sum;
	out->s[1] = count;
	out->n = 2;
	return 0;
}

/*
 * torch.nn.functional.pairwise_distance: ||a - b + 1e-6||_p, without
 * scaling, so that it overflows where torch's does; torch's norm takes
 * p = 1 and 2 apart.
 */
static double
pair_distance(const double *a, const double *b, size_t dim, double p)
{
	double	 acc = 0.0, v;
	size_t	 k;

	for (k = 0; k < dim; k++) {
		v = (a[k] - b[k]) + EPS_PAIRWISE;
		if (p == 2.0)
			acc += v * v;
		else if (p == 1.0)
			acc += fabs(v);
		else
			acc += pow(fabs(v), p);
	}
	if (p == 2.0)
		return sqrt(acc);
	return p == 1.0 ? acc : pow(acc, 1.0 / p);
}

static int
contrastive_batch(const struct loss_spec *spec,
    const struct loss_inputs *in, struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*pred = in->t[LOSS_PREDICTIONS];
	const struct tensor	*target = in->t[LOSS_TARGETS];
	double			 margin = spec->params[CONTRASTIVE_MARGIN];
	double			 sum = 0.0, d, h, y;
	size_t			 i, nrow, dim;

	if (check_rows(spec->type, pred, 3, 2, "pairs [N][2][D]", target,
	    e) == -1 || check_labels("targets", target, 0.0, 1.0, e) == -1)
		return -1;

	nrow = pred->shape[0];
	dim = pred->shape[2];
	for (i = 0; i < nrow; i++) {
		d = pair_distance(pred->data + 2 * i * dim,
		    pred->data + (2 * i + 1) * dim, dim, 2.0);
		h = clamp0(margin - d);
		y = target->data[i];
		if (spec->params[CONTRASTIVE_LABELS] == LABELS_SIMILAR)
			y = 1.0 - y;
		/* Literal, like torch: 0 * inf is NaN when d overflows. */
		sum += (1.0 - y) * (d * d) + y * (h * h);
	}
	out->s[0] = sum;
	out->s[1] = (double)nrow;
	out->n = 2;
	return 0;
}

/* Adds one element of a Dice class to its three sums. */
static void
dice_add(double *s, double p, double t, int squared)
{
	s[0] += p * t;
	s[1] += squared ? p * p : p;
	s[2] += squared ? t * t : t;
}

/* Adds n elements of binary Dice to its sums s, p = sigmoid(x) with
 * logits, else x. */
static void
dice_sums(const double *x, const double *t, size_t n, int logits,
    int squared, double *s)
{
	double	 p;
	size_t	 i;

	for (i = 0; i < n; i++) {
		p = x[i];
		if (logits)
			p = 1.0 / (1.0 + exp(-p));
		dice_add(s, p, t[i], squared);
	}
}

/* The terms of the three sums of Dice for sum_loop, of p and t: p t,
 * p (or p^2), t (or t^2). */
static double
dice_inter(double p, double t, double z, const double *params)
{
	(void)z;
	(void)params;
	return p * t;
}

static double
dice_pred(double p, double t, double z, const double *params)
{
	(void)t;
	(void)z;
	return params[DICE_SQUARED] != 0.0 ? p * p : p;
}

static double
dice_target(double p, double t, double z, const double *params)
{
	(void)p;
	(void)z;
	return params[DICE_SQUARED] != 0.0 ? t * t : t;
}

/* dice_sums from logits, a block of sigmoids at a time, each sum in
 * the partial sums of sum_loop. */
static void
dice_vsums(const double *x, const double *t, size_t n,
    const double *params, double *s)
{
	double	 p[VBLOCK];
	size_t	 i, m;

	for (i = 0; i < n; i += m) {
		m = block_len(i, n);
		vmath_sigmoid(p, x + i, m);
		s[0] += sum_loop(dice_inter, p, t + i, NULL, NULL, m, params);
		s[1] += sum_loop(dice_pred, p, t + i, NULL, NULL, m, params);
		s[2] += sum_loop(dice_target, p, t + i, NULL, NULL, m,
		    params);
	}
}

/* Checks the values of binary Dice; names the first bad one. */
static int
check_dice_values(const struct tensor *pred, const struct tensor *target,
    int logits, struct errbuf *e)
{
	if (check_labels("targets", target, 0.0, 1.0, e) == -1 ||
	    (!logits && check_unit("predictions", pred, e) == -1))
		return -1;
	return 0;
}

/*
 * Binary Dice: one class, predictions and 0/1 targets of one shape.
 * As in elementwise_batch, the values are checked a block at a time,
 * just before the block is summed, and a batch that fails is checked
 * again in full to name its first bad value.
 */
static int
dice_binary(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	int		 logits = spec->params[DICE_LOGITS] != 0.0;
	int		 squared = spec->params[DICE_SQUARED] != 0.0;
	int		 mapped = logits && vmath_vector();
	double		 s[3] = { 0.0, 0.0, 0.0 };
	const double	*x = pred->data, *t = target->data;
	size_t		 i, n;

	if (check_same("targets", target, "predictions", pred, e) == -1)
		return -1;
	if (spec->params[DICE_BACKGROUND] == 0.0) {
		if (check_dice_values(pred, target, logits, e) == -1)
			return -1;
		return fail(e, "include_background false needs the "
		    "multi-class form: predictions [N][C][...] and class "
		    "indices [N][...]");
	}

	/* Sums in a local array, which stays in registers: through out
	 * each addition would wait for the store of the one before. */
	for (i = 0; i < pred->n; i += n) {
		n = pred->n - i < CHECK_BLOCK ? pred->n - i : CHECK_BLOCK;
		if (!all_labels(t + i, n, 0.0, 1.0) ||
		    (!logits && !all_unit(x + i, n)))
			return check_dice_values(pred, target, logits, e);
		if (mapped)
			dice_vsums(x + i, t + i, n, spec->params, s);
		else
			dice_sums(x + i, t + i, n, logits, squared, s);
	}
	memcpy(out->s, s, sizeof(s));
	out->s[3] = (double)pred->n;
	out->n = 4;
	return 0;
}

/* Checks that targets is predictions' shape without the class
 * dimension. */
static int
check_dice_classes(const struct tensor *pred, const struct tensor *target,
    struct errbuf *e)
{
	char	 a[256], b[256];
	int	 d;

	for (d = 0; d < target->ndim; d++) {
		if (target->shape[d] != pred->shape[d == 0 ? 0 : d + 1])
			return fail(e, "%s but %s (class indices take the "
			    "shape of predictions without its second "
			    "dimension)",
			    shape_text("targets", target, a, sizeof(a)),
			    shape_text("predictions", pred, b, sizeof(b)));
	}
	if (pred->shape[1] > LOSS_MAX_CLASSES)
		return fail(e, "predictions has %zu classes; dice takes at "
		    "most %d", pred->shape[1], LOSS_MAX_CLASSES);
	return 0;
}

/*
 * The maximum over the classes of one position, whose logits are
 * stride apart, and the sum of exp(x - max): softmax(x)[c] = exp(x[c]
 * - max) / sum, as torch computes it.  NaN propagates through max.
 */
static void
softmax_sums(const double *x, size_t nclass, size_t stride, double *max,
    double *sum)
{
	double	 m = x[0], s = 0.0;
	size_t	 c;

	for (c = 0; c < nclass; c++) {
		if (isnan(x[c * stride])) {
			m = NAN;
			break;
		}
		if (x[c * stride] > m)
			m = x[c * stride];
	}
	for (c = 0; c < nclass; c++)
		s += exp(x[c * stride] - m);
	*max = m;
	*sum = s;
}

/*
 * Multi-class Dice: predictions [N][C][...] and class indices [N][...].
 * For class c, s[3c..3c+2] sum p y, p (or p^2) and y (or y^2), with p
 * the softmax over C (or the probabilities given) and y one-hot;
 * s[3C] counts the positions.
 */
static int
dice_multi(const struct loss_spec *spec, const struct tensor *pred,
    const struct tensor *target, struct loss_stats *out, struct errbuf *e)
{
	int		 logits = spec->params[DICE_LOGITS] != 0.0;
	int		 squared = spec->params[DICE_SQUARED] != 0.0;
	const double	*x;
	double		 max, sum, p, y;
	size_t		 nclass, inner, i, j, c;

	if (check_dice_classes(pred, target, e) == -1)
		return -1;
	nclass = pred->shape[1];
	if (spec->params[DICE_BACKGROUND] == 0.0 && nclass < 2)
		return fail(e, "include_background false needs at least 2 "
		    "classes but predictions has 1");
	if (check_classes(target, nclass, NAN, e) == -1 ||
	    (!logits && check_unit("predictions", pred, e) == -1))
		return -1;

	memset(out->s, 0, (3 * nclass + 1) * sizeof(double));
	inner = target->n / pred->shape[0];
	for (i = 0; i < pred->shape[0]; i++) {
		for (j = 0; j < inner; j++) {
			x = pred->data + i * nclass * inner + j;
			y = target->data[i * inner + j];
			max = sum = 0.0;
			if (logits)
				softmax_sums(x, nclass, inner, &max, &sum);
			for (c = 0; c < nclass; c++) {
				p = x[c * inner];
				if (logits)
					p = exp(p - max) / sum;
				dice_add(out->s + 3 * c, p,
				    y == (double)c ? 1.0 : 0.0, squared);
			}
		}
	}
	out->s[3 * nclass] = (double)target->n;
	out->n = 3 * nclass + 1;
	return 0;
}

static int
dice_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*pred = in->t[LOSS_PREDICTIONS];
	const struct tensor	*target = in->t[LOSS_TARGETS];

	if (target->ndim >= 1 && pred->ndim == target->ndim + 1)
		return dice_multi(spec, pred, target, out, e);
	return dice_binary(spec, pred, target, out, e);
}

/* s[0] = the sum of the terms; s[1] = the number of elements, or of
 * rows with batchmean. */
static int
kl_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*x = in->t[LOSS_PREDICTIONS];
	const struct tensor	*y = in->t[LOSS_TARGETS];
	struct elems		 el = { x->data, y->data, NULL, NULL, x->n };

	if (check_same("targets", y, "predictions", x, e) == -1)
		return -1;

	out->s[0] = kl_sum(&el, spec->params);
	if (spec->params[KL_REDUCTION] == KL_BATCHMEAN)
		out->s[1] = x->ndim > 0 ? (double)x->shape[0] : 1.0;
	else
		out->s[1] = (double)x->n;
	out->n = 2;
	return 0;
}

static int
cosine_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*x1 = in->t[LOSS_PREDICTIONS];
	const struct tensor	*x2 = in->t[LOSS_PREDICTIONS2];
	const struct tensor	*y = in->t[LOSS_TARGETS];
	double			 sum = 0.0, prod, m1, m2, cos;
	const double		*a, *b;
	size_t			 i, k, dim;

	if (check_rows(spec->type, x1, 2, 0, "vectors [N][D]", y,
	    e) == -1 ||
	    check_same("predictions2", x2, "predictions", x1, e) == -1 ||
	    check_labels("targets", y, 1.0, -1.0, e) == -1)
		return -1;

	dim = x1->shape[1];
	for (i = 0; i < x1->shape[0]; i++) {
		a = x1->data + i * dim;
		b = x2->data + i * dim;
		prod = m1 = m2 = 0.0;
		for (k = 0; k < dim; k++) {
			prod += a[k] * b[k];
			m1 += a[k] * a[k];
			m2 += b[k] * b[k];
		}
		cos = prod / sqrt((m1 + EPS_COSINE) * (m2 + EPS_COSINE));
		sum += y->data[i] == 1.0 ? 1.0 - cos :
		    clamp0(cos - spec->params[MARGIN]);
	}
	out->s[0] = sum;
	out->s[1] = (double)x1->shape[0];
	out->n = 2;
	return 0;
}

static int
ranking_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*x1 = in->t[LOSS_PREDICTIONS];
	const struct tensor	*x2 = in->t[LOSS_PREDICTIONS2];
	const struct tensor	*y = in->t[LOSS_TARGETS];
	struct elems		 el = { x1->data, x2->data, y->data, NULL,
				    x1->n };

	if (check_same("predictions2", x2, "predictions", x1, e) == -1 ||
	    check_same("targets", y, "predictions", x1, e) == -1 ||
	    check_labels("targets", y, 1.0, -1.0, e) == -1)
		return -1;

	out->s[0] = ranking_sum(&el, spec->params);
	out->s[1] = (double)x1->n;
	out->n = 2;
	return 0;
}

static int
triplet_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*a = in->t[LOSS_PREDICTIONS];
	const struct tensor	*pos = in->t[LOSS_POSITIVES];
	const struct tensor	*neg = in->t[LOSS_NEGATIVES];
	double			 p = spec->params[TRIPLET_P];
	double			 sum = 0.0, dp, dn, ds;
	size_t			 i, dim;
	char			 buf[256];

	if (a->ndim != 2)
		return fail(e, "%s but triplet_margin needs anchors [N][D]",
		    shape_text("predictions", a, buf, sizeof(buf)));
	if (check_same("positives", pos, "predictions", a, e) == -1 ||
	    check_same("negatives", neg, "predictions", a, e) == -1)
		return -1;

	dim = a->shape[1];
	for (i = 0; i < a->shape[0]; i++) {
		dp = pair_distance(a->data + i * dim, pos->data + i * dim,
		    dim, p);
		dn = pair_distance(a->data + i * dim, neg->data + i * dim,
		    dim, p);
		if (spec->params[TRIPLET_SWAP] != 0.0) {
			ds = pair_distance(pos->data + i * dim,
			    neg->data + i * dim, dim, p);
			/* torch.min propagates NaN; fmin would not. */
			if (isnan(ds) || ds < dn)
				dn = isnan(dn) ? dn : ds;
		}
		sum += clamp0(spec->params[TRIPLET_MARGIN] + dp - dn);
	}
	out->s[0] = sum;
	out->s[1] = (double)a->shape[0];
	out->n = 2;
	return 0;
}

/*
 * Checks the variance of gaussian_nll: the shape of predictions, or
 * that shape without its last dimension or with it 1 (one variance per
 * row, *per_row set), as torch allows; never negative.
 */
static int
check_variance(const struct tensor *x, const struct tensor *v,
    int *per_row, struct errbuf *e)
{
	char	 a[256], b[256], num[32];
	int	 d, nd = x->ndim;
	size_t	 i;

	*per_row = 0;
	if (same_shape(v, x))
		goto values;
	for (d = 0; d < nd - 1 && d < v->ndim; d++)
		if (v->shape[d] != x->shape[d])
			break;
	if (nd >= 1 && d == nd - 1 && (v->ndim == nd - 1 ||
	    (v->ndim == nd && v->shape[nd - 1] == 1)))
		*per_row = 1;
	else
		return fail(e, "%s but %s (variance takes the shape of "
		    "predictions, or that shape without its last dimension "
		    "or with it 1)", shape_text("variance", v, a, sizeof(a)),
		    shape_text("predictions", x, b, sizeof(b)));

values:
	for (i = 0; i < v->n; i++)
		if (v->data[i] < 0.0)
			return fail(e, "%s is %s, negative",
			    elem_text("variance", v, i, a, sizeof(a)),
			    num_text(v->data[i], num, sizeof(num)));
	return 0;
}

static int
gaussian_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, struct errbuf *e)
{
	const struct tensor	*x = in->t[LOSS_PREDICTIONS];
	const struct tensor	*y = in->t[LOSS_TARGETS];
	const struct tensor	*v = in->t[LOSS_VARIANCE];
	double			 eps = spec->params[GAUSSIAN_EPS];
	double			 half_log_2pi = 0.5 * log(2.0 * M_PI);
	double			 sum = 0.0, var, d, loss;
	size_t			 i, last;
	int			 per_row;

	if (check_same("targets", y, "predictions", x, e) == -1 ||
	    check_variance(x, v, &per_row, e) == -1)
		return -1;

	last = x->ndim > 0 ? x->shape[x->ndim - 1] : 1;
	for (i = 0; i < x->n; i++) {
		var = v->data[per_row ? i / last : i];
		/* torch clamps a copy of the variance; NaN stays NaN. */
		if (var < eps)
			var = eps;
		d = x->data[i] - y->data[i];
		loss = 0.5 * (log(var) + d * d / var);
		if (spec->params[GAUSSIAN_FULL] != 0.0)
			loss += half_log_2pi;
		sum += loss;
	}
	out->s[0] = sum;
	out->s[1] = (double)x->n;
	out->n = 2;
	return 0;
}

/* s[0] / s[1]: a sum over the number (or summed weight) of samples;
 * 0/0, no sample, is NaN. */
static double
mean_value(const struct loss_spec *spec, const struct loss_stats *st)
{
	(void)spec;
	if (st->n < 2)
		return NAN;
	return st->s[0] / st->s[1];
}

/* Class indices: (1 - ls) s[0]/s[1] + ls s[2]/s[1], torch's mix of
 * the NLL and the smoothing term; class probabilities: s[0]/s[1]. */
static double
ce_value(const struct loss_spec *spec, const struct loss_stats *st)
{
	double	 ls = spec->params[CE_SMOOTHING];

	if (st->n == 2 || (st->n == 3 && ls == 0.0))
		return st->s[0] / st->s[1];
	if (st->n != 3)
		return NAN;
	return (1.0 - ls) * (st->s[0] / st->s[1]) + ls * (st->s[2] / st->s[1]);
}

/* The Dice loss of one class from its sums; 0/0, two empty sets, is a
 * perfect match. */
static double
dice_class(const double *s, double smooth)
{
	double	 den = s[1] + s[2] + smooth;

	if (den == 0.0)
		return 0.0;
	return 1.0 - (2.0 * s[0] + smooth) / den;
}

static double
dice_value(const struct loss_spec *spec, const struct loss_stats *st)
{
	double	 smooth = spec->params[DICE_SMOOTH], sum = 0.0;
	size_t	 nclass, c, first;

	if (st->n < 4 || (st->n - 1) % 3 != 0)
		return NAN;
	nclass = (st->n - 1) / 3;
	first = spec->params[DICE_BACKGROUND] == 0.0 && nclass > 1;
	for (c = first; c < nclass; c++)
		sum += dice_class(st->s + 3 * c, smooth);
	return sum / (double)(nclass - first);
}

static const char *
ce_form(size_t n, char *buf, size_t len)
{
	snprintf(buf, len, "class %s targets",
	    n == 3 ? "indices as" : "probabilities as");
	return buf;
}

static const char *
dice_form(size_t n, char *buf, size_t len)
{
	size_t	 nclass = (n - 1) / 3;

	snprintf(buf, len, "%zu class%s", nclass, plural(nclass, "", "es"));
	return buf;
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
loss_type_formula(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? NULL : k->formula;
}

size_t
loss_ninputs(enum loss_type type)
{
	const struct loss_kind	*k = kind(type);

	return k == NULL ? 0 : k->ninputs;
}

const struct loss_input *
loss_input_info(enum loss_type type, size_t i)
{
	const struct loss_kind	*k = kind(type);

	if (k == NULL || i >= k->ninputs)
		return NULL;
	return &k->inputs[i];
}

const char *
loss_field_name(enum loss_field f)
{
	if ((unsigned)f >= LOSS_NFIELDS)
		return NULL;
	return field_names[f];
}

int
loss_field_lookup(const char *name, enum loss_field *out)
{
	int	 i;

	for (i = 0; i < LOSS_NFIELDS; i++) {
		if (strcmp(name, field_names[i]) == 0) {
			*out = (enum loss_field)i;
			return 0;
		}
	}
	return -1;
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

int
loss_param_lookup(enum loss_type type, const char *name, size_t *out)
{
	size_t	 i, n = loss_nparams(type);

	for (i = 0; i < n; i++) {
		if (strcmp(kinds[type].params[i].name, name) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
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

/* "must be in [0, 1]", "must be greater than 0", ... for a number
 * outside the bounds of p. */
static int
param_range(const struct loss_param *p, struct errbuf *e)
{
	char	 lo[32], hi[32];
	int	 lopen = (p->flags & LOSS_MIN_OPEN) != 0;
	int	 hopen = (p->flags & LOSS_MAX_OPEN) != 0;

	num_text(p->min, lo, sizeof(lo));
	num_text(p->max, hi, sizeof(hi));
	if (isfinite(p->min) && isfinite(p->max))
		return fail(e, "must be in %c%s, %s%c", lopen ? '(' : '[',
		    lo, hi, hopen ? ')' : ']');
	if (isfinite(p->min))
		return fail(e, "must be %s %s",
		    lopen ? "greater than" : "at least", lo);
	return fail(e, "must be %s %s", hopen ? "less than" : "at most", hi);
}

/* Checks one value of a number, or of an entry of a list. */
static int
number_check(const struct loss_param *p, double v, struct errbuf *e)
{
	if (!isfinite(v))
		return fail(e, "must be a finite number");
	if ((p->flags & LOSS_INTEGER) && v != floor(v))
		return fail(e, "must be an integer");
	if (v < p->min || v > p->max ||
	    ((p->flags & LOSS_MIN_OPEN) && v == p->min) ||
	    ((p->flags & LOSS_MAX_OPEN) && v == p->max))
		return param_range(p, e);
	return 0;
}

/* "must be one of \"mean\", \"batchmean\"". */
static int
word_fail(const struct loss_param *p, struct errbuf *e)
{
	char	 buf[256];
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; p->words[i] != NULL && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"%s\"",
		    i ? ", " : "", p->words[i]);
	return fail(e, "must be one of %s", buf);
}

int
loss_param_check(enum loss_type type, size_t i, double v, char *err,
    size_t errlen)
{
	const struct loss_param	*p = loss_param_info(type, i);
	struct errbuf		 e = { err, errlen };
	size_t			 n;

	if (p == NULL)
		return fail(&e, "is not a parameter of this loss");
	switch (p->kind) {
	case LOSS_PARAM_BOOLEAN:
		if (v != 0.0 && v != 1.0)
			return fail(&e, "must be true or false");
		return 0;
	case LOSS_PARAM_WORD:
		for (n = 0; p->words[n] != NULL; n++)
			continue;
		if (!(v >= 0.0 && v < (double)n && v == floor(v)))
			return word_fail(p, &e);
		return 0;
	default:
		return number_check(p, v, &e);
	}
}

int
loss_batch(const struct loss_spec *spec, const struct loss_inputs *in,
    struct loss_stats *out, char *err, size_t errlen)
{
	const struct loss_kind	*k = kind(spec->type);
	struct errbuf		 e = { err, errlen };
	struct loss_stats	 st;
	int			 empty = 0;

	if (k == NULL)
		return fail(&e, "unknown loss type %d", (int)spec->type);
	if (check_inputs(k, in, &empty, &e) == -1)
		return -1;
	if (empty) {
		out->n = 0;
		return 0;
	}

	st.n = 0;
	if (k->batch(spec, in, &st, &e) == -1)
		return -1;
	out->n = st.n;
	memcpy(out->s, st.s, st.n * sizeof(double));
	return 0;
}

int
loss_stats_add(const struct loss_spec *spec, struct loss_stats *acc,
    const struct loss_stats *b, char *err, size_t errlen)
{
	const struct loss_kind	*k = kind(spec->type);
	struct errbuf		 e = { err, errlen };
	char			 was[64], now[64];
	size_t			 i;

	if (b->n == 0)
		return 0;
	if (acc->n == 0) {
		acc->n = b->n;
		memcpy(acc->s, b->s, b->n * sizeof(double));
		return 0;
	}
	if (acc->n != b->n || k == NULL) {
		if (k == NULL || k->form == NULL) {
			snprintf(was, sizeof(was), "%zu statistics", acc->n);
			snprintf(now, sizeof(now), "%zu statistics", b->n);
		} else {
			k->form(acc->n, was, sizeof(was));
			k->form(b->n, now, sizeof(now));
		}
		return fail(&e, "this batch has %s but earlier batches of "
		    "this step have %s", now, was);
	}
	for (i = 0; i < acc->n; i++)
		acc->s[i] += b->s[i];
	return 0;
}

double
loss_value(const struct loss_spec *spec, const struct loss_stats *st)
{
	const struct loss_kind	*k = kind(spec->type);

	if (k == NULL || st->n == 0)
		return NAN;
	return k->value(spec, st);
}
