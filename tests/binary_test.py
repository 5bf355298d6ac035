"""The binary form of a batch: multipart/form-data with a JSON part named
"batch" and each input array as a NumPy .npy file, against a real daemon.

The .npy files are written here with the standard library (the format is
a short text header and the raw little-endian values), so the test needs
no NumPy. Expected values come from tests/reference.json (PyTorch).
"""
import http.client
import json
import math
import os
import socket
import struct
import sys
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon  # noqa: E402

REFERENCE = os.path.join(daemon.TOP_SRCDIR, "tests", "reference.json")


def shape_of(a):
    shape = []
    while isinstance(a, list):
        shape.append(len(a))
        a = a[0] if a else None
    return shape


def flat(a):
    if isinstance(a, list):
        for x in a:
            yield from flat(x)
    else:
        yield a


def npy(a, dtype="<f8", fortran=False):
    """The bytes of an .npy file (format 1.0) holding nested list a."""
    shape = shape_of(a)
    dims = "".join("%d, " % d for d in shape) if len(shape) == 1 else \
        ", ".join(str(d) for d in shape)
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        dtype, "True" if fortran else "False", dims)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    code = {"<f8": "d", "<f4": "f", "<i8": "q", "<i4": "i"}[dtype]
    values = [float(v) if code in "df" else int(v) for v in flat(a)]
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) +
            header.encode() + struct.pack("<%d%s" % (len(values), code),
                                          *values))


def form(parts, preamble=b""):
    """A multipart/form-data body of (name, bytes) parts, after the text
    preamble, which a reader of the form ignores."""
    boundary = uuid.uuid4().hex
    body = preamble
    for name, data in parts:
        body += (b"--" + boundary.encode() + b"\r\n" +
                 b'Content-Disposition: form-data; name="' + name.encode() +
                 b'"; filename="' + name.encode() + b'.npy"\r\n' +
                 b"Content-Type: application/octet-stream\r\n\r\n" + data +
                 b"\r\n")
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary


def close(got, want):
    if isinstance(want, str):
        return got == want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=0.0) or got == want


class BinaryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = daemon.Daemon().start()
        with open(REFERENCE) as f:
            cls.cases = {c["name"]: c for c in json.load(f)["cases"]}

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def post(self, run, parts):
        body, ctype = form(parts)
        req = urllib.request.Request(
            self.d.url + "/api/v1/runs/" + daemon.quote(run) + "/batches",
            data=body, method="POST", headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def put(self, run, losses):
        status, body, _ = self.d.request("PUT", "/api/v1/runs/" +
                                         daemon.quote(run),
                                         {"losses": losses})
        self.assertIn(status, (200, 201), body)

    def history(self, run, metric):
        status, body, _ = self.d.request(
            "GET", "/api/v1/runs/%s/history?metric=%s" % (daemon.quote(run),
                                                         metric))
        self.assertEqual(status, 200, body)
        return body["points"]

    def test_reference_cases_as_npy(self):
        """Cases of every loss of two inputs give PyTorch's values when
        their arrays come as .npy files, batch by batch and summed up."""
        done = 0
        for name, case in sorted(self.cases.items()):
            b0 = case["batches"][0]
            if set(b0) - {"expected"} != {"predictions", "targets"}:
                continue
            if any(isinstance(v, str) for v in flat(b0["predictions"])):
                continue
            if not shape_of(b0["predictions"]):
                continue
            run = "npy-" + name
            self.put(run, [dict(case["params"], type=case["type"])])
            for batch in case["batches"]:
                status, body = self.post(run, [
                    ("batch", b'{"step": 0}'),
                    ("predictions", npy(batch["predictions"])),
                    ("targets", npy(batch["targets"]))])
                self.assertEqual(status, 200, (name, body))
                got = list(body["losses"].values())[0]
                self.assertTrue(close(got, batch["expected"]),
                                (name, got, batch["expected"]))
            got = self.history(run, case["type"])[0][1]
            self.assertTrue(close(got, case["expected"]),
                            (name, got, case["expected"]))
            done += 1
        self.assertGreater(done, 50)
        print("binary: %d reference cases posted as .npy" % done)

    def test_float32_and_int_dtypes(self):
        case = self.cases["cross_entropy/default"] \
            if "cross_entropy/default" in self.cases else next(
                c for c in self.cases.values()
                if c["type"] == "cross_entropy" and not c["params"])
        b = case["batches"][0]
        self.put("npy-dtypes", [{"type": "cross_entropy"}])
        status, body = self.post("npy-dtypes", [
            ("batch", b'{"step": 1, "split": "val"}'),
            ("predictions", npy(b["predictions"], "<f8")),
            ("targets", npy(b["targets"], "<i8"))])
        self.assertEqual(status, 200, body)
        self.assertTrue(close(body["losses"]["cross_entropy"],
                              b["expected"]))
        status, body = self.post("npy-dtypes", [
            ("batch", b'{"step": 2}'),
            ("predictions", npy(b["predictions"], "<f4")),
            ("targets", npy(b["targets"], "<i4"))])
        self.assertEqual(status, 200, body)
        # float32 rounds the logits: close to the float64 value, not equal.
        self.assertTrue(math.isclose(body["losses"]["cross_entropy"],
                                     b["expected"], rel_tol=1e-5))

    def test_json_and_npy_mix_and_id(self):
        self.put("npy-mix", [{"type": "mse"}])
        parts = [("batch", b'{"step": 3, "id": "b-1", "targets": [0, 0]}'),
                 ("predictions", npy([1.0, 2.0]))]
        first = self.post("npy-mix", parts)
        self.assertEqual(first, (200, {"run": "npy-mix", "step": 3,
                                       "split": "train",
                                       "losses": {"mse": 2.5},
                                       "total": 2.5}))
        self.assertEqual(self.post("npy-mix", parts), first)
        self.assertEqual(len(self.history("npy-mix", "mse")), 1)

    def test_large_parts_with_and_without_length(self):
        """Parts many times a connection's buffer arrive whole, whether
        the body announces its length or comes in chunks of odd sizes
        (HTTP/1.1 chunked transfer, where the daemon cannot know the
        size of a part in advance)."""
        case = self.cases["mse/1d"]
        b = case["batches"][0]
        # The mean of an array repeated is the mean of the array.
        times = 200000 // len(b["predictions"]) + 1
        preds = npy(b["predictions"] * times)
        targets = npy(b["targets"] * times)
        body, ctype = form([("batch", b'{"step": 0}'),
                            ("predictions", preds), ("targets", targets)])
        self.assertGreater(len(body), 3000000)
        self.put("npy-large", [{"type": "mse"}])
        for chunked in (False, True):
            with self.subTest(chunked=chunked):
                conn = http.client.HTTPConnection(
                    self.d.url.split("//")[1], timeout=60)
                if chunked:
                    pieces = [body[i:i + 77777]
                              for i in range(0, len(body), 77777)]
                    conn.request("POST", "/api/v1/runs/npy-large/batches",
                                 body=iter(pieces), encode_chunked=True,
                                 headers={"Content-Type": ctype})
                else:
                    conn.request("POST", "/api/v1/runs/npy-large/batches",
                                 body=body, headers={"Content-Type": ctype})
                r = conn.getresponse()
                reply = json.loads(r.read())
                conn.close()
                self.assertEqual(r.status, 200, reply)
                self.assertTrue(close(reply["losses"]["mse"],
                                      b["expected"]),
                                (reply, b["expected"]))

    def post_in_pieces(self, d, run, parts, cuts):
        """Posts a form whose body is sent in pieces ending at the
        offsets cuts, each given time to be read on its own."""
        body, ctype = form(parts)
        head = ("POST /api/v1/runs/%s/batches HTTP/1.1\r\n"
                "Host: lossmon\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n"
                % (run, ctype, len(body))).encode()
        host, port = d.url.split("//")[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(head)
            start = 0
            for cut in sorted(cuts(body)) + [len(body)]:
                s.sendall(body[start:cut])
                start = cut
                time.sleep(0.05)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        return (int(reply.split(b" ", 2)[1]),
                json.loads(reply.split(b"\r\n\r\n", 1)[1]))

    @staticmethod
    def value_starts(body):
        """The offset of each part's value in a form's body."""
        i = 0
        while (i := body.find(b"Content-Disposition", i)) != -1:
            i = body.index(b"\r\n\r\n", i) + 4
            yield i

    def test_reads_that_end_inside_a_part(self):
        """A body whose reads end anywhere, even a few bytes into a
        part's value (where libmicrohttpd reports the part's start
        twice), is taken as if it came at once."""
        self.put("npy-cuts", [{"type": "mse"}])
        b = self.cases["mse/1d"]["batches"][0]
        parts = [("batch", b'{"step": 0}'),
                 ("predictions", npy(b["predictions"])),
                 ("targets", npy(b["targets"]))]
        for delta in range(-2, 8):
            with self.subTest(delta=delta):
                status, reply = self.post_in_pieces(
                    self.d, "npy-cuts", parts,
                    lambda body: [v + delta
                                  for v in self.value_starts(body)])
                self.assertEqual(status, 200, reply)
                self.assertTrue(close(reply["losses"]["mse"],
                                      b["expected"]), reply)

    def test_small_parts_reserve_at_most_twice_the_body(self):
        """A part longer than its first piece may reserve the rest of
        the announced body at once, but the parts of a request reserve
        at most twice its length: sixteen small parts, each arriving in
        two pieces, do not reserve sixteen times the body."""
        with daemon.Daemon() as d:
            status = "/proc/%d/status" % d.proc.pid

            def vm(field):
                with open(status) as f:
                    for line in f:
                        if line.startswith(field + ":"):
                            return int(line.split()[1]) * 1024
            before = vm("VmSize")
            if daemon.WRAPPER or before > 1 << 40:
                self.skipTest("valgrind or a sanitizer manages memory")
            got, reply = self.post_in_pieces(
                d, "small", [("p%d" % i, b"xy") for i in range(15)] +
                [("p15", bytes(40 * 1000 * 1000))],
                lambda body: [v + 1 for v in self.value_starts(body)])
            self.assertEqual(got, 400, reply)
            self.assertIn("p0", reply["error"]["message"])
            # Twice the body, a part of 40 MB, a thread's stack and its
            # malloc arena fit; sixteen times the body (640 MB) do not.
            self.assertLess(vm("VmPeak") - before, 300 * 1000 * 1000)

    def test_form_errors_name_the_problem(self):
        good = npy([1.0, 2.0])
        body, ctype = form([("batch", b'{"step": 0}'), ("predictions", good),
                            ("targets", good)])
        end = body.rindex(b"--" + ctype.split("=")[1].encode() + b"--")
        cases = [
            (b'{"step": 0}', "multipart/form-data", "boundary"),
            (b'{"step": 0}', "multipart/form-data; boundary=", "boundary"),
            (body, ctype + "; charset=utf-8", "last parameter"),
            (body, "multipart/form-data; boundary=" + uuid.uuid4().hex,
             "no part begins"),
            (body[:end], ctype, "closing delimiter"),
            # Cut where a further part could begin: all parts look whole.
            (body[:end + 2], ctype, "closing delimiter"),
        ]
        for raw, ct, word in cases:
            with self.subTest(ctype=ct, length=len(raw)):
                status, reply, _ = self.d.request(
                    "POST", "/api/v1/runs/npy-bad/batches", raw=raw,
                    headers={"Content-Type": ct})
                self.assertEqual(status, 400, reply)
                self.assertEqual(reply["error"]["code"], "bad_form", reply)
                self.assertIn(word, reply["error"]["message"], reply)
        # The closing delimiter needs no line break after it.
        status, reply, _ = self.d.request(
            "POST", "/api/v1/runs/npy-end/batches", raw=body[:-2],
            headers={"Content-Type": ctype})
        self.assertEqual(status, 200, reply)

    def test_a_form_where_json_is_expected(self):
        """Only batches take a form: elsewhere it is refused, not read
        as an empty body."""
        body, ctype = form([("losses", b'[{"type": "mae"}]')])
        for method, path in (("PUT", "/api/v1/runs/form-put"),
                             ("POST", "/api/v1/runs/form-put/scalars")):
            with self.subTest(method=method, path=path):
                status, reply, _ = self.d.request(
                    method, path, raw=body, headers={"Content-Type": ctype})
                self.assertEqual(status, 415, reply)
                self.assertEqual(reply["error"]["code"],
                                 "unsupported_media_type", reply)
                self.assertIn("multipart/form-data",
                              reply["error"]["message"])
        status, reply, _ = self.d.request("GET", "/api/v1/runs/form-put")
        self.assertEqual(status, 404, reply)

    def test_body_over_the_limit(self):
        """A multipart body past max_body_bytes is refused, announced
        or not, and the daemon goes on."""
        body, ctype = form([("batch", b'{"step": 0}'),
                            ("predictions", npy([0.5] * 1000)),
                            ("targets", npy([0.0] * 1000))])
        # Before the first boundary, text that is no part still counts.
        preamble, pctype = form([("batch", b'{"step": 0}')],
                                preamble=b"x" * 8000 + b"\r\n")
        with daemon.Daemon(config={"max_body_bytes": 4096}) as d:
            for what, chunked in (("parts", False), ("parts", True),
                                  ("preamble", True)):
                with self.subTest(what=what, chunked=chunked):
                    data = body if what == "parts" else preamble
                    ct = ctype if what == "parts" else pctype
                    conn = http.client.HTTPConnection(
                        d.url.split("//")[1], timeout=60)
                    conn.request("POST", "/api/v1/runs/over/batches",
                                 body=iter([data]) if chunked else data,
                                 encode_chunked=chunked,
                                 headers={"Content-Type": ct})
                    r = conn.getresponse()
                    reply = json.loads(r.read())
                    conn.close()
                    self.assertEqual(r.status, 413, reply)
                    self.assertEqual(reply["error"]["code"], "too_large")
                    self.assertIn("4096", reply["error"]["message"])
            status, body, _ = d.request("GET", "/api/v1/runs")
            self.assertEqual(status, 200, body)

    def test_errors(self):
        self.put("npy-bad", [{"type": "mse"}])
        good = npy([1.0, 2.0])
        cases = [
            ([("predictions", good), ("targets", good)], 400,
             "missing_field", "batch"),
            ([("batch", b'{"step": 1}'), ("predictions", good),
              ("predictions", good), ("targets", good)], 400,
             "invalid_field", "twice"),
            ([("batch", b'{"step": 1, "targets": [1, 2]}'),
              ("predictions", good), ("targets", good)], 400,
             "invalid_field", "twice"),
            ([("batch", b'{"step": 1}'), ("predictions", b"not npy"),
              ("targets", good)], 400, "invalid_field", "not a NumPy"),
            ([("batch", b'{"step": 1}'),
              ("predictions", npy([[1.0, 2.0]], fortran=True)),
              ("targets", good)], 400, "invalid_field", "C order"),
            ([("batch", b'{"step": 1}'), ("predictions", good[:-4]),
              ("targets", good)], 400, "invalid_field", "bytes of data"),
            ([("batch", b'{"step": 1}'), ("weights!", good),
              ("predictions", good), ("targets", good)], 400,
             "invalid_field", "unknown"),
            ([("batch", b'{"step": -1}'), ("predictions", good),
              ("targets", good)], 400, "invalid_field", "step"),
            ([("batch", b'{"step": 1'), ("predictions", good),
              ("targets", good)], 400, "bad_json",
             'part "batch" is not valid JSON'),
            ([("batch", b""), ("predictions", good), ("targets", good)],
             400, "invalid_field", "batch"),
        ]
        for parts, status, code, word in cases:
            with self.subTest(parts=[p[0] for p in parts], word=word):
                got, body = self.post("npy-bad", parts)
                self.assertEqual(got, status, body)
                self.assertEqual(body["error"]["code"], code, body)
                self.assertIn(word, body["error"]["message"], body)
        status, body, _ = self.d.request(
            "GET", "/api/v1/runs/npy-bad/metrics")
        self.assertEqual(body["metrics"], [])


if __name__ == "__main__":
    unittest.main(verbosity=1)
