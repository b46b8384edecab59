// End-to-end test of the Sources page against the real `loglynx run`: it tails a pipe-delimited
// application log (no format detection reads it: the structure is learned), with a
// `[[files.zones]]` entry for it and a `[[files.layouts]]` entry for another file. The API is the
// oracle: the page must show, per source, the layout, the time format, the zone and where it
// comes from, the lines read and re-learnings, and the sample line with each field highlighted
// as `segments` says; and what the configuration sets.
//
//   scripts/build-ui.sh && cargo build --workspace && \
//     (cd ui && LOGLYNX_BIN=$PWD/../target/debug/loglynx node --test tests/sources.e2e.mjs)
//
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { appendFile, mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR, freePort, launch, waitFor } from "./support.mjs";

let browser;
let server = null;
let work = null;
let logs = null;
let written = 0;

const LEVELS = ["INFO", "WARN", "ERROR", "DEBUG"];
/** The n-th line of the billing service's log: `time|level|thread|logger|message`. */
function line(n) {
  const s = String(n % 60).padStart(2, "0");
  const m = String(Math.floor(n / 60) % 60).padStart(2, "0");
  return `2024-05-31 10:${m}:${s}.250|${LEVELS[n % 4]}|worker-${n % 7}|billing.Invoice|invoice ${n} sent to customer ${n * 7}\n`;
}

async function more(k) {
  let text = "";
  for (let i = 0; i < k; i++) text += line(written++);
  await appendFile(join(logs, "app-billing.log"), text);
}

async function learned() {
  const r = await fetch(`${server.base}/api/v1/sources/learned`);
  const body = await r.json().catch(() => null);
  assert.equal(r.status, 200, JSON.stringify(body));
  return body;
}

before(async () => {
  if (!existsSync(BIN)) throw new Error(`loglynx binary not found at ${BIN}: run \`cargo build --workspace\``);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  work = await mkdtemp(join(tmpdir(), "loglynx-sources-e2e-"));
  logs = join(work, "logs");
  const data = join(work, "data");
  await mkdir(logs);
  await mkdir(data);
  const cfg = join(work, "loglynx.toml");
  await writeFile(
    cfg,
    [
      "[syslog]",
      'udp = "off"',
      'tcp = "off"',
      "[files]",
      'timezone = "UTC"',
      "[[files.zones]]",
      `paths = ["${logs}/app-*.log"]`,
      'timezone = "Europe/Paris"',
      "[[files.layouts]]",
      `paths = ["${logs}/legacy.log"]`,
      'timestamp_format = "%d.%m.%Y %H:%M:%S%.f"',
      "",
    ].join("\n"),
  );
  await more(40);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = launch(BIN, ["run", "--config", cfg, "--data-dir", data, "--http", `127.0.0.1:${port}`, "--tail", `${logs}/*.log`]);
  server = { base, stop: p.stop, output: p.output };
  try {
    await waitFor("GET /api/v1/health", async () => {
      if (p.exited()) throw new Error(`loglynx exited early (${JSON.stringify(p.exited())})`);
      return (await fetch(`${base}/api/v1/health`)).ok;
    });
    await waitFor("the billing log's structure learned", async () => (await learned()).sources.length === 1);
    // The lines read are counted as they come (saved every few seconds): write until some are.
    await waitFor(
      "lines read with the learned structure",
      async () => {
        await more(5);
        return (await learned()).sources[0].matched > 0;
      },
      60_000,
    );
  } catch (e) {
    throw new Error(`${e.message}\n--- loglynx output ---\n${p.output()}`);
  }
});

after(async () => {
  await server?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
  await browser?.close();
});

test("the Sources page shows each learned structure, its zone, counts and a highlighted sample", async () => {
  const api = await learned();
  const src = api.sources[0];
  // What the user configured and what was learned, as the API says it.
  assert.equal(src.kind, "file");
  assert.equal(src.source, join(logs, "app-billing.log"));
  assert.deepEqual(src.fields, ["time", "level", "thread", "logger", "message"]);
  assert.equal(src.zone, "Europe/Paris");
  assert.equal(src.zone_from, "files.zones");
  assert.equal(src.segments.map((s) => s.text).join(""), src.sample);

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await page.goto(`${server.base}/ui/#view=sources&start=`);
    const card = page.locator(`.source-card[data-source="${src.source}"]`);
    await card.waitFor({ timeout: 30_000 });
    assert.equal(await page.locator(".source-card").count(), 1);
    const fact = (k) => card.locator(`dd[data-fact="${k}"]`).innerText();
    assert.deepEqual(await card.locator('dd[data-fact="layout"] .fld').allInnerTexts(), src.fields);
    assert.match(await fact("zone"), /^Europe\/Paris \(files\.zones\)/);
    assert.match(await fact("time"), /any known shape/);
    // Counts grow between the API read and the page's: at least what the API said.
    const matched = Number((await fact("matched")).replace(/[^0-9]/g, ""));
    assert.ok(matched >= src.matched, `page ${matched} < api ${src.matched}`);
    assert.equal(await fact("relearned"), "0");
    // The sample line with each field highlighted where the structure reads it.
    const sample = card.locator(".source-sample");
    const shown = await sample.evaluate((pre) =>
      [...pre.querySelectorAll("[data-field]")].map((s) => [s.dataset.field, s.textContent]),
    );
    const want = (await learned()).sources[0].segments.filter((s) => s.field).map((s) => [s.field, s.text]);
    assert.deepEqual(shown, want);
    assert.deepEqual(shown.map((s) => s[0]), ["time", "level", "thread", "logger", "message"]);
    assert.match(shown[4][1], /^invoice \d+ sent to customer \d+$/);
    assert.equal(await sample.innerText(), (await learned()).sources[0].sample);
    // What the configuration sets, as the config file spells it.
    const overrides = await page.locator('[data-testid="sources-overrides"] li').allInnerTexts();
    assert.deepEqual(overrides, [
      '[files] timezone = "UTC"',
      `[[files.zones]] paths = ["${logs}/app-*.log"], timezone = "Europe/Paris"`,
      `[[files.layouts]] paths = ["${logs}/legacy.log"], timestamp_format = "%d.%m.%Y %H:%M:%S%.f"`,
    ]);
    assert.match(await page.locator('[data-testid="sources-summary"]').innerText(), /^1 source with a learned structure/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, "sources.png"), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
