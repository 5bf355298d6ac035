#!/usr/bin/env python3
"""Security of lossmond, tested against the real daemon: the loopback
default, bearer tokens, TLS, the headers of the dashboard and the API,
CORS, requests that try to leave the web root, and the exposure of the
systemd unit.

Every test talks over loopback to a lossmond that tests/daemon.py
starts on an ephemeral port with its own SQLite file; tokens,
certificates and web roots are made in temporary folders.

    LOSSMOND=src/lossmond TOP_SRCDIR=. python3 tests/security_test.py

Standard library only, plus openssl(1) to make a self-signed
certificate and systemd-analyze(1) to rate the unit (each test is
skipped when its tool is missing).  Exit status 0 when all tests pass,
1 when one fails, 99 when there is no daemon to test.
"""
import http.client
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon  # noqa: E402  (tests/daemon.py, next to this file)

REALM = 'Bearer realm="lossmon"'


def figures(what, **numbers):
    text = ", ".join("%s=%s" % kv for kv in numbers.items())
    print("security_test: %s: %s" % (what, text), file=sys.stderr)


def scratch():
    """A temporary folder removed when the tests end."""
    path = tempfile.mkdtemp(prefix="lossmon-sec-")
    unittest.addModuleCleanup(shutil.rmtree, path, True)
    return path


# ---------------------------------------------------------------------
# HTTP helpers

from daemon import Client, run_path  # noqa: E402


def raw_request(host, port, target, method="GET"):
    """Sends a request line exactly as given (no normalisation at all)
    and returns (status, headers, body); status 0 when the daemon closed
    the connection without an answer."""
    s = socket.create_connection((host, port), timeout=30)
    try:
        s.sendall(b"%s %s HTTP/1.1\r\nHost: lossmon\r\nConnection: close"
                  b"\r\n\r\n" % (method.encode(), target))
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if not data:
        return 0, b"", b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def unverified_context():
    """TLS without checking the certificate, as curl -k does."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def token_file(folder, name, token):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path


class SecurityTest(unittest.TestCase):
    maxDiff = 4000

    def start(self, **kw):
        d = daemon.Daemon(**kw).start()
        self.addCleanup(d.stop)
        return d

    def assertUnauthorized(self, r, token=None):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers.get("WWW-Authenticate"), REALM, r)
        if r.method != "HEAD":
            self.assertEqual(r.body["error"]["code"], "unauthorized", r)
        if token:
            self.assertNotIn(token.encode(), r.raw)

    def assertAlive(self, api):
        r = api.request("GET", "/healthz")
        self.assertEqual(r.status, 200, r)


# ---------------------------------------------------------------------
# The address it listens on

class BindTest(SecurityTest):

    def test_default_listen_is_loopback(self):
        """Without --listen the daemon takes the documented default,
        which the log names whether the port was free or not."""
        tmp = scratch()
        proc = subprocess.Popen(
            [daemon.LOSSMOND, "--db", os.path.join(tmp, "x.db"), "--web",
             os.path.join(daemon.TOP_SRCDIR, "web")],
            stderr=subprocess.PIPE, text=True, errors="replace")
        lines = []
        # Whatever happens, the daemon is gone after half a minute.
        timer = threading.Timer(30, proc.kill)
        timer.start()
        try:
            for line in proc.stderr:
                lines.append(line)
                if "listening on" in line or "cannot listen" in line:
                    break
        finally:
            timer.cancel()
            proc.terminate()
            proc.wait(30)
            proc.stderr.close()
        log = "".join(lines)
        m = re.search(r"listening on http://(\S+?)/|cannot listen on (\S+)",
                      log)
        self.assertIsNotNone(m, log)
        self.assertEqual(m.group(1) or m.group(2), "127.0.0.1:8080", log)

    def test_documented_default_is_loopback(self):
        with open(os.path.join(daemon.TOP_SRCDIR, "README.md")) as f:
            readme = f.read()
        row = [line for line in readme.splitlines()
               if line.startswith("| `listen`")]
        self.assertEqual(len(row), 1, "README has no row for listen")
        self.assertIn("`127.0.0.1:8080`", row[0])
        conf = os.path.join(daemon.TOP_SRCDIR, "examples", "lossmond.conf")
        with open(conf) as f:
            text = f.read()
        self.assertRegex(text, r'\n\s*"listen":\s*"127\.0\.0\.1:\d+"')
        self.assertNotIn("0.0.0.0", text)

    def test_bound_to_the_address_only(self):
        d = self.start()
        port = urllib.parse.urlsplit(d.url).port
        self.assertAlive(Client(d))
        # Another loopback address of this machine: nothing listens.
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=10)


# ---------------------------------------------------------------------
# Bearer tokens

class TokenTest(SecurityTest):

    def tokens(self, read=True, write=True):
        tmp = scratch()
        conf, toks = {}, {}
        if read:
            toks["read"] = "r-" + secrets.token_urlsafe(24)
            conf["read_token_file"] = token_file(tmp, "read", toks["read"])
        if write:
            toks["write"] = "w-" + secrets.token_urlsafe(24)
            conf["write_token_file"] = token_file(tmp, "write",
                                                  toks["write"])
        return conf, toks

    def test_read_and_write_tokens(self):
        conf, tok = self.tokens()
        d = self.start(config=conf)
        api = Client(d)
        reads = ["/api/v1/runs", run_path("r"), run_path("r", "/metrics"),
                 run_path("r", "/history?metric=mse")]
        writes = [("PUT", run_path("r"), {}),
                  ("POST", run_path("r", "/batches"),
                   {"step": 0, "predictions": [2], "targets": [0]}),
                  ("POST", run_path("r", "/scalars"),
                   {"step": 0, "values": {"lr": 1}}),
                  ("DELETE", run_path("r"), None)]

        # Nothing without a token; the read token does not write.
        for path in reads:
            with self.subTest(path=path):
                self.assertUnauthorized(api.request("GET", path))
                self.assertUnauthorized(api.request("HEAD", path))
        for method, path, body in writes:
            for t in (None, tok["read"]):
                with self.subTest(method=method, path=path, token=t):
                    r = api.request(method, path, body, token=t)
                    self.assertUnauthorized(r, tok["write"])
        r = api.request("GET", "/api/v1/runs", token=tok["read"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"runs": []})

        # The write token writes, and both tokens read.
        for method, path, body in writes[:3]:
            r = api.request(method, path, body, token=tok["write"])
            self.assertIn(r.status, (200, 201), r)
        for path in reads:
            for t in (tok["read"], tok["write"]):
                r = api.request("GET", path, token=t)
                self.assertEqual(r.status, 200, r)
        r = api.request("DELETE", run_path("r"), token=tok["write"])
        self.assertEqual(r.status, 200, r)

        # What needs no token.
        for path in ("/healthz", "/", "/index.html", "/app.js"):
            r = api.request("GET", path)
            self.assertEqual(r.status, 200, r)

    def test_near_misses(self):
        conf, tok = self.tokens()
        d = self.start(config=conf)
        api = Client(d)
        w = tok["write"]
        flip = {"a": "b", "b": "a"}

        def changed(i):
            c = w[i]
            return w[:i] + flip.get(c, "a") + w[i + 1:]
        headers = ["Bearer " + changed(0), "Bearer " + changed(len(w) // 2),
                   "Bearer " + changed(len(w) - 1), "Bearer " + w[:-1],
                   "Bearer " + w[:8], "Bearer " + w + "x",
                   "Bearer " + w + w, "Bearer ", "Bearer", "Bearer  ",
                   "Basic " + w, w, "Bearer Bearer " + w,
                   "Token " + w, "Bearer " + w.upper(),
                   "Bearer " + tok["read"]]
        body = {"step": 0, "predictions": [1], "targets": [0]}
        for h in headers:
            with self.subTest(authorization=h):
                r = api.request("POST", run_path("near", "/batches"), body,
                                headers={"Authorization": h})
                self.assertUnauthorized(r, w)
        r = api.request("POST", run_path("near", "/batches") +
                        "?access_token=" + w, body)
        self.assertUnauthorized(r, w)
        r = api.request("GET", run_path("near"), token=w)
        self.assertEqual(r.status, 404, r)
        figures("tokens", near_misses_refused=len(headers) + 1)

    def test_only_a_read_token(self):
        conf, tok = self.tokens(write=False)
        d = self.start(config=conf)
        api = Client(d)
        body = {"step": 0, "predictions": [1], "targets": [0]}
        self.assertUnauthorized(api.request("GET", "/api/v1/runs"))
        self.assertUnauthorized(api.request(
            "POST", run_path("ro", "/batches"), body))
        self.assertUnauthorized(api.request(
            "POST", run_path("ro", "/batches"), body,
            token=tok["read"] + "x"))
        # With a read token alone, it guards writes too.
        r = api.request("POST", run_path("ro", "/batches"), body,
                        token=tok["read"])
        self.assertEqual(r.status, 200, r)
        r = api.request("GET", run_path("ro"), token=tok["read"])
        self.assertEqual(r.status, 200, r)
        self.assertAlive(api)

    def test_only_a_write_token(self):
        conf, tok = self.tokens(read=False)
        d = self.start(config=conf)
        api = Client(d)
        body = {"step": 0, "predictions": [1], "targets": [0]}
        self.assertUnauthorized(api.request(
            "POST", run_path("wo", "/batches"), body), tok["write"])
        self.assertUnauthorized(api.request("PUT", run_path("wo"), {}))
        r = api.request("POST", run_path("wo", "/batches"), body,
                        token=tok["write"])
        self.assertEqual(r.status, 200, r)
        # Reads stay open when no read token is configured.
        r = api.request("GET", run_path("wo", "/history?metric=mse"))
        self.assertEqual(r.status, 200, r)
        self.assertUnauthorized(api.request("DELETE", run_path("wo")))
        r = api.request("GET", run_path("wo"))
        self.assertEqual(r.status, 200, r)

    def test_bad_token_files_refuse_to_start(self):
        tmp = scratch()
        cases = {
            "short": token_file(tmp, "short", "x" * 15),
            "empty": token_file(tmp, "empty", ""),
            "space": token_file(tmp, "space", "abcdefgh ijklmnop"),
            "missing": os.path.join(tmp, "no-such-file"),
        }
        for what, path in cases.items():
            for key in ("read_token_file", "write_token_file"):
                with self.subTest(what=what, key=key):
                    d = daemon.Daemon(config={key: path})
                    with self.assertRaises(daemon.DaemonError):
                        d.start()
                    self.assertNotEqual(d.proc.returncode, 0)
                    self.assertIn(path, "".join(d.log))


# ---------------------------------------------------------------------
# TLS

class TlsTest(SecurityTest):

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("no openssl to make a certificate")
        cls.tmp = scratch()
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        cls.make_cert(cls.cert, cls.key)

    @classmethod
    def make_cert(cls, cert, key):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-subj", "/CN=localhost", "-days", "1",
                        "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cert],
                       check=True, capture_output=True)

    def test_https(self):
        d = self.start(config={"tls_cert": self.cert, "tls_key": self.key})
        self.assertTrue(d.url.startswith("https://127.0.0.1:"), d.url)
        unverified = unverified_context()
        # Verified against the configured certificate: it is the one
        # the daemon presents.
        verified = ssl.create_default_context(cafile=self.cert)
        for ctx in (unverified, verified):
            api = Client(d, context=ctx)
            self.assertAlive(api)
            r = api.request("POST", run_path("tls", "/batches"),
                            {"step": 0, "predictions": [3],
                             "targets": [0]})
            self.assertEqual(r.status, 200, r)
            r = api.request("GET", run_path("tls", "/history?metric=mse"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual([p[:2] for p in r.body["points"]], [[0, 9]])
            r = api.request("GET", "/")
            self.assertEqual(r.status, 200, r)
            self.assertIn("default-src", r.headers.get(
                "Content-Security-Policy", ""))
            api.request("DELETE", run_path("tls"))
        # Another certificate authority does not trust it.
        other = ssl.create_default_context()
        with self.assertRaises(ssl.SSLError):
            Client(d, context=other).request("GET", "/healthz")

    def test_plain_http_to_the_tls_port_fails(self):
        d = self.start(config={"tls_cert": self.cert, "tls_key": self.key})
        u = urllib.parse.urlsplit(d.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            status, raw = r.status, r.read()
        except (OSError, http.client.HTTPException) as e:
            status, raw = None, repr(e).encode()
        finally:
            conn.close()
        self.assertNotEqual(status, 200, raw)
        self.assertNotIn(b'"ok"', raw)
        self.assertAlive(Client(d, context=unverified_context()))

    def test_tls_with_tokens(self):
        tmp = scratch()
        tok = "w-" + secrets.token_urlsafe(24)
        d = self.start(config={"tls_cert": self.cert, "tls_key": self.key,
                               "write_token_file": token_file(tmp, "w",
                                                              tok)})
        api = Client(d, context=unverified_context())
        self.assertUnauthorized(api.request("PUT", run_path("t"), {}))
        r = api.request("PUT", run_path("t"), {}, token=tok)
        self.assertEqual(r.status, 201, r)

    def test_bad_tls_settings_refuse_to_start(self):
        tmp = scratch()
        other_cert = os.path.join(tmp, "other-cert.pem")
        other_key = os.path.join(tmp, "other-key.pem")
        self.make_cert(other_cert, other_key)
        garbage = os.path.join(tmp, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a key\n")
        cases = {
            "cert without key": {"tls_cert": self.cert},
            "key without cert": {"tls_key": self.key},
            "missing key": {"tls_cert": self.cert,
                            "tls_key": os.path.join(tmp, "none.pem")},
            "missing cert": {"tls_cert": os.path.join(tmp, "none.pem"),
                             "tls_key": self.key},
            "key of another cert": {"tls_cert": self.cert,
                                    "tls_key": other_key},
            "garbage key": {"tls_cert": self.cert, "tls_key": garbage},
        }
        for what, conf in cases.items():
            with self.subTest(what):
                d = daemon.Daemon(config=conf)
                with self.assertRaises(daemon.DaemonError):
                    d.start()
                self.assertNotEqual(d.proc.returncode, 0)


# ---------------------------------------------------------------------
# Headers and CORS

def csp_directives(value):
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


class HeaderTest(SecurityTest):

    STATIC = {"/": "text/html", "/index.html": "text/html",
              "/app.js": "text/javascript", "/style.css": "text/css",
              "/vendor/uPlot.iife.min.js": "text/javascript",
              "/vendor/uPlot.min.css": "text/css"}

    def test_static_files(self):
        d = self.start()
        api = Client(d)
        for path, ctype in self.STATIC.items():
            with self.subTest(path=path):
                r = api.request("GET", path)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.ctype.startswith(ctype), r.ctype)
                h = r.headers
                self.assertEqual(h.get("X-Content-Type-Options"), "nosniff")
                self.assertEqual(h.get("X-Frame-Options"), "DENY")
                csp = csp_directives(h.get("Content-Security-Policy", ""))
                self.assertEqual(csp.get("default-src"), ["'self'"], csp)
                self.assertEqual(csp.get("frame-ancestors"), ["'none'"],
                                 csp)
                for directive in ("script-src", "style-src",
                                  "connect-src"):
                    for src in csp.get(directive, ["'self'"]):
                        self.assertNotIn(src, ("*", "'unsafe-inline'",
                                               "'unsafe-eval'", "data:",
                                               "http:", "https:"),
                                         "%s %s" % (directive, src))
                self.assertNotIn("Access-Control-Allow-Origin", h)

    def test_dashboard_fits_its_policy(self):
        """Inline scripts, handlers and style attributes would be
        blocked by the policy: the page must not need them."""
        with open(os.path.join(daemon.TOP_SRCDIR, "web",
                               "index.html")) as f:
            html = f.read()
        for script in re.findall(r"<script\b[^>]*>", html, re.I):
            self.assertRegex(script, r'\bsrc="[^"]+"', script)
        self.assertNotRegex(html, r"(?i)\son[a-z]+\s*=")
        self.assertNotRegex(html, r"(?i)\sstyle\s*=")
        self.assertNotRegex(html, r"(?i)<style\b")
        self.assertNotRegex(html, r"(?i)javascript:")

    def test_api_replies(self):
        d = self.start()
        api = Client(d)
        for method, path, body in (
                ("GET", "/api/v1/runs", None),
                ("PUT", run_path("h"), {}),
                ("GET", run_path("nope"), None),
                ("POST", run_path("h", "/batches"), {"step": -1}),
                ("GET", "/healthz", None),
                ("GET", "/api/v1/nope", None)):
            with self.subTest(method=method, path=path):
                r = api.request(method, path, body)
                self.assertTrue(r.ctype.startswith("application/json"), r)
                self.assertEqual(r.headers.get("X-Content-Type-Options"),
                                 "nosniff", r)
                self.assertNotIn("Access-Control-Allow-Origin", r.headers)


class CorsTest(SecurityTest):

    ORIGIN = "https://dash.example"
    EVIL = "https://evil.example"

    def preflight(self, api, path, origin):
        return api.request("OPTIONS", path, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})

    def test_no_cors_by_default(self):
        d = self.start()
        api = Client(d)
        for origin in (self.ORIGIN, self.EVIL, "null"):
            with self.subTest(origin=origin):
                for path in ("/api/v1/runs", run_path("x"), "/healthz",
                             "/"):
                    r = api.request("GET", path, headers={"Origin": origin})
                    self.assertNotIn("Access-Control-Allow-Origin",
                                     r.headers, r)
                r = self.preflight(api, run_path("x", "/batches"), origin)
                self.assertNotEqual(r.status, 204, r)
                self.assertGreaterEqual(r.status, 400, r)
                for h in ("Access-Control-Allow-Origin",
                          "Access-Control-Allow-Methods",
                          "Access-Control-Allow-Headers"):
                    self.assertNotIn(h, r.headers, r)

    def test_configured_origin(self):
        tmp = scratch()
        tok = "w-" + secrets.token_urlsafe(24)
        d = self.start(config={"cors_origin": self.ORIGIN,
                               "write_token_file": token_file(tmp, "w",
                                                              tok)})
        api = Client(d)
        for origin in (self.ORIGIN, self.EVIL):
            with self.subTest(origin=origin):
                r = api.request("GET", "/api/v1/runs",
                                headers={"Origin": origin})
                self.assertEqual(r.status, 200, r)
                # The configured origin, never the one asked for.
                self.assertEqual(r.headers.get(
                    "Access-Control-Allow-Origin"), self.ORIGIN)
        # A preflight carries no credentials, so it needs no token.
        r = self.preflight(api, run_path("c", "/batches"), self.ORIGIN)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"),
                         self.ORIGIN)
        methods = {m.strip() for m in r.headers.get(
            "Access-Control-Allow-Methods", "").split(",")}
        self.assertLessEqual({"GET", "PUT", "POST", "DELETE"}, methods)
        allowed = {h.strip().lower() for h in r.headers.get(
            "Access-Control-Allow-Headers", "").split(",")}
        self.assertLessEqual({"authorization", "content-type"}, allowed)
        r = api.request("POST", run_path("c", "/batches"),
                        {"step": 0, "predictions": [1], "targets": [0]},
                        headers={"Origin": self.ORIGIN}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"),
                         self.ORIGIN)
        self.assertUnauthorized(api.request(
            "POST", run_path("c", "/batches"),
            {"step": 1, "predictions": [1], "targets": [0]},
            headers={"Origin": self.ORIGIN}))


# ---------------------------------------------------------------------
# Requests that try to leave the web root

class TraversalTest(SecurityTest):

    def setUp(self):
        tmp = scratch()
        self.marker = "outside-" + secrets.token_hex(16)
        outside = os.path.join(tmp, "outside")
        os.mkdir(outside)
        with open(os.path.join(outside, "secret.txt"), "w") as f:
            f.write(self.marker + "\n")
        self.root = os.path.join(tmp, "web")
        shutil.copytree(os.path.join(daemon.TOP_SRCDIR, "web"), self.root)
        os.mkdir(os.path.join(self.root, "sub"))
        with open(os.path.join(self.root, "sub", "page.html"), "w") as f:
            f.write("<p>inside the root</p>\n")
        with open(os.path.join(self.root, ".secret"), "w") as f:
            f.write(self.marker + " dotfile\n")
        links = {"leak.txt": os.path.join(outside, "secret.txt"),
                 "linked": outside, "passwd": "/etc/passwd", "up": "..",
                 "rel.txt": "../outside/secret.txt"}
        for name, target in links.items():
            os.symlink(target, os.path.join(self.root, name))
        with open("/etc/passwd", "rb") as f:
            self.passwd = f.read()[:64]

    def inside(self, raw):
        """Whether raw is the content of a file really in the root."""
        real = os.path.realpath(self.root)
        for dirpath, dirs, files in os.walk(self.root):
            for f in files:
                path = os.path.join(dirpath, f)
                if not os.path.realpath(path).startswith(real + os.sep):
                    continue
                if os.path.basename(path).startswith("."):
                    continue
                with open(path, "rb") as fh:
                    if fh.read() == raw:
                        return True
        return False

    def test_requests_stay_in_the_web_root(self):
        d = self.start(args=["--web", self.root])
        u = urllib.parse.urlsplit(d.url)
        r = raw_request(u.hostname, u.port, b"/sub/page.html")
        self.assertEqual(r[0], 200, "the copy is not the web root served")
        targets = [
            b"/leak.txt", b"/linked/secret.txt", b"/passwd",
            b"/up/outside/secret.txt", b"/rel.txt", b"/.secret",
            b"/%2esecret", b"/sub/../.secret",
            b"/../outside/secret.txt", b"/%2e%2e/outside/secret.txt",
            b"/%2E%2E/outside/secret.txt", b"/.%2e/outside/secret.txt",
            b"/..%2foutside%2fsecret.txt", b"/%2e%2e%2foutside/secret.txt",
            b"/sub/../../outside/secret.txt",
            b"/sub/%2e%2e/%2e%2e/outside/secret.txt",
            b"/sub/..%2f..%2foutside/secret.txt",
            b"/%252e%252e/outside/secret.txt",
            b"/%c0%ae%c0%ae/outside/secret.txt",
            b"/..\\outside\\secret.txt", b"/..%5coutside%5csecret.txt",
            b"/%5c..%5c..%5coutside%5csecret.txt",
            b"/....//outside/secret.txt", b"/.../outside/secret.txt",
            b"/" + b"../" * 30 + b"etc/passwd",
            b"/" + b"%2e%2e/" * 30 + b"etc/passwd",
            b"//etc/passwd", b"/%2fetc%2fpasswd", b"/etc/passwd",
            b"/index.html%00/../../outside/secret.txt",
            b"/index.html/../../outside/secret.txt",
            b"../outside/secret.txt", b"outside/secret.txt",
            b"http://lossmon/../outside/secret.txt",
            b"http://lossmon/%2e%2e/outside/secret.txt",
            b"/up", b"/up/", b"/linked/", b"/sub/%2e%2e/%2e%2e/etc/passwd",
        ]
        served = 0
        for target in targets:
            for method in ("GET", "HEAD"):
                with self.subTest(target=target, method=method):
                    status, head, body = raw_request(u.hostname, u.port,
                                                     target, method)
                    self.assertLess(status, 500, head)
                    self.assertNotIn(self.marker.encode(), body)
                    self.assertNotIn(self.passwd, body)
                    if status == 200 and method == "GET":
                        served += 1
                        self.assertTrue(self.inside(body), target)
        self.assertAlive(Client(d))
        figures("traversal", targets=len(targets),
                answered_200_inside_root=served)

    def test_names_are_data_not_paths(self):
        d = self.start(args=["--web", self.root])
        api = Client(d)
        names = ["../../outside/secret.txt", "..", "/etc/passwd",
                 "..\\..\\x", "%2e%2e", ".secret"]
        for name in names:
            with self.subTest(name=name):
                r = api.request("PUT", run_path(name), {})
                self.assertEqual(r.status, 201, r)
                r = api.request("GET", run_path(name))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["name"], name)
                self.assertNotIn(self.marker.encode(), r.raw)
        r = api.request("GET", "/api/v1/runs")
        self.assertEqual(sorted(x["name"] for x in r.body["runs"]),
                         sorted(names))


# ---------------------------------------------------------------------
# The systemd unit

class SystemdTest(SecurityTest):

    def test_unit_exposure(self):
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("no systemd-analyze")
        builddir = os.path.dirname(os.path.dirname(
            os.path.abspath(daemon.LOSSMOND)))
        unit = os.path.join(builddir, "systemd", "lossmond.service")
        self.assertTrue(os.path.exists(unit), "%s is not built" % unit)
        proc = subprocess.run([tool, "security", "--offline=true",
                               "--threshold=20", unit],
                              capture_output=True, text=True, timeout=120)
        out = proc.stdout + proc.stderr
        m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)",
                      out)
        self.assertIsNotNone(m, out[-2000:])
        score = float(m.group(1))
        self.assertEqual(proc.returncode, 0, out[-2000:])
        self.assertLessEqual(score, 2.0, out[-2000:])
        figures("systemd", exposure=score)


def main():
    if not os.access(daemon.LOSSMOND, os.X_OK):
        print("security_test: no lossmond at %s (set LOSSMOND)"
              % daemon.LOSSMOND, file=sys.stderr)
        return 99
    prog = unittest.main(exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
