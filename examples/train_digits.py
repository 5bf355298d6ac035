"""Trains a small PyTorch classifier on sklearn's digits and sends its
losses to lossmond.

Start a daemon, then run this with Debian's Python (python3-torch,
python3-sklearn; the digits come with sklearn, nothing is downloaded):

    src/lossmond --listen 127.0.0.1:8080 --db /tmp/lossmon.db &
    /usr/bin/python3 examples/train_digits.py --run digits-1 --epochs 5

The run is configured with two loss terms, cross_entropy (weight 1.0)
and focal (gamma 2, alpha 0.25, weight 0.5).  Every training step posts
its minibatch's logits and targets to split "train" at step = the global
step, with the scalars lr and accuracy.  At the end of each epoch the
whole validation set is posted to split "val" at the current global
step, in a few batches of uneven size: the daemon adds them up into the
loss over the full validation set.

The model runs in float64, so the loss torch computes for backward is
what the daemon reproduces from the posted logits.  --record PATH writes
those values to a JSON file, one entry per (split, step):

    {"run": ..., "points": [{"split": "train", "step": 1,
      "cross_entropy": ..., "focal": ..., "total": ...}, ...]}

where total = 1.0 * cross_entropy + 0.5 * focal and the val entries are
torch's losses over the whole validation set at once; their "batches"
list the size and losses of each posted val batch.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lossmon_client import (  # noqa: E402
    LossmonClient, LossmonError, encode_values)

CE_WEIGHT = 1.0
FOCAL_WEIGHT = 0.5
FOCAL_GAMMA = 2.0
FOCAL_ALPHA = 0.25

LOSSES = [
    {"name": "cross_entropy", "type": "cross_entropy",
     "weight": CE_WEIGHT},
    {"name": "focal", "type": "focal", "weight": FOCAL_WEIGHT,
     "gamma": FOCAL_GAMMA, "alpha": FOCAL_ALPHA},
]

# Fractions of the validation set in each posted batch: uneven on
# purpose, so a daemon that kept only one batch would be caught.
VAL_BATCH_FRACTIONS = [0.3, 0.1, 0.45, 0.15]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080",
                   help="address of lossmond (default %(default)s)")
    p.add_argument("--run", default=None,
                   help="run name (default digits-YYYYmmdd-HHMMSS)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--record", metavar="PATH",
                   help="write the losses torch computed to this JSON file")
    args = p.parse_args()
    if args.run is None:
        args.run = time.strftime("digits-%Y%m%d-%H%M%S")
    return args


def losses(logits, targets):
    """The run's loss terms as torch computes them: (ce, focal, total)."""
    ce_each = F.cross_entropy(logits, targets, reduction="none")
    pt = torch.exp(-ce_each)
    focal = (FOCAL_ALPHA * (1 - pt) ** FOCAL_GAMMA * ce_each).mean()
    ce = ce_each.mean()
    return ce, focal, CE_WEIGHT * ce + FOCAL_WEIGHT * focal


def record_entry(split, step, ce, focal, total):
    """One (split, step) of the record; non-finite values as strings."""
    return {"split": split, "step": step,
            "cross_entropy": encode_values(ce.item()),
            "focal": encode_values(focal.item()),
            "total": encode_values(total.item())}


def load_data(seed):
    """The digits, scaled to [0, 1], split 80/20 with the given seed."""
    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.2,
        random_state=seed, stratify=digits.target)
    return (torch.tensor(x_train, dtype=torch.float64),
            torch.tensor(y_train, dtype=torch.int64),
            torch.tensor(x_val, dtype=torch.float64),
            torch.tensor(y_val, dtype=torch.int64))


def uneven_batches(n):
    """Slices of range(n) with the sizes of VAL_BATCH_FRACTIONS."""
    bounds = [0]
    for f in VAL_BATCH_FRACTIONS[:-1]:
        bounds.append(bounds[-1] + int(f * n))
    bounds.append(n)
    return [slice(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def accuracy(logits, targets):
    return (logits.argmax(dim=1) == targets).double().mean().item()


def validate(lm, args, model, x_val, y_val, step):
    """Posts the whole validation set at step; returns its record entry."""
    model.eval()
    with torch.no_grad():
        logits = model(x_val)
        entry = record_entry("val", step, *losses(logits, y_val))
        entry["batches"] = []
        for part in uneven_batches(len(y_val)):
            # An id per batch: if a post times out and is retried,
            # the daemon counts it once.
            lm.post_batch(args.run, step, logits[part], y_val[part],
                          split="val", id="val-%d-%d" % (step, part.start))
            batch = record_entry("val", step,
                                 *losses(logits[part], y_val[part]))
            batch["size"] = part.stop - part.start
            entry["batches"].append(batch)
        entry["accuracy"] = accuracy(logits, y_val)
    lm.post_scalars(args.run, step, {"accuracy": entry["accuracy"]},
                    split="val")
    model.train()
    return entry


def train(lm, args, record):
    x_train, y_train, x_val, y_val = load_data(args.seed)
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x_train.shape[1], args.hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(args.hidden, 10),
    ).double()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    shuffle = torch.Generator().manual_seed(args.seed)
    step = 0

    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(y_train), generator=shuffle)
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            step += 1

            logits = model(xb)
            ce, focal, total = losses(logits, yb)
            opt.zero_grad()
            total.backward()
            opt.step()

            # The logits of the forward pass that gave this loss, so
            # the daemon computes exactly what backward used.
            lm.post_batch(args.run, step, logits.detach(), yb,
                          id="train-%d" % step)
            lm.post_scalars(args.run, step,
                            {"lr": opt.param_groups[0]["lr"],
                             "accuracy": accuracy(logits, yb)})
            record.append(record_entry("train", step, ce, focal, total))

        val = validate(lm, args, model, x_val, y_val, step)
        record.append(val)
        print("epoch %d/%d, step %d: last train total %.4f, val total "
              "%.4f, val accuracy %.3f"
              % (epoch, args.epochs, step, total.item(),
                 float(val["total"]), val["accuracy"]), flush=True)


def main():
    args = parse_args()
    lm = LossmonClient(args.url)
    params = {"lr": args.lr, "hidden": args.hidden, "epochs": args.epochs,
              "batch_size": args.batch_size, "seed": args.seed}
    tags = {"dataset": "sklearn-digits", "model": "mlp",
            "example": "train_digits.py"}
    record = []

    try:
        run = lm.create_run(args.run, LOSSES, params, tags)
        if run.get("last_step") is not None:
            # Posting again to existing steps would add these batches
            # to the ones already there.
            sys.exit("run %s already has points up to step %d; choose "
                     "another --run" % (args.run, run["last_step"]))
        train(lm, args, record)
    except LossmonError as e:
        sys.exit("lossmond: %s" % e)

    if args.record:
        with open(args.record, "w") as f:
            json.dump({"run": args.run, "losses": LOSSES, "points": record},
                      f, indent=1, allow_nan=False)
    print("dashboard: %s" % lm.dashboard_url(args.run))


if __name__ == "__main__":
    main()
