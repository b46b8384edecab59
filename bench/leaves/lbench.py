#!/usr/bin/env python3
"""Search latency through the root (`loglynx serve --leaves`) with 1, 2 and 3 leaves beside a single
`loglynx serve` over one data directory, on the same data, in the same run.

    bench/leaves/lbench.py --bin B --log GLOB --n N --work W [--runs 30] [--warmup 3]

One Tansu broker (memory), one agent tailing GLOB (several files: the agent keys records by
stream, so one file would land in one partition) into a 4-partition topic; six workers:
A and B in one group (each its own data directory, two partitions each, leaf APIs on), C in a
second group (its own directory: every partition), D, E and F in a third (2, 1 and 1
partitions). Once all hold N events:
  serve-dir : `serve --data-dir C`           (the shards read directly: today's shape)
  root-1    : `serve --leaves C`             (the same shards through one leaf)
  root-2    : `serve --leaves A,B`           (the same events spread over two leaves)
  root-3    : `serve --leaves D,E,F`         (over three leaves)
Each shape is timed over one keep-alive connection: p50 / p95 of the client-side time and the
server's took_ms p50. The four totals must agree (the check that they answer the same question).
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka"))
import kbench  # noqa: E402
from kbench import Proc, Tansu, agent_cmd, log, write_config  # noqa: E402

SHAPES = [
    ("term", "/api/v1/search", {"q": "failed", "limit": 20}),
    ("phrase", "/api/v1/search", {"q": '"Failed password"', "limit": 20}),
    ("filter", "/api/v1/search", {"q": "host.name:app-05 AND failed", "limit": 20}),
    ("histogram", "/api/v1/histogram", {"q": "failed", "buckets": 60}),
    ("terms", "/api/v1/terms", {"q": "*", "field": "host.name", "size": 10}),
]


def ready_addr(p, word):
    for line in p.lines:
        if word in line:
            return line.rsplit(word, 1)[1].split()[0]
    raise SystemExit(f"{p.name}: no {word!r} in {p.lines}")


def serve_port(p):
    for line in p.lines:
        if line.startswith("loglynx ready: dashboard http://"):
            return int(line.split("http://")[1].split("/")[0].rsplit(":", 1)[1])
    raise SystemExit(f"{p.name}: no ready line")


def leaf_count(addr):
    conn = http.client.HTTPConnection(addr, timeout=60)
    conn.request("POST", "/internal/v1/count", json.dumps({"request": {"query": ""}, "offsets": None}),
                 {"content-type": "application/json"})
    r = conn.getresponse()
    return json.loads(r.read())


def time_shapes(port, runs, warmup):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out = {}
    for name, path, params in SHAPES:
        url = path + "?" + urllib.parse.urlencode(params)
        times, took, total = [], [], None
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            conn.request("GET", url)
            r = conn.getresponse()
            body = json.loads(r.read())
            dt = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                raise SystemExit(f"{url}: {r.status} {body}")
            if body.get("missing"):
                raise SystemExit(f"{url}: partial answer {body['missing']}")
            if i >= warmup:
                times.append(dt)
                took.append(body.get("took_ms", 0))
            total = body.get("total", sum(b["count"] for b in body.get("buckets", [])) + body.get("other", 0))
        times.sort()
        out[name] = {"p50": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))],
                     "took_p50": statistics.median(took), "total": total}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    broker = Tansu(a.work)
    procs = []
    try:
        cfg = write_config(os.path.join(a.work, "loglynx.toml"), broker.brokers)
        topic = "leaves"
        agent = Proc("agent", agent_cmd(a.bin, cfg, os.path.join(a.work, "agent"), broker.brokers, topic,
                                         a.log, partitions=4), a.work, ready="loglynx agent ready").wait_ready()
        procs.append(agent)
        workers = {}
        for name, group in (("a", "g1"), ("b", "g1"), ("c", "g2"), ("d", "g3"), ("e", "g3"), ("f", "g3")):
            cmd = [a.bin, "worker", "--config", cfg, "--data-dir", os.path.join(a.work, name), "--brokers",
                   broker.brokers, "--topic", topic, "--group", group, "--consumers", "2",
                   "--search-listen", "127.0.0.1:0", "--log", "warn"]
            p = Proc(f"worker-{name}", cmd, a.work, ready="loglynx worker ready").wait_ready(120)
            procs.append(p)
            workers[name] = ready_addr(p, "search ")
        t0 = time.monotonic()
        while True:
            c = leaf_count(workers["c"])
            ab = leaf_count(workers["a"]) + leaf_count(workers["b"])
            def_ = sum(leaf_count(workers[w]) for w in ("d", "e", "f"))
            if c >= a.n and ab >= a.n and def_ >= a.n:
                break
            if time.monotonic() - t0 > 3600:
                raise SystemExit(f"not indexed after 1 h: c={c} a+b={ab} d+e+f={def_}")
            log(f"indexed: c {c:,}, a+b {ab:,}, d+e+f {def_:,} of {a.n:,}")
            time.sleep(5)
        held = {w: leaf_count(workers[w]) for w in ("a", "b", "d", "e", "f")}
        log(f"indexed {a.n:,} events three times in {time.monotonic() - t0:.0f} s (leaves hold {held}); stopping the agent")
        agent.stop()
        results = {}
        shapes = [
            ("serve-dir", ["--data-dir", os.path.join(a.work, "c")]),
            ("root-1", ["--data-dir", os.path.join(a.work, "root1"), "--leaves", workers["c"]]),
            ("root-2", ["--data-dir", os.path.join(a.work, "root2"), "--leaves", f"{workers['a']},{workers['b']}"]),
            ("root-3", ["--data-dir", os.path.join(a.work, "root3"), "--leaves", ",".join(workers[w] for w in ("d", "e", "f"))]),
        ]
        for name, args in shapes:
            port = kbench.free_port()
            s = Proc(name, [a.bin, "serve", "--config", cfg, "--http", f"127.0.0.1:{port}", "--log", "warn", *args],
                     a.work, ready="loglynx ready").wait_ready()
            time.sleep(1)
            log(f"{name}: {len(SHAPES)} shapes x {a.runs} runs")
            results[name] = time_shapes(serve_port(s), a.runs, a.warmup)
            s.stop()
        print(json.dumps(results, indent=1))
        print()
        print("| shape | serve --data-dir (p50 / p95, took p50) | root, 1 leaf | root, 2 leaves | root, 3 leaves | total (all agree) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, _, _ in SHAPES:
            cells = []
            totals = set()
            for k in ("serve-dir", "root-1", "root-2", "root-3"):
                r = results[k][name]
                totals.add(r["total"])
                cells.append(f"{r['p50']:.1f} / {r['p95']:.1f} ({r['took_p50']})")
            agree = totals.pop() if len(totals) == 1 else f"DISAGREE {totals}"
            print(f"| {name} | {' | '.join(cells)} | {agree} |")
    finally:
        for p in procs:
            p.stop()
        broker.stop()


if __name__ == "__main__":
    main()
