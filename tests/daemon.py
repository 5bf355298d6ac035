"""Starts a real lossmond for a test: an ephemeral loopback port, a fresh
SQLite file in a temporary folder, the web root of the source tree.

Only the Python standard library is used, so any python3 runs it.

LOSSMON_WRAPPER, when set, is a command put in front of the daemon, such
as "valgrind --error-exitcode=99 --leak-check=full": a daemon stopped
with SIGTERM must then exit 0, so a leak or a memory error fails the test
that stopped it.
"""
import atexit
import http.client
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

TOP_SRCDIR = os.environ.get(
    "TOP_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOSSMOND = os.environ.get("LOSSMOND",
                          os.path.join(TOP_SRCDIR, "src", "lossmond"))
WRAPPER = shlex.split(os.environ.get("LOSSMON_WRAPPER", ""))
# A wrapped daemon (valgrind) starts and stops many times slower.
SLOW = 12 if WRAPPER else 1


class DaemonError(AssertionError):
    """The daemon failed to start, or did not exit cleanly."""


class Daemon:
    """A lossmond process. Use as a context manager or call start/stop."""

    def __init__(self, db=None, args=(), config=None):
        self.tmp = tempfile.mkdtemp(prefix="lossmon-test-")
        # Removed when the test process ends: a later daemon of the same
        # test may reopen this one's database.
        atexit.register(shutil.rmtree, self.tmp, True)
        self.db = db or os.path.join(self.tmp, "lossmon.db")
        self.args = list(args)
        self.config = config
        self.proc = None
        self.drainer = None
        self.url = None
        self.log = []

    def start(self, timeout=10.0):
        timeout *= SLOW
        cmd = WRAPPER + [LOSSMOND, "--listen", "127.0.0.1:0", "--db", self.db,
               "--web", os.path.join(TOP_SRCDIR, "web")]
        if self.config is not None:
            path = os.path.join(self.tmp, "lossmond.conf")
            with open(path, "w") as f:
                json.dump(self.config, f)
            cmd += ["--config", path]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on (https?://\S+?)/?(\s|$)", line)
            if m:
                self.url = m.group(1)
                self.drainer = threading.Thread(target=self._drain,
                                                daemon=True)
                self.drainer.start()
                return self
        self.stop(check=False)
        raise DaemonError("lossmond did not start:\n" + "".join(self.log))

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self, check=True):
        """Stops the daemon with SIGTERM unless it already ended; with
        check, a daemon that then does not exit 0 is an error."""
        if self.proc is None:
            return None
        terminated = False
        if self.proc.poll() is None:
            terminated = True
            self.proc.terminate()
            try:
                self.proc.wait(10 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.drainer is not None:
            self.drainer.join(5)
            self.drainer = None
        if not self.proc.stderr.closed:
            self.proc.stderr.close()
        if check and terminated and self.proc.returncode != 0:
            raise DaemonError("lossmond exited with %d after SIGTERM:\n%s"
                              % (self.proc.returncode,
                                 "".join(self.log[-60:])))
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def request(self, method, path, body=None, raw=None, headers=None):
        """Returns (status, parsed JSON or text, headers)."""
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30 * SLOW) as r:
                status, text, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, text, rh = e.code, e.read(), e.headers
        ctype = rh.get("Content-Type", "")
        if ctype.startswith("application/json"):
            return status, json.loads(text), rh
        return status, text.decode("utf-8", "replace"), rh


def quote(name):
    """Percent-encodes one path segment."""
    return urllib.parse.quote(name, safe="")


# ---------------------------------------------------------------------
# HTTP helpers shared by the test suites

def _reject_constant(token):
    raise ValueError("bare %s token, which is not JSON" % token)


def strict_json(raw):
    """Parses JSON text, refusing NaN, Infinity and -Infinity tokens."""
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


class Reply:
    """A reply: status, raw bytes, headers and, for a JSON reply, the
    parsed body, or json_error when it is not valid (strict) JSON."""

    def __init__(self, method, path, status, raw, headers):
        self.method = method
        self.path = path
        self.status = status
        self.raw = raw
        self.headers = headers
        self.ctype = headers.get("Content-Type", "")
        self.body = None
        self.json_error = None
        if self.ctype.startswith("application/json") and raw:
            try:
                self.body = strict_json(raw)
            except ValueError as e:     # UnicodeDecodeError too
                self.json_error = str(e)

    def __repr__(self):
        text = self.raw[:600].decode("utf-8", "replace")
        return "%s %s -> %d %s" % (self.method, self.path[:200],
                                   self.status, text)


class Client:
    """Sends requests with exactly the path given, over TLS when the
    daemon's address is https (with the given SSL context), with a
    bearer token when given one.  A keep-alive client holds one
    connection, as a training job's client would; after an error it
    opens a new one for the next request."""

    def __init__(self, d, keep_alive=False, timeout=60, context=None,
                 token=None):
        u = urllib.parse.urlsplit(d.url)
        self.host, self.port, self.scheme = u.hostname, u.port, u.scheme
        self.keep_alive = keep_alive
        self.timeout = timeout * SLOW
        self.context = context
        self.token = token
        self.conn = None

    def _connect(self):
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, context=self.context,
                timeout=self.timeout)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout)

    def request(self, method, path, body=None, raw=None, headers=None,
                token=None):
        hdrs = dict(headers or {})
        token = token if token is not None else self.token
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.request(method, path, body=data, headers=hdrs)
            r = self.conn.getresponse()
            reply = Reply(method, path, r.status, r.read(), r.headers)
        except BaseException:
            self.close()
            raise
        if not self.keep_alive:
            self.close()
        return reply

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_path(run, sub=""):
    """The API path of a run, its name percent-encoded as one segment."""
    return "/api/v1/runs/" + quote(run) + sub


# ---------------------------------------------------------------------
# One daemon shared by the tests of a module

_shared = None


def setUpModule():
    """Starts the module's shared daemon; a test module imports this
    and tearDownModule from here."""
    global _shared
    _shared = Daemon().start()


def tearDownModule():
    if _shared is not None:
        _shared.stop()


class SharedDaemonTest(unittest.TestCase):
    """A test against the module's shared daemon (self.d), with a client
    (self.api).  A daemon that died during a test is a defect of that
    test's requests, whatever the test itself checked."""
    maxDiff = 4000
    _counter = 0

    def setUp(self):
        self.d = _shared
        self.api = Client(self.d)

    def run_name(self, tag=""):
        """A run name of its own for each call, after the test."""
        SharedDaemonTest._counter += 1
        base = self._testMethodName.replace("test_", "", 1)[:60]
        return "%s%s-%d" % (base, tag, SharedDaemonTest._counter)

    def call(self, method, path, body=None, raw=None, headers=None):
        """A request whose JSON reply, if any, must be valid JSON."""
        r = self.api.request(method, path, body=body, raw=raw,
                             headers=headers)
        if r.json_error is not None:
            self.fail("reply is not valid JSON (%s): %r" % (r.json_error, r))
        return r

    def tearDown(self):
        if _shared.proc.poll() is not None:
            self.fail("lossmond exited with %s; its log:\n%s"
                      % (_shared.proc.returncode,
                         "".join(_shared.log[-30:])))


def shared():
    """The module's shared daemon."""
    return _shared
