// Live tail: follows /api/v1/tail/stream (Server-Sent Events read through fetch, so the bearer
// token header can be sent), falls back to polling /api/v1/tail, keeps at most MAX_ROWS rows.

import { apiUrl, authHeaders, errorFrom, getJson } from "./api";
import { eventRow, makeExpandable, type FilterHandler } from "./events";
import type { LogEvent, TailResponse } from "./types";

/** Most rows kept on screen (and events buffered while paused): bounded memory. */
export const MAX_ROWS = 1000;
const POLL_MS = 1000;
const RETRY_MAX_MS = 10_000;

type TailState = "idle" | "connecting" | "live" | "polling" | "retrying" | "error";

/** Incremental parser of a `text/event-stream` body: feed text, get each event's data. */
export class SseParser {
  private buf = "";
  private data: string[] = [];
  private type = "";
  /** The last `id:` seen (sent back as Last-Event-ID on reconnect). */
  lastId: string | null = null;

  /**
   * Feeds a chunk; calls `emit` with the joined `data:` lines of each complete event and its
   * `event:` type ("message" when none).
   */
  feed(chunk: string, emit: (data: string, type: string) => void): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      const sepLen = this.buf.startsWith("\r\n", nl) ? 2 : 1;
      this.buf = this.buf.slice(nl + sepLen);
      if (line === "") {
        if (this.data.length) emit(this.data.join("\n"), this.type || "message");
        this.data = [];
        this.type = "";
        continue;
      }
      if (line.startsWith(":")) continue; // comment / keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "id") this.lastId = value;
      else if (field === "event") this.type = value;
    }
  }
}

/** Events in one SSE message: one JSON event, or one JSON event per data line. */
export function eventsOf(data: string): LogEvent[] {
  try {
    const v = JSON.parse(data);
    if (Array.isArray(v)) return v.filter(isObject);
    return isObject(v) ? [v] : [];
  } catch {
    const out: LogEvent[] = [];
    for (const line of data.split("\n")) {
      try {
        const v = JSON.parse(line);
        if (isObject(v)) out.push(v);
      } catch {
        // not an event (e.g. a text notice): ignored
      }
    }
    return out;
  }
}

function isObject(v: unknown): v is LogEvent {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The live-tail view: connection, pause/resume and the bounded row list. */
export class LiveTail {
  private abort: AbortController | null = null;
  private paused = false;
  private pending: LogEvent[] = [];
  private queue: LogEvent[] = [];
  private flushScheduled = false;
  private rows = 0;
  private received = 0;
  private q = "";

  constructor(
    private readonly tbody: HTMLElement,
    private readonly scroller: HTMLElement,
    private readonly status: HTMLElement,
    private readonly count: HTMLElement,
    private readonly toggle: HTMLButtonElement,
    private readonly onFilter: FilterHandler,
  ) {
    toggle.addEventListener("click", () => this.setPaused(!this.paused));
  }

  /** Starts following `q` (restarting if already following another query). */
  start(q: string): void {
    if (this.abort && this.q === q) return;
    this.stop();
    this.q = q;
    const abort = new AbortController();
    this.abort = abort;
    void this.streamLoop(abort.signal);
  }

  /** Stops following (leaves the rows on screen). */
  stop(): void {
    this.abort?.abort();
    this.abort = null;
    this.setState("idle", "stopped");
  }

  /** Removes every row. */
  clear(): void {
    this.tbody.replaceChildren();
    this.rows = 0;
    this.received = 0;
    this.pending = [];
    this.updateCount();
  }

  private setState(state: TailState, text: string): void {
    this.tbody.closest(".view")?.setAttribute("data-state", state);
    this.status.dataset.state = state;
    this.status.textContent = this.paused && state !== "idle" ? `paused · ${text}` : text;
  }

  private setPaused(p: boolean): void {
    this.paused = p;
    this.toggle.textContent = p ? "Resume" : "Pause";
    this.toggle.classList.toggle("paused", p);
    if (!p && this.pending.length) {
      const ev = this.pending;
      this.pending = [];
      this.enqueue(ev);
    }
    const st = (this.status.dataset.state as TailState) ?? "idle";
    this.setState(st, this.status.textContent?.replace(/^paused · /, "") ?? "");
    this.updateCount();
  }

  private async streamLoop(signal: AbortSignal): Promise<void> {
    const parser = new SseParser();
    let delay = 500;
    while (!signal.aborted) {
      this.setState("connecting", "connecting…");
      try {
        const headers: Record<string, string> = { ...authHeaders(), Accept: "text/event-stream" };
        if (parser.lastId) headers["Last-Event-ID"] = parser.lastId;
        const resp = await fetch(apiUrl("tail/stream", { q: this.q }), { headers, signal });
        if (resp.status === 404 || resp.status === 405 || resp.status === 501 || !resp.body) {
          return this.pollLoop(signal);
        }
        if (!resp.ok) {
          const text = await resp.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const err = errorFrom(resp.status, body, text);
          this.setState("error", err.reason);
          if (resp.status >= 400 && resp.status < 500) return; // a bad query: retrying won't help
        } else {
          this.setState("live", "live");
          delay = 500;
          const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.feed(value, (data, type) => {
              if (type === "error") {
                let body: unknown;
                try {
                  body = JSON.parse(data);
                } catch {
                  body = undefined;
                }
                this.setState("error", errorFrom(500, body, data).reason);
              } else {
                this.accept(eventsOf(data));
              }
            });
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        this.setState("retrying", `disconnected: ${(e as Error).message}`);
      }
      if (signal.aborted) return;
      await wait(delay, signal);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  private async pollLoop(signal: AbortSignal): Promise<void> {
    let cursor: string | undefined;
    while (!signal.aborted) {
      try {
        const r = await getJson<TailResponse>("tail", { q: this.q, cursor, limit: 500 }, signal);
        this.setState("polling", "live (polling)");
        this.accept(r.events ?? []);
        if (r.cursor !== null && r.cursor !== undefined) {
          cursor = typeof r.cursor === "string" ? r.cursor : JSON.stringify(r.cursor);
        }
      } catch (e) {
        if (signal.aborted) return;
        this.setState("error", (e as Error).message);
      }
      await wait(POLL_MS, signal);
    }
  }

  private accept(events: LogEvent[]): void {
    if (events.length === 0) return;
    this.received += events.length;
    if (this.paused) {
      this.pending.push(...events);
      if (this.pending.length > MAX_ROWS) this.pending.splice(0, this.pending.length - MAX_ROWS);
      this.updateCount();
      return;
    }
    this.enqueue(events);
  }

  private enqueue(events: LogEvent[]): void {
    this.queue.push(...events);
    if (this.queue.length > MAX_ROWS) this.queue.splice(0, this.queue.length - MAX_ROWS);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.queue;
    this.queue = [];
    const s = this.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 40;
    const frag = document.createDocumentFragment();
    for (const e of events) {
      const tr = eventRow(e, "tail-row");
      makeExpandable(tr, e, this.onFilter);
      frag.appendChild(tr);
    }
    this.tbody.appendChild(frag);
    this.rows += events.length;
    while (this.rows > MAX_ROWS) {
      const first = this.tbody.firstElementChild;
      if (!first) break;
      const next = first.nextElementSibling;
      if (next && next.classList.contains("detail")) next.remove();
      first.remove();
      this.rows--;
    }
    if (atBottom) s.scrollTop = s.scrollHeight;
    this.updateCount();
  }

  private updateCount(): void {
    this.count.textContent =
      `${this.rows} shown (max ${MAX_ROWS}) · ${this.received} received` +
      (this.pending.length ? ` · ${this.pending.length} waiting` : "");
    this.tbody.dataset.rows = String(this.rows);
  }
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
