// End-to-end test of the dashboard against the real `loglynx` binary, in headless Chromium.
//
//   cd ui && npm run build && (cd .. && cargo build -p loglynx-cli) && npm run test:e2e
//
// The binary embeds ui/dist at build time, so build the UI before the binary.
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, DEADLINE_MS, SCREENSHOT_DIR, UI_DIR, freePort, waitFor } from "./support.mjs";
/** A running `loglynx run` with its own data dir; `stop()` kills it and removes the dir. */
async function startServer() {
  if (!existsSync(BIN)) {
    throw new Error(
      `loglynx binary not found at ${BIN}: build it with \`cargo build -p loglynx-cli\` ` +
        `(after \`npm run build\` in ui/) or set LOGLYNX_BIN`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "loglynx-e2e-"));
  const dataDir = join(dir, "data");
  await mkdir(dataDir);
  const config = join(dir, "loglynx.toml");
  await writeFile(config, '[syslog]\nudp = "off"\ntcp = "off"\n');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(BIN, ["run", "--config", config, "--data-dir", dataDir, "--http", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  const keep = (b) => {
    logs = (logs + b.toString()).slice(-20_000);
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  let exited = null;
  proc.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("GET /api/v1/health", async () => {
      if (exited) throw new Error(`loglynx exited early (${JSON.stringify(exited)}):\n${logs}`);
      const r = await fetch(`${base}/api/v1/health`);
      return r.ok;
    });
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- loglynx output ---\n${logs}`);
  }
  return { base, stop, logs: () => logs };
}

/** POSTs events as NDJSON to /api/v1/ingest. */
async function ingest(base, events) {
  const body = events.map((e) => JSON.stringify(e)).join("\n") + "\n";
  const r = await fetch(`${base}/api/v1/ingest`, {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body,
  });
  assert.ok(r.ok, `ingest answered ${r.status}: ${await r.text()}`);
}

async function apiGet(base, path, params) {
  const r = await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`);
  return { status: r.status, body: await r.json() };
}

/** Waits until a search for `q` (last 24h) counts exactly `n` events. */
async function waitForTotal(base, q, n) {
  await waitFor(`search "${q}" to count ${n}`, async () => {
    const { status, body } = await apiGet(base, "search", { q, start: "now-24h", limit: "1" });
    return status === 200 && body.total === n;
  });
}

const HOSTS = ["web-1", "web-2", "web-3", "db-1"];
const SERVICES = ["nginx", "api", "worker"];
const LEVELS = ["info", "warn", "error", "debug"];

/**
 * 300 events over the last 55 minutes, newest last; exactly 120 mention "timeout" (i % 5 < 2).
 * Hosts, services and levels cycle with different periods so every filter count differs.
 */
function dataset(runId) {
  const now = Date.now();
  const out = [];
  for (let i = 0; i < 300; i++) {
    const timeout = i % 5 < 2;
    out.push({
      "@timestamp": new Date(now - 55 * 60_000 + i * 11_000).toISOString(),
      "host.name": HOSTS[i % 4],
      "service.name": SERVICES[i % 3],
      "log.level": timeout ? LEVELS[1 + (i % 2)] : LEVELS[i % 4 === 2 ? 3 : 0],
      "labels.run": runId,
      "labels.env": i % 7 === 0 ? "staging" : "prod",
      message: timeout
        ? `upstream request ${i} failed: timeout after ${1000 + i} ms`
        : `request ${i} served in ${i % 50} ms`,
    });
  }
  return out;
}

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

async function totalText(page) {
  return (await page.textContent("#total"))?.trim();
}

test("search view: total, histogram, results, field filter, row details", async () => {
  const events = dataset("search");
  const timeouts = events.filter((e) => e.message.includes("timeout"));
  assert.equal(timeouts.length, 120);
  await ingest(server.base, events);
  await waitForTotal(server.base, "labels.run:search", 300);

  const { page, errors } = await newPage();
  const apiCalls = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/v1/")) apiCalls.push(r.url());
  });
  await page.goto(`${server.base}/ui/#start=now-24h&view=search`);
  await page.waitForSelector("#query");

  // Run the query with Enter.
  await page.fill("#query", "timeout");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector("#total")?.dataset.total === "120", null, { timeout: 10_000 });
  assert.equal(await totalText(page), "120 events");
  assert.match(page.url(), /#q=timeout&start=now-24h&view=search$/);

  // Histogram: rendered, and its buckets (as fetched by the page) add up to the total.
  await page.waitForFunction(() => document.querySelector("#histogram")?.dataset.total === "120", null, { timeout: 10_000 });
  const hist = await page.evaluate(() => {
    const c = document.querySelector("#histogram canvas");
    if (!c) return null;
    const ctx = c.getContext("2d");
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let bar = 0;
    for (let i = 0; i < px.length; i += 4) {
      // The bar colour is blue-dominant (#3d8bfd at 55% over the panel).
      if (px[i + 3] > 0 && px[i + 2] > 150 && px[i + 2] > px[i] + 60) bar++;
    }
    return { w: c.width, h: c.height, bar, buckets: Number(document.querySelector("#histogram").dataset.buckets) };
  });
  assert.ok(hist, "no canvas inside #histogram");
  assert.ok(hist.w > 100 && hist.h > 50, `canvas too small: ${hist.w}x${hist.h}`);
  assert.ok(hist.buckets > 1, `expected several buckets, got ${hist.buckets}`);
  assert.ok(hist.bar > 200, `histogram canvas has no bars drawn (${hist.bar} bar pixels)`);
  const histUrl = apiCalls.filter((u) => u.includes("/histogram") && u.includes("q=timeout")).at(-1);
  assert.ok(histUrl, "the page fetched no histogram for the query");

  // First page: 100 newest hits, all matching, newest first; "load more" brings the rest.
  const rows = page.locator('#results tr[data-testid="hit"]');
  assert.equal(await rows.count(), 100);
  const times = await rows.evaluateAll((trs) => trs.map((tr) => Date.parse(tr.querySelector(".c-time").title)));
  for (let i = 1; i < times.length; i++) assert.ok(times[i - 1] >= times[i], `row ${i} is newer than row ${i - 1}`);
  const newest = timeouts.at(-1);
  assert.equal(await rows.first().locator(".c-msg").textContent(), newest.message);
  const msgs = await rows.locator(".c-msg").allTextContents();
  assert.ok(msgs.every((m) => m.includes("timeout")), "a row without 'timeout'");
  await page.click("#load-more");
  await page.waitForFunction(() => document.querySelectorAll('#results tr[data-testid="hit"]').length === 120);
  assert.equal(await page.isHidden("#load-more"), true);

  // Field sidebar: top values for host.name; clicking one filters the query.
  const value = page.locator('#fields [data-testid="field-value"][data-field="host.name"][data-value="web-2"]');
  const expectedWeb2 = timeouts.filter((e) => e["host.name"] === "web-2").length;
  // The sidebar refreshes per query: wait for the values of this one.
  await waitFor("host.name values for the query", async () => (await value.getAttribute("data-count", { timeout: 1000 })) === String(expectedWeb2), 10_000);
  // labels.* are not in /fields (dynamic): the sidebar takes them from the hits.
  const staging = page.locator('#fields [data-testid="field-value"][data-field="labels.env"][data-value="staging"]');
  const expectedStaging = timeouts.filter((e) => e["labels.env"] === "staging").length;
  assert.equal(await staging.getAttribute("data-count"), String(expectedStaging));
  const hostValues = await page.locator('#fields [data-field="host.name"][data-testid="field-value"]').count();
  assert.equal(hostValues, 4);
  await value.click();
  await page.waitForFunction((n) => document.querySelector("#total")?.dataset.total === String(n), expectedWeb2, { timeout: 10_000 });
  assert.equal(await totalText(page), `${expectedWeb2} events`);
  assert.equal(await page.inputValue("#query"), 'timeout AND host.name:"web-2"');
  assert.equal(await rows.count(), expectedWeb2);

  // Expand a row: every field of the event, with filter buttons.
  await rows.first().click();
  const detail = page.locator('#results tr[data-testid="hit-detail"]');
  await detail.waitFor();
  const newestWeb2 = timeouts.filter((e) => e["host.name"] === "web-2").at(-1);
  for (const [k, v] of Object.entries(newestWeb2)) {
    const cell = detail.locator(`tr[data-field="${k}"] .kv-val`);
    if (k === "@timestamp") {
      assert.equal(Date.parse(await cell.textContent()), Date.parse(v));
    } else {
      assert.equal(await cell.textContent(), v, `field ${k}`);
    }
  }
  assert.equal(await detail.locator('[data-testid="filter-in"]').first().isVisible(), true);
  await page.screenshot({ path: join(SCREENSHOT_DIR, "dashboard.png") });

  // "-" on a field value excludes it.
  await detail.locator('tr[data-field="log.level"] [data-testid="filter-out"]').click();
  const expectedNotLevel = timeouts.filter(
    (e) => e["host.name"] === "web-2" && e["log.level"] !== newestWeb2["log.level"],
  ).length;
  await page.waitForFunction((n) => document.querySelector("#total")?.dataset.total === String(n), expectedNotLevel, { timeout: 10_000 });
  assert.equal(await page.inputValue("#query"), `timeout AND host.name:"web-2" AND NOT log.level:"${newestWeb2["log.level"]}"`);

  // A query the server rejects shows the server's reason under the query bar.
  const bad = "timeout AND (";
  const rejected = await apiGet(server.base, "search", { q: bad, limit: "1" });
  assert.equal(rejected.status, 400);
  await page.fill("#query", bad);
  await page.click("#run");
  await page.waitForSelector("#error:not([hidden])");
  assert.equal((await page.textContent("#error")).trim(), rejected.body.error.reason);

  // Reloading the URL restores the state.
  await page.fill("#query", "timeout");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector("#total")?.dataset.total === "120");
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#total")?.dataset.total === "120", null, { timeout: 10_000 });
  assert.equal(await page.inputValue("#query"), "timeout");
  assert.equal(await page.inputValue("#range-preset"), "24h");

  // Drag to zoom: the dragged range becomes an absolute start/end and the query reruns with it.
  await page.waitForFunction(() => document.querySelector("#histogram")?.dataset.total === "120");
  const over = await page.locator("#histogram .u-over").boundingBox();
  assert.ok(over, "no uPlot overlay to drag on");
  const span = await page.evaluate(() => {
    const d = document.querySelector("#histogram").dataset;
    return { min: Number(d.min), max: Number(d.max) };
  });
  assert.ok(span.min < span.max, `histogram x span ${JSON.stringify(span)}`);
  // Drag from the 40th to the 100th timeout event (oldest first): about 60 events.
  const xOf = (iso) => over.x + ((Date.parse(iso) - span.min) / (span.max - span.min)) * over.width;
  const y = over.y + over.height / 2;
  const [x0, x1] = [xOf(timeouts[40]["@timestamp"]), xOf(timeouts[100]["@timestamp"])];
  assert.ok(x1 - x0 > 5, `drag too short to select: ${x0}..${x1}`);
  await page.mouse.move(x0, y);
  await page.mouse.down();
  await page.mouse.move((x0 + x1) / 2, y, { steps: 5 });
  await page.mouse.move(x1, y, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => /[#&]end=/.test(location.hash));
  const zoomed = new URLSearchParams(new URL(page.url()).hash.slice(1));
  const zs = Date.parse(zoomed.get("start"));
  const ze = Date.parse(zoomed.get("end"));
  assert.ok(zs < ze, `zoom range ${zoomed.get("start")}..${zoomed.get("end")}`);
  assert.equal(zoomed.get("q"), "timeout");
  assert.equal(await page.inputValue("#range-preset"), "custom");
  const inRange = timeouts.filter((e) => {
    const t = Date.parse(e["@timestamp"]);
    return t >= zs && t < ze;
  }).length;
  assert.ok(inRange > 0 && inRange < 120, `the zoomed range holds ${inRange} of the events`);
  await page.waitForFunction((n) => document.querySelector("#total")?.dataset.total === String(n), inRange, { timeout: 10_000 });
  await page.waitForFunction((n) => document.querySelector("#histogram")?.dataset.total === String(n), inRange, { timeout: 10_000 });

  assert.deepEqual(errors, [], "uncaught errors in the page");
  await page.close();
});

test("live tail: new events appear at the bottom", async () => {
  const { page, errors } = await newPage();
  const marker = `tailmark${Date.now()}`;
  await page.goto(`${server.base}/ui/#q=${marker}&view=tail`);
  await page.waitForSelector("#tail:not([hidden])");
  await page.waitForFunction(() => {
    const s = document.querySelector("#tail-status")?.dataset.state;
    return s === "live" || s === "polling";
  }, null, { timeout: 10_000 });

  const now = Date.now();
  const fresh = Array.from({ length: 5 }, (_, i) => ({
    "@timestamp": new Date(now + i).toISOString(),
    "host.name": "tail-host",
    "log.level": "info",
    message: `${marker} line ${i}`,
  }));
  // Noise that does not match the tail's query must not show.
  await ingest(server.base, [...fresh, { "@timestamp": new Date(now).toISOString(), message: "unrelated line" }]);

  const rows = page.locator('#tail-rows tr[data-testid="tail-row"]');
  await page.waitForFunction(() => document.querySelectorAll('#tail-rows tr[data-testid="tail-row"]').length >= 5, null, { timeout: 15_000 });
  const msgs = await rows.locator(".c-msg").allTextContents();
  assert.deepEqual(msgs, fresh.map((e) => e.message));

  // Paused: new events wait; resumed: they are appended.
  await page.click("#tail-toggle");
  assert.equal((await page.textContent("#tail-toggle")).trim(), "Resume");
  const more = { "@timestamp": new Date().toISOString(), message: `${marker} after pause` };
  await ingest(server.base, [more]);
  await page.waitForFunction(() => /1 waiting/.test(document.querySelector("#tail-count")?.textContent ?? ""), null, { timeout: 15_000 });
  assert.equal(await rows.count(), 5);
  await page.click("#tail-toggle");
  await page.waitForFunction(() => document.querySelectorAll('#tail-rows tr[data-testid="tail-row"]').length === 6);
  assert.equal(await rows.last().locator(".c-msg").textContent(), more.message);

  // Bounded: after 1100 more events only the newest 1000 rows remain, in order.
  const t0 = Date.now();
  const flood = Array.from({ length: 1100 }, (_, i) => ({
    "@timestamp": new Date(t0 + i).toISOString(),
    message: `${marker} flood ${i}`,
  }));
  await ingest(server.base, flood);
  await page.waitForFunction(
    (m) => document.querySelector("#tail-rows tr:last-child .c-msg")?.textContent === m,
    flood.at(-1).message,
    { timeout: 20_000 },
  );
  assert.equal(await rows.count(), 1000);
  assert.equal(await rows.first().locator(".c-msg").textContent(), flood[100].message);

  await page.screenshot({ path: join(SCREENSHOT_DIR, "tail.png") });
  assert.deepEqual(errors, [], "uncaught errors in the page");
  await page.close();
});
