// Unit tests of the dashboard's pure modules (query editing, time ranges, URL state, SSE parsing).
// The TypeScript sources are bundled with esbuild into a temporary module first.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
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
  ].join("\n");
  const out = join(dir, "bundle.mjs");
  await build({
    stdin: { contents: entry, resolveDir: SRC, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
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
