// Unit tests of the dashboard's pure modules (query editing, time ranges, URL state, SSE parsing,
// the Pipeline page's model over a fixed /api/v1/pipeline sample, the Alerts and Rules pages'
// models over fixed /api/v1/alerts and /api/v1/rules samples, the Patterns model over a fixed
// /api/v1/patterns sample).
// The TypeScript sources are bundled with esbuild into a temporary module first.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../src");
let dir;
let m;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "loglynx-ui-unit-"));
  const entry = [
    `export * from ${JSON.stringify(join(SRC, "query.ts"))};`,
    `export * from ${JSON.stringify(join(SRC, "time.ts"))};`,
    `export * from ${JSON.stringify(join(SRC, "state.ts"))};`,
    `export { SseParser, eventsOf, MAX_ROWS } from ${JSON.stringify(join(SRC, "tail.ts"))};`,
    `export { scopeOf } from ${JSON.stringify(join(SRC, "scope.ts"))};`,
    `export * as pipe from ${JSON.stringify(join(SRC, "pipeline.ts"))};`,
    `export { errorFrom, offReason } from ${JSON.stringify(join(SRC, "api.ts"))};`,
    `export * as det from ${JSON.stringify(join(SRC, "detect.ts"))};`,
    `export * as alerts from ${JSON.stringify(join(SRC, "alerts.ts"))};`,
    `export * as rules from ${JSON.stringify(join(SRC, "rules.ts"))};`,
    `export * as pat from ${JSON.stringify(join(SRC, "patterns.ts"))};`,
    `export { groupedEdges } from ${JSON.stringify(join(SRC, "netmap.ts"))};`,
    `export * as src from ${JSON.stringify(join(SRC, "sources.ts"))};`,
  ].join("\n");
  const out = join(dir, "bundle.mjs");
  await build({
    stdin: { contents: entry, resolveDir: SRC, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    // uPlot (imported by the Alerts page's timeline) is found by its package.json's module field.
    mainFields: ["module", "main"],
    outfile: out,
    logLevel: "error",
  });
  m = await import(pathToFileURL(out).href);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("quote escapes backslashes and double quotes", () => {
  assert.equal(m.quote("web-1"), '"web-1"');
  assert.equal(m.quote('say "hi"'), '"say \\"hi\\""');
  assert.equal(m.quote("C:\\temp"), '"C:\\\\temp"');
});

test("clause quotes keywords and leaves numbers bare for numeric fields", () => {
  assert.equal(m.clause("host.name", "web 1"), 'host.name:"web 1"');
  assert.equal(m.clause("process.pid", "42", true), "process.pid:42");
  assert.equal(m.clause("process.pid", "n/a", true), 'process.pid:"n/a"');
  assert.equal(m.isNumericKind("numeric"), true);
  assert.equal(m.isNumericKind("u64"), true);
  assert.equal(m.isNumericKind("keyword"), false);
  assert.equal(m.isNumericKind(undefined), false);
});

test("addClause replaces match-all, ANDs, parenthesises OR, negates, skips duplicates", () => {
  const c = 'host.name:"web-2"';
  assert.equal(m.addClause("", c), c);
  assert.equal(m.addClause(" * ", c), c);
  assert.equal(m.addClause("timeout", c), `timeout AND ${c}`);
  assert.equal(m.addClause("a OR b", c), `(a OR b) AND ${c}`);
  assert.equal(m.addClause("timeout", c, true), `timeout AND NOT ${c}`);
  assert.equal(m.addClause("", c, true), `NOT ${c}`);
  assert.equal(m.addClause(`timeout AND ${c}`, c), `timeout AND ${c}`);
  // "ORACLE" is a word, not the operator.
  assert.equal(m.addClause("ORACLE", c), `ORACLE AND ${c}`);
});

test("resolveTime reads relative and absolute times", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  assert.equal(m.resolveTime("", now), null);
  assert.equal(m.resolveTime("now", now), now);
  assert.equal(m.resolveTime("now-15m", now), now - 15 * 60_000);
  assert.equal(m.resolveTime("now-7d", now), now - 7 * 86_400_000);
  assert.equal(m.resolveTime("2024-05-01T10:00:00.5Z", now), Date.parse("2024-05-01T10:00:00.500Z"));
  assert.ok(Number.isNaN(m.resolveTime("yesterday", now)));
});

test("presetOf recognises the picker's presets", () => {
  assert.equal(m.presetOf("now-15m", ""), "15m");
  assert.equal(m.presetOf("now-30d", "now"), "30d");
  assert.equal(m.presetOf("", ""), "all");
  assert.equal(m.presetOf("now-2h", ""), "custom");
  assert.equal(m.presetOf("now-1h", "2024-05-01T00:00:00Z"), "custom");
});

test("URL hash keeps the Alerts page's filters and selection, only on that page", () => {
  const s = { q: "", start: "", end: "", view: "alerts", status: "all", rule: "ssh_brute_force", text: "183.62", alert: "abc" };
  assert.equal(m.formatHash(s), "#start=&view=alerts&status=all&rule=ssh_brute_force&text=183.62&alert=abc");
  assert.deepEqual(m.parseHash(m.formatHash(s)), s);
  // Other pages do not carry them in their links.
  assert.equal(m.formatHash({ ...s, view: "search" }), "#start=&view=search");
  assert.equal(m.parseHash("#view=rules").view, "rules");
  assert.deepEqual(m.parseHash("#view=alerts&status="), { q: "", start: "now-24h", end: "", view: "alerts" });
});

test("URL hash round-trips the state and defaults missing keys", () => {
  const s = { q: 'timeout AND host.name:"web 1"', start: "now-1h", end: "", view: "tail" };
  assert.deepEqual(m.parseHash(m.formatHash(s)), s);
  assert.deepEqual(m.parseHash(""), m.DEFAULT_STATE);
  // An explicitly empty start means all time, not the default range.
  assert.equal(m.parseHash("#start=&view=search").start, "");
  assert.equal(m.parseHash("#view=bogus").view, "search");
});

test("scopeOf pins relative ranges to absolute times and rejects inverted ones", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  assert.deepEqual(m.scopeOf({ q: " timeout ", start: "now-1h", end: "", view: "search" }, now), {
    q: "timeout",
    start: "2024-05-01T11:00:00.000Z",
    end: "2024-05-01T12:00:00.000Z",
  });
  assert.deepEqual(m.scopeOf({ q: "", start: "", end: "", view: "search" }, now), {
    q: "",
    start: undefined,
    end: undefined,
  });
  assert.throws(() => m.scopeOf({ q: "", start: "now", end: "now-1h", view: "search" }, now), /before its end/);
  assert.throws(() => m.scopeOf({ q: "", start: "soon", end: "", view: "search" }, now), /cannot read the start/);
});

test("SseParser handles split chunks, CRLF, comments, ids and multi-line data", () => {
  const p = new m.SseParser();
  const got = [];
  const emit = (d, type) => got.push(type === "message" ? d : `${type}:${d}`);
  p.feed(": keep-alive\n\nda", emit);
  p.feed('ta: {"message":"a"}\r\n', emit);
  assert.deepEqual(got, []);
  p.feed("\r\nid: 7\ndata: x\ndata:y\n\n", emit);
  assert.deepEqual(got, ['{"message":"a"}', "x\ny"]);
  assert.equal(p.lastId, "7");
  p.feed('event: error\ndata: {"error":{"reason":"r"}}\n\ndata: z\n\n', emit);
  assert.deepEqual(got.slice(2), ['error:{"error":{"reason":"r"}}', "z"]);
});

test("eventsOf takes one event, an array, or one event per data line", () => {
  assert.deepEqual(m.eventsOf('{"message":"a"}'), [{ message: "a" }]);
  assert.deepEqual(m.eventsOf('[{"message":"a"},{"message":"b"}]'), [{ message: "a" }, { message: "b" }]);
  assert.deepEqual(m.eventsOf('{"message":"a"}\n{"message":"b"}'), [{ message: "a" }, { message: "b" }]);
  assert.deepEqual(m.eventsOf("not json"), []);
  assert.equal(m.MAX_ROWS, 1000);
});

// A fixed /api/v1/pipeline answer (the contract in crates/api/src/routes/pipeline.rs): one agent
// spooling, one stale agent, two workers with one partition each, partition 1 lagging.
async function pipelineSample() {
  const p = join(dirname(fileURLToPath(import.meta.url)), "fixtures/pipeline.json");
  return JSON.parse(await readFile(p, "utf8"));
}

test("pipeline: number, rate and byte formats", () => {
  assert.equal(m.pipe.fmtCount(1234567), "1,234,567");
  assert.equal(m.pipe.fmtCount(0), "0");
  assert.equal(m.pipe.fmtCount(null), "–");
  assert.equal(m.pipe.fmtRate(0), "0/s");
  assert.equal(m.pipe.fmtRate(7.46), "7.5/s");
  assert.equal(m.pipe.fmtRate(1523.4), "1,523/s");
  assert.equal(m.pipe.fmtBytes(0), "0 B");
  assert.equal(m.pipe.fmtBytes(512), "512 B");
  assert.equal(m.pipe.fmtBytes(1536), "1.5 KiB");
  assert.equal(m.pipe.fmtBytes(25165824), "24 MiB");
  assert.equal(m.pipe.fmtBytes(268435456), "256 MiB");
  assert.equal(m.pipe.ago(1000, 13_400), "12 s ago");
  assert.equal(m.pipe.ago(0, 600_000), "10 min ago");
});

test("pipeline: summary tiles and the spooling buffer", async () => {
  const s = await pipelineSample();
  const tiles = Object.fromEntries(m.pipe.tilesOf(s).map((t) => [t.key, t]));
  assert.deepEqual(Object.keys(tiles), ["produce-rate", "consume-rate", "lag", "members", "rebalances"]);
  assert.equal(tiles["produce-rate"].value, "1,523/s");
  assert.equal(tiles["produce-rate"].sub, "1 agent", "the stale agent is not counted");
  assert.equal(tiles["consume-rate"].value, "758/s");
  assert.equal(tiles["consume-rate"].sub, "2 workers");
  assert.equal(tiles.lag.value, "1,200");
  assert.equal(tiles.lag.level, "warn");
  assert.equal(tiles.members.value, "2");
  assert.equal(tiles.members.sub, "in loglynx");
  assert.equal(tiles.members.level, "");
  assert.equal(tiles.rebalances.value, "4");
  const b = m.pipe.bufferOf(s);
  assert.equal(b.text, "24 MiB / 256 MiB");
  assert.equal(b.pct, 9.4);
  assert.equal(b.records, 8200);
  assert.deepEqual(b.spooling, ["edge1-4242"]);
  // A stale agent that was spooling is gone, not spooling.
  s.agents[0].stale = true;
  assert.deepEqual(m.pipe.bufferOf(s).spooling, []);
  // Fewer members than the live workers' consumers: a warning on the tile.
  s.totals.members = 1;
  const members = m.pipe.tilesOf(s).find((t) => t.key === "members");
  assert.equal(members.level, "warn");
  assert.equal(members.sub, "in loglynx (2 consumers running)");
});

test("pipeline: partitions sorted, lag growing only when above 0 and higher than before", async () => {
  const s = await pipelineSample();
  const first = m.pipe.partitionRows(s, new Map());
  assert.deepEqual(
    first.map((r) => [r.partition, r.owner, r.consumer, r.committed, r.highWatermark, r.lag, r.growing, r.missing]),
    [
      [0, "idx2-200", "0", "59,000", "59,000", "0", false, "0"],
      [1, "idx1-100", "0", "60,000", "61,200", "1,200", false, "55"],
    ],
  );
  const prev = m.pipe.lagsOf(s);
  assert.deepEqual([...prev], [["/1", 1200], ["/0", 0]]);
  assert.deepEqual(m.pipe.partitionRows(s, prev).map((r) => r.growing), [false, false]);
  s.partitions[0].lag = 1500;
  assert.deepEqual(m.pipe.partitionRows(s, prev).map((r) => r.growing), [false, true]);
  s.partitions[0].lag = 900;
  assert.deepEqual(m.pipe.partitionRows(s, prev).map((r) => r.growing), [false, false]);
  // Unknown lag (no high watermark yet) is shown as such, never as growing.
  s.partitions[1].lag = null;
  s.partitions[1].high_watermark = null;
  const r0 = m.pipe.partitionRows(s, prev)[0];
  assert.deepEqual([r0.highWatermark, r0.lag, r0.lagValue, r0.growing], ["–", "–", null, false]);
  // Partitions of two topics: shown as topic/partition, lag compared per topic.
  for (const p of s.partitions) p.topic = "logs";
  const prevLogs = m.pipe.lagsOf(s);
  s.partitions.push({ topic: "audit", partition: 1, owner: "idx1-100", consumer: 0, position: 5, committed: 5, high_watermark: 9, lag: 4 });
  assert.deepEqual(
    m.pipe.partitionRows(s, prevLogs).map((r) => [r.label, r.lag, r.growing]),
    [["audit/1", "4", false], ["logs/0", "–", false], ["logs/1", "900", false]],
  );
});

test("pipeline: agents, workers (stale marked) and the rebalance timeline newest first", async () => {
  const s = await pipelineSample();
  assert.deepEqual(
    m.pipe.agentRows(s).map((a) => [a.id, a.stale, a.state, a.rate, a.delivered, a.failures, a.inFlight, a.spool]),
    [
      ["edge1-4242", false, "spooling", "1,523/s", "120,000", "3", "500", "24 MiB / 256 MiB (8,200 records)"],
      ["edge2-77", true, "stale", "0/s", "10", "0", "0", "0 B / 256 MiB"],
    ],
  );
  assert.equal(m.pipe.agentRows(s)[1].updated, "100 s ago");
  assert.deepEqual(
    m.pipe.workerRows(s).map((w) => [w.id, w.stale, w.consumers, w.rate, w.consumed, w.undecodable, w.skipped, w.missing, w.partitions]),
    [
      ["idx1-100", false, "1", "750/s", "60,000", "2", "0", "40", "1"],
      ["idx2-200", false, "1", "7.5/s", "59,000", "0", "12", "0", "0"],
    ],
  );
  assert.equal(m.pipe.workerRows(s)[1].skippedWhy, "10 sent twice by an agent, 2 offsets the shard already had");
  assert.deepEqual(
    m.pipe.rebalanceRows(s).map((r) => [r.atMs, r.worker, r.kind, r.partitions]),
    [
      [1767225001000, "idx1-100", "assign", "1"],
      [1767225001000, "idx2-200", "revoke", "1"],
      [1767225000500, "idx2-200", "assign", "0, 1"],
    ],
  );
  // A worker without partitions says so.
  s.workers[0].consumer.partitions = [];
  assert.equal(m.pipe.workerRows(s)[0].partitions, "none");
});

test("pipeline: an empty pipeline (no reports yet) shows zeros, not errors", () => {
  const s = { enabled: true, now_ms: 0, topic: "t", group: "g", agents: [], workers: [], partitions: [], rebalances: [] };
  const tiles = m.pipe.tilesOf(s).map((t) => [t.key, t.value, t.level]);
  assert.deepEqual(tiles, [
    ["produce-rate", "0/s", "warn"],
    ["consume-rate", "0/s", "warn"],
    ["lag", "0", ""],
    ["members", "0", "bad"],
    ["rebalances", "0", ""],
  ]);
  assert.deepEqual(m.pipe.bufferOf(s), { bytes: 0, max: 0, records: 0, pct: 0, text: "0 B / –", spooling: [] });
  assert.deepEqual(m.pipe.partitionRows(s, new Map()), []);
  assert.deepEqual(m.pipe.rebalanceRows(s), []);
});

// Fixed /api/v1/alerts and /api/v1/rules answers (crates/api/src/routes/alerts.rs): a correlation
// alert (acknowledged) and a detection alert with an odd group; detection and correlation rules,
// one disabled, one evicting groups, one inactive and two refused files.
async function fixture(name) {
  const p = join(dirname(fileURLToPath(import.meta.url)), "fixtures", name);
  return JSON.parse(await readFile(p, "utf8"));
}

test("api errors: the server's reason, a subsystem that is off, an unreadable answer", () => {
  const e = m.errorFrom(400, { error: { type: "bad_request", reason: "status \"x\": expected open" } }, "");
  assert.deepEqual([e.status, e.type, e.reason], [400, "bad_request", 'status "x": expected open']);
  assert.equal(m.offReason(e), null);
  const off = m.errorFrom(404, { enabled: false, error: "detection is off: set [detect] enabled = true" }, "");
  assert.deepEqual([off.type, m.offReason(off)], ["off", "detection is off: set [detect] enabled = true"]);
  // A plain 404 (an endpoint this server lacks) is not "off".
  const missing = m.errorFrom(404, { error: { type: "not_found", reason: "no endpoint at /api/v1/x" } }, "");
  assert.equal(m.offReason(missing), null);
  assert.equal(m.errorFrom(502, undefined, "<html>bad gateway</html>").reason, "server answered 502: <html>bad gateway</html>");
  assert.match(m.errorFrom(401, undefined, "").reason, /\?token=/);
});

test("detect: levels, groups and the alert rows", async () => {
  assert.equal(m.det.levelOf("High"), "high");
  assert.equal(m.det.levelOf("info"), "informational");
  assert.equal(m.det.levelOf(null), "other");
  assert.equal(m.det.levelOf("urgent"), "other");
  assert.deepEqual(
    ["low", "critical", null, "informational", "medium", "high"].map(m.det.levelRank),
    [3, 0, 5, 4, 2, 1],
  );
  assert.equal(m.det.groupText({}), "");
  assert.equal(m.det.groupText({ "user.name": "bob", "host.name": "web1" }), "host.name=web1, user.name=bob");
  const { alerts } = await fixture("alerts.json");
  const rows = m.det.alertRows(alerts);
  assert.deepEqual(
    rows.map((r) => [r.id, r.level, r.levelText, r.title, r.name, r.group, r.count, r.status]),
    [
      ["dbe3af8f72f1a4810a6e145c946589fe", "high", "high", "SSH brute force", "ssh_brute_force", "source.ip=183.62.140.253", "3", "acknowledged"],
      ["77aa", "medium", "Medium", "Sudo authentication failure", "sudo_auth_failure", 'host.name=web1, labels.empty=, user.name=bob "the" admin', "1", "open"],
    ],
  );
  assert.equal(rows[0].first, m.formatTime("2025-12-10T10:54:29Z", false));
  assert.equal(rows[0].last, m.formatTime("2025-12-10T11:04:43Z", false));
});

test("alerts: the status filter defaults to open, all sends none, the range and words go along", () => {
  assert.equal(m.alerts.statusOf({}), "open");
  assert.equal(m.alerts.statusOf({ status: "closed" }), "closed");
  assert.equal(m.alerts.statusOf({ status: "sleeping" }), "open");
  const scope = { start: "2025-12-10T00:00:00.000Z", end: "2025-12-11T00:00:00.000Z" };
  assert.deepEqual(m.alerts.alertParams({}, scope, 200), {
    status: "open", rule: undefined, q: undefined, start: scope.start, end: scope.end, limit: 200,
  });
  assert.deepEqual(m.alerts.alertParams({ status: "all", rule: " ssh_brute_force ", text: " 183.62 " }, {}, 400), {
    status: undefined, rule: "ssh_brute_force", q: "183.62", start: undefined, end: undefined, limit: 400,
  });
});

test("alerts: the actions each status offers, and their body", () => {
  const acts = (s) => m.alerts.actionsFor(s).map((a) => `${a.action}:${a.label}`);
  assert.deepEqual(acts("open"), ["ack:Acknowledge", "close:Close"]);
  assert.deepEqual(acts("acknowledged"), ["close:Close", "reopen:Reopen"]);
  assert.deepEqual(acts("closed"), ["reopen:Reopen"]);
  assert.deepEqual(m.alerts.changeBody(" alice ", " looking "), { by: "alice", comment: "looking" });
  assert.deepEqual(m.alerts.changeBody("", "  "), {});
});

test("alerts: the evidence query by rule kind, its range, and the events kept", async () => {
  const [corr, det] = (await fixture("alerts.json")).alerts;
  // A correlation's events carry the ids of the rules it correlates: any rule, same group.
  assert.equal(m.alerts.evidenceQuery(corr, "correlation"), 'rule.id:* AND source.ip:"183.62.140.253"');
  assert.equal(m.alerts.evidenceQuery(corr, undefined), 'rule.id:* AND source.ip:"183.62.140.253"');
  // A detection rule's events carry its id; values quoted, empty values left to the evidence ids.
  assert.equal(
    m.alerts.evidenceQuery(det, "detection"),
    'rule.id:"sudo_auth_failure" AND host.name:"web1" AND user.name:"bob \\"the\\" admin"',
  );
  assert.deepEqual(m.alerts.evidenceRange(corr), { start: "2025-12-10T10:54:29.000Z", end: "2025-12-10T11:04:44.000Z" });
  assert.deepEqual(m.alerts.evidenceRange(det), { start: "2025-12-10T10:00:00.250Z", end: "2025-12-10T10:00:01.250Z" });
  const hits = [
    { "@timestamp": "2025-12-10T11:00:00Z", "event.id": "00ba-0003" },
    { "@timestamp": "2025-12-10T10:54:29Z", "event.id": "00ba-0001" },
    { "@timestamp": "2025-12-10T10:55:00Z", "event.id": "other" },
    { "@timestamp": "2025-12-10T10:54:29Z", "event.id": "alert-dbe3" },
    { "@timestamp": "2025-12-10T10:54:29Z", "event.id": "00ba-0001" },
  ];
  assert.deepEqual(m.alerts.evidenceOf(hits, corr).map((h) => h["event.id"]), ["00ba-0001", "00ba-0003"]);
});

test("alerts: the evidence timeline has round buckets over the alert's range", () => {
  const start = Date.parse("2025-12-10T10:54:29Z");
  const end = Date.parse("2025-12-10T11:04:44Z");
  const ev = (t) => ({ "@timestamp": t });
  const h = m.alerts.timelineOf(
    [ev("2025-12-10T10:54:29Z"), ev("2025-12-10T10:54:59Z"), ev("2025-12-10T11:04:43Z"), ev("2025-12-10T12:00:00Z"), ev("bad")],
    start,
    end,
  );
  // 10 min 15 s in at most 60 buckets: 15 s wide, aligned to 15 s.
  assert.equal(h.interval_ms, 15_000);
  assert.equal(h.buckets[0].start, "2025-12-10T10:54:15.000Z");
  assert.equal(h.buckets.length, 42);
  assert.equal(h.buckets.at(-1).start, "2025-12-10T11:04:30.000Z");
  assert.equal(h.total, 3, "the event after the range and the unreadable one are not counted");
  assert.deepEqual(h.buckets.filter((b) => b.count).map((b) => [b.start, b.count]), [
    ["2025-12-10T10:54:15.000Z", 1],
    ["2025-12-10T10:54:45.000Z", 1],
    ["2025-12-10T11:04:30.000Z", 1],
  ]);
  // One second: one bucket of 1 s.
  const one = m.alerts.timelineOf([ev("2025-12-10T10:00:00.250Z")], Date.parse("2025-12-10T10:00:00.250Z"), Date.parse("2025-12-10T10:00:01.250Z"));
  assert.deepEqual([one.interval_ms, one.buckets.length, one.total], [1000, 2, 1]);
  // A year: whole days.
  const year = m.alerts.timelineOf([], 0, 365 * 86_400_000);
  assert.equal(year.interval_ms, 7 * 86_400_000);
  assert.ok(year.buckets.length <= 60);
});

test("alerts: the evidence note says what was found and why some is missing", async () => {
  const [corr] = (await fixture("alerts.json")).alerts;
  assert.equal(m.alerts.evidenceNote(3, corr, 40), "3 of 3 events");
  assert.equal(m.alerts.evidenceNote(2, corr, 40), "2 of 3 events · 1 not in the store (deleted by retention?)");
  assert.equal(
    m.alerts.evidenceNote(2, corr, 10_000),
    "2 of 3 events · more than 10,000 candidates in the range: narrow it in Search",
  );
  assert.equal(
    m.alerts.evidenceNote(3, { ...corr, count: 1500 }, 40),
    "3 of 1,500 events · the alert keeps the ids of the first 3",
  );
});

test("rules: rows (groups and evictions), the filter, refused lines and the summary", async () => {
  const r = await fixture("rules.json");
  const rows = m.rules.ruleRows(r.rules);
  assert.deepEqual(
    rows.map((x) => [x.key, x.name, x.kind, x.level, x.levelText, x.enabled, x.hits, x.groups, x.evicted, x.evictedValue]),
    [
      ["6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a01", "ssh_failed_login", "detection", "low", "low", true, "524", "", "", 0],
      ["root_login", "root_login", "detection", "other", "–", false, "0", "", "", 0],
      ["6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a03", "ssh_brute_force", "correlation", "high", "high", true, "1,234,567", "13", "0", 0],
      ["spray", "", "correlation", "critical", "critical", true, "9", "10,000", "42", 42],
    ],
  );
  const keys = (f) => m.rules.ruleRows(r.rules, f).map((x) => x.key);
  assert.deepEqual(keys("BRUTE"), ["6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a03"]);
  assert.deepEqual(keys("ssh login"), ["6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a01"]);
  assert.deepEqual(keys("mine.yml"), ["root_login"]);
  assert.deepEqual(keys("0a01"), ["6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a01"]);
  assert.deepEqual(keys("nothing-like-this"), []);
  assert.equal(keys("  ").length, 4);
  assert.deepEqual(m.rules.rejectedLines(r.rejected), [
    "/etc/loglynx/rules/broken.yml:7: Unknown modifier 'containz'",
    "/etc/loglynx/rules/empty.yml: no rule in the file",
  ]);
  assert.equal(
    m.rules.rulesSummary(r),
    "2 detection rules, 2 correlations (1 disabled)  ·  1 inactive  ·  2 refused  ·  1 reload and 12 alerts since start",
  );
});

test("rules: the backtest request and its summary", () => {
  const scope = { start: "2025-12-10T00:00:00.000Z", end: undefined };
  assert.deepEqual(m.rules.backtestRequest({ rule: "ssh_brute_force" }, scope, " host.name:LabSZ "), {
    rule: "ssh_brute_force",
    start: "2025-12-10T00:00:00.000Z",
    q: "host.name:LabSZ",
  });
  assert.deepEqual(m.rules.backtestRequest({ yaml: "title: x" }, {}, ""), { yaml: "title: x" });
  const r = { events_scanned: 2012, matched: 524, alerts: [{}, {}], truncated: false, took_ms: 41 };
  assert.equal(m.rules.backtestSummary(r), "2,012 events scanned, 524 matched, 2 alerts would be raised (41 ms)");
  assert.equal(
    m.rules.backtestSummary({ ...r, alerts: [{}], truncated: true }),
    "2,012 events scanned, 524 matched, 1 alert would be raised (41 ms); stopped early: narrow the range or the query to scan everything",
  );
});

test("the hash keeps the search's Patterns tab and the compare toggle where they apply", () => {
  const s = { q: "sshd", start: "now-1h", end: "", view: "search", tab: "patterns", compare: "previous" };
  assert.equal(m.formatHash(s), "#q=sshd&start=now-1h&view=search&tab=patterns&compare=previous");
  assert.deepEqual(m.parseHash(m.formatHash(s)), s);
  // the events tab does not compare; other pages drop both keys
  assert.equal(m.formatHash({ ...s, tab: undefined }), "#q=sshd&start=now-1h&view=search");
  assert.equal(m.formatHash({ ...s, view: "patterns" }), "#q=sshd&start=now-1h&view=patterns&compare=previous");
  assert.equal(m.formatHash({ ...s, view: "rules" }), "#q=sshd&start=now-1h&view=rules");
  assert.equal(m.parseHash("#view=patterns").view, "patterns");
  assert.equal(m.parseHash("#view=search&tab=bogus&compare=next").tab, undefined);
  assert.equal(m.parseHash("#view=search&tab=bogus&compare=next").compare, undefined);
});

test("templateParts marks the variables of a template", () => {
  assert.deepEqual(m.pat.templateParts("Failed password for <*> from <*> port <*> ssh2"), [
    { text: "Failed password for ", var: false },
    { text: "<*>", var: true },
    { text: " from ", var: false },
    { text: "<*>", var: true },
    { text: " port ", var: false },
    { text: "<*>", var: true },
    { text: " ssh2", var: false },
  ]);
  assert.deepEqual(m.pat.templateParts("<*><*>"), [{ text: "<*>", var: true }, { text: "<*>", var: true }]);
  assert.deepEqual(m.pat.templateParts("no variables"), [{ text: "no variables", var: false }]);
});

test("patternQuery searches the id and the template's former ids", () => {
  assert.equal(m.pat.patternQuery({ id: "d56bc67e5e2a2ba8", former: [] }), "pattern.id:d56bc67e5e2a2ba8");
  assert.equal(
    m.pat.patternQuery({ id: "aa", former: ["bb", "aa", "cc"] }),
    "(pattern.id:aa OR pattern.id:bb OR pattern.id:cc)",
  );
});

test("sparkPoints scales the series into the box, the peak at the top", () => {
  assert.equal(m.pat.sparkPoints([0, 5, 10], 100, 20), "0,19 50,10 100,1");
  assert.equal(m.pat.sparkPoints([0, 0], 100, 20), "0,19 100,19");
  assert.equal(m.pat.sparkPoints([3], 100, 20), "50,1");
  assert.equal(m.pat.sparkPoints([], 100, 20), "");
});

test("patternRows and patternsSummary show an answer of /api/v1/patterns", () => {
  const r = {
    patterns: [
      { id: "a1", template: "Invalid user <*> from <*>", service: "sshd", count: 1200, share: 0.6, first_seen: "2025-12-10T06:55:46Z",
        last_seen: "2025-12-10T11:04:45Z", example: "Invalid user webmaster from 173.234.31.186", series: [1, 2, 3], former: ["a0"],
        previous_count: 0, change: "new" },
      { id: "b2", template: "Connection closed by <*> [preauth]", service: null, count: 1, share: 0.0005, first_seen: null,
        last_seen: null, example: null, series: [], former: [], previous_count: 1, change: "same" },
    ],
    total: 2000, start: "2025-12-10T00:00:00Z", end: "2025-12-11T00:00:00Z", interval_ms: 3600000, templates: 31,
    overflow: [{ service: "noisy", lines: 1500 }],
  };
  const rows = m.pat.patternRows(r);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].query, "(pattern.id:a1 OR pattern.id:a0)");
  assert.equal(rows[0].count, "1,200");
  assert.equal(rows[0].share, "60.0%");
  assert.equal(rows[0].previous, "0");
  assert.equal(rows[0].badge, "new");
  assert.equal(rows[0].parts.filter((p) => p.var).length, 2);
  assert.equal(rows[1].badge, null);
  assert.equal(rows[1].share, "<0.1%");
  assert.equal(rows[1].first, "–");
  assert.equal(rows[1].service, "");
  assert.equal(m.pat.patternsSummary(r), "2 patterns · 2,000 events · 31 templates known · 1,500 lines over the template cap (noisy)");
  assert.equal(m.pat.changeBadge("gone"), "gone");
  assert.equal(m.pat.changeBadge(undefined), null);
});

test("groupedEdges orders sources by their bytes, then each source's edges by bytes", () => {
  const e = (source, target, bytes, segs_out = 0) => ({ source, target, bytes, segs_out });
  const edges = [e("web", "db", 10), e("cron", "s3:443", 500), e("web", "cache", 300), e("web", "10.0.0.9", 0, 7)];
  assert.deepEqual(
    m.groupedEdges(edges).map((x) => `${x.source}>${x.target}`),
    ["cron>s3:443", "web>cache", "web>db", "web>10.0.0.9"],
  );
  assert.equal(edges[0].target, "db", "the input is left as it was");
});

test("alerts: whether and when an alert was notified, per channel and resolution, with the errors", () => {
  assert.equal(m.alerts.statusOf({ status: "resolved" }), "resolved");
  const a = {
    id: "a1",
    notify: ["syslog", "webhook"],
    notified: ["syslog", "syslog:resolved"],
    notified_at: { syslog: "2026-12-03T10:00:00Z", "syslog:resolved": "2026-12-03T10:07:00Z" },
  };
  const pending = [
    { channel: "webhook", kind: "raised", alert: "a1", rule: "r", attempts: 2, next_at: "2026-12-03T10:01:00Z", last_error: "webhook at h answered 500 Internal Server Error" },
    { channel: "webhook", kind: "resolved", alert: "a1", rule: "r", attempts: 0, next_at: "1970-01-01T00:00:00Z", last_error: null },
    { channel: "webhook", kind: "raised", alert: "other", rule: "r", attempts: 5, next_at: "2026-12-03T10:01:00Z", last_error: "x" },
  ];
  const t = (s) => m.formatTime(s, false);
  assert.deepEqual(m.alerts.notifiedLines(a, pending), [
    { delivery: "syslog", state: "delivered", text: `syslog: delivered ${t("2026-12-03T10:00:00Z")}` },
    { delivery: "syslog:resolved", state: "delivered", text: `syslog (resolution): delivered ${t("2026-12-03T10:07:00Z")}` },
    {
      delivery: "webhook",
      state: "failing",
      text: `webhook: not delivered, 2 failed attempts: webhook at h answered 500 Internal Server Error; next try ${t("2026-12-03T10:01:00Z")}`,
    },
  ]);
  // not tried yet
  assert.deepEqual(m.alerts.notifiedLines({ id: "b", notify: ["webhook"] }, []), [{ delivery: "webhook", state: "pending", text: "webhook: pending" }]);
  assert.deepEqual(m.alerts.notifiedLines({ id: "c" }, []), []);
});

test("sources model: rows, origins, time readings and the configured overrides", () => {
  const resp = {
    sources: [
      {
        kind: "syslog", host: "web-1", source: "billing", detail: "10.0.0.7", structure: "level thread logger message",
        fields: ["level", "thread", "logger", "message"], zone: "UTC", zone_from: "fixed", ambiguous_date: false,
        matched: 12345, relearned: 2, segments: [{ text: "WARN", field: "level" }, { text: " " }, { text: "x", field: "message" }],
      },
      {
        kind: "file", host: "h", source: "/srv/a.log", structure: "time(%d.%m.%Y %H:%M:%S%.f)|level|message",
        timestamp_format: "%d.%m.%Y %H:%M:%S%.f", fields: ["time", "level", "message"], zone: "Europe/Paris",
        zone_from: "files.zones", ambiguous_date: true, matched: 0, relearned: 0, segments: [],
      },
      {
        kind: "file", host: "", source: "/srv/b.log", structure: "time(day-first) level message",
        fields: ["time", "level", "message"], zone: "UTC", zone_from: "files.timezone", ambiguous_date: false, matched: 1, relearned: 1, segments: [],
      },
    ],
    overrides: {
      timezone: "UTC",
      zones: [{ paths: ["/srv/*.log"], timezone: "Europe/Paris" }],
      layouts: [{ paths: ["/srv/x.log"], pattern: "^(?P<message>.*)$" }],
      syslog_layouts: [{ hosts: ["legacy*"], programs: ["billing"], timezone: "America/New_York" }],
      http_layouts: [{ streams: ["pay"], timestamp_format: "%d.%m.%Y %H:%M:%S" }],
    },
  };
  const rows = m.src.sourceRows(resp);
  assert.deepEqual(rows.map((r) => [r.kind, r.source, r.origin]), [
    ["syslog", "billing", "from 10.0.0.7, host web-1"],
    ["file", "/srv/a.log", "host h"],
    ["file", "/srv/b.log", ""],
  ]);
  assert.deepEqual(rows.map((r) => r.time), [
    "none in the message (the header's time is kept)",
    "%d.%m.%Y %H:%M:%S%.f",
    "any known shape, day before month",
  ]);
  assert.equal(
    rows[0].zone,
    "UTC (syslog and HTTP times without a zone are UTC, unless a [[syslog.layouts]] or [[http.layouts]] entry gives a zone)",
  );
  assert.equal(rows[1].zone, "Europe/Paris (files.zones)");
  assert.equal(rows[0].matched, (12345).toLocaleString());
  assert.equal(rows[1].ambiguous, true);
  assert.deepEqual(m.src.overrideLines(resp.overrides), [
    '[files] timezone = "UTC"',
    '[[files.zones]] paths = ["/srv/*.log"], timezone = "Europe/Paris"',
    '[[files.layouts]] paths = ["/srv/x.log"], pattern = "^(?P<message>.*)$"',
    '[[syslog.layouts]] hosts = ["legacy*"], programs = ["billing"], timezone = "America/New_York"',
    '[[http.layouts]] streams = ["pay"], timestamp_format = "%d.%m.%Y %H:%M:%S"',
  ]);
  assert.deepEqual(m.src.overrideLines(undefined), []);
  assert.equal(m.src.sourcesSummary(resp), "3 sources with a learned structure  ·  3 re-learnings  ·  3 configured layouts");
  assert.equal(m.src.sourcesSummary({ sources: [] }), "0 sources with a learned structure  ·  0 re-learnings  ·  0 configured layouts");
});
