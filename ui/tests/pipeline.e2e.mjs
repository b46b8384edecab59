// End-to-end tests of the Pipeline page in headless Chromium:
// 1. the page renders a fixed /api/v1/pipeline answer (tests/fixtures/pipeline.json, the contract
//    of crates/api/src/routes/pipeline.rs) served to the page by the browser, refreshes every 2 s,
//    highlights growing lag and pauses while hidden;
// 2. against `loglynx run` (all-in-one, no Kafka) it says there is no Kafka pipeline;
// 3. on the real binaries: tansu, `loglynx agent` tailing files into a 2-partition topic, two
//    `loglynx worker` processes (one consumer each, one group, one data dir) and `loglynx serve`.
//
//   scripts/build-ui.sh && cargo build -p loglynx-cli && (cd ui && npm run test:e2e)
//
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium),
// LOGLYNX_TANSU (default ~/.cargo/bin/tansu, else `tansu` on PATH: scripts/tansu.sh install).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { appendFile, mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import {
  BIN,
  CHROMIUM,
  CHROMIUM_ARGS,
  SCREENSHOT_DIR,
  UI_DIR,
  freePort,
  launch,
  waitFor,
  waitOutput,
} from "./support.mjs";

const SYSLOG_OFF = '[syslog]\nudp = "off"\ntcp = "off"\n';
const SLOW_MS = 120_000;
let browser;
const cleanups = [];

before(async () => {
  if (!existsSync(BIN)) throw new Error(`loglynx binary not found at ${BIN}: run \`cargo build -p loglynx-cli\``);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await browser?.close();
});

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

/** A temporary directory removed at the end of the run. */
async function tempDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `loglynx ARGS --http 127.0.0.1:0` (run or serve) and returns its base URL. */
async function startHttp(name, args) {
  const p = launch(BIN, [...args, "--http", "127.0.0.1:0", "--log", "warn"]);
  cleanups.push(p.stop);
  const m = await waitOutput(p, `${name} ready line`, /loglynx ready: dashboard http:\/\/([\d.:]+)\/ui\//, 60_000);
  const base = `http://${m[1]}`;
  await waitFor(`${name} GET /api/v1/health`, async () => (await fetch(`${base}/api/v1/health`)).ok);
  return { base, proc: p };
}

/** `loglynx run` with its own data dir and syslog off. */
async function startRun() {
  const dir = await tempDir("loglynx-pipe-run-");
  const data = join(dir, "data");
  await mkdir(data);
  await writeFile(join(dir, "loglynx.toml"), SYSLOG_OFF);
  return startHttp("loglynx run", ["run", "--config", join(dir, "loglynx.toml"), "--data-dir", data]);
}

/** Text of each cell of each row of a table body, keyed by the cells' `data-col`. */
function tableRows(page, body) {
  return page.$$eval(`${body} tr:not(.empty-row)`, (trs) =>
    trs.map((tr) => {
      const row = { class: tr.className };
      for (const td of tr.querySelectorAll("td")) row[td.dataset.col] = td.textContent.trim();
      return row;
    }),
  );
}

const tileValue = (page, key) => page.textContent(`#pipe-tiles [data-tile="${key}"] .tile-value`);

/** Makes the page look hidden (or visible again) to the Page Visibility API. */
function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

let runServer;
async function runOnce() {
  runServer ??= await startRun();
  return runServer;
}

test("pipeline page renders the contract sample, refreshes every 2 s, pauses when hidden", async () => {
  const { base } = await runOnce();
  const sample = JSON.parse(await readFile(join(UI_DIR, "tests/fixtures/pipeline.json"), "utf8"));
  const hits = [];
  const { page, errors } = await newPage();
  await page.route("**/api/v1/pipeline", (route) => {
    hits.push(Date.now());
    const body = structuredClone(sample);
    // From the second refresh on, partition 1 keeps falling behind.
    if (hits.length > 1) {
      body.partitions[0].lag = 1200 + 300 * (hits.length - 1);
      body.totals.lag = body.partitions[0].lag;
    }
    return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
  });
  await page.goto(`${base}/ui/#view=pipeline`);
  await page.waitForSelector("#pipeline:not([hidden])");
  assert.equal(await page.getAttribute("#tab-pipeline", "aria-selected"), "true");
  await page.waitForSelector('#pipeline[data-enabled="on"]');
  assert.ok(await page.isDisabled("#query"), "the query bar does not apply to the pipeline page");

  // Tiles.
  assert.equal(await tileValue(page, "produce-rate"), "1,523/s");
  assert.equal(await tileValue(page, "consume-rate"), "758/s");
  assert.equal(await tileValue(page, "lag"), "1,200");
  assert.equal(await tileValue(page, "members"), "2");
  assert.equal(await tileValue(page, "rebalances"), "4");
  assert.equal(await tileValue(page, "buffer"), "24 MiB / 256 MiB");
  assert.equal(await page.getAttribute('[data-tile="buffer"] .bar-fill', "style"), "width: 9.4%;");
  assert.ok(await page.isVisible("#pipe-spooling"), "one live agent is spooling");
  assert.equal(await page.textContent("#pipe-spooling"), "spooling: broker unreachable");
  assert.match(await page.textContent("#pipe-status-text"), /^topic logs\s+·\s+group loglynx\s+·\s+2 agents, 2 workers\s+·\s+as of \d{4}-\d\d-\d\d /);

  // Tables.
  assert.deepEqual(await tableRows(page, "#pipe-partitions"), [
    { class: "", partition: "0", owner: "idx2-200", consumer: "0", committed: "59,000", high_watermark: "59,000", lag: "0", missing: "0" },
    { class: "", partition: "1", owner: "idx1-100", consumer: "0", committed: "60,000", high_watermark: "61,200", lag: "1,200", missing: "55" },
  ]);
  const agents = await tableRows(page, "#pipe-agents");
  assert.deepEqual(
    agents.map((a) => [a.class, a.id, a.state, a.rate, a.delivered, a.failures, a.in_flight, a.spool]),
    [
      ["", "edge1-4242", "spooling", "1,523/s", "120,000", "3", "500", "24 MiB / 256 MiB (8,200 records)"],
      ["stale", "edge2-77stale", "stale", "0/s", "10", "0", "0", "0 B / 256 MiB"],
    ],
  );
  const workers = await tableRows(page, "#pipe-workers");
  assert.deepEqual(
    workers.map((w) => [w.id, w.consumers, w.rate, w.consumed, w.undecodable, w.skipped, w.missing, w.partitions]),
    [
      ["idx1-100", "1", "750/s", "60,000", "2", "0", "40", "1"],
      ["idx2-200", "1", "7.5/s", "59,000", "0", "12", "0", "0"],
    ],
  );
  assert.equal(
    await page.getAttribute('#pipe-workers tr[data-id="idx2-200"] td[data-col="skipped"]', "title"),
    "10 sent twice by an agent, 2 offsets the shard already had",
  );
  assert.ok(
    (await page.getAttribute('#pipe-workers tr[data-id="idx1-100"] td[data-col="missing"]', "class")).includes("bad"),
    "missing offsets are marked",
  );
  const reb = await tableRows(page, "#pipe-rebalances");
  assert.deepEqual(
    reb.map((r) => [r.worker, r.kind, r.partitions]),
    [
      ["idx1-100", "assign", "1"],
      ["idx2-200", "revoke", "1"],
      ["idx2-200", "assign", "0, 1"],
    ],
  );

  // The next refreshes: partition 1's lag grows, so it is highlighted.
  const lagCell = '#pipe-partitions tr[data-partition="1"] td[data-col="lag"]';
  await waitFor("the third refresh", () => hits.length >= 3, 10_000);
  await waitFor("the growing lag shown", async () => /^▲ 1,[5-9]\d\d$/.test(await page.textContent(lagCell)));
  assert.ok((await page.getAttribute(lagCell, "class")).includes("hot"));
  assert.ok(!(await page.getAttribute('#pipe-partitions tr[data-partition="0"] td[data-col="lag"]', "class")).includes("hot"));
  const gap = hits[2] - hits[1];
  assert.ok(gap >= 1900 && gap < 4000, `refreshes ${gap} ms apart, not every 2 s`);
  assert.equal(await page.textContent("#pipe-live"), "live");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "pipeline-sample.png"), fullPage: true });

  // Hidden: no refresh for more than two intervals; visible again: refreshes at once.
  await setHidden(page, true);
  assert.equal(await page.textContent("#pipe-live"), "paused");
  const before = hits.length;
  await page.waitForTimeout(5000); // asserting that nothing happens needs a span of time
  assert.ok(hits.length <= before + 1, `${hits.length - before} refreshes while hidden`);
  const hiddenCount = hits.length;
  await setHidden(page, false);
  await waitFor("a refresh once visible", () => hits.length > hiddenCount, 1500);
  // The server counts the request when it arrives; the label changes when the answer is shown.
  await waitFor("the label live again", async () => (await page.textContent("#pipe-live")) === "live", 1500);

  // Leaving the page stops the refreshes.
  await page.click("#tab-search");
  await page.waitForSelector("#search:not([hidden])");
  const left = hits.length;
  await page.waitForTimeout(4500);
  assert.ok(hits.length <= left + 1, `${hits.length - left} refreshes after leaving the page`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("pipeline page against `loglynx run`: no Kafka pipeline, no empty tables", async () => {
  const { base } = await runOnce();
  const r = await fetch(`${base}/api/v1/pipeline`);
  assert.equal(r.status, 404);
  const body = await r.json();
  assert.equal(body.enabled, false);

  const { page, errors } = await newPage();
  await page.goto(`${base}/ui/#view=pipeline`);
  await page.waitForSelector("#pipe-off:not([hidden])");
  assert.equal(await page.textContent("#pipe-off"), body.error);
  assert.match(await page.textContent("#pipe-off"), /no Kafka pipeline behind this server/);
  assert.equal(await page.getAttribute("#pipeline", "data-enabled"), "off");
  assert.equal(await page.textContent("#pipe-live"), "off");
  assert.ok(await page.isHidden("#error"), "no error banner: the all-in-one server simply has no pipeline");
  assert.ok(await page.isHidden("#pipe-tiles"), "no tiles");
  assert.ok(await page.isHidden("#pipe-partitions"), "no empty partitions table");
  assert.ok(await page.isHidden("#pipe-workers"), "no empty workers table");
  assert.ok(await page.isHidden("#pipe-spooling"));
  await page.screenshot({ path: join(SCREENSHOT_DIR, "pipeline-off.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

/** The tansu binary: LOGLYNX_TANSU, ~/.cargo/bin/tansu, or `tansu` on PATH. */
function tansuBin() {
  if (process.env.LOGLYNX_TANSU) return process.env.LOGLYNX_TANSU;
  const p = join(homedir(), ".cargo/bin/tansu");
  return existsSync(p) ? p : "tansu";
}

/** A Tansu broker on a free 127.0.0.1 port with memory storage; returns `host:port`. */
async function startTansu() {
  const port = await freePort();
  const url = `tcp://127.0.0.1:${port}`;
  const p = launch(tansuBin(), ["broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]);
  cleanups.push(p.stop);
  await waitFor("tansu listening", () => {
    if (p.exited()) throw new Error(`tansu exited (${JSON.stringify(p.exited())}): run scripts/tansu.sh install\n${p.output()}`);
    return new Promise((res) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        res(true);
      });
      s.once("error", () => res(false));
    });
  });
  return `127.0.0.1:${port}`;
}

async function searchTotal(base) {
  const r = await fetch(`${base}/api/v1/search?${new URLSearchParams({ q: "*", limit: "1" })}`);
  return r.ok ? (await r.json()).total : -1;
}

test("pipeline page on a real Kafka pipeline: agent, two workers, serve", async () => {
  // 8 files (8 streams, keyed host + stream): both partitions get records but for a 1/128 chance.
  const FILES = 8;
  const PER_FILE = 250;
  const N = FILES * PER_FILE;
  const topic = "ui-pipeline";
  const dir = await tempDir("loglynx-pipe-kafka-");
  const logs = join(dir, "logs");
  const data = join(dir, "data");
  await mkdir(logs);
  await mkdir(data);
  for (let f = 0; f < FILES; f++) {
    const lines = Array.from({ length: PER_FILE }, (_, i) => `pipeline e2e f${f} n${String(i).padStart(6, "0")}\n`);
    await writeFile(join(logs, `f${f}.log`), lines.join(""));
  }
  // Fast commits; a short session timeout; max.poll.interval.ms bounds Tansu's JoinGroup waits.
  const cfg = join(dir, "loglynx.toml");
  await writeFile(
    cfg,
    '[store]\ncommit_interval = "200ms"\n[kafka]\nsession_timeout = "6s"\nmax_poll_interval = "15s"\nconsume_batch = 200\n',
  );
  const brokers = await startTansu();

  // The agent shares the workers' data directory (its files live under agent/), so that serve
  // sees its health report too.
  const agent = launch(BIN, [
    "agent", "--data-dir", data, "--brokers", brokers, "--topic", topic, "--partitions", "2",
    "--tail", join(logs, "*.log"), "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off",
    "--log", "warn",
  ]);
  cleanups.push(agent.stop);
  await waitOutput(agent, "agent ready", /loglynx agent ready/, 60_000);
  const workers = [];
  for (const name of ["worker 1", "worker 2"]) {
    const w = launch(BIN, [
      "worker", "-c", cfg, "--data-dir", data, "--brokers", brokers, "--topic", topic,
      "--group", "ui-e2e", "--consumers", "1", "--log", "warn",
    ]);
    cleanups.push(w.stop);
    await waitOutput(w, `${name} ready`, /loglynx worker ready/, 60_000);
    workers.push(w);
  }
  const serve = await startHttp("loglynx serve", ["serve", "--data-dir", data]);
  cleanups.push(serve.proc.stop);
  const base = serve.base;

  await waitFor(`${N} lines searchable`, async () => {
    const n = await searchTotal(base);
    assert.ok(n <= N, `${n} events stored, more than the ${N} lines`);
    return n === N;
  }, SLOW_MS);
  // The reports are rewritten every second: wait until they show the settled group.
  const first = await fetch(`${base}/api/v1/pipeline`);
  assert.equal(first.status, 200, `loglynx serve has no pipeline view: ${await first.text()}`);
  const settled = await waitFor("GET /api/v1/pipeline: 2 members, 2 partitions, lag 0", async () => {
    const r = await fetch(`${base}/api/v1/pipeline`);
    if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
    const s = await r.json();
    const ok = s.totals.members === 2 && s.partitions.length === 2 && s.partitions.every((p) => p.lag === 0);
    if (!ok) throw new Error(`members ${s.totals.members}, partitions ${JSON.stringify(s.partitions)}`);
    return s;
  }, SLOW_MS);
  assert.equal(settled.topic, topic);
  assert.equal(settled.group, "ui-e2e");

  const { page, errors } = await newPage();
  await page.goto(`${base}/ui/#view=pipeline`);
  await page.waitForSelector('#pipeline[data-enabled="on"]');
  // What the user sees, once a refresh shows every line searchable.
  await waitFor("the page: 2 partitions at lag 0, 2 members", async () => {
    const rows = await tableRows(page, "#pipe-partitions");
    return rows.length === 2 && rows.every((r) => r.lag === "0") && (await tileValue(page, "members")) === "2";
  }, 30_000);
  const parts = await tableRows(page, "#pipe-partitions");
  const ws = await tableRows(page, "#pipe-workers");
  assert.equal(parts.length, 2);
  assert.deepEqual(parts.map((p) => p.partition).sort(), ["0", "1"]);
  assert.deepEqual(parts.map((p) => p.missing), ["0", "0"], "no offset missing in either shard");
  assert.equal(ws.length, 2, "two worker rows");
  assert.ok(ws.every((w) => !w.class.includes("stale")), "no stale worker");
  assert.deepEqual(ws.map((w) => w.missing), ["0", "0"], "no offset missing");
  const workerIds = ws.map((w) => w.id);
  assert.equal(new Set(workerIds).size, 2);
  for (const p of parts) assert.ok(workerIds.includes(p.owner), `partition ${p.partition} owner ${p.owner} not in ${workerIds}`);
  // Each partition's committed offset is its high watermark, and they add up to the N records
  // (an empty partition has no committed offset yet: "–").
  const num = (t) => (t === "–" ? 0 : Number(t.replace(/,/g, "")));
  const committed = parts.map((p) => num(p.committed));
  assert.deepEqual(committed, parts.map((p) => num(p.high_watermark)));
  assert.equal(committed.reduce((a, b) => a + b, 0), N);
  // The workers table lists the partitions each worker owns in the partitions table.
  for (const w of ws) {
    const own = parts.filter((p) => p.owner === w.id).map((p) => p.partition);
    assert.equal(w.partitions, own.length ? own.join(", ") : "none", `worker ${w.id}`);
  }
  assert.equal(await tileValue(page, "lag"), "0");
  assert.equal(await tileValue(page, "members"), "2");
  assert.ok(await page.isHidden("#pipe-spooling"), "the broker is up: no spooling badge");
  // The agent shares the data directory: its row shows every line delivered.
  const agents = await tableRows(page, "#pipe-agents");
  assert.equal(agents.length, 1);
  assert.equal(agents[0].state, "direct");
  assert.equal(agents[0].delivered, N.toLocaleString("en-US"));
  // The timeline: both workers got an assignment; newest first.
  const reb = await tableRows(page, "#pipe-rebalances");
  for (const id of workerIds) assert.ok(reb.some((r) => r.kind === "assign" && r.worker === id), `no assign for ${id}`);
  const times = reb.map((r) => r.time);
  assert.deepEqual(times, [...times].sort().reverse(), "rebalances newest first");

  // More lines while the page stays open: its refreshes follow them without a reload.
  for (let f = 0; f < FILES; f++) {
    const lines = Array.from({ length: PER_FILE }, (_, i) => `pipeline e2e f${f} m${String(i).padStart(6, "0")}\n`);
    await appendFile(join(logs, `f${f}.log`), lines.join(""));
  }
  await waitFor(`${2 * N} lines searchable`, async () => (await searchTotal(base)) === 2 * N, SLOW_MS);
  await waitFor("the page: committed offsets adding up to 2N at lag 0", async () => {
    const rows = await tableRows(page, "#pipe-partitions");
    const sum = rows.map((p) => num(p.committed)).reduce((a, b) => a + b, 0);
    return rows.length === 2 && sum === 2 * N && rows.every((r) => r.lag === "0");
  }, 30_000);
  assert.equal((await tableRows(page, "#pipe-agents"))[0].delivered, (2 * N).toLocaleString("en-US"));
  assert.equal(await tileValue(page, "lag"), "0");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "pipeline.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
  for (const w of workers) await w.stop();
  await agent.stop();
});
