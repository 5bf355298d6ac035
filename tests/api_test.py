#!/usr/bin/env python3
"""The HTTP API of lossmond, tested against the real daemon.

Every test talks over loopback HTTP to a lossmond that tests/daemon.py
starts on an ephemeral port with a fresh SQLite file.  Expected loss
values come from tests/reference.json (computed by PyTorch, see
tests/gen_reference.py) or, for a few cases that are exact in binary
floating point, from the formula in plain Python.  Everything else the
tests check is structure: status codes, error codes, field names,
counts and ordering.

Every reply is parsed with a JSON parser that rejects the bare NaN and
Infinity tokens, which are not JSON.

    LOSSMOND=src/lossmond TOP_SRCDIR=. python3 tests/api_test.py [-v]

LOSSMON_REFERENCE names another reference file (to see that the tests
notice wrong values).  Standard library only.  Exit status 0 when all
tests pass, 1 when one fails, 99 when there is no daemon to test.
"""
import fractions
import json
import math
import os
import random
import sqlite3
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon  # noqa: E402  (tests/daemon.py, next to this file)

REFERENCE = os.path.join(daemon.TOP_SRCDIR, "tests", "reference.json")
REL_TOL = 1e-9
STEP_MAX = 2 ** 53 - 1

from daemon import setUpModule, tearDownModule  # noqa: E402,F401


# ---------------------------------------------------------------------
# HTTP and JSON helpers

from daemon import Client, run_path  # noqa: E402


def q(name):
    return daemon.quote(name)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def to_json_value(v):
    """A float as the API writes it: non-finite ones as strings."""
    if isinstance(v, float) and not math.isfinite(v):
        if math.isnan(v):
            return "NaN"
        return "Infinity" if v > 0 else "-Infinity"
    return v


def huber(pred, target, delta=1.0):
    """PyTorch's huber_loss (mean), for inputs where it is exact."""
    total = 0.0
    for p, t in zip(pred, target):
        z = abs(p - t)
        total += 0.5 * z * z if z < delta else delta * (z - 0.5 * delta)
    return total / len(pred)


def from_json_value(v):
    """The API's value as a float ("NaN" and friends included)."""
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf",
                      "-Infinity": "-inf"}[v])
    return float(v)


# ---------------------------------------------------------------------
# The PyTorch reference (layout documented in tests/gen_reference.py)

_reference = None


def reference_cases():
    """The cases of tests/reference.json: dicts with name, type, params,
    batches (each with predictions, targets and expected, the loss of
    that batch alone) and expected (the loss of all batches).  Expected
    values are floats here; inputs stay as the JSON has them."""
    global _reference
    if _reference is None:
        with open(os.environ.get("LOSSMON_REFERENCE", REFERENCE)) as f:
            doc = json.load(f)
        _reference = [normalise_case(c) for c in doc["cases"]]
        if not _reference:
            raise AssertionError("tests/reference.json has no cases")
    return _reference


def normalise_case(c):
    case = dict(c)
    case["params"] = dict(c.get("params") or {})
    case["expected"] = from_json_value(c["expected"])
    case["batches"] = [dict(b, expected=from_json_value(b["expected"]))
                       for b in c["batches"]]
    for b in case["batches"]:
        # The API takes arrays only.  A 0-d input of a loss that
        # averages or sums over all elements has the loss of the same
        # value as a one-element array, so post it that way.
        if not isinstance(b["predictions"], list):
            assert case["type"] in ("mse", "mae", "huber", "bce", "dice")
            b["predictions"] = [b["predictions"]]
            b["targets"] = [b["targets"]]
    return case


def rows(case):
    """The number of rows of the first batch of a case."""
    return len(case["batches"][0]["predictions"])


def reference_case(name):
    for c in reference_cases():
        if c["name"] == name:
            return c
    raise AssertionError("tests/reference.json has no case %s" % name)


def one_batch_cases(min_rows):
    """The cases of one batch with at least min_rows rows, so that the
    rows can be cut into batches whose losses add up to the case's."""
    return [c for c in reference_cases()
            if len(c["batches"]) == 1 and rows(c) >= min_rows]


def uneven_chunks(n):
    """Sizes 1, 2, 3, ... that add up to n (the last one takes the
    remainder), so that the batches of a step differ in size."""
    sizes, size = [], 1
    while n > 0:
        take = min(size, n)
        if n - take < size + 1:
            take = n
        sizes.append(take)
        n -= take
        size += 1
    return sizes


def split_rows(a, sizes):
    out, at = [], 0
    for s in sizes:
        out.append(a[at:at + s])
        at += s
    return out


def cut(case, sizes):
    """The one batch of a case cut into batches of so many rows."""
    b = case["batches"][0]
    return list(zip(split_rows(b["predictions"], sizes),
                    split_rows(b["targets"], sizes)))


# ---------------------------------------------------------------------
# The base of every test case

class ApiTest(daemon.SharedDaemonTest):

    def ok(self, method, path, body=None, status=200):
        """A request that must succeed with this status and a JSON body."""
        r = self.call(method, path, body=body)
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.ctype.startswith("application/json"), r)
        return r.body

    def assertError(self, r, status, codes, field=None):
        """A 4xx/5xx reply with the documented error body; the message
        names field when given."""
        if isinstance(status, int):
            status = (status,)
        if isinstance(codes, str):
            codes = (codes,)
        self.assertIn(r.status, status, r)
        self.assertTrue(r.ctype.startswith("application/json"), r)
        self.assertIsInstance(r.body, dict, r)
        self.assertEqual(set(r.body), {"error"}, r)
        err = r.body["error"]
        self.assertIsInstance(err, dict, r)
        self.assertIn("code", err, r)
        self.assertIn("message", err, r)
        self.assertIn(err["code"], codes, r)
        self.assertIsInstance(err["message"], str, r)
        self.assertTrue(err["message"], r)
        if field is not None:
            self.assertIn(field, err["message"], r)

    def assertValue(self, got, want, msg=None):
        """got (an API value) equals want (a float) within REL_TOL."""
        if not math.isfinite(want):
            self.assertEqual(got, to_json_value(want), msg)
            return
        self.assertTrue(is_number(got), "%r is not a number: %s"
                        % (got, msg))
        # Relative only: reference values as small as 1e-200 occur.
        self.assertTrue(math.isclose(got, want, rel_tol=REL_TOL),
                        "%r != %r (reference): %s" % (got, want, msg))

    def assertAlive(self):
        r = self.call("GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"status": "ok"}, r)

    # The API, one helper per call.

    def put_run(self, run, body=None, status=(200, 201)):
        r = self.call("PUT", run_path(run), body=body if body is not None
                      else {})
        self.assertIn(r.status, status if isinstance(status, tuple)
                      else (status,), r)
        return r.body

    def post_batch(self, run, step, pred, target, split=None):
        body = {"step": step, "predictions": pred, "targets": target}
        if split is not None:
            body["split"] = split
        return self.ok("POST", run_path(run, "/batches"), body)

    def post_scalars(self, run, step, values, split=None):
        body = {"step": step, "values": values}
        if split is not None:
            body["split"] = split
        return self.ok("POST", run_path(run, "/scalars"), body)

    def history_reply(self, run, metric, **query):
        query = dict(query, metric=metric)
        path = run_path(run, "/history?" + urllib.parse.urlencode(query))
        return self.call("GET", path)

    def history(self, run, metric, **query):
        r = self.history_reply(run, metric, **query)
        self.assertEqual(r.status, 200, r)
        body = r.body
        self.assertEqual(body["run"], run, r)
        self.assertEqual(body["metric"], metric, r)
        self.assertEqual(body["split"], query.get("split", "train"), r)
        for p in body["points"]:
            self.assertEqual(len(p), 3, r)
            self.assertTrue(isinstance(p[0], int) and p[0] >= 0, r)
            self.assertTrue(is_number(p[1]) or p[1] in
                            ("NaN", "Infinity", "-Infinity"), r)
            self.assertTrue(is_number(p[2]) and p[2] > 1.0e9, r)
        steps = [p[0] for p in body["points"]]
        self.assertEqual(steps, sorted(set(steps)), r)
        return body["points"]

    def metrics(self, run):
        body = self.ok("GET", run_path(run, "/metrics"))
        self.assertEqual(body["run"], run)
        for m in body["metrics"]:
            for key in ("points", "first_step", "last_step"):
                self.assertIsInstance(m[key], int, m)
        return body["metrics"]


# ---------------------------------------------------------------------
# The downsampling of history, written out from its description in
# README.md, and the summaries of schema/005, from their definition.

BLOCK_LEVELS = 2     # blocks of 64 and 4096 steps
HIST_PAIRS = [(0, STEP_MAX)]


def is_finite(v):
    return is_number(v) and math.isfinite(v)


def bucket_picks(points):
    """The points a bucket keeps: first, last, smallest and largest
    finite (the earlier on a tie), first non-finite; in step order."""
    picks = [points[0], points[-1]]
    fin = [p for p in points if is_finite(p[1])]
    if fin:
        picks.append(min(fin, key=lambda p: (p[1], p[0])))
        picks.append(min(fin, key=lambda p: (-p[1], p[0])))
    bad = [p for p in points if not is_finite(p[1])]
    if bad:
        picks.append(bad[0])
    by_step = {p[0]: p for p in picks}
    return [by_step[k] for k in sorted(by_step)]


def model_history(points, first, last, max_points):
    """The answer of history?max_points= for the full export points."""
    pts = [p for p in points if first <= p[0] <= last]
    if len(pts) <= max_points:
        return pts
    want = max_points // 5
    for level in range(BLOCK_LEVELS, -1, -1):
        groups = []
        for p in pts:
            key = p[0] >> (6 * level)
            if groups and groups[-1][0] == key:
                groups[-1][1].append(p)
            else:
                groups.append((key, [p]))
        if len(groups) >= want:
            break
    nb = min(want, len(groups))
    out = []
    for b in range(nb):
        part = groups[b * len(groups) // nb:(b + 1) * len(groups) // nb]
        out += bucket_picks([p for _, g in part for p in g])
    return out


def model_blocks(conn):
    """point_blocks as it should be, recomputed from points."""
    by_metric = {}
    for m, step, value, t in conn.execute(
            "SELECT metric_id, step, value, time FROM points"
            " ORDER BY metric_id, step"):
        by_metric.setdefault(m, []).append(
            (step, math.nan if value is None else value, t))
    want = {}
    for m, pts in by_metric.items():
        for level in range(1, BLOCK_LEVELS + 1):
            blocks = {}
            for p in pts:
                blocks.setdefault(p[0] >> (6 * level), []).append(p)
            for b, bp in blocks.items():
                fin = [p for p in bp if math.isfinite(p[1])]
                bad = [p for p in bp if not math.isfinite(p[1])]
                none = (None, None, None)
                row = [len(bp), bp[0], bp[-1],
                       min(fin, key=lambda p: (p[1], p[0])) if fin
                       else none,
                       min(fin, key=lambda p: (-p[1], p[0])) if fin
                       else none,
                       bad[0] if bad else none]
                flat = [row[0]]
                for p in row[1:]:
                    flat += [None if isinstance(x, float) and math.isnan(x)
                             else x for x in p]
                want[(m, level, b)] = tuple(flat)
    return want


def stored_blocks(conn):
    return {tuple(r[:3]): tuple(r[3:]) for r in conn.execute(
        "SELECT * FROM point_blocks")}


def read_only(path):
    return sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(path),
                           uri=True)

# ---------------------------------------------------------------------
# Runs: creation, listing, deletion and the validation of PUT

class RunTest(ApiTest):

    def check_run_object(self, run, name):
        for key in ("name", "losses", "params", "tags", "created",
                    "last_step", "last_time"):
            self.assertIn(key, run)
        self.assertEqual(run["name"], name)
        self.assertIsInstance(run["losses"], list)
        self.assertIsInstance(run["params"], dict)
        self.assertIsInstance(run["tags"], dict)
        self.assertTrue(is_number(run["created"]))
        for term in run["losses"]:
            for key in ("name", "type", "weight"):
                self.assertIn(key, term)

    def test_put_created_then_same_then_conflict(self):
        name = self.run_name()
        spec = {"losses": [{"type": "huber", "weight": 0.5, "delta": 2.0},
                           {"type": "mae", "name": "l1"}],
                "params": {"lr": 0.01, "model": "mlp"},
                "tags": {"team": "x"}}
        t0 = time.time()
        r = self.call("PUT", run_path(name), body=spec)
        t1 = time.time()
        self.assertEqual(r.status, 201, r)
        run = r.body
        self.check_run_object(run, name)
        self.assertEqual(run["params"], spec["params"])
        self.assertEqual(run["tags"], spec["tags"])
        self.assertIsNone(run["last_step"])
        self.assertIsNone(run["last_time"])
        # The clock of the daemon is the clock of this machine.
        self.assertTrue(t0 - 60 <= run["created"] <= t1 + 60, run)
        terms = run["losses"]
        self.assertEqual([t["name"] for t in terms], ["huber", "l1"])
        self.assertEqual([t["type"] for t in terms], ["huber", "mae"])
        self.assertEqual([t["weight"] for t in terms], [0.5, 1])
        self.assertEqual(terms[0]["delta"], 2.0)

        # The same PUT again, and the same losses spelled out in full.
        again = self.call("PUT", run_path(name), body=spec)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.body, run)
        full = {"losses": [dict(t) for t in terms]}
        self.assertEqual(self.call("PUT", run_path(name), full).status, 200)

        for other in ([{"type": "huber", "weight": 0.5, "delta": 3.0},
                       {"type": "mae", "name": "l1"}],
                      [{"type": "huber", "weight": 0.5, "delta": 2.0}],
                      [{"type": "huber", "weight": 1.0, "delta": 2.0},
                       {"type": "mae", "name": "l1"}],
                      [{"type": "huber", "weight": 0.5, "delta": 2.0},
                       {"type": "mae", "name": "l2"}]):
            with self.subTest(losses=other):
                r = self.call("PUT", run_path(name), {"losses": other})
                self.assertError(r, 409, "conflict")
        # A conflict changes nothing.
        self.assertEqual(self.ok("GET", run_path(name)), run)

    def test_put_without_body_fields_gets_default_losses(self):
        name = self.run_name()
        run = self.put_run(name, {}, status=201)
        self.assertEqual(run["losses"],
                         [{"name": "mse", "type": "mse", "weight": 1}])
        self.assertEqual(run["params"], {})
        self.assertEqual(run["tags"], {})

    def test_term_name_defaults_to_type_and_params_to_defaults(self):
        # The defaults are those of the API table in the standards.
        want = {"mse": {}, "mae": {}, "huber": {"delta": 1},
                "bce": {}, "cross_entropy": {},
                "focal": {"alpha": 1, "gamma": 2},
                "contrastive": {"margin": 1}, "dice": {"smooth": 1}}
        name = self.run_name()
        run = self.put_run(name, {"losses": [{"type": t} for t in want]},
                           status=201)
        self.assertEqual(len(run["losses"]), len(want))
        for term, (ltype, params) in zip(run["losses"], want.items()):
            with self.subTest(type=ltype):
                self.assertEqual(term["name"], ltype)
                self.assertEqual(term["type"], ltype)
                self.assertEqual(term["weight"], 1)
                extra = {k: v for k, v in term.items()
                         if k not in ("name", "type", "weight")}
                self.assertEqual(extra, params)

    def test_get_run_and_last_step(self):
        name = self.run_name()
        created = self.put_run(name, {}, status=201)
        self.assertEqual(self.ok("GET", run_path(name)), created)
        for step in (0, 1, 2):
            self.post_batch(name, step, [1.0], [0.0])
        run = self.ok("GET", run_path(name))
        self.assertEqual(run["last_step"], 2)
        self.assertTrue(is_number(run["last_time"]))
        self.assertGreaterEqual(run["last_time"], created["created"] - 1)
        self.assertEqual(run["created"], created["created"])

    def test_list_runs_ordered_by_name(self):
        names = ["b-run", "a.run", "c_run", "a-run", "B9", "a_run", "0"]
        with daemon.Daemon() as d:
            api = Client(d)
            r = api.request("GET", "/api/v1/runs")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, {"runs": []})
            for n in names:
                self.assertEqual(api.request("PUT", run_path(n),
                                             body={}).status, 201)
            r = api.request("GET", "/api/v1/runs")
            self.assertEqual(r.status, 200, r)
            got = [run["name"] for run in r.body["runs"]]
            self.assertEqual(got, sorted(names, key=lambda s: s.encode()))
            one = api.request("GET", run_path("c_run")).body
            self.assertIn(one, r.body["runs"])

    def test_list_is_the_runs_one_by_one(self):
        """The run list is, byte for byte, the run of each name as GET
        gives it, in name order: runs never posted to, with scalars
        only, with several splits, with NaN and infinite totals or no
        finite one, and params and tags whose numbers and strings are
        hard to print."""
        params = {"lr": 0.1 + 0.7, "big": 12345678901234567890,
                  "tiny": 5e-324, "zero": -0.0, "huge": 1e300,
                  "nested": {"a": [1, 2.5, "q\"b\\n\n\t\u0001\u00e9"
                                   "\u2028\U0001f600"], "t": True,
                             "n": None, "e": {}}}
        names = []
        with daemon.Daemon() as d:
            api = Client(d)

            def ok(method, path, body):
                r = api.request(method, path, body=body)
                self.assertIn(r.status, (200, 201), r)

            for i in range(60):
                name = ("\u00e9-%d", "Z%d", "a.%d", "a-%d")[i % 4] % i
                names.append(name)
                ok("PUT", run_path(name), {
                    "losses": [{"type": "mse"},
                               {"type": "mae", "weight": 0.3}],
                    "params": dict(params, i=i),
                    "tags": {"model": "mlp-%d" % i, "note": "a\tb"}})
                kind = i % 6
                if kind == 1:
                    ok("POST", run_path(name, "/scalars"),
                       {"step": i, "values": {"lr": i / 7}})
                for step, x, split in (
                        [] if kind < 2 else
                        [(0, 1 + i / 3, None), (1, "NaN", None)]
                        if kind == 2 else
                        [(0, 2, "train"), (3, "Infinity", "val"),
                         (4, "-Infinity", "z/\u00e9"), (2, i, "val")]
                        if kind == 3 else
                        [(0, "NaN", None), (7, "Infinity", None)]
                        if kind == 4 else
                        [(0, 3, None), (5000, 1 / (i + 3), None),
                         (9000, 2, None)]):
                    body = {"step": step, "predictions": [x, 1],
                            "targets": [0, 1]}
                    if split is not None:
                        body["split"] = split
                    ok("POST", run_path(name, "/batches"), body)
            r = api.request("GET", "/api/v1/runs")
            self.assertEqual(r.status, 200, r)
            names.sort(key=lambda n: n.encode())
            self.assertEqual([x["name"] for x in r.body["runs"]], names)
            one = []
            for name in names:
                g = api.request("GET", run_path(name))
                self.assertEqual(g.status, 200, g)
                one.append(g.raw)
            self.assertEqual(r.raw, b'{"runs":[' + b",".join(one) + b"]}")
            splits = [sorted(x["totals"]) for x in r.body["runs"]]
            self.assertIn(["train", "val", "z/\u00e9"], splits)
            self.assertIn([], splits)
            lasts = [t["last"] for x in r.body["runs"]
                     for t in x["totals"].values()]
            self.assertIn("NaN", lasts)
            self.assertIn("Infinity", lasts)

    def test_delete(self):
        name = self.run_name()
        self.put_run(name, {"losses": [{"type": "mae"}]}, status=201)
        self.post_batch(name, 0, [1.0, 2.0], [0.0, 0.0])
        self.post_scalars(name, 0, {"lr": 0.5})
        body = self.ok("DELETE", run_path(name))
        self.assertEqual(body, {"run": name, "deleted": True})
        for method, sub in (("GET", ""), ("GET", "/metrics"),
                            ("GET", "/history?metric=mae"),
                            ("DELETE", "")):
            with self.subTest(method=method, sub=sub):
                r = self.call(method, run_path(name, sub))
                self.assertError(r, 404, "not_found")
        runs = self.ok("GET", "/api/v1/runs")["runs"]
        self.assertNotIn(name, [x["name"] for x in runs])
        # The name is free again and nothing of the old run remains.
        run = self.put_run(name, {}, status=201)
        self.assertEqual(run["losses"][0]["type"], "mse")
        self.assertIsNone(run["last_step"])
        self.assertEqual(self.metrics(name), [])

    def test_posts_follow_their_run_through_deletes(self):
        """The daemon keeps the runs posts go to: a post after a run was
        deleted and made again, by the API or by another process with
        the database open, counts with the new run's losses."""
        name = self.run_name()
        self.put_run(name, {"losses": [{"type": "mae"}]}, status=201)
        for step in range(3):
            body = self.post_batch(name, step, [1.0, 3.0], [0.0, 0.0])
            self.assertEqual(body["losses"], {"mae": 2})
        self.ok("DELETE", run_path(name))
        self.put_run(name, {"losses": [{"type": "mse"}]}, status=201)
        body = self.post_batch(name, 0, [1.0, 3.0], [0.0, 0.0])
        self.assertEqual(body["losses"], {"mse": 5})
        self.assertEqual([p[:2] for p in self.history(name, "mse")],
                         [[0, 5]])

        # Replaced behind the daemon's back: the post reads the run
        # again and counts with its losses.
        other = self.run_name()
        self.put_run(other, {"losses": [{"type": "mae"}]}, status=201)
        conn = sqlite3.connect(self.d.db, timeout=30)
        with conn:
            losses = conn.execute("SELECT losses FROM runs WHERE name = ?",
                                  (other,)).fetchone()[0]
            conn.execute("DELETE FROM runs WHERE name = ?", (name,))
            conn.execute("INSERT INTO runs (name, losses, created)"
                         " VALUES (?, ?, 1e9)", (name, losses))
        conn.close()
        body = self.post_batch(name, 2, [1.0, 3.0], [0.0, 0.0])
        self.assertEqual(body["losses"], {"mae": 2})
        self.assertEqual([p[:2] for p in self.history(name, "mae")],
                         [[2, 2]])
        # Deleted behind its back: the post makes the run anew, with
        # the default losses, as it would for any new name.
        conn = sqlite3.connect(self.d.db, timeout=30)
        with conn:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("DELETE FROM runs WHERE name = ?", (name,))
        conn.close()
        body = self.post_scalars(name, 3, {"lr": 0.5})
        self.assertEqual(body["values"], {"lr": 0.5})
        self.assertEqual(self.ok("GET", run_path(name))["losses"][0]
                         ["type"], "mse")

    def test_delete_and_get_missing_run(self):
        for method in ("GET", "DELETE"):
            r = self.call(method, run_path("no-such-run"))
            self.assertError(r, 404, "not_found")

    def test_bad_losses(self):
        cases = [
            ("duplicate name", [{"type": "mse"}, {"type": "mse"}], "losses"),
            ("duplicate explicit name",
             [{"type": "mse", "name": "a"}, {"type": "mae", "name": "a"}],
             "losses"),
            ("unknown type", [{"type": "mse"}, {"type": "hinge"}],
             "losses[1].type"),
            ("type not a string", [{"type": 3}], "losses[0].type"),
            ("missing type", [{"weight": 1}], "losses[0].type"),
            ("huber delta 0", [{"type": "huber", "delta": 0}], "delta"),
            ("huber delta negative", [{"type": "huber", "delta": -1.5}],
             "delta"),
            ("huber delta a string", [{"type": "huber", "delta": "big"}],
             "delta"),
            ("unknown parameter", [{"type": "mse", "delta": 1.0}], "delta"),
            ("unknown field", [{"type": "huber", "colour": 1}], "colour"),
            ("weight a string", [{"type": "mse", "weight": "1"}], "weight"),
            ("bad term name", [{"type": "mse", "name": "a\u0001b"}], "name"),
            ("term name total", [{"type": "mse", "name": "total"}], "total"),
            ("term not an object", ["mse"], "losses[0]"),
            ("losses not an array", {"type": "mse"}, "losses"),
        ]
        for what, losses, field in cases:
            with self.subTest(what):
                name = self.run_name()
                r = self.call("PUT", run_path(name), {"losses": losses})
                code = ("missing_field" if what.startswith("missing")
                        else "invalid_field")
                self.assertError(r, 400, code, field)
                self.assertError(self.call("GET", run_path(name)), 404,
                                 "not_found")
        self.assertAlive()

    def test_params_and_tags_must_be_objects(self):
        for field in ("params", "tags"):
            for value in ([1, 2], "x", 3, None, True):
                with self.subTest(field=field, value=value):
                    r = self.call("PUT", run_path(self.run_name()),
                                  {field: value})
                    self.assertError(r, 400, "invalid_field", field)

    def test_unknown_body_field(self):
        r = self.call("PUT", run_path(self.run_name()),
                      {"losses": [{"type": "mse"}], "colour": "red"})
        self.assertError(r, 400, "invalid_field", "colour")

    def test_malformed_body(self):
        for raw in (b"{", b"{\"losses\": [}", b"nul", b"\xff\xfe"):
            with self.subTest(raw=raw):
                r = self.call("PUT", run_path(self.run_name()), raw=raw)
                self.assertError(r, 400, "bad_json")
        r = self.call("PUT", run_path(self.run_name()), raw=b"[1]")
        self.assertError(r, 400, ("bad_json", "invalid_field"))

    def test_bad_run_names(self):
        cases = [("129 bytes", q("r" * 129)),
                 ("130 bytes of UTF-8", q("\u00e9" * 65)),
                 ("control character", "a%01b"),
                 ("tab", "a%09b"),
                 ("DEL", "a%7Fb"),
                 ("invalid UTF-8", "a%FFb"),
                 ("cut UTF-8", "a%C3"),
                 ("overlong UTF-8", "a%C0%AF"),
                 ("surrogate", "a%ED%A0%80"),
                 ("NUL", "a%00b"),
                 ("bad escape", "a%zzb")]
        for what, seg in cases:
            with self.subTest(what):
                r = self.call("PUT", "/api/v1/runs/" + seg, {})
                self.assertError(r, 400, "invalid_field")
        # An empty name addresses the collection, where PUT is no method.
        r = self.call("PUT", "/api/v1/runs/", {})
        self.assertError(r, 405, "method_not_allowed")
        # The longest name and names of any printable characters are fine.
        for name in ("r" * 128, "\u00e9" * 64, "Az09._-"):
            with self.subTest(name=name):
                run = self.put_run(name, {}, status=201)
                self.assertEqual(run["name"], name)
        names = [x["name"] for x in self.ok("GET", "/api/v1/runs")["runs"]]
        self.assertNotIn("a\x01b", names)
        self.assertNotIn("r" * 129, names)

    def test_refused_post_leaves_no_run(self):
        """A batch or scalars post refused for its content does not
        create the run it names, so its losses can still be chosen."""
        run = self.run_name()
        r = self.call("POST", run_path(run, "/batches"),
                      {"step": 1, "predictions": [[1]]})
        self.assertError(r, 400, "missing_field", "targets")
        r = self.call("POST", run_path(run, "/scalars"),
                      {"step": 1, "values": {"lr": "fast"}})
        self.assertError(r, 400, "invalid_field", "lr")
        self.assertError(self.call("GET", run_path(run)), 404, "not_found")
        self.put_run(run, {"losses": [{"type": "mae"}]}, status=201)

    def test_put_without_losses_keeps_the_run(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mae"}],
                           "tags": {"a": "b"}}, status=201)
        got = self.put_run(run, {"tags": {"x": "y"}}, status=200)
        self.assertEqual(got["losses"][0]["type"], "mae")
        self.assertEqual(got["tags"], {"a": "b"})

    def test_request_ids_are_per_endpoint_and_content(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mse"}]}, status=201)
        body = {"id": "r-1", "step": 1, "predictions": [3], "targets": [0]}
        first = self.ok("POST", run_path(run, "/batches"), body)
        self.assertEqual(self.ok("POST", run_path(run, "/batches"), body),
                         first)
        other = dict(body, predictions=[5])
        r = self.call("POST", run_path(run, "/batches"), other)
        self.assertError(r, 409, "conflict", "r-1")
        got = self.ok("POST", run_path(run, "/scalars"),
                      {"id": "r-1", "step": 1, "values": {"lr": 0.5}})
        self.assertEqual(got["values"], {"lr": 0.5})
        self.assertEqual([p[:2] for p in self.history(run, "mse")],
                         [[1, 9]])
        self.assertEqual([p[:2] for p in self.history(run, "lr")],
                         [[1, 0.5]])

    def test_names_round_trip(self):
        """Names with slashes, spaces, percent signs and non-Latin
        letters come back byte for byte from every endpoint; train/loss
        and train_loss are two metrics."""
        run = "a b/c%20d %41 \u5b66\u7fd2-\u00fc"
        self.put_run(run, {"losses": [{"type": "mse", "name": "train/loss"},
                                      {"type": "mae",
                                       "name": "train_loss"}]},
                     status=201)
        split = "val set/\u00fc%"
        body = self.post_batch(run, 3, [1, 2], [0, 0], split=split)
        self.assertEqual(body["run"], run)
        self.assertEqual(body["split"], split)
        self.assertEqual(body["losses"], {"train/loss": 2.5,
                                          "train_loss": 1.5})
        self.post_scalars(run, 3, {"lr/group 0": 0.5}, split=split)
        self.assertEqual(self.ok("GET", run_path(run))["name"], run)
        names = [x["name"] for x in self.ok("GET", "/api/v1/runs")["runs"]]
        self.assertIn(run, names)
        got = {(m["name"], m["split"]) for m in self.metrics(run)}
        self.assertEqual(got, {("train/loss", split), ("train_loss", split),
                               ("total", split), ("lr/group 0", split)})
        self.assertEqual(self.history(run, "train/loss", split=split)[0][1],
                         2.5)
        self.assertEqual(self.history(run, "train_loss", split=split)[0][1],
                         1.5)
        self.assertEqual(self.history(run, "lr/group 0", split=split)[0][1],
                         0.5)
        self.ok("DELETE", run_path(run))
        self.assertError(self.call("GET", run_path(run)), 404, "not_found")


# ---------------------------------------------------------------------
# Batches: loss values against PyTorch, accumulation, totals, splits

class BatchTest(ApiTest):

    def post_case(self, run, step, batches, name):
        """Posts (predictions, targets) pairs at a step; returns the
        replies."""
        replies = []
        for i, (pred, target) in enumerate(batches):
            r = self.call("POST", run_path(run, "/batches"),
                          {"step": step, "predictions": pred,
                           "targets": target})
            self.assertEqual(r.status, 200, "%s batch %d: %r"
                             % (name, i, r))
            replies.append(r.body)
        return replies

    def test_best_total_is_the_smallest_finite(self):
        """A run's best total is its smallest finite value, the earlier
        step on a tie, across blocks of summaries; NaN and infinities
        never are; a step whose value grows by accumulation gives its
        place up."""
        run = self.run_name()
        # mse of one prediction against 0: the total is its square.
        for step, x in ((0, 2), (1, "NaN"), (2, "Infinity"), (3, 1),
                        (4, -1), (5, 3), (9000, "-Infinity")):
            self.post_batch(run, step, [x], [0])

        def totals(name):
            return self.ok("GET", run_path(name))["totals"]["train"]

        t = totals(run)
        self.assertEqual((t["last_step"], t["best_step"], t["best"]),
                         (9000, 3, 1.0), t)
        self.assertEqual(t["last"], "Infinity")
        # Step 3 now holds the mean of 1 and 9: step 4 is the best.
        self.post_batch(run, 3, [3], [0])
        t = totals(run)
        self.assertEqual((t["best_step"], t["best"]), (4, 1.0), t)
        # A smaller value in another block of 4,096 steps.
        self.post_batch(run, 5000, [0.5], [0])
        t = totals(run)
        self.assertEqual((t["best_step"], t["best"]), (5000, 0.25), t)

        none = self.run_name("-none")
        self.post_batch(none, 0, ["NaN"], [0])
        self.post_batch(none, 1, ["Infinity"], [0])
        t = totals(none)
        self.assertEqual((t["best_step"], t["best"]), (None, None), t)
        self.assertEqual(self.ok("GET", "/api/v1/runs")["runs"][0]
                         ["totals"].keys(), {"train"})

    def test_reference_cases(self):
        """Every case of reference.json: each batch's reply is torch's
        loss of that batch, the stored value of the step torch's loss
        of all the batches."""
        for i, case in enumerate(reference_cases()):
            with self.subTest(case=case["name"]):
                ltype = case["type"]
                run = self.run_name("-%d" % i)
                term = dict(case["params"], type=ltype)
                self.put_run(run, {"losses": [term]}, status=201)
                batches = [(b["predictions"], b["targets"])
                           for b in case["batches"]]
                replies = self.post_case(run, 7, batches, case["name"])
                for j, (body, b) in enumerate(zip(replies,
                                                  case["batches"])):
                    what = "%s batch %d" % (case["name"], j)
                    self.assertEqual(body["run"], run)
                    self.assertEqual(body["step"], 7)
                    self.assertEqual(body["split"], "train")
                    self.assertEqual(list(body["losses"]), [ltype])
                    self.assertValue(body["losses"][ltype], b["expected"],
                                     what)
                    self.assertValue(body["total"], b["expected"], what)
                for metric in (ltype, "total"):
                    pts = self.history(run, metric)
                    self.assertEqual([p[0] for p in pts], [7])
                    self.assertValue(pts[0][1], case["expected"],
                                     "%s, %s of the step"
                                     % (case["name"], metric))
                    if len(replies) == 1:
                        # One batch: the stored value is the reply's,
                        # to the last bit.
                        key = "total" if metric == "total" else "losses"
                        got = replies[0][key]
                        if key == "losses":
                            got = got[ltype]
                        self.assertEqual(got, pts[0][1], "%s: %s of the "
                                         "reply and of the history"
                                         % (case["name"], metric))

    def test_reference_cases_cut_into_uneven_batches(self):
        """The one-batch cases with several rows, cut into batches of
        uneven size posted at one step: the stored value is the loss of
        all their rows."""
        cases = one_batch_cases(min_rows=3)
        self.assertGreater(len(cases), 20)
        for i, case in enumerate(cases):
            with self.subTest(case=case["name"]):
                run = self.run_name("-%d" % i)
                term = dict(case["params"], type=case["type"])
                self.put_run(run, {"losses": [term]}, status=201)
                sizes = uneven_chunks(rows(case))
                self.post_case(run, 3, cut(case, sizes), case["name"])
                for metric in (case["type"], "total"):
                    pts = self.history(run, metric)
                    self.assertEqual([p[0] for p in pts], [3])
                    self.assertValue(pts[0][1], case["expected"],
                                     "%s in batches of %s"
                                     % (case["name"], sizes))

    def test_exact_values(self):
        # Small dyadic numbers: every formula below is exact in binary.
        pred, target = [1.0, 2.0, -3.0, 0.5], [0.0, 0.0, 0.0, 0.0]
        d = [p - t for p, t in zip(pred, target)]
        mse = sum(x * x for x in d) / len(d)
        mae = sum(abs(x) for x in d) / len(d)
        hub = huber(pred, target)
        run = self.run_name()
        self.put_run(run, {"losses": [
            {"type": "mse", "weight": 0.25},
            {"type": "mae", "weight": 2},
            {"type": "huber", "weight": 0.5}]}, status=201)
        body = self.post_batch(run, 0, pred, target)
        self.assertEqual(body["losses"],
                         {"mse": mse, "mae": mae, "huber": hub})
        self.assertEqual(body["total"], 0.25 * mse + 2 * mae + 0.5 * hub)
        mse2 = self.post_batch(self.run_name(), 0, [1, 2], [0, 0])
        self.assertEqual(mse2["losses"], {"mse": 2.5})

    def check_weighted(self, group, weights):
        """A run whose terms are the cases of group (same inputs) with
        these weights: each term and the total, per batch and for the
        step."""
        terms, cases = [], {}
        for k, (case, w) in enumerate(zip(group, weights)):
            name = "t%d/%s" % (k, case["type"])
            terms.append(dict(case["params"], type=case["type"],
                              name=name, weight=w))
            cases[name] = case
        run = self.run_name()
        self.put_run(run, {"losses": terms}, status=201)
        batches = [(b["predictions"], b["targets"])
                   for b in group[0]["batches"]]
        replies = self.post_case(run, 1, batches, group[0]["name"])
        for j, body in enumerate(replies):
            self.assertEqual(set(body["losses"]), set(cases))
            want = 0.0
            for t in terms:
                v = cases[t["name"]]["batches"][j]["expected"]
                self.assertValue(body["losses"][t["name"]], v, t["name"])
                want += t["weight"] * v
            self.assertValue(body["total"], want, "total")
        want = 0.0
        for t in terms:
            v = cases[t["name"]]["expected"]
            self.assertValue(self.history(run, t["name"])[0][1], v,
                             t["name"])
            want += t["weight"] * v
        self.assertValue(self.history(run, "total")[0][1], want, "total")

    def test_total_is_weighted_sum_of_types(self):
        """Reference cases of different types on the same inputs (the
        fixed inputs of mse, mae and huber) in one run."""
        groups = {}
        for c in reference_cases():
            key = json.dumps([[b["predictions"], b["targets"]]
                              for b in c["batches"]])
            groups.setdefault(key, []).append(c)
        groups = [g for g in groups.values()
                  if len({c["type"] for c in g}) > 1]
        self.assertGreater(len(groups), 2)
        for g in groups:
            with self.subTest(cases=[c["name"] for c in g]):
                self.check_weighted(g, [0.25, 2.0, 0.5, 3.0][:len(g)])

    def test_total_is_weighted_sum_of_terms(self):
        """Each type twice in one run, with different weights."""
        seen = set()
        for case in one_batch_cases(min_rows=3) + [
                c for c in reference_cases() if len(c["batches"]) > 1]:
            if (case["type"], len(case["batches"]) > 1) in seen:
                continue
            seen.add((case["type"], len(case["batches"]) > 1))
            with self.subTest(case=case["name"]):
                self.check_weighted([case, case, case], [0.25, 2.0, 1.5])
        self.assertEqual(len(seen), 16)

    def test_run_first_seen_on_post_gets_default(self):
        run = self.run_name()
        body = self.post_batch(run, 0, [1, 2], [0, 0])
        self.assertEqual(body["losses"], {"mse": 2.5})
        self.assertEqual(body["total"], 2.5)
        got = self.ok("GET", run_path(run))
        self.assertEqual(got["losses"],
                         [{"name": "mse", "type": "mse", "weight": 1}])
        self.assertEqual(got["last_step"], 0)
        # A PUT of the default afterwards is the same run.
        self.assertEqual(self.call("PUT", run_path(run), {}).status, 200)

    def test_split_defaults_to_train_and_splits_are_independent(self):
        run = self.run_name()
        body = self.post_batch(run, 1, [1, 2], [0, 0])
        self.assertEqual(body["split"], "train")
        body = self.post_batch(run, 1, [3], [0], split="val")
        self.assertEqual(body["split"], "val")
        self.assertEqual(body["losses"], {"mse": 9.0})
        self.post_batch(run, 1, [1], [0], split="eval/held-out")
        self.assertEqual([p[:2] for p in self.history(run, "mse")],
                         [[1, 2.5]])
        self.assertEqual([p[:2] for p in self.history(run, "mse",
                                                      split="train")],
                         [[1, 2.5]])
        self.assertEqual([p[:2] for p in self.history(run, "mse",
                                                      split="val")],
                         [[1, 9.0]])
        self.assertEqual([p[:2] for p in self.history(
            run, "total", split="eval/held-out")], [[1, 1.0]])
        splits = {(m["name"], m["split"]) for m in self.metrics(run)}
        self.assertEqual(splits, {(n, s) for n in ("mse", "total")
                                  for s in ("train", "val",
                                            "eval/held-out")})

    def test_steps_are_independent(self):
        run = self.run_name()
        self.post_batch(run, 0, [1, 2], [0, 0])
        self.post_batch(run, 1, [4], [0])
        self.post_batch(run, 0, [3], [0])
        self.assertEqual([p[:2] for p in self.history(run, "mse")],
                         [[0, (1 + 4 + 9) / 3], [1, 16.0]])

    def test_largest_step(self):
        run = self.run_name()
        for step in (STEP_MAX, STEP_MAX - 1):
            body = self.post_batch(run, step, [1, 2], [0, 0])
            self.assertIsInstance(body["step"], int, body)
            self.assertEqual(body["step"], step)
            body = self.post_scalars(run, step, {"lr": 0.5})
            self.assertIsInstance(body["step"], int, body)
            self.assertEqual(body["step"], step)
        self.assertEqual([p[:2] for p in self.history(run, "mse")],
                         [[STEP_MAX - 1, 2.5], [STEP_MAX, 2.5]])
        got = self.ok("GET", run_path(run))
        self.assertIsInstance(got["last_step"], int, got)
        self.assertEqual(got["last_step"], STEP_MAX)
        for m in self.metrics(run):
            self.assertEqual((m["first_step"], m["last_step"]),
                             (STEP_MAX - 1, STEP_MAX), m)

    def test_concurrent_batches_at_one_step(self):
        """Batches of one step from several clients at once: none is
        lost, the value is the loss of all of them."""
        case = reference_case("mse/2d")
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mse"}]}, status=201)
        batches = cut(case, [1] * rows(case))
        replies = []

        def worker(part):
            api = Client(self.d)
            for p, t in part:
                replies.append(api.request(
                    "POST", run_path(run, "/batches"),
                    {"step": 4, "predictions": p, "targets": t}))

        threads = [threading.Thread(target=worker, args=(batches[k::4],))
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(replies), len(batches))
        for r in replies:
            self.assertEqual(r.status, 200, r)
        self.assertValue(self.history(run, "mse")[0][1], case["expected"])


    def test_concurrent_creation(self):
        """Clients that create one run at once: one 201, the others
        200; a run first seen in concurrent batches is made once and
        keeps every batch."""
        run = self.run_name()
        statuses = []

        def put():
            r = Client(self.d).request("PUT", run_path(run), {
                "losses": [{"type": "mae", "weight": 0.5}]})
            statuses.append(r.status)

        threads = [threading.Thread(target=put) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(statuses), [200] * 7 + [201])

        run = self.run_name()
        replies = []

        def post(k):
            replies.append(Client(self.d).request(
                "POST", run_path(run, "/batches"),
                {"step": 0, "predictions": [float(k)], "targets": [0]}))

        threads = [threading.Thread(target=post, args=(k,))
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in replies:
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ok("GET", run_path(run))["losses"],
                         [{"name": "mse", "type": "mse", "weight": 1}])
        # The squares of 0..7 sum to 140.
        self.assertEqual([p[:2] for p in self.history(run, "mse")],
                         [[0, 140 / 8]])


# ---------------------------------------------------------------------
# Validation of batches and scalars

class ValidationTest(ApiTest):

    def bad_batches(self):
        """(what, body or raw bytes, status, codes, field)."""
        good = {"step": 1, "predictions": [1, 2], "targets": [0, 0]}

        def but(**kw):
            b = dict(good)
            for k, v in kw.items():
                if v is None:
                    del b[k]
                else:
                    b[k] = v
            return b

        return [
            ("malformed JSON", b'{"step": 1, "predictions": [1,',
             400, "bad_json", None),
            ("trailing garbage", b'{"step": 1, "predictions": [1], '
             b'"targets": [0]} x', 400, "bad_json", None),
            ("empty body", b"", 400, ("bad_json", "missing_field"), None),
            ("not an object", b"[1, 2]", 400,
             ("bad_json", "invalid_field"), None),
            ("missing predictions", but(predictions=None), 400,
             "missing_field", "predictions"),
            ("missing targets", but(targets=None), 400,
             "missing_field", "targets"),
            ("missing step", but(step=None), 400, "missing_field", "step"),
            ("step negative", but(step=-1), 400, "invalid_field", "step"),
            ("step fractional", but(step=1.5), 400, "invalid_field",
             "step"),
            ("step a string", but(step="1"), 400, "invalid_field", "step"),
            ("step null", b'{"step": null, "predictions": [1], '
             b'"targets": [0]}', 400, ("invalid_field", "missing_field"),
             "step"),
            ("step 2^53", but(step=2 ** 53), 400, "invalid_field", "step"),
            ("step 1e300", b'{"step": 1e300, "predictions": [1], '
             b'"targets": [0]}', 400, "invalid_field", "step"),
            ("split empty", but(split=""), 400, "invalid_field", "split"),
            ("split with a tab", but(split="a\tb"), 400, "invalid_field",
             "split"),
            ("split not a string", but(split=3), 400, "invalid_field",
             "split"),
            ("unknown field", but(weights=[1, 1]), 400, "invalid_field",
             "weights"),
            # Parsers differ on which of two equal keys wins.
            ("duplicate field", b'{"step": 1, "step": 2, '
             b'"predictions": [1], "targets": [0]}', 400,
             "invalid_field", "step"),
            ("predictions not an array", but(predictions={"a": 1}), 400,
             "invalid_field", "predictions"),
            ("ragged predictions", but(predictions=[[1, 2], [3]],
                                       targets=[[0, 0], [0]]),
             400, "invalid_field", "predictions"),
            ("ragged targets", but(predictions=[[1], [2]],
                                   targets=[[0], 0]),
             400, "invalid_field", "targets"),
            ("length mismatch", but(targets=[0, 0, 0]), 400,
             "invalid_field", "targets"),
            ("shape mismatch", but(predictions=[[1, 2], [3, 4]],
                                   targets=[[1, 2, 3, 4]]),
             400, "invalid_field", None),
            ("string abc", but(predictions=[1, "abc"]), 400,
             "invalid_field", "predictions"),
            ("string inf", but(predictions=["inf", 1]), 400,
             "invalid_field", "predictions"),
            ("string nan", but(targets=[0, "nan"]), 400, "invalid_field",
             "targets"),
            ("numeric string", but(predictions=["1.0", 2]), 400,
             "invalid_field", "predictions"),
            ("empty string", but(predictions=["", 2]), 400,
             "invalid_field", "predictions"),
            ("boolean", but(predictions=[True, 2]), 400, "invalid_field",
             "predictions"),
            ("null", but(targets=[None, 0]), 400, "invalid_field",
             "targets"),
            ("object in array", but(predictions=[{}, 2]), 400,
             "invalid_field", "predictions"),
        ]

    def post_raw(self, run, sub, body):
        if isinstance(body, bytes):
            return self.call("POST", run_path(run, sub), raw=body,
                             headers={"Content-Type": "application/json"})
        return self.call("POST", run_path(run, sub), body)

    def test_bad_batches(self):
        run = self.run_name()
        kept = self.post_batch(run, 0, [1, 2], [0, 0])
        self.post_scalars(run, 0, {"lr": 0.5})
        before = self.metrics(run)
        for what, body, status, codes, field in self.bad_batches():
            with self.subTest(what):
                r = self.post_raw(run, "/batches", body)
                self.assertError(r, status, codes, field)
                self.assertAlive()
        self.assertEqual(self.metrics(run), before)
        self.assertEqual([p[:2] for p in self.history(run, "mse")],
                         [[0, kept["losses"]["mse"]]])
        self.assertEqual(self.ok("GET", run_path(run))["last_step"], 0)

    def test_bad_batch_to_new_run(self):
        # The errors do not depend on whether the run exists yet.
        for what, body, status, codes, field in self.bad_batches():
            with self.subTest(what):
                r = self.post_raw(self.run_name(), "/batches", body)
                self.assertError(r, status, codes, field)
        self.assertAlive()

    def test_class_inputs(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "cross_entropy"}]},
                     status=201)
        logits = [[1.0, 2.0, 0.5], [0.1, 0.2, 0.3], [2.0, -1.0, 0.0]]
        kept = self.post_batch(run, 0, logits, [0, 2, 1])
        cases = [
            ("rows mismatch", logits, [0, 1, 2, 0], "rows"),
            ("rows mismatch, fewer", logits, [0, 1], "rows"),
            ("class index = C", logits, [0, 3, 1], "targets"),
            ("class index negative", logits, [0, -1, 1], "targets"),
            ("class index fractional", logits, [0, 1.5, 1], "targets"),
            ("class index NaN", logits, [0, "NaN", 1], "targets"),
            ("targets two-dimensional", logits, [[0], [1], [2]],
             "targets"),
            ("logits one-dimensional", [1.0, 2.0, 0.5], [0, 1, 2],
             "predictions"),
        ]
        for what, pred, target, field in cases:
            with self.subTest(what):
                r = self.call("POST", run_path(run, "/batches"),
                              {"step": 1, "predictions": pred,
                               "targets": target})
                self.assertError(r, 400, "invalid_field", field)
        self.assertEqual([p[:2] for p in self.history(run,
                                                      "cross_entropy")],
                         [[0, kept["losses"]["cross_entropy"]]])

    def test_bce_range(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "bce"}]}, status=201)
        kept = self.post_batch(run, 0, [0.0, 0.25, 1.0], [0.0, 1.0, 0.5])
        cases = [("prediction above 1", [0.5, 1.5], [0, 1], "predictions"),
                 ("prediction below 0", [-0.01, 0.5], [0, 1],
                  "predictions"),
                 ("target above 1", [0.5, 0.5], [0, 1.0001], "targets"),
                 ("target below 0", [0.5, 0.5], [-1, 1], "targets")]
        for what, pred, target, field in cases:
            with self.subTest(what):
                r = self.call("POST", run_path(run, "/batches"),
                              {"step": 1, "predictions": pred,
                               "targets": target})
                self.assertError(r, 400, "invalid_field", field)
        self.assertEqual([p[:2] for p in self.history(run, "bce")],
                         [[0, kept["losses"]["bce"]]])

    def test_batch_rejected_by_one_term_stores_nothing(self):
        """mse accepts 1.5, bce does not: the whole batch is refused and
        no term keeps a part of it."""
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mse"}, {"type": "bce"}]},
                     status=201)
        kept = self.post_batch(run, 0, [0.5, 1.0], [0.0, 1.0])
        r = self.call("POST", run_path(run, "/batches"),
                      {"step": 0, "predictions": [1.5, 1.0],
                       "targets": [0.0, 1.0]})
        self.assertError(r, 400, "invalid_field", "predictions")
        r = self.call("POST", run_path(run, "/batches"),
                      {"step": 1, "predictions": [1.5], "targets": [0.0]})
        self.assertError(r, 400, "invalid_field", "predictions")
        for metric in ("mse", "bce", "total"):
            with self.subTest(metric=metric):
                pts = self.history(run, metric)
                want = (kept["total"] if metric == "total"
                        else kept["losses"][metric])
                self.assertEqual([p[:2] for p in pts], [[0, want]])

    def test_contrastive_and_dice_shapes(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "contrastive"}]}, status=201)
        pairs = [[[0.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 0.0]]]
        self.post_batch(run, 0, pairs, [0, 1])
        for what, pred, target, field in (
                ("label 2", pairs, [0, 2], "targets"),
                ("label fractional", pairs, [0, 0.5], "targets"),
                ("rows mismatch", pairs, [0, 1, 1], "rows"),
                ("not pairs", [[0.0, 1.0], [2.0, 0.0]], [0, 1],
                 "predictions")):
            with self.subTest(what):
                r = self.call("POST", run_path(run, "/batches"),
                              {"step": 1, "predictions": pred,
                               "targets": target})
                self.assertError(r, 400, "invalid_field", field)
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "dice"}]}, status=201)
        self.post_batch(run, 0, [[0.5, -1.0]], [[1, 0]])
        for what, pred, target, field in (
                ("target 0.5", [[0.5, -1.0]], [[1, 0.5]], "targets"),
                ("shape mismatch", [[0.5, -1.0]], [[1], [0]], None)):
            with self.subTest(what):
                r = self.call("POST", run_path(run, "/batches"),
                              {"step": 1, "predictions": pred,
                               "targets": target})
                self.assertError(r, 400, "invalid_field", field)

    def test_bad_scalars(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mse"},
                                      {"type": "mae", "name": "l1"}]},
                     status=201)
        self.post_scalars(run, 0, {"lr": 0.5})
        before = self.metrics(run)
        cases = [
            ("total", {"step": 1, "values": {"total": 1}}, (400,),
             "invalid_field", "total"),
            ("loss term name", {"step": 1, "values": {"mse": 1}},
             (400, 409), ("invalid_field", "conflict"), "mse"),
            ("loss term custom name", {"step": 1, "values": {"l1": 1}},
             (400, 409), ("invalid_field", "conflict"), "l1"),
            ("bad name", {"step": 1, "values": {"a\u0007b": 1}}, (400,),
             "invalid_field", "control character"),
            ("value a string", {"step": 1, "values": {"lr": "fast"}},
             (400,), "invalid_field", "lr"),
            ("value an array", {"step": 1, "values": {"lr": [1]}},
             (400,), "invalid_field", "lr"),
            ("value null", {"step": 1, "values": {"lr": None}},
             (400,), "invalid_field", "lr"),
            ("values an array", {"step": 1, "values": [1]}, (400,),
             "invalid_field", "values"),
            ("missing values", {"step": 1}, (400,), "missing_field",
             "values"),
            ("missing step", {"values": {"lr": 1}}, (400,),
             "missing_field", "step"),
            ("step negative", {"step": -3, "values": {"lr": 1}}, (400,),
             "invalid_field", "step"),
            ("step fractional", {"step": 0.5, "values": {"lr": 1}},
             (400,), "invalid_field", "step"),
            ("unknown field", {"step": 1, "values": {"lr": 1},
                               "note": "x"}, (400,), "invalid_field",
             "note"),
            ("malformed", b'{"step": 1, "values": {', (400,), "bad_json",
             None),
            ("empty body", b"", (400,), ("bad_json", "missing_field"),
             None),
        ]
        for what, body, status, codes, field in cases:
            with self.subTest(what):
                if isinstance(body, bytes):
                    r = self.call("POST", run_path(run, "/scalars"),
                                  raw=body)
                else:
                    r = self.call("POST", run_path(run, "/scalars"), body)
                self.assertError(r, status, codes, field)
                self.assertAlive()
        self.assertEqual(self.metrics(run), before)
        self.assertEqual([p[:2] for p in self.history(run, "lr")],
                         [[0, 0.5]])

    def test_oversized_nesting_is_an_error(self):
        # Deeper than any loss input; an error, not a crash.
        deep = 0
        for _ in range(200):
            deep = [deep]
        r = self.call("POST", run_path(self.run_name(), "/batches"),
                      {"step": 0, "predictions": deep, "targets": deep})
        self.assertTrue(400 <= r.status < 500, r)
        self.assertAlive()


# ---------------------------------------------------------------------
# NaN and infinities

class NonFiniteTest(ApiTest):

    def test_non_finite_losses_are_strings(self):
        run = self.run_name()
        cases = [  # (step, predictions, targets, mse as a float)
            (0, ["Infinity"], [0], math.inf),
            (1, ["NaN", 1], [0, 0], math.nan),
            (2, [1e200], [0], math.inf),  # the square overflows
            (3, ["-Infinity", 2], [0, 0], math.inf),
            (4, ["Infinity"], ["Infinity"], math.nan),  # inf - inf
            (5, [1, 2], [0, 0], 2.5),
        ]
        for step, pred, target, want in cases:
            with self.subTest(step=step):
                r = self.call("POST", run_path(run, "/batches"),
                              {"step": step, "predictions": pred,
                               "targets": target})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["losses"],
                                 {"mse": to_json_value(want)})
                self.assertEqual(r.body["total"], to_json_value(want))
        pts = self.history(run, "mse")
        self.assertEqual([p[:2] for p in pts],
                         [[s, to_json_value(w)] for s, _, _, w in cases])
        self.assertEqual([p[:2] for p in self.history(run, "total")],
                         [[s, to_json_value(w)] for s, _, _, w in cases])
        # Listings stay valid JSON with non-finite values stored.
        self.assertEqual(len(self.metrics(run)), 2)
        self.ok("GET", run_path(run))
        self.ok("GET", "/api/v1/runs")

    def test_non_finite_accumulation(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mae"}]}, status=201)
        first = self.post_batch(run, 0, [1, 2], [0, 0])
        self.assertEqual(first["losses"], {"mae": 1.5})
        second = self.post_batch(run, 0, ["NaN"], [0])
        self.assertEqual(second["losses"], {"mae": "NaN"})
        self.post_batch(run, 0, [3], [0])
        self.post_batch(run, 1, ["-Infinity"], [0])
        self.post_batch(run, 1, [1], [0])
        self.assertEqual([p[:2] for p in self.history(run, "mae")],
                         [[0, "NaN"], [1, "Infinity"]])

    def test_non_finite_scalars(self):
        run = self.run_name()
        body = self.post_scalars(run, 0, {"a": "NaN", "b": "Infinity",
                                          "c": "-Infinity", "d": 1.0})
        self.assertEqual(body["values"], {"a": "NaN", "b": "Infinity",
                                          "c": "-Infinity", "d": 1.0})
        self.post_scalars(run, 1, {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})
        self.post_scalars(run, 1, {"b": "Infinity", "c": "-Infinity",
                                   "d": 1e308})
        self.post_scalars(run, 1, {"d": 1e308})
        want = {"a": [[0, "NaN"], [1, 1.0]],
                "b": [[0, "Infinity"], [1, "Infinity"]],
                "c": [[0, "-Infinity"], [1, "-Infinity"]]}
        for name, points in want.items():
            with self.subTest(name=name):
                self.assertEqual([p[:2] for p in self.history(run, name)],
                                 points)
        # The mean of 4, 1e308 and 1e308 is finite, though their sum is
        # not in double precision.
        d = self.history(run, "d")
        self.assertEqual(d[0][:2], [0, 1.0])
        self.assertEqual(d[1][1], float((fractions.Fraction(4) + 2 *
                                         fractions.Fraction(1e308)) / 3))

    def test_bce_extremes_are_finite(self):
        # PyTorch clamps log at -100, so a confident wrong answer costs
        # exactly 100.
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "bce"}]}, status=201)
        body = self.post_batch(run, 0, [0.0, 1.0], [1.0, 0.0])
        self.assertEqual(body["losses"], {"bce": 100.0})


# ---------------------------------------------------------------------
# Scalars and the metrics listing

class ScalarTest(ApiTest):

    def test_scalars_and_mean_of_repeated_posts(self):
        run = self.run_name()
        body = self.post_scalars(run, 0, {"lr": 0.001, "accuracy": 0.91})
        self.assertEqual(body["run"], run)
        self.assertEqual(body["step"], 0)
        self.assertEqual(body["split"], "train")
        self.assertEqual(body["values"], {"lr": 0.001, "accuracy": 0.91})
        self.post_scalars(run, 1, {"accuracy": 0.5})
        self.post_scalars(run, 1, {"accuracy": 1.0})
        self.post_scalars(run, 2, {"accuracy": 1})
        self.post_scalars(run, 2, {"accuracy": 2})
        self.post_scalars(run, 2, {"accuracy": 6})
        self.assertEqual([p[:2] for p in self.history(run, "accuracy")],
                         [[0, 0.91], [1, 0.75], [2, 3.0]])
        self.assertEqual([p[:2] for p in self.history(run, "lr")],
                         [[0, 0.001]])
        body = self.post_scalars(run, 2, {"eval/acc": 0.5}, split="val")
        self.assertEqual(body["split"], "val")
        self.assertEqual([p[:2] for p in self.history(
            run, "eval/acc", split="val")], [[2, 0.5]])

    def test_numbers_round_trip(self):
        """Numbers come back to the last bit, in every reply."""
        values = {"a": 0.1 + 0.2, "b": 1 / 3, "c": 5e-324,
                  "d": 1.7976931348623157e308, "e": 123456789.12345679,
                  "f": 1e-300, "g": 2.0 ** 60 + 2.0 ** 8, "h": -2.5e-8}
        run = self.run_name()
        body = self.post_scalars(run, 3, values)
        for name, v in values.items():
            with self.subTest("scalars reply", name=name):
                self.assertEqual(body["values"][name], v)
            with self.subTest("history", name=name):
                self.assertEqual(self.history(run, name)[0][1], v)

        run = self.run_name()
        terms = [{"type": "mse", "weight": 0.1 + 0.2},
                 {"type": "mae", "weight": 1 / 3}]
        params = {"x": 0.1 + 0.2, "big": 1.7976931348623157e308,
                  "nested": {"v": [2.0 ** 60 + 2.0 ** 8]}}
        got = self.put_run(run, {"losses": terms, "params": params},
                           status=201)
        with self.subTest("weights"):
            self.assertEqual([t["weight"] for t in got["losses"]],
                             [t["weight"] for t in terms])
        with self.subTest("params"):
            self.assertEqual(got["params"], params)
            self.assertEqual(self.ok("GET", run_path(run))["params"],
                             params)
        with self.subTest("a weight one bit away is another run"):
            other = [dict(terms[0], weight=0.3), terms[1]]
            r = self.call("PUT", run_path(run), {"losses": other})
            self.assertError(r, 409, "conflict")
        body = self.post_batch(run, 0, [0.1 + 0.2], [0])
        with self.subTest("batch reply"):
            self.assertEqual(body["losses"]["mae"], 0.1 + 0.2)
            self.assertEqual(body["losses"]["mae"],
                             self.history(run, "mae")[0][1])
            self.assertEqual(body["total"],
                             self.history(run, "total")[0][1])

    def test_extreme_parameters(self):
        """The largest finite parameters and weights are valid."""
        big = 1.7976931348623157e308
        for term in ({"type": "huber", "delta": big},
                     {"type": "mse", "weight": big},
                     {"type": "dice", "smooth": big},
                     {"type": "huber", "delta": 5e-324}):
            with self.subTest(term=term):
                run = self.run_name()
                r = self.call("PUT", run_path(run), {"losses": [term]})
                self.assertEqual(r.status, 201, r)
                got = r.body["losses"][0]
                for k, v in term.items():
                    self.assertEqual(got[k], v, r)
                self.assertEqual(self.ok("GET", run_path(run)), r.body)
                r = self.call("PUT", run_path(run), {"losses": [term]})
                self.assertEqual(r.status, 200, r)
                r = self.call("POST", run_path(run, "/batches"),
                              {"step": 0, "predictions": [0.5],
                               "targets": [0.0]})
                self.assertEqual(r.status, 200, r)

    def test_metrics_listing(self):
        run = self.run_name()
        self.put_run(run, {"losses": [{"type": "mse"},
                                      {"type": "mae", "name": "l1",
                                       "weight": 0.5}]}, status=201)
        self.post_batch(run, 2, [1], [0])
        self.post_batch(run, 5, [1], [0])
        self.post_batch(run, 5, [1], [0])
        self.post_batch(run, 3, [1], [0], split="val")
        self.post_scalars(run, 4, {"lr": 0.1})
        self.post_scalars(run, 1, {"lr": 0.2})
        self.post_scalars(run, 3, {"acc": 0.2}, split="val")
        got = self.metrics(run)
        for m in got:
            self.assertLessEqual({"name", "split", "kind", "points",
                                  "first_step", "last_step"}, set(m), m)
        rows = {(m["name"], m["split"]):
                (m["kind"], m["points"], m["first_step"], m["last_step"])
                for m in got}
        self.assertEqual(len(rows), len(got))
        self.assertEqual(rows, {
            ("mse", "train"): ("loss", 2, 2, 5),
            ("l1", "train"): ("loss", 2, 2, 5),
            ("total", "train"): ("total", 2, 2, 5),
            ("mse", "val"): ("loss", 1, 3, 3),
            ("l1", "val"): ("loss", 1, 3, 3),
            ("total", "val"): ("total", 1, 3, 3),
            ("lr", "train"): ("scalar", 2, 1, 4),
            ("acc", "val"): ("scalar", 1, 3, 3),
        })

    def test_metrics_of_new_run_is_empty(self):
        run = self.run_name()
        self.put_run(run, {}, status=201)
        self.assertEqual(self.metrics(run), [])
        r = self.history_reply(run, "mse")
        self.assertIn(r.status, (200, 404), r)
        if r.status == 200:
            self.assertEqual(r.body["points"], [])
        else:
            self.assertError(r, 404, "not_found")


# ---------------------------------------------------------------------
# History queries

class HistoryTest(ApiTest):

    def test_long_export_is_streamed_whole(self):
        """A full history is written as it is sent, in chunks: 4000
        points (about four chunks of 64 KiB) all arrive, in order, as
        one valid JSON document, and a range of it as well."""
        run = self.run_name()
        keep = daemon.Client(self.d, keep_alive=True)
        try:
            for step in range(4000):
                value = "NaN" if step == 1234 else step / 7 + 1e-9 * step
                r = keep.request("POST", run_path(run, "/scalars"),
                                 {"step": step, "values": {"x": value}})
                self.assertEqual(r.status, 200, r)
        finally:
            keep.close()
        r = self.history_reply(run, "x")
        self.assertGreater(len(r.raw), 4 * 65536 // 2, r)
        pts = self.history(run, "x")
        self.assertEqual([p[0] for p in pts], list(range(4000)))
        self.assertEqual(pts[1234][1], "NaN")
        self.assertEqual(pts[3999][1], 3999 / 7 + 1e-9 * 3999)
        part = self.history(run, "x", **{"from": 1000, "to": 2999})
        self.assertEqual(part, pts[1000:3000])
        self.assertEqual(self.history(run, "x", **{"from": 5000}), [])
        r = self.history_reply(run, "nope")
        self.assertError(r, 404, "not_found", "nope")

    def test_ordered_by_step_and_bounds(self):
        run = self.run_name()
        for step in (5, 1, 3, 9, 0):
            self.post_scalars(run, step, {"x": float(step * 10)})
        self.assertEqual([p[:2] for p in self.history(run, "x")],
                         [[0, 0.0], [1, 10.0], [3, 30.0], [5, 50.0],
                          [9, 90.0]])
        cases = [({"from": 2}, [3, 5, 9]),
                 ({"to": 3}, [0, 1, 3]),
                 ({"from": 1, "to": 5}, [1, 3, 5]),
                 ({"from": 2, "to": 4}, [3]),
                 ({"from": 3, "to": 3}, [3]),
                 ({"from": 6, "to": 8}, []),
                 ({"from": 10}, []),
                 ({"from": 0, "to": STEP_MAX}, [0, 1, 3, 5, 9])]
        for query, steps in cases:
            with self.subTest(query=query):
                pts = self.history(run, "x", **query)
                self.assertEqual([p[0] for p in pts], steps)

    def test_points_keep_their_time(self):
        run = self.run_name()
        self.post_batch(run, 0, [1], [0])
        first = self.history(run, "mse")
        self.post_batch(run, 1, [1], [0])
        second = self.history(run, "mse")
        self.assertEqual(second[0], first[0])
        run_obj = self.ok("GET", run_path(run))
        self.assertTrue(is_number(run_obj["last_time"]), run_obj)

    def test_max_points_keeps_extremes(self):
        run = self.run_name()
        series = {}
        for step in range(1000):
            value = float(10 + step % 7)
            if step == 537:
                value = 1000.0
            elif step == 211:
                value = -500.0
            series[step] = value
        api = Client(self.d)
        for step, value in series.items():
            r = api.request("POST", run_path(run, "/scalars"),
                            {"step": step, "values": {"s": value}})
            self.assertEqual(r.status, 200, r)
        full = self.history(run, "s")
        self.assertEqual([p[:2] for p in full],
                         [[s, v] for s, v in series.items()])
        self.assertEqual(self.history(run, "s", max_points=5000), full)
        self.assertEqual(self.history(run, "s", max_points=1000), full)

        pts = self.history(run, "s", max_points=10)
        self.assertEqual(pts, self.history(run, "s", max_points=10))
        self.assertLessEqual(len(pts), 10)
        self.assertGreaterEqual(len(pts), 2)
        for p in pts:
            self.assertIn(p, full)
        steps = [p[0] for p in pts]
        self.assertEqual(steps[0], 0)
        self.assertEqual(steps[-1], 999)
        self.assertIn([537, 1000.0], [p[:2] for p in pts])
        self.assertIn([211, -500.0], [p[:2] for p in pts])

        # Within bounds the same holds for the part asked for.
        part = self.history(run, "s", max_points=10, **{"from": 300,
                                                        "to": 700})
        self.assertLessEqual(len(part), 10)
        self.assertEqual(part[0][0], 300)
        self.assertEqual(part[-1][0], 700)
        self.assertIn([537, 1000.0], [p[:2] for p in part])
        self.assertNotIn(211, [p[0] for p in part])

    def test_max_points_keeps_a_divergence(self):
        run = self.run_name()
        api = Client(self.d)
        for step in range(300):
            value = 1.0 / (step + 1) if step != 250 else "NaN"
            r = api.request("POST", run_path(run, "/scalars"),
                            {"step": step, "values": {"s": value}})
            self.assertEqual(r.status, 200, r)
        pts = self.history(run, "s", max_points=10)
        self.assertLessEqual(len(pts), 10)
        self.assertIn([250, "NaN"], [p[:2] for p in pts])

    def test_bad_queries(self):
        run = self.run_name()
        self.post_batch(run, 0, [1], [0])
        self.post_batch(run, 1, [1], [0], split="val")
        path = run_path(run, "/history")
        cases = [
            ("missing metric", "", 400, "missing_field", "metric"),
            ("missing metric, with split", "?split=train", 400,
             "missing_field", "metric"),
            ("unknown metric", "?metric=nope", 404, "not_found", None),
            ("unknown split", "?metric=mse&split=test", 404, "not_found",
             None),
            ("bad metric name", "?metric=a%20b", (400, 404),
             ("invalid_field", "not_found"), None),
            ("bad split name", "?metric=mse&split=a%20b", (400, 404),
             ("invalid_field", "not_found"), None),
            ("from not a number", "?metric=mse&from=abc", 400,
             "invalid_field", "from"),
            ("from negative", "?metric=mse&from=-1", 400,
             "invalid_field", "from"),
            ("from fractional", "?metric=mse&from=1.5", 400,
             "invalid_field", "from"),
            ("from empty", "?metric=mse&from=", 400, "invalid_field",
             "from"),
            ("from too large", "?metric=mse&from=9007199254740992", 400,
             "invalid_field", "from"),
            ("to not a number", "?metric=mse&to=x1", 400,
             "invalid_field", "to"),
            ("to with junk", "?metric=mse&to=5x", 400, "invalid_field",
             "to"),
            ("max_points not a number", "?metric=mse&max_points=ten",
             400, "invalid_field", "max_points"),
            ("max_points negative", "?metric=mse&max_points=-5", 400,
             "invalid_field", "max_points"),
            ("max_points fractional", "?metric=mse&max_points=2.5", 400,
             "invalid_field", "max_points"),
            ("max_points below 5", "?metric=mse&max_points=4", 400,
             "invalid_field", "max_points"),
            ("max_points 1", "?metric=mse&max_points=1", 400,
             "invalid_field", "max_points"),
        ]
        for what, query, status, codes, field in cases:
            with self.subTest(what):
                r = self.call("GET", path + query)
                self.assertError(r, status, codes, field)
        r = self.call("GET", run_path("no-such-run", "/history?metric=mse"))
        self.assertError(r, 404, "not_found")
        self.assertEqual(len(self.history(run, "mse")), 1)


class ModelTest(ApiTest):
    """Writes series and checks downsampled answers against
    model_history() over the full export, which the daemon answers from
    the points themselves."""

    def post_values(self, run, writes):
        """Posts (step, value) scalars as "s", in the order given."""
        api = Client(self.d, keep_alive=True)
        try:
            for step, value in writes:
                r = api.request("POST", run_path(run, "/scalars"),
                                {"step": step, "values": {"s": value}})
                self.assertEqual(r.status, 200, r)
        finally:
            api.close()

    def post_batches(self, run, batches):
        """Posts (step, predictions) batches against targets of 0."""
        api = Client(self.d, keep_alive=True)
        try:
            for step, pred in batches:
                r = api.request("POST", run_path(run, "/batches"),
                                {"step": step, "predictions": pred,
                                 "targets": [0] * len(pred)})
                self.assertEqual(r.status, 200, r)
        finally:
            api.close()

    def check_answers(self, run, metric, queries):
        """Each (from, to, max_points) answered as the model says, and
        with the guarantees spelled out; returns the answers."""
        full = self.history(run, metric)
        answers = []
        for first, last, max_points in queries:
            with self.subTest(first=first, last=last, max=max_points):
                got = self.history(run, metric, max_points=max_points,
                                   **{"from": first, "to": last})
                self.assertEqual(got, model_history(full, first, last,
                                                    max_points))
                inside = [p for p in full if first <= p[0] <= last]
                self.assertLessEqual(len(got), max_points)
                if inside:
                    self.assertEqual(got[0], inside[0])
                    self.assertEqual(got[-1], inside[-1])
                    fin = [p for p in inside if is_finite(p[1])]
                    bad = [p for p in inside if not is_finite(p[1])]
                    if fin:
                        self.assertIn(min(fin, key=lambda p: p[1]), got)
                        self.assertIn(max(fin, key=lambda p: p[1]), got)
                    if bad:
                        self.assertIn(bad[0], got)
                else:
                    self.assertEqual(got, [])
                answers.append(got)
        return answers

    def sparse_steps(self, rng, dense, sparse, span):
        steps = set(range(dense))
        while len(steps) < dense + sparse:
            steps.add(rng.randrange(dense, span))
        return sorted(steps)


class DownsampleTest(ModelTest):
    """Downsampled history read from the summaries of ranges of steps."""

    def test_answers_follow_the_model_at_every_level(self):
        """A dense stretch and sparse steps up to 300,000, so that
        blocks of 4096 steps, of 64, and the points themselves all
        answer some query; ranges cut blocks of every level."""
        rng = random.Random(1)
        run = self.run_name()
        steps = self.sparse_steps(rng, 400, 320, 300000)
        values = {s: 1.0 / (1 + s / 500) + rng.random() / 100
                  for s in steps}
        values[steps[37]] = -1000.0           # a dip in the dense part
        values[steps[500]] = 1e6              # a lone spike
        values[steps[250]] = "NaN"            # a divergence starts
        values[steps[251]] = "NaN"
        values[steps[600]] = "Infinity"
        values[steps[650]] = "-Infinity"
        writes = list(values.items())
        rng.shuffle(writes)
        self.post_values(run, writes)

        queries = [(0, STEP_MAX, m) for m in (5, 10, 50, 150, 500, 700)]
        queries += [(0, 399, 100), (37, 250, 20), (64, 4095, 10),
                    (63, 4096, 10), (65, 200000, 50), (4097, 8191, 5)]
        for _ in range(25):
            a, b = sorted(rng.randrange(300000) for _ in range(2))
            queries.append((a, b, rng.choice((5, 10, 25, 100))))
        self.check_answers(run, "s", queries)
        self.assertEqual(len(self.history(run, "s")), len(values))

    def test_same_answer_whatever_the_order_of_writes(self):
        """One series written three ways: in order, one batch a step;
        shuffled; shuffled with each step's rows cut into two batches,
        so that a step's value changes (a dip or a spike that then goes
        away) before it settles.  Squares of integers keep every value
        exact whatever the order of the sums."""
        rng = random.Random(2)
        steps = self.sparse_steps(rng, 200, 150, 100000)
        rows = {}
        for s in steps:
            a, b = rng.randrange(1, 20), rng.randrange(1, 20)
            if s % 7 == 0:
                a = 0           # a dip to 0 until the second batch
            elif s % 11 == 0:
                a = 60          # a spike, halved by the second batch
            rows[s] = [a, b]
        rows[steps[120]] = [3, "NaN"]
        rows[steps[121]] = [1e200, 1]       # the square is infinite
        order = list(steps)
        rng.shuffle(order)
        again = list(steps)
        rng.shuffle(again)

        runs = [self.run_name("-inorder"), self.run_name("-shuffled"),
                self.run_name("-accumulated")]
        self.post_batches(runs[0], [(s, rows[s]) for s in steps])
        self.post_batches(runs[1], [(s, rows[s]) for s in order])
        self.post_batches(runs[2], [(s, rows[s][:1]) for s in order] +
                          [(s, rows[s][1:]) for s in again])

        queries = [(0, STEP_MAX, m) for m in (5, 10, 40, 100, 300)]
        queries += [(50, 60000, 10), (100, 199, 20), (3, 4097, 15)]
        seen = []
        for run in runs:
            answers = self.check_answers(run, "mse", queries)
            seen.append([[p[:2] for p in a] for a in answers])
        self.assertEqual(seen[1], seen[0])
        self.assertEqual(seen[2], seen[0])

    def test_range_edges_are_exact(self):
        """A spike just outside from or to, in a block the range cuts,
        is not in the answer; just inside, it is."""
        run = self.run_name()
        values = {s: 1.0 + (s % 5) / 10 for s in range(600)}
        values[100] = 50.0          # in block 64..127 of level 1
        values[200] = -50.0         # in block 192..255
        self.post_values(run, sorted(values.items()))
        full = self.history(run, "s")
        for first, last, inside in ((101, 199, False), (99, 199, True),
                                    (101, 201, True), (99, 201, True)):
            with self.subTest(first=first, last=last):
                pts = self.history(run, "s", max_points=10,
                                   **{"from": first, "to": last})
                steps = [p[0] for p in pts]
                self.assertEqual(steps[0], first)
                self.assertEqual(steps[-1], last)
                self.assertEqual(100 in steps or 200 in steps, inside)
                self.assertEqual(pts, model_history(full, first, last, 10))

    def test_summaries_equal_their_recomputation(self):
        """After writes in any order, repeated steps, non-finite values
        and a deleted run, the stored summaries of every metric of the
        database are what the points give."""
        rng = random.Random(3)
        run, gone = self.run_name(), self.run_name("-deleted")
        writes = []
        for _ in range(900):
            step = rng.choice((rng.randrange(300), rng.randrange(20000)))
            value = rng.choice((rng.random(), rng.randrange(3), "NaN",
                                "Infinity", -rng.random()))
            writes.append((step, value))
        self.post_values(run, writes)
        self.post_values(gone, writes[:50])
        self.post_batches(run, [(rng.randrange(5000), [rng.randrange(9)])
                                for _ in range(200)])
        self.ok("DELETE", run_path(gone))
        conn = read_only(self.d.db)
        try:
            stored = stored_blocks(conn)
            self.assertEqual(stored, model_blocks(conn))
            self.assertGreater(len(stored), 100)
        finally:
            conn.close()


class MigrationTest(ModelTest):

    def test_summaries_of_an_older_database_are_added(self):
        """A database of schema 4, made without lossmond, gets the
        summaries of its points on the daemon's first start; its
        answers are then those of the model, and stay so as points come
        and, outside the daemon, are deleted or rewritten."""
        rng = random.Random(4)
        schema = os.path.join(daemon.TOP_SRCDIR, "schema")
        first = daemon.Daemon()
        conn = sqlite3.connect(first.db)
        for name in sorted(os.listdir(schema))[:4]:
            with open(os.path.join(schema, name)) as f:
                conn.executescript(f.read())
        conn.execute("PRAGMA user_version = 4")
        conn.execute("INSERT INTO runs (id, name, losses, created)"
                     " VALUES (1, 'old', '[{\"type\":\"mse\"}]', 1e9)")
        conn.execute("INSERT INTO metrics VALUES (1, 1, 'x', 'train', 2)")
        steps = self.sparse_steps(rng, 300, 300, 50000)
        for s in steps:
            value = rng.choice((rng.random(), rng.random(), None,
                                float("inf"), 2.0))
            conn.execute("INSERT INTO points VALUES (1, ?, ?, NULL, ?)",
                         (s, value, 1.5e9 + s))
        conn.commit()
        conn.close()

        queries = [(0, STEP_MAX, m) for m in (5, 20, 100, 400)]
        queries += [(17, 30000, 10), (70, 290, 20)]
        with first:
            self.d, self.api = first, Client(first)
            conn = read_only(first.db)
            try:
                self.assertEqual(stored_blocks(conn), model_blocks(conn))
            finally:
                conn.close()
            self.check_answers("old", "x", queries)
            api = Client(first)
            # New steps only: points made without lossmond have no
            # statistics to average a repeated scalar with.
            for s in (50001, 50001 + 64, 70000):
                r = api.request("POST", run_path("old", "/scalars"),
                                {"step": s, "values": {"x": s / 3}})
                self.assertEqual(r.status, 200, r)
            self.check_answers("old", "x", queries)

        # Outside the daemon: points deleted one by one and rewritten.
        conn = sqlite3.connect(first.db)
        conn.execute("PRAGMA foreign_keys = ON")
        for s in rng.sample(steps, 60):
            conn.execute("DELETE FROM points WHERE metric_id = 1"
                         " AND step = ?", (s,))
        conn.execute("UPDATE points SET value = -value, time = time + 1"
                     " WHERE metric_id = 1 AND step % 3 = 0")
        conn.commit()
        self.assertEqual(stored_blocks(conn), model_blocks(conn))
        with self.assertRaises(sqlite3.DatabaseError):
            conn.execute("UPDATE points SET step = step + 1"
                         " WHERE metric_id = 1 AND step = 5")
        conn.close()
        with daemon.Daemon(db=first.db) as second:
            self.d, self.api = second, Client(second)
            self.check_answers("old", "x", queries)

# ---------------------------------------------------------------------
# Persistence across restarts

class PersistenceTest(ApiTest):

    def test_restart_keeps_everything(self):
        case = reference_case("mse/accumulate/uneven")
        batches = [(b["predictions"], b["targets"])
                   for b in case["batches"]]
        half = len(batches) // 2

        first = daemon.Daemon()
        self.d = first.start()
        try:
            self.api = Client(first)
            run = self.run_name()
            spec = {"losses": [{"type": "mse", "weight": 2},
                               {"type": "huber", "delta": 0.5}],
                    "params": {"lr": 0.1}, "tags": {"a": "b"}}
            self.put_run(run, spec, status=201)
            for step in range(5):
                self.post_batch(run, step, [step, 1], [0, 0])
                self.post_scalars(run, step, {"lr": 0.1 / (step + 1)})
            self.post_batch(run, 2, [5], [0], split="val")
            self.post_scalars(run, 4, {"lr": 1.0})
            # Half the batches of step 10 before the restart.
            for p, t in batches[:half]:
                self.post_batch(run, 10, p, t)
            before = self.snapshot(run)
            first.stop()

            second = daemon.Daemon(db=first.db)
            self.d = second.start()
            try:
                self.api = Client(second)
                self.assertEqual(self.snapshot(run), before)
                # The other half after it: the step's statistics were
                # kept, so the value is that of all the rows.
                for p, t in batches[half:]:
                    self.post_batch(run, 10, p, t)
                self.assertValue(self.history(run, "mse")[-1][1],
                                 case["expected"])
            finally:
                second.stop()
        finally:
            first.stop()

    def test_kill_keeps_answered_batches(self):
        """A batch answered 200 survives the daemon being killed."""
        first = daemon.Daemon().start()
        try:
            self.d, self.api = first, Client(first)
            for step in range(20):
                self.post_batch("killed", step, [step], [0])
            self.post_scalars("killed", 19, {"lr": 0.25})
            want = [p[:2] for p in self.history("killed", "mse")]
            first.proc.kill()
            first.proc.wait()
        finally:
            first.stop()
        with daemon.Daemon(db=first.db) as second:
            self.d, self.api = second, Client(second)
            self.assertEqual(want, [[s, float(s * s)] for s in range(20)])
            self.assertEqual([p[:2] for p in self.history("killed", "mse")],
                             want)
            self.assertEqual([p[:2] for p in self.history("killed", "lr",
                                                          to=19)],
                             [[19, 0.25]])

    def test_sigterm_exits_cleanly(self):
        d = daemon.Daemon().start()
        try:
            r = Client(d).request("PUT", run_path("r"), {})
            self.assertEqual(r.status, 201, r)
        finally:
            code = d.stop()
        self.assertEqual(code, 0, "".join(d.log[-20:]))

    def snapshot(self, run):
        snap = {"run": self.ok("GET", run_path(run)),
                "runs": self.ok("GET", "/api/v1/runs"),
                "metrics": self.metrics(run)}
        for m in snap["metrics"]:
            snap[m["name"], m["split"]] = self.history(
                run, m["name"], split=m["split"])
        self.assertGreater(len(snap), 8)
        return snap


# ---------------------------------------------------------------------
# Settings of examples/lossmond.conf that change the API

class ConfigTest(ApiTest):

    def test_default_losses_and_max_body(self):
        conf = {"max_body_bytes": 2048,
                "default_losses": [{"type": "mae", "weight": 2},
                                   {"type": "huber", "name": "h",
                                    "delta": 0.5}]}
        want = [{"name": "mae", "type": "mae", "weight": 2},
                {"name": "h", "type": "huber", "weight": 1, "delta": 0.5}]
        with daemon.Daemon(config=conf) as d:
            self.d = d
            self.api = Client(d)
            run = self.put_run("put", {}, status=201)
            self.assertEqual(run["losses"], want)
            body = self.post_batch("posted", 0, [1, 2], [0, 0])
            h = huber([1, 2], [0, 0], delta=0.5)
            self.assertEqual(body["losses"], {"mae": 1.5, "h": h})
            self.assertEqual(body["total"], 2 * 1.5 + h)
            self.assertEqual(self.ok("GET", run_path("posted"))["losses"],
                             want)

            fits = {"step": 1, "predictions": [1.0] * 100,
                    "targets": [0.0] * 100}
            self.assertLess(len(json.dumps(fits)), 2048)
            self.post_batch("posted", 1, fits["predictions"],
                            fits["targets"])
            big = {"step": 2, "predictions": [1.0] * 1000,
                   "targets": [0.0] * 1000}
            for method, path in (("POST", run_path("posted", "/batches")),
                                 ("POST", run_path("posted", "/scalars")),
                                 ("PUT", run_path("other"))):
                with self.subTest(method=method, path=path):
                    r = self.call(method, path, big)
                    self.assertError(r, 413, "too_large")
            self.assertEqual([p[0] for p in self.history("posted", "mae")],
                             [0, 1])
            self.assertAlive()


# ---------------------------------------------------------------------
# Routing, methods and the web root

class HttpTest(ApiTest):

    def test_healthz(self):
        self.assertAlive()

    def test_nul_characters_are_refused(self):
        """A NUL would cut a name, split or id short in C, making two
        different ones the same: it is refused wherever it is."""
        run = self.run_name()
        bodies = [b'{"id": "a\\u0000one", "step": 5, "predictions": [1],'
                  b' "targets": [0]}',
                  b'{"step": 5, "split": "val\\u0000x", "predictions": [1],'
                  b' "targets": [0]}',
                  b'{"step": 5, "predictions": [1], "targets": [0]}\x00']
        for raw in bodies:
            with self.subTest(raw=raw):
                r = self.call("POST", run_path(run, "/batches"), raw=raw)
                self.assertError(r, 400, "bad_json", "NUL")
        r = self.call("PUT", run_path(run),
                      raw=b'{"tags": {"k\\u0000": 1}}')
        self.assertError(r, 400, "bad_json", "NUL")
        # An escaped backslash before u0000 is text, not a NUL.
        body = self.ok("POST", run_path(run, "/batches"),
                       {"id": "a\\u0000", "step": 1, "predictions": [2],
                        "targets": [0]})
        self.assertEqual(body["losses"], {"mse": 4})

    def test_params_and_tags_are_checked(self):
        run = self.run_name()
        for raw, word in ((b'{"tags": {"t": "\xff\xfe"}}', "UTF-8"),
                          (b'{"params": {"a": 1, "a": 2}}', "twice"),
                          (b'{"params": {"x": {"\xed\xa0\x80": 1}}}',
                           "UTF-8")):
            with self.subTest(raw=raw):
                r = self.call("PUT", run_path(run), raw=raw)
                self.assertError(r, 400, "invalid_field", word)
        self.assertError(self.call("GET", run_path(run)), 404, "not_found")

    def test_many_keys_are_cheap_to_refuse(self):
        """Duplicate keys are found by sorting: 50,000 keys answer at
        once instead of after n^2 comparisons (no timing is asserted;
        the test would merely take minutes)."""
        raw = ("{" + ",".join('"k%d": 0' % i for i in range(50000)) +
               ', "k7": 1}').encode()
        r = self.call("PUT", run_path(self.run_name()), raw=raw)
        self.assertError(r, 400, "invalid_field", "k7 is given twice")

    def test_head_reads_like_get(self):
        run = self.run_name()
        self.put_run(run, {}, status=201)
        for path in ("/api/v1/runs", run_path(run), "/api/v1/losses"):
            with self.subTest(path=path):
                # No body, so not through call(), which wants JSON.
                r = self.api.request("HEAD", path)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.ctype.startswith("application/json"), r)

    def test_empty_path_segments(self):
        run = self.run_name()
        self.put_run(run, {}, status=201)
        r = self.call("DELETE", "/api/v1/runs//" + q(run) + "/")
        self.assertError(r, 400, "invalid_field", "path")
        self.ok("GET", run_path(run) + "/")

    def test_unknown_api_paths(self):
        run = self.run_name()
        self.put_run(run, {}, status=201)
        for path in ("/api/v1/nope", "/api/v1/", "/api/v1",
                     run_path(run, "/nope"),
                     run_path(run, "/batches/1"), "/api/v1/runs/x/y/z"):
            with self.subTest(path=path):
                self.assertError(self.call("GET", path), 404, "not_found")

    def test_wrong_methods(self):
        run = self.run_name()
        self.put_run(run, {}, status=201)
        cases = [("POST", "/api/v1/runs"), ("DELETE", "/api/v1/runs"),
                 ("POST", run_path(run)), ("PATCH", run_path(run)),
                 ("GET", run_path(run, "/batches")),
                 ("PUT", run_path(run, "/batches")),
                 ("GET", run_path(run, "/scalars")),
                 ("POST", run_path(run, "/history")),
                 ("DELETE", run_path(run, "/metrics")),
                 ("POST", "/healthz")]
        for method, path in cases:
            with self.subTest(method=method, path=path):
                r = self.call(method, path, raw=b"{}"
                              if method in ("POST", "PUT", "PATCH")
                              else None)
                self.assertError(r, 405, "method_not_allowed")
        # None of them touched the run.
        self.assertEqual(self.metrics(run), [])

    def test_web_root(self):
        r = self.call("GET", "/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.ctype.startswith("text/html"), r)
        self.assertIn(b"<html", r.raw.lower())
        with open(os.path.join(daemon.TOP_SRCDIR, "web",
                               "index.html"), "rb") as f:
            self.assertEqual(r.raw, f.read())
        r = self.call("GET", "/index.html")
        self.assertEqual(r.status, 200, r)
        r = self.call("GET", "/no-such-file.html")
        self.assertEqual(r.status, 404, r)

    def test_path_traversal(self):
        outside = {}
        for rel in ("configure.ac", "Makefile.am"):
            with open(os.path.join(daemon.TOP_SRCDIR, rel), "rb") as f:
                outside[rel] = f.read()
        with open("/etc/passwd", "rb") as f:
            outside["passwd"] = f.read()
        paths = ["/../configure.ac", "/../../../../etc/passwd",
                 "/%2e%2e/configure.ac", "/%2E%2E/Makefile.am",
                 "/..%2fconfigure.ac", "/%2e%2e%2fconfigure.ac",
                 "/vendor/../../configure.ac",
                 "/vendor/%2e%2e/%2e%2e/configure.ac",
                 "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/....//configure.ac", "/.%2e/configure.ac",
                 "/%252e%252e/configure.ac", "/..\\configure.ac",
                 "/%5c..%5cconfigure.ac", "//etc/passwd",
                 "/%2fetc%2fpasswd", "/index.html%00/../configure.ac"]
        for path in paths:
            with self.subTest(path=path):
                r = self.api.request("GET", path)
                self.assertLess(r.status, 500, r)
                for name, text in outside.items():
                    self.assertNotIn(text[:200], r.raw, "%s served" % name)
                if r.status == 200:
                    # A path that the server normalised must stay
                    # inside the web root: it can only be a web file.
                    self.assertTrue(self.is_web_file(r.raw), r)
        self.assertAlive()

    def is_web_file(self, raw):
        root = os.path.join(daemon.TOP_SRCDIR, "web")
        for dirpath, _, files in os.walk(root):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    if fh.read() == raw:
                        return True
        return False


def main():
    if not os.access(daemon.LOSSMOND, os.X_OK):
        print("api_test: no lossmond at %s (set LOSSMOND)" % daemon.LOSSMOND,
              file=sys.stderr)
        return 99
    prog = unittest.main(exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
