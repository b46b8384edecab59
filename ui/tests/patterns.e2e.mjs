// End-to-end test of the Patterns page and the search's Patterns tab against the real
// `loglynx run`, tailing a copy of Loghub's OpenSSH_2k.log. The API is the oracle: the page must
// show what /api/v1/patterns says (rows, counts, shares, series, compare badges), and a click on
// a pattern must search its events.
//
//   scripts/build-ui.sh && cargo build --workspace && \
//     (cd ui && LOGLYNX_BIN=$PWD/../target/debug/loglynx node --test tests/patterns.e2e.mjs)
//
// Needs ../shared/data/loghub/OpenSSH/OpenSSH_2k.log from the project's root (outside the
// repository): skipped with a message when absent, a failure when LOGLYNX_REQUIRE_SHARED is set.
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR, UI_DIR, freePort, launch, waitFor } from "./support.mjs";

const DATASET = resolve(UI_DIR, "../../shared/data/loghub/OpenSSH/OpenSSH_2k.log");
const REQUIRE_SHARED = !!process.env.LOGLYNX_REQUIRE_SHARED && process.env.LOGLYNX_REQUIRE_SHARED !== "0";
const LINES = 2000;
// The tailed lines only (not the alerts the built-in rules raise over them).
const EVENTS = "NOT event.dataset:loglynx.alert AND NOT event.dataset:loglynx.pattern";
const LIMIT = "200"; // what the page asks for (PATTERN_LIMIT)

let browser;
let server = null;
let work = null;

async function api(path, params = {}) {
  const r = await fetch(`${server.base}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = await r.json().catch(() => null);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(body)}`);
  return body;
}

before(async () => {
  if (!existsSync(BIN)) throw new Error(`loglynx binary not found at ${BIN}: run \`cargo build --workspace\``);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  if (!existsSync(DATASET)) return;
  work = await mkdtemp(join(tmpdir(), "loglynx-patterns-e2e-"));
  const logs = join(work, "logs");
  const data = join(work, "data");
  await mkdir(logs);
  await mkdir(data);
  await copyFile(DATASET, join(logs, "auth.log"));
  const cfg = join(work, "loglynx.toml");
  await writeFile(cfg, '[syslog]\nudp = "off"\ntcp = "off"\n');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = launch(BIN, ["run", "--config", cfg, "--data-dir", data, "--http", `127.0.0.1:${port}`, "--tail", `${logs}/*.log`]);
  server = { base, stop: p.stop, output: p.output };
  try {
    await waitFor("GET /api/v1/health", async () => {
      if (p.exited()) throw new Error(`loglynx exited early (${JSON.stringify(p.exited())})`);
      return (await fetch(`${base}/api/v1/health`)).ok;
    });
    await waitFor(`the ${LINES} OpenSSH lines stored`, async () => (await api("search", { q: EVENTS, limit: "0" })).total === LINES, 120_000);
  } catch (e) {
    throw new Error(`${e.message}\n--- loglynx output ---\n${p.output()}`);
  }
});

after(async () => {
  await server?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
  await browser?.close();
});

/** Whether the dataset is here; when absent, fails under LOGLYNX_REQUIRE_SHARED, else says why it skips. */
function datasetOr(t) {
  if (existsSync(DATASET)) return true;
  const msg = `${DATASET} is absent (Loghub sample data, kept outside the repository)`;
  if (REQUIRE_SHARED) assert.fail(`${msg} and LOGLYNX_REQUIRE_SHARED is set`);
  t.skip(`skipping: ${msg}`);
  return false;
}

/**
 * The second half of the lines' time span, so that "previous" is the first half: the range the
 * page is opened with.
 */
async function halves() {
  const first = (await api("search", { q: EVENTS, limit: "1", sort: "asc" })).hits[0]["@timestamp"];
  const last = (await api("search", { q: EVENTS, limit: "1", sort: "desc" })).hits[0]["@timestamp"];
  const t0 = Date.parse(first);
  const half = Math.ceil((Date.parse(last) + 1000 - t0) / 2000) * 1000;
  return { start: new Date(t0 + half).toISOString(), end: new Date(t0 + 2 * half).toISOString() };
}

/** The rows of a patterns table (`host` is its container) as the user sees them. */
function rowsOf(page, host) {
  return page.$$eval(`${host} tr.pattern-row`, (trs) =>
    trs.map((tr) => {
      const cell = (c) => tr.querySelector(`td[data-col="${c}"]`);
      const tpl = cell("template");
      return {
        id: tr.dataset.id,
        template: [...tpl.childNodes].filter((n) => !(n.classList?.contains("badge"))).map((n) => n.textContent).join("").trim(),
        vars: tpl.querySelectorAll(".var").length,
        badge: tpl.querySelector(".badge")?.textContent ?? null,
        count: cell("count").textContent,
        previous: cell("previous").hidden ? null : cell("previous").textContent,
        share: cell("share").textContent,
        series: cell("series").querySelector("svg").dataset.series,
        points: cell("series").querySelector("polyline").getAttribute("points").split(" ").length,
      };
    }),
  );
}

const num = (n) => new Intl.NumberFormat("en-US").format(n);

/** Checks the rows shown against the API's answer, in its order. */
function sameAsApi(rows, answer, compare) {
  assert.equal(rows.length, answer.patterns.length);
  assert.ok(rows.length > 5, `OpenSSH_2k has more than 5 kinds of line, got ${rows.length}`);
  answer.patterns.forEach((p, i) => {
    const r = rows[i];
    assert.equal(r.id, p.id);
    assert.equal(r.template, p.template);
    assert.equal(r.vars, p.template.split("<*>").length - 1);
    assert.equal(r.count, num(p.count));
    assert.equal(r.series, p.series.join(","));
    assert.equal(r.points, p.series.length);
    // a pattern gone since the previous range is listed with count 0
    assert.match(r.share, p.count === 0 ? /^0%$/ : /^(<0\.1|\d+\.\d)%$/);
    if (p.share >= 0.001) assert.equal(r.share, `${(p.share * 100).toFixed(1)}%`);
    if (compare) {
      assert.equal(r.previous, num(p.previous_count));
      assert.equal(r.badge, p.change === "same" ? null : p.change);
    } else {
      assert.equal(r.previous, null);
      assert.equal(r.badge, null);
    }
  });
}

test("the Patterns page shows the API's patterns, compares with the previous range and opens a pattern in Search", async (t) => {
  if (!datasetOr(t)) return;
  const range = await halves();
  const q = EVENTS;
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    const hash = new URLSearchParams({ q, ...range, view: "patterns" }).toString();
    await page.goto(`${server.base}/ui/#${hash}`);
    await page.waitForSelector("#patterns-page[data-ready]", { timeout: 30_000 });
    const plain = await api("patterns", { q, ...range, limit: LIMIT });
    const total = (await api("search", { q, ...range, limit: "0" })).total;
    assert.ok(total > 0 && total < LINES, `the second half holds some of the lines: ${total}`);
    assert.equal(plain.total, total);
    assert.equal(plain.patterns.reduce((n, p) => n + p.count, 0), total, "the patterns' counts add up to the events");
    sameAsApi(await rowsOf(page, "#patterns-page"), plain, false);
    assert.equal(await page.getAttribute("#patterns-page", "data-total"), String(total));
    assert.match(await page.textContent("#patterns-page [data-testid=patterns-summary]"), new RegExp(`${plain.patterns.length} patterns · ${num(total)} events`));
    assert.equal(await page.isChecked("#patterns-page [data-testid=patterns-compare]"), false);

    // The toggle: compare with the first half.
    await page.click("#patterns-page [data-testid=patterns-compare]");
    await page.waitForSelector('#patterns-page[data-compare="true"][data-ready]', { timeout: 30_000 });
    assert.match(page.url(), /compare=previous/);
    const compared = await api("patterns", { q, ...range, limit: LIMIT, compare: "previous" });
    assert.ok(compared.patterns.some((p) => p.change !== "same"), "some pattern is new, changed or gone between the halves");
    sameAsApi(await rowsOf(page, "#patterns-page"), compared, true);
    await page.screenshot({ path: join(SCREENSHOT_DIR, "patterns.png"), fullPage: true });

    // The toggle off again: no previous counts, no badges.
    await page.click("#patterns-page [data-testid=patterns-compare]");
    await page.waitForSelector('#patterns-page[data-compare="false"][data-ready]', { timeout: 30_000 });
    sameAsApi(await rowsOf(page, "#patterns-page"), plain, false);

    // A click on a pattern searches its events in the same range.
    const pick = plain.patterns[1];
    await page.click(`#patterns-page tr.pattern-row[data-id="${pick.id}"]`);
    await waitFor("the search view", () => page.evaluate(() => document.body.dataset.view === "search"));
    const want = pick.former.length ? `(${[pick.id, ...pick.former].map((i) => `pattern.id:${i}`).join(" OR ")})` : `pattern.id:${pick.id}`;
    assert.equal(await page.inputValue("[data-testid=query]"), want);
    await waitFor(`the search total ${pick.count}`, async () => (await page.getAttribute("#total", "data-total")) === String(pick.count));
    assert.equal((await api("search", { q: want, ...range, limit: "0" })).total, pick.count);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("the search's Patterns tab shows the patterns of the search's query and range", async (t) => {
  if (!datasetOr(t)) return;
  const range = await halves();
  const q = `(${EVENTS}) AND Failed`;
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    const hash = new URLSearchParams({ q, ...range, view: "search" }).toString();
    await page.goto(`${server.base}/ui/#${hash}`);
    await page.waitForSelector("#total[data-total]", { timeout: 30_000 });
    assert.equal(await page.isHidden("[data-testid=search-patterns]"), true);
    await page.click("[data-testid=search-tab-patterns]");
    await page.waitForSelector("#search-patterns[data-ready]", { timeout: 30_000 });
    assert.match(page.url(), /tab=patterns/);
    assert.equal(await page.isHidden("#search-events"), true);
    const answer = await api("patterns", { q, ...range, limit: LIMIT });
    const total = (await api("search", { q, ...range, limit: "0" })).total;
    assert.equal(answer.total, total);
    assert.equal(await page.getAttribute("#total", "data-total"), String(total));
    const rows = await rowsOf(page, "#search-patterns");
    assert.equal(rows.length, answer.patterns.length);
    assert.ok(rows.length >= 1);
    answer.patterns.forEach((p, i) => {
      assert.equal(rows[i].id, p.id);
      assert.equal(rows[i].count, num(p.count));
      assert.match(rows[i].template, /failed/i);
    });
    // Back to the events.
    await page.click("[data-testid=search-tab-events]");
    await waitFor("the events tab", () => page.isVisible("#search-events"));
    assert.doesNotMatch(page.url(), /tab=patterns/);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test('"All time" starts at the oldest matching event (the API alone would take the last 24 hours)', async (t) => {
  if (!datasetOr(t)) return;
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    const hash = new URLSearchParams({ q: EVENTS, start: "", view: "patterns" }).toString();
    await page.goto(`${server.base}/ui/#${hash}`);
    await page.waitForSelector("#patterns-page[data-ready]", { timeout: 30_000 });
    assert.equal(await page.inputValue("[data-testid=range-preset]"), "all");
    // Every line, whatever year the syslog timestamps were given.
    assert.equal(await page.getAttribute("#patterns-page", "data-total"), String(LINES));
    const first = (await api("search", { q: EVENTS, limit: "1", sort: "asc" })).hits[0]["@timestamp"];
    const answer = await api("patterns", { q: EVENTS, start: first, end: new Date().toISOString(), limit: LIMIT });
    const rows = await rowsOf(page, "#patterns-page");
    assert.deepEqual(rows.map((r) => [r.id, r.count]), answer.patterns.map((p) => [p.id, num(p.count)]));
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("with pattern mining off the page shows the server's message", async () => {
  const dir = await mkdtemp(join(tmpdir(), "loglynx-patterns-off-e2e-"));
  const cfg = join(dir, "loglynx.toml");
  await writeFile(cfg, '[syslog]\nudp = "off"\ntcp = "off"\n\n[patterns]\nenabled = false\n');
  await mkdir(join(dir, "data"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = launch(BIN, ["run", "--config", cfg, "--data-dir", join(dir, "data"), "--http", `127.0.0.1:${port}`]);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  try {
    await waitFor("GET /api/v1/health", async () => {
      if (p.exited()) throw new Error(`loglynx exited early (${JSON.stringify(p.exited())}):\n${p.output()}`);
      return (await fetch(`${base}/api/v1/health`)).ok;
    });
    const r = await fetch(`${base}/api/v1/patterns`);
    assert.equal(r.status, 404);
    const why = (await r.json()).error;
    await page.goto(`${base}/ui/#start=now-1h&view=patterns`);
    await page.waitForSelector("#patterns-page[data-ready]", { timeout: 30_000 });
    assert.equal(await page.isVisible("#patterns-page [data-testid=patterns-off]"), true);
    assert.equal(await page.textContent("#patterns-page [data-testid=patterns-off]"), why);
    assert.equal(await page.$$eval("#patterns-page tr.pattern-row", (trs) => trs.length), 0);
  } finally {
    await page.close();
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
