"""The benchmark driver that bench/run starts: each scenario is one
function that measures lossmond and its baseline in the same run and
returns rows of the final table.  Figures are medians of several
repetitions; the ratio to the baseline is what to compare across runs
and machines, never one absolute time.

    bench.py --top SRCDIR --build BUILDDIR [SCENARIO...]
"""
import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from procs import (Client, Influx, Lossmond, PeakSampler, memory,
                   reset_peak)

MB = 1024 * 1024
LOSS_ROUNDS = 5
SCENARIOS = ["training", "json", "binary", "loss", "history", "runs"]

# Sizes of a full run and of a quick one (BENCH_QUICK=1).
FULL = {"clients": 8, "requests": 1500, "batch": 256,
        "json_elements": 1000000, "loss_elements": 1000000,
        "history": [1000000, 250000], "runs": 1000, "run_metrics": 20,
        "run_steps": 10}
QUICK = {"clients": 8, "requests": 100, "batch": 256,
         "json_elements": 100000, "loss_elements": 200000,
         "history": [100000, 25000], "runs": 1000, "run_metrics": 20,
         "run_steps": 2}


class Context:
    """What every scenario shares: paths, sizes, the rows and notes."""

    def __init__(self, args):
        self.top = args.top
        self.build = args.build
        self.quick = bool(os.environ.get("BENCH_QUICK"))
        self.reps = max(5, int(os.environ.get("BENCH_REPS", "5")))
        self.size = QUICK if self.quick else FULL
        self.daemon = os.path.join(self.build, "src", "lossmond")
        self.tools = os.path.join(self.build, "bench")
        self.data = os.path.join(self.tools, "data")
        os.makedirs(self.data, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="lossmon-bench-")
        self.rows = []
        self.notes = []
        self.cache = {}

    def log(self, msg):
        print("bench: " + msg, file=sys.stderr, flush=True)

    def note(self, msg):
        self.notes.append(msg)
        self.log(msg)

    def row(self, scenario, measure, figure, baseline="", ratio="",
            goal="", met=None):
        if met is None:
            met_s = "-"
        else:
            met_s = "yes" if met else "**no**"
        self.rows.append([scenario, measure, figure, baseline, ratio, goal,
                          met_s])

    def tool(self, name):
        path = os.path.join(self.tools, name)
        return path if os.access(path, os.X_OK) else None

    def run_tool(self, *argv):
        """Runs a helper of bench/ and returns its JSON output."""
        p = subprocess.run(list(argv), capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (
                os.path.basename(argv[0]), p.returncode, p.stderr.strip(),
                p.stdout.strip()))
        return json.loads(p.stdout)

    def lossmond(self, name, db=None, config=None):
        """A started lossmond with a fresh (or the given) database; its
        log is the file NAME.log in the temporary folder."""
        db = db or os.path.join(self.tmp, name + ".db")
        cfg = None
        if config is not None:
            cfg = os.path.join(self.tmp, name + ".conf")
            with open(cfg, "w") as f:
                json.dump(config, f)
        return Lossmond(self.daemon, os.path.join(self.top, "web"), db,
                        os.path.join(self.tmp, name + ".log"),
                        cfg).start()


def median(xs):
    return statistics.median(xs)


def fmt_s(s):
    if s < 0.01:
        return "%.2f ms" % (s * 1e3)
    if s < 1:
        return "%.1f ms" % (s * 1e3)
    return "%.2f s" % s


def fmt_rate(r, unit):
    if r >= 1e6:
        return "%.2f M %s/s" % (r / 1e6, unit)
    if r >= 1e4:
        return "%.0f k %s/s" % (r / 1e3, unit)
    return "%.0f %s/s" % (r, unit)


def fmt_mb(b):
    return "%.1f MB" % (b / MB)


def ratio(x):
    return "%.2fx" % x


def expect(status, body, want, what):
    if status != want:
        raise RuntimeError("%s: HTTP %d (expected %d): %s" % (
            what, status, want, body[:300]))


def batch_json(step, preds, targets):
    return json.dumps({"step": step, "predictions": preds,
                       "targets": targets}, separators=(",", ":"))


# -- training loop and memory ---------------------------------------------

def loadgen(ctx, port, path, body_file, first_step, want):
    s = ctx.size
    return ctx.run_tool(ctx.tool("loadgen"), "-p", str(port), "-c",
                        str(s["clients"]), "-n", str(s["requests"]),
                        "-s", str(first_step), "-u", path, "-b", body_file,
                        "-e", str(want), "-t",
                        "application/json" if want == 200 else
                        "text/plain; charset=utf-8")


def training_bodies(ctx):
    rng = random.Random(3)
    n = ctx.size["batch"]
    preds = [rng.gauss(0, 1) for _ in range(n)]
    targets = [rng.gauss(0, 1) for _ in range(n)]
    ours = os.path.join(ctx.tmp, "train.json")
    with open(ours, "w") as f:
        f.write(batch_json(0, preds, targets).replace('"step":0',
                                                      '"step":{step}'))
    # The values our daemon answers for the batch, as a client that
    # computed them itself would send them to InfluxDB.
    mse = sum((p - t) ** 2 for p, t in zip(preds, targets)) / n
    mae = sum(abs(p - t) for p, t in zip(preds, targets)) / n
    theirs = os.path.join(ctx.tmp, "train.line")
    with open(theirs, "w") as f:
        f.write("train,run=r{client} mse=%r,mae=%r,total=%r {step}"
                % (mse, mae, mse + mae))
    return ours, theirs


def cpu_seconds(pid):
    """User and system CPU time a process has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_influx(ctx):
    """A started InfluxDB with the database "bench", or None (noted)."""
    influx = Influx(os.path.join(ctx.tmp, "influx"))
    try:
        influx.start()
        influx.query("CREATE DATABASE bench")
        return influx
    except Exception as e:
        influx.stop()
        ctx.note("training: no InfluxDB baseline: %s" % e)
        return None


def scenario_training(ctx):
    """8 keep-alive clients posting batches with two loss terms, each
    to its own run; InfluxDB taking the same number of writes of the
    three values.  Also the daemon's memory idle and under this load."""
    if ctx.tool("loadgen") is None:
        ctx.row("training loop", "batches/s", "loadgen does not build")
        return
    s = ctx.size
    d = ctx.lossmond("training")
    influx = start_influx(ctx)
    ours, theirs, peaks, cpu = [], [], [], 0.0
    try:
        time.sleep(1.0)
        idle = memory(d.pid)["VmRSS"]
        ours_body, theirs_body = training_bodies(ctx)
        c = Client(d.port)
        reset_peak(d.pid)
        spec = json.dumps({"losses": [{"type": "mse", "weight": 1},
                                      {"type": "mae", "weight": 1}]})
        # Alternating the two keeps a drift of the machine from
        # favouring either.
        for rep in range(ctx.reps):
            for k in range(s["clients"]):
                st, body, _ = c.request(
                    "PUT", "/api/v1/runs/train-%d-%d" % (rep, k), spec)
                expect(st, body, 201, "creating a run")
            cpu0 = cpu_seconds(d.pid)
            with PeakSampler(d.pid) as sampler:
                ours.append(loadgen(ctx, d.port, "/api/v1/runs/train-%d-"
                                    "{client}/batches" % rep, ours_body, 0,
                                    200))
            cpu += cpu_seconds(d.pid) - cpu0
            peaks.append(sampler.peak)
            if influx is not None:
                theirs.append(loadgen(ctx, influx.port, "/write?db=bench",
                                      theirs_body, rep * s["requests"] + 1,
                                      204))
        hwm = memory(d.pid)["VmHWM"]
        # Every 200 was a committed step: the store holds them all.
        st, body, _ = c.request("GET", "/api/v1/runs/train-0-0/metrics")
        points = {m["name"]: m["points"] for m in json.loads(body)["metrics"]}
        if points.get("total") != s["requests"]:
            ctx.note("training: run train-0-0 holds %r total points, "
                     "expected %d" % (points.get("total"), s["requests"]))
        c.close()
        time.sleep(1.0)
        idle_after = memory(d.pid)["VmRSS"]
        influx_mem = memory(influx.pid) if influx else None
    finally:
        d.stop()
        if influx is not None:
            influx.stop()
    training_rows(ctx, ours, theirs)
    ctx.row("memory", "RSS idle (fresh start)", fmt_mb(idle), "", "",
            "< 10 MB", idle < 10 * MB)
    peak = max(hwm, max(peaks))
    ctx.row("memory", "peak RSS under the training loop (VmHWM)",
            fmt_mb(peak), "", "", "< 64 MB", peak < 64 * MB)
    requests = s["clients"] * s["requests"]
    gen = sum(r["cpu_seconds"] for r in ours) / sum(r["seconds"]
                                                   for r in ours)
    ctx.note("training: %d batches per repetition; lossmond used %.2f ms "
             "of CPU per batch; the load generator used %.0f%% of one "
             "core (so it is not the bottleneck); lossmond RSS idle again "
             "after the load %s" % (requests, cpu / (requests * ctx.reps)
                                    * 1e3, gen * 100, fmt_mb(idle_after)))
    if influx_mem is not None:
        ctx.note("training: InfluxDB RSS after its load %s (peak %s)"
                 % (fmt_mb(influx_mem["VmRSS"]),
                    fmt_mb(influx_mem["VmHWM"])))
    ctx.note("training: per repetition, lossmond batches/s %s; InfluxDB "
             "writes/s %s" % ([round(r["rps"]) for r in ours],
                              [round(r["rps"]) for r in theirs]))


def training_rows(ctx, ours, theirs):
    s = ctx.size
    rps = median([r["rps"] for r in ours])
    p50 = median([r["p50_ms"] for r in ours])
    p99 = median([r["p99_ms"] for r in ours])
    what = "%d clients, %d-element batches, mse+mae" % (s["clients"],
                                                        s["batch"])
    if not theirs:
        ctx.row("training loop", "batches/s (%s)" % what, "%.0f" % rps,
                "no InfluxDB", "", "> InfluxDB (> 1x)", False)
        ctx.row("training loop", "p50 latency", "%.2f ms" % p50)
        ctx.row("training loop", "p99 latency", "%.2f ms" % p99, "", "",
                "< 2 ms", p99 < 2.0)
        return
    irps = median([r["rps"] for r in theirs])
    ip50 = median([r["p50_ms"] for r in theirs])
    ip99 = median([r["p99_ms"] for r in theirs])
    ctx.row("training loop", "batches/s (%s)" % what, "%.0f" % rps,
            "InfluxDB %.0f writes/s" % irps, ratio(rps / irps),
            "> InfluxDB (> 1x)", rps > irps)
    ctx.row("training loop", "p50 latency", "%.2f ms" % p50,
            "InfluxDB %.2f ms" % ip50, ratio(p50 / ip50))
    ctx.row("training loop", "p99 latency", "%.2f ms" % p99,
            "InfluxDB %.2f ms" % ip99, ratio(p99 / ip99), "< 2 ms",
            p99 < 2.0)


# -- big JSON batch -------------------------------------------------------

def big_json(ctx):
    """The body of a batch of n predictions and n targets (random
    doubles, written as Python writes them), cached by size."""
    n = ctx.size["json_elements"]
    path = os.path.join(ctx.data, "batch-%d.json" % n)
    if not os.path.exists(path):
        rng = random.Random(11)
        preds = [rng.gauss(0, 1) for _ in range(n)]
        targets = [rng.gauss(0, 1) for _ in range(n)]
        with open(path + ".tmp", "w") as f:
            f.write(batch_json(0, preds, targets))
        os.rename(path + ".tmp", path)
    return path


def fresh_peak(ctx, name, request, db=None):
    """The peak resident memory of one request on a daemon that had
    just started, above what it then held: the median over fresh
    daemons, so that what one request left allocated (glibc keeps
    freed memory in per-thread arenas) does not count for the next."""
    peaks = []
    for rep in range(ctx.reps):
        d = ctx.lossmond("%s-mem%d" % (name, rep), db=db)
        try:
            idle = memory(d.pid)["VmRSS"]
            reset_peak(d.pid)
            with PeakSampler(d.pid) as sampler:
                request(d, rep)
            peaks.append(max(memory(d.pid)["VmHWM"], sampler.peak) - idle)
        finally:
            d.stop()
    return median(peaks)


def big_posts(ctx, name, body, headers, what):
    """Posts big bodies to one run: (median seconds end to end after one
    post to warm up, peak RSS of one post above idle, the RSS the warm
    daemon kept when the posts were done)."""
    def post(d, rep):
        c = Client(d.port)
        st, reply, t = c.request("POST", "/api/v1/runs/big/batches",
                                 body(rep), headers)
        c.close()
        expect(st, reply, 200, what)
        return t

    d = ctx.lossmond(name)
    try:
        times = [post(d, rep) for rep in range(ctx.reps + 1)][1:]
        kept = memory(d.pid)["VmRSS"]
    finally:
        d.stop()
    return median(times), fresh_peak(ctx, name, post), kept


def json_path(ctx):
    """The JSON path's figures, measured once per run and shared."""
    if "json" in ctx.cache:
        return ctx.cache["json"]
    path = big_json(ctx)
    with open(path, "rb") as f:
        text = f.read()
    rest = text[len(b'{"step":0'):]
    secs, grown, kept = big_posts(
        ctx, "json", lambda rep: b'{"step":%d' % rep + rest,
        {"Content-Type": "application/json"}, "the big JSON batch")
    ctx.cache["json"] = (path, len(text), secs, grown, kept)
    return ctx.cache["json"]


def scenario_json(ctx):
    """One batch of n predictions and targets as JSON, against cJSON
    parsing the same bytes alone."""
    n = ctx.size["json_elements"]
    path, size, secs, grown, kept = json_path(ctx)
    if ctx.tool("cjson_parse") is None:
        base = None
    else:
        base = ctx.run_tool(ctx.tool("cjson_parse"), str(ctx.reps), path)
    what = "%s predictions + targets, %s body" % (f"{n:,}", fmt_mb(size))
    if base is None:
        ctx.row("big JSON batch", "seconds end to end (%s)" % what,
                fmt_s(secs), "cjson_parse does not build")
    else:
        r = secs / base["seconds"]
        ctx.row("big JSON batch", "seconds end to end (%s)" % what,
                fmt_s(secs), "cJSON parse alone %s" % fmt_s(base["seconds"]),
                ratio(r), "<= 1.3x", r <= 1.3)
        ctx.note("json: cJSON's tree of this body takes %s of memory "
                 "(%.1fx the body)" % (fmt_mb(base["tree_rss"]),
                                       base["tree_rss"] / size))
    ctx.row("big JSON batch", "peak memory (RSS of one request above "
            "idle)", fmt_mb(grown), "body %s" % fmt_mb(size),
            ratio(grown / size), "<= 4x the body", grown <= 4 * size)
    ctx.row("memory", "RSS kept after %d big JSON batches" % (ctx.reps + 1),
            fmt_mb(kept))


# -- binary batch ---------------------------------------------------------

BOUNDARY = "lossmon-bench-7d1e0c"


def npy_bytes(array):
    import io
    import numpy as np
    f = io.BytesIO()
    np.save(f, np.ascontiguousarray(array), allow_pickle=False)
    return f.getvalue()


def multipart(step, preds, targets):
    """The documented binary form of a batch: multipart/form-data with a
    part "batch" holding the JSON object without the arrays, and .npy
    file parts "predictions" and "targets"."""
    parts = []
    for name, data, fname in (("batch", json.dumps({"step": step}).encode(),
                               None),
                              ("predictions", npy_bytes(preds),
                               "predictions.npy"),
                              ("targets", npy_bytes(targets),
                               "targets.npy")):
        head = "--%s\r\nContent-Disposition: form-data; name=\"%s\"" % (
            BOUNDARY, name)
        if fname:
            head += "; filename=\"%s\"\r\nContent-Type: " \
                    "application/octet-stream" % fname
        parts.append(head.encode() + b"\r\n\r\n" + data + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % BOUNDARY).encode()
    return body, {"Content-Type": "multipart/form-data; boundary=" +
                  BOUNDARY}


def binary_probe(ctx, d):
    """None when the API takes the binary form (checked on a batch whose
    loss is known), else why not."""
    import numpy as np
    body, headers = multipart(0, np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    c = Client(d.port)
    st, reply, _ = c.request("POST", "/api/v1/runs/probe/batches", body,
                             headers)
    c.close()
    if st != 200:
        return "HTTP %d: %s" % (st, reply[:160].decode("utf-8", "replace"))
    got = json.loads(reply).get("losses", {}).get("mse")
    if got != 2.5:
        return "answered mse %r for a batch whose mse is 2.5" % got
    return None


def scenario_binary(ctx):
    """The same batch as .npy arrays, against the JSON path."""
    import numpy as np
    n = ctx.size["json_elements"]
    path, size, jsecs, _, _ = json_path(ctx)
    with open(path) as f:
        doc = json.load(f)
    preds = np.array(doc["predictions"], dtype=np.float64)
    targets = np.array(doc["targets"], dtype=np.float64)
    jrate = n / jsecs
    d = ctx.lossmond("binary")
    try:
        why = binary_probe(ctx, d)
    finally:
        d.stop()
    if why is not None:
        ctx.row("binary batch", "elements/s, .npy parts (%s)" % f"{n:,}",
                "not supported", "JSON path %s" % fmt_rate(jrate,
                                                           "elements"),
                "", ">= 10x", False)
        ctx.note("binary: the API refused multipart/form-data with a"
                 " \"batch\" part and \"predictions\"/\"targets\" .npy "
                 "parts: " + why)
        return
    for dtype in (np.float64, np.float32):
        p, t = preds.astype(dtype), targets.astype(dtype)
        secs, grown, _ = big_posts(
            ctx, "binary-" + np.dtype(dtype).name,
            lambda rep: multipart(rep, p, t)[0],
            multipart(0, p[:1], t[:1])[1], "the binary batch")
        rate = n / secs
        ctx.row("binary batch", "elements/s, %s .npy parts (%s)"
                % (np.dtype(dtype).name, f"{n:,}"),
                fmt_rate(rate, "elements"),
                "JSON path %s" % fmt_rate(jrate, "elements"),
                ratio(rate / jrate), ">= 10x", rate >= 10 * jrate)
        ctx.note("binary: %s peak RSS of one request above idle %s"
                 % (np.dtype(dtype).name, fmt_mb(grown)))


# -- loss engine ----------------------------------------------------------

def loss_types(ctx):
    """[(type, [fields it takes])] as the built engine lists them."""
    out = subprocess.run([ctx.tool("loss_bench"), "--list"], check=True,
                         capture_output=True, text=True).stdout
    return [(w[0], w[1:]) for w in (line.split() for line in
                                    out.splitlines()) if w]


def scenario_loss(ctx):
    """loss_batch() of every type against PyTorch on the same arrays."""
    if ctx.tool("loss_bench") is None:
        ctx.row("loss engine", "elements/s per loss",
                "loss_bench does not build against src/loss.h", "", "",
                ">= PyTorch", False)
        return
    import torch_losses
    n = ctx.size["loss_elements"]
    reps = max(ctx.reps, 11)
    for name, fields in loss_types(ctx):
        if name not in torch_losses.LOSSES:
            ctx.row("loss engine", name, "no PyTorch reference in "
                    "bench/torch_losses.py", "", "", ">= PyTorch", False)
            continue
        arrays = torch_losses.inputs(name, n)
        args = []
        for field, a in arrays.items():
            f = os.path.join(ctx.tmp, "%s-%s.bin" % (name, field))
            a.tofile(f)
            args.append("%s=%s:%s" % (field, f, "x".join(map(str,
                                                              a.shape))))
        # Rounds alternate between the two, so that a burst of load on
        # the machine does not fall on one side only.
        secs, tsecs = [], []
        for _ in range(LOSS_ROUNDS):
            ours = ctx.run_tool(ctx.tool("loss_bench"), str(reps), name,
                                *args)
            secs.append(ours["seconds"])
            t, tvalue = torch_losses.torch_time(name, arrays, reps,
                                                time.perf_counter)
            tsecs.append(t)
        ours["seconds"], tsecs = median(secs), median(tsecs)
        elems = arrays["predictions"].size
        rate, trate = elems / ours["seconds"], elems / tsecs
        ctx.row("loss engine", "%s, elements/s" % name,
                fmt_rate(rate, "el"), "PyTorch %s" % fmt_rate(trate, "el"),
                ratio(rate / trate), ">= PyTorch (>= 1x)", rate >= trate)
        if abs(ours["value"] - tvalue) > 1e-9 * max(1.0, abs(tvalue)):
            ctx.note("loss: %s gives %r, PyTorch %r on the same arrays"
                     % (name, ours["value"], tvalue))
        for f in os.listdir(ctx.tmp):
            if f.startswith(name + "-") and f.endswith(".bin"):
                os.unlink(os.path.join(ctx.tmp, f))
    ctx.note("loss: %s prediction elements per type; medians of %d "
             "rounds, each the median of %d calls after one to warm up; "
             "PyTorch %s, one thread, float64" % (
                 f"{n:,}", LOSS_ROUNDS, reps, __import__("torch").__version__))


# -- history --------------------------------------------------------------

def seed_runs(ctx, db, posts):
    """Lets lossmond create the schema and the first rows of db: posts
    is [(method, path, body)], each expected to succeed."""
    d = ctx.lossmond(os.path.basename(db)[:-3] + "-seed", db=db)
    c = Client(d.port)
    try:
        for method, path, body in posts:
            st, reply, _ = c.request(method, path, json.dumps(body))
            if st not in (200, 201):
                raise RuntimeError("seeding %s: %d %s" % (path, st, reply))
    finally:
        c.close()
        d.stop()


def metric_id(conn, run, name, split="train"):
    return conn.execute(
        "SELECT m.id FROM metrics m JOIN runs r ON m.run_id = r.id"
        " WHERE r.name = ? AND m.name = ? AND m.split = ?",
        (run, name, split)).fetchone()[0]


def history_db(ctx):
    """A database with runs hist-N whose total has steps 0..N-1 for each
    length N: lossmond writes step 0 (and so the schema); the other rows
    are inserted directly into points, as lossmond would write them."""
    db = os.path.join(ctx.tmp, "history.db")
    seed_runs(ctx, db, [("POST", "/api/v1/runs/hist-%d/batches" % n,
                         {"step": 0, "predictions": [1], "targets": [0]})
                        for n in ctx.size["history"]])
    conn = sqlite3.connect(db)
    rng = random.Random(5)
    now = time.time()
    ids = {}
    for n in ctx.size["history"]:
        mid = ids[n] = metric_id(conn, "hist-%d" % n, "total")

        def rows():
            for step in range(1, n):
                v = 1.0 / (1 + step / 1000.0) + rng.random() * 0.01
                yield (mid, step, None if step % 100003 == 0 else v,
                       now - (n - step) * 0.01)
        with conn:
            conn.executemany("INSERT INTO points (metric_id, step, value,"
                             " stats, time) VALUES (?, ?, ?, NULL, ?)",
                             rows())
            conn.execute("UPDATE runs SET last_step = ? WHERE name = ?",
                         (n - 1, "hist-%d" % n))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db, ids


def scenario_history(ctx):
    """Downsampled and full history of one metric of up to a million
    steps, against SQLite reading the metric's rows in step order."""
    t0 = time.monotonic()
    db, ids = history_db(ctx)
    ctx.log("history: database written in %.1f s" % (time.monotonic() - t0))
    peaks = {}
    for n in ctx.size["history"]:
        base = None
        if ctx.tool("sqlite_read"):
            base = ctx.run_tool(ctx.tool("sqlite_read"), str(ctx.reps),
                                db, str(ids[n]))["seconds"]
        path = "/api/v1/runs/hist-%d/history?metric=total" % n
        d = ctx.lossmond("history-%d" % n, db=db)
        c = Client(d.port)
        try:
            ds = timed_get(ctx, c, path + "&max_points=2000")
            full = timed_get(ctx, c, path)
            check_history(ctx, c, path, n)
        finally:
            c.close()
            d.stop()
        peaks[n] = fresh_peak(ctx, "history-%d" % n,
                              lambda dd, rep: export(dd, path), db=db)
        label = "downsampled to 2,000 points, %s steps" % f"{n:,}"
        against = "SQLite read of the rows %s" % fmt_s(base or 0)
        if base is None:
            ctx.row("history", label, fmt_s(ds), "sqlite_read does not "
                    "build")
        else:
            ctx.row("history", label, fmt_s(ds), against, ratio(ds / base),
                    "<= 0.5x", ds <= 0.5 * base)
        ctx.row("history", "full export, %s steps" % f"{n:,}", fmt_s(full),
                "" if base is None else against,
                "" if base is None else ratio(full / base))
    big, small = ctx.size["history"]
    ctx.row("history", "full export: peak RSS of one request above idle, "
            "%s vs %s steps" % (f"{big:,}", f"{small:,}"), "%s vs %s"
            % (fmt_mb(peaks[big]), fmt_mb(peaks[small])), "", "",
            "constant (within 2 MB)", peaks[big] <= peaks[small] + 2 * MB)


def timed_get(ctx, c, path):
    """Median seconds of a GET after one to warm up."""
    times = []
    for rep in range(ctx.reps + 1):
        st, body, t = c.request("GET", path)
        expect(st, body, 200, path)
        if rep:
            times.append(t)
    return median(times)


def check_history(ctx, c, path, n):
    """Notes a history answer that does not hold what it should."""
    st, body, _ = c.request("GET", path)
    if body.count(b"],[") + 1 != n:
        ctx.note("history: the full export of %d steps has %d points"
                 % (n, body.count(b"],[") + 1))
    st, body, _ = c.request("GET", path + "&max_points=2000")
    pts = json.loads(body)["points"]
    if not 0 < len(pts) <= 2000 or pts[0][0] != 0 or pts[-1][0] != n - 1:
        ctx.note("history: downsampled answer of %d steps has %d points"
                 " from %s to %s" % (n, len(pts), pts[0][0], pts[-1][0]))


def export(d, path):
    c = Client(d.port)
    st, body, _ = c.request("GET", path)
    c.close()
    expect(st, body, 200, "full history")


# -- many runs ------------------------------------------------------------

def runs_db(ctx):
    """A database of many runs with run_metrics metrics each (two loss
    terms, the total and scalars) of run_steps steps: lossmond writes
    the first run, the others are copies of its rows."""
    s = ctx.size
    nscalars = s["run_metrics"] - 3
    db = os.path.join(ctx.tmp, "runs.db")
    seed_runs(ctx, db, [
        ("PUT", "/api/v1/runs/run-0000", {"losses": [
            {"type": "mse", "weight": 1}, {"type": "mae", "weight": 0.5}],
            "params": {"lr": 0.01}, "tags": {"model": "mlp"}}),
        ("POST", "/api/v1/runs/run-0000/batches",
         {"step": 0, "predictions": [1, 2], "targets": [0, 1]}),
        ("POST", "/api/v1/runs/run-0000/scalars",
         {"step": 0, "values": {"s%02d" % i: i for i in range(nscalars)}})])
    conn = sqlite3.connect(db)
    run = conn.execute("SELECT id, losses, params, tags, created FROM runs"
                       " WHERE name = 'run-0000'").fetchone()
    metrics = conn.execute("SELECT m.name, m.split, m.kind, p.stats FROM"
                           " metrics m JOIN points p ON p.metric_id = m.id"
                           " WHERE m.run_id = ?", (run[0],)).fetchall()
    rng = random.Random(9)
    now = time.time()
    with conn:
        conn.execute("UPDATE runs SET last_step = ?, last_time = ? WHERE"
                     " id = ?", (s["run_steps"] - 1, now, run[0]))
        for r in range(s["runs"]):
            rid = run[0]
            if r:
                rid = conn.execute(
                    "INSERT INTO runs (name, losses, params, tags, created,"
                    " last_step, last_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ("run-%04d" % r, run[1], run[2], run[3], run[4],
                     s["run_steps"] - 1, now)).lastrowid
            for name, split, kind, stats in metrics:
                if r:
                    mid = conn.execute(
                        "INSERT INTO metrics (run_id, name, split, kind)"
                        " VALUES (?, ?, ?, ?)",
                        (rid, name, split, kind)).lastrowid
                else:
                    mid = metric_id(conn, "run-0000", name, split)
                conn.executemany(
                    "INSERT OR REPLACE INTO points (metric_id, step, value,"
                    " stats, time) VALUES (?, ?, ?, ?, ?)",
                    [(mid, step, rng.random(), stats, now)
                     for step in range(0 if r else 1, s["run_steps"])])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def scenario_runs(ctx):
    """GET /api/v1/runs of many runs with many metrics each."""
    s = ctx.size
    db = runs_db(ctx)
    d = ctx.lossmond("runs", db=db)
    c = Client(d.port)
    times = []
    try:
        for rep in range(max(ctx.reps, 10) + 1):
            st, body, t = c.request("GET", "/api/v1/runs")
            expect(st, body, 200, "the run list")
            if rep:
                times.append(t)
        got = len(json.loads(body)["runs"])
        if got != s["runs"]:
            ctx.note("runs: the list has %d runs, expected %d"
                     % (got, s["runs"]))
    finally:
        c.close()
        d.stop()
    t = median(times)
    ctx.row("many runs", "list %s runs with %d metrics each (%d steps)"
            % (f"{s['runs']:,}", s["run_metrics"], s["run_steps"]),
            fmt_s(t), "", "", "< 50 ms", t < 0.050)


# -- the table ------------------------------------------------------------

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) * 1024
    return "%d cores, %s, %.1f GB memory, %s" % (
        os.cpu_count(), model, mem / 1024 ** 3, platform.platform())


def table(ctx, elapsed):
    head = ["scenario", "measure", "figure", "baseline (same run)",
            "ratio", "goal", "met"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in ctx.rows]
    out = "\n".join(lines) + "\n\n"
    out += "Machine: %s.  %s run, medians of %d repetitions, %.0f s.\n" % (
        machine(), "Quick (BENCH_QUICK=1)" if ctx.quick else "Full",
        ctx.reps, elapsed)
    if ctx.notes:
        out += "\nNotes:\n\n" + "".join("- %s\n" % n for n in ctx.notes)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--top", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                    help=" ".join(SCENARIOS))
    args = ap.parse_args()
    for name in args.scenarios:
        if name not in SCENARIOS:
            ap.error("no scenario %r (there are: %s)"
                     % (name, " ".join(SCENARIOS)))
    ctx = Context(args)
    t0 = time.monotonic()
    failed = False
    try:
        for name in args.scenarios or SCENARIOS:
            ctx.log("scenario %s" % name)
            try:
                globals()["scenario_" + name](ctx)
            except Exception as e:              # one scenario, not all
                failed = True
                ctx.row(name, "failed", str(e).replace("|", "/")[:200])
                ctx.log("%s failed: %r" % (name, e))
        out = table(ctx, time.monotonic() - t0)
        with open(os.path.join(ctx.tools, "results.md"), "w") as f:
            f.write(out)
        print(out)
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
