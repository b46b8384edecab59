// End-to-end test of the Alerts and Rules pages against the real `loglynx run`, tailing a copy
// of Loghub's OpenSSH_2k.log (real brute-force attempts) with the built-in rules and a `--rules`
// folder. The API is the oracle: the page must show what /api/v1/alerts and /api/v1/rules say.
//
//   scripts/build-ui.sh && cargo build --workspace && \
//     (cd ui && LOGLYNX_BIN=$PWD/../target/debug/loglynx node --test tests/alerts.e2e.mjs)
//
// Needs ../shared/data/loghub/OpenSSH/OpenSSH_2k.log from the project's root (outside the
// repository): skipped with a message when absent, a failure when LOGLYNX_REQUIRE_SHARED is set.
// Env: LOGLYNX_BIN (default ../target/debug/loglynx), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

import { BIN, CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR, UI_DIR, freePort, launch, waitFor } from "./support.mjs";

const DATASET = resolve(UI_DIR, "../../shared/data/loghub/OpenSSH/OpenSSH_2k.log");
const REQUIRE_SHARED = !!process.env.LOGLYNX_REQUIRE_SHARED && process.env.LOGLYNX_REQUIRE_SHARED !== "0";
const NOT_ALERTS = "NOT event.dataset:loglynx.alert";
// `message|containz` (an unknown modifier) is on line 7.
const BROKEN_RULE = "title: broken\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    message|containz: x\n  condition: sel\n";

/** Whether the dataset is here; when absent, fails under LOGLYNX_REQUIRE_SHARED, else says why it skips. */
function datasetOr(t) {
  if (existsSync(DATASET)) return true;
  const msg = `${DATASET} is absent (Loghub sample data, kept outside the repository)`;
  if (REQUIRE_SHARED) assert.fail(`${msg} and LOGLYNX_REQUIRE_SHARED is set`);
  t.skip(`skipping: ${msg}`);
  return false;
}

/** `loglynx run` with its own data dir, config text and flags; `stop()` kills it and removes the dir. */
async function startServer(config, args = []) {
  if (!existsSync(BIN)) throw new Error(`loglynx binary not found at ${BIN}: run \`cargo build --workspace\``);
  const dir = await mkdtemp(join(tmpdir(), "loglynx-alerts-e2e-"));
  const dataDir = join(dir, "data");
  await mkdir(dataDir);
  const cfg = join(dir, "loglynx.toml");
  await writeFile(cfg, config);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = launch(BIN, ["run", "--config", cfg, "--data-dir", dataDir, "--http", `127.0.0.1:${port}`, ...args]);
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
  return { base, dir, stop, output: p.output };
}

async function api(base, path, params = {}) {
  const r = await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = await r.json().catch(() => null);
  return { status: r.status, body };
}

async function apiOk(base, path, params = {}) {
  const r = await api(base, path, params);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}

async function post(base, path, body) {
  const r = await fetch(`${base}/api/v1/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

const SYSLOG_OFF = '[syslog]\nudp = "off"\ntcp = "off"\n';
let browser;
let ssh = null; // the OpenSSH server, shared by the tests that need it
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

/** Starts (once) `loglynx run` tailing a copy of OpenSSH_2k.log with an empty --rules folder; waits for all 2000 lines. */
async function sshServer() {
  if (ssh) return ssh;
  const work = await mkdtemp(join(tmpdir(), "loglynx-alerts-e2e-logs-"));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const logs = join(work, "logs");
  const rules = join(work, "rules");
  await mkdir(logs);
  await mkdir(rules);
  await copyFile(DATASET, join(logs, "auth.log"));
  const server = await startServer(SYSLOG_OFF, ["--tail", `${logs}/*.log`, "--rules", rules]);
  cleanups.push(server.stop);
  await waitFor(
    "the 2000 OpenSSH lines stored",
    async () => (await apiOk(server.base, "search", { q: NOT_ALERTS, limit: "0" })).total === 2000,
    120_000,
  );
  // Alerts are raised in the batch of their last event: every one is there once the lines are.
  ssh = { ...server, rules };
  return ssh;
}

/** The rows of the alerts table as the user sees them. */
function alertRowsOf(page) {
  return page.$$eval("#alerts-rows tr.alert-row", (trs) =>
    trs.map((tr) => {
      const cell = (c) => tr.querySelector(`td[data-col="${c}"]`)?.textContent.trim() ?? null;
      return {
        id: tr.dataset.id,
        level: cell("level"),
        title: tr.querySelector(".rule-title")?.textContent ?? null,
        name: tr.querySelector(".rule-name")?.textContent ?? "",
        group: cell("group"),
        count: cell("count"),
        status: cell("status"),
      };
    }),
  );
}

/** What the table must show for alerts of the API. */
function expectedRows(alerts) {
  return alerts.map((a) => ({
    id: a.id,
    level: a.rule.level,
    title: a.rule.title,
    name: a.rule.name !== a.rule.title ? a.rule.name : "",
    group: Object.keys(a.group).sort().map((k) => `${k}=${a.group[k]}`).join(", "),
    count: a.count.toLocaleString("en-US"),
    status: a.status,
  }));
}

/** Waits until the table shows exactly the API's answer to `params` (same rows, same order). */
async function waitRowsLikeApi(page, base, params, what) {
  let want;
  let got;
  await waitFor(`${what}: the rows of /api/v1/alerts?${new URLSearchParams(params)}`, async () => {
    want = expectedRows((await apiOk(base, "alerts", { limit: "1000", ...params })).alerts);
    got = await alertRowsOf(page);
    return JSON.stringify(got) === JSON.stringify(want);
  }).catch((e) => {
    assert.deepEqual(got, want, e.message);
  });
  return want;
}

test("alerts page: the OpenSSH brute-force alerts, their evidence, acknowledged through the page", async (t) => {
  if (!datasetOr(t)) return;
  const s = await sshServer();
  const open = await apiOk(s.base, "alerts", { status: "open", limit: "1000" });
  const brute = (await apiOk(s.base, "alerts", { rule: "ssh_brute_force", limit: "1000" })).alerts;
  const ips = brute.map((a) => a.group["source.ip"]);
  assert.ok(ips.includes("183.62.140.253"), `brute-force sources: ${ips.join(", ")}`);
  assert.ok(brute.length >= 4, `brute-force sources: ${ips.join(", ")}`);

  const { page, errors } = await newPage();
  // The sample's events are from 2025: all time.
  await page.goto(`${s.base}/ui/#start=&view=alerts`);
  await page.waitForSelector("#alerts:not([hidden])");
  assert.equal(await page.getAttribute("#tab-alerts", "aria-selected"), "true");
  assert.equal(await page.inputValue("#alerts-status"), "open");

  // The list: every open alert, as the API orders them; the badge counts them.
  const rows = await waitRowsLikeApi(page, s.base, { status: "open" }, "open alerts");
  assert.equal(rows.length, open.total);
  const shown = rows.filter((r) => r.name === "ssh_brute_force").map((r) => r.group);
  assert.deepEqual(shown.sort(), ips.map((ip) => `source.ip=${ip}`).sort());
  await waitFor("the nav badge", async () => (await page.textContent("#alerts-badge")) === String(open.total));
  assert.match(await page.textContent("#alerts-count"), new RegExp(`^${open.total} alerts`));
  const sev = await page.$eval("#alerts-rows tr.alert-row td[data-col=level] .sev", (e) => getComputedStyle(e).color);
  assert.notEqual(sev, await page.$eval("#alerts-rows tr.alert-row td[data-col=count]", (e) => getComputedStyle(e).color), "severity coloured");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "alerts.png") });

  // Filters: rule, then words (an address), each as the API answers them; kept in the URL.
  await page.fill("#alerts-rule", "ssh_brute_force");
  await page.press("#alerts-rule", "Enter");
  const byRule = await waitRowsLikeApi(page, s.base, { status: "open", rule: "ssh_brute_force" }, "rule filter");
  assert.equal(byRule.length, brute.length);
  assert.match(await page.evaluate(() => location.hash), /rule=ssh_brute_force/);
  await page.fill("#alerts-rule", "");
  await page.press("#alerts-rule", "Enter");
  await page.fill("#alerts-text", "183.62.140.253");
  await page.press("#alerts-text", "Enter");
  const byText = await waitRowsLikeApi(page, s.base, { status: "open", q: "183.62.140.253" }, "word filter");
  assert.ok(byText.length >= 2, "brute force and password spraying of 183.62.140.253");

  // The detail of the brute force of 183.62.140.253.
  const top = brute.find((a) => a.group["source.ip"] === "183.62.140.253");
  await page.click(`#alerts-rows tr.alert-row[data-id="${top.id}"]`);
  await page.waitForSelector(`#alert-detail:not([hidden])[data-id="${top.id}"]`);
  assert.equal(await page.textContent("#alert-author"), "loglynx");
  assert.equal(top.rule.author, "loglynx");
  assert.equal(await page.textContent("#alert-title"), "SSH brute force");
  assert.equal(await page.textContent("#alert-group"), "source.ip=183.62.140.253");
  assert.match(await page.textContent("#alert-rule"), /ssh_brute_force/);
  assert.match(await page.textContent("#alert-count"), new RegExp(`^${top.count} events`));
  // Evidence: exactly the alert's events (a correlation: found through the detection rule's events).
  assert.equal(top.evidence.length, top.count);
  await waitFor("the evidence events", async () => (await page.getAttribute("#alert-events", "data-rows")) === String(top.count));
  const evIds = await page.$$eval("#alert-events tr.hit", (trs) => trs.map((tr) => tr.dataset.id));
  assert.deepEqual([...evIds].sort(), [...top.evidence].sort());
  const msgs = await page.$$eval("#alert-events tr.hit td.c-msg", (tds) => tds.map((td) => td.textContent));
  assert.ok(msgs.every((m) => m.includes("183.62.140.253")), msgs.find((m) => !m.includes("183.62.140.253")));
  assert.equal(await page.getAttribute("#alert-timeline", "data-total"), String(top.count));
  assert.ok(await page.$("#alert-timeline canvas"), "the timeline is drawn");
  assert.equal(await page.textContent("#alert-evidence-note"), `${top.count} of ${top.count} events`);
  const history0 = await page.$$eval("#alert-history tr", (trs) => trs.map((tr) => tr.textContent));
  assert.equal(history0.length, 1);
  assert.match(history0[0], /open\s*loglynx/);
  assert.ok(await page.isHidden("#alert-reopen"));

  // Acknowledge with a comment, as e2e-tester.
  const comment = `looking at 183.62.140.253 (${Date.now()})`;
  await page.fill("#alert-by", "e2e-tester");
  await page.fill("#alert-comment", comment);
  await page.screenshot({ path: join(SCREENSHOT_DIR, "alert-detail.png") });
  await page.click("#alert-ack");
  const after = await waitFor("the alert acknowledged in the API", async () => {
    const a = await apiOk(s.base, `alerts/${top.id}`);
    return a.status === "acknowledged" ? a : null;
  });
  const last = after.history.at(-1);
  assert.deepEqual([last.status, last.by, last.comment], ["acknowledged", "e2e-tester", comment]);
  await page.waitForSelector('#alert-detail[data-status="acknowledged"]');
  const history = await page.$$eval("#alert-history tr", (trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent.trim())),
  );
  assert.deepEqual(history.map((h) => h.slice(1)), [["open", "loglynx", ""], ["acknowledged", "e2e-tester", comment]]);
  assert.equal(await page.inputValue("#alert-comment"), "", "the comment box is emptied");
  assert.ok(await page.isHidden("#alert-ack"));
  assert.ok(await page.isVisible("#alert-close"));
  assert.ok(await page.isVisible("#alert-reopen"));
  // The open list no longer has it; the badge counts one less.
  await waitRowsLikeApi(page, s.base, { status: "open", q: "183.62.140.253" }, "after the acknowledgement");
  assert.equal(await page.$(`#alerts-rows tr[data-id="${top.id}"]`), null);
  await waitFor("the badge after the acknowledgement", async () => (await page.textContent("#alerts-badge")) === String(open.total - 1));

  // A reload keeps the page, the selected alert and who acts.
  await page.reload();
  await page.waitForSelector(`#alert-detail:not([hidden])[data-id="${top.id}"][data-status="acknowledged"]`);
  assert.equal(await page.inputValue("#alert-by"), "e2e-tester");
  await page.selectOption("#alerts-status", "acknowledged");
  const acked = await waitRowsLikeApi(page, s.base, { status: "acknowledged", q: "183.62.140.253" }, "acknowledged");
  assert.deepEqual(acked.map((r) => r.id), [top.id]);
  await page.screenshot({ path: join(SCREENSHOT_DIR, "alert-acknowledged.png") });
  // Escape closes the detail.
  await page.click("#alerts-count");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#alert-detail", { state: "hidden" });
  assert.doesNotMatch(await page.evaluate(() => location.hash), /alert=/);

  // From Search: the alert's event links to it.
  await page.goto(`${s.base}/ui/#${new URLSearchParams({ q: `alert.id:${top.id}`, start: "", view: "search" })}`);
  await page.waitForSelector('#results tr.hit[data-testid="hit"]');
  await page.click('#results tr.hit[data-testid="hit"]');
  await page.click('#results tr.detail [data-testid="open-alert"]');
  await page.waitForSelector(`#alert-detail:not([hidden])[data-id="${top.id}"][data-status="acknowledged"]`);
  assert.equal(await page.inputValue("#alerts-status"), "all");
  assert.deepEqual(errors, []);
  await page.close();
});

test("alerts page: whether and when an alert was notified, and the error of a failing webhook", async () => {
  // A webhook receiver that answers 500 until told otherwise.
  let failing = true;
  const got = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ failing, id: req.headers["x-loglynx-notification"], body });
      res.writeHead(failing ? 500 : 200).end(failing ? "receiver down" : "ok");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise((r) => receiver.close(r)));
  const hook = `http://127.0.0.1:${receiver.address().port}/hook`;
  // Twelve failed logins from one address: one ssh_brute_force alert (10 within 5 minutes).
  const work = await mkdtemp(join(tmpdir(), "loglynx-alerts-e2e-notify-"));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const lines = Array.from({ length: 12 }, (_, i) =>
    `Dec 10 06:55:${String(10 + i).padStart(2, "0")} LabSZ sshd[${24200 + i}]: Failed password for root from 10.77.0.9 port ${40000 + i} ssh2`,
  );
  await writeFile(join(work, "auth.log"), lines.join("\n") + "\n");
  const s = await startServer(`${SYSLOG_OFF}[detect.notify]\nwebhook = "${hook}"\ntimeout = "2s"\n`, ["--tail", `${work}/*.log`]);
  cleanups.push(s.stop);
  const alert = await waitFor("the brute-force alert", async () => {
    const r = await apiOk(s.base, "alerts", { rule: "ssh_brute_force", limit: "10" });
    return r.total === 1 ? r.alerts[0] : null;
  }, 60_000);
  assert.deepEqual(alert.group, { "source.ip": "10.77.0.9" });
  assert.deepEqual(alert.notify, ["webhook"]);
  const pending = await waitFor("a failed delivery", async () => {
    const n = await apiOk(s.base, "notifications");
    return n.pending.find((p) => p.alert === alert.id && p.attempts >= 1 && p.last_error) ?? null;
  });
  assert.match(pending.last_error, /answered 500/);

  const { page, errors } = await newPage();
  await page.goto(`${s.base}/ui/#${new URLSearchParams({ start: "", view: "alerts", status: "all", alert: alert.id })}`);
  await page.waitForSelector(`#alert-detail:not([hidden])[data-id="${alert.id}"]`);
  // Not delivered: how many attempts, the receiver's error, when the next try is.
  const failingLine = await page.waitForSelector('#alert-notified [data-delivery="webhook"][data-state="failing"]');
  const text = await failingLine.textContent();
  assert.match(text, /^webhook: not delivered, \d+ failed attempts?: webhook at 127\.0\.0\.1 answered 500 Internal Server Error; next try /, text);
  assert.notEqual(
    await failingLine.evaluate((e) => getComputedStyle(e).color),
    await page.$eval("#alert-id", (e) => getComputedStyle(e).color),
    "a failing delivery stands out",
  );
  await page.screenshot({ path: join(SCREENSHOT_DIR, "alert-notify-failing.png") });

  // The receiver recovers: delivered once, and the page says when.
  failing = false;
  const after = await waitFor("the delivery recorded on the alert", async () => {
    const a = await apiOk(s.base, `alerts/${alert.id}`);
    return a.notified?.includes("webhook") ? a : null;
  }, 60_000);
  assert.equal(got.filter((g) => !g.failing).length, 1, "delivered once");
  assert.equal(got.find((g) => !g.failing).id, alert.id);
  assert.equal(JSON.parse(got.find((g) => !g.failing).body).type, "alert");
  assert.ok(after.notified_at?.webhook, JSON.stringify(after));
  await page.reload();
  const ok = await page.waitForSelector('#alert-notified [data-delivery="webhook"][data-state="delivered"]');
  // the delivery time, in the browser's local time as the page shows times
  const when = await page.evaluate((t) => {
    const d = new Date(t);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, after.notified_at.webhook);
  assert.equal(await ok.textContent(), `webhook: delivered ${when}`);
  assert.equal(await page.$('#alert-notified [data-state="failing"]'), null);
  await page.screenshot({ path: join(SCREENSHOT_DIR, "alert-notify-delivered.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

test("rules page: hits of the built-in rules, a refused rule file with its line", async (t) => {
  if (!datasetOr(t)) return;
  const s = await sshServer();
  const { page, errors } = await newPage();
  await page.goto(`${s.base}/ui/#start=&view=rules`);
  await page.waitForSelector("#rules:not([hidden])");
  const rules = await apiOk(s.base, "rules");
  const bf = rules.rules.find((r) => r.name === "ssh_brute_force");
  assert.ok(bf.hits > 0);
  const row = `#rules-rows tr[data-key="${bf.key}"]`;
  await page.waitForSelector(row);
  const cell = (c) => page.textContent(`${row} td[data-col="${c}"]`);
  assert.equal(await page.textContent(`${row} .rule-name`), "ssh_brute_force");
  assert.equal(await cell("kind"), "correlation");
  assert.equal(await cell("level"), "high");
  assert.equal(Number((await cell("hits")).replace(/,/g, "")), bf.hits);
  assert.equal(await cell("groups"), String(bf.groups));
  assert.equal(await cell("evicted"), String(bf.groups_evicted));
  assert.equal(await cell("enabled"), "enabled");
  assert.equal(await page.$$eval("#rules-rows tr[data-key]", (trs) => trs.length), rules.rules.length);
  assert.match(await page.textContent("#rules-rejected"), /^none/);
  assert.match(await page.textContent("#rules-inactive-count"), new RegExp(`\\(${rules.inactive.length}\\)`));
  // The filter box.
  await page.fill("#rules-filter", "brute");
  await waitFor("the filtered rules", async () => {
    const names = await page.$$eval("#rules-rows tr[data-key] .rule-name", (es) => es.map((e) => e.textContent));
    return names.length > 0 && names.every((n) => n.includes("brute")) && names.includes("ssh_brute_force");
  });
  await page.fill("#rules-filter", "");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "rules.png") });

  // A broken rule file in the --rules folder: reloaded, refused with file and line, shown in red.
  const file = join(s.rules, "broken.yml");
  await writeFile(file, BROKEN_RULE);
  const rejected = await waitFor("the broken rule refused by the server", async () => {
    const r = await apiOk(s.base, "rules");
    return r.rejected.find((x) => x.file === file);
  });
  assert.equal(rejected.line, 7);
  const line = `${file}:7: ${rejected.reason}`;
  await waitFor("the refused rule on the page (it refreshes every 10 s)", async () => {
    const items = await page.$$eval("#rules-rejected li.refused-rule", (lis) => lis.map((li) => li.textContent));
    return items.includes(line);
  });
  assert.match(line, /containz/);
  const color = await page.$eval("#rules-rejected li.refused-rule", (li) => getComputedStyle(li).color);
  assert.equal(color, "rgb(242, 95, 92)", "refused rules are red");
  await page.screenshot({ path: join(SCREENSHOT_DIR, "rules-refused.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

test("rules page: enable/disable and backtest", async (t) => {
  if (!datasetOr(t)) return;
  const s = await sshServer();
  // A backtest naming neither a rule nor YAML is refused with a reason (a lost route answers 404).
  const empty = await post(s.base, "rules/backtest", {});
  assert.equal(empty.status, 400, JSON.stringify(empty.body));
  assert.match(empty.body?.error?.reason ?? "", /exactly one of "rule" and "yaml"/);
  const { page, errors } = await newPage();
  await page.goto(`${s.base}/ui/#start=&view=rules`);
  const rules = await apiOk(s.base, "rules");
  const ok = rules.rules.find((r) => r.name === "ssh_login_success");
  const row = `#rules-rows tr[data-key="${ok.key}"]`;
  await page.waitForSelector(row);

  // Disable, then enable again, through the toggle.
  const enabledInApi = async () => (await apiOk(s.base, "rules")).rules.find((r) => r.key === ok.key).enabled;
  await page.click(`${row} [data-testid=rule-toggle]`);
  await waitFor("the rule disabled in the API", async () => (await enabledInApi()) === false);
  await page.waitForSelector(`${row}.disabled [data-testid=rule-toggle]:text("disabled")`);
  await page.click(`${row} [data-testid=rule-toggle]`);
  await waitFor("the rule enabled in the API", async () => (await enabledInApi()) === true);
  await page.waitForSelector(`${row}:not(.disabled) [data-testid=rule-toggle]:text("enabled")`);

  // Backtest of the brute-force rule over all time: what the API answers to the same request.
  const bf = rules.rules.find((r) => r.name === "ssh_brute_force");
  await page.click(`#rules-rows tr[data-key="${bf.key}"] [data-testid=rule-backtest]`);
  await page.waitForSelector('#backtest-result[data-state="done"]', { timeout: 60_000 });
  const want = await post(s.base, "rules/backtest", { rule: bf.key });
  assert.equal(want.status, 200, JSON.stringify(want.body));
  assert.equal(await page.getAttribute("#backtest-result", "data-scanned"), String(want.body.events_scanned));
  assert.equal(await page.getAttribute("#backtest-result", "data-matched"), String(want.body.matched));
  assert.match(await page.textContent("#backtest-summary"), new RegExp(`${want.body.alerts.length} alerts? would be raised`));
  const got = await page.$$eval("#backtest-alerts tr.alert-row", (trs) =>
    trs.map((tr) => `${tr.querySelector("[data-col=group]").textContent} ${tr.querySelector("[data-col=count]").textContent}`),
  );
  assert.deepEqual(got.sort(), want.body.alerts.map((a) => `source.ip=${a.group["source.ip"]} ${a.count.toLocaleString("en-US")}`).sort());
  assert.ok(got.some((g) => g.startsWith("source.ip=183.62.140.253 ")), got.join(" | "));
  assert.equal(await page.$("#backtest-alerts [data-col=status]"), null, "a backtest's alerts have no status");

  // Backtest of pasted YAML narrowed by a query.
  const yaml =
    "title: failed ssh logins\nname: e2e_failed\nlogsource:\n  product: linux\n  service: sshd\n" +
    "detection:\n  sel:\n    event.action: ssh_login\n    event.outcome: failure\n  condition: sel\nlevel: medium\n";
  await page.fill("#backtest-yaml", yaml);
  await page.fill("#backtest-q", 'source.ip:"183.62.140.253"');
  await page.click("#backtest-run");
  await page.waitForSelector('#backtest-result[data-state="done"] >> text=Backtest of the pasted rule');
  const wantYaml = await post(s.base, "rules/backtest", { yaml, q: 'source.ip:"183.62.140.253"' });
  assert.equal(wantYaml.status, 200, JSON.stringify(wantYaml.body));
  assert.ok(wantYaml.body.matched > 0);
  await waitFor("the YAML backtest shown", async () =>
    (await page.getAttribute("#backtest-result", "data-matched")) === String(wantYaml.body.matched));
  await page.screenshot({ path: join(SCREENSHOT_DIR, "rules-backtest.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("alerts and rules pages: the server's message when detection is off", async () => {
  const server = await startServer(`${SYSLOG_OFF}[detect]\nenabled = false\n`);
  cleanups.push(server.stop);
  const off = await api(server.base, "alerts");
  assert.equal(off.status, 404);
  assert.equal(off.body.enabled, false);
  const { page, errors } = await newPage();
  await page.goto(`${server.base}/ui/#start=&view=alerts`);
  await page.waitForSelector("#alerts-off:not([hidden])");
  assert.equal(await page.textContent("#alerts-off"), off.body.error);
  assert.ok(await page.isHidden("#error"), "no error banner when detection is off");
  assert.ok(await page.isHidden("#alerts-rows"), "no empty alert table");
  assert.ok(await page.isHidden("#alerts-badge"));
  await page.screenshot({ path: join(SCREENSHOT_DIR, "alerts-off.png") });
  await page.click("#tab-rules");
  await page.waitForSelector("#rules-off:not([hidden])");
  assert.equal(await page.textContent("#rules-off"), (await api(server.base, "rules")).body.error);
  assert.ok(await page.isHidden("#rules-rows"));
  assert.deepEqual(errors, []);
  await page.close();
});
