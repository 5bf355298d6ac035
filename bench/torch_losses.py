"""The loss-engine scenario's inputs and its baseline: for each loss
type, arrays of about n prediction elements and the same loss written
with PyTorch (float64, default parameters, mean reduction).

Runs under Debian's /usr/bin/python3 with python3-torch.
"""
import warnings

import numpy as np
import torch
import torch.nn.functional as F

C = 10          # classes of the multi-class losses
D = 16          # width of vectors, pairs and triplets


def _elementwise(rng, n):
    x = rng.standard_normal((n // D, D))
    y = rng.standard_normal((n // D, D))
    return {"predictions": x, "targets": y}


def _unit(rng, n):
    x = rng.uniform(0.001, 0.999, (n // D, D))
    y = rng.uniform(0.0, 1.0, (n // D, D))
    return {"predictions": x, "targets": y}


def _logits_unit(rng, n):
    x = rng.standard_normal((n // D, D))
    y = rng.uniform(0.0, 1.0, (n // D, D))
    return {"predictions": x, "targets": y}


def _logits_binary(rng, n):
    x = rng.standard_normal((n // D, D))
    y = (rng.uniform(0.0, 1.0, (n // D, D)) < 0.3).astype(np.float64)
    return {"predictions": x, "targets": y}


def _classes(rng, n):
    x = rng.standard_normal((n // C, C))
    y = rng.integers(0, C, n // C).astype(np.float64)
    return {"predictions": x, "targets": y}


def _log_probs(rng, n):
    x = rng.standard_normal((n // C, C))
    x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    y = rng.integers(0, C, n // C).astype(np.float64)
    return {"predictions": x, "targets": y}


def _distributions(rng, n):
    x = rng.standard_normal((n // C, C))
    x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    y = np.exp(rng.standard_normal((n // C, C)))
    y = y / y.sum(axis=1, keepdims=True)
    return {"predictions": x, "targets": y}


def _pairs(rng, n):
    x = rng.standard_normal((n // (2 * D), 2, D)) * 0.2
    y = rng.integers(0, 2, n // (2 * D)).astype(np.float64)
    return {"predictions": x, "targets": y}


def _cosine(rng, n):
    x1 = rng.standard_normal((n // D, D))
    x2 = rng.standard_normal((n // D, D))
    y = rng.choice([-1.0, 1.0], n // D)
    return {"predictions": x1, "predictions2": x2, "targets": y}


def _ranking(rng, n):
    return {"predictions": rng.standard_normal(n),
            "predictions2": rng.standard_normal(n),
            "targets": rng.choice([-1.0, 1.0], n)}


def _triplets(rng, n):
    return {"predictions": rng.standard_normal((n // D, D)),
            "positives": rng.standard_normal((n // D, D)),
            "negatives": rng.standard_normal((n // D, D))}


def _hinge(rng, n):
    return {"predictions": np.abs(rng.standard_normal(n)),
            "targets": rng.choice([-1.0, 1.0], n)}


def _poisson(rng, n):
    return {"predictions": rng.standard_normal(n) * 0.5,
            "targets": rng.poisson(2.0, n).astype(np.float64)}


def _gaussian(rng, n):
    return {"predictions": rng.standard_normal(n),
            "targets": rng.standard_normal(n),
            "variance": rng.uniform(0.1, 2.0, n)}


def _focal(t):
    ce = F.cross_entropy(t["predictions"], t["class"], reduction="none")
    return ((1 - torch.exp(-ce)) ** 2 * ce).mean()


def _contrastive(t):
    x, y = t["predictions"], t["targets"]
    d = F.pairwise_distance(x[:, 0], x[:, 1])
    return ((1 - y) * d ** 2 + y * torch.clamp(1 - d, min=0) ** 2).mean()


def _dice(t):
    p = torch.sigmoid(t["predictions"])
    y = t["targets"]
    return 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)


def _sigmoid_focal(t):
    x, y = t["predictions"], t["targets"]
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    pt = p * y + (1 - p) * (1 - y)
    a = 0.25 * y + 0.75 * (1 - y)
    return (a * (1 - pt) ** 2 * ce).mean()


def _quantile(t):
    r = t["targets"] - t["predictions"]
    return torch.maximum(0.5 * r, (0.5 - 1) * r).mean()


# Each type: (its inputs generator, the loss in PyTorch on tensors by name;
# "class" is targets as int64 class indices).
LOSSES = {
    "mse": (_elementwise,
            lambda t: F.mse_loss(t["predictions"], t["targets"])),
    "mae": (_elementwise,
            lambda t: F.l1_loss(t["predictions"], t["targets"])),
    "huber": (_elementwise,
              lambda t: F.huber_loss(t["predictions"], t["targets"])),
    "bce": (_unit, lambda t: F.binary_cross_entropy(t["predictions"],
                                                    t["targets"])),
    "cross_entropy": (_classes, lambda t: F.cross_entropy(
        t["predictions"], t["class"])),
    "focal": (_classes, _focal),
    "contrastive": (_pairs, _contrastive),
    "dice": (_logits_binary, _dice),
    "bce_with_logits": (_logits_unit,
                        lambda t: F.binary_cross_entropy_with_logits(
                            t["predictions"], t["targets"])),
    "smooth_l1": (_elementwise, lambda t: F.smooth_l1_loss(
        t["predictions"], t["targets"])),
    "nll": (_log_probs, lambda t: F.nll_loss(t["predictions"],
                                             t["class"])),
    "kl_div": (_distributions, lambda t: F.kl_div(
        t["predictions"], t["targets"], reduction="mean")),
    "sigmoid_focal": (_logits_binary, _sigmoid_focal),
    "cosine_embedding": (_cosine, lambda t: F.cosine_embedding_loss(
        t["predictions"], t["predictions2"], t["targets"])),
    "margin_ranking": (_ranking, lambda t: F.margin_ranking_loss(
        t["predictions"], t["predictions2"], t["targets"])),
    "triplet_margin": (_triplets, lambda t: F.triplet_margin_loss(
        t["predictions"], t["positives"], t["negatives"])),
    "hinge_embedding": (_hinge, lambda t: F.hinge_embedding_loss(
        t["predictions"], t["targets"])),
    "poisson_nll": (_poisson, lambda t: F.poisson_nll_loss(
        t["predictions"], t["targets"])),
    "gaussian_nll": (_gaussian, lambda t: F.gaussian_nll_loss(
        t["predictions"], t["targets"], t["variance"])),
    "log_cosh": (_elementwise, lambda t: torch.log(torch.cosh(
        t["predictions"] - t["targets"])).mean()),
    "quantile": (_elementwise, _quantile),
}


def inputs(name, n, seed=7):
    """The arrays of a loss type (C-order float64 by field name)."""
    rng = np.random.default_rng(seed)
    return {k: np.ascontiguousarray(v, dtype=np.float64)
            for k, v in LOSSES[name][0](rng, n).items()}


def torch_time(name, arrays, reps, clock):
    """(median seconds of one call, the value) of the PyTorch loss on
    the arrays, on one thread, after one call to warm up."""
    torch.set_num_threads(1)
    t = {k: torch.from_numpy(v) for k, v in arrays.items()}
    if "targets" in t and t["targets"].dim() == 1:
        t["class"] = t["targets"].to(torch.int64)
    fn = LOSSES[name][1]
    # kl_div's reduction="mean" is PyTorch's default, warned about.
    warnings.filterwarnings("ignore", "reduction: 'mean'")
    times = []
    with torch.no_grad():
        value = fn(t).item()
        for _ in range(reps):
            t0 = clock()
            fn(t)
            times.append(clock() - t0)
    times.sort()
    return times[len(times) // 2], value
