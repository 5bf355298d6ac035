#!/usr/bin/python3
"""Reference values of lossmon's losses, computed by PyTorch.

Run with a Python that has torch (Debian: /usr/bin/python3 with
python3-torch); it writes JSON to stdout:

    /usr/bin/python3 tests/gen_reference.py > tests/reference.json

or `make reference`.  tests/check_loss.c feeds every case to the loss
engine and compares.

Layout of the JSON:

    {
      "generator": "tests/gen_reference.py",
      "torch": "<torch version>",
      "seed": <seed of the input generator>,
      "cases": [
        {
          "name": "mse/2d",             unique, "<type>/<what>"
          "type": "mse",                 an API loss type name
          "params": {"delta": 0.5},      API parameter names; {} or an
                                         omitted one means the default
          "batches": [                   one or more, posted in order
            {
              "predictions": [[...]],    nested arrays give the shape; a
              "targets": [...],          bare number is a 0-d tensor
              "expected": 0.25           torch's loss of this batch alone
            }
          ],
          "expected": 0.25               torch's loss of all batches
                                         concatenated (along dim 0, or
                                         flattened when the batches'
                                         shapes differ)
        }
      ]
    }

Numbers are written so that they read back exactly (Python's float
repr); NaN and the infinities, which JSON lacks, are the strings "NaN",
"Infinity" and "-Infinity", in inputs and expected values alike.

The losses are torch's own functions where torch has them (mse_loss,
l1_loss, huber_loss, binary_cross_entropy, cross_entropy); focal,
contrastive and dice are lossmon's definitions (see src/loss.h and the
API's table of loss types) written with torch ops, pairwise_distance
included.
All arithmetic is float64 on one thread; inputs come from a seeded
generator, so the output is the same on every run.
"""

import json
import math
import sys

import torch
import torch.nn.functional as F

SEED = 20240917

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


def dice(logits, target, smooth=1.0):
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * target).sum() + smooth) / \
        (p.sum() + target.sum() + smooth)


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


def main():
    for kind in ("mse", "mae"):
        regression_cases(kind)
    huber_cases()
    bce_cases()
    logits_cases("cross_entropy")
    focal_cases()
    contrastive_cases()
    dice_cases()

    head = json.dumps({"generator": "tests/gen_reference.py",
                       "torch": torch.__version__, "seed": SEED})
    out = sys.stdout
    out.write(head[:-1] + ', "cases": [\n')
    out.write(",\n".join(json.dumps(c, allow_nan=False) for c in CASES))
    out.write("\n]}\n")


if __name__ == "__main__":
    main()
