#!/usr/bin/env python3
"""Load for the hardening benchmarks and tests: a flood (ingest far beyond what the store can
take) and a soak (steady ingest plus queries), against a `loglynx run` this script starts, with
the server's RSS and open files sampled every second. Prints one JSON object on stdout.

  loadgen.py flood --bin BIN --data-dir DIR --seconds 300 [--senders 32] [--batch 2000]
  loadgen.py soak  --bin BIN --data-dir DIR --seconds 3600 [--rate 2000] [--query-every 1]

flood: SENDERS threads POST NDJSON batches to /api/v1/ingest as fast as the server answers
(a full queue answers 503 `queue_full` within `queue_wait`, more requests in progress than
`http.max_requests` are answered 503 at once; nothing of a refused request is taken). Records offered, acknowledged (200), refused (503 queue_full) and answered otherwise are
counted; after the flood the script waits for the store to commit and counts what is stored.
Nothing acknowledged may be missing (stored >= acknowledged) and nothing may be stored that was
refused (stored <= acknowledged + records of requests answered neither 200 nor queue_full, whose
outcome the protocol leaves open). The store's rate is the stored events over the flood time; the
overload factor is offered / stored.

Every record carries its own id in its message (`flood t<sender> b<request> n<line>`), and the
requests are remembered by outcome; after the flood the whole store is exported
(/api/v1/export) and every record read back by its id: each record of a request answered 200
must be stored exactly once, none of a refused one (503 `queue_full` / `http.max_requests`)
at all, those of other answers (the protocol leaves them open) at most once, and nothing else
may be stored. `verified` is true when all of that holds; the counts of each failure are beside
it, with a few ids of each as examples.

soak: one sender at RATE records/s (batches of RATE/10 every 0.1 s) and a search plus a
histogram every QUERY_EVERY seconds, their latency recorded; RSS and open files sampled.

Standard library only (runs on the machine's python3 without a virtual environment).
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

READY = re.compile(r"loglynx ready: dashboard http://([0-9.:]+)/ui/")


def start(binary, data_dir, extra):
    cmd = [binary, "run", "--data-dir", data_dir, "--http", "127.0.0.1:0", "--log", "warn",
           "--syslog-udp", "off", "--syslog-tcp", "off"] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    seen = []
    for line in p.stdout:
        seen.append(line)
        m = READY.search(line)
        if m:
            # Keep draining the output so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, m.group(1), cmd
        if time.time() > deadline:
            break
    p.kill()
    sys.exit("loglynx did not start: " + " ".join(cmd) + "\n" + "".join(seen[-20:]))


def proc_sample(pid):
    """(RSS, its anonymous part (heap; the rest is mapped files such as index segments), open files)."""
    rss = anon = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1]) * 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, anon, fds


class Sampler(threading.Thread):
    """RSS, anonymous RSS and open files of `pid` every second: [(t, rss_bytes, fds, anon_bytes)]."""

    def __init__(self, pid, t0):
        super().__init__(daemon=True)
        self.pid, self.t0, self.samples, self.stop = pid, t0, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                rss, anon, fds = proc_sample(self.pid)
            except OSError:
                return
            self.samples.append((round(time.time() - self.t0, 1), rss, fds, anon))
            self.stop.wait(1.0)


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read()


def total(addr, q="*"):
    c = http.client.HTTPConnection(addr, timeout=120)
    status, body = request(c, "GET", "/api/v1/search?limit=1&q=" + urllib.parse.quote(q))
    c.close()
    if status != 200:
        raise RuntimeError(f"search answered {status}: {body[:200]!r}")
    return json.loads(body)["total"]


def batch(tag, n, k):
    return "".join(
        '{"message":"%s b%s n%d disk full on /var","host.name":"load","log.level":"error"}\n' % (tag, k, i)
        for i in range(n)).encode()


def curve(samples, points=10):
    """About `points` samples spread over the run: [(t_s, rss_mib, fds, anon_mib)]."""
    if not samples:
        return []
    step = max(1, len(samples) // points)
    picked = samples[::step]
    if picked[-1] != samples[-1]:
        picked.append(samples[-1])
    return [(t, round(rss / 2**20, 1), fds, round(anon / 2**20, 1)) for t, rss, fds, anon in picked]


def rss_summary(samples, warmup):
    """Max RSS of the first third after warm-up and of the last third, in MiB."""
    after = [s for s in samples if s[0] >= warmup] or samples
    third = max(1, len(after) // 3)
    first = max(s[1] for s in after[:third]) / 2**20
    last = max(s[1] for s in after[-third:]) / 2**20
    return round(first, 1), round(last, 1), round(max(s[1] for s in samples) / 2**20, 1)


RECORD_ID = re.compile(rb'"message":"flood t(\d+) b(\d+) n(\d+) ')


def verify(addr, batch_size, outcomes):
    """Exports the store and checks every record against the outcome of the request that sent
    it (`outcomes`: (sender, request) -> "acked" / "refused" / "other"); see the module."""
    seen = {}  # (sender, request) -> bytearray: how many times each line was read back
    unknown = 0
    examples = {"acked_missing": [], "acked_duplicated": [], "refused_stored": [],
                "other_duplicated": [], "unknown": []}
    c = http.client.HTTPConnection(addr, timeout=600)
    c.request("GET", "/api/v1/export?q=")
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"export answered {r.status}: {r.read()[:200]!r}")
    expected_lines = int(r.getheader("X-Total-Count", "-1"))
    lines = 0
    for line in r:
        lines += 1
        m = RECORD_ID.search(line)
        key = m and (int(m.group(1)), int(m.group(2)))
        n = int(m.group(3)) if m else -1
        if not m or key not in outcomes or n >= batch_size:
            unknown += 1
            if len(examples["unknown"]) < 5:
                examples["unknown"].append(line[:160].decode("utf-8", "replace"))
            continue
        counts = seen.get(key)
        if counts is None:
            counts = seen[key] = bytearray(batch_size)
        counts[n] = min(255, counts[n] + 1)
    c.close()
    if lines != expected_lines:
        raise RuntimeError(f"export ended early: {lines} lines of {expected_lines}")
    out = {"ids_read_back": lines, "acked_missing": 0, "acked_duplicated": 0, "refused_stored": 0,
           "other_stored": 0, "other_duplicated": 0, "unknown": unknown}

    def note(kind, key, n, k=1):
        out[kind] += k
        if len(examples[kind]) < 5:
            examples[kind].append(f"t{key[0]} b{key[1]} n{n}")

    for key, outcome in outcomes.items():
        counts = seen.get(key)
        if outcome == "acked":
            if counts is None:
                note("acked_missing", key, 0, batch_size)
                continue
            for n, k in enumerate(counts):
                if k == 0:
                    note("acked_missing", key, n)
                elif k > 1:
                    note("acked_duplicated", key, n)
        elif counts is None:
            continue
        elif outcome == "refused":
            for n, k in enumerate(counts):
                if k:
                    note("refused_stored", key, n, k)
        else:
            for n, k in enumerate(counts):
                out["other_stored"] += 1 if k else 0
                if k > 1:
                    note("other_duplicated", key, n)
    out["verified"] = all(out[k] == 0 for k in examples)
    out["examples"] = {k: v for k, v in examples.items() if v}
    return out


def flood(args, addr, pid):
    counts = {"offered": 0, "acked": 0, "refused": 0, "other": 0, "other_status": {}}
    # (sender, request) -> "acked" (200, every record taken), "refused" (503, none taken) or
    # "other" (any other answer: taken or not, the protocol leaves it open)
    outcomes = {}
    lock = threading.Lock()
    stop = threading.Event()

    def sender(tid):
        conn = http.client.HTTPConnection(addr, timeout=120)
        # One body per sender with a placeholder for the request number, filled per request (a
        # bytes replace), so every record has an id of its own while the client spends its
        # CPU on sending rather than on formatting.
        template = batch(f"flood t{tid}", args.batch, "@REQ@")
        seq = 0
        while not stop.is_set():
            seq += 1
            body = template.replace(b" b@REQ@ ", b" b%d " % seq)
            try:
                status, reply = request(conn, "POST", "/api/v1/ingest", body,
                                        {"Content-Type": "application/x-ndjson"})
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(addr, timeout=120)
                status, reply = f"error {type(e).__name__}", b""
            with lock:
                counts["offered"] += args.batch
                if status == 200:
                    accepted = json.loads(reply).get("accepted", args.batch)
                    counts["acked"] += accepted
                    # a partial acceptance would leave which lines open: none is expected here
                    outcomes[(tid, seq)] = "acked" if accepted == args.batch else "other"
                elif status == 503 and (b"queue_full" in reply or b"http.max_requests" in reply):
                    # Refused whole: a full queue, or more requests in progress than allowed.
                    counts["refused"] += args.batch
                    outcomes[(tid, seq)] = "refused"
                else:
                    outcomes[(tid, seq)] = "other"
                    counts["other"] += args.batch
                    key = str(status)
                    counts["other_status"][key] = counts["other_status"].get(key, 0) + 1
        conn.close()

    t0 = time.time()
    sampler = Sampler(pid, t0)
    sampler.start()
    threads = [threading.Thread(target=sender, args=(i,)) for i in range(args.senders)]
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    flood_secs = time.time() - t0
    # Everything acknowledged is committed already (the reply waits for the store's ack);
    # wait for the count to settle anyway, then stop sampling.
    stored, last, settled = total(addr), -1, time.time()
    while stored != last or time.time() - settled < 3:
        if stored != last:
            last, settled = stored, time.time()
        time.sleep(1)
        stored = total(addr)
    sampler.stop.set()
    sampler.join()
    first, last_third, peak = rss_summary(sampler.samples, warmup=min(10, args.seconds / 4))
    check = verify(addr, args.batch, outcomes)
    return {
        "mode": "flood",
        **check,
        "seconds": round(flood_secs, 1),
        "senders": args.senders,
        "batch": args.batch,
        "offered": counts["offered"],
        "acknowledged": counts["acked"],
        "refused_queue_full": counts["refused"],
        "other": counts["other"],
        "other_status": counts["other_status"],
        "stored": stored,
        "offered_per_s": round(counts["offered"] / flood_secs),
        "stored_per_s": round(stored / flood_secs),
        "overload": round(counts["offered"] / max(stored, 1), 1),
        "lost": max(0, counts["acked"] - stored),
        "rss_mib_first_third": first,
        "rss_mib_last_third": last_third,
        "rss_mib_peak": peak,
        "rss_curve": curve(sampler.samples, 12),
    }


def soak(args, addr, pid):
    lat = []
    counts = {"sent": 0, "acked": 0, "errors": 0, "queries": 0, "query_errors": 0}
    stop = threading.Event()
    t0 = time.time()
    sampler = Sampler(pid, t0)
    sampler.start()

    # Several senders (each acknowledged POST waits for its commit, ~0.1-0.3 s): one connection
    # alone fell behind the rate (1,184 of 2,000 records/s in the 2026-12-04 run).
    n_senders = max(1, min(args.senders, 8))

    def sender(me):
        conn = http.client.HTTPConnection(addr, timeout=120)
        per_tick = max(1, args.rate // 10 // n_senders)
        k, next_t = me * 1_000_000_000, time.time()
        while not stop.is_set():
            body = batch("soak", per_tick, k)
            k += 1
            try:
                status, reply = request(conn, "POST", "/api/v1/ingest", body,
                                        {"Content-Type": "application/x-ndjson"})
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(addr, timeout=120)
                status = 0
            counts["sent"] += per_tick
            if status == 200:
                counts["acked"] += per_tick
            else:
                counts["errors"] += 1
            next_t += 0.1
            time.sleep(max(0.0, next_t - time.time()))

    def querier():
        conn = http.client.HTTPConnection(addr, timeout=120)
        # Over all time (the work grows with the store: a histogram of q=* reads every
        # timestamp) and over the last 5 minutes (a dashboard's view: the same work all along).
        paths = ["/api/v1/search?limit=50&q=" + urllib.parse.quote("disk AND log.level:error"),
                 "/api/v1/histogram?q=*", "/api/v1/terms?field=host.name&q=*"]
        i = 0
        while not stop.is_set():
            base = paths[(i // 2) % len(paths)]
            recent = i % 2 == 1
            i += 1
            path = base + ("&start=now-5m" if recent else "")
            s = time.time()
            try:
                status, _ = request(conn, "GET", path)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(addr, timeout=120)
                status = 0
            lat.append((round(s - t0, 1), (time.time() - s) * 1000.0, recent))
            counts["queries"] += 1
            if status != 200:
                counts["query_errors"] += 1
            stop.wait(args.query_every)

    threads = [threading.Thread(target=sender, args=(j,)) for j in range(n_senders)]
    threads.append(threading.Thread(target=querier))
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    sampler.stop.set()
    sampler.join()
    stored = total(addr)

    def pct(vals, p):
        v = sorted(vals)
        return round(v[min(len(v) - 1, int(len(v) * p))], 1) if v else None

    # Latency per tenth of the run: p50 / p99 in ms, all-time and last-5-minute queries apart.
    def tenths_of(want_recent):
        out = []
        for j in range(10):
            lo, hi = args.seconds * j / 10, args.seconds * (j + 1) / 10
            v = [ms for t, ms, r in lat if lo <= t < hi and r == want_recent]
            out.append((round(lo), pct(v, 0.5), pct(v, 0.99)))
        return out
    tenths = tenths_of(False)
    first, last_third, peak = rss_summary(sampler.samples, warmup=min(60, args.seconds / 6))
    return {
        "mode": "soak",
        "seconds": args.seconds,
        "rate": args.rate,
        **counts,
        "stored": stored,
        "latency_ms_p50_p99_per_tenth": tenths,
        "recent_latency_ms_p50_p99_per_tenth": tenths_of(True),
        "senders": n_senders,
        "rss_mib_first_third": first,
        "rss_mib_last_third": last_third,
        "rss_mib_peak": peak,
        "fds_min_max": [min(s[2] for s in sampler.samples), max(s[2] for s in sampler.samples)],
        "rss_fds_curve": curve(sampler.samples, 12),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["flood", "soak"])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--senders", type=int, default=32)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--query-every", type=float, default=1.0)
    ap.add_argument("--config", help="a loglynx config file")
    ap.add_argument("--max-requests", type=int,
                    help="[http] max_requests of the server (a config file written next to the data directory)")
    args = ap.parse_args()
    extra = ["--config", args.config] if args.config else []
    if args.max_requests:
        if args.config:
            sys.exit("--max-requests and --config: put max_requests in the config file")
        cfg = args.data_dir.rstrip("/") + ".toml"
        with open(cfg, "w") as f:
            f.write(f"[http]\nmax_requests = {args.max_requests}\n")
        extra = ["--config", cfg]
    proc, addr, cmd = start(args.bin, args.data_dir, extra)
    try:
        out = (flood if args.mode == "flood" else soak)(args, addr, proc.pid)
        out["command"] = " ".join(cmd)
        print(json.dumps(out))
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
