// End-to-end test of the dashboard login in headless Chromium against the real binary:
// a key from `loglynx keys add` typed into /ui/login becomes an HttpOnly, SameSite=Strict
// session cookie with an expiry; the dashboard works with it; a state-changing request without
// the CSRF token, a cross-origin request and a request for another Host (DNS rebinding) are
// refused; logout and key revocation end the session.
//
//   scripts/build-ui.sh && cargo build -p loglynx-cli && (cd ui && node --test tests/login.e2e.mjs)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, launch, waitFor, waitOutput } from "./support.mjs";

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

function keys(data, ...args) {
  return execFileSync(BIN, ["keys", ...args, "--data-dir", data], { encoding: "utf8" }).trim();
}

/** A raw HTTP request (node:http lets a test set Host and Origin as a browser would). */
function raw(base, method, path, headers, body) {
  const u = new URL(base);
  return new Promise((res, rej) => {
    const r = request({ host: u.hostname, port: u.port, method, path, headers }, (resp) => {
      let text = "";
      resp.on("data", (b) => (text += b));
      resp.on("end", () => res({ status: resp.statusCode, text }));
    });
    r.on("error", rej);
    r.end(body);
  });
}

test("login page, session cookie, CSRF, host checks, logout and revocation", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "loglynx-login-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const data = join(dir, "data");
  await writeFile(join(dir, "loglynx.toml"), '[syslog]\nudp = "off"\ntcp = "off"\n');
  const boss = keys(data, "add", "boss", "--scope", "admin");
  const analyst = keys(data, "add", "analyst", "--scope", "read");
  const p = launch(BIN, ["run", "--config", join(dir, "loglynx.toml"), "--data-dir", data, "--http", "127.0.0.1:0", "--log", "warn"]);
  cleanups.push(p.stop);
  const m = await waitOutput(p, "ready line", /loglynx ready: dashboard http:\/\/([\d.:]+)\/ui\//, 60_000);
  const base = `http://${m[1]}`;
  const admin = { Authorization: `Bearer ${boss}` };
  await waitFor("health", async () => (await fetch(`${base}/api/v1/health`, { headers: admin })).ok);
  const ingest = await fetch(`${base}/api/v1/ingest`, {
    method: "POST",
    headers: { ...admin, "Content-Type": "application/x-ndjson" },
    body: '{"message":"loginmark one","host.name":"web1"}\n{"message":"loginmark two","host.name":"web2"}\n',
  });
  assert.equal(ingest.status, 200);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // Without a session the dashboard sends the browser to the login page.
  await page.goto(`${base}/ui/#q=loginmark&range=all`);
  await page.waitForURL(/\/ui\/login\?next=/);

  // A wrong key is refused on the page.
  await page.fill("[data-testid=login-key]", `${analyst.slice(0, -1)}${analyst.endsWith("x") ? "y" : "x"}`);
  await page.click("[data-testid=login-submit]");
  await page.waitForSelector("[data-testid=login-error]:not([hidden])");
  assert.match(await page.textContent("[data-testid=login-error]"), /wrong or revoked key/);

  // The right key: back to the dashboard, logged in, the search works.
  await page.fill("[data-testid=login-key]", analyst);
  await page.click("[data-testid=login-submit]");
  await page.waitForURL((u) => u.pathname === "/ui/");
  await page.waitForSelector("[data-testid=session]:not([hidden])");
  assert.match(await page.textContent("[data-testid=session]"), /analyst \(read\)/);
  await page.goto(`${base}/ui/#q=loginmark&range=all`);
  await waitFor("search results", async () => (await page.textContent("body")).includes("loginmark two"));

  const cookies = await context.cookies(base);
  const session = cookies.find((c) => c.name === "loglynx_session");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(session.expires > Date.now() / 1000 + 3600, "the cookie expires, in about http.session_ttl");
  assert.ok(session.expires < Date.now() / 1000 + 13 * 3600);
  assert.ok(!(await page.evaluate(() => document.cookie)).includes("loglynx_session"), "scripts cannot read it");

  // A POST made with the cookie but without the CSRF token is refused; with it, it passes.
  const noCsrf = await page.evaluate(async () => {
    const r = await fetch("/api/v1/rules/backtest", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    return { status: r.status, body: await r.text() };
  });
  assert.equal(noCsrf.status, 403);
  assert.match(noCsrf.body, /x-csrf-token/);
  const withCsrf = await page.evaluate(async () => {
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("loglynx_csrf="))?.split("=")[1] ?? "";
    const r = await fetch("/api/v1/rules/backtest", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}" });
    return { status: r.status, body: await r.text() };
  });
  assert.notEqual(withCsrf.status, 403, withCsrf.body);
  assert.notEqual(withCsrf.status, 401, withCsrf.body);

  // The same cookie from another origin, or for another host name (DNS rebinding), is refused.
  const cookieHeader = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const csrf = cookies.find((c) => c.name === "loglynx_csrf").value;
  const cross = await raw(base, "POST", "/api/v1/rules/backtest", {
    Cookie: cookieHeader, "X-CSRF-Token": csrf, Origin: "http://evil.example", "Content-Type": "application/json",
  }, "{}");
  assert.equal(cross.status, 403);
  assert.match(cross.text, /cross-origin/);
  const rebound = await raw(base, "GET", "/api/v1/search?q=loginmark", { Cookie: cookieHeader, Host: "evil.example:80" });
  assert.equal(rebound.status, 403);
  assert.match(rebound.text, /allowed_hosts/);
  const same = await raw(base, "GET", "/api/v1/search?q=loginmark", { Cookie: cookieHeader });
  assert.equal(same.status, 200);

  // Logout clears the session: the API refuses the old cookie, the dashboard asks for a key.
  await page.click("[data-testid=logout]");
  await page.waitForURL(/\/ui\/login/);
  assert.equal((await raw(base, "GET", "/api/v1/search?q=loginmark", { Cookie: cookieHeader })).status, 401);
  assert.ok(!(await context.cookies(base)).some((c) => c.name === "loglynx_session"));

  // Revoking the key ends its sessions.
  await page.fill("[data-testid=login-key]", analyst);
  await page.click("[data-testid=login-submit]");
  await page.waitForURL((u) => u.pathname === "/ui/");
  keys(data, "revoke", "analyst");
  // The open page may find the revocation itself (a request answered 401 sends it to the
  // login page) while this navigation runs: either way it must end on the login page.
  await page.goto(`${base}/ui/`).catch((e) => {
    if (!/interrupted by another navigation/.test(e.message)) throw e;
  });
  await page.waitForURL(/\/ui\/login/);

  assert.deepEqual(errors, []);
  await context.close();
});
