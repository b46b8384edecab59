// Shared by the dashboard end-to-end tests: paths, Chromium flags and deadline-based waiting.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = resolve(UI_DIR, process.env.LOGLYNX_BIN ?? "../target/debug/loglynx");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOT_DIR = join(UI_DIR, "test-results");
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const DEADLINE_MS = 30_000;

/** Polls `probe` until it returns a truthy value or the deadline passes (no fixed sleeps). */
export async function waitFor(what, probe, timeoutMs = DEADLINE_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A port that was free a moment ago (the binary takes an explicit address). */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}


/**
 * Starts `cmd args` with stdout and stderr kept (the last 20,000 characters, for failure
 * messages); `stop()` sends SIGTERM, then SIGKILL after 10 s, and waits for the exit.
 */
export function launch(cmd, args, env = {}) {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  const keep = (b) => {
    out = (out + b.toString()).slice(-20_000);
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  let exited = null;
  proc.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  proc.on("error", (e) => {
    exited = { error: e.message };
  });
  const stop = async () => {
    if (exited) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(t);
  };
  return { proc, output: () => out, exited: () => exited, stop };
}

/**
 * Waits until a launched process prints a line matching `re`; returns the match. Fails at once
 * (with its output) when the process exits first.
 */
export async function waitOutput(p, what, re, timeoutMs = DEADLINE_MS) {
  const r = await waitFor(what, () => re.exec(p.output()) ?? (p.exited() ? { exited: p.exited() } : null), timeoutMs);
  if (r.exited) throw new Error(`${what}: exited early (${JSON.stringify(r.exited)}):\n${p.output()}`);
  return r;
}
