// End-to-end test of the Network page against the real `loglynx run --tcp-states` (root: eBPF
// mode) and a python3 TCP server that leaks 2 of 3 accepted connections in CLOSE_WAIT.
//
//   scripts/build-ui.sh && cargo build -p loglynx-cli && (cd ui && npm run test:e2e)
//
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, DEADLINE_MS, SCREENSHOT_DIR, UI_DIR, freePort, launch, waitFor } from "./support.mjs";

/** `loglynx run` with its own data dir and `config` text; `stop()` kills it and removes the dir. */
async function startServer(config, extraArgs) {
  if (!existsSync(BIN)) throw new Error(`loglynx binary not found at ${BIN}: run \`cargo build -p loglynx-cli\``);
  const dir = await mkdtemp(join(tmpdir(), "loglynx-net-e2e-"));
  const dataDir = join(dir, "data");
  await mkdir(dataDir);
  const cfg = join(dir, "loglynx.toml");
  await writeFile(cfg, config);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = launch(BIN, ["run", "--config", cfg, "--data-dir", dataDir, "--http", `127.0.0.1:${port}`, ...extraArgs]);
  const stop = async () => {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("GET /api/v1/health", async () => {
      if (p.exited()) throw new Error(`loglynx exited early (${JSON.stringify(p.exited())})`);
      return (await fetch(`${base}/api/v1/health`)).ok;
    });
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- loglynx output ---\n${p.output()}`);
  }
  return { base, stop, output: p.output };
}

// Listens on 127.0.0.1 (port 0), connects to itself 3 times, sends 1000 bytes on each client
// end and closes it; the server reads the first accepted socket to its end and closes it, and
// leaves the other 2 unread in CLOSE_WAIT until it exits.
const LEAKER = `
import os, signal, socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
port = srv.getsockname()[1]
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
accepted = [srv.accept()[0] for _ in range(3)]
for c in clients:
    c.sendall(b"x" * 1000)
    c.close()
while accepted[0].recv(65536):
    pass
accepted[0].close()
print("ready", os.getpid(), port, flush=True)
signal.pause()
`;

const SYSLOG_OFF = '[syslog]\nudp = "off"\ntcp = "off"\n';
let browser;
const cleanups = [];

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await browser?.close();
});

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

async function searchTotal(base, q) {
  const r = await fetch(`${base}/api/v1/search?${new URLSearchParams({ q, start: "now-1h", limit: "1" })}`);
  return r.ok ? (await r.json()).total : -1;
}

/** Upper bounds (us) of the time-in-state buckets (crates/netmon/src/view.rs DURATION_BOUNDS_US). */
const TIS_BOUNDS_US = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 60_000_000];

/** Stored transitions of `range` per state left and duration bucket, from /api/v1/search totals. */
async function timeInStateOf(base, range) {
  const states = {};
  // States in lifecycle order, as the page sorts its rows.
  for (const st of ["LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "LAST_ACK", "CLOSING", "TIME_WAIT", "CLOSE"]) {
    for (let i = 0; i <= TIS_BOUNDS_US.length; i++) {
      const lo = i === 0 ? 1 : TIS_BOUNDS_US[i - 1];
      const hi = TIS_BOUNDS_US[i];
      let q = `event.dataset:network.tcp AND tcp.old_state:${st} AND tcp.state_duration_us:>=${lo}`;
      if (hi !== undefined) q += ` AND tcp.state_duration_us:<${hi}`;
      const r = await fetch(`${base}/api/v1/search?${new URLSearchParams({ q, ...range, limit: "1" })}`);
      assert.ok(r.ok, `search ${q}: ${r.status}`);
      const n = (await r.json()).total;
      if (n > 0) (states[st] ??= Array(TIS_BOUNDS_US.length + 1).fill(0))[i] = n;
    }
  }
  return states;
}

/** The time-in-state table as shown: state -> counts per bucket (the Total column left out). */
async function tisTable(page) {
  const rows = await page.$$eval("#net-tis tr[data-state]", (rs) =>
    rs.map((r) => [r.dataset.state, [...r.querySelectorAll("td")].slice(2).map((c) => c.textContent.trim())]),
  );
  const num = (t) => (t === "" || t === "-" || t === "·" ? 0 : Number(t.replace(/,/g, "")));
  return Object.fromEntries(rows.map(([s, cs]) => [s, cs.map(num)]));
}

test("network page: CLOSE_WAIT leak of a python server, transitions, time in state, alerts", async () => {
  const testStart = Date.now();
  const config = `${SYSLOG_OFF}[tcp_states]\nsnapshot_interval = "500ms"\nclose_wait_threshold = 2\n`;
  const server = await startServer(config, ["--tcp-states"]);
  cleanups.push(server.stop);
  await waitFor("the monitor mode line", () => /tcp states: mode (\w+)/.exec(server.output()));
  const mode = /tcp states: mode (\w+)/.exec(server.output())[1];
  assert.equal(mode, "bpf", `expected eBPF mode as root:\n${server.output()}`);

  const leaker = launch("python3", ["-c", LEAKER]);
  cleanups.push(leaker.stop);
  const ready = await waitFor("the python leaker", () => {
    if (leaker.exited()) throw new Error(`python exited: ${leaker.output()}`);
    return /ready (\d+) (\d+)/.exec(leaker.output());
  });
  const pid = ready[1];
  const port = ready[2];

  const { page, errors } = await newPage();
  await page.goto(`${server.base}/ui/#start=now-15m&view=network`);
  await page.waitForSelector("#network:not([hidden])");
  assert.equal(await page.getAttribute("#tab-network", "aria-selected"), "true");
  await waitFor("mode bpf shown", async () => (await page.textContent("#net-mode")) === "bpf");
  assert.ok(await page.isHidden("#net-off"));

  // (a) sockets per state per process: exactly 2 CLOSE_WAIT for the python pid.
  const cwCell = `#net-procs tr[data-pid="${pid}"] td[data-state="CLOSE_WAIT"]`;
  await waitFor(`CLOSE_WAIT cell of pid ${pid} to show 2`, async () => {
    const t = await page.textContent(cwCell).catch(() => null);
    return t?.trim() === "2";
  });
  const procName = (await page.textContent(`#net-procs tr[data-pid="${pid}"] td.c-proc`)).trim();
  assert.match(procName, /^python/);
  // (b) the leader row with its peer.
  const lead = `#net-leaders tr[data-pid="${pid}"]`;
  await page.waitForSelector(lead);
  const cells = await page.$$eval(`${lead} td`, (tds) => tds.map((t) => t.textContent.trim()));
  assert.deepEqual(cells, [procName, pid, "2", port, "127.0.0.1 (2)"]);

  // The transitions and the alert are stored events: wait for them, then reload the page.
  const cwq = `event.dataset:network.tcp AND tcp.new_state:CLOSE_WAIT AND source.port:${port}`;
  await waitFor("3 CLOSE_WAIT transitions stored", async () => (await searchTotal(server.base, cwq)) === 3);
  const aq = `event.dataset:loglynx.alert AND rule.name:tcp_close_wait_leak AND labels.group.process.pid:${pid}`;
  await waitFor("the CLOSE_WAIT leak alert stored", async () => (await searchTotal(server.base, aq)) >= 1);
  await page.reload();
  await page.waitForSelector("#network:not([hidden])");

  // (c) the transitions chart has a CLOSE_WAIT series counting at least our 3.
  await waitFor("the transitions chart", () => page.$("#net-chart .u-legend"));
  const legend = await page.$$eval("#net-chart .u-legend .u-label", (ls) => ls.map((l) => l.textContent));
  const cw = legend.map((l) => /^CLOSE_WAIT \((\d+)\)$/.exec(l)).find(Boolean);
  assert.ok(cw && Number(cw[1]) >= 3, `legend: ${legend.join(" | ")}`);
  assert.ok(Number(await page.getAttribute("#net-chart", "data-total")) >= 3 * 4);

  // (d) time in state over the range: ESTABLISHED was left by at least our 6 sockets.
  await page.waitForSelector('#net-tis tr[data-state="ESTABLISHED"]');
  const est = await page.textContent('#net-tis tr[data-state="ESTABLISHED"] td:nth-child(2)');
  assert.ok(Number(est.replace(/,/g, "")) >= 6, `ESTABLISHED left ${est} times`);

  // (d') over a fixed range, every cell is the stored transitions of that range (counted here
  // with the duration bounds of netmon's view.rs), not the monitor's counts since it started.
  const range = { start: new Date(testStart - 60_000).toISOString(), end: new Date().toISOString() };
  await new Promise((r) => setTimeout(r, 2500)); // transitions before `end` committed (1 s commits)
  let seen = "";
  await waitFor("the time-in-state table to equal the stored transitions of the range", async () => {
    const want = await timeInStateOf(server.base, range);
    await page.goto(`${server.base}/ui/#${new URLSearchParams({ ...range, view: "network" })}`);
    await page.reload();
    await page.waitForSelector('#net-tis tr[data-state="ESTABLISHED"]');
    const got = await tisTable(page);
    seen = `page ${JSON.stringify(got)} vs stored ${JSON.stringify(want)}`;
    return JSON.stringify(got) === JSON.stringify(want);
  }).catch((e) => {
    throw new Error(`${e.message}: ${seen}`);
  });
  // A range that ends before the server started: no state left there (the monitor's own counts
  // since it started would show our sockets).
  const before = { start: new Date(testStart - 7_200_000).toISOString(), end: new Date(testStart - 3_600_000).toISOString() };
  await page.goto(`${server.base}/ui/#${new URLSearchParams({ ...before, view: "network" })}`);
  await page.reload();
  await waitFor("an empty time-in-state table", async () =>
    (await page.textContent("#net-tis").catch(() => "")).includes("no state left in this range"),
  );
  assert.deepEqual(await tisTable(page), {});
  await page.goto(`${server.base}/ui/#start=now-15m&view=network`);
  await page.reload();
  await page.waitForSelector("#network:not([hidden])");

  // (e) the alert names the process.
  await waitFor("the alert row", async () => {
    const rows = await page.$$eval("#net-alerts tr", (rs) => rs.map((r) => r.textContent));
    return rows.some((r) => r.includes("tcp_close_wait_leak") && r.includes(pid));
  });
  // (f) mode and reason.
  assert.match(await page.textContent("#net-status-text"), /\d+ sockets .* transitions .* dropped/);

  // (g) the socket snapshot, CLOSE_WAIT only: the 2 leaked sockets with their owner, the 1000
  // bytes each received and left unread (Recv-Q counts the FIN too, as in ss), as the API says.
  await page.selectOption("#net-ns-state", "CLOSE_WAIT");
  const leaked = `#net-netstat tr[data-local="127.0.0.1:${port}"]`;
  await waitFor("the 2 leaked sockets in the snapshot", async () => (await page.$$(leaked)).length === 2);
  const shown = await page.$$eval(leaked, (rs) =>
    rs.map((r) => Object.fromEntries([...r.cells].map((c) => [c.dataset.k, c.textContent.trim()]))),
  );
  const api = await (await fetch(`${server.base}/api/v1/network/netstat?state=CLOSE_WAIT&size=1000`)).json();
  const mine = api.sockets.filter((x) => x.lport === Number(port) && x.laddr === "127.0.0.1");
  assert.equal(mine.length, 2, JSON.stringify(api));
  for (const row of shown) {
    assert.equal(row.state, "CLOSE_WAIT");
    assert.equal(row.pid, pid);
    assert.equal(row.process, procName);
    assert.ok(["1000", "1001"].includes(row.recv_q), `Recv-Q ${row.recv_q}`);
    assert.equal(row.send_q, "0");
    assert.equal(row.sent, "0");
    assert.ok(["1,000", "1,001"].includes(row.received), `received ${row.received}`);
    assert.ok(Number(row.rtt_ms) > 0, `RTT ${row.rtt_ms}`);
    const same = mine.find((x) => `127.0.0.1:${x.rport}` === row.peer);
    assert.ok(same, `${row.peer} not in ${JSON.stringify(mine)}`);
    assert.equal(String(same.owner.pid), row.pid);
    assert.equal(String(same.stats.tcp.bytes_received.toLocaleString("en-US")), row.received);
  }
  assert.notEqual(shown[0].peer, shown[1].peer);
  // A state the API does not know is a 400 that lists the names.
  const bad = await fetch(`${server.base}/api/v1/network/netstat?state=OPEN`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.reason, /^unknown TCP state "OPEN": use one of .*CLOSE_WAIT/);

  await page.screenshot({ path: join(SCREENSHOT_DIR, "network.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

// Serves on 127.0.0.1 (port 0): each accepted connection reads REQ bytes, answers REP bytes and
// closes; the same process connects N times, sends REQ, reads REP, closes, then tries a closed
// port once (a SYN the kernel drops with NO_SOCKET) and waits.
const N = 3;
const REQ = 4_000_000;
const REP = 50_000;
const TALKER = `
import os, signal, socket, threading
N, REQ, REP = ${N}, ${REQ}, ${REP}
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
port = srv.getsockname()[1]
def serve():
    for _ in range(N):
        c, _a = srv.accept()
        got = 0
        while got < REQ:
            b = c.recv(65536)
            if not b: break
            got += len(b)
        c.sendall(b"r" * REP); c.close()
threading.Thread(target=serve, daemon=True).start()
for _ in range(N):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"q" * REQ)
    got = 0
    while True:
        b = s.recv(65536)
        if not b: break
        got += len(b)
    assert got == REP, got
    s.close()
closed = socket.socket(); closed.bind(("127.0.0.1", 0)); dead = closed.getsockname()[1]; closed.close()
try: socket.create_connection(("127.0.0.1", dead), timeout=2)
except OSError: pass
print("ready", os.getpid(), port, flush=True)
signal.pause()
`;

// One loopback connection carrying 100 bytes every 10 ms (each answered by an ACK), until killed.
const STEADY = `
import socket, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname())
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s, _a = srv.accept()
print("steady", flush=True)
while True:
    c.sendall(b"x" * 100)
    s.recv(65536)
    time.sleep(0.004)
`;

async function getApi(base, path) {
  const r = await fetch(`${base}/api/v1/${path}`);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** The Network page's history row of python3 -> 127.0.0.1, the pair the perf tests make. */
const PAIR_ROW = '#net-perf-history tr[data-process="python3"][data-peer="127.0.0.1"]';

/** python3 -> 127.0.0.1 in the performance history from `start` to `end` (60 buckets), if there. */
async function pairHistory(base, start, end) {
  const h = await getApi(base, `network/perf/history?${new URLSearchParams({ start, end, buckets: "60", size: "50" })}`);
  return h.peers.find((g) => g.process === "python3" && g.peer === "127.0.0.1");
}

/** Opens the Network page over `start`..`end` and waits for the pair's history row. */
async function showPairOnPage(page, base, start, end) {
  await page.goto(`${base}/ui/#start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}&view=network`);
  await page.reload();
  await page.waitForSelector(PAIR_ROW);
}

/**
 * The pair's history once it has read the same for 1.5 s: the summaries of the range's last
 * seconds arrive one a second and are stored with the next commit, so two reads a few
 * milliseconds apart could agree before the last one is in.
 */
async function stableHistory(read) {
  let last = null;
  let since = 0;
  let stable = null;
  await waitFor("a stable history of the pair", async () => {
    const g = await read();
    const text = JSON.stringify(g);
    if (g && text === last && Date.now() - since >= 1500) {
      stable = g;
      return true;
    }
    if (text !== last) {
      last = text;
      since = Date.now();
    }
    return false;
  });
  return stable;
}

/** The cells' data-value of a row, keyed by data-k. */
async function rowValues(page, sel) {
  return page.$$eval(`${sel} td[data-k]`, (tds) => Object.fromEntries(tds.map((t) => [t.dataset.k, t.dataset.value ?? t.textContent])));
}

// A server with the monitor in BPF mode and short performance intervals (the tests run as
// root, where the monitor must not fall back to polling).
async function startPerfServer() {
  const config = `${SYSLOG_OFF}[tcp_states]\nsnapshot_interval = "500ms"\nperf_interval = "500ms"\nperf_summary_interval = "1s"\n`;
  const server = await startServer(config, ["--tcp-states"]);
  cleanups.push(server.stop);
  await waitFor("the monitor mode line", () => /tcp states: mode (\w+)/.exec(server.output()));
  assert.equal(/tcp states: mode (\w+)/.exec(server.output())[1], "bpf", server.output());
  return server;
}

test("network page: top talkers, RTT, retransmits and drops of a python client and server", async () => {
  const server = await startPerfServer();

  const py = launch("python3", ["-c", TALKER]);
  cleanups.push(py.stop);
  const ready = await waitFor("the python talker", () => {
    if (py.exited()) throw new Error(`python exited: ${py.output()}`);
    return /ready (\d+) (\d+)/.exec(py.output());
  });
  const [pid, port] = [ready[1], ready[2]];

  // Both ends of the N connections are stored (one network.connection event per socket).
  const cq = `event.dataset:network.connection AND destination.port:${port}`;
  await waitFor(`${2 * N} connection events`, async () => (await searchTotal(server.base, cq)) === 2 * N);
  const mine = await getApi(server.base, `network/talkers?${new URLSearchParams({ q: `destination.port:${port}`, start: "now-1h" })}`);
  assert.equal(mine.connections, 2 * N);
  assert.equal(mine.truncated, false);
  const out = mine.talkers.find((t) => t.direction === "outbound");
  const inb = mine.talkers.find((t) => t.direction === "inbound");
  assert.equal(mine.talkers.length, 2, JSON.stringify(mine));
  for (const t of [out, inb]) {
    assert.equal(t.process, "python3");
    assert.equal(t.peer, "127.0.0.1");
    assert.equal(t.port, Number(port));
    assert.equal(t.connections, N);
    assert.equal(t.bytes, t.sent_bytes + t.received_bytes);
  }
  // The kernel counts sequence space acked / received: the payload plus at most SYN and FIN.
  const near = (got, want, what) => assert.ok(got >= want && got <= want + 2 * N, `${what}: ${got}, sent ${want}`);
  near(out.sent_bytes, N * REQ, "client sent");
  near(out.received_bytes, N * REP, "client received");
  near(inb.sent_bytes, N * REP, "server sent");
  near(inb.received_bytes, N * REQ, "server received");

  // The perf counters stop moving for the idle python process: read until two reads agree.
  let perf;
  await waitFor("stable perf counters for the python pid with an RTT sample", async () => {
    const a = await getApi(server.base, "network/perf");
    const row = (p) => JSON.stringify([p.processes?.find((x) => String(x.pid) === pid), p.rtt?.find((r) => String(r.pid) === pid && r.peer === "127.0.0.1")]);
    const same = perf && row(perf) === row(a) && a.rtt?.some((r) => String(r.pid) === pid);
    perf = a;
    return same;
  });
  const proc = perf.processes.find((x) => String(x.pid) === pid);
  assert.ok(proc.tx_bytes >= N * (REQ + REP), `tx_bytes ${proc.tx_bytes}`);
  const rtt = perf.rtt.find((r) => String(r.pid) === pid && r.peer === "127.0.0.1");
  assert.ok(rtt.count > 0 && rtt.p50_us <= rtt.p99_us, JSON.stringify(rtt));
  await waitFor("NO_SOCKET drops counted", async () =>
    (await getApi(server.base, "network/perf")).drops?.some((d) => d.reason === "NO_SOCKET" && d.count > 0));

  const { page, errors } = await newPage();
  await page.goto(`${server.base}/ui/#start=now-15m&view=network`);
  await page.waitForSelector("#network:not([hidden])");

  // Top talkers: the page's rows are the API's answer for the range; ours are among them.
  const talkerSel = (dir) => `#net-talkers tr[data-process="python3"][data-port="${port}"][data-direction="${dir}"]`;
  await page.waitForSelector(talkerSel("outbound"));
  for (const [dir, t] of [["outbound", out], ["inbound", inb]]) {
    const v = await rowValues(page, talkerSel(dir));
    assert.deepEqual(v, {
      connections: String(t.connections),
      sent: String(t.sent_bytes),
      received: String(t.received_bytes),
      bytes: String(t.bytes),
      retransmits: String(t.retransmits),
    });
    assert.equal(await page.getAttribute(talkerSel(dir), "data-peer"), "127.0.0.1");
  }
  assert.match(await page.textContent("#net-talkers-count"), /\d+ connections, \d+ groups/);

  // RTT and retransmits per process: the stable values the API gave.
  const rttRow = `#net-rtt tr[data-pid="${pid}"][data-peer="127.0.0.1"]`;
  await page.waitForSelector(rttRow);
  assert.equal(await page.getAttribute(`${rttRow} td:nth-child(4)`, "data-count"), String(rtt.count));
  assert.equal(await page.getAttribute(`${rttRow} td:nth-child(6)`, "data-us"), String(rtt.p50_us));
  assert.equal(await page.getAttribute(`${rttRow} td:nth-child(7)`, "data-us"), String(rtt.p99_us));
  const pv = await rowValues(page, `#net-perf-procs tr[data-pid="${pid}"]`);
  assert.equal(pv.tx, String(proc.tx_bytes));
  assert.equal(pv.rx, String(proc.rx_bytes));
  assert.equal(pv.retransmits, String(proc.retransmits));
  // The rate column fills in on the next refresh (0.0 for an idle process).
  await waitFor("a retransmit rate for the python pid", async () =>
    (await page.textContent(`#net-perf-procs tr[data-pid="${pid}"] td[data-k="rate"]`)).trim() === "0.0");

  // Drops by reason: NO_SOCKET from the refused connect, not more than the API counts after.
  const dropSel = '#net-drops tr[data-reason="NO_SOCKET"] td:nth-child(3)';
  await page.waitForSelector(dropSel);
  const shown = Number(await page.getAttribute(dropSel, "data-value"));
  const after = (await getApi(server.base, "network/perf")).drops.find((d) => d.reason === "NO_SOCKET").count;
  assert.ok(shown >= 1 && shown <= after, `page ${shown}, api ${after}`);

  await page.screenshot({ path: join(SCREENSHOT_DIR, "network-perf.png"), fullPage: true });

  // Performance over time, from the stored network.perf summaries of a fixed range: the page
  // shows what the API folds for the same range (python3 -> 127.0.0.1, and NO_SOCKET drops).
  await waitFor("stored network.perf summaries of python3", async () =>
    (await searchTotal(server.base, "event.dataset:network.perf AND event.action:peer AND process.name:python3")) > 0 &&
    (await searchTotal(server.base, "event.dataset:network.perf AND event.action:drop AND network.drop.reason:NO_SOCKET")) > 0);
  const range = { start: new Date(Date.now() - 15 * 60_000).toISOString(), end: new Date().toISOString() };
  // The summaries of the range's last second may still be on their way to the store when the
  // API or the page reads it: both read the range again until they agree (the range is fixed
  // and in the past, so it stops changing).
  const expectedRow = (g) => ({
    segs_out: String(g.segs_out),
    retransmits: String(g.retransmits),
    rate: String(g.retransmit_rate),
    rate_baseline: g.retransmit_baseline_rate === null ? "" : String(g.retransmit_baseline_rate),
    rate_above: String(g.retransmit_above_baseline),
    samples: String(g.rtt_samples),
    p50: String(g.rtt_p50_us),
    p99: String(g.rtt_p99_us),
    mean: String(g.rtt_mean_us),
    baseline: g.rtt_baseline_mean_us === null ? "" : String(g.rtt_baseline_mean_us),
    above: String(g.rtt_above_baseline),
  });
  const dropRow = '#net-perf-drops tr[data-reason="NO_SOCKET"]:not([data-process]) td[data-k="count"]';
  let hist, group, hv, dropShown;
  await waitFor("the page's history rows equal to the API's for the same range", async () => {
    hist = await getApi(server.base, `network/perf/history?${new URLSearchParams({ ...range, buckets: "60", size: "50" })}`);
    group = hist.peers.find((g) => g.process === "python3" && g.peer === "127.0.0.1");
    if (!group) return false;
    await showPairOnPage(page, server.base, range.start, range.end);
    hv = await rowValues(page, PAIR_ROW);
    dropShown = await page.getAttribute(dropRow, "data-value");
    const drops = hist.drops.find((d) => d.reason === "NO_SOCKET");
    const same = JSON.stringify(hv) === JSON.stringify(expectedRow(group)) && dropShown === String(drops?.count);
    // what differs, in the timeout's message
    if (!same) throw new Error(`page ${JSON.stringify({ ...hv, drops: dropShown })} vs api ${JSON.stringify({ ...expectedRow(group), drops: drops?.count })}`);
    return same;
  });
  assert.ok(group, JSON.stringify(hist.peers.map((g) => [g.process, g.peer])));
  assert.ok(group.segs_out > 0 && group.rtt_samples > 0, JSON.stringify(group));
  assert.equal(group.series.length, 60);
  assert.equal(group.series.reduce((a, p) => a + p.segs_out, 0), group.segs_out);
  const noSocket = hist.drops.find((d) => d.reason === "NO_SOCKET");
  assert.ok(noSocket?.count >= 1, JSON.stringify(hist.drops));
  assert.deepEqual(hv, expectedRow(group));
  assert.equal(dropShown, String(noSocket.count));
  assert.ok(Number(await page.getAttribute("#net-perf-rtt-chart", "data-lines")) >= 1);
  assert.ok(Number(await page.getAttribute("#net-perf-drops-chart", "data-lines")) >= 1);
  assert.match(await page.textContent("#net-perf-history-count"), /\d+ summaries, \d+ groups/);
  await page.screenshot({ path: join(SCREENSHOT_DIR, "network-perf-history.png"), fullPage: true });

  // Service map: the python client connected N times to the same process's listener, so the
  // edge goes from python3 to python3 (the target named through the listener's inbound events,
  // not 127.0.0.1:port), with the connections' bytes and the perf summaries' RTT and segments.
  const only = await getApi(server.base, `network/map?${new URLSearchParams({ ...range, q: `destination.port:${port} OR process.pid:${pid}` })}`);
  const py3 = only.nodes.find((n) => n.process === "python3");
  assert.ok(py3 && py3.kind === "process", JSON.stringify(only.nodes));
  const loop = only.edges.find((e) => e.source === py3.id && e.target === py3.id);
  assert.ok(loop, JSON.stringify(only.edges));
  assert.equal(loop.connections, N);
  near(loop.sent_bytes, N * REQ, "map: client sent");
  near(loop.received_bytes, N * REP, "map: client received");
  assert.ok(loop.segs_out > 0 && loop.rtt_samples > 0 && loop.rtt_p99_us > 0, JSON.stringify(loop));
  assert.equal(loop.retransmit_rate, loop.retransmits / loop.segs_out);
  assert.ok(!only.edges.some((e) => e.target === `127.0.0.1:${port}`), JSON.stringify(only.edges));
  // The page shows the whole range's map: its rows are the API's edges for the same range (read
  // again until both agree, as above).
  const mapRow = `#net-map tr[data-source="${py3.id}"][data-target="${py3.id}"]`;
  const expectedEdge = (e) => ({
    connections: String(e.connections),
    sent: String(e.sent_bytes),
    received: String(e.received_bytes),
    segs_out: String(e.segs_out),
    rate: e.retransmit_rate === null ? "" : String(e.retransmit_rate),
    p99: e.rtt_p99_us === null ? "" : String(e.rtt_p99_us),
  });
  let map, edge, mv, mapRows;
  await waitFor("the page's map row equal to the API's for the same range", async () => {
    map = await getApi(server.base, `network/map?${new URLSearchParams({ ...range, size: "500" })}`);
    edge = map.edges.find((e) => e.source === py3.id && e.target === py3.id);
    if (!edge) return false;
    await page.reload();
    await page.waitForSelector(mapRow);
    mv = await rowValues(page, mapRow);
    mapRows = await page.$$eval("#net-map tr[data-source]", (trs) => trs.length);
    const same = JSON.stringify(mv) === JSON.stringify(expectedEdge(edge)) && mapRows === Math.min(map.edges.length, 500);
    if (!same) throw new Error(`page ${JSON.stringify({ ...mv, rows: mapRows })} vs api ${JSON.stringify({ ...expectedEdge(edge), rows: map.edges.length })}`);
    return same;
  });
  assert.ok(edge.connections >= N);
  assert.deepEqual(mv, expectedEdge(edge));
  assert.equal(mapRows, Math.min(map.edges.length, 500));
  // The node filter keeps only the edges that name it.
  await page.fill("#net-map-filter", "python3");
  const named = await page.$$eval("#net-map tr[data-source]", (trs) => trs.map((t) => [t.dataset.source, t.dataset.target]));
  assert.ok(named.length >= 1 && named.every(([a, b]) => a.includes("python3") || b.includes("python3")), JSON.stringify(named));
  assert.match(await page.textContent("#net-map-count"), new RegExp(`\\d+ nodes, ${named.length} edges`));
  await page.fill("#net-map-filter", "no-such-node");
  assert.equal(await page.$$eval("#net-map tr[data-source]", (trs) => trs.length), 0);
  assert.match(await page.textContent("#net-map"), /no edge names "no-such-node"/);
  await page.fill("#net-map-filter", "");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "network-map.png"), fullPage: true });

  assert.deepEqual(errors, []);
  await page.close();
});

test("network page: a process and peer's RTT and retransmit-rate baselines beside its mean RTT and rate", async () => {
  const server = await startPerfServer();
  const { page, errors } = await newPage();

  // Usual vs now: steady traffic gives python3 -> 127.0.0.1 enough RTT samples and segments per
  // summary for the monitor to compare its intervals with a baseline (after 4 of them); the
  // history then carries both baselines and the page shows them beside the mean RTT and the
  // retransmit rate, in the table and the charts.
  const steady = launch("python3", ["-c", STEADY]);
  cleanups.push(steady.stop);
  const since = new Date(Date.now() - 15 * 60_000).toISOString();
  const history = (end) => pairHistory(server.base, since, end);
  await waitFor("a python3 -> 127.0.0.1 summary compared with its RTT and retransmit-rate baselines", async () => {
    if (steady.exited()) throw new Error(`python exited: ${steady.output()}`);
    const g = await history(new Date().toISOString());
    return g?.rtt_baseline_mean_us > 0 && g?.retransmit_baseline_rate !== null;
  });
  await steady.stop();
  // A fixed range, read until two reads agree (the last summaries are being stored).
  const end = new Date().toISOString();
  const based = await stableHistory(() => history(end));
  assert.ok(based.rtt_mean_us > 0 && based.rtt_baseline_mean_us > 0, JSON.stringify(based));
  const withBase = based.series.filter((p) => p.rtt_baseline_mean_us !== null);
  assert.ok(withBase.length >= 1 && withBase.every((p) => p.rtt_samples > 0), JSON.stringify(based.series));
  await showPairOnPage(page, server.base, since, end);
  const bv = await rowValues(page, PAIR_ROW);
  assert.equal(bv.baseline, String(based.rtt_baseline_mean_us));
  assert.equal(bv.mean, String(based.rtt_mean_us));
  assert.equal(bv.above, String(based.rtt_above_baseline));
  const shownBase = (await page.textContent(`${PAIR_ROW} td[data-k="baseline"]`)).trim();
  assert.match(shownBase, /^\d+(\.\d+)? (µs|ms)$/);
  // The retransmit rate beside its baseline, as the API gives them; the row is marked above
  // the baseline exactly when the API counts intervals tcp_retransmit_above_baseline flags.
  assert.ok(based.segs_out > 0 && typeof based.retransmit_baseline_rate === "number", JSON.stringify(based));
  assert.ok(based.series.some((p) => p.retransmit_baseline_rate !== null), JSON.stringify(based.series));
  assert.equal(bv.rate, String(based.retransmit_rate));
  assert.equal(bv.rate_baseline, String(based.retransmit_baseline_rate));
  assert.equal(bv.rate_above, String(based.retransmit_above_baseline));
  const shownRateBase = (await page.textContent(`${PAIR_ROW} td[data-k="rate_baseline"]`)).trim();
  assert.equal(shownRateBase, `${(based.retransmit_baseline_rate * 100).toFixed(2)} %`);
  const marked = await page.$eval(PAIR_ROW, (tr) => tr.classList.contains("rate-above-baseline"));
  assert.equal(marked, based.retransmit_above_baseline > 0);
  // The chart draws the pair's baseline (dashed) beside its mean.
  assert.ok(Number(await page.getAttribute("#net-perf-rtt-chart", "data-baselines")) >= 1);
  assert.match(await page.textContent("#net-perf-rtt-chart .u-legend"), /python3 → 127\.0\.0\.1 baseline/);
  // And the rate chart the pair's usual retransmit rate beside its rate.
  assert.ok(Number(await page.getAttribute("#net-perf-rate-chart", "data-baselines")) >= 1);
  assert.ok(Number(await page.getAttribute("#net-perf-rate-chart", "data-above")) >= based.retransmit_above_baseline);
  assert.match(await page.textContent("#net-perf-rate-chart .u-legend"), /python3 → 127\.0\.0\.1 baseline/);
  await page.screenshot({ path: join(SCREENSHOT_DIR, "network-perf-baseline.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

// A client streaming 1000-byte writes (about 500 segments a second) to a server thread that
// reads them, printing the server's port. It runs inside a network namespace of its own where
// the test drops a share of the segments reaching that port (nftables on the input hook, after
// they were sent: this kernel has no sch_netem), so the retransmits are the test's own and no
// other socket of the host is touched. The stream keeps going through losses (SACK recovers
// them), so every interval still has the 100 segments the rule wants.
const STREAMER = `
import socket, threading, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname())
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s, _a = srv.accept()
def drain():
    while s.recv(65536):
        pass
threading.Thread(target=drain, daemon=True).start()
print("steady", srv.getsockname()[1], flush=True)
while True:
    c.sendall(b"x" * 1000)
    time.sleep(0.002)
`;

/** `nft` inside namespace `ns`; throws with nft's own message. */
function nftIn(ns, ...args) {
  return execFileSync("ip", ["netns", "exec", ns, "nft", ...args], { encoding: "utf8" });
}

test("network page: a lossy link lifts a pair's retransmit rate above its baseline, marked in the table and the chart, and alerted", async () => {
  const ns = `llx-e2e-loss-${process.pid}`;
  execFileSync("ip", ["netns", "add", ns]);
  cleanups.push(async () => execFileSync("ip", ["netns", "del", ns]));
  execFileSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
  const server = await startPerfServer();
  const { page, errors } = await newPage();
  const since = new Date(Date.now() - 15 * 60_000).toISOString();
  const history = (end) => pairHistory(server.base, since, end);

  // A clean link first: the pair's baseline is its usual (near zero) retransmit rate.
  const steady = launch("ip", ["netns", "exec", ns, "python3", "-c", STREAMER]);
  cleanups.push(steady.stop);
  const port = (
    await waitFor("the steady talker's port", () => {
      if (steady.exited()) throw new Error(`python exited: ${steady.output()}`);
      return /steady (\d+)/.exec(steady.output());
    })
  )[1];
  await waitFor("a retransmit-rate baseline for python3 -> 127.0.0.1", async () => {
    if (steady.exited()) throw new Error(`python exited: ${steady.output()}`);
    const g = await history(new Date().toISOString());
    return typeof g?.retransmit_baseline_rate === "number";
  });
  const clean = await history(new Date().toISOString());
  assert.equal(clean.retransmit_above_baseline, 0, `no interval above the baseline on a clean link: ${JSON.stringify(clean)}`);

  // Then one segment in twenty towards the server's port is dropped: the rate jumps well above
  // the baseline (rule: at least 100 segments, 2x the baseline and 1 point higher).
  nftIn(ns, "add", "table", "inet", "llxloss");
  nftIn(ns, "add", "chain", "inet", "llxloss", "in", "{ type filter hook input priority 0 ; }");
  nftIn(ns, "add", "rule", "inet", "llxloss", "in", "tcp", "dport", port, "numgen", "random", "mod", "20", "==", "0", "counter", "drop");
  await waitFor("intervals of python3 -> 127.0.0.1 above its retransmit baseline", async () => {
    if (steady.exited()) throw new Error(`python exited: ${steady.output()}`);
    const g = await history(new Date().toISOString());
    return g?.retransmit_above_baseline >= 2;
  });
  const dropped = Number(/packets (\d+)/.exec(nftIn(ns, "list", "table", "inet", "llxloss"))?.[1]);
  assert.ok(dropped > 0, "nftables dropped no segment");
  await steady.stop();

  // A fixed range, read until two reads agree (the last summaries are being stored).
  const end = new Date().toISOString();
  const lossy = await stableHistory(() => history(end));
  assert.ok(lossy.retransmits > 0 && lossy.retransmit_rate > lossy.retransmit_baseline_rate, JSON.stringify(lossy));
  const flagged = lossy.series.filter((p) => p.retransmit_above_baseline > 0);
  assert.ok(flagged.length >= 1, JSON.stringify(lossy.series));
  assert.equal(flagged.reduce((n, p) => n + p.retransmit_above_baseline, 0), lossy.retransmit_above_baseline);
  for (const p of flagged) assert.ok(p.retransmit_rate > p.retransmit_baseline_rate, JSON.stringify(p));

  await showPairOnPage(page, server.base, since, end);
  const v = await rowValues(page, PAIR_ROW);
  assert.equal(v.rate_above, String(lossy.retransmit_above_baseline));
  assert.equal(v.rate, String(lossy.retransmit_rate));
  assert.ok(await page.$eval(PAIR_ROW, (tr) => tr.classList.contains("rate-above-baseline")), "the row is not marked above its baseline");
  assert.equal((await page.textContent(`${PAIR_ROW} td[data-k="rate_above"]`)).trim(), `${lossy.retransmit_above_baseline} ▲`);
  assert.ok(Number(await page.getAttribute("#net-perf-rate-chart", "data-above")) >= lossy.retransmit_above_baseline);

  // Two flagged intervals within 5 minutes raise tcp_retransmit_rate_high for the service and peer.
  await page.goto(`${server.base}/ui/#start=now-15m&view=network`);
  await page.reload();
  await waitFor("the retransmit-rate alert row", async () => {
    const rows = await page.$$eval("#net-alerts tr", (rs) => rs.map((r) => r.textContent));
    return rows.some((r) => r.includes("tcp_retransmit_rate_high") && r.includes("python3"));
  });
  await page.screenshot({ path: join(SCREENSHOT_DIR, "network-perf-retransmits.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("network page: a clear message when the monitor is off", async () => {
  const server = await startServer(SYSLOG_OFF, []);
  cleanups.push(server.stop);
  const { page, errors } = await newPage();
  await page.goto(`${server.base}/ui/#start=now-15m&view=network`);
  await page.waitForSelector("#net-off:not([hidden])");
  assert.match(await page.textContent("#net-off"), /network monitor is off: start\s+loglynx run --tcp-states/);
  assert.equal(await page.textContent("#net-mode"), "off");
  assert.ok(await page.isHidden("#error"), "no error banner for an off monitor");
  assert.ok(await page.isHidden("#net-procs"), "no stale socket table while the monitor is off");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "network-off.png") });
  assert.deepEqual(errors, []);
  await page.close();
});
