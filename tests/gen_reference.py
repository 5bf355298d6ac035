#!/usr/bin/python3
"""Reference values of lossmon's losses, computed by PyTorch.

Run with a Python that has torch (Debian: /usr/bin/python3 with
python3-torch); it writes JSON to stdout, one of two sets of cases:

    /usr/bin/python3 tests/gen_reference.py > tests/reference.json
    /usr/bin/python3 tests/gen_reference.py --catalogue \
        > tests/reference_catalogue.json

or `make reference` for both.  tests/reference.json holds the cases of
the first eight losses (mse, mae, huber, bce, cross_entropy, focal,
contrastive, dice) with their first parameters, on predictions and
targets alone; tests/api_test.py replays every one of them over HTTP.
tests/reference_catalogue.json holds everything else: the options of
those losses (class weights, ignore_index, label smoothing, class
probabilities, focal's per-class alpha, bce's weights, Dice's
multi-class form, contrastive's label convention) and the other
thirteen types; tests/losses_test.py replays it over HTTP.
tests/check_loss.c feeds both to the loss engine and compares.  Each
set has its own seeded generator, so either can be regenerated alone.

Layout of the JSON:

    {
      "generator": "tests/gen_reference.py",
      "torch": "<torch version>",
      "seed": <seed of the input generator>,
      "cases": [
        {
          "name": "mse/2d",             unique, "<type>/<what>"
          "type": "mse",                 an API loss type name
          "params": {"delta": 0.5},      API parameter names and JSON
                                         values (numbers, true/false,
                                         words, lists); {} or an
                                         omitted one means the default
          "batches": [                   one or more, posted in order
            {
              "predictions": [[...]],    nested arrays give the shape; a
              "targets": [...],          bare number is a 0-d tensor;
              "variance": [...],         other inputs by their API
                                         field names (predictions2,
                                         positives, negatives, variance,
                                         weights); a loss without
                                         targets has none
              "expected": 0.25           torch's loss of this batch alone
            }
          ],
          "expected": 0.25               torch's loss of all batches
                                         concatenated (along dim 0, or
                                         flattened when the batches'
                                         shapes differ; empty batches
                                         left out)
        }
      ]
    }

Numbers are written so that they read back exactly (Python's float
repr); NaN and the infinities, which JSON lacks, are the strings "NaN",
"Infinity" and "-Infinity", in inputs and expected values alike.

The losses are torch's own functions where torch has them (mse_loss,
l1_loss, huber_loss, binary_cross_entropy, cross_entropy, nll_loss,
binary_cross_entropy_with_logits, smooth_l1_loss, kl_div,
cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss,
hinge_embedding_loss, poisson_nll_loss, gaussian_nll_loss).  The others
are written with torch ops: focal, contrastive and dice are lossmon's
definitions (see src/loss.c and GET /api/v1/losses), pairwise_distance
included; sigmoid_focal is torchvision.ops.sigmoid_focal_loss with mean
reduction, written out op for op because torchvision is not a Debian
package; log_cosh and quantile (the pinball loss), which torch lacks,
are their formulas.

Where lossmon decides what torch leaves undefined, the definition here
says so: a Dice class whose denominator is 0 (nothing predicted,
nothing to find, no smoothing) has loss 0, the limit of any smoothing;
a batch without samples has NaN, as torch's mean of nothing.

All arithmetic is float64 on one thread; inputs come from a seeded
generator, so the output is the same on every run.
"""

import json
import math
import sys
import warnings

import torch
import torch.nn.functional as F

SEED = 20240917
SEED_CATALOGUE = 20251203

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
GEN = torch.Generator().manual_seed(SEED)

INF = math.inf
NAN = math.nan


def randn(*shape):
    return torch.randn(shape, generator=GEN, dtype=torch.float64)


def rand(*shape):
    return torch.rand(shape, generator=GEN, dtype=torch.float64)


def classes(n, nclass):
    return torch.randint(0, nclass, (n,), generator=GEN)


def bits(*shape):
    return torch.randint(0, 2, shape, generator=GEN).double()


def tensor(values):
    return torch.tensor(values, dtype=torch.float64)


def focal(logits, target, alpha=1.0, gamma=2.0):
    ce = F.cross_entropy(logits, target, reduction="none")
    pt = torch.exp(-ce)
    return (alpha * (1 - pt) ** gamma * ce).mean()


def contrastive(pairs, label, margin=1.0):
    d = F.pairwise_distance(pairs[:, 0], pairs[:, 1])
    return ((1 - label) * d ** 2 +
            label * torch.clamp(margin - d, min=0.0) ** 2).mean()


def dice_of(inter, psum, tsum, smooth):
    """1 - (2 inter + smooth) / (psum + tsum + smooth), and 0 where the
    denominator is 0 (lossmon's decision: two empty sets agree)."""
    den = psum + tsum + smooth
    return torch.where(den == 0, torch.zeros_like(den),
                       1 - (2 * inter + smooth) / den)


def dice(logits, target, smooth=1.0, from_logits=True,
         include_background=True, squared=False):
    """Binary Dice over every element, or, for logits [N][C][...] and
    class indices [N][...], the mean over classes of each class's Dice
    with softmax probabilities and one-hot targets."""
    if logits.numel() == 0:
        return torch.tensor(NAN)        # no samples
    if target.dim() >= 1 and logits.dim() == target.dim() + 1:
        nclass = logits.shape[1]
        p = torch.softmax(logits, 1) if from_logits else logits
        y = F.one_hot(target.long(), nclass).movedim(-1, 1).double()
        dims = [0] + list(range(2, logits.dim()))
        per = dice_of((p * y).sum(dims),
                      (p * p if squared else p).sum(dims),
                      (y * y if squared else y).sum(dims), smooth)
        if not include_background:
            per = per[1:]
        return per.mean()
    p = torch.sigmoid(logits) if from_logits else logits
    return dice_of((p * target).sum(),
                   (p * p if squared else p).sum(),
                   (target * target if squared else target).sum(), smooth)


LOSSES = {
    "mse": F.mse_loss,
    "mae": F.l1_loss,
    "huber": F.huber_loss,
    "bce": F.binary_cross_entropy,
    "cross_entropy": F.cross_entropy,
    "focal": focal,
    "contrastive": contrastive,
    "dice": dice,
}

ELEMENTWISE = ("mse", "mae", "huber", "bce")

CASES = []


def number(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def encode(x):
    """Nested lists of a tensor, with JSON's stand-ins for non-finite."""
    if isinstance(x, torch.Tensor):
        x = x.tolist()
    if isinstance(x, list):
        return [encode(v) for v in x]
    if isinstance(x, float):
        return number(x)
    return x


def loss(kind, pred, target, params):
    return number(LOSSES[kind](pred, target, **params).item())


def join(parts):
    """Concatenation along dim 0, or of the flattened parts when their
    shapes do not stack."""
    try:
        return torch.cat(parts)
    except RuntimeError:
        return torch.cat([p.reshape(-1) for p in parts])


def add(name, kind, batches, params=None):
    """Records a case: batches is a list of (predictions, targets)."""
    params = params or {}
    full = f"{kind}/{name}"
    assert all(c["name"] != full for c in CASES), full
    preds = [p for p, _ in batches]
    targets = [t for _, t in batches]
    CASES.append({
        "name": full,
        "type": kind,
        "params": params,
        "batches": [{"predictions": encode(p), "targets": encode(t),
                     "expected": loss(kind, p, t, params)}
                    for p, t in batches],
        "expected": loss(kind, join(preds), join(targets), params),
    })


def elementwise_cases(kind, values, targets):
    """Cases every elementwise loss gets; values(shape) draws
    predictions and targets(shape) targets."""
    def pair(*shape):
        return values(*shape), targets(*shape)

    add("2d", kind, [pair(8, 5)])
    add("1d", kind, [pair(17)])
    add("3d", kind, [pair(3, 4, 5)])
    add("one-element", kind, [pair(1)])
    add("scalar", kind, [pair()])
    add("one-column", kind, [pair(9, 1)])
    add("4d", kind, [pair(2, 1, 3, 2)])
    add("accumulate/uneven", kind,
        [pair(1, 5), pair(7, 5), pair(3, 5), pair(12, 5)])
    add("accumulate/mixed-shapes", kind,
        [pair(2, 3), pair(5), pair(1, 2, 2), pair(1)])
    add("accumulate/many", kind, [pair(n) for n in (4, 1, 9, 2, 6, 1, 13)])
    add("accumulate/one-then-many", kind, [pair(1, 3, 2), pair(11, 3, 2)])


def regression_cases(kind):
    """Cases of mse, mae and huber (default parameters)."""
    elementwise_cases(kind, randn, randn)
    add("wide-range", kind,
        [(randn(6, 7) * torch.exp(randn(6, 7) * 8),
          randn(6, 7) * torch.exp(randn(6, 7) * 8))])
    add("equal", kind, [(tensor([1.5, -2.0, 0.0]),) * 2])
    add("tiny", kind, [(randn(10) * 1e-200, randn(10) * 1e-200)])
    add("large", kind, [(randn(10) * 1e150, randn(10) * 1e150)])
    add("overflow", kind, [(tensor([1e200, -1e200, 1.0]),
                            tensor([-1e200, 1e200, 2.0]))])
    add("overflow-difference", kind, [(tensor([1.7e308, 0.5]),
                                       tensor([-1.7e308, 0.25]))])
    add("nan-prediction", kind, [(tensor([0.5, NAN, 1.0]),
                                  tensor([0.0, 1.0, 2.0]))])
    add("nan-target", kind, [(tensor([[0.5], [1.0]]),
                              tensor([[NAN], [1.0]]))])
    add("inf-prediction", kind, [(tensor([INF, 0.0]), tensor([1.0, 2.0]))])
    add("minus-inf-target", kind, [(tensor([3.0, 0.0]),
                                    tensor([-INF, 2.0]))])
    add("inf-minus-inf", kind, [(tensor([INF, 1.0]), tensor([INF, 0.0]))])
    add("accumulate/inf-in-one-batch", kind,
        [(randn(3), randn(3)), (tensor([INF]), tensor([0.0])),
         (randn(5), randn(5))])
    add("accumulate/nan-in-one-batch", kind,
        [(randn(2, 2), randn(2, 2)),
         (tensor([[1.0, NAN]]), tensor([[0.0, 0.0]]))])


def huber_cases():
    regression_cases("huber")
    for delta in (0.5, 2.0, 1e-3, 10.0, 1e6, 1.0):
        add(f"delta={delta!r}", "huber",
            [(randn(7, 6) * 3, randn(7, 6) * 3)], {"delta": delta})
    add("delta=0.25/accumulate", "huber",
        [(randn(2, 4), randn(2, 4)), (randn(9, 4), randn(9, 4)),
         (randn(1, 4), randn(1, 4))], {"delta": 0.25})
    add("delta=3/3d", "huber", [(randn(2, 3, 4) * 4, randn(2, 3, 4))],
        {"delta": 3.0})
    # The boundary: z == delta takes the linear branch.
    add("delta=0.5/boundary", "huber",
        [(tensor([0.5, 1.0, -0.5]), tensor([0.0, 0.5, 0.0]))],
        {"delta": 0.5})


def bce_cases():
    elementwise_cases("bce", lambda *s: torch.sigmoid(randn(*s) * 2), rand)
    add("hard-targets", "bce",
        [(torch.sigmoid(randn(8, 5)), bits(8, 5))])
    add("clamp", "bce", [(tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0]),
                          tensor([0.0, 1.0, 0.0, 1.0, 0.3, 0.75]))])
    add("near-clamp", "bce",
        [(tensor([1e-300, 1e-44, 1e-43, 1 - 2.0 ** -53, 2.0 ** -53,
                  5e-324]),
          tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.5]))])
    add("extreme-probabilities", "bce",
        [(torch.sigmoid(randn(6, 6) * 40), rand(6, 6))])
    add("extreme-hard", "bce",
        [(torch.sigmoid(randn(30) * 40), bits(30))])
    add("all-clamped", "bce", [(tensor([[0.0, 1.0]]), tensor([[1.0, 0.0]]))])
    add("perfect", "bce", [(tensor([0.0, 1.0, 1.0]),
                            tensor([0.0, 1.0, 1.0]))])
    add("half", "bce", [(torch.full((4, 3), 0.5), rand(4, 3))])
    add("nan-target", "bce", [(tensor([0.5, 0.25]), tensor([NAN, 1.0]))])
    add("accumulate/clamp", "bce",
        [(tensor([0.0]), tensor([1.0])),
         (torch.sigmoid(randn(6)), rand(6)),
         (tensor([1.0, 0.0, 0.5]), tensor([0.0, 0.0, 1.0]))])


def logits_cases(kind, params=None):
    """Cases of cross_entropy and focal with the given parameters."""
    params = params or {}

    def rows(n, c, scale=1.0):
        return randn(n, c) * scale, classes(n, c)

    def dominant(n, c, value):
        x, y = rows(n, c)
        x[torch.arange(n), y] = value
        return x, y

    def fixed(x, y):
        return tensor(x), torch.tensor(y)

    add("2d", kind, [rows(8, 5)], params)
    add("one-row", kind, [rows(1, 4)], params)
    add("one-class", kind, [rows(6, 1)], params)
    add("two-classes", kind, [rows(10, 2)], params)
    add("many-classes", kind, [rows(4, 100)], params)
    add("wide-logits", kind, [rows(12, 3, 8.0)], params)
    add("logits-1e3", kind, [rows(8, 6, 1e3)], params)
    add("logits-1e5", kind, [rows(8, 6, 1e5)], params)
    add("logits-1e300", kind, [rows(5, 3, 1e300)], params)
    add("logits-1e307", kind, [rows(5, 3, 1e307)], params)
    add("target-plus-1e3", kind, [dominant(6, 4, 1e3)], params)
    add("target-minus-1e3", kind, [dominant(6, 4, -1e3)], params)
    add("target-plus-40", kind, [dominant(6, 4, 40.0)], params)
    add("target-plus-15", kind, [dominant(6, 4, 15.0)], params)
    add("minus-inf-other", kind,
        [fixed([[0.0, -INF, 1.0], [-INF, 2.0, -INF]], [0, 1])], params)
    add("minus-inf-target", kind,
        [fixed([[0.0, -INF, 1.0], [0.5, 2.0, 0.0]], [1, 0])], params)
    add("plus-inf", kind,
        [fixed([[INF, 0.0], [0.5, 2.0]], [1, 0])], params)
    add("all-minus-inf", kind, [fixed([[-INF, -INF]], [0])], params)
    add("nan-logit", kind,
        [fixed([[0.0, 1.0], [NAN, 0.0]], [0, 1])], params)
    add("accumulate/uneven", kind,
        [rows(1, 7), rows(5, 7), rows(2, 7), rows(9, 7)], params)
    add("accumulate/one-class", kind, [rows(3, 1), rows(1, 1)], params)
    add("accumulate/large-logits", kind,
        [rows(4, 5, 1e3), rows(1, 5, 1e3), rows(7, 5)], params)
    add("accumulate/many", kind,
        [rows(n, 4) for n in (2, 1, 6, 3, 1, 11)], params)


def focal_cases():
    logits_cases("focal")
    grid = ((0.25, 2.0), (1.0, 0.0), (1.0, 0.5), (1.0, 1.0), (0.5, 3.7),
            (2.5, 5.0), (0.0, 2.0), (1.0, 2.0))
    for alpha, gamma in grid:
        add(f"alpha={alpha!r},gamma={gamma!r}", "focal",
            [(randn(9, 4) * 2, classes(9, 4))],
            {"alpha": alpha, "gamma": gamma})
    logits = randn(5, 3) * 3
    add("alpha=0.25,gamma=0.5/accumulate", "focal",
        [(randn(3, 3), classes(3, 3)), (randn(8, 3), classes(8, 3)),
         (randn(1, 3), classes(1, 3))], {"alpha": 0.25, "gamma": 0.5})
    add("gamma=0/one-class", "focal", [(logits[:, :1], classes(5, 1))],
        {"alpha": 1.0, "gamma": 0.0})
    add("alpha=0/minus-inf-target", "focal",
        [(tensor([[0.0, -INF]]), torch.tensor([1]))],
        {"alpha": 0.0, "gamma": 2.0})
    add("alpha=0.25,gamma=3/logits-1e3", "focal",
        [(randn(8, 4) * 1e3, classes(8, 4))], {"alpha": 0.25, "gamma": 3.0})


def contrastive_cases(params=None):
    def pairs(n, dim, scale=1.0):
        return randn(n, 2, dim) * scale, bits(n)

    def same(n, dim, label):
        x = randn(n, 1, dim)
        return torch.cat([x, x], 1), torch.full((n,), label)

    add("2d", "contrastive", [pairs(8, 5)])
    add("d=1", "contrastive", [pairs(10, 1)])
    add("one-pair-similar", "contrastive", [(randn(1, 2, 4), tensor([0.0]))])
    add("one-pair-dissimilar", "contrastive",
        [(randn(1, 2, 4) * 0.2, tensor([1.0]))])
    add("wide", "contrastive", [pairs(6, 64)])
    add("close-pairs", "contrastive", [pairs(12, 3, 0.2)])
    add("identical-similar", "contrastive", [same(4, 3, 0.0)])
    add("identical-dissimilar", "contrastive", [same(4, 3, 1.0)])
    add("all-similar", "contrastive", [(randn(5, 2, 3), torch.zeros(5))])
    add("all-dissimilar", "contrastive",
        [(randn(5, 2, 3) * 0.3, torch.ones(5))])
    add("large", "contrastive", [pairs(6, 3, 1e100)])
    add("overflow-similar", "contrastive",
        [(randn(3, 2, 2) * 1e200, torch.zeros(3))])
    # d*d overflows though d is finite: (1 - y) * inf is NaN, as in torch.
    add("overflow-dissimilar", "contrastive",
        [(randn(3, 2, 2) * 1e200, torch.ones(3))])
    add("inf-similar", "contrastive",
        [(tensor([[[INF, 0.0], [0.0, 0.0]]]), tensor([0.0]))])
    add("nan", "contrastive",
        [(tensor([[[NAN, 0.0], [0.0, 0.0]], [[1.0, 2.0], [0.0, 1.0]]]),
          tensor([1.0, 0.0]))])
    for margin in (0.0, 0.1, 2.5, 10.0):
        add(f"margin={margin!r}", "contrastive", [pairs(10, 4)],
            {"margin": margin})
    add("margin=2/accumulate", "contrastive",
        [pairs(3, 2), pairs(1, 2), pairs(8, 2)], {"margin": 2.0})
    add("accumulate/uneven", "contrastive",
        [pairs(1, 3), pairs(4, 3), pairs(2, 3), pairs(6, 3)])
    add("accumulate/many", "contrastive",
        [pairs(n, 5, 0.4) for n in (2, 5, 1, 1, 7)])


def dice_cases():
    def pair(*shape, scale=2.0):
        return randn(*shape) * scale, bits(*shape)

    def matching(*shape, scale):
        x = randn(*shape) * scale
        return x, (x > 0).double()

    add("2d", "dice", [pair(4, 6)])
    add("1d", "dice", [pair(20)])
    add("3d", "dice", [pair(2, 3, 4)])
    add("4d", "dice", [pair(2, 2, 3, 2)])
    add("one-element-positive", "dice", [(randn(1), tensor([1.0]))])
    add("one-element-negative", "dice", [(randn(1), tensor([0.0]))])
    add("scalar", "dice", [(randn(), tensor(1.0))])
    add("all-targets-zero", "dice", [(randn(3, 5), torch.zeros(3, 5))])
    add("all-targets-one", "dice", [(randn(3, 5), torch.ones(3, 5))])
    add("matching-1e3", "dice", [matching(5, 5, scale=1e3)])
    add("opposite-1e3", "dice",
        [(lambda x, t: (x, 1 - t))(*matching(5, 5, scale=1e3))])
    add("matching-10", "dice", [matching(5, 5, scale=10.0)])
    add("inf-logits", "dice",
        [(tensor([INF, -INF, INF, 0.0]), tensor([1.0, 0.0, 0.0, 1.0]))])
    add("nan-logit", "dice", [(tensor([NAN, 0.0]), tensor([1.0, 0.0]))])
    for smooth in (0.0, 0.5, 100.0, 1e-6):
        add(f"smooth={smooth!r}", "dice", [pair(6, 4)], {"smooth": smooth})
    # Nothing predicted, nothing to find, no smoothing: 0/0.
    add("smooth=0/empty-sets", "dice",
        [(tensor([-INF, -1e3]), tensor([0.0, 0.0]))], {"smooth": 0.0})
    add("smooth=0/accumulate", "dice", [pair(2, 3), pair(5, 3)],
        {"smooth": 0.0})
    add("accumulate/uneven", "dice",
        [pair(1, 4), pair(6, 4), pair(3, 4), pair(9, 4)])
    add("accumulate/mixed-shapes", "dice",
        [pair(2, 3), pair(7), pair(1, 2, 2)])
    add("accumulate/many", "dice", [pair(n) for n in (3, 1, 8, 2, 5)])


# ---------------------------------------------------------------------
# The catalogue: options of the first eight losses and the other types.
# A batch is a dict of torch tensors by API field name; a case's loss
# function takes that dict and the case's API parameters.

def longs(t):
    return t.long() if t.dim() == 1 or not t.is_floating_point() else t


def t_cross_entropy(x, p):
    kw = {}
    if p.get("class_weight") is not None:
        kw["weight"] = tensor(p["class_weight"])
    kw["ignore_index"] = int(p.get("ignore_index", -100))
    kw["label_smoothing"] = p.get("label_smoothing", 0.0)
    y = x["targets"]
    if y.dim() == 1:
        y = y.long()
    return F.cross_entropy(x["predictions"], y, **kw)


def t_nll(x, p):
    w = p.get("class_weight")
    return F.nll_loss(x["predictions"], x["targets"].long(),
                      weight=None if w is None else tensor(w),
                      ignore_index=int(p.get("ignore_index", -100)))


def t_focal(x, p):
    """lossmon's focal loss: rows whose target is ignore_index are left
    out; alpha is one weight or one per class."""
    alpha, gamma = p.get("alpha", 1.0), p.get("gamma", 2.0)
    logits, y = x["predictions"], x["targets"].long()
    keep = y != int(p.get("ignore_index", -100))
    logits, y = logits[keep], y[keep]
    ce = F.cross_entropy(logits, y, reduction="none")
    pt = torch.exp(-ce)
    a = tensor(alpha)[y] if isinstance(alpha, list) else alpha
    return (a * (1 - pt) ** gamma * ce).mean()


def t_contrastive(x, p):
    y = x["targets"]
    if p.get("labels", "dissimilar") == "similar":
        y = 1 - y
    return contrastive(x["predictions"], y, p.get("margin", 1.0))


def t_dice(x, p):
    return dice(x["predictions"], x["targets"], p.get("smooth", 1.0),
                p.get("from_logits", True),
                p.get("include_background", True), p.get("squared", False))


def t_bce(x, p):
    return F.binary_cross_entropy(x["predictions"], x["targets"],
                                  weight=x.get("weights"))


def t_bce_with_logits(x, p):
    pw = p.get("pos_weight")
    return F.binary_cross_entropy_with_logits(
        x["predictions"], x["targets"], weight=x.get("weights"),
        pos_weight=None if pw is None else tensor(pw))


def t_sigmoid_focal(x, p):
    """torchvision.ops.sigmoid_focal_loss(reduction="mean"), op for op."""
    alpha, gamma = p.get("alpha", 0.25), p.get("gamma", 2.0)
    inputs, targets = x["predictions"], x["targets"]
    prob = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets,
                                                 reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss.mean()


def t_log_cosh(x, p):
    """mean(log(cosh(x - y))), accurate for every difference: near 0 as
    log1p(2 sinh(r/2)^2), elsewhere as |r| + log1p(exp(-2|r|)) - log 2,
    which cannot overflow."""
    a = (x["predictions"] - x["targets"]).abs()
    return torch.where(a < 1, torch.log1p(2 * torch.sinh(a / 2) ** 2),
                       a + torch.log1p(torch.exp(-2 * a)) -
                       math.log(2)).mean()


def t_quantile(x, p):
    """The pinball loss: mean(r >= 0 ? tau r : (tau - 1) r), r = y - x."""
    tau = p.get("tau", 0.5)
    r = x["targets"] - x["predictions"]
    return torch.where(r >= 0, tau * r, (tau - 1) * r).mean()


CATALOGUE = {
    "mse": lambda x, p: F.mse_loss(x["predictions"], x["targets"]),
    "cross_entropy": t_cross_entropy,
    "focal": t_focal,
    "contrastive": t_contrastive,
    "dice": t_dice,
    "bce": t_bce,
    "bce_with_logits": t_bce_with_logits,
    "smooth_l1": lambda x, p: F.smooth_l1_loss(
        x["predictions"], x["targets"], beta=p.get("beta", 1.0)),
    "nll": t_nll,
    "kl_div": lambda x, p: F.kl_div(
        x["predictions"], x["targets"],
        reduction=p.get("reduction", "mean"),
        log_target=p.get("log_target", False)),
    "sigmoid_focal": t_sigmoid_focal,
    "cosine_embedding": lambda x, p: F.cosine_embedding_loss(
        x["predictions"], x["predictions2"], x["targets"],
        margin=p.get("margin", 0.0)),
    "margin_ranking": lambda x, p: F.margin_ranking_loss(
        x["predictions"], x["predictions2"], x["targets"],
        margin=p.get("margin", 0.0)),
    "triplet_margin": lambda x, p: F.triplet_margin_loss(
        x["predictions"], x["positives"], x["negatives"],
        margin=p.get("margin", 1.0), p=p.get("p", 2.0),
        swap=p.get("swap", False)),
    "hinge_embedding": lambda x, p: F.hinge_embedding_loss(
        x["predictions"], x["targets"], margin=p.get("margin", 1.0)),
    "poisson_nll": lambda x, p: F.poisson_nll_loss(
        x["predictions"], x["targets"], log_input=p.get("log_input", True),
        full=p.get("full", False), eps=p.get("eps", 1e-8)),
    "gaussian_nll": lambda x, p: F.gaussian_nll_loss(
        x["predictions"], x["targets"], x["variance"],
        full=p.get("full", False), eps=p.get("eps", 1e-6)),
    "log_cosh": t_log_cosh,
    "quantile": t_quantile,
}


def closs(kind, x, params):
    return number(CATALOGUE[kind](x, params).item())


def case(name, kind, batches, params=None):
    """Records a catalogue case: batches is a list of dicts of tensors by
    field name, params the API parameters."""
    params = params or {}
    full = f"{kind}/{name}"
    assert all(c["name"] != full for c in CASES), full
    fields = list(batches[0])
    whole = {}
    for f in fields:
        parts = [b[f] for b in batches if b[f].numel() > 0]
        whole[f] = join(parts) if parts else batches[0][f]
    CASES.append({
        "name": full,
        "type": kind,
        "params": params,
        "batches": [dict({f: encode(b[f]) for f in fields},
                         expected=closs(kind, b, params))
                    for b in batches],
        "expected": closs(kind, whole, params),
    })


def empty_like(batch):
    """A batch without samples: no rows in any field.  Its JSON is [] for
    every field, whatever the shape of a row."""
    return {f: t[:0] for f, t in batch.items()}


def xy(x, y, **more):
    return dict(predictions=x, targets=y, **more)


def rows(n, c, scale=1.0):
    return xy(randn(n, c) * scale, classes(n, c))


def with_ignored(batch, share, ignore=-100):
    """Some targets set to ignore (at least one, not all)."""
    y = batch["targets"].clone()
    n = len(y)
    k = max(1, min(n - 1, int(n * share)))
    y[torch.randperm(n, generator=GEN)[:k]] = ignore
    return dict(batch, targets=y)


def all_ignored(batch, ignore=-100):
    return dict(batch, targets=torch.full_like(batch["targets"], ignore))


def soft(n, c, scale=1.0):
    """Logits and class probabilities (a softmax of other logits)."""
    return xy(randn(n, c) * scale, torch.softmax(randn(n, c) * 2, 1))


def weights_of(c, low=0.1, high=3.0):
    return [low + (high - low) * v for v in rand(c).tolist()]


def cross_entropy_catalogue():
    w5, w7, w4 = weights_of(5), weights_of(7), weights_of(4)
    case("class_weight/2d", "cross_entropy", [rows(8, 5)],
         {"class_weight": w5})
    case("class_weight/zeros", "cross_entropy", [rows(12, 4)],
         {"class_weight": [0.0, 1.0, 0.0, 2.5]})
    case("class_weight/accumulate/uneven", "cross_entropy",
         [rows(1, 7), rows(5, 7), rows(2, 7), rows(9, 7)],
         {"class_weight": w7})
    case("class_weight/logits-1e3", "cross_entropy", [rows(8, 5, 1e3)],
         {"class_weight": w5})
    case("ignore_index/default", "cross_entropy",
         [with_ignored(rows(10, 4), 0.3)])
    case("ignore_index=2", "cross_entropy",
         [with_ignored(rows(10, 4), 0.3, 2)], {"ignore_index": 2})
    case("ignore_index=-1", "cross_entropy",
         [with_ignored(rows(10, 4), 0.5, -1)], {"ignore_index": -1})
    case("ignore_index/class_weight", "cross_entropy",
         [with_ignored(rows(10, 4), 0.3)], {"class_weight": w4})
    case("ignore_index/all-ignored", "cross_entropy",
         [all_ignored(rows(5, 3))])
    case("ignore_index/accumulate/uneven", "cross_entropy",
         [with_ignored(rows(3, 5), 0.4), rows(1, 5),
          with_ignored(rows(8, 5), 0.25)], {"class_weight": w5})
    case("ignore_index/accumulate/all-ignored-batch", "cross_entropy",
         [rows(4, 3), all_ignored(rows(3, 3)), rows(2, 3)])
    case("ignore_index/accumulate/all-ignored-first", "cross_entropy",
         [all_ignored(rows(3, 3)), rows(5, 3)])
    case("ignore_index/accumulate/only-ignored", "cross_entropy",
         [all_ignored(rows(3, 3)), all_ignored(rows(2, 3))])
    for ls in (0.1, 0.5, 1.0, 1e-6):
        case(f"label_smoothing={ls!r}", "cross_entropy", [rows(9, 5, 2.0)],
             {"label_smoothing": ls})
    case("label_smoothing=0.2/class_weight", "cross_entropy",
         [rows(9, 5, 2.0)], {"label_smoothing": 0.2, "class_weight": w5})
    case("label_smoothing=0.2/ignore_index", "cross_entropy",
         [with_ignored(rows(9, 5), 0.3)],
         {"label_smoothing": 0.2, "class_weight": w5})
    case("label_smoothing=0.3/all-ignored", "cross_entropy",
         [all_ignored(rows(4, 5))], {"label_smoothing": 0.3})
    case("label_smoothing=0.1/accumulate/uneven", "cross_entropy",
         [rows(2, 6), with_ignored(rows(7, 6), 0.3), rows(1, 6),
          rows(4, 6)], {"label_smoothing": 0.1, "class_weight": weights_of(6)})
    case("label_smoothing=0.1/logits-1e3", "cross_entropy",
         [rows(6, 4, 1e3)], {"label_smoothing": 0.1})
    case("label_smoothing=0.1/minus-inf", "cross_entropy",
         [xy(tensor([[0.0, -INF, 1.0], [0.5, 2.0, 0.0]]),
             torch.tensor([0, 1]))], {"label_smoothing": 0.1})
    case("probabilities/2d", "cross_entropy", [soft(8, 5)])
    case("probabilities/one-hot", "cross_entropy",
         [xy(randn(6, 4), F.one_hot(classes(6, 4), 4).double())])
    case("probabilities/one-row", "cross_entropy", [soft(1, 3)])
    case("probabilities/class_weight", "cross_entropy", [soft(8, 5)],
         {"class_weight": w5})
    case("probabilities/label_smoothing=0.2", "cross_entropy",
         [soft(8, 5)], {"label_smoothing": 0.2})
    # torch refuses an ignore_index >= 0 with probabilities; a negative
    # one is allowed and changes nothing.
    case("probabilities/all-options", "cross_entropy", [soft(8, 5, 3.0)],
         {"label_smoothing": 0.3, "class_weight": w5, "ignore_index": -1})
    case("probabilities/logits-1e3", "cross_entropy", [soft(6, 4, 1e3)])
    case("probabilities/accumulate/uneven", "cross_entropy",
         [soft(1, 4), soft(6, 4), soft(3, 4)],
         {"class_weight": w4, "label_smoothing": 0.05})
    case("all-options/accumulate", "cross_entropy",
         [with_ignored(rows(6, 5), 0.3, 3), rows(1, 5),
          with_ignored(rows(4, 5), 0.5, 3)],
         {"class_weight": w5, "ignore_index": 3, "label_smoothing": 0.15})
    case("empty-batch/accumulate", "cross_entropy",
         [rows(3, 4), empty_like(rows(1, 4)), rows(2, 4)],
         {"class_weight": w4})
    case("empty-batch/alone", "cross_entropy", [empty_like(rows(1, 4))])


def nll_catalogue():
    def logp(n, c, scale=1.0):
        b = rows(n, c, scale)
        return dict(b, predictions=torch.log_softmax(b["predictions"], 1))

    case("2d", "nll", [logp(8, 5)])
    case("one-row", "nll", [logp(1, 3)])
    case("one-class", "nll", [logp(4, 1)])
    case("raw-inputs", "nll", [rows(7, 4, 3.0)])
    case("many-classes", "nll", [logp(5, 100)])
    case("minus-inf", "nll", [xy(tensor([[0.0, -INF], [-INF, -1.0]]),
                                 torch.tensor([1, 1]))])
    case("class_weight", "nll", [logp(9, 4)],
         {"class_weight": weights_of(4)})
    case("ignore_index/default", "nll", [with_ignored(logp(9, 4), 0.3)])
    case("ignore_index=0", "nll", [with_ignored(logp(9, 4), 0.3, 0)],
         {"ignore_index": 0, "class_weight": weights_of(4)})
    case("ignore_index/all-ignored", "nll", [all_ignored(logp(3, 4))])
    case("accumulate/uneven", "nll",
         [logp(1, 6), logp(7, 6), logp(3, 6)],
         {"class_weight": weights_of(6)})
    case("accumulate/all-ignored-batch", "nll",
         [logp(3, 3), all_ignored(logp(2, 3)),
          with_ignored(logp(5, 3), 0.4)])
    case("empty-batch/accumulate", "nll",
         [logp(2, 3), empty_like(logp(1, 3)), logp(3, 3)])


def focal_catalogue():
    a4 = weights_of(4, 0.0, 1.0)
    case("alpha=list", "focal", [rows(10, 4, 2.0)], {"alpha": a4})
    case("alpha=list,gamma=0.5", "focal", [rows(10, 4, 2.0)],
         {"alpha": a4, "gamma": 0.5})
    case("alpha=list/zeros", "focal", [rows(10, 3)],
         {"alpha": [0.0, 1.0, 0.0]})
    case("alpha=list/accumulate/uneven", "focal",
         [rows(2, 4), rows(7, 4), rows(1, 4)], {"alpha": a4})
    case("ignore_index/default", "focal", [with_ignored(rows(10, 4), 0.3)])
    case("ignore_index=1", "focal", [with_ignored(rows(10, 4), 0.3, 1)],
         {"ignore_index": 1, "alpha": 0.25, "gamma": 3.0})
    case("ignore_index/all-ignored", "focal", [all_ignored(rows(4, 3))])
    case("ignore_index/accumulate/uneven", "focal",
         [with_ignored(rows(4, 5), 0.5), all_ignored(rows(2, 5)),
          rows(6, 5)], {"alpha": weights_of(5, 0.0, 1.0)})
    case("empty-batch/accumulate", "focal",
         [rows(3, 4), empty_like(rows(1, 4)), rows(1, 4)])


def bce_catalogue():
    def probs(*shape, w=True):
        b = xy(torch.sigmoid(randn(*shape) * 2), rand(*shape))
        if w:
            b["weights"] = rand(*shape) * 2
        return b

    case("weights/2d", "bce", [probs(8, 5)])
    case("weights/1d", "bce", [probs(17)])
    case("weights/3d", "bce", [probs(2, 3, 4)])
    case("weights/zeros", "bce",
         [dict(probs(6), weights=tensor([0.0, 1.0, 0.0, 2.0, 0.0, 0.5]))])
    case("weights/clamp", "bce",
         [xy(tensor([0.0, 1.0, 0.0, 1.0]), tensor([1.0, 0.0, 0.0, 1.0]),
             weights=tensor([0.5, 2.0, 1.0, 3.0]))])
    case("weights/accumulate/uneven", "bce",
         [probs(1, 3), probs(6, 3), probs(2, 3)])
    case("weights/accumulate/mixed-shapes", "bce",
         [probs(2, 3), probs(5), probs(1, 2, 2)])
    case("empty-batch/accumulate", "bce",
         [probs(3, 2, w=False), empty_like(probs(1, w=False)),
          probs(2, 2, w=False)])


def dice_catalogue():
    def binary(*shape, scale=2.0):
        return xy(randn(*shape) * scale, bits(*shape))

    def multi(n, c, *inner, scale=2.0):
        return xy(randn(n, c, *inner) * scale, classes(n * math.prod(inner)
                                                        if inner else n, c)
                  .reshape(n, *inner))

    def probs(b):
        x = b["predictions"]
        if x.dim() == b["targets"].dim():
            return dict(b, predictions=torch.sigmoid(x))
        return dict(b, predictions=torch.softmax(x, 1))

    case("from_logits=false", "dice", [probs(binary(4, 6))],
         {"from_logits": False})
    case("from_logits=false/accumulate", "dice",
         [probs(binary(2, 3)), probs(binary(5, 3))],
         {"from_logits": False, "smooth": 0.5})
    case("squared", "dice", [binary(5, 4)], {"squared": True})
    case("squared/accumulate", "dice", [binary(1, 4), binary(6, 4)],
         {"squared": True, "smooth": 0.0})
    case("multi/2d", "dice", [multi(8, 4)])
    case("multi/4d", "dice", [multi(2, 3, 4, 5)])
    case("multi/3d", "dice", [multi(3, 5, 7)])
    case("multi/one-class", "dice", [multi(4, 1, 3)])
    case("multi/two-classes", "dice", [multi(6, 2, 2, 2)])
    case("multi/include_background=false", "dice", [multi(2, 4, 3, 3)],
         {"include_background": False})
    case("multi/squared", "dice", [multi(2, 3, 4, 4)], {"squared": True})
    case("multi/from_logits=false", "dice", [probs(multi(3, 4, 5))],
         {"from_logits": False})
    case("multi/all-options", "dice", [probs(multi(2, 3, 3, 2))],
         {"from_logits": False, "include_background": False,
          "squared": True, "smooth": 0.25})
    case("multi/logits-1e3", "dice", [multi(3, 4, 6, scale=1e3)])
    case("multi/nan-logit", "dice",
         [xy(tensor([[NAN, 0.0], [1.0, 2.0]]), tensor([0.0, 1.0]))])
    case("multi/minus-inf", "dice",
         [xy(tensor([[-INF, 0.0], [1.0, -INF]]), tensor([1.0, 0.0]))])
    # A class that nobody predicts and no target has: 0/0 is 0.
    absent = xy(tensor([[[5.0, -1e3], [4.0, -1e3]],
                        [[-1e3, 3.0], [-1e3, 6.0]],
                        [[-INF, -INF], [-INF, -INF]]]).permute(2, 0, 1)
                .contiguous(), tensor([[0.0, 1.0], [0.0, 1.0]]))
    case("multi/smooth=0/absent-class", "dice", [absent], {"smooth": 0.0})
    case("smooth=0/empty-sets/squared", "dice",
         [xy(tensor([-INF, -INF]), tensor([0.0, 0.0]))],
         {"smooth": 0.0, "squared": True})
    case("multi/accumulate/uneven", "dice",
         [multi(1, 3, 4, 4), multi(4, 3, 4, 4), multi(2, 3, 4, 4)])
    case("multi/accumulate/one-then-many", "dice",
         [multi(1, 5), multi(9, 5), multi(3, 5)],
         {"include_background": False, "smooth": 0.0})
    case("empty-batch/accumulate", "dice",
         [binary(2, 3), empty_like(binary(1)), binary(3, 3)])
    case("empty-batch/alone", "dice", [empty_like(binary(1))])


def contrastive_catalogue():
    def pairs(n, dim, scale=1.0):
        return xy(randn(n, 2, dim) * scale, bits(n))

    case("labels=similar", "contrastive", [pairs(8, 5)],
         {"labels": "similar"})
    case("labels=dissimilar", "contrastive", [pairs(8, 5)],
         {"labels": "dissimilar"})
    case("labels=similar,margin=2", "contrastive", [pairs(10, 3)],
         {"labels": "similar", "margin": 2.0})
    case("labels=similar/accumulate/uneven", "contrastive",
         [pairs(1, 4), pairs(6, 4), pairs(3, 4)], {"labels": "similar"})
    case("empty-batch/accumulate", "contrastive",
         [pairs(2, 3), empty_like(pairs(1, 3)), pairs(4, 3)])


def elementwise_catalogue(kind, values, targets, params=None):
    """Shapes, uneven batches and an empty batch for an elementwise
    type; values(shape) draws predictions and targets(shape) targets."""
    def pair(*shape):
        return xy(values(*shape), targets(*shape))

    params = params or {}
    case("2d", kind, [pair(8, 5)], params)
    case("1d", kind, [pair(17)], params)
    case("3d", kind, [pair(3, 4, 5)], params)
    case("one-element", kind, [pair(1)], params)
    case("accumulate/uneven", kind,
         [pair(1, 5), pair(7, 5), pair(3, 5), pair(12, 5)], params)
    case("accumulate/mixed-shapes", kind,
         [pair(2, 3), pair(5), pair(1, 2, 2), pair(1)], params)
    case("empty-batch/accumulate", kind,
         [pair(3), empty_like(pair(1)), pair(4)], params)


def bce_with_logits_catalogue():
    kind = "bce_with_logits"
    elementwise_catalogue(kind, lambda *s: randn(*s) * 3, rand)
    case("hard-targets", kind, [xy(randn(8, 5) * 2, bits(8, 5))])
    for scale in (40.0, 1e3, 1e300):
        case(f"logits-{scale:g}", kind,
             [xy(randn(6, 4) * scale, bits(6, 4))])
    case("inf-logits", kind,
         [xy(tensor([INF, -INF, INF, 0.0]), tensor([0.0, 1.0, 1.0, 0.5]))])
    case("nan-logit", kind, [xy(tensor([NAN, 0.0]), tensor([1.0, 0.0]))])
    case("pos_weight", kind, [xy(randn(8, 4) * 2, bits(8, 4))],
         {"pos_weight": weights_of(4, 0.5, 5.0)})
    case("pos_weight/3d", kind, [xy(randn(2, 3, 4), rand(2, 3, 4))],
         {"pos_weight": weights_of(4)})
    case("pos_weight/one", kind, [xy(randn(9, 1), bits(9, 1))],
         {"pos_weight": [3.0]})
    case("pos_weight/zero", kind, [xy(randn(5, 2), rand(5, 2))],
         {"pos_weight": [0.0, 1.0]})
    case("pos_weight/logits-1e3", kind,
         [xy(randn(6, 3) * 1e3, bits(6, 3))], {"pos_weight": [2.0, 0.5, 1.0]})
    case("weights", kind,
         [xy(randn(7, 3), rand(7, 3), weights=rand(7, 3) * 2)])
    case("weights,pos_weight", kind,
         [xy(randn(7, 3), bits(7, 3), weights=rand(7, 3) * 2)],
         {"pos_weight": [2.0, 0.5, 1.5]})
    case("pos_weight/accumulate/uneven", kind,
         [xy(randn(n, 3) * 2, rand(n, 3), weights=rand(n, 3))
          for n in (1, 6, 2, 9)], {"pos_weight": [1.5, 4.0, 0.25]})


def smooth_l1_catalogue():
    kind = "smooth_l1"
    elementwise_catalogue(kind, randn, randn)
    for beta in (0.0, 0.5, 2.0, 1e-3, 10.0, 1.0):
        case(f"beta={beta!r}", kind, [xy(randn(7, 6) * 3, randn(7, 6))],
             {"beta": beta})
    case("beta=0.5/boundary", kind,
         [xy(tensor([0.5, 1.0, -0.5, 0.25]), tensor([0.0, 0.5, 0.0, 0.0]))],
         {"beta": 0.5})
    case("beta=0/accumulate", kind,
         [xy(randn(3), randn(3)), xy(randn(8), randn(8))], {"beta": 0.0})
    case("large", kind, [xy(randn(10) * 1e150, randn(10) * 1e150)])
    case("inf", kind, [xy(tensor([INF, 0.0]), tensor([1.0, NAN]))])


def kl_div_catalogue():
    kind = "kl_div"

    def dist(n, c, scale=1.0):
        return xy(torch.log_softmax(randn(n, c) * scale, 1),
                  torch.softmax(randn(n, c) * scale, 1))

    for params in ({}, {"reduction": "batchmean"}, {"log_target": True},
                   {"reduction": "batchmean", "log_target": True},
                   {"reduction": "mean"}):
        tag = ",".join(f"{k}={v}" for k, v in params.items()) or "default"
        batches = [dist(8, 5)]
        if params.get("log_target"):
            batches = [dict(b, targets=torch.log(b["targets"]))
                       for b in batches]
        case(tag, kind, batches, params)
    case("batchmean/3d", kind,
         [xy(torch.log_softmax(randn(2, 3, 4), 1),
             torch.softmax(randn(2, 3, 4), 1))], {"reduction": "batchmean"})
    case("batchmean/1d", kind,
         [xy(torch.log_softmax(randn(6), 0), torch.softmax(randn(6), 0))],
         {"reduction": "batchmean"})
    case("zero-targets", kind,
         [xy(torch.log_softmax(randn(2, 4), 1),
             tensor([[0.0, 0.5, 0.5, 0.0], [1.0, 0.0, 0.0, 0.0]]))],
         {"reduction": "batchmean"})
    case("zero-target-minus-inf-input", kind,
         [xy(tensor([[-INF, 0.0]]), tensor([[0.0, 1.0]]))])
    case("peaked", kind, [dist(4, 6, 30.0)], {"reduction": "batchmean"})
    case("batchmean/accumulate/uneven", kind,
         [dist(1, 5), dist(7, 5), dist(3, 5)], {"reduction": "batchmean"})
    case("mean/accumulate/uneven", kind, [dist(2, 4), dist(5, 4)])
    case("log_target/accumulate/uneven", kind,
         [dict(b, targets=torch.log(b["targets"]))
          for b in (dist(3, 4), dist(1, 4), dist(6, 4))],
         {"reduction": "batchmean", "log_target": True})
    case("empty-batch/accumulate", kind,
         [dist(2, 3), empty_like(dist(1, 3)), dist(4, 3)],
         {"reduction": "batchmean"})


def sigmoid_focal_catalogue():
    kind = "sigmoid_focal"
    elementwise_catalogue(kind, lambda *s: randn(*s) * 2,
                          lambda *s: bits(*s))
    for alpha, gamma in ((0.25, 2.0), (-1.0, 2.0), (0.0, 2.0), (1.0, 1.0),
                         (0.5, 0.0), (0.75, 3.5), (-0.5, 0.5)):
        case(f"alpha={alpha!r},gamma={gamma!r}", kind,
             [xy(randn(9, 4) * 2, bits(9, 4))],
             {"alpha": alpha, "gamma": gamma})
    case("soft-targets", kind, [xy(randn(6, 5) * 2, rand(6, 5))])
    case("logits-40", kind, [xy(randn(6, 4) * 40, bits(6, 4))])
    case("alpha=0.25,gamma=3/accumulate", kind,
         [xy(randn(n, 3), bits(n, 3)) for n in (2, 7, 1)],
         {"alpha": 0.25, "gamma": 3.0})


def signs(*shape):
    return bits(*shape) * 2 - 1


def cosine_embedding_catalogue():
    kind = "cosine_embedding"

    def vecs(n, d, scale=1.0):
        return dict(predictions=randn(n, d) * scale,
                    predictions2=randn(n, d) * scale, targets=signs(n))

    case("2d", kind, [vecs(8, 5)])
    case("d=1", kind, [vecs(10, 1)])
    case("wide", kind, [vecs(4, 64)])
    case("one-row", kind, [vecs(1, 3)])
    for margin in (-0.5, 0.25, 0.5, 1.0, -1.0):
        case(f"margin={margin!r}", kind, [vecs(10, 4)], {"margin": margin})
    case("all-similar", kind,
         [dict(vecs(6, 3), targets=torch.ones(6))])
    case("all-dissimilar", kind,
         [dict(vecs(6, 3), targets=-torch.ones(6))], {"margin": 0.1})
    case("zero-vectors", kind,
         [dict(predictions=tensor([[0.0, 0.0], [1.0, 2.0]]),
               predictions2=tensor([[1.0, 1.0], [0.0, 0.0]]),
               targets=tensor([1.0, -1.0]))])
    case("large", kind, [vecs(5, 3, 1e100)])
    case("nan", kind,
         [dict(predictions=tensor([[NAN, 0.0], [1.0, 2.0]]),
               predictions2=tensor([[1.0, 1.0], [2.0, 1.0]]),
               targets=tensor([1.0, -1.0]))])
    case("accumulate/uneven", kind, [vecs(1, 4), vecs(6, 4), vecs(3, 4)],
         {"margin": 0.2})
    case("empty-batch/accumulate", kind,
         [vecs(2, 3), empty_like(vecs(1, 3)), vecs(3, 3)])


def margin_ranking_catalogue():
    kind = "margin_ranking"

    def scores(*shape, scale=1.0):
        return dict(predictions=randn(*shape) * scale,
                    predictions2=randn(*shape) * scale,
                    targets=signs(*shape))

    case("1d", kind, [scores(12)])
    case("2d", kind, [scores(4, 5)])
    case("one-element", kind, [scores(1)])
    for margin in (0.5, 1.0, -0.5, 2.0):
        case(f"margin={margin!r}", kind, [scores(10)], {"margin": margin})
    case("ties", kind, [dict(predictions=tensor([1.0, 2.0, -1.0]),
                             predictions2=tensor([1.0, 2.0, -1.0]),
                             targets=tensor([1.0, -1.0, 1.0]))],
         {"margin": 0.5})
    case("large", kind, [scores(8, scale=1e200)])
    case("inf", kind, [dict(predictions=tensor([INF, 0.0]),
                            predictions2=tensor([0.0, INF]),
                            targets=tensor([-1.0, 1.0]))])
    case("accumulate/uneven", kind,
         [scores(1), scores(7), scores(3), scores(10)], {"margin": 0.3})
    case("accumulate/mixed-shapes", kind,
         [scores(2, 3), scores(5), scores(1, 2, 2)])
    case("empty-batch/accumulate", kind,
         [scores(3), empty_like(scores(1)), scores(2)])


def triplet_margin_catalogue():
    kind = "triplet_margin"

    def trip(n, d, scale=1.0):
        return dict(predictions=randn(n, d) * scale,
                    positives=randn(n, d) * scale,
                    negatives=randn(n, d) * scale)

    case("2d", kind, [trip(8, 5)])
    case("d=1", kind, [trip(10, 1)])
    case("wide", kind, [trip(4, 64)])
    case("one-row", kind, [trip(1, 3)])
    for p in (1.0, 3.0, 0.5, 2.5):
        case(f"p={p!r}", kind, [trip(9, 4)], {"p": p})
    for margin in (0.0, 0.5, 2.0, 10.0):
        case(f"margin={margin!r}", kind, [trip(9, 4)], {"margin": margin})
    case("swap", kind, [trip(10, 3)], {"swap": True})
    case("swap,p=1,margin=2", kind, [trip(10, 3)],
         {"swap": True, "p": 1.0, "margin": 2.0})
    case("identical-positives", kind,
         [(lambda t: dict(t, positives=t["predictions"].clone()))(
             trip(5, 3))])
    case("close", kind, [trip(6, 3, 1e-3)])
    case("large", kind, [trip(5, 3, 1e100)])
    case("nan", kind, [dict(predictions=tensor([[NAN, 0.0], [1.0, 2.0]]),
                            positives=tensor([[1.0, 1.0], [2.0, 1.0]]),
                            negatives=tensor([[0.0, 1.0], [3.0, 0.0]]))],
         {"swap": True})
    case("accumulate/uneven", kind,
         [trip(1, 4), trip(6, 4), trip(2, 4), trip(9, 4)], {"swap": True})
    case("empty-batch/accumulate", kind,
         [trip(2, 3), empty_like(trip(1, 3)), trip(3, 3)])


def hinge_embedding_catalogue():
    kind = "hinge_embedding"
    elementwise_catalogue(kind, lambda *s: rand(*s) * 3, signs)
    for margin in (0.0, 0.5, 2.0, 1.0):
        case(f"margin={margin!r}", kind, [xy(randn(9, 3) * 2, signs(9, 3))],
             {"margin": margin})
    case("inf", kind, [xy(tensor([INF, -INF, 1.0]),
                          tensor([1.0, -1.0, -1.0]))])


def poisson_nll_catalogue():
    kind = "poisson_nll"

    def counts(*shape):
        return torch.poisson(torch.exp(randn(*shape)) * 3, generator=GEN)

    elementwise_catalogue(kind, randn, counts)
    for params in ({"full": True}, {"log_input": False},
                   {"log_input": False, "full": True},
                   {"log_input": False, "eps": 0.5}):
        tag = ",".join(f"{k}={v}" for k, v in params.items())
        x = randn(8, 5)
        if params.get("log_input") is False:
            x = torch.exp(x)
        case(tag, kind, [xy(x, counts(8, 5))], params)
    case("full/accumulate/uneven", kind,
         [xy(randn(n, 3), counts(n, 3)) for n in (1, 5, 2)],
         {"full": True})
    case("log_input=False/zero-rate", kind,
         [xy(tensor([0.0, 1.0, 2.0]), tensor([0.0, 3.0, 0.0]))],
         {"log_input": False})
    case("large", kind, [xy(randn(6) * 300, counts(6))])


def gaussian_nll_catalogue():
    kind = "gaussian_nll"

    def g(*shape, var=None):
        var = var or shape
        return dict(predictions=randn(*shape), targets=randn(*shape),
                    variance=torch.exp(randn(*var)))

    case("2d", kind, [g(8, 5)])
    case("1d", kind, [g(17)])
    case("3d", kind, [g(3, 4, 5)])
    case("variance-per-row", kind, [g(8, 5, var=(8,))])
    case("variance-last-dim-1", kind, [g(8, 5, var=(8, 1))])
    case("variance-per-row/3d", kind, [g(2, 3, 4, var=(2, 3))])
    case("variance-one", kind, [g(6, var=(1,))])
    case("full", kind, [g(8, 5)], {"full": True})
    case("small-variance", kind,
         [dict(g(6), variance=tensor([0.0, 1e-9, 1e-6, 1e-3, 2.0, 0.0]))])
    case("eps=0.1", kind,
         [dict(g(6), variance=tensor([0.0, 0.05, 0.1, 0.5, 2.0, 0.2]))],
         {"eps": 0.1, "full": True})
    case("large", kind, [dict(g(5), predictions=randn(5) * 1e100)])
    case("nan-variance", kind,
         [dict(g(3), variance=tensor([1.0, NAN, 2.0]))])
    case("accumulate/uneven", kind,
         [g(1, 4), g(6, 4), g(2, 4), g(9, 4)])
    case("variance-per-row/accumulate/uneven", kind,
         [g(n, 3, var=(n, 1)) for n in (1, 4, 2)], {"full": True})
    case("accumulate/mixed-shapes", kind, [g(2, 3), g(5), g(1, 2, 2)])
    case("empty-batch/accumulate", kind,
         [g(3), empty_like(g(1)), g(2)])


def log_cosh_catalogue():
    kind = "log_cosh"
    elementwise_catalogue(kind, randn, randn)
    case("tiny", kind, [xy(randn(8) * 1e-8, randn(8) * 1e-8)])
    case("small", kind, [xy(randn(8) * 1e-3, randn(8) * 1e-3)])
    case("boundary", kind,
         [xy(tensor([1.0, 0.999999, 1.000001, -1.0]), torch.zeros(4))])
    case("large", kind, [xy(randn(8) * 1e3, randn(8))])
    case("overflow-cosh", kind,
         [xy(tensor([800.0, -1e300, 710.0]), tensor([0.0, 0.0, -1.0]))])
    case("inf", kind, [xy(tensor([INF, 0.0]), tensor([0.0, -INF]))])
    case("nan", kind, [xy(tensor([NAN, 1.0]), tensor([0.0, 0.0]))])


def quantile_catalogue():
    kind = "quantile"
    elementwise_catalogue(kind, randn, randn)
    for tau in (0.1, 0.9, 0.0, 1.0, 0.5, 0.05):
        case(f"tau={tau!r}", kind, [xy(randn(9, 4), randn(9, 4))],
             {"tau": tau})
    case("tau=0.9/accumulate", kind,
         [xy(randn(n), randn(n)) for n in (1, 6, 3)], {"tau": 0.9})
    case("equal", kind, [xy(tensor([1.5, -2.0]), tensor([1.5, -2.0]))],
         {"tau": 0.3})
    case("large", kind, [xy(randn(6) * 1e200, randn(6) * 1e200)],
         {"tau": 0.2})
    case("inf", kind, [xy(tensor([INF, 0.0]), tensor([0.0, 1.0]))],
         {"tau": 0.7})


def more_accumulation_catalogue():
    """Empty batches of the first elementwise losses, and accumulation
    under the options the sections above try on one batch."""
    def pair(n):
        return xy(randn(n) * 2, randn(n))

    CATALOGUE["mae"] = lambda x, p: F.l1_loss(x["predictions"],
                                              x["targets"])
    CATALOGUE["huber"] = lambda x, p: F.huber_loss(
        x["predictions"], x["targets"], delta=p.get("delta", 1.0))
    for kind in ("mse", "mae", "huber"):
        case("empty-batch/accumulate", kind,
             [pair(3), empty_like(pair(1)), pair(5)])
        case("empty-batch/alone", kind, [empty_like(pair(1))])
    case("margin=0.5/accumulate", "hinge_embedding",
         [xy(randn(n) * 2, signs(n)) for n in (1, 6, 2)], {"margin": 0.5})
    case("p=3,margin=0.5/accumulate", "triplet_margin",
         [dict(predictions=randn(n, 3), positives=randn(n, 3),
               negatives=randn(n, 3)) for n in (2, 5, 1)],
         {"p": 3.0, "margin": 0.5})
    case("log_input=False/accumulate", "poisson_nll",
         [xy(torch.exp(randn(n, 2)),
             torch.poisson(torch.full((n, 2), 2.0), generator=GEN))
          for n in (3, 1, 4)], {"log_input": False, "full": True})
    case("multi/squared/accumulate", "dice",
         [xy(randn(n, 3, 2) * 2, classes(n * 2, 3).reshape(n, 2))
          for n in (1, 4, 2)], {"squared": True, "smooth": 0.5})


def catalogue_cases():
    warnings.simplefilter("ignore")     # kl_div's reduction="mean"
    cross_entropy_catalogue()
    nll_catalogue()
    focal_catalogue()
    bce_catalogue()
    dice_catalogue()
    contrastive_catalogue()
    bce_with_logits_catalogue()
    smooth_l1_catalogue()
    kl_div_catalogue()
    sigmoid_focal_catalogue()
    cosine_embedding_catalogue()
    margin_ranking_catalogue()
    triplet_margin_catalogue()
    hinge_embedding_catalogue()
    poisson_nll_catalogue()
    gaussian_nll_catalogue()
    log_cosh_catalogue()
    quantile_catalogue()
    more_accumulation_catalogue()


def base_cases():
    for kind in ("mse", "mae"):
        regression_cases(kind)
    huber_cases()
    bce_cases()
    logits_cases("cross_entropy")
    focal_cases()
    contrastive_cases()
    dice_cases()


def main():
    seed = SEED
    if sys.argv[1:] == ["--catalogue"]:
        seed = SEED_CATALOGUE
        GEN.manual_seed(seed)
        catalogue_cases()
    elif sys.argv[1:]:
        sys.exit("usage: gen_reference.py [--catalogue]")
    else:
        base_cases()

    head = json.dumps({"generator": "tests/gen_reference.py",
                       "torch": torch.__version__, "seed": seed})
    out = sys.stdout
    out.write(head[:-1] + ', "cases": [\n')
    out.write(",\n".join(json.dumps(c, allow_nan=False) for c in CASES))
    out.write("\n]}\n")


if __name__ == "__main__":
    main()
