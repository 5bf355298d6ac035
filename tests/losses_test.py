#!/usr/bin/env python3
"""The catalogue of losses over HTTP, against the real daemon.

Every case of tests/reference_catalogue.json (the options of the first
eight losses and the thirteen other types; values computed by PyTorch,
see tests/gen_reference.py) is posted to a lossmond that tests/daemon.py
starts on an ephemeral port with a fresh SQLite file: each batch's reply
must be torch's loss of that batch, the stored value of the step torch's
loss of all of them, also when the rows are cut into batches of uneven
sizes.  Then GET /api/v1/losses against the README's tables, parameters
at run creation, inputs of a batch, and the edge cases the README
decides.  Expected values come from the reference file only; elsewhere
the tests compare the daemon with itself (a term alone and in a run of
several) or check structure.

Replies are parsed with a JSON parser that refuses the bare NaN and
Infinity tokens, which are not JSON.

    LOSSMOND=src/lossmond TOP_SRCDIR=. python3 tests/losses_test.py [-v]

Standard library only.  Exit status 0 when all tests pass, 1 otherwise.
"""
import json
import math
import os
import re
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon  # noqa: E402  (tests/daemon.py, next to this file)

CATALOGUE = os.path.join(daemon.TOP_SRCDIR, "tests",
                         "reference_catalogue.json")
README = os.path.join(daemon.TOP_SRCDIR, "README.md")
# The program that writes the README's tables (built by make check).
README_LOSSES = os.environ.get("README_LOSSES", os.path.join(
    os.path.dirname(os.path.dirname(daemon.LOSSMOND)), "tests",
    "readme_losses"))
REL_TOL = 1e-9
INPUTS = ("predictions", "targets", "predictions2", "positives",
          "negatives", "variance", "weights")

from daemon import setUpModule, tearDownModule  # noqa: E402,F401


from daemon import strict_json  # noqa: E402


def from_json_value(v):
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf",
                      "-Infinity": "-inf"}[v])
    return float(v)


_catalogue = None


def catalogue():
    """The cases of the catalogue, expected values as floats."""
    global _catalogue
    if _catalogue is None:
        with open(CATALOGUE) as f:
            cases = json.load(f)["cases"]
        for c in cases:
            c["expected"] = from_json_value(c["expected"])
            for b in c["batches"]:
                b["expected"] = from_json_value(b["expected"])
        _catalogue = cases
    return _catalogue


def case_named(name):
    for c in catalogue():
        if c["name"] == name:
            return c
    raise AssertionError("no catalogue case %s" % name)


def inputs_of(batch):
    return {k: v for k, v in batch.items() if k in INPUTS}


def rows(batch):
    """The number of rows every input of a batch has, or 0 when they
    differ or one is not an array of rows."""
    n = {len(v) if isinstance(v, list) else -1
         for v in inputs_of(batch).values()}
    return n.pop() if len(n) == 1 and -1 not in n else 0


def cut(batch, sizes):
    out, at = [], 0
    for s in sizes:
        out.append({k: v[at:at + s] for k, v in inputs_of(batch).items()})
        at += s
    return out


def uneven(n):
    """Sizes 1, 2, 3, ... adding up to n; the last takes the rest."""
    sizes, size = [], 1
    while n > 0:
        take = n if n - size < size + 1 else size
        sizes.append(take)
        n -= take
        size += 1
    return sizes


class LossesTest(daemon.SharedDaemonTest):
    counter = 0

    def run_name(self):
        LossesTest.counter += 1
        return "%s-%d" % (self._testMethodName[5:40], LossesTest.counter)

    def call(self, method, path, body=None):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.d.url + "/api/v1" + path,
                                     data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, strict_json(raw)
        except ValueError as e:
            self.fail("%s %s: reply is not JSON (%s): %r"
                      % (method, path, e, raw[:300]))

    def ok(self, method, path, body=None, status=200):
        st, reply = self.call(method, path, body)
        self.assertEqual(st, status, "%s %s: %r" % (method, path, reply))
        return reply

    def error(self, method, path, body, status, code, *words):
        st, reply = self.call(method, path, body)
        self.assertEqual(st, status, "%s %s %r: %r"
                         % (method, path, body, reply))
        self.assertEqual(set(reply), {"error"}, reply)
        self.assertEqual(reply["error"]["code"], code, reply)
        for w in words:
            self.assertIn(w, reply["error"]["message"], reply)
        return reply["error"]["message"]

    def put(self, run, losses, status=201):
        return self.ok("PUT", "/runs/" + run, {"losses": losses}, status)

    def post(self, run, step, inputs):
        return self.ok("POST", "/runs/%s/batches" % run,
                       dict(inputs, step=step))

    def stored(self, run, metric, step):
        reply = self.ok("GET", "/runs/%s/history?metric=%s" % (run, metric))
        pts = [p for p in reply["points"] if p[0] == step]
        self.assertEqual(len(pts), 1, reply)
        return pts[0][1]

    def assertValue(self, got, want, what):
        if not math.isfinite(want):
            self.assertEqual(got, "NaN" if math.isnan(want) else
                             "Infinity" if want > 0 else "-Infinity", what)
            return
        self.assertIsInstance(got, (int, float), what)
        if want == 0.0:
            self.assertEqual(got, 0.0, what)
        else:
            self.assertTrue(math.isclose(got, want, rel_tol=REL_TOL),
                            "%r != %r (reference): %s" % (got, want, what))

    def term(self, case):
        return dict(case["params"], type=case["type"])


class CatalogueTest(LossesTest):
    """The reference cases over HTTP."""

    def test_every_case(self):
        """Each batch's reply is torch's loss of the batch; the stored
        value of the step torch's loss of all the batches."""
        seen = set()
        for case in catalogue():
            with self.subTest(case=case["name"]):
                run = self.run_name()
                self.put(run, [self.term(case)])
                t = case["type"]
                for j, b in enumerate(case["batches"]):
                    reply = self.post(run, 5, inputs_of(b))
                    what = "%s batch %d" % (case["name"], j)
                    self.assertEqual(list(reply["losses"]), [t], what)
                    self.assertValue(reply["losses"][t], b["expected"],
                                     what)
                    self.assertValue(reply["total"], b["expected"], what)
                for metric in (t, "total"):
                    self.assertValue(self.stored(run, metric, 5),
                                     case["expected"], "%s, stored %s"
                                     % (case["name"], metric))
                seen.add(t)
        self.assertEqual(len(seen), 21)

    def test_cases_cut_into_uneven_batches(self):
        """One-batch cases with three rows or more, cut into batches of
        sizes 1, 2, 3, ... posted at one step."""
        cases = [c for c in catalogue()
                 if len(c["batches"]) == 1 and rows(c["batches"][0]) >= 3]
        self.assertGreater(len(cases), 100)
        for case in cases:
            with self.subTest(case=case["name"]):
                run = self.run_name()
                self.put(run, [self.term(case)])
                sizes = uneven(rows(case["batches"][0]))
                for b in cut(case["batches"][0], sizes):
                    self.post(run, 2, b)
                self.assertValue(self.stored(run, case["type"], 2),
                                 case["expected"], "%s in batches of %s"
                                 % (case["name"], sizes))


class CatalogueEndpointTest(LossesTest):
    """GET /api/v1/losses, its agreement with the README and the
    engine."""

    def catalogue(self):
        reply = self.ok("GET", "/losses")
        self.assertEqual(list(reply), ["losses"])
        return reply["losses"]

    def test_structure(self):
        losses = self.catalogue()
        self.assertEqual(len(losses), 21)
        self.assertEqual(len({x["type"] for x in losses}), 21)
        for loss in losses:
            with self.subTest(type=loss["type"]):
                self.assertEqual(set(loss), {"type", "inputs", "params",
                                             "formula"})
                self.assertTrue(loss["formula"])
                fields = [i["field"] for i in loss["inputs"]]
                self.assertEqual(fields[0], "predictions")
                self.assertTrue(set(fields) <= set(INPUTS), fields)
                for i in loss["inputs"]:
                    self.assertEqual(set(i), {"field", "shape",
                                              "required"})
                for p in loss["params"]:
                    self.assertEqual(set(p), {"name", "kind", "default",
                                              "allowed", "option", "doc"})
                    self.assertIn(p["kind"], ("number", "boolean", "word",
                                              "list", "number or list"))

    def test_same_as_the_programme_that_writes_the_readme(self):
        """The daemon's catalogue is, byte for byte, the one the README's
        tables are written from (tests/readme_losses checks those)."""
        if not os.path.exists(README_LOSSES):
            self.skipTest("%s is not built" % README_LOSSES)
        out = subprocess.run([README_LOSSES, "--json"], check=True,
                             capture_output=True).stdout
        self.assertEqual(strict_json(out), {"losses": self.catalogue()})

    def readme_params(self):
        """The README's table of parameters: {(type, name): row}."""
        with open(README) as f:
            text = f.read()
        block = text.split("<!-- losses:")[1].split("<!-- end of losses")[0]
        table = {}
        for line in block.splitlines():
            m = re.match(r"\| `([a-z0-9_]+)` \| `([a-z_]+)` \| (.*) \|$",
                         line)
            if m:
                cells = [c.strip() for c in m.group(3).split(" | ")]
                table[(m.group(1), m.group(2))] = cells
        return table

    def test_readme_agrees(self):
        """Every type and parameter of the endpoint is in the README's
        tables with the same kind, default and meaning, and nothing
        else is."""
        with open(README) as f:
            block = f.read().split("<!-- losses:")[1]
        table = self.readme_params()
        want = {}
        for loss in self.catalogue():
            self.assertIn("| `%s` |" % loss["type"], block)
            for p in loss["params"]:
                kind = p["kind"] + (", option" if p["option"] else "")
                default = ("none" if p["default"] is None else
                           json.dumps(p["default"]))
                want[(loss["type"], p["name"])] = [kind, default, p["doc"]]
        got = {k: [v[0], v[1], v[3]] for k, v in table.items()}
        # JSON numbers may print differently (1 and 1.0): compare values.
        for k in want:
            if k in got and want[k][1][0] in "-0123456789":
                self.assertEqual(float(got[k][1]), float(want[k][1]), k)
                got[k][1] = want[k][1]
        self.assertEqual(got, want)

    def test_every_type_runs_with_defaults(self):
        """Each listed type makes a run; the run object holds its
        parameters at their defaults, options left out."""
        for loss in self.catalogue():
            with self.subTest(type=loss["type"]):
                run = self.run_name()
                obj = self.put(run, [{"type": loss["type"]}])
                term = obj["losses"][0]
                want = {p["name"]: p["default"] for p in loss["params"]
                        if not p["option"]}
                extra = {k: v for k, v in term.items()
                         if k not in ("name", "type", "weight")}
                self.assertEqual(extra, want)

    def test_method_not_allowed(self):
        st, reply = self.call("POST", "/losses", {})
        self.assertEqual(st, 405, reply)
        self.assertEqual(reply["error"]["code"], "method_not_allowed")


class ParamsTest(LossesTest):
    """Parameters at run creation."""

    def test_values_round_trip(self):
        """Every kind of parameter set away from its default comes back
        in the run object; the same losses spelled out again are the
        same run, and their defaults spelled out too."""
        losses = [
            {"type": "cross_entropy", "class_weight": [1, 0.5, 2],
             "ignore_index": 255, "label_smoothing": 0.1},
            {"type": "focal", "alpha": [0.25, 0.75, 0.5], "gamma": 1.5},
            {"type": "dice", "from_logits": False, "squared": True,
             "include_background": False, "smooth": 0},
            {"type": "contrastive", "labels": "similar"},
            {"type": "kl_div", "reduction": "batchmean",
             "log_target": True},
            {"type": "bce_with_logits", "pos_weight": [3]},
            {"type": "triplet_margin", "p": 1, "swap": True},
            {"type": "poisson_nll", "log_input": False, "full": True},
        ]
        run = self.run_name()
        obj = self.put(run, losses)
        for sent, term in zip(losses, obj["losses"]):
            for k, v in sent.items():
                self.assertEqual(term[k], v, term)
        self.assertEqual(self.put(run, obj["losses"], 200), obj)
        defaults = [dict(t, ignore_index=-100) if t["type"] == "focal"
                    else t for t in losses]
        self.assertEqual(self.put(run, defaults, 200), obj)
        other = [dict(losses[0], label_smoothing=0.2)] + losses[1:]
        self.error("PUT", "/runs/" + run, {"losses": other}, 409,
                   "conflict")

    def test_out_of_range(self):
        cases = [
            ({"type": "smooth_l1", "beta": -0.5}, "losses[0].beta",
             "at least 0"),
            ({"type": "huber", "delta": -1}, "losses[0].delta",
             "greater than 0"),
            ({"type": "cross_entropy", "label_smoothing": 1.5},
             "losses[0].label_smoothing", "[0, 1]"),
            ({"type": "cross_entropy", "label_smoothing": -0.1},
             "losses[0].label_smoothing", "[0, 1]"),
            ({"type": "cross_entropy", "class_weight": []},
             "losses[0].class_weight", "at least one value"),
            ({"type": "cross_entropy", "class_weight": [1, -2]},
             "losses[0].class_weight[1]", "at least 0"),
            ({"type": "nll", "class_weight": [1, "2"]},
             "losses[0].class_weight[1]", "number"),
            ({"type": "nll", "class_weight": 2},
             "losses[0].class_weight", "list"),
            ({"type": "cross_entropy", "ignore_index": 1.5},
             "losses[0].ignore_index", "integer"),
            ({"type": "focal", "alpha": [0.5, -1]}, "losses[0].alpha[1]",
             "at least 0"),
            ({"type": "dice", "squared": 1}, "losses[0].squared",
             "true or false"),
            ({"type": "kl_div", "reduction": "sum"},
             "losses[0].reduction", "\"batchmean\""),
            ({"type": "contrastive", "labels": 1}, "losses[0].labels",
             "\"similar\""),
            ({"type": "triplet_margin", "p": 0}, "losses[0].p",
             "greater than 0"),
            ({"type": "quantile", "tau": 1.5}, "losses[0].tau", "[0, 1]"),
            ({"type": "gaussian_nll", "eps": 0}, "losses[0].eps",
             "greater than 0"),
            ({"type": "cosine_embedding", "margin": 2},
             "losses[0].margin", "[-1, 1]"),
            ({"type": "sigmoid_focal", "alpha": 1.5}, "losses[0].alpha",
             "at most 1"),
            ({"type": "bce_with_logits", "pos_weight": [-1]},
             "losses[0].pos_weight[0]", "at least 0"),
            ({"type": "mse", "beta": 1}, "losses[0].beta",
             "unknown parameter"),
            ({"type": "cross_entropy", "weight": [1, 2]},
             "losses[0].weight", "class_weight"),
            ({"type": "log_cosh2"}, "losses[0].type", "GET /api/v1/losses"),
        ]
        for term, field, why in cases:
            with self.subTest(term=term):
                run = self.run_name()
                self.error("PUT", "/runs/" + run, {"losses": [term]}, 400,
                           "invalid_field", field, why)
                self.error("GET", "/runs/" + run, None, 404, "not_found")

    def test_per_class_lists_agree(self):
        """Terms share the predictions, so their per-class lists must
        have one length; lists of other things need not."""
        run = self.run_name()
        self.error("PUT", "/runs/" + run, {"losses": [
            {"type": "cross_entropy", "class_weight": [1, 2, 3]},
            {"type": "focal", "alpha": [0.5, 0.5]}]}, 400, "invalid_field",
            "losses[1].alpha has 2 values but losses[0].class_weight has 3")
        self.put(run, [
            {"type": "cross_entropy", "class_weight": [1, 2, 3]},
            {"type": "focal", "alpha": 0.5},
            {"type": "nll", "class_weight": [0, 1, 1]},
            {"type": "bce_with_logits", "pos_weight": [2, 1]}])


class InputsTest(LossesTest):
    """Which arrays a batch must and may carry, and what the batch can
    only tell."""

    def test_missing_and_unwanted_inputs(self):
        run = self.run_name()
        self.put(run, [{"type": "gaussian_nll"}])
        batch = {"predictions": [1.0, 2.0], "targets": [1.5, 2.5]}
        self.error("POST", "/runs/%s/batches" % run, dict(batch, step=0),
                   400, "missing_field", "variance is missing",
                   "gaussian_nll")
        self.error("POST", "/runs/%s/batches" % run,
                   dict(batch, step=0, variance=[1, 1], positives=[1, 1]),
                   400, "invalid_field", "positives",
                   "predictions, targets, variance")
        self.error("POST", "/runs/%s/batches" % run,
                   dict(batch, step=0, variance=[1, 1], colour=[1]),
                   400, "invalid_field", "colour: unknown field")
        self.assertEqual(self.ok("GET", "/runs/%s/metrics" % run)
                         ["metrics"], [])

    def test_run_of_several_inputs(self):
        """Terms that take different inputs: a batch carries all of them,
        and lacks none; each term's value is the one it has alone, and
        the total their weighted sum."""
        terms = [
            {"type": "gaussian_nll", "weight": 0.5},
            {"type": "mse", "weight": 2.0},
            {"type": "bce_with_logits", "name": "bcel",
             "pos_weight": [2.0, 0.5]},
            {"type": "triplet_margin", "weight": 0.25, "swap": True},
        ]
        takes = {"gaussian_nll": ("predictions", "targets", "variance"),
                 "mse": ("predictions", "targets"),
                 "bce_with_logits": ("predictions", "targets", "weights"),
                 "triplet_margin": ("predictions", "positives",
                                    "negatives")}
        batch = {"predictions": [[0.5, -1.0], [2.0, 0.25]],
                 "targets": [[1.0, 0.0], [0.0, 1.0]],
                 "variance": [0.5, 2.0],
                 "weights": [[1.0, 0.5], [2.0, 0.0]],
                 "positives": [[0.0, 1.0], [1.5, -2.0]],
                 "negatives": [[1.0, 1.0], [-0.5, 0.5]]}
        run = self.run_name()
        self.put(run, terms)
        for field in ("targets", "variance", "positives", "negatives"):
            body = {k: v for k, v in batch.items() if k != field}
            self.error("POST", "/runs/%s/batches" % run,
                       dict(body, step=0), 400, "missing_field",
                       "%s is missing" % field)
        reply = self.post(run, 0, batch)
        total = 0.0
        for t in terms:
            alone = self.run_name()
            self.put(alone, [dict(t, weight=1.0)])
            one = self.post(alone, 0, {k: batch[k]
                                       for k in takes[t["type"]]})
            name = t.get("name", t["type"])
            self.assertEqual(reply["losses"][name], one["losses"][name],
                             name)
            total += t.get("weight", 1.0) * one["losses"][name]
        self.assertTrue(math.isclose(reply["total"], total,
                                     rel_tol=1e-15))
        # Without the optional weights, bce_with_logits weighs each
        # element 1: another value, and no error.
        body = {k: v for k, v in batch.items() if k != "weights"}
        self.assertNotEqual(self.post(run, 1, body)["losses"]["bcel"],
                            reply["losses"]["bcel"])

    def test_list_of_the_wrong_length(self):
        run = self.run_name()
        self.put(run, [{"type": "cross_entropy", "class_weight": [1, 2, 3]}])
        self.error("POST", "/runs/%s/batches" % run,
                   {"step": 0, "predictions": [[0.0] * 5],
                    "targets": [4]}, 400, "invalid_field",
                   "class_weight has 3 values but predictions has 5 "
                   "classes", "cross_entropy")
        run = self.run_name()
        self.put(run, [{"type": "bce_with_logits", "pos_weight": [1, 2]}])
        self.error("POST", "/runs/%s/batches" % run,
                   {"step": 0, "predictions": [[0.0] * 3],
                    "targets": [[1, 0, 1]]}, 400, "invalid_field",
                   "pos_weight has 2 values")

    def test_batches_of_a_step_must_agree(self):
        """A multi-class Dice over another number of classes, or class
        probabilities after class indices, is refused and the step
        keeps what it had."""
        run = self.run_name()
        self.put(run, [{"type": "dice"}])
        first = self.post(run, 1, {"predictions": [[0.0, 1.0, 2.0]],
                                   "targets": [2]})
        self.error("POST", "/runs/%s/batches" % run,
                   {"step": 1, "predictions": [[0.0, 1.0]],
                    "targets": [1]}, 400, "invalid_field",
                   "this batch has 2 classes but earlier batches of this "
                   "step have 3 classes")
        self.assertEqual(self.stored(run, "dice", 1),
                         first["losses"]["dice"])
        # Another step may have another number of classes.
        self.post(run, 2, {"predictions": [[0.0, 1.0]], "targets": [1]})

        run = self.run_name()
        self.put(run, [{"type": "cross_entropy"}])
        self.post(run, 1, {"predictions": [[0.0, 1.0]], "targets": [1]})
        self.error("POST", "/runs/%s/batches" % run,
                   {"step": 1, "predictions": [[0.0, 1.0]],
                    "targets": [[0.5, 0.5]]}, 400, "invalid_field",
                   "class probabilities")


class EdgeTest(LossesTest):
    """The edge cases the README decides, over HTTP: valid JSON, stored,
    and a later batch with samples defines the step."""

    def replay(self, name, step=4):
        case = case_named(name)
        run = self.run_name()
        self.put(run, [self.term(case)])
        replies = [self.post(run, step, inputs_of(b))
                   for b in case["batches"]]
        return case, run, replies

    def test_every_target_ignored(self):
        case, run, replies = self.replay(
            "cross_entropy/ignore_index/accumulate/all-ignored-first")
        self.assertEqual(replies[0]["losses"]["cross_entropy"], "NaN")
        self.assertEqual(replies[0]["total"], "NaN")
        self.assertValue(self.stored(run, "cross_entropy", 4),
                         case["expected"], case["name"])
        # A step with nothing but ignored targets is stored as NaN.
        case, run, replies = self.replay(
            "cross_entropy/ignore_index/accumulate/only-ignored")
        self.assertEqual(self.stored(run, "cross_entropy", 4), "NaN")
        self.assertEqual(self.stored(run, "total", 4), "NaN")
        metrics = self.ok("GET", "/runs/%s/metrics" % run)["metrics"]
        self.assertEqual(sorted(m["name"] for m in metrics),
                         ["cross_entropy", "total"])

    def test_empty_batch(self):
        for t in ("cross_entropy", "dice", "triplet_margin",
                  "gaussian_nll", "kl_div"):
            with self.subTest(type=t):
                case, run, replies = self.replay(
                    "%s/empty-batch/accumulate" % t)
                self.assertEqual(replies[1]["losses"][t], "NaN")
                self.assertValue(self.stored(run, t, 4), case["expected"],
                                 case["name"])
        case, run, replies = self.replay(
            "cross_entropy/empty-batch/alone")
        self.assertEqual(self.stored(run, "cross_entropy", 4), "NaN")
        # An empty array next to one with values is an error.
        self.error("POST", "/runs/%s/batches" % run,
                   {"step": 5, "predictions": [], "targets": [1]}, 400,
                   "invalid_field", "predictions is empty but targets "
                   "has 1 value")

    def test_dice_zero_over_zero(self):
        for name in ("dice/multi/smooth=0/absent-class",
                     "dice/smooth=0/empty-sets/squared"):
            with self.subTest(case=name):
                case, run, replies = self.replay(name)
                self.assertTrue(math.isfinite(case["expected"]))
                self.assertValue(replies[0]["losses"]["dice"],
                                 case["expected"], name)


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1,
                  argv=[sys.argv[0]])
