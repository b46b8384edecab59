#!/usr/bin/env python3
"""Kafka benchmarks of loglynx (run by bench/kafka/run.sh; needs confluent-kafka, see run.sh).

Every sub-command starts its own Tansu broker (memory storage, a free 127.0.0.1 port), prints
progress to stderr and one JSON object of results to stdout; `table` prints the Markdown tables.

  kbench.py produce  --bin B --log F --n N --work W [--rounds 1] [--envelope]
      `loglynx agent --tail F` -> topic, beside a plain confluent-kafka produce loop of the same
      lines (same key, so the same partition; same linger/batch/compression/acks/idempotence),
      in the same run against the same broker. Done = the topic's high watermarks reach N.
  kbench.py worker   --bin B --logs F1 F2 --n N --work W [--consumers 1,2] [--rounds 1]
      pre-fills a 2-partition topic with the agent, then `loglynx worker --consumers C` + `loglynx
      serve` until a search counts N; beside `loglynx run` tailing the same files.
  kbench.py settings --bin B --log F --n N --work W [--markers 5] [--only NAME,...]
      agent throughput, bytes on the wire to the broker and latency to searchable per producer
      setting (linger.ms, batch.size, compression.type through [kafka.properties]).
  kbench.py py-produce ...   the Python peer itself (a child process, so its CPU is its own)
  kbench.py table FILE.json...
"""

import argparse
import json
import shutil
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import llbench  # noqa: E402  (stdlib helpers shared with bench/ingest.sh)
from llbench import free_port, loadavg, log, proc_status  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOG_FILTER = "info,tantivy=warn"  # loglynx's own info logs (produce/consume counts), not tantivy's
HOSTNAME = "bench"  # `hostname` in every loglynx config here: the record key is "bench|file:PATH"

# The agent's producer defaults (crates/bus/src/kafka/config.rs + loglynx.example.toml [kafka]);
# the Python peer uses the same.
AGENT_DEFAULTS = {
    "enable.idempotence": "true", "acks": "all", "linger.ms": "20", "batch.size": "1048576",
    "compression.type": "lz4", "queue.buffering.max.messages": "100000",
    "queue.buffering.max.kbytes": "65536", "message.timeout.ms": "0",
}


def ck():
    try:
        import confluent_kafka
    except ImportError:
        raise SystemExit("confluent-kafka missing: run bench/kafka/run.sh (it makes bench/kafka/.venv)")
    return confluent_kafka


def cpu_s(pid):
    try:
        st = proc_status(pid)
        return st["utime"] + st["stime"]
    except (OSError, IndexError):
        return None


# ---------------------------------------------------------------------------------------------
# processes


class Tansu:
    """A Tansu broker on a free 127.0.0.1 port with memory storage (as crates/cli/tests/support)."""

    def __init__(self, work):
        self.bin = os.environ.get("LOGLYNX_TANSU") or os.path.expanduser("~/.cargo/bin/tansu")
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.brokers = f"127.0.0.1:{self.port}"
        self.log_path = os.path.join(work, f"tansu-{self.port}.log")
        self.proc = subprocess.Popen(
            [self.bin, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"))
        import socket
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"tansu did not listen on {self.brokers}: see {self.log_path}")
                time.sleep(0.05)
        log(f"tansu listening on {self.brokers} (pid {self.proc.pid}, memory storage)")

    def cpu(self):
        return cpu_s(self.proc.pid)

    def rchar(self):
        """Bytes the broker received on its open connections (`ss -ti`: tcp_info
        bytes_received of every established socket on its port). Sampled while the producer's
        connections are open, it counts the produce requests (compressed record batches + request
        framing) plus the small metadata traffic of the benchmark's own clients."""
        try:
            out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{self.port} )"],
                                 capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        return sum(int(m) for m in re.findall(r"bytes_received:(\d+)", out))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Proc:
    """A loglynx process (agent, worker, serve, run) that prints `ready` on stdout."""

    def __init__(self, name, cmd, work, ready="loglynx"):
        self.name, self.cmd = name, cmd
        self.stderr_path = os.path.join(work, f"{name}.stderr.log")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.stderr_path, "ab"),
                                     text=True)
        self.ready = threading.Event()
        self.lines = []
        self.t_ready = None
        self._want = ready
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(self._want) and not self.ready.is_set():
                self.t_ready = time.monotonic()
                self.ready.set()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode} before ready: "
                                 f"{' '.join(self.cmd)} (see {self.stderr_path})")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} not ready after {timeout} s (see {self.stderr_path})")
        return self

    def cpu(self):
        return cpu_s(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within {timeout} s: killing it")
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def write_config(path, brokers, properties=None, extra="", tables=""):
    """A loglynx config: fixed hostname (stable keys), no syslog listeners, [kafka.properties],
    then `tables` (more TOML tables, e.g. "[store]\nwriter_threads = 1")."""
    lines = [f'hostname = "{HOSTNAME}"', "", "[syslog]", 'udp = "off"', 'tcp = "off"', "",
             "[kafka]", f'brokers = "{brokers}"', extra, "", "[kafka.properties]"]
    for k, v in (properties or {}).items():
        lines.append(f'"{k}" = "{v}"')
    if tables:
        lines += ["", tables]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def agent_cmd(binary, cfg, data, brokers, topic, tail, partitions=2):
    return [binary, "agent", "--config", cfg, "--data-dir", data, "--brokers", brokers,
            "--topic", topic, "--partitions", str(partitions), "--tail", tail, "--log", LOG_FILTER]


# ---------------------------------------------------------------------------------------------
# the topic as seen by the broker


class Watermarks:
    """High watermarks of a topic (= records the broker holds), read with a plain consumer."""

    def __init__(self, brokers):
        self.c = ck().Consumer({"bootstrap.servers": brokers, "group.id": "kbench-watermarks",
                                "enable.auto.commit": "false"})

    def partitions(self, topic):
        md = self.c.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            return []
        return sorted(t.partitions)

    def highs(self, topic, parts=None):
        TP = ck().TopicPartition
        out = {}
        for p in parts if parts is not None else self.partitions(topic):
            _lo, hi = self.c.get_watermark_offsets(TP(topic, p), timeout=10, cached=False)
            out[p] = hi
        return out

    def wait_total(self, topic, n, procs=(), label="", timeout=1800, every=0.1):
        """Polls every `every` s until the high watermarks sum to >= n; the time it was seen."""
        parts, total, last_print, t0 = [], 0, time.monotonic(), time.monotonic()
        while True:
            if not parts:
                parts = self.partitions(topic)
            if parts:
                try:
                    total = sum(self.highs(topic, parts).values())
                except Exception as e:  # a transient broker error: poll again
                    log(f"watermarks: {e}")
            now = time.monotonic()
            if total >= n:
                return now
            for p in procs:
                if not p.alive():
                    raise SystemExit(f"{p.name} exited with {p.proc.returncode} at {total:,} records "
                                     f"(see {p.stderr_path})")
            if now - t0 > timeout:
                raise SystemExit(f"{label}: {total:,} of {n:,} records after {timeout} s")
            if now - last_print >= 5:
                el = now - t0
                log(f"{label}: {total:,}/{n:,} records in the topic ({100 * total / n:.0f}%), "
                    f"{el:.0f} s, {total / max(el, 1e-9):,.0f} rec/s")
                last_print = now
            time.sleep(every)

    def sample(self, topic, count=1000, timeout=20):
        """The first `count` messages of partition-wise earliest: (key, mean value bytes)."""
        c = ck().Consumer({"bootstrap.servers": self.c_brokers, "group.id": f"kbench-sample-{time.time()}",
                           "auto.offset.reset": "earliest", "enable.auto.commit": "false"})
        c.subscribe([topic])
        keys, sizes, deadline = {}, [], time.monotonic() + timeout
        while len(sizes) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            keys[m.key().decode("utf-8", "replace")] = m.partition()
            sizes.append(len(m.value() or b""))
        c.close()
        return keys, (sum(sizes) / len(sizes) if sizes else None)


def sample_topic(brokers, topic, count=1000):
    w = Watermarks.__new__(Watermarks)
    w.c_brokers = brokers
    return Watermarks.sample(w, topic, count)


def checkpoint_position(data):
    """The agent's delivered file positions (sum over files)."""
    try:
        with open(os.path.join(data, "agent", "checkpoint.json")) as f:
            cp = json.load(f)
    except (OSError, ValueError):
        return 0
    pos = cp.get("positions", cp)
    return sum(v for v in pos.values() if isinstance(v, int)) if isinstance(pos, dict) else 0


def wait_delivered(data, size, procs, label, t0, timeout=1800, every=0.05):
    """Polls the agent's checkpoint until its file positions sum to `size` (every byte of the
    tailed files has a delivery report); the time it was seen. The checkpoint is rewritten at
    most every 200 ms (crates/bus/src/kafka/producer.rs), so this is late by < 0.2 s.
    Why not the topic's high watermarks: Tansu 0.6 (memory storage) reports a high watermark
    that stays behind the last produced batch until another batch arrives (seen: 296,534 after
    300,000 delivered records; 300,001 after one more record)."""
    pos, last_print = 0, time.monotonic()
    while True:
        pos = checkpoint_position(data)
        now = time.monotonic()
        if pos >= size:
            return now
        for p in procs:
            if not p.alive():
                raise SystemExit(f"{p.name} exited with {p.proc.returncode} at {pos:,} bytes delivered "
                                 f"(see {p.stderr_path})")
        if now - t0 > timeout:
            raise SystemExit(f"{label}: {pos:,} of {size:,} bytes delivered after {timeout} s")
        if now - last_print >= 5:
            el = now - t0
            cpu = ", ".join(f"{p.name} cpu {p.cpu() or 0:.0f} s" for p in procs)
            log(f"{label}: {pos / 1e6:,.0f}/{size / 1e6:,.0f} MB delivered ({100 * pos / size:.0f}%), "
                f"{el:.0f} s, {pos / 1e6 / max(el, 1e-9):,.1f} MB/s, {cpu}")
            last_print = now
        time.sleep(every)


# ---------------------------------------------------------------------------------------------
# search over HTTP (serve or run)


def http_total(port, q="*"):
    url = f"http://127.0.0.1:{port}/api/v1/search?" + urllib.parse.urlencode({"q": q, "limit": 1})
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)["total"]


def wait_searchable(port, n, procs, label, t0, q="*", timeout=1800, every=0.5, stall=60):
    """Polls the search count until it reaches n; (time, count, stalled). Gives up when the count
    has not moved for `stall` seconds (a stuck consumer must not hang the whole benchmark)."""
    total, last_print, last_change, prev = 0, time.monotonic(), time.monotonic(), -1
    while True:
        try:
            total = http_total(port, q)
        except OSError as e:
            log(f"{label}: poll failed: {e}")
        now = time.monotonic()
        if total >= n:
            return now, total, False
        if total != prev:
            prev, last_change = total, now
        elif now - last_change > stall:
            log(f"{label}: STALLED at {total:,} of {n:,} events (no change for {stall} s)")
            return last_change, total, True
        for p in procs:
            if not p.alive():
                raise SystemExit(f"{p.name} exited with {p.proc.returncode} at {total:,} events "
                                 f"(see {p.stderr_path})")
        if now - t0 > timeout:
            raise SystemExit(f"{label}: {total:,} of {n:,} events after {timeout} s")
        if now - last_print >= 5:
            el = now - t0
            cpu = ", ".join(f"{p.name} cpu {p.cpu() or 0:.0f} s" for p in procs)
            log(f"{label}: {total:,}/{n:,} events searchable ({100 * total / n:.0f}%), {el:.0f} s, "
                f"{total / max(el, 1e-9):,.0f} ev/s, {cpu}")
            last_print = now
        time.sleep(every)


# ---------------------------------------------------------------------------------------------
# 1. agent file -> Kafka beside a plain confluent-kafka producer


def cmd_py_produce(a):
    """The Python peer: a plain produce loop of the file's lines (a child process)."""
    conf = dict(AGENT_DEFAULTS)
    conf.update(json.loads(a.conf or "{}"))
    conf["bootstrap.servers"] = a.brokers
    delivered, failed = 0, 0

    def on_delivery(err, _msg):
        nonlocal delivered, failed
        if err is None:
            delivered += 1
        else:
            failed += 1

    conf["on_delivery"] = on_delivery
    last_stats = {}

    def on_stats(text):
        last_stats["json"] = text

    # Statistics (for tx_bytes, the bytes sent to the broker) every 500 ms: a few µs each.
    conf["statistics.interval.ms"] = "500"
    conf["stats_cb"] = on_stats
    p = ck().Producer(conf)
    p.list_topics(a.topic, timeout=10)  # connected and the topic known before the clock starts
    key = a.key.encode()
    path_json = json.dumps(a.log)
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    n, nbytes = 0, 0
    with open(a.log, "rb", buffering=1 << 20) as f:
        for line in f:
            line = line.rstrip(b"\n")
            if a.envelope:
                # The agent's record JSON (crates/bus/src/kafka/codec.rs), built per line.
                line = (b'{"body":' + json.dumps(line.decode("utf-8", "replace")).encode()
                        + b',"truncated":false,"hint":"auto","source":{"kind":"file","path":'
                        + path_json.encode() + b'},"host":"bench","received":"'
                        + time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()).encode()
                        + b'","id":"' + b"%016x-%012x" % (0x1234, nbytes) + b'"}')
            while True:
                try:
                    p.produce(a.topic, line, key)
                    break
                except BufferError:
                    p.poll(0.005)
            n += 1
            nbytes += len(line)
            if n % 1000 == 0:
                p.poll(0)
            if n % 500_000 == 0:
                print(f"[{time.strftime('%H:%M:%S')}] python producer: {n:,} enqueued, "
                      f"{delivered:,} delivered, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    t_enqueued = time.perf_counter()
    p.flush()
    t_done = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    p.poll(1.2)  # one more statistics callback after the last delivery
    st = json.loads(last_stats.get("json", "{}"))
    json.dump({"tx_bytes": st.get("tx_bytes"), "txmsg_bytes": st.get("txmsg_bytes"),"n": n, "value_bytes": nbytes, "delivered": delivered, "failed": failed,
               "enqueue_s": round(t_enqueued - t0, 3), "loop_s": round(t_done - t0, 3),
               "cpu_user_s": round(r1.ru_utime - r0.ru_utime, 2),
               "cpu_sys_s": round(r1.ru_stime - r0.ru_stime, 2),
               "peak_rss_bytes": r1.ru_maxrss * 1024}, sys.stdout)
    print()


def run_agent_once(a, broker, topic, tag):
    data = os.path.join(a.work, f"agent-data-{tag}")
    subprocess.run(["rm", "-rf", data], check=True)
    cfg = write_config(os.path.join(a.work, f"agent-{tag}.toml"), broker.brokers)
    size = os.path.getsize(a.log)
    load_start = loadavg()
    b_cpu0, b_rchar0 = broker.cpu(), broker.rchar()
    agent = Proc(f"agent-{tag}", agent_cmd(a.bin, cfg, data, broker.brokers, topic, a.log), a.work)
    log(f"started: {' '.join(agent.cmd)} (pid {agent.proc.pid})")
    perf = None
    if getattr(a, "perf", False) and tag == "r0":
        perf_out = os.path.join(a.work, "perf-agent.data")
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph",
                                 "dwarf,16384", "-p", str(agent.proc.pid), "-o", perf_out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log(f"perf record of the agent -> {perf_out}")
    wm = Watermarks(broker.brokers)
    agent.wait_ready()
    log(f"agent ready after {agent.t_ready - agent.t_start:.2f} s")
    t_done = wait_delivered(data, size, [agent], "agent", agent.t_ready)
    cpu = proc_status(agent.proc.pid)
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(120)
    b_cpu1, b_rchar1 = broker.cpu(), broker.rchar()
    load_end = loadavg()
    highs = wm.highs(topic)
    agent.stop()
    keys, mean_value = sample_topic(broker.brokers, topic)
    wall = t_done - agent.t_start
    wall_ready = t_done - agent.t_ready
    res = {
        "tool": "loglynx agent", "n": a.n, "raw_bytes": size, "hwm_sum": sum(highs.values()),
        "partitions": highs, "keys": keys, "mean_value_bytes": mean_value,
        "wall_s": round(wall, 2), "ready_s": round(agent.t_ready - agent.t_start, 2),
        "wall_after_ready_s": round(wall_ready, 2),
        "records_per_s": round(a.n / wall_ready), "mb_per_s": round(size / 1e6 / wall_ready, 1),
        "records_per_s_incl_start": round(a.n / wall),
        "cpu_user_s": round(cpu["utime"], 2), "cpu_sys_s": round(cpu["stime"], 2),
        "peak_rss_bytes": cpu.get("VmHWM"),
        "broker_cpu_s": round(b_cpu1 - b_cpu0, 2), "broker_read_bytes": b_rchar1 - b_rchar0,
        "load_start": load_start, "load_end": load_end, "command": " ".join(agent.cmd),
    }
    log(f"agent: {a.n:,} records in {wall_ready:.2f} s after ready ({res['records_per_s']:,}/s), "
        f"cpu {cpu['utime'] + cpu['stime']:.1f} s, broker cpu {res['broker_cpu_s']} s")
    return res


def run_python_once(a, broker, topic, key, tag):
    import confluent_kafka.admin  # noqa: F401  (a submodule)
    admin = ck().admin.AdminClient({"bootstrap.servers": broker.brokers})
    fs = admin.create_topics([ck().admin.NewTopic(topic, num_partitions=2, replication_factor=1)])
    for f in fs.values():
        f.result(30)
    size = os.path.getsize(a.log)
    load_start = loadavg()
    b_cpu0, b_rchar0 = broker.cpu(), broker.rchar()
    wm = Watermarks(broker.brokers)
    cmd = [sys.executable, os.path.abspath(__file__), "py-produce", "--brokers", broker.brokers,
           "--topic", topic, "--log", a.log, "--key", key]
    if a.envelope:
        cmd.append("--envelope")
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    log(f"started: {' '.join(cmd)} (pid {child.pid})")

    out, _ = child.communicate(timeout=1800)
    t_done = time.monotonic()
    b_cpu1, b_rchar1 = broker.cpu(), broker.rchar()
    load_end = loadavg()
    if child.returncode != 0:
        raise SystemExit(f"python producer exited with {child.returncode}")
    r = json.loads(out)
    if r["delivered"] != a.n or r["failed"]:
        raise SystemExit(f"python producer delivered {r['delivered']:,} of {a.n:,} ({r['failed']} failed)")
    highs = wm.highs(topic)
    _keys, mean_value = sample_topic(broker.brokers, topic)
    wall = t_done - t0
    res = {
        "tool": "confluent-kafka " + ck().__version__ + " (librdkafka " + ck().libversion()[0] + ")"
                + (" JSON envelope" if a.envelope else ""),
        "n": a.n, "raw_bytes": size, "hwm_sum": sum(highs.values()), "partitions": highs,
        "mean_value_bytes": mean_value, "wall_s": round(wall, 2),
        "loop_s": r["loop_s"], "enqueue_s": r["enqueue_s"],
        "records_per_s": round(a.n / r["loop_s"]), "mb_per_s": round(size / 1e6 / r["loop_s"], 1),
        "records_per_s_incl_start": round(a.n / wall),
        "cpu_user_s": r["cpu_user_s"], "cpu_sys_s": r["cpu_sys_s"], "peak_rss_bytes": r["peak_rss_bytes"],
        "delivered": r["delivered"], "failed": r["failed"],
        "broker_cpu_s": round(b_cpu1 - b_cpu0, 2), "broker_read_bytes": r.get("tx_bytes"),
        "txmsg_bytes": r.get("txmsg_bytes"),
        "load_start": load_start, "load_end": load_end, "command": " ".join(cmd),
    }
    log(f"python: {a.n:,} records in {r['loop_s']:.2f} s ({res['records_per_s']:,}/s), "
        f"cpu {r['cpu_user_s'] + r['cpu_sys_s']:.1f} s, broker cpu {res['broker_cpu_s']} s")
    return res


def cmd_produce(a):
    os.makedirs(a.work, exist_ok=True)
    broker = Tansu(a.work)
    results = []
    try:
        for rnd in range(a.rounds):
            ra = run_agent_once(a, broker, f"agent-{rnd}", f"r{rnd}")
            results.append(ra)
            key = next(iter(ra["keys"]), f"{HOSTNAME}|file:{a.log}")
            raw = argparse.Namespace(**vars(a))
            raw.envelope = False
            results.append(run_python_once(raw, broker, f"python-{rnd}", key, f"r{rnd}"))
            if a.envelope:
                env = argparse.Namespace(**vars(a))
                env.envelope = True
                results.append(run_python_once(env, broker, f"python-env-{rnd}", key, f"r{rnd}"))
    finally:
        broker.stop()
    json.dump({"kind": "produce", "runs": results}, sys.stdout)
    print()


# ---------------------------------------------------------------------------------------------
# 2. worker Kafka -> searchable beside the all-in-one run


def run_worker_once(a, broker, topic, consumers, tag):
    data = os.path.join(a.work, f"worker-data-{tag}")
    subprocess.run(["rm", "-rf", data], check=True)
    cfg = write_config(os.path.join(a.work, f"worker-{tag}.toml"), broker.brokers,
                       tables=a.worker_toml or "")
    load_start = loadavg()
    b_cpu0 = broker.cpu()
    w = Proc(f"worker-{tag}", [a.bin, "worker", "--config", cfg, "--data-dir", data,
                               "--brokers", broker.brokers, "--topic", topic,
                               "--group", f"kbench-{tag}-{int(time.time())}",
                               "--consumers", str(consumers), "--log", LOG_FILTER], a.work)
    log(f"started: {' '.join(w.cmd)} (pid {w.proc.pid})")
    w.wait_ready()
    port = free_port()
    s = Proc(f"serve-{tag}", [a.bin, "serve", "--config", cfg, "--data-dir", data,
                              "--http", f"127.0.0.1:{port}", "--log", "warn"], a.work)
    s.wait_ready()
    log(f"worker ready after {w.t_ready - w.t_start:.2f} s, serve on 127.0.0.1:{port}")
    t_done, total, stalled = wait_searchable(port, a.n, [w, s], f"worker --consumers {consumers}",
                                             w.t_start)
    cpu = proc_status(w.proc.pid)
    serve_cpu = s.cpu()
    b_cpu1 = broker.cpu()
    load_end = loadavg()
    time.sleep(2)  # nothing more may appear (exactly once)
    final = http_total(port)
    s.stop()
    w.stop()
    wall = t_done - w.t_start
    res = {"tool": f"worker --consumers {consumers} (+ serve)", "n": a.n, "reached": total,
           "stalled": stalled,
           "final_count": final, "wall_s": round(wall, 2), "ready_s": round(w.t_ready - w.t_start, 2),
           "events_per_s": round(total / wall), "mb_per_s": round(a.raw_bytes / 1e6 / wall, 1),
           "cpu_user_s": round(cpu["utime"], 2), "cpu_sys_s": round(cpu["stime"], 2),
           "serve_cpu_s": serve_cpu, "broker_cpu_s": round(b_cpu1 - b_cpu0, 2),
           "peak_rss_bytes": cpu.get("VmHWM"), "load_start": load_start, "load_end": load_end,
           "command": " ".join(w.cmd)}
    log(f"worker --consumers {consumers}: {total:,} of {a.n:,} searchable after {wall:.2f} s "
        f"({res['events_per_s']:,}/s){' (STALLED)' if stalled else ''}, final count {final:,}")
    return res


def run_allinone_once(a, tag):
    data = os.path.join(a.work, f"run-data-{tag}")
    subprocess.run(["rm", "-rf", data], check=True)
    cfg = write_config(os.path.join(a.work, f"run-{tag}.toml"), "127.0.0.1:9")
    load_start = loadavg()
    port = free_port()
    glob = os.path.join(os.path.dirname(a.logs[0]), "*.log")
    r = Proc(f"run-{tag}", [a.bin, "run", "--config", cfg, "--data-dir", data, "--http",
                            f"127.0.0.1:{port}", "--tail", glob, "--syslog-udp", "off",
                            "--syslog-tcp", "off", "--log", "warn"], a.work)
    log(f"started: {' '.join(r.cmd)} (pid {r.proc.pid})")
    r.wait_ready()
    t_done, total, _stalled = wait_searchable(port, a.n, [r], "all-in-one run", r.t_start)
    cpu = proc_status(r.proc.pid)
    load_end = loadavg()
    r.stop()
    wall = t_done - r.t_start
    res = {"tool": "run (all-in-one)", "n": a.n, "reached": total, "final_count": total,
           "wall_s": round(wall, 2), "ready_s": round(r.t_ready - r.t_start, 2),
           "events_per_s": round(a.n / wall), "mb_per_s": round(a.raw_bytes / 1e6 / wall, 1),
           "cpu_user_s": round(cpu["utime"], 2), "cpu_sys_s": round(cpu["stime"], 2),
           "peak_rss_bytes": cpu.get("VmHWM"), "load_start": load_start, "load_end": load_end,
           "command": " ".join(r.cmd)}
    log(f"all-in-one: {a.n:,} searchable in {wall:.2f} s ({res['events_per_s']:,}/s)")
    return res


def cmd_worker(a):
    os.makedirs(a.work, exist_ok=True)
    a.raw_bytes = sum(os.path.getsize(p) for p in a.logs)
    broker = Tansu(a.work)
    results, prefill = [], {}
    try:
        # The agent keys a file's records by the file itself (host, device, inode, first line:
        # hashed, then murmur2), so which partition a file lands on cannot be chosen by name:
        # re-create the second file (a new inode, so a new key) until the halves land apart.
        for attempt in range(10):
            topic = f"worker-bench-{attempt}"
            data = os.path.join(a.work, "prefill-agent")
            subprocess.run(["rm", "-rf", data], check=True)
            cfg = write_config(os.path.join(a.work, "prefill.toml"), broker.brokers)
            glob = os.path.join(os.path.dirname(a.logs[0]), "*.log")
            agent = Proc("prefill-agent", agent_cmd(a.bin, cfg, data, broker.brokers, topic, glob), a.work)
            log(f"pre-filling {topic} (2 partitions): {' '.join(agent.cmd)}")
            agent.wait_ready()
            wm = Watermarks(broker.brokers)
            t = wait_delivered(data, a.raw_bytes, [agent], "pre-fill agent", agent.t_ready)
            highs = wm.highs(topic)
            agent.stop()
            prefill = {"partitions": highs, "wall_s": round(t - agent.t_start, 2), "attempts": attempt + 1}
            log(f"pre-filled in {prefill['wall_s']} s: records per partition {highs}")
            if min(highs.values()) > 0:
                break
            last = a.logs[-1]
            shutil.copyfile(last, last + ".new")
            os.replace(last + ".new", last)
            log("every record went to one partition: re-created the second file (new inode, new key)")
        else:
            raise SystemExit("the two files kept landing on one partition after 10 tries")
        for rnd in range(a.rounds):
            results.append(run_allinone_once(a, f"r{rnd}"))
            for c in a.consumers:
                results.append(run_worker_once(a, broker, topic, c, f"c{c}-r{rnd}"))
    finally:
        broker.stop()
    json.dump({"kind": "worker", "n": a.n, "raw_bytes": a.raw_bytes, "prefill": prefill,
               "runs": results}, sys.stdout)
    print()


# ---------------------------------------------------------------------------------------------
# 3. producer settings


SETTINGS = [
    # name, [kafka.properties]
    ("default (linger 20 ms, 1 MiB, lz4)", {}),
    ("linger.ms=0", {"linger.ms": "0"}),
    ("linger.ms=5", {"linger.ms": "5"}),
    ("linger.ms=50", {"linger.ms": "50"}),
    ("batch.size=16KiB", {"batch.size": "16384"}),
    ("compression none", {"compression.type": "none"}),
    ("compression zstd", {"compression.type": "zstd"}),
    ("compression gzip", {"compression.type": "gzip"}),
    ("compression snappy", {"compression.type": "snappy"}),
]


def stats_from_log(path):
    """Figures of the last librdkafka statistics the agent logged: rdkafka's default
    `ClientContext::stats` logs them as `Client stats: Statistics { .. }` (Debug text) when
    `statistics.interval.ms` is set. tx_bytes: bytes sent to the brokers (requests, compressed
    batches); txmsg_bytes: record bytes before compression; batchsize/batchcnt: per topic."""
    lines = []
    try:
        with open(path, errors="replace") as f:
            lines = [line for line in f if "Client stats:" in line]
    except OSError:
        return None
    if not lines:
        return None

    def num(text, pattern):
        m = re.search(pattern, text)
        return int(float(m.group(1))) if m else None

    last = lines[-1]
    # batchsize/batchcnt are windows over one interval: take the busiest interval's.
    busiest = max(lines, key=lambda t: num(t, r"batchcnt: Window \{[^}]*?avg: (\d+)") or 0)
    return {"tx_bytes": num(last, r"\btx_bytes: (\d+)"), "txmsg_bytes": num(last, r"\btxmsg_bytes: (\d+)"),
            "txmsgs": num(last, r"\btxmsgs: (\d+)"),
            "batchsize_avg": num(busiest, r"batchsize: Window \{[^}]*?avg: (\d+)"),
            "batchcnt_avg": num(busiest, r"batchcnt: Window \{[^}]*?avg: (\d+)")}


def cmd_settings(a):
    os.makedirs(a.work, exist_ok=True)
    chosen = [s for s in SETTINGS if not a.only or any(o in s[0] for o in a.only.split(","))]
    size = os.path.getsize(a.log)
    results = []
    for i, (name, props) in enumerate(chosen):
        broker = Tansu(a.work)  # a fresh broker each: memory and read bytes start from zero
        tag = f"s{i}"
        try:
            log(f"--- setting {name} ---")
            topic = f"settings-{i}"
            # The tailed file is a copy, so the marker lines do not touch the shared log.
            tail = os.path.join(a.work, f"tail-{tag}", "bench.log")
            os.makedirs(os.path.dirname(tail), exist_ok=True)
            subprocess.run(["cp", a.log, tail], check=True)
            adata = os.path.join(a.work, f"settings-agent-{tag}")
            wdata = os.path.join(a.work, f"settings-worker-{tag}")
            subprocess.run(["rm", "-rf", adata, wdata], check=True)
            # librdkafka statistics every second into the agent's log (see stats_from_log).
            cfg = write_config(os.path.join(a.work, f"settings-{tag}.toml"), broker.brokers,
                               dict(props, **{"statistics.interval.ms": "1000"}))
            load_start = loadavg()
            b_cpu0, rchar0 = broker.cpu(), broker.rchar()
            agent = Proc(f"settings-agent-{tag}",
                         agent_cmd(a.bin, cfg, adata, broker.brokers, topic, tail), a.work)
            err = None
            try:
                agent.wait_ready()
            except SystemExit as e:
                err = str(e)
            if err:
                with open(agent.stderr_path, errors="replace") as f:
                    tail_lines = f.read().strip().splitlines()[-3:]
                log(f"{name}: agent failed: {tail_lines}")
                results.append({"setting": name, "properties": props, "error": " | ".join(tail_lines)})
                continue
            t_done = wait_delivered(adata, size, [agent], f"agent ({name})", agent.t_ready)
            cpu = proc_status(agent.proc.pid)
            b_cpu1, rchar1 = broker.cpu(), broker.rchar()
            wall = t_done - agent.t_ready
            # Worker + serve drain the topic, then single marker lines measure latency.
            w = Proc(f"settings-worker-{tag}", [a.bin, "worker", "--config", cfg, "--data-dir", wdata,
                                                "--brokers", broker.brokers, "--topic", topic,
                                                # One consumer: no hand-over of a partition
                                                # (see the Tansu note in docs/BENCHMARKS.md).
                                                "--group", f"kbench-{tag}", "--consumers", "1",
                                                "--log", LOG_FILTER], a.work).wait_ready()
            port = free_port()
            s = Proc(f"settings-serve-{tag}", [a.bin, "serve", "--config", cfg, "--data-dir", wdata,
                                               "--http", f"127.0.0.1:{port}", "--log", "warn"],
                     a.work).wait_ready()
            _t, drained, stalled = wait_searchable(port, a.n, [agent, w, s], f"drain ({name})",
                                                   time.monotonic())
            if stalled:
                log(f"{name}: the worker stalled at {drained:,} of {a.n:,}; latency probes anyway")
            lat = []
            for k in range(a.markers):
                word = f"kbmarker{i}x{k}x{int(time.time() * 1000) % 10**8}"
                line = f"<13>Nov 22 12:00:00 markerhost marker[1]: latency probe {word}\n"
                time.sleep(0.3)
                t0 = time.monotonic()
                with open(tail, "a") as f:
                    f.write(line)
                while True:
                    if http_total(port, word) >= 1:
                        lat.append(time.monotonic() - t0)
                        break
                    if time.monotonic() - t0 > 60:
                        log(f"marker {word} not searchable within 60 s")
                        lat.append(None)
                        break
                    time.sleep(0.02)
                log(f"{name}: marker {k + 1}/{a.markers} searchable after "
                    f"{lat[-1] * 1000 if lat[-1] else float('nan'):.0f} ms")
            stats = stats_from_log(agent.stderr_path)
            load_end = loadavg()
            for p in (s, w, agent):
                p.stop()
            ok = [x for x in lat if x is not None]
            stats = stats or {}
            res = {"setting": name, "properties": props, "n": a.n, "raw_bytes": size,
                   "wall_s": round(wall, 2), "records_per_s": round(a.n / wall),
                   "mb_per_s": round(size / 1e6 / wall, 1),
                   "agent_cpu_s": round(cpu["utime"] + cpu["stime"], 2),
                   "broker_cpu_s": round(b_cpu1 - b_cpu0, 2),
                   "broker_read_bytes": rchar1 - rchar0,
                   "stats_tx_bytes": stats.get("tx_bytes"), "stats_txmsg_bytes": stats.get("txmsg_bytes"),
                   "stats_batchsize_avg": stats.get("batchsize_avg"),
                   "stats_batchcnt_avg": stats.get("batchcnt_avg"),
                   "latency_ms": [round(x * 1000) if x else None for x in lat],
                   "latency_p50_ms": round(statistics.median(ok) * 1000) if ok else None,
                   "load_start": load_start, "load_end": load_end}
            log(f"{name}: {res['records_per_s']:,} rec/s, broker read {res['broker_read_bytes'] / 1e6:.1f} MB, "
                f"latency p50 {res['latency_p50_ms']} ms")
            results.append(res)
        finally:
            broker.stop()
    json.dump({"kind": "settings", "runs": results}, sys.stdout)
    print()


def cmd_split(a):
    """Writes the first and second half of LOG into two files of DIR. (The names were once chosen
    so that path keys fell into different partitions; keys are now per file, so `worker`
    re-creates the second file until they do.)"""
    os.makedirs(a.dir, exist_ok=True)
    for f in os.listdir(a.dir):
        if f.endswith(".log"):
            os.remove(os.path.join(a.dir, f))
    d = os.path.abspath(a.dir)

    def part(path):
        return zlib.crc32(f"{HOSTNAME}|file:{path}".encode()) % 2

    names = [os.path.join(d, f"half-{i}.log") for i in range(64)]
    first = names[0]
    second = next(p for p in names[1:] if part(p) != part(first))
    half = a.n // 2
    with open(a.log, "rb") as src, open(first, "wb") as fa, open(second, "wb") as fb:
        for i, line in enumerate(src):
            if i >= a.n:
                break
            (fa if i < half else fb).write(line)
    log(f"split {a.n:,} lines of {a.log} into {first} (partition {part(first)}) and "
        f"{second} (partition {part(second)})")
    print(first, second)


# ---------------------------------------------------------------------------------------------
# tables


def mib(b):
    return f"{b / 2**20:,.0f} MiB" if b else "-"


def table(a):
    for path in a.files:
        with open(path) as f:
            r = json.load(f)
        kind = r["kind"]
        if kind == "produce":
            print("| producer | records | s to last delivery report | records/s | MB/s (raw lines) | CPU s "
                  "(user+sys) | CPU µs/record | value bytes/record | broker CPU s | bytes read by broker "
                  "| load avg start/end |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for x in r["runs"]:
                cpu = x["cpu_user_s"] + x["cpu_sys_s"]
                wall = x.get("wall_after_ready_s", x.get("loop_s"))
                print(f"| {x['tool']} | {x['n']:,} | {wall} | {x['records_per_s']:,} "
                      f"| {x['mb_per_s']} | {cpu:.1f} ({x['cpu_user_s']:.1f}+{x['cpu_sys_s']:.1f}) "
                      f"| {1e6 * cpu / x['n']:.1f} | {x['mean_value_bytes'] or 0:.0f} "
                      f"| {x['broker_cpu_s']} | {mib(x['broker_read_bytes'])} "
                      f"| {x['load_start']} / {x['load_end']} |")
        elif kind == "worker":
            print(f"pre-fill: {r['n']:,} records, per partition {r['prefill']['partitions']}")
            print()
            print("| indexer | events | wall s | events/s | MB/s | CPU s (user+sys) | CPU µs/event "
                  "| final count | load avg start/end |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for x in r["runs"]:
                cpu = x["cpu_user_s"] + x["cpu_sys_s"]
                print(f"| {x['tool']} | {x['reached']:,} | {x['wall_s']} | {x['events_per_s']:,} "
                      f"| {x['mb_per_s']} | {cpu:.1f} ({x['cpu_user_s']:.1f}+{x['cpu_sys_s']:.1f}) "
                      f"| {1e6 * cpu / x['n']:.1f} | {x['final_count']:,}{' STALLED' if x.get('stalled') else ''} "
                      f"| {x['load_start']} / {x['load_end']} |")
            base = [x for x in r["runs"] if x["tool"].startswith("run")]
            if base:
                b = statistics.mean(x["events_per_s"] for x in base)
                for x in r["runs"]:
                    if not x["tool"].startswith("run"):
                        print(f"\n{x['tool']}: {100 * x['events_per_s'] / b:.0f}% of the all-in-one rate",
                              end="")
                print()
        elif kind == "settings":
            print("| setting | records/s | MB/s | agent CPU s | broker CPU s | bytes read by broker "
                  "| librdkafka tx_bytes of txmsg_bytes | avg batch bytes / records | latency to searchable p50 (all) ms "
                  "| load avg start/end |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
            for x in r["runs"]:
                if "error" in x:
                    print(f"| {x['setting']} | failed: {x['error'][:200]} | | | | | | | | |")
                    continue
                bs = (f"{x['stats_batchsize_avg']:,} / {x['stats_batchcnt_avg']:,}"
                      if x.get("stats_batchsize_avg") else "-")
                tx = (f"{mib(x['stats_tx_bytes'])} of {mib(x['stats_txmsg_bytes'])}"
                      if x.get("stats_tx_bytes") else "-")
                print(f"| {x['setting']} | {x['records_per_s']:,} | {x['mb_per_s']} | {x['agent_cpu_s']} "
                      f"| {x['broker_cpu_s']} | {mib(x['broker_read_bytes'])} | {tx} | {bs} "
                      f"| {x['latency_p50_ms']} ({', '.join(str(v) for v in x['latency_ms'])}) "
                      f"| {x['load_start']} / {x['load_end']} |")
        print()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("produce")
    s.add_argument("--bin", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--work", required=True)
    s.add_argument("--rounds", type=int, default=1)
    s.add_argument("--envelope", action="store_true",
                   help="also run the Python peer sending the agent's JSON record instead of the line")
    s.add_argument("--perf", action="store_true", help="perf record the agent of round 0 (slows it)")
    s = sub.add_parser("py-produce")
    s.add_argument("--brokers", required=True)
    s.add_argument("--topic", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--conf", help="JSON of librdkafka properties over the agent's defaults")
    s.add_argument("--envelope", action="store_true")
    s = sub.add_parser("worker")
    s.add_argument("--bin", required=True)
    s.add_argument("--logs", nargs="+", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--work", required=True)
    s.add_argument("--consumers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2])
    s.add_argument("--rounds", type=int, default=1)
    s.add_argument("--worker-toml", help="TOML tables appended to the worker's config (not run's)")
    s = sub.add_parser("settings")
    s.add_argument("--bin", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--work", required=True)
    s.add_argument("--markers", type=int, default=5)
    s.add_argument("--only", help="comma-separated substrings of setting names")
    s = sub.add_parser("split")
    s.add_argument("--log", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--dir", required=True)
    s = sub.add_parser("table")
    s.add_argument("files", nargs="+")
    a = p.parse_args()
    {"produce": cmd_produce, "py-produce": cmd_py_produce, "worker": cmd_worker,
     "settings": cmd_settings, "split": cmd_split, "table": table}[a.cmd](a)


if __name__ == "__main__":
    main()
