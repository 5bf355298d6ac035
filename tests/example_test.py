"""Runs the training example against a real lossmond and checks that the
daemon kept exactly the losses PyTorch computed.

    make check TESTS=tests/example_test.py
    # or by hand, after make:
    LOSSMOND=src/lossmond /usr/bin/python3 tests/example_test.py

A daemon starts on an ephemeral loopback port with a fresh SQLite file;
examples/train_digits.py trains for a few epochs against it and records
what torch computed at each (split, step).  Then, for cross_entropy,
focal and total on train and val, the history the daemon serves must
hold one point per recorded step, no other point, each equal to torch's
value within 1e-9 relative.  The val values are torch's losses over the
whole validation set, which the example posts in uneven batches; the
test also checks that they differ from the loss of the last batch alone,
so that a daemon keeping only the last batch would fail.

Exits 0 on success, 1 on any mismatch, 77 (skip) when the Python running
it cannot import torch or sklearn.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

TOP_SRCDIR = os.environ.get(
    "TOP_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests"))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "examples"))

from daemon import Daemon  # noqa: E402
from lossmon_client import (  # noqa: E402
    LossmonClient, LossmonError, decode_value)

EXAMPLE = os.path.join(TOP_SRCDIR, "examples", "train_digits.py")
RUN = "digits-example-test"
EPOCHS = 3
SEED = 7
LR = 0.05
TERMS = ["cross_entropy", "focal", "total"]
SPLITS = ["train", "val"]
REL_TOL = 1e-9
# A deadline for the example to finish, not a timing assertion.
DEADLINE = 600


def have_torch():
    """Whether this Python imports torch and sklearn; prints why not."""
    r = subprocess.run([sys.executable, "-c",
                        "import torch, sklearn.datasets"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        print("SKIP: %s cannot import torch and sklearn: %s"
              % (sys.executable, last))
    return r.returncode == 0


def close(a, b):
    """a and b within REL_TOL relative; non-finite values must be equal."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def rel_error(a, b):
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


class Checker:
    """Collects failures and the figures of the summary."""

    def __init__(self):
        self.failures = []
        self.compared = 0
        self.max_rel = 0.0

    def fail(self, msg):
        self.failures.append(msg)

    def value(self, what, stored, expected):
        self.compared += 1
        self.max_rel = max(self.max_rel, rel_error(stored, expected))
        if not close(stored, expected):
            self.fail("%s: stored %r, torch %r (relative error %.3g)"
                      % (what, stored, expected,
                         rel_error(stored, expected)))


def run_example(url, record_path):
    """Runs the training example; returns its output or exits 1."""
    cmd = [sys.executable, EXAMPLE, "--url", url, "--run", RUN,
           "--epochs", str(EPOCHS), "--seed", str(SEED), "--lr", str(LR),
           "--record", record_path]
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=DEADLINE)
    if r.returncode != 0:
        print("FAIL: %s exited with %d\n--- stdout\n%s--- stderr\n%s"
              % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return None
    return r.stdout


def expected_points(record):
    """{(split, term): {step: value}} from the example's record."""
    want = {(s, t): {} for s in SPLITS for t in TERMS}
    for p in record["points"]:
        for t in TERMS:
            steps = want[(p["split"], t)]
            if p["step"] in steps:
                raise ValueError("record has step %d of %s twice"
                                 % (p["step"], p["split"]))
            steps[p["step"]] = decode_value(p[t])
    return want


def check_history(lm, chk, want):
    """Each stored point equals torch's; none missing, none extra."""
    for (split, term), steps in sorted(want.items()):
        points = lm.history(RUN, term, split=split)
        got = [p[0] for p in points]
        if len(points) != len(steps):
            chk.fail("%s/%s: %d points stored, %d steps recorded"
                     % (split, term, len(points), len(steps)))
        if got != sorted(set(got)):
            chk.fail("%s/%s: steps not strictly increasing: %s"
                     % (split, term, got))
        missing = sorted(set(steps) - set(got))
        extra = sorted(set(got) - set(steps))
        if missing:
            chk.fail("%s/%s: steps missing: %s" % (split, term, missing))
        if extra:
            chk.fail("%s/%s: steps not posted: %s" % (split, term, extra))
        for step, value, _ in points:
            if step in steps:
                chk.value("%s/%s step %d" % (split, term, step), value,
                          steps[step])


def check_val_is_whole_set(chk, record):
    """The val values must not be the loss of the last batch alone, or
    of any single batch; otherwise the history check proves nothing."""
    vals = [p for p in record["points"] if p["split"] == "val"]
    if len(vals) != EPOCHS:
        chk.fail("record has %d val steps, expected %d (one per epoch)"
                 % (len(vals), EPOCHS))
    for p in vals:
        sizes = [b["size"] for b in p["batches"]]
        if len(set(sizes)) < 2:
            chk.fail("val step %d: batches are not uneven: %s"
                     % (p["step"], sizes))
        for t in TERMS:
            whole = decode_value(p[t])
            for b in p["batches"]:
                if close(whole, decode_value(b[t])):
                    chk.fail("val step %d %s: whole-set value %r equals "
                             "a batch's; the test cannot tell them apart"
                             % (p["step"], t, whole))


def check_metrics(lm, chk, want):
    """The metric list counts the same points; lr has one per step."""
    metrics = {(m["split"], m["name"]): m for m in lm.metrics(RUN)}
    for (split, term), steps in want.items():
        m = metrics.get((split, term))
        if m is None:
            chk.fail("metrics: %s/%s is missing" % (split, term))
            continue
        if m["points"] != len(steps):
            chk.fail("metrics: %s/%s has %r points, expected %d"
                     % (split, term, m["points"], len(steps)))
        kind = "total" if term == "total" else "loss"
        if m["kind"] != kind:
            chk.fail("metrics: %s/%s has kind %r, expected %r"
                     % (split, term, m["kind"], kind))
    lr = lm.history(RUN, "lr", split="train")
    if [p[0] for p in lr] != sorted(want[("train", "total")]):
        chk.fail("lr: stored at steps %s, expected one point per "
                 "training step" % [p[0] for p in lr])
    for step, value, _ in lr:
        chk.value("train/lr step %d" % step, value, LR)


def main():
    if not have_torch():
        return 77
    chk = Checker()
    with tempfile.TemporaryDirectory(prefix="lossmon-example-") as tmp, \
            Daemon() as d:
        record_path = os.path.join(tmp, "record.json")
        out = run_example(d.url, record_path)
        if out is None:
            print("--- lossmond log\n" + "".join(d.log))
            return 1
        print(out, end="")
        with open(record_path) as f:
            record = json.load(f)
        want = expected_points(record)
        lm = LossmonClient(d.url)
        check_val_is_whole_set(chk, record)
        try:
            check_history(lm, chk, want)
            check_metrics(lm, chk, want)
        except LossmonError as e:
            chk.fail("query: %s" % e)

    ntrain = len(want[("train", "total")])
    nval = len(want[("val", "total")])
    print("steps recorded: %d train, %d val (%d val batches); "
          "values compared: %d; max relative error %.3g"
          % (ntrain, nval,
             sum(len(p.get("batches", [])) for p in record["points"]),
             chk.compared, chk.max_rel))
    for msg in chk.failures:
        print("FAIL: " + msg)
    if chk.failures:
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
