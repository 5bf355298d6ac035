#!/usr/bin/env python3
"""Reliability of lossmond, tested against the real daemon: limits on
what a request may hold, steps, repeated and out-of-order posts,
idempotent retries, concurrent clients, SIGKILL in the middle of a
stream of posts, SIGTERM with requests in flight, and an online backup.

Every test talks over loopback HTTP to a lossmond that tests/daemon.py
starts on an ephemeral port with its own SQLite file.  Expected values
are exact: the batches post whole numbers, whose squares add up without
rounding, so the mean squared error stored at a step is the sum of the
squares over the count, the same double in Python and in the daemon.

    LOSSMOND=src/lossmond TOP_SRCDIR=. python3 tests/reliability_test.py

The fault tests print their figures (requests, acknowledged, found) on
standard error.  Standard library only.  Exit status 0 when all tests
pass, 1 when one fails, 99 when there is no daemon to test.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon  # noqa: E402  (tests/daemon.py, next to this file)

STEP_MAX = 2 ** 53 - 1
MIB = 1 << 20

from daemon import setUpModule, tearDownModule  # noqa: E402,F401


def figures(what, **numbers):
    """Prints the figures of a test for the report of the run."""
    text = ", ".join("%s=%s" % kv for kv in numbers.items())
    print("reliability_test: %s: %s" % (what, text), file=sys.stderr)


# ---------------------------------------------------------------------
# HTTP and JSON helpers

from daemon import Client, Reply, run_path  # noqa: E402


def q(name):
    return daemon.quote(name)


def batch(step, pred, target=None, id=None, split=None):
    """A batch body; targets default to zeros, so that the mean squared
    error of whole numbers is exact."""
    body = {"step": step, "predictions": pred,
            "targets": target if target is not None else [0] * len(pred)}
    if id is not None:
        body["id"] = id
    if split is not None:
        body["split"] = split
    return body


def padded(body, size):
    """The JSON text of body, padded with spaces to exactly size bytes."""
    text = json.dumps(body).encode()
    assert text.endswith(b"}") and len(text) <= size
    return text[:-1] + b" " * (size - len(text)) + b"}"


def nested(depth, leaf="1"):
    """depth arrays, one inside the other, around leaf."""
    return "[" * depth + leaf + "]" * depth


class Mse:
    """The exact mean squared error of whole-number batches against
    zero targets: the sum of the squares and their count."""

    def __init__(self):
        self.sq = 0
        self.n = 0

    def add(self, pred):
        self.sq += sum(p * p for p in pred)
        self.n += len(pred)

    def value(self):
        return self.sq / self.n


# ---------------------------------------------------------------------
# The base of every test case

class DaemonTest(daemon.SharedDaemonTest):

    def use(self, d):
        """Points the helpers at another daemon."""
        self.d = d
        self.api = Client(d)


    def ok(self, method, path, body=None, raw=None, status=200):
        r = self.call(method, path, body=body, raw=raw)
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.ctype.startswith("application/json"), r)
        return r.body

    def assertError(self, r, status, codes, *words):
        """An error reply with the documented body whose message holds
        each of words (the field, the limit)."""
        if isinstance(status, int):
            status = (status,)
        if isinstance(codes, str):
            codes = (codes,)
        self.assertIn(r.status, status, r)
        self.assertTrue(r.ctype.startswith("application/json"), r)
        self.assertEqual(set(r.body), {"error"}, r)
        err = r.body["error"]
        self.assertIn(err.get("code"), codes, r)
        self.assertIsInstance(err.get("message"), str, r)
        for w in words:
            self.assertIn(w, err["message"], r)

    def assertAlive(self):
        r = self.call("GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"status": "ok"}, r)

    def post_batch(self, run, body):
        return self.ok("POST", run_path(run, "/batches"), body)

    def history(self, run, metric="mse", **query):
        query = dict(query, metric=metric)
        path = run_path(run, "/history?" + urllib.parse.urlencode(query))
        body = self.ok("GET", path)
        steps = [p[0] for p in body["points"]]
        self.assertEqual(steps, sorted(set(steps)), "history not ordered")
        return body["points"]

    def values(self, run, metric="mse", **query):
        """The history as {step: value}."""
        return {p[0]: p[1] for p in self.history(run, metric, **query)}

    def metrics(self, run):
        return {(m["name"], m["split"]): m for m in
                self.ok("GET", run_path(run, "/metrics"))["metrics"]}

    def assertNoRun(self, run):
        r = self.call("GET", run_path(run))
        self.assertError(r, 404, "not_found")


def stalled_until_closed(sock, deadline=15.0):
    """Waits for the daemon to close a connection; returns what it sent
    before closing, or None when it was still open at the deadline."""
    got = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return got
        if not chunk:
            return got
        got += chunk
    return None


def read_reply(sock):
    """Reads one HTTP reply from a socket: (status line, body), or None
    when the daemon closed or reset the connection before answering."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return None
    return head.split(b"\r\n")[0].decode(), body


def raw_get(host, port, path="/healthz", source="127.0.0.1", timeout=10):
    """Opens a connection from source and sends one GET: returns the
    socket and the status line, or None when no answer came."""
    s = socket.create_connection((host, port), timeout=timeout,
                                 source_address=(source, 0))
    try:
        s.sendall(b"GET " + path.encode() +
                  b" HTTP/1.1\r\nHost: lossmon\r\n\r\n")
    except (ConnectionResetError, BrokenPipeError):
        return s, None
    reply = read_reply(s)
    return s, reply[0] if reply else None


def wait_until(predicate, seconds=60):
    """Waits for predicate() to hold; False at the deadline."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# ---------------------------------------------------------------------
# Limits on what one request may hold

class LimitTest(DaemonTest):

    def test_body_limit_configured(self):
        with daemon.Daemon(config={"max_body_bytes": 4096}) as d:
            self.use(d)
            run = self.run_name()
            fits = padded(batch(0, [3]), 4096)
            self.ok("POST", run_path(run, "/batches"), raw=fits)
            over = padded(batch(1, [3]), 4097)
            for method, path, raw in (
                    ("POST", run_path(run, "/batches"), over),
                    ("POST", run_path(run, "/scalars"), over),
                    ("PUT", run_path(self.run_name()), over),
                    ("POST", run_path(run, "/batches"),
                     padded(batch(2, [3]), MIB))):
                with self.subTest(method=method, size=len(raw)):
                    r = self.call(method, path, raw=raw)
                    self.assertError(r, 413, "too_large", "4096")
                    self.assertAlive()
            # A chunked body has no length to judge it by in advance.
            conn = http.client.HTTPConnection(self.api.host, self.api.port,
                                              timeout=60)
            try:
                chunks = (over[i:i + 1000] for i in range(0, len(over),
                                                          1000))
                conn.request("POST", run_path(run, "/batches"),
                             body=chunks, encode_chunked=True)
                resp = conn.getresponse()
                r = Reply("POST", "chunked", resp.status, resp.read(),
                          resp.headers)
            finally:
                conn.close()
            self.assertError(r, 413, "too_large", "4096")
            self.assertEqual(self.values(run), {0: 9})
            self.assertAlive()

    def test_body_limit_default(self):
        run = self.run_name()
        limit = 64 * MIB
        self.ok("POST", run_path(run, "/batches"),
                raw=padded(batch(0, [2]), limit))
        r = self.call("POST", run_path(run, "/batches"),
                      raw=padded(batch(1, [2]), limit + 1))
        self.assertError(r, 413, "too_large", str(limit))
        self.assertAlive()
        self.assertEqual(self.values(run), {0: 4})

    def test_elements_limit_configured(self):
        with daemon.Daemon(config={"max_batch_elements": 100}) as d:
            self.use(d)
            run = self.run_name()
            self.post_batch(run, batch(0, [1] * 100))
            cases = [
                ("predictions", batch(1, [1] * 101)),
                ("predictions", batch(1, [[1] * 11] * 10)),
                ("predictions", batch(1, [[[1] * 5] * 5] * 5)),
                ("targets", batch(1, [1] * 100, [0] * 101)),
                ("targets", batch(1, [1] * 100, [[0] * 2] * 51)),
            ]
            for field, body in cases:
                with self.subTest(field=field):
                    r = self.call("POST", run_path(run, "/batches"), body)
                    self.assertError(r, 413, "too_large", field, "100")
            self.assertAlive()
            self.assertEqual(self.values(run), {0: 1})
            self.assertEqual(self.metrics(run)["mse", "train"]["points"],
                             1)

    def test_elements_limit_default(self):
        # A 32 MiB body: the daemon parses it whole before it counts,
        # which takes seconds and over a gigabyte of memory.
        run = self.run_name()
        limit = 16 * MIB
        raw = (b'{"step": 0, "predictions": [' + b"0," * limit +
               b'0], "targets": [0]}')
        r = self.call("POST", run_path(run, "/batches"), raw=raw)
        self.assertError(r, 413, "too_large", "predictions", str(limit))
        self.assertAlive()
        self.assertNoRun(run)

    def test_depth_limit_configured(self):
        with daemon.Daemon(config={"max_json_depth": 6}) as d:
            self.use(d)
            run = self.run_name()
            # The object is one level: five arrays inside make six.
            ok = ('{"step": 0, "predictions": %s, "targets": %s}'
                  % (nested(5, "3"), nested(5, "0")))
            self.ok("POST", run_path(run, "/batches"), raw=ok.encode())
            deep = ('{"step": 1, "predictions": %s, "targets": %s}'
                    % (nested(6, "3"), nested(6, "0")))
            r = self.call("POST", run_path(run, "/batches"),
                          raw=deep.encode())
            self.assertError(r, 400, "bad_json", "6")
            params = {"a": {"b": {"c": {"d": {}}}}}
            self.ok("PUT", run_path(self.run_name()),
                    {"params": params}, status=201)
            params = {"a": {"b": {"c": {"d": {"e": {}}}}}}
            r = self.call("PUT", run_path(self.run_name()),
                          {"params": params})
            self.assertError(r, 400, "bad_json", "6")
            r = self.call("POST", run_path(run, "/scalars"),
                          raw=b'{"step": 2, "values": {"x": [[[[[[1]]]]]]}}')
            self.assertError(r, 400, "bad_json", "6")
            self.assertAlive()
            self.assertEqual(self.values(run), {0: 9})

    def test_name_lengths(self):
        longest = "\u00e9" * 64         # 128 bytes of UTF-8
        over = "x" + longest
        run = self.run_name()
        got = self.post_batch(longest, batch(0, [2], split=longest))
        self.assertEqual((got["run"], got["split"]), (longest, longest))
        self.ok("POST", run_path(run, "/scalars"),
                {"step": 0, "values": {longest: 1}})
        self.assertEqual(self.values(longest, split=longest), {0: 4})
        self.assertEqual(self.values(run, longest), {0: 1})
        cases = [
            ("run name", "POST", run_path(over, "/batches"),
             batch(0, [1])),
            ("run name", "PUT", run_path(over), {}),
            ("split", "POST", run_path(run, "/batches"),
             batch(0, [1], split=over)),
            ("split", "POST", run_path(run, "/scalars"),
             {"step": 0, "split": over, "values": {"x": 1}}),
            ("values.", "POST", run_path(run, "/scalars"),
             {"step": 0, "values": {over: 1}}),
            ("losses[0].name", "PUT", run_path(self.run_name()),
             {"losses": [{"type": "mse", "name": over}]}),
        ]
        for field, method, path, body in cases:
            with self.subTest(field=field, method=method):
                r = self.call(method, path, body)
                self.assertError(r, 400, "invalid_field", field, "128")
        for path in (run_path(run, "/history?metric=" + q(over)),
                     run_path(run, "/history?metric=x&split=" + q(over))):
            r = self.call("GET", path)
            self.assertError(r, 400, "invalid_field", "128")
        runs = [x["name"] for x in self.ok("GET", "/api/v1/runs")["runs"]]
        self.assertNotIn(over, runs)

    def test_invalid_utf8_names(self):
        run = self.run_name()
        r = self.call("PUT", "/api/v1/runs/a%FFb", {})
        self.assertError(r, 400, "invalid_field", "run name")
        r = self.call("PUT", "/api/v1/runs/%C3%28", {})
        self.assertError(r, 400, "invalid_field", "run name")
        for raw, field in (
                (b'{"step": 0, "split": "a\xffb", "predictions": [1],'
                 b' "targets": [0]}', "split"),
                (b'{"step": 0, "split": "\xed\xa0\x80", "predictions": [1],'
                 b' "targets": [0]}', "split")):
            r = self.call("POST", run_path(run, "/batches"), raw=raw)
            self.assertError(r, 400, ("invalid_field", "bad_json"))
            if r.body["error"]["code"] == "invalid_field":
                self.assertIn(field, r.body["error"]["message"])
        r = self.call("POST", run_path(run, "/scalars"),
                      raw=b'{"step": 0, "values": {"\xc0\xafx": 1}}')
        self.assertError(r, 400, ("invalid_field", "bad_json"))
        self.assertNoRun(run)

    def test_names_are_decoded_once(self):
        names = ["a%2Fb", "train/loss", "train_loss", "%", "a b", "..",
                 "\u8a13\u7df4 / \u640d\u5931", "100%25"]
        run = self.run_name("/x %2F \u00e9")
        for name in names:
            got = self.ok("POST", run_path(run, "/scalars"),
                          {"step": 1, "split": name,
                           "values": {name: len(name)}})
            self.assertEqual(got["run"], run)
        listed = {m[0] for m in self.metrics(run)}
        self.assertEqual(listed, set(names))
        for name in names:
            with self.subTest(name=name):
                self.assertEqual(self.values(run, name, split=name),
                                 {1: len(name)})
        self.assertEqual(self.ok("GET", run_path(run))["name"], run)

    def test_depth_limit_default(self):
        def params(depth):
            p = {}
            for _ in range(depth - 1):
                p = {"x": p}
            return p
        # The body's object and the params object make two levels.
        self.ok("PUT", run_path(self.run_name()), {"params": params(31)},
                status=201)
        run = self.run_name()
        r = self.call("PUT", run_path(run), {"params": params(32)})
        self.assertError(r, 400, "bad_json", "32")
        self.assertNoRun(run)

    def test_hostile_nesting(self):
        run = self.run_name()
        self.post_batch(run, batch(0, [1]))
        bodies = [b"[" * 100000, b"{" * 100000, b"[{" * 50000,
                  b'{"a":' * 100000, b"]" * 100000, b"[" * MIB,
                  b'{"step": 1, "predictions": ' + b"[" * 100000,
                  (b'{"step": 1, "predictions": ' + b"[" * 100000 +
                   b"1" + b"]" * 100000 + b', "targets": [0]}')]
        for raw in bodies:
            for method, path in (("POST", run_path(run, "/batches")),
                                 ("POST", run_path(run, "/scalars")),
                                 ("PUT", run_path(self.run_name()))):
                with self.subTest(body=raw[:40], method=method, path=path):
                    r = self.call(method, path, raw=raw)
                    self.assertError(r, (400, 413), ("bad_json",
                                                     "too_large"))
            self.assertAlive()
        self.assertEqual(self.values(run), {0: 1})

    def test_brackets_in_strings_are_not_nesting(self):
        run = self.run_name()
        split = "[" * 40 + '{"\\'
        body = batch(0, [2], split=split)
        got = self.post_batch(run, body)
        self.assertEqual(got["split"], split)
        self.assertEqual(self.values(run, split=split), {0: 4})

    def test_slow_client_is_disconnected(self):
        conf = {"connection_timeout": 2}
        with daemon.Daemon(config=conf) as d:
            self.use(d)
            run = self.run_name()
            host, port = self.api.host, self.api.port
            body = json.dumps(batch(0, [5])).encode()
            head = ("POST %s HTTP/1.1\r\nHost: lossmon\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n"
                    % (run_path(run, "/batches"), len(body))).encode()
            stalls = {"nothing": b"", "half the headers": head[:30],
                      "half the body": head + body[:len(body) // 2]}
            socks = {}
            for what, sent in stalls.items():
                s = socket.create_connection((host, port), timeout=10)
                s.sendall(sent)
                socks[what] = s
            try:
                # Others are served while those stall.
                other = self.run_name("-other")
                for step in range(5):
                    self.post_batch(other, batch(step, [step]))
                self.assertAlive()
                for what, s in socks.items():
                    with self.subTest(stalled=what):
                        got = stalled_until_closed(s)
                        self.assertIsNotNone(got, "still connected 15 s"
                                             " after it stalled")
                        self.assertNotIn(b" 200 ", got[:20])
            finally:
                for s in socks.values():
                    s.close()
            self.assertNoRun(run)
            self.assertEqual(len(self.history(other)), 5)
            self.assertAlive()

    def test_connections_per_address(self):
        conf = {"max_connections_per_address": 4}
        with daemon.Daemon(config=conf) as d:
            self.use(d)
            host, port = self.api.host, self.api.port
            held = []
            try:
                for _ in range(4):
                    s, status = raw_get(host, port)
                    self.assertEqual(status, "HTTP/1.1 200 OK")
                    held.append(s)
                s, status = raw_get(host, port)
                s.close()
                self.assertIsNone(status, "a fifth connection from one"
                                  " address was served")
                # Another address is not affected.
                s, status = raw_get(host, port, source="127.0.0.2")
                s.close()
                self.assertEqual(status, "HTTP/1.1 200 OK")
                # The held connections still work.
                held[1].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b" 200 ", held[1].recv(4096)[:20])
                held.pop(0).close()
                self.assertTrue(self.served_within(host, port, 30),
                                "no connection served after one closed")
            finally:
                for s in held:
                    s.close()

    def test_connection_limit(self):
        conf = {"max_connections": 4}
        with daemon.Daemon(config=conf) as d:
            self.use(d)
            host, port = self.api.host, self.api.port
            held = []
            try:
                for i in range(4):
                    s, status = raw_get(host, port,
                                        source="127.0.0.%d" % (i + 1))
                    self.assertEqual(status, "HTTP/1.1 200 OK")
                    held.append(s)
                # Over the limit a connection is not served, whether it
                # is closed or left waiting.
                extra = socket.create_connection((host, port), timeout=10,
                                                 source_address=(
                                                     "127.0.0.9", 0))
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                extra.settimeout(2)
                try:
                    got = extra.recv(4096)
                except socket.timeout:
                    got = None
                except ConnectionResetError:
                    got = b""
                self.assertFalse(got, "served over max_connections")
                extra.close()
                held.pop().close()
                self.assertTrue(self.served_within(host, port, 30),
                                "no connection served after one closed")
            finally:
                for s in held:
                    s.close()

    def served_within(self, host, port, seconds):
        """Tries new connections until one is served; the daemon sees
        the closing of another connection a moment later."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            s, status = raw_get(host, port)
            s.close()
            if status == "HTTP/1.1 200 OK":
                return True
            time.sleep(0.1)
        return False


# ---------------------------------------------------------------------
# Steps: the range, and posts in any order

class StepTest(DaemonTest):

    def test_largest_step(self):
        run = self.run_name()
        got = self.post_batch(run, batch(STEP_MAX, [3]))
        self.assertEqual(got["step"], STEP_MAX)
        self.assertIsInstance(got["step"], int)
        got = self.ok("POST", run_path(run, "/scalars"),
                      {"step": STEP_MAX, "values": {"lr": 0.5}})
        self.assertEqual(got["step"], STEP_MAX)
        self.assertEqual(self.values(run), {STEP_MAX: 9})
        self.assertEqual(self.values(run, "lr", **{"from": STEP_MAX}),
                         {STEP_MAX: 0.5})
        self.assertEqual(self.metrics(run)["mse", "train"]["last_step"],
                         STEP_MAX)
        self.assertEqual(self.ok("GET", run_path(run))["last_step"],
                         STEP_MAX)

    def test_bad_steps(self):
        steps = ["9007199254740992", "9007199254740993",
                 "18446744073709551616", "1e16", "1e400", "-1e400", "-1",
                 "-0.5", "1.5", "0.000001", "4503599627370496.5",
                 "9007199254740990.9", '"1"', '"NaN"', "true", "false",
                 "null", "[1]", '{"step": 1}']
        run = self.run_name()
        for text in steps:
            for sub, rest in (("/batches",
                               '"predictions": [1], "targets": [0]'),
                              ("/scalars", '"values": {"lr": 1}')):
                raw = ('{"step": %s, %s}' % (text, rest)).encode()
                with self.subTest(step=text, path=sub):
                    r = self.call("POST", run_path(run, sub), raw=raw)
                    self.assertError(r, 400, "invalid_field", "step")
        for sub, body in (("/batches", {"predictions": [1],
                                        "targets": [0]}),
                          ("/scalars", {"values": {"lr": 1}})):
            r = self.call("POST", run_path(run, sub), body)
            self.assertError(r, 400, "missing_field", "step")
        self.assertNoRun(run)

    def test_out_of_order_and_repeated_steps(self):
        run = self.run_name()
        posts = [(5, [5]), (1, [1]), (3, [3]), (0, [2]), (3, [1, 1]),
                 (4, [4]), (1, [3]), (2, [2]), (3, [7]), (100, [1]),
                 (50, [6]), (0, [0])]
        want = {}
        for step, pred in posts:
            got = self.post_batch(run, batch(step, pred))
            one = Mse()
            one.add(pred)
            self.assertEqual(got["losses"], {"mse": one.value()})
            want.setdefault(step, Mse()).add(pred)
        pts = self.history(run)
        self.assertEqual([p[0] for p in pts], sorted(want))
        self.assertEqual({p[0]: p[1] for p in pts},
                         {s: m.value() for s, m in want.items()})
        self.assertEqual(self.values(run, "total"),
                         {s: m.value() for s, m in want.items()})
        m = self.metrics(run)["mse", "train"]
        self.assertEqual((m["points"], m["first_step"], m["last_step"]),
                         (len(want), 0, 100))
        # The highest step, not the last one posted.
        self.assertEqual(self.ok("GET", run_path(run))["last_step"], 100)

        # Scalars posted out of order keep the mean of each step.
        posts = [(9, 1.0), (2, 4.0), (9, 3.0), (0, 8.0), (2, 5.0),
                 (9, 8.0)]
        sums = {}
        for step, v in posts:
            self.ok("POST", run_path(run, "/scalars"),
                    {"step": step, "values": {"acc": v}})
            s = sums.setdefault(step, [0.0, 0])
            s[0] += v
            s[1] += 1
        self.assertEqual(self.values(run, "acc"),
                         {k: s / n for k, (s, n) in sums.items()})


# ---------------------------------------------------------------------
# Idempotent retries: a batch or scalars post with an id

class IdempotencyTest(DaemonTest):

    def test_same_id_twice_counts_once(self):
        run = self.run_name()
        body = batch(7, [3], id="job-1/batch 7")
        first = self.call("POST", run_path(run, "/batches"), body)
        self.assertEqual(first.status, 200, first)
        again = self.call("POST", run_path(run, "/batches"), body)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.raw, first.raw)
        # Another batch at the step: 3^2 counted twice would give
        # (9 + 9 + 1) / 3, not (9 + 1) / 2.
        self.post_batch(run, batch(7, [1]))
        self.assertEqual(self.values(run), {7: 5})
        # A retry after other posts still has the first answer.
        third = self.call("POST", run_path(run, "/batches"), body)
        self.assertEqual((third.status, third.raw),
                         (first.status, first.raw))
        self.assertEqual(self.values(run), {7: 5})

    def test_different_ids_count_twice(self):
        run = self.run_name()
        self.post_batch(run, batch(0, [3], id="a"))
        self.post_batch(run, batch(0, [3], id="b"))
        self.post_batch(run, batch(0, [1]))
        self.post_batch(run, batch(0, [1]))
        self.assertEqual(self.values(run), {0: 20 / 4})

    def test_ids_are_scoped_per_run(self):
        runs = [self.run_name("-a"), self.run_name("-b")]
        for i, run in enumerate(runs):
            got = self.post_batch(run, batch(0, [i + 2], id="same"))
            self.assertEqual(got["run"], run)
            self.assertEqual(got["losses"], {"mse": (i + 2) ** 2})
        for i, run in enumerate(runs):
            self.assertEqual(self.values(run), {0: (i + 2) ** 2})

    def test_scalars_with_id(self):
        run = self.run_name()
        body = {"id": "s1", "step": 3, "values": {"acc": 1.0}}
        first = self.call("POST", run_path(run, "/scalars"), body)
        self.assertEqual(first.status, 200, first)
        again = self.call("POST", run_path(run, "/scalars"), body)
        self.assertEqual((again.status, again.raw),
                         (first.status, first.raw))
        self.ok("POST", run_path(run, "/scalars"),
                {"step": 3, "values": {"acc": 0.0}})
        self.assertEqual(self.values(run, "acc"), {3: 0.5})

    def test_bad_ids(self):
        run = self.run_name()
        for bad in ("", "x" * 129, 5, None, ["a"], {"a": 1}, "a\nb",
                    "\u0000"):
            for sub, body in (("/batches", batch(0, [1])),
                              ("/scalars", {"step": 0,
                                            "values": {"x": 1}})):
                with self.subTest(id=bad, path=sub):
                    r = self.call("POST", run_path(run, sub),
                                  dict(body, id=bad))
                    # A NUL is refused wherever it is, before the id.
                    if bad == "\u0000":
                        self.assertError(r, 400, "bad_json", "NUL")
                    else:
                        self.assertError(r, 400, "invalid_field", "id")
        r = self.call("POST", run_path(run, "/batches"),
                      raw=b'{"id": "\xff", "step": 0, "predictions": [1],'
                          b' "targets": [0]}')
        self.assertError(r, 400, ("invalid_field", "bad_json"))
        self.assertNoRun(run)
        longest = "\u00e9" * 64
        got = self.post_batch(run, batch(0, [1], id=longest))
        self.assertEqual(self.post_batch(run, batch(0, [1], id=longest)),
                         got)

    def test_id_survives_a_restart(self):
        first = daemon.Daemon().start()
        try:
            self.use(first)
            run = self.run_name()
            body = batch(1, [4], id="before-restart")
            reply = self.call("POST", run_path(run, "/batches"), body)
            self.assertEqual(reply.status, 200, reply)
        finally:
            first.stop()
        with daemon.Daemon(db=first.db) as second:
            self.use(second)
            again = self.call("POST", run_path(run, "/batches"), body)
            self.assertEqual((again.status, again.raw),
                             (reply.status, reply.raw))
            self.post_batch(run, batch(1, [2]))
            self.assertEqual(self.values(run), {1: 10})

    def test_concurrent_retries_count_once(self):
        run = self.run_name()
        body = batch(0, [3], id="retried")
        replies = []
        barrier = threading.Barrier(8)

        def retry():
            api = Client(self.d)
            barrier.wait()
            for _ in range(5):
                replies.append(api.request("POST", run_path(run,
                                                            "/batches"),
                                           body))
        threads = [threading.Thread(target=retry) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(replies), 40)
        for r in replies:
            self.assertEqual((r.status, r.raw),
                             (replies[0].status, replies[0].raw), r)
        self.assertEqual(replies[0].status, 200, replies[0])
        self.post_batch(run, batch(0, [1]))
        self.assertEqual(self.values(run), {0: 5})


# ---------------------------------------------------------------------
# Concurrent clients

class ConcurrencyTest(DaemonTest):
    THREADS = 16
    REQUESTS = 250      # per thread
    OWN = 6             # threads posting to their own runs
    SHARED_WRITERS = 5  # threads posting to one run and step
    # The rest read.

    def test_writers_and_readers(self):
        prefix = self.run_name()
        own = ["%s-own-%d" % (prefix, i) for i in range(self.OWN)]
        shared = prefix + "-shared"
        expect = {run: {} for run in own + [shared]}
        lock = threading.Lock()
        bad = []
        counts = {"requests": 0, "acknowledged": 0, "reads": 0,
                  "shared": 0}
        start = threading.Barrier(self.THREADS)

        # Each own run has a point before the readers start; the shared
        # run is created by the racing writers' first posts.
        for run in own:
            self.post_batch(run, batch(0, [1]))
            expect[run].setdefault(0, Mse()).add([1])

        def acknowledged(run, step, pred, reply):
            with lock:
                counts["requests"] += 1
                if reply.status != 200:
                    bad.append(reply)
                    return
                counts["acknowledged"] += 1
                counts["shared"] += run == shared
                expect[run].setdefault(step, Mse()).add(pred)

        def own_writer(i):
            api = Client(self.d, keep_alive=True)
            start.wait()
            for j in range(self.REQUESTS):
                step, pred = j % 10, [(i + j) % 7 + 1, j % 3]
                r = api.request("POST", run_path(own[i], "/batches"),
                                batch(step, pred))
                acknowledged(own[i], step, pred, r)
            api.close()

        def shared_writer(i):
            api = Client(self.d, keep_alive=True)
            start.wait()
            for j in range(self.REQUESTS):
                step, pred = j % 2, [i * self.REQUESTS + j]
                r = api.request("POST", run_path(shared, "/batches"),
                                batch(step, pred))
                acknowledged(shared, step, pred, r)
            api.close()

        def reader(i):
            api = Client(self.d, keep_alive=True)
            start.wait()
            for j in range(self.REQUESTS):
                run = own[(i + j) % len(own)]
                path = (run_path(run, "/history?metric=mse"),
                        run_path(run, "/metrics"), run_path(run),
                        "/api/v1/runs",
                        run_path(run, "/history?metric=total&max_points=5"),
                        run_path(shared, "/history?metric=mse&split=train")
                        )[j % 6]
                # The shared run exists once a post to it was answered.
                absent_ok = counts["shared"] == 0 and shared in path
                r = api.request("GET", path)
                with lock:
                    counts["requests"] += 1
                    counts["reads"] += 1
                    if r.status == 404 and absent_ok:
                        pass
                    elif r.status != 200 or b"locked" in r.raw:
                        bad.append(r)
                    elif "points" in r.body:
                        steps = [p[0] for p in r.body["points"]]
                        if steps != sorted(set(steps)):
                            bad.append(r)
            api.close()

        roles = ([(own_writer, i) for i in range(self.OWN)] +
                 [(shared_writer, i) for i in range(self.SHARED_WRITERS)] +
                 [(reader, i) for i in range(self.THREADS - self.OWN -
                                             self.SHARED_WRITERS)])
        errors = []

        def guarded(fn, i):
            try:
                fn(i)
            except Exception as e:  # a dropped connection, a timeout
                errors.append("%s %d: %r" % (fn.__name__, i, e))

        threads = [threading.Thread(target=guarded, args=role)
                   for role in roles]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        elapsed = time.monotonic() - t0
        self.assertEqual(errors, [])
        self.assertEqual(bad[:5], [])
        self.assertEqual(counts["requests"], self.THREADS * self.REQUESTS)

        found = 0
        for run, steps in expect.items():
            with self.subTest(run=run):
                want = {s: m.value() for s, m in steps.items()}
                self.assertEqual(self.values(run), want)
                self.assertEqual(self.values(run, "total"), want)
                m = self.metrics(run)
                self.assertEqual(m["mse", "train"]["points"], len(want))
                found += len(self.history(run))
        log = "".join(self.d.log)
        self.assertNotIn("locked", log)
        self.assertNotIn(" error ", log)
        figures("concurrency", threads=self.THREADS,
                requests=counts["requests"],
                acknowledged=counts["acknowledged"], reads=counts["reads"],
                runs=len(expect), points_found=found,
                seconds="%.1f" % elapsed)


class PoolConcurrencyTest(ConcurrencyTest):
    """The same, with a pool of two HTTP threads (the "threads" key)
    instead of a thread per connection: 16 clients share them."""

    def setUp(self):
        super().setUp()
        self.pool = daemon.Daemon(config={"threads": 2}).start()
        self.use(self.pool)

    def tearDown(self):
        self.pool.stop()
        super().tearDown()


# ---------------------------------------------------------------------
# SIGKILL in the middle of a stream of posts

class CrashTest(DaemonTest):
    """Four writers post pairs of batches, [1] then [2], each pair to a
    step of its own and each batch with an id.  The stored value tells
    which batches a step holds: 1 only the first, 4 only the second,
    2.5 both; 2 or 3 is one counted twice.  The daemon is killed with
    SIGKILL at a seeded random moment, restarted on the same file, and
    every batch answered 200 must be there.  The batches in doubt (sent,
    no answer) are then retried with their ids, and each must be there
    exactly once."""

    WRITERS = 4
    RUNS = 3
    ROUNDS = 3
    SEED = 20261203
    VALUES = {1.0: ("a",), 4.0: ("b",), 2.5: ("a", "b")}

    def test_kill_while_posting(self):
        rng = random.Random(self.SEED)
        prefix = self.run_name()
        runs = ["%s-%d" % (prefix, i) for i in range(self.RUNS)]
        acked = set()       # (run, step, half)
        doubt = set()
        self.counts = {"sent": 0, "acknowledged": 0, "in_doubt": 0,
                       "retried": 0}
        db = None
        for rnd in range(self.ROUNDS):
            d = daemon.Daemon(db=db).start()
            db = d.db
            try:
                self.use(d)
                if rnd > 0:
                    self.check_after_restart(runs, acked, doubt)
                    self.retry(runs, acked, doubt)
                delay = rng.uniform(0.05, 0.6)
                self.stream(d, rnd, runs, acked, doubt, delay)
            finally:
                d.stop()
        with daemon.Daemon(db=db) as d:
            self.use(d)
            self.check_after_restart(runs, acked, doubt)
            self.retry(runs, acked, doubt)
            found = self.check_complete(runs, acked)
            code = d.stop()
        self.assertEqual(code, 0, "".join(d.log[-20:]))
        con = sqlite3.connect(db)
        try:
            check = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
        self.assertEqual(check, [("ok",)])
        figures("crash", kills=self.ROUNDS, found_pairs=found,
                integrity=check[0][0], **self.counts)

    def plan(self, rnd, w, runs):
        """The batches of writer w in round rnd: pairs at fresh steps."""
        for k in range(3000):
            step = (rnd * 3000 + k) * self.WRITERS + w
            run = runs[(k + w) % len(runs)]
            yield run, step, "a"
            yield run, step, "b"

    def body(self, run, step, half):
        return batch(step, [1 if half == "a" else 2],
                     id="%s/%d/%s" % (run, step, half))

    def stream(self, d, rnd, runs, acked, doubt, delay):
        lock = threading.Lock()
        progress = threading.Semaphore(0)

        def writer(w):
            api = Client(d, keep_alive=True, timeout=30)
            try:
                for run, step, half in self.plan(rnd, w, runs):
                    with lock:
                        self.counts["sent"] += 1
                        doubt.add((run, step, half))
                    r = api.request("POST", run_path(run, "/batches"),
                                    self.body(run, step, half))
                    if r.status != 200:
                        self.fail_later.append(r)
                        return
                    with lock:
                        self.counts["acknowledged"] += 1
                        doubt.discard((run, step, half))
                        acked.add((run, step, half))
                    progress.release()
            except (OSError, http.client.HTTPException):
                pass    # the daemon was killed
            finally:
                api.close()

        self.fail_later = []
        threads = [threading.Thread(target=writer, args=(w,))
                   for w in range(self.WRITERS)]
        for t in threads:
            t.start()
        for _ in range(40):
            self.assertTrue(progress.acquire(timeout=60), "no progress")
        time.sleep(delay)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        for t in threads:
            t.join(60)
        self.assertEqual(self.fail_later, [])
        self.counts["in_doubt"] += len(doubt)

    def stored(self, runs):
        """{(run, step): the halves the value says are there}."""
        out = {}
        for run in runs:
            r = self.call("GET", run_path(run, "/history?metric=mse"))
            if r.status == 404:
                continue
            self.assertEqual(r.status, 200, r)
            for step, value, _ in r.body["points"]:
                self.assertIn(value, self.VALUES,
                              "%s step %d holds %r: a batch counted twice"
                              % (run, step, value))
                out[run, step] = self.VALUES[value]
        return out

    def check_after_restart(self, runs, acked, doubt):
        have = self.stored(runs)
        for run, step, half in acked:
            self.assertIn(half, have.get((run, step), ()),
                          "%s step %d: acknowledged batch %s lost"
                          % (run, step, half))
        for (run, step), halves in have.items():
            for half in halves:
                self.assertIn((run, step, half), acked | doubt,
                              "%s step %d: batch %s never sent"
                              % (run, step, half))

    def retry(self, runs, acked, doubt):
        """Retries the batches in doubt, and sends the second half of
        every pair whose first half was sent, as a client would."""
        todo = set(doubt)
        for run, step, half in acked | doubt:
            todo.add((run, step, "a"))
            todo.add((run, step, "b"))
        todo -= acked
        for run, step, half in sorted(todo):
            r = self.call("POST", run_path(run, "/batches"),
                          self.body(run, step, half))
            self.assertEqual(r.status, 200, r)
            want = 1 if half == "a" else 4
            self.assertEqual(r.body["losses"], {"mse": want}, r)
            acked.add((run, step, half))
            self.counts["retried"] += 1
        doubt.clear()

    def check_complete(self, runs, acked):
        have = self.stored(runs)
        pairs = {(run, step) for run, step, _ in acked}
        self.assertEqual(set(have), pairs)
        for key, halves in have.items():
            self.assertEqual(halves, ("a", "b"), key)
        return len(have)


# ---------------------------------------------------------------------
# SIGTERM with requests in flight

class DrainTest(DaemonTest):

    def test_sigterm_drains_requests_in_flight(self):
        d = daemon.Daemon().start()
        try:
            self.use(d)
            prefix = self.run_name()
            host, port = self.api.host, self.api.port
            # Requests the daemon has begun: it answered 100 Continue to
            # their headers and holds half their bodies.
            pending = []
            for i in range(4):
                run = "%s-slow-%d" % (prefix, i)
                body = json.dumps(batch(0, list(range(1, 2001)))).encode()
                s = socket.create_connection((host, port), timeout=30)
                s.sendall(("POST %s HTTP/1.1\r\nHost: lossmon\r\n"
                           "Expect: 100-continue\r\n"
                           "Content-Length: %d\r\n\r\n"
                           % (run_path(run, "/batches"), len(body))
                           ).encode())
                self.assertIn(b" 100 ", s.recv(100))
                s.sendall(body[:len(body) // 2])
                pending.append((s, run, body))

            # Writers that keep posting over keep-alive connections.
            acked, stop = [], threading.Event()

            def writer(w):
                api = Client(d, keep_alive=True, timeout=30)
                run = "%s-w-%d" % (prefix, w)
                for step in range(100000):
                    if stop.is_set():
                        break
                    try:
                        r = api.request("POST", run_path(run, "/batches"),
                                        batch(step, [w + 1]))
                    except (OSError, http.client.HTTPException):
                        break
                    acked.append((run, step, r))
                api.close()
            writers = [threading.Thread(target=writer, args=(w,))
                       for w in range(4)]
            for t in writers:
                t.start()
            self.assertTrue(wait_until(lambda: len(acked) >= 20),
                            "the writers made no progress")
            d.proc.send_signal(signal.SIGTERM)
            self.wait_for_log(d, "SIGTERM")
            answers = []
            for s, run, body in pending:
                s.sendall(body[len(body) // 2:])
                answers.append(read_reply(s))
                s.close()
            stop.set()
            for t in writers:
                t.join(60)
            code = d.proc.wait(60)
        finally:
            d.stop()
        for got in answers:
            self.assertIsNotNone(got, "no answer to a request in flight")
            self.assertEqual(got[0], "HTTP/1.1 200 OK", got)
        self.assertEqual(code, 0)
        self.assertTrue(any("stopped" in line for line in d.log),
                        "".join(d.log[-10:]))
        self.assertFalse(any("still in flight" in line for line in d.log),
                         "".join(d.log[-10:]))
        statuses = {r.status for _, _, r in acked}
        self.assertEqual(statuses, {200})

        with daemon.Daemon(db=d.db) as again:
            self.use(again)
            for _, run, _ in pending:
                self.assertEqual(self.values(run), {0: sum(
                    k * k for k in range(1, 2001)) / 2000})
            per_run = {}
            for run, step, _ in acked:
                per_run.setdefault(run, set()).add(step)
            for run, steps in per_run.items():
                w = int(run.rsplit("-", 1)[1])
                self.assertEqual(self.values(run),
                                 {s: (w + 1) ** 2 for s in steps})
        figures("drain", in_flight=len(pending),
                acknowledged_by_writers=len(acked), exit_code=code)

    def wait_for_log(self, d, text, seconds=30):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if any(text in line for line in d.log):
                return
            time.sleep(0.02)
        self.fail("the log never said %r:\n%s" % (text, "".join(d.log)))


# ---------------------------------------------------------------------
# An online backup while writers post

class BackupTest(DaemonTest):

    WRITERS = 3

    def test_backup_while_posting(self):
        run = self.run_name()
        busy = ["%s-busy-%d" % (run, w) for w in range(self.WRITERS)]
        before = {}
        for step in range(200):
            self.post_batch(run, batch(step, [step % 9]))
            before[step] = (step % 9) ** 2
        stop = threading.Event()
        replies = [[] for _ in busy]

        def writer(w):
            api = Client(self.d, keep_alive=True)
            for step in range(100000):
                if stop.is_set():
                    break
                replies[w].append(api.request(
                    "POST", run_path(busy[w], "/batches"),
                    batch(step, [w + 1])))
            api.close()
        writers = [threading.Thread(target=writer, args=(w,))
                   for w in range(self.WRITERS)]
        for t in writers:
            t.start()
        tmp = tempfile.mkdtemp(prefix="lossmon-backup-")
        try:
            self.assertTrue(wait_until(lambda: min(map(len, replies)) >=
                                       10), "the writers made no progress")
            started = [len(r) for r in replies]
            dest = os.path.join(tmp, "backup.db")
            proc = subprocess.run([daemon.LOSSMOND, "--db", self.d.db,
                                   "--backup", dest],
                                  capture_output=True, text=True,
                                  timeout=120)
            stop.set()
            for t in writers:
                t.join(60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            for w in range(self.WRITERS):
                self.assertEqual({r.status for r in replies[w]}, {200})

            # The backup is one file: nothing of it is left in a WAL.
            alone = os.path.join(tmp, "alone", "backup.db")
            os.mkdir(os.path.dirname(alone))
            shutil.copyfile(dest, alone)
            con = sqlite3.connect(alone)
            try:
                check = con.execute("PRAGMA integrity_check").fetchall()
            finally:
                con.close()
            self.assertEqual(check, [("ok",)])
            found = []
            with daemon.Daemon(db=alone) as copy:
                self.use(copy)
                self.assertEqual(self.values(run), before)
                # Each writer posts steps 0, 1, 2, ... one after the
                # other, so a consistent copy holds a prefix of them.
                for w, name in enumerate(busy):
                    got = self.values(name)
                    self.assertEqual(got, {s: (w + 1) ** 2
                                           for s in range(len(got))})
                    self.assertGreaterEqual(len(got), started[w])
                    found.append(len(got))
        finally:
            stop.set()
            shutil.rmtree(tmp, True)
        figures("backup", acknowledged_before=len(before) + sum(started),
                writer_posts=sum(map(len, replies)),
                writer_points_in_backup=sum(found), integrity=check[0][0])


def main():
    if not os.access(daemon.LOSSMOND, os.X_OK):
        print("reliability_test: no lossmond at %s (set LOSSMOND)"
              % daemon.LOSSMOND, file=sys.stderr)
        return 99
    prog = unittest.main(exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
