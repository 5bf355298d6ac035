"""The processes the benchmarks measure: lossmond and InfluxDB on
loopback, their resident memory from /proc, and a plain HTTP client.

Only the standard library is used here.
"""
import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid):
    """VmRSS and VmHWM of a process, in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def reset_peak(pid):
    """Resets VmHWM to the current VmRSS (Linux 4.0 and later)."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


class PeakSampler:
    """Samples the VmRSS of a process every few milliseconds while it
    runs, as a second witness next to VmHWM."""

    def __init__(self, pid, every=0.005):
        self.pid = pid
        self.every = every
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, memory(self.pid)["VmRSS"])
            except OSError:
                return
            time.sleep(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


class Client:
    """One keep-alive HTTP/1.1 connection; request() returns (status,
    body bytes, seconds from sending to the last byte read)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port,
                                               timeout=600)

    def request(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if body is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data, time.perf_counter() - t0

    def close(self):
        self.conn.close()


class Lossmond:
    """A lossmond on an ephemeral loopback port, its log in a file."""

    def __init__(self, binary, web, db, log, config=None):
        self.cmd = [binary, "--listen", "127.0.0.1:0", "--db", db,
                    "--web", web]
        if config is not None:
            self.cmd += ["--config", config]
        self.log = log
        self.proc = None
        self.port = None

    def start(self, timeout=20):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(self.cmd, stderr=logf,
                                     stdout=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log) as f:
                m = re.findall(r"listening on http://127\.0\.0\.1:(\d+)",
                               f.read())
            if m:
                self.port = int(m[-1])
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("lossmond did not start; see " + self.log)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


INFLUX_CONF = """\
reporting-disabled = true
bind-address = "127.0.0.1:%(rpc)d"
[meta]
  dir = "%(dir)s/meta"
[data]
  dir = "%(dir)s/data"
  wal-dir = "%(dir)s/wal"
  # 0s: the WAL is fsynced before a write is answered, as lossmond's
  # synchronous=full commits before it answers.
  wal-fsync-delay = "0s"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%(http)d"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


class Influx:
    """An influxd of Debian's influxdb package with its data, WAL and
    log in dir, on loopback ports."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.proc = None

    def start(self, timeout=30):
        if shutil.which("influxd") is None:
            raise RuntimeError("influxd not found: apt-get install influxdb")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "influxdb.conf")
        with open(conf, "w") as f:
            f.write(INFLUX_CONF % {"dir": self.dir, "http": self.port,
                                   "rpc": free_port()})
        logf = open(os.path.join(self.dir, "influxd.log"), "w")
        self.proc = subprocess.Popen(["influxd", "-config", conf],
                                     stdout=logf, stderr=logf)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = Client(self.port)
                status, _, _ = c.request("GET", "/ping")
                c.close()
                if status == 204:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("influxd did not start; see %s/influxd.log"
                           % self.dir)

    @property
    def pid(self):
        return self.proc.pid

    def query(self, q):
        from urllib.parse import urlencode
        c = Client(self.port)
        status, body, _ = c.request(
            "POST", "/query", body=urlencode({"q": q, "db": "bench"}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        c.close()
        if status != 200:
            raise RuntimeError("influx query %r: %d %s" % (q, status, body))
        return body

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
