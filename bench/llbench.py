#!/usr/bin/env python3
"""Benchmark helpers shared by bench/ingest.sh and bench/search.sh (stdlib only).

Subcommands (each prints progress to stderr and one JSON object of results to stdout):

  llbench.py loglynx-ingest --bin B --log F --n N --data-dir D [--config C] [--keep] [--perf S]
      start `loglynx run` tailing F, wait until /api/v1/search?q=*&limit=1 reports N events
      (polled every 0.5 s); wall time, events/s, MB/s, peak RSS (VmHWM), CPU time, index size.
  llbench.py sqlite-load --log F --db P [--columns]
      SQLite FTS5 bulk load of F in one transaction with executemany: one `line` column, or
      (--columns) ts (UNINDEXED, epoch s), host (UNINDEXED), program, message.
  llbench.py tantivy-cli-load --bin T --log F --index D [--threads 2] [--memory BYTES]
      `tantivy index` (crates.io tantivy-cli) of F as one stored, positioned text field `line`
      (tantivy's defaults otherwise: lz4 doc store, fieldnorms); F is converted to the JSON
      lines tantivy-cli reads before the clock starts. Wall time includes the final merges.
  llbench.py loglynx-search --bin B --data-dir D --n N [--runs 30] [--warmup 3] [--host H]
      p50/p95 of the five query shapes over the HTTP API, one persistent connection.
  llbench.py sqlite-search --db P [--runs 30] [--host H]
  llbench.py rg-search --log F [--runs 5] [--host H]
  llbench.py loglynx-live --bin B --log F --n N --data-dir D [--rate-share 0.8] [--runs 30]
      search latency while ingesting: the first half of F is ingested at full speed (its rate
      is the maximum), then the five shapes are timed on the idle store, then the second half
      is appended to the tailed file at rate-share x that maximum while the same shapes are
      timed in turn until the appending ends; p50/p95 idle and loaded, the ratio of the p95s.
  llbench.py table FILE.json...   print the results table of saved JSON results
"""

import argparse
import calendar
import http.client
import json
import multiprocessing
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

CLK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def du_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def du_by_ext(path):
    """Bytes per file extension (tantivy: .store docs, .idx postings, .pos positions, .term
    dictionary, .fast columns, .fieldnorm norms)."""
    out = {}
    for root, _dirs, files in os.walk(path):
        for f in files:
            ext = f.rsplit(".", 1)[-1] if "." in f else f
            try:
                out[ext] = out.get(ext, 0) + os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def windows_on_disk(data_dir):
    """Per store window: bytes, documents and doc store compression (from its meta.json):
    a sealed window's doc store is zstd, a written one's lz4."""
    root = os.path.join(data_dir, "store")
    out = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        meta = os.path.join(root, name, "meta.json")
        try:
            with open(meta) as f:
                m = json.load(f)
        except (OSError, ValueError):
            continue
        docs = sum(s.get("max_doc", 0) - ((s.get("deletes") or {}).get("num_deleted_docs", 0))
                   for s in m.get("segments", []))
        out.append({"window": name, "bytes": du_bytes(os.path.join(root, name)), "docs": docs,
                    "segments": len(m.get("segments", [])),
                    "docstore": m.get("index_settings", {}).get("docstore_compression")})
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """VmHWM, VmRSS in bytes and CPU seconds (user, system) of a live process."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:", "RssFile:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) * 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["utime"] = int(fields[11]) / CLK
    out["stime"] = int(fields[12]) / CLK
    return out


def loadavg():
    """1-minute load average: other work on the machine skews every figure; it is recorded."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def pct(values, p):
    s = sorted(values)
    if not s:
        return None
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Loglynx:
    """A running `loglynx run` process and a persistent HTTP connection to it."""

    def __init__(self, binary, data_dir, tail=None, config=None, extra_env=None):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        cmd = [binary, "run", "--data-dir", data_dir, "--http", self.addr,
               "--syslog-udp", "off", "--syslog-tcp", "off"]
        # A glob that matches nothing when only searching a kept store.
        cmd += ["--tail", tail or os.path.join(data_dir, "no-such-file-*.log")]
        if config:
            cmd += ["--config", config]
        self.cmd = cmd
        env = dict(os.environ, **(extra_env or {}))
        env.setdefault("LOGLYNX_LOG", "warn")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(
            os.path.join(os.path.dirname(os.path.abspath(data_dir)), "loglynx-stderr.log"), "ab"),
            env=env, text=True)
        self.ready = threading.Event()
        self.t_ready = None
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.conn = None
        self.last_server_ms = None

    def _read_stdout(self):
        for line in self.proc.stdout:
            if "loglynx ready" in line and not self.ready.is_set():
                self.t_ready = time.monotonic()
                self.ready.set()

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None:
                raise SystemExit(f"loglynx exited with {self.proc.returncode} before ready: {self.cmd}")
            if time.monotonic() > deadline:
                raise SystemExit("loglynx not ready after %d s" % timeout)

    def get(self, path, **params):
        """GET path?params -> (json, client seconds); one keep-alive connection, reopened on error."""
        url = path + "?" + urllib.parse.urlencode(params)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", url)
                resp = self.conn.getresponse()
                body = resp.read()
                dt = time.perf_counter() - t0
                # The server's own time for the answer (Server-Timing: app;dur=<ms>), if it says.
                timing = resp.getheader("server-timing") or ""
                self.last_server_ms = float(timing[len("app;dur="):]) if timing.startswith("app;dur=") else None
                if resp.status != 200:
                    raise SystemExit(f"GET {url} -> {resp.status}: {body[:300]!r}")
                return json.loads(body), dt
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def count(self, q="*"):
        return self.get("/api/v1/search", q=q, limit=1)[0]["total"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cmd_loglynx_ingest(a):
    raw = os.path.getsize(a.log)
    load_start = loadavg()
    os.makedirs(a.data_dir, exist_ok=True)
    ll = Loglynx(a.bin, a.data_dir, tail=a.log, config=a.config)
    log(f"started: {' '.join(ll.cmd)} (pid {ll.proc.pid})")
    ll.wait_ready()
    log(f"ready after {ll.t_ready - ll.t_start:.2f} s")
    perf = None
    if a.perf:
        perf_out = os.path.join(os.path.dirname(os.path.abspath(a.data_dir)), "perf.data")
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "199",
                                 "--call-graph", "dwarf,16384", "-p", str(ll.proc.pid),
                                 "-o", perf_out, "--", "sleep", str(a.perf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log(f"perf record for {a.perf} s -> {perf_out}")
    total, last_print, peak_rss, peak_anon = 0, 0.0, 0, 0
    timeline = []
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            total = ll.count()
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            log(f"poll failed: {e}")
        now = time.monotonic()
        st = proc_status(ll.proc.pid)
        peak_rss = max(peak_rss, st.get("VmRSS", 0))
        peak_anon = max(peak_anon, st.get("RssAnon", 0))
        timeline.append((round(now - ll.t_start, 2), total))
        if total >= a.n:
            break
        if ll.proc.poll() is not None:
            raise SystemExit(f"loglynx exited with {ll.proc.returncode} during ingest at {total} events")
        if now > deadline:
            log(f"timeout: {total:,} of {a.n:,} after {a.timeout} s")
            break
        if now - last_print >= 5:
            el = now - ll.t_start
            log(f"ingest: {total:,}/{a.n:,} events ({100 * total / a.n:.0f}%), {el:.0f} s, "
                f"{total / max(el, 1e-9):,.0f} ev/s, rss {st['VmRSS'] / 2**20:.0f} MiB "
                f"(anon {st.get('RssAnon', 0) / 2**20:.0f}), "
                f"cpu {st['utime'] + st['stime']:.0f} s")
            last_print = now
        time.sleep(0.5)
    t_done = time.monotonic()
    st = proc_status(ll.proc.pid)
    wall = t_done - ll.t_start
    size_done = du_bytes(a.data_dir)
    # Merges may still run after the last commit (a merge briefly holds old and new segments):
    # wait until the size is unchanged for 10 s, at most `settle` seconds.
    size_settled, t0, stable_since = size_done, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < a.settle and time.monotonic() - stable_since < 10:
        time.sleep(2)
        s = du_bytes(a.data_dir)
        if s != size_settled:
            size_settled, stable_since = s, time.monotonic()
    settled = time.monotonic() - stable_since >= 10
    if not settled:
        log(f"index size still changing after {a.settle} s: reporting the last size")
    st_end = proc_status(ll.proc.pid)
    if perf:
        perf.wait()
    res = {
        "tool": "loglynx", "n": a.n, "reached": total, "raw_bytes": raw,
        "wall_s": round(wall, 2), "ready_s": round(ll.t_ready - ll.t_start, 2),
        "events_per_s": round(total / wall), "mb_per_s": round(raw / 1e6 / wall, 1),
        "peak_rss_bytes": max(st_end.get("VmHWM", 0), peak_rss),
        # RSS counts mmapped index files too; anonymous memory is the heap (sampled each poll).
        "peak_rss_anon_bytes": peak_anon,
        "cpu_user_s": round(st["utime"], 1), "cpu_sys_s": round(st["stime"], 1),
        "cpu_s_after_settle": round(st_end["utime"] + st_end["stime"], 1),
        "index_bytes_at_done": size_done, "index_bytes": size_settled,
        "index_bytes_by_ext": du_by_ext(a.data_dir), "index_settled": settled,
        "index_ratio": round(size_settled / raw, 3), "command": " ".join(ll.cmd),
        "windows": windows_on_disk(a.data_dir),
        "load_start": load_start, "load_end": loadavg(),
        "timeline": timeline[:: max(1, len(timeline) // 40)],
    }
    ll.stop()
    json.dump(res, sys.stdout)
    print()


TS_RE = re.compile(r"^(?:<\d+>)?(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\S+) ([^:\[]+)(?:\[\d+\])?: (.*)$")
MON = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}


def split_line(line, year):
    m = TS_RE.match(line)
    if not m:
        return (None, None, None, line)
    mon, day, hh, mm, ss, host, prog, msg = m.groups()
    ts = calendar.timegm((year, MON.get(mon, 1), int(day), int(hh), int(mm), int(ss)))
    return (ts, host, prog, msg)


def cmd_sqlite_load(a):
    raw = os.path.getsize(a.log)
    load_start = loadavg()
    if os.path.exists(a.db):
        os.remove(a.db)
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    # 256 MiB page cache: the same memory budget as loglynx's default writer_memory.
    db.execute("PRAGMA cache_size=-262144")
    if a.columns:
        db.execute("CREATE VIRTUAL TABLE logs USING fts5(ts UNINDEXED, host UNINDEXED, program, message)")
    else:
        db.execute("CREATE VIRTUAL TABLE logs USING fts5(line)")
    n = 0
    t0 = time.perf_counter()

    def rows():
        nonlocal n
        with open(a.log, encoding="utf-8", errors="replace", buffering=1 << 20) as f:
            if a.columns:
                for line in f:
                    n += 1
                    if n % 1_000_000 == 0:
                        log(f"sqlite (columns): {n:,} rows, {time.perf_counter() - t0:.0f} s")
                    yield split_line(line.rstrip("\n"), a.year)
            else:
                for line in f:
                    n += 1
                    if n % 1_000_000 == 0:
                        log(f"sqlite (line): {n:,} rows, {time.perf_counter() - t0:.0f} s")
                    yield (line.rstrip("\n"),)

    db.execute("BEGIN")
    if a.columns:
        db.executemany("INSERT INTO logs(ts, host, program, message) VALUES (?, ?, ?, ?)", rows())
    else:
        db.executemany("INSERT INTO logs(line) VALUES (?)", rows())
    db.execute("COMMIT")
    dt = time.perf_counter() - t0
    db.close()
    size = os.path.getsize(a.db)
    res = {"tool": "sqlite-fts5" + ("-columns" if a.columns else "-line"), "n": n, "raw_bytes": raw,
           "wall_s": round(dt, 2), "events_per_s": round(n / dt), "mb_per_s": round(raw / 1e6 / dt, 1),
           "index_bytes": size, "index_ratio": round(size / raw, 3),
           "load_start": load_start, "load_end": loadavg()}
    json.dump(res, sys.stdout)
    print()


def time_runs(fn, runs, warmup, budget_s):
    """Runs fn warmup + up to `runs` times (fewer once `budget_s` is spent, at least 3)."""
    for _ in range(warmup):
        fn()
    times, extra, t_begin = [], None, time.monotonic()
    for i in range(runs):
        t0 = time.perf_counter()
        extra = fn()
        times.append(time.perf_counter() - t0)
        if i >= 2 and time.monotonic() - t_begin > budget_s:
            break
    return {"runs": len(times), "p50_ms": round(pct(times, 50) * 1000, 2),
            "p95_ms": round(pct(times, 95) * 1000, 2), "result": extra}


QUERIES = {
    "term": "failed",
    "phrase": '"Failed password"',
    "filter": "host.name:{host} AND failed",
    "histogram": "failed",
    "terms": "*",
}


def cmd_loglynx_search(a):
    ll = Loglynx(a.bin, a.data_dir)
    log(f"started: {' '.join(ll.cmd)}")
    ll.wait_ready()
    total = ll.count()
    log(f"store holds {total:,} events")
    if a.n and total != a.n:
        log(f"warning: expected {a.n:,} events, store has {total:,}")
    res = {"tool": "loglynx", "events": total, "shapes": {}, "load_start": loadavg()}
    took = []

    def mk(path, key, **params):
        def f():
            body, _dt = ll.get(path, **params)
            took.append(body.get("took_ms"))
            return body.get(key) if key != "buckets" else [
                (b["value"], b["count"]) for b in body["buckets"]][:10]
        return f

    shapes = {
        "term": mk("/api/v1/search", "total", q=QUERIES["term"], limit=20),
        "phrase": mk("/api/v1/search", "total", q=QUERIES["phrase"], limit=20),
        "filter": mk("/api/v1/search", "total", q=QUERIES["filter"].format(host=a.host), limit=20),
        "histogram": mk("/api/v1/histogram", "total", q=QUERIES["histogram"], buckets=60),
        "terms": mk("/api/v1/terms", "buckets", q="*", field="host.name", size=10),
    }
    for name, fn in shapes.items():
        took.clear()
        r = time_runs(fn, a.runs, a.warmup, a.budget)
        t = [x for x in took[a.warmup:] if x is not None]
        r["took_ms_p50"] = pct(t, 50) if t else None
        res["shapes"][name] = r
        log(f"loglynx {name}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms ({r['runs']} runs), "
            f"took_ms p50 {r['took_ms_p50']}, result {str(r['result'])[:100]}")
    st = proc_status(ll.proc.pid)
    res["peak_rss_bytes"] = st["VmHWM"]
    res["load_end"] = loadavg()
    ll.stop()
    json.dump(res, sys.stdout)
    print()


def shapes_of(ll, host, took, server=None):
    """The five query shapes of loglynx-search as callables over one connection; with `server`
    (a dict), each call appends the server's own milliseconds to server[shape]."""
    def mk(name, path, key, **params):
        def f():
            body, _dt = ll.get(path, **params)
            took.append(body.get("took_ms"))
            if server is not None and ll.last_server_ms is not None:
                server.setdefault(name, []).append(ll.last_server_ms)
            return body.get(key) if key != "buckets" else [
                (b["value"], b["count"]) for b in body["buckets"]][:10]
        return f
    return {
        "term": mk("term", "/api/v1/search", "total", q=QUERIES["term"], limit=20),
        "phrase": mk("phrase", "/api/v1/search", "total", q=QUERIES["phrase"], limit=20),
        "filter": mk("filter", "/api/v1/search", "total", q=QUERIES["filter"].format(host=host), limit=20),
        "histogram": mk("histogram", "/api/v1/histogram", "total", q=QUERIES["histogram"], buckets=60),
        "terms": mk("terms", "/api/v1/terms", "buckets", q="*", field="host.name", size=10),
    }


def cmd_loglynx_live(a):
    work = os.path.dirname(os.path.abspath(a.data_dir))
    live = os.path.join(work, "live.log")
    with open(a.log, "rb") as f:
        lines = f.readlines()[: a.n]
    half = len(lines) // 2
    open(live, "wb").close()
    os.makedirs(a.data_dir, exist_ok=True)
    ll = Loglynx(a.bin, a.data_dir, tail=live, config=a.config)
    ll.wait_ready()
    t0 = time.monotonic()
    with open(live, "ab") as f:
        f.writelines(lines[:half])
    while ll.count() < half:
        time.sleep(0.2)
    max_rate = half / (time.monotonic() - t0)
    log(f"first half: {half:,} events at {max_rate:,.0f} ev/s (the maximum)")
    # Idle means idle: wait until the merges of the first half are done (size unchanged 10 s).
    size, stable_since, t_settle = du_bytes(a.data_dir), time.monotonic(), time.monotonic()
    while time.monotonic() - stable_since < 10 and time.monotonic() - t_settle < 300:
        time.sleep(2)
        now_size = du_bytes(a.data_dir)
        if now_size != size:
            size, stable_since = now_size, time.monotonic()
    took = []
    res = {"tool": "loglynx", "events": len(lines), "max_rate": round(max_rate),
           "rate_share": a.rate_share, "idle": {}, "loaded": {}, "load_start": loadavg()}
    idle_server = {}
    for name, fn in shapes_of(ll, a.host, took, idle_server).items():
        res["idle"][name] = time_runs(fn, a.runs, a.warmup, a.budget)
        server_ms = idle_server.get(name, [])[a.warmup:]
        if server_ms:
            res["idle"][name]["server_p95_ms"] = round(pct(server_ms, 95), 3)
        log(f"idle {name}: p50 {res['idle'][name]['p50_ms']} ms, p95 {res['idle'][name]['p95_ms']} ms")
    rate = a.rate_share * max_rate
    done = multiprocessing.get_context("fork").Event()

    # Twenty chunks a second, joined before the fork: the appender then touches a few large
    # objects, not the reference counts of every line (which would copy pages while timing).
    step = max(1, int(rate / 20))
    chunks = [(i + step - half, b"".join(lines[i:i + step])) for i in range(half, len(lines), step)]

    def append():
        start = time.monotonic()
        with open(live, "ab") as f:
            for sent, chunk in chunks:
                f.write(chunk)
                f.flush()
                ahead = start + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        done.set()

    t_load = time.monotonic()
    # The appender is a process of its own, not a thread: a thread would hold the GIL for up to
    # sys.getswitchinterval() (5 ms) while the timing thread waits for a reply it already has,
    # which is then counted as the server's latency.
    appender = multiprocessing.get_context("fork").Process(target=append, daemon=True)
    appender.start()
    # Time the shapes in turn for as long as the appender runs, once new events are searchable.
    while ll.count() <= half:
        time.sleep(0.1)
    loaded_server = {}
    shapes = shapes_of(ll, a.host, took, loaded_server)
    samples = {name: [] for name in shapes}
    while not done.is_set():
        if not appender.is_alive() and not done.is_set():
            raise SystemExit(f"the appender process ended early (exit code {appender.exitcode})")
        for name, fn in shapes.items():
            t0 = time.perf_counter()
            extra = fn()
            samples[name].append(time.perf_counter() - t0)
            res["loaded"][name] = {"result": extra}
    for name, times in samples.items():
        if len(times) < 3:
            raise SystemExit(f"only {len(times)} loaded runs of {name}: use a larger --n")
        res["loaded"][name].update(runs=len(times), p50_ms=round(pct(times, 50) * 1000, 2),
                                   p95_ms=round(pct(times, 95) * 1000, 2))
        if loaded_server.get(name):
            res["loaded"][name]["server_p95_ms"] = round(pct(loaded_server[name], 95), 3)
        log(f"loaded {name}: p50 {res['loaded'][name]['p50_ms']} ms, p95 "
            f"{res['loaded'][name]['p95_ms']} ms ({len(times)} runs)")
    while ll.count() < len(lines):
        time.sleep(0.5)
    appender.join()
    res["loaded_rate"] = round((len(lines) - half) / (time.monotonic() - t_load))
    res["p95_ratio"] = {s: round(res["loaded"][s]["p95_ms"] / max(res["idle"][s]["p95_ms"], 1e-9), 2)
                        for s in res["loaded"]}
    res["load_end"] = loadavg()
    ll.stop()
    json.dump(res, sys.stdout)
    print()


def cmd_sqlite_search(a):
    db = sqlite3.connect(a.db)
    cols = [r[1] for r in db.execute("PRAGMA table_info(logs)")]
    if "host" not in cols:
        raise SystemExit("sqlite-search needs the --columns database (ts, host, program, message)")
    lo, hi = db.execute("SELECT min(ts), max(ts) FROM logs").fetchone()
    step = max(1, -(-(hi - lo + 1) // 60))
    qs = {
        "term": ("SELECT count(*) FROM logs WHERE logs MATCH 'failed'", ()),
        "phrase": ("SELECT count(*) FROM logs WHERE logs MATCH '\"failed password\"'", ()),
        "filter": ("SELECT count(*) FROM logs WHERE message MATCH 'failed' AND host = ?", (a.host,)),
        "histogram": ("SELECT (ts - ?) / ?, count(*) FROM logs WHERE message MATCH 'failed' "
                      "GROUP BY 1 ORDER BY 1", (lo, step)),
        "terms": ("SELECT host, count(*) FROM logs GROUP BY host ORDER BY 2 DESC LIMIT 10", ()),
    }
    res = {"tool": "sqlite-fts5", "shapes": {}, "load_start": loadavg()}
    for name, (sql, params) in qs.items():
        def f(sql=sql, params=params, name=name):
            rows = db.execute(sql, params).fetchall()
            if name == "histogram":
                return sum(c for _b, c in rows)
            if name == "terms":
                return rows
            return rows[0][0]
        r = time_runs(f, a.runs, a.warmup, a.budget)
        res["shapes"][name] = r
        log(f"sqlite {name}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms ({r['runs']} runs), "
            f"result {str(r['result'])[:100]}")
    res["load_end"] = loadavg()
    json.dump(res, sys.stdout)
    print()


def cmd_rg_search(a):
    head = r"^(?:<\d+>)?\w{3} [ \d]\d \d\d:\d\d:\d\d "
    qs = {
        "term": ["-c", "-i", r"\bfailed\b"],
        "phrase": ["-c", "-i", r"\bfailed\s+password\b"],
        "filter": ["-c", "-i", head + re.escape(a.host) + r" .*\bfailed\b"],
    }
    res = {"tool": "ripgrep", "shapes": {}, "load_start": loadavg()}
    for name, args in qs.items():
        def f(args=args):
            out = subprocess.run(["rg"] + args + [a.log], capture_output=True, text=True)
            return int(out.stdout.strip() or 0)
        r = time_runs(f, a.runs, a.warmup, a.budget)
        res["shapes"][name] = r
        log(f"rg {name}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms ({r['runs']} runs), result {r['result']}")
    res["load_end"] = loadavg()
    json.dump(res, sys.stdout)
    print()


def cmd_tantivy_cli_load(a):
    raw = os.path.getsize(a.log)
    jsonl = a.log + ".tantivy.jsonl"
    if not os.path.exists(jsonl) or os.path.getmtime(jsonl) < os.path.getmtime(a.log):
        log(f"tantivy-cli: converting {a.log} to JSON lines (not timed)")
        with open(a.log, encoding="utf-8", errors="replace", buffering=1 << 20) as f, \
                open(jsonl + ".tmp", "w", buffering=1 << 20) as out:
            for line in f:
                out.write(json.dumps({"line": line.rstrip("\n")}) + "\n")
        os.replace(jsonl + ".tmp", jsonl)
    subprocess.run(["rm", "-rf", a.index], check=True)
    os.makedirs(a.index)
    meta = {"index_settings": {"docstore_compression": "lz4", "docstore_blocksize": 16384},
            "segments": [], "opstamp": 0,
            "schema": [{"name": "line", "type": "text", "options": {
                "indexing": {"record": "position", "fieldnorms": True, "tokenizer": "default"},
                "stored": True, "fast": False}}]}
    with open(os.path.join(a.index, "meta.json"), "w") as f:
        json.dump(meta, f)
    n = sum(1 for _ in open(a.log, "rb"))
    load_start = loadavg()
    cmd = [a.bin, "index", "-i", a.index, "-f", jsonl, "-t", str(a.threads), "-m", str(a.memory)]
    log(f"tantivy-cli: {' '.join(cmd)}")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_anon, peak_rss = 0, 0
    while True:
        # wait4 reaps the child with its rusage: the CPU time of all its threads, to the end.
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid != 0:
            break
        try:
            st = proc_status(proc.pid)
            peak_anon, peak_rss = max(peak_anon, st.get("RssAnon", 0)), max(peak_rss, st.get("VmHWM", 0))
        except (OSError, IndexError):
            pass
        time.sleep(0.2)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"tantivy-cli exited with {proc.returncode}")
    cpu = (ru.ru_utime, ru.ru_stime)
    size = du_bytes(a.index)
    res = {"tool": "tantivy-cli", "n": n, "raw_bytes": raw, "wall_s": round(dt, 2),
           "events_per_s": round(n / dt), "mb_per_s": round(raw / 1e6 / dt, 1),
           "peak_rss_bytes": peak_rss, "peak_rss_anon_bytes": peak_anon,
           "cpu_user_s": round(cpu[0], 1), "cpu_sys_s": round(cpu[1], 1),
           "index_bytes": size, "index_ratio": round(size / raw, 3),
           "index_bytes_by_ext": du_by_ext(a.index), "command": " ".join(cmd),
           "load_start": load_start, "load_end": loadavg()}
    json.dump(res, sys.stdout)
    print()


def fmt_bytes(b):
    return f"{b / 2**20:,.0f} MiB" if b is not None else "-"


def cmd_table(a):
    rows = []
    for path in a.files:
        with open(path) as f:
            rows.append(json.load(f))
    if rows and "shapes" not in rows[0]:
        print("| tool | events | wall s | events/s | MB/s | peak RSS (anon) | CPU s (user+sys) "
              "| CPU us/event | on disk | disk/raw | load avg start/end |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            cpu = (f"{r['cpu_user_s'] + r['cpu_sys_s']:.0f} ({r['cpu_user_s']:.0f}+{r['cpu_sys_s']:.0f})"
                   if "cpu_user_s" in r else "-")
            anon = f" ({fmt_bytes(r['peak_rss_anon_bytes'])})" if r.get("peak_rss_anon_bytes") else ""
            us = (f"{1e6 * (r['cpu_user_s'] + r['cpu_sys_s']) / max(r.get('reached', r['n']), 1):.1f}"
                  if "cpu_user_s" in r else "-")
            print(f"| {r['tool']} | {r.get('reached', r['n']):,} | {r['wall_s']} | {r['events_per_s']:,} "
                  f"| {r['mb_per_s']} | {fmt_bytes(r.get('peak_rss_bytes'))}{anon} | {cpu} | {us} "
                  f"| {fmt_bytes(r['index_bytes'])} | {100 * r['index_ratio']:.1f}% "
                  f"| {r.get('load_start', '-')} / {r.get('load_end', '-')} |")
        for r in rows:
            sealed = [w for w in r.get("windows", []) if str(w["docstore"]).startswith("zstd")
                      and w["segments"] == 1]
            docs = sum(w["docs"] for w in sealed)
            if docs:
                b = sum(w["bytes"] for w in sealed)
                per_line = r["raw_bytes"] / max(r["n"], 1)
                print(f"\n{r['tool']}: {len(sealed)} of {len(r['windows'])} windows sealed (one segment, "
                      f"{sealed[0]['docstore']} doc store): {docs:,} events in {fmt_bytes(b)}, "
                      f"{b / docs:.1f} B/event = {100 * b / docs / per_line:.1f}% of the raw "
                      f"{per_line:.1f} B/line")
    else:
        names = ["term", "phrase", "filter", "histogram", "terms"]
        print("| shape | " + " | ".join(f"{r['tool']} p50 / p95 ms" for r in rows) + " | results (" +
              " / ".join(r["tool"] for r in rows) + ") |")
        print("|---|" + "---:|" * len(rows) + "---|")
        for s in names:
            cells, results = [], []
            for r in rows:
                x = r["shapes"].get(s)
                if x:
                    cells.append(f"{x['p50_ms']:.1f} / {x['p95_ms']:.1f} ({x['runs']} runs"
                                 + (f", took_ms p50 {x['took_ms_p50']:.0f}" if x.get("took_ms_p50") is not None else "")
                                 + ")")
                    res = x["result"]
                    results.append(str(res[0] if isinstance(res, list) and res else res))
                else:
                    cells.append("n/a")
                    results.append("n/a")
            print(f"| {s} | " + " | ".join(cells) + " | " + " / ".join(results) + " |")
        print("| load avg start/end | " + " | ".join(
            f"{r.get('load_start', '-')} / {r.get('load_end', '-')}" for r in rows) + " | |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("loglynx-ingest")
    s.add_argument("--bin", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--data-dir", required=True)
    s.add_argument("--config")
    s.add_argument("--perf", type=int, default=0, help="perf record -g this many seconds")
    s.add_argument("--timeout", type=int, default=3600)
    s.add_argument("--settle", type=int, default=300, help="most seconds to wait for merges")
    s = sub.add_parser("sqlite-load")
    s.add_argument("--log", required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--columns", action="store_true")
    s.add_argument("--year", type=int, default=2026)
    s = sub.add_parser("tantivy-cli-load")
    s.add_argument("--bin", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--memory", type=int, default=256 << 20)
    for name in ("loglynx-search", "sqlite-search", "rg-search"):
        s = sub.add_parser(name)
        s.add_argument("--runs", type=int, default=30)
        s.add_argument("--warmup", type=int, default=3)
        s.add_argument("--budget", type=float, default=120.0, help="seconds per shape before cutting runs")
        s.add_argument("--host", default="app-05")
        if name == "loglynx-search":
            s.add_argument("--bin", required=True)
            s.add_argument("--data-dir", required=True)
            s.add_argument("--n", type=int, default=0)
        elif name == "sqlite-search":
            s.add_argument("--db", required=True)
        else:
            s.add_argument("--log", required=True)
    s = sub.add_parser("loglynx-live")
    s.add_argument("--bin", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--data-dir", required=True)
    s.add_argument("--config")
    s.add_argument("--rate-share", type=float, default=0.8, help="share of the maximum rate while searching")
    s.add_argument("--runs", type=int, default=30)
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--budget", type=float, default=60.0, help="seconds per shape before cutting runs")
    s.add_argument("--host", default="app-05")
    s = sub.add_parser("table")
    s.add_argument("files", nargs="+")
    a = p.parse_args()
    {"loglynx-ingest": cmd_loglynx_ingest, "sqlite-load": cmd_sqlite_load,
     "tantivy-cli-load": cmd_tantivy_cli_load,
     "loglynx-search": cmd_loglynx_search, "loglynx-live": cmd_loglynx_live, "sqlite-search": cmd_sqlite_search,
     "rg-search": cmd_rg_search, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
