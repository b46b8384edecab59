// End-to-end test of the "partial answer" banner through a search root (issue 13): the real
// `loglynx serve --leaves` over two fake leaves (each lists one generation, partitions 3 and 5,
// and answers every query with garbage), so every answer names those partitions in `missing`.
// The Patterns page must show the banner as the search page does, naming what is missing.
//
//   scripts/build-ui.sh && cargo build -p loglynx-cli && \
//     (cd ui && LOGLYNX_BIN=$PWD/../target/debug/loglynx node --test tests/partial.e2e.mjs)
//
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, freePort, launch, waitFor } from "./support.mjs";

let browser;
let server = null;
let work = null;
const leaves = [];

/** A fake leaf: one generation of `partition`, garbage for every query. */
function fakeLeaf(partition) {
  return new Promise((res) => {
    const srv = createServer((req, resp) => {
      req.resume();
      req.on("end", () => {
        const body = req.url.endsWith("/generations")
          ? JSON.stringify({ worker: `fake-${partition}`, generations: [{ partition, id: "fake", from: 0, to: 100, docs: 100, live: true }] })
          : '{"total": "not a number"';
        resp.writeHead(200, { "content-type": "application/json" });
        resp.end(body);
      });
    });
    srv.listen(0, "127.0.0.1", () => {
      leaves.push(srv);
      res(`127.0.0.1:${srv.address().port}`);
    });
  });
}

before(async () => {
  if (!existsSync(BIN)) throw new Error(`loglynx binary not found at ${BIN}: run \`cargo build -p loglynx-cli\``);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  work = await mkdtemp(join(tmpdir(), "loglynx-partial-e2e-"));
  const addrs = [await fakeLeaf(3), await fakeLeaf(5)];
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = launch(BIN, ["serve", "--data-dir", work, "--http", `127.0.0.1:${port}`, "--leaves", addrs.join(",")]);
  server = { base, stop: p.stop, output: p.output };
  try {
    await waitFor("GET /api/v1/health", async () => {
      if (p.exited()) throw new Error(`loglynx exited early (${JSON.stringify(p.exited())})`);
      return (await fetch(`${base}/api/v1/health`)).ok;
    });
  } catch (e) {
    throw new Error(`${e.message}\n--- loglynx output ---\n${p.output()}`);
  }
});

after(async () => {
  await server?.stop().catch(() => {});
  for (const l of leaves) l.close();
  if (work) await rm(work, { recursive: true, force: true });
  await browser?.close();
});

test("the Patterns page shows the partial-answer banner when the root's answer has missing pieces", async () => {
  // The API says what is missing: the oracle of the banner.
  const r = await fetch(`${server.base}/api/v1/patterns?start=now-1h`);
  const api = await r.json();
  assert.equal(r.status, 200, JSON.stringify(api));
  assert.deepEqual(api.missing.map((m) => m.partition).sort(), [3, 5], JSON.stringify(api));

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await page.goto(`${server.base}/ui/#${new URLSearchParams({ start: "now-1h", view: "patterns" })}`);
    await page.waitForSelector("#patterns-page[data-ready]", { timeout: 30_000 });
    const banner = page.locator("#patterns-page [data-testid=patterns-partial]");
    assert.equal(await banner.isVisible(), true, "no partial banner on the Patterns page");
    const text = await banner.textContent();
    assert.match(text, /^Partial answer: the counts lack /);
    for (const m of api.missing) assert.ok(text.includes(`partition ${m.partition} offsets ${m.from}`) && text.includes(m.leaf), text);
    // The search page shows its own banner for the same root.
    await page.goto(`${server.base}/ui/#${new URLSearchParams({ start: "now-1h", view: "search" })}`);
    await page.waitForSelector("[data-testid=partial]:not([hidden])", { timeout: 30_000 });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
