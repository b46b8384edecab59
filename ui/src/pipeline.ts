// The Pipeline page: health of the Kafka scale-out pipeline (`GET /api/v1/pipeline`, served by
// `loglynx serve` from the agents' and workers' health reports): rates, lag per partition, group
// members and assignment, rebalances, the agents' on-disk buffer. Refreshes every 2 s while the
// page is visible. `loglynx run` has no Kafka pipeline: the endpoint answers 404 and the page
// says so instead of showing empty tables.
//
// The model functions (`tilesOf`, `bufferOf`, `partitionRows`, ...) are pure and unit tested;
// `PipelineView` turns them into DOM.

import { ApiError, apiUrl, authHeaders, errorFrom } from "./api";
import { byId, el } from "./dom";
import { formatTime } from "./time";
import type { HealthReport, PipelineOff, PipelineStatus, PipelineTotals } from "./types";

/** Refresh interval while the page is visible. */
export const POLL_MS = 2000;

const NUM = new Intl.NumberFormat("en-US");

/** A count with thousands separators; "–" when unknown. */
export function fmtCount(n: number | null | undefined): string {
  return typeof n === "number" && Number.isFinite(n) ? NUM.format(n) : "–";
}

/** Records per second: one decimal below 10/s, whole numbers above. */
export function fmtRate(r: number | null | undefined): string {
  if (typeof r !== "number" || !Number.isFinite(r) || r <= 0) return "0/s";
  return r < 10 ? `${r.toFixed(1)}/s` : `${NUM.format(Math.round(r))}/s`;
}

/** Bytes in binary units (B, KiB, MiB, GiB, TiB). */
export function fmtBytes(b: number | null | undefined): string {
  if (typeof b !== "number" || !Number.isFinite(b) || b <= 0) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  if (i === 0) return `${v} B`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "12 s ago" / "3 min ago" between two epoch-ms times. */
export function ago(thenMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** The totals, with zeros for what an older server does not send. */
function totalsOf(s: PipelineStatus): PipelineTotals {
  return {
    produce_rate: 0,
    consume_rate: 0,
    lag: 0,
    members: 0,
    rebalances_total: 0,
    spool_bytes: 0,
    spool_max_bytes: 0,
    spool_records: 0,
    agents: (s.agents ?? []).length,
    workers: (s.workers ?? []).length,
    ...((s.totals ?? {}) as Partial<PipelineTotals>),
  };
}

/** One summary tile. */
export interface Tile {
  key: string;
  label: string;
  value: string;
  sub: string;
  /** "" (normal), "warn" or "bad": colours the value. */
  level: "" | "warn" | "bad";
}

function plural(n: number, word: string): string {
  return `${fmtCount(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** The summary tiles (the on-disk buffer is separate: see `bufferOf`). */
export function tilesOf(s: PipelineStatus): Tile[] {
  const t = totalsOf(s);
  const fresh = (rs: HealthReport[]) => rs.filter((r) => !r.stale).length;
  const agents = fresh(s.agents ?? []);
  const workers = fresh(s.workers ?? []);
  const expected = (s.workers ?? [])
    .filter((w) => !w.stale)
    .reduce((n, w) => n + (w.consumer?.consumers ?? 0), 0);
  return [
    {
      key: "produce-rate",
      label: "Produce rate",
      value: fmtRate(t.produce_rate),
      sub: plural(agents, "agent"),
      level: agents === 0 ? "warn" : "",
    },
    {
      key: "consume-rate",
      label: "Consume rate",
      value: fmtRate(t.consume_rate),
      sub: plural(workers, "worker"),
      level: workers === 0 ? "warn" : "",
    },
    {
      key: "lag",
      label: "Total lag",
      value: fmtCount(t.lag),
      sub: "records not yet searchable",
      level: t.lag > 0 ? "warn" : "",
    },
    {
      key: "members",
      label: "Group members",
      value: fmtCount(t.members),
      sub: `in ${s.group || "the group"}` + (expected && expected !== t.members ? ` (${expected} consumers running)` : ""),
      level: t.members === 0 ? "bad" : expected && expected !== t.members ? "warn" : "",
    },
    {
      key: "rebalances",
      label: "Rebalances",
      value: fmtCount(t.rebalances_total),
      sub: "assignments and revocations",
      level: "",
    },
  ];
}

/** The agents' on-disk buffer: fill and whether any (live) agent is spooling. */
export interface Buffer {
  bytes: number;
  max: number;
  records: number;
  /** Fill in percent (0..100), rounded to one decimal. */
  pct: number;
  /** "1.5 MiB / 64 MiB". */
  text: string;
  /** Ids of the live agents whose broker is unreachable or stalled. */
  spooling: string[];
}

/** The buffer tile's content. */
export function bufferOf(s: PipelineStatus): Buffer {
  const t = totalsOf(s);
  const bytes = t.spool_bytes ?? 0;
  const max = t.spool_max_bytes ?? 0;
  const pct = max > 0 ? Math.min(100, Math.round((1000 * bytes) / max) / 10) : 0;
  const spooling = (s.agents ?? [])
    .filter((a) => !a.stale && a.producer?.state === "spooling")
    .map((a) => a.id);
  return {
    bytes,
    max,
    records: t.spool_records ?? 0,
    pct,
    text: `${fmtBytes(bytes)} / ${max > 0 ? fmtBytes(max) : "–"}`,
    spooling,
  };
}

/** One row of the partitions table. */
export interface PartitionRow {
  /** `topic/partition`: the key of `lagsOf`. */
  key: string;
  partition: number;
  /** The partition as shown: its number, prefixed with its topic when several topics show. */
  label: string;
  owner: string;
  consumer: string;
  committed: string;
  highWatermark: string;
  lag: string;
  lagValue: number | null;
  /** Lag above 0 and higher than at the previous refresh. */
  growing: boolean;
  /** Offsets given up as missing over the shard's life. */
  missing: string;
  missingValue: number;
}

function partitionKey(p: { topic?: string; partition: number }): string {
  return `${p.topic ?? ""}/${p.partition}`;
}

/** The partitions, by topic and number, with lag compared to the previous refresh. */
export function partitionRows(s: PipelineStatus, prevLag: Map<string, number>): PartitionRow[] {
  const parts = [...(s.partitions ?? [])];
  const topics = new Set(parts.map((p) => p.topic ?? s.topic));
  return parts
    .sort((a, b) => (a.topic ?? "").localeCompare(b.topic ?? "") || a.partition - b.partition)
    .map((p) => {
      const key = partitionKey(p);
      const before = prevLag.get(key);
      const lag = typeof p.lag === "number" ? p.lag : null;
      return {
        key,
        partition: p.partition,
        label: topics.size > 1 ? `${p.topic}/${p.partition}` : String(p.partition),
        owner: p.owner,
        consumer: String(p.consumer),
        committed: fmtCount(p.committed),
        highWatermark: fmtCount(p.high_watermark),
        lag: fmtCount(lag),
        lagValue: lag,
        growing: lag !== null && lag > 0 && before !== undefined && lag > before,
        missing: fmtCount(p.missing ?? 0),
        missingValue: p.missing ?? 0,
      };
    });
}

/** The lags to compare the next refresh with, by `topic/partition`. */
export function lagsOf(s: PipelineStatus): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of s.partitions ?? []) if (typeof p.lag === "number") m.set(partitionKey(p), p.lag);
  return m;
}

/** One row of the agents table. */
export interface AgentRow {
  id: string;
  stale: boolean;
  updated: string;
  state: string;
  rate: string;
  delivered: string;
  failures: string;
  failuresValue: number;
  inFlight: string;
  spool: string;
}

/** The agents, as reported. */
export function agentRows(s: PipelineStatus): AgentRow[] {
  return (s.agents ?? []).map((a) => {
    const p = a.producer;
    const spool = p
      ? `${fmtBytes(p.spool_bytes)} / ${fmtBytes(p.spool_max_bytes)}` +
        (p.spool_records ? ` (${plural(p.spool_records, "record")})` : "")
      : "–";
    return {
      id: a.id,
      stale: !!a.stale,
      updated: ago(a.updated_ms, s.now_ms),
      state: a.stale ? "stale" : (p?.state ?? "–"),
      rate: fmtRate(p?.rate),
      delivered: fmtCount(p?.delivered),
      failures: fmtCount(p?.failures),
      failuresValue: p?.failures ?? 0,
      inFlight: fmtCount(p?.in_flight),
      spool,
    };
  });
}

/** One row of the workers table. */
export interface WorkerRow {
  id: string;
  stale: boolean;
  updated: string;
  consumers: string;
  rate: string;
  consumed: string;
  undecodable: string;
  undecodableValue: number;
  skipped: string;
  /** What the skipped records were (the cell's tooltip). */
  skippedWhy: string;
  missing: string;
  missingValue: number;
  partitions: string;
}

/** The workers, as reported. */
export function workerRows(s: PipelineStatus): WorkerRow[] {
  return (s.workers ?? []).map((w) => {
    const c = w.consumer;
    const parts = [...(c?.partitions ?? [])].map((p) => p.partition).sort((a, b) => a - b);
    return {
      id: w.id,
      stale: !!w.stale,
      updated: ago(w.updated_ms, s.now_ms),
      consumers: fmtCount(c?.consumers),
      rate: fmtRate(c?.rate),
      consumed: fmtCount(c?.consumed),
      undecodable: fmtCount(c?.undecodable),
      undecodableValue: c?.undecodable ?? 0,
      skipped: fmtCount(c?.skipped),
      skippedWhy:
        `${fmtCount(c?.duplicates ?? 0)} sent twice by an agent, ` +
        `${fmtCount(Math.max(0, (c?.skipped ?? 0) - (c?.duplicates ?? 0)))} offsets the shard already had`,
      missing: fmtCount(c?.missing ?? 0),
      missingValue: c?.missing ?? 0,
      partitions: parts.length ? parts.join(", ") : "none",
    };
  });
}

/** One row of the rebalance timeline. */
export interface RebalanceRow {
  atMs: number;
  worker: string;
  consumer: string;
  kind: string;
  partitions: string;
}

/** The rebalance events, newest first (the API sends them newest last). */
export function rebalanceRows(s: PipelineStatus): RebalanceRow[] {
  return [...(s.rebalances ?? [])]
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.at_ms - a.r.at_ms || b.i - a.i)
    .map(({ r }) => ({
      atMs: r.at_ms,
      worker: r.worker,
      consumer: String(r.consumer),
      kind: r.kind,
      partitions: r.partitions?.length ? [...r.partitions].sort((a, b) => a - b).join(", ") : "none",
    }));
}

/** GETs `/api/v1/pipeline`; a 404 with `{"enabled": false}` is the "no Kafka pipeline" answer. */
export async function fetchPipeline(signal?: AbortSignal): Promise<PipelineStatus | PipelineOff> {
  let resp: Response;
  try {
    resp = await fetch(apiUrl("pipeline"), { headers: authHeaders(), signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", `cannot reach the server: ${(e as Error).message}`);
  }
  const text = await resp.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const obj = body as { enabled?: unknown; error?: unknown } | undefined;
  if (resp.status === 404 && obj && obj.enabled === false) {
    const msg = typeof obj.error === "string" ? obj.error : "no Kafka pipeline behind this server";
    return { enabled: false, error: msg };
  }
  if (!resp.ok) throw errorFrom(resp.status, body, text);
  if (!obj || typeof obj !== "object" || obj.enabled !== true) {
    throw new ApiError(resp.status, "bad_response", "the server sent no pipeline status");
  }
  return body as PipelineStatus;
}

function td(text: string, cls = "", col = ""): HTMLTableCellElement {
  const c = el("td", cls, text);
  if (col) c.dataset.col = col;
  return c;
}

function badge(text: string, cls: string): HTMLSpanElement {
  return el("span", `badge ${cls}`, text);
}

/** Replaces the rows of a table body; an empty list shows `empty` across `cols` columns. */
function fill(body: HTMLElement, rows: HTMLTableRowElement[], cols: number, empty: string): void {
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el("tr", "empty-row");
    const c = td(empty, "muted");
    c.colSpan = cols;
    tr.appendChild(c);
    body.appendChild(tr);
  }
}

/** The Pipeline view; `run()` shows it and refreshes every 2 s while the page is visible. */
export class PipelineView {
  private active = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ctl: AbortController | null = null;
  private busy = false;
  private prevLag = new Map<string, number>();
  private errorShown = false;
  private polls = 0;
  private readonly page = byId("pipeline");

  constructor(private readonly showError: (msg: string | null) => void) {
    document.addEventListener("visibilitychange", () => this.onVisibility());
  }

  /** Stops refreshing (the view was left). */
  stop(): void {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ctl?.abort();
    this.ctl = null;
    this.busy = false;
  }

  /** Shows the page now and keeps it fresh. */
  async run(): Promise<void> {
    this.stop();
    this.active = true;
    this.ctl = new AbortController();
    await this.tick(this.ctl.signal);
  }

  private onVisibility(): void {
    if (!this.active) return;
    if (document.hidden) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.setLive();
    } else if (this.timer === null && !this.busy && this.ctl) {
      void this.tick(this.ctl.signal);
    }
  }

  private async tick(signal: AbortSignal): Promise<void> {
    this.timer = null;
    if (!this.active || signal.aborted) return;
    this.busy = true;
    try {
      await this.poll(signal);
    } finally {
      if (!signal.aborted) this.busy = false;
    }
    if (!this.active || signal.aborted) return;
    this.setLive();
    if (!document.hidden) this.timer = setTimeout(() => void this.tick(signal), POLL_MS);
  }

  /** The refresh indicator: live every 2 s, paused while the page is hidden. */
  private setLive(): void {
    const live = byId("pipe-live");
    const paused = document.hidden;
    const off = this.page.dataset.enabled === "off";
    live.dataset.state = off ? "off" : paused ? "paused" : "live";
    live.textContent = off ? "off" : paused ? "paused" : "live";
    live.title = paused
      ? "refresh paused while the page is hidden"
      : `refreshes every ${POLL_MS / 1000} s`;
  }

  private async poll(signal: AbortSignal): Promise<void> {
    let r: PipelineStatus | PipelineOff;
    try {
      r = await fetchPipeline(signal);
    } catch (e) {
      if (signal.aborted || (e as Error).name === "AbortError") return;
      this.page.dataset.enabled = "error";
      this.errorShown = true;
      this.showError(`pipeline: ${(e as Error).message}`);
      return;
    }
    if (signal.aborted) return;
    this.polls += 1;
    this.page.dataset.polls = String(this.polls);
    if (this.errorShown) {
      this.showError(null);
      this.errorShown = false;
    }
    if (!r.enabled) {
      this.page.dataset.enabled = "off";
      const off = byId("pipe-off");
      off.hidden = false;
      off.textContent = r.error;
      byId("pipe-status-text").textContent = "";
      this.prevLag.clear();
      return;
    }
    this.page.dataset.enabled = "on";
    this.page.dataset.updated = String(r.now_ms);
    byId("pipe-off").hidden = true;
    this.render(r);
    this.prevLag = lagsOf(r);
  }

  private render(s: PipelineStatus): void {
    byId("pipe-status-text").textContent = [
      `topic ${s.topic || "–"}`,
      `group ${s.group || "–"}`,
      `${plural(totalsOf(s).agents, "agent")}, ${plural(totalsOf(s).workers, "worker")}`,
      `as of ${formatTime(s.now_ms, false)}`,
    ].join("  ·  ");
    this.renderTiles(s);
    this.renderPartitions(s);
    this.renderWorkers(s);
    this.renderAgents(s);
    this.renderRebalances(s);
  }

  private renderTiles(s: PipelineStatus): void {
    const tiles = tilesOf(s).map((t) => {
      const box = el("div", "tile");
      box.dataset.tile = t.key;
      const v = el("div", `tile-value ${t.level}`.trim(), t.value);
      box.append(el("div", "tile-label", t.label), v, el("div", "tile-sub muted", t.sub));
      return box;
    });
    const b = bufferOf(s);
    const buf = el("div", "tile buffer");
    buf.dataset.tile = "buffer";
    buf.dataset.pct = String(b.pct);
    buf.classList.toggle("spooling", b.spooling.length > 0);
    const bar = el("div", "bar");
    const fillEl = el("div", "bar-fill");
    fillEl.style.width = `${b.pct}%`;
    bar.appendChild(fillEl);
    bar.title = `${b.pct}% full`;
    const sub = el(
      "div",
      "tile-sub muted",
      `${b.pct}% full` + (b.records ? ` · ${plural(b.records, "record")} waiting` : ""),
    );
    buf.append(el("div", "tile-label", "On-disk buffer"), el("div", "tile-value small", b.text), bar, sub);
    const badgeEl = byId("pipe-spooling");
    badgeEl.hidden = b.spooling.length === 0;
    badgeEl.title = b.spooling.length ? `spooling agents: ${b.spooling.join(", ")}` : "";
    byId("pipe-tiles").replaceChildren(...tiles, buf);
  }

  private renderPartitions(s: PipelineStatus): void {
    const known = new Set((s.workers ?? []).map((w) => w.id));
    const rows = partitionRows(s, this.prevLag).map((p) => {
      const tr = el("tr");
      tr.dataset.partition = String(p.partition);
      const lagCls = p.growing ? "c-num hot" : p.lagValue && p.lagValue > 0 ? "c-num warm" : "c-num";
      const lag = td(p.growing ? `▲ ${p.lag}` : p.lag, lagCls, "lag");
      lag.dataset.value = p.lagValue === null ? "" : String(p.lagValue);
      if (p.growing) lag.title = "lag grew since the previous refresh";
      const missing = td(p.missing, p.missingValue > 0 ? "c-num bad" : "c-num", "missing");
      missing.title =
        p.missingValue > 0
          ? "offsets of this partition the workers gave up as missing (kept in the shard: survives restarts)"
          : "no offset missing";
      tr.append(
        td(p.label, "c-num", "partition"),
        td(p.owner, known.has(p.owner) ? "c-mono" : "c-mono muted", "owner"),
        td(p.consumer, "c-num", "consumer"),
        td(p.committed, "c-num", "committed"),
        td(p.highWatermark, "c-num", "high_watermark"),
        lag,
        missing,
      );
      return tr;
    });
    fill(byId("pipe-partitions"), rows, 7, "no partition owned by a live worker");
  }

  private renderWorkers(s: PipelineStatus): void {
    const rows = workerRows(s).map((w) => {
      const tr = el("tr", w.stale ? "stale" : "");
      tr.dataset.id = w.id;
      const id = td("", "c-mono", "id");
      id.append(el("span", "", w.id));
      if (w.stale) id.append(badge("stale", "bad"));
      id.title = `report updated ${w.updated}`;
      const skipped = td(w.skipped, "c-num", "skipped");
      skipped.title = w.skippedWhy;
      const missing = td(w.missing, w.missingValue > 0 ? "c-num bad" : "c-num", "missing");
      missing.title =
        w.missingValue > 0
          ? "offsets the broker no longer had when re-fetched (retention?); see the worker's log"
          : "no offset missing";
      tr.append(
        id,
        td(w.consumers, "c-num", "consumers"),
        td(w.rate, "c-num", "rate"),
        td(w.consumed, "c-num", "consumed"),
        td(w.undecodable, w.undecodableValue > 0 ? "c-num warm" : "c-num", "undecodable"),
        skipped,
        missing,
        td(w.partitions, "c-mono", "partitions"),
      );
      return tr;
    });
    fill(byId("pipe-workers"), rows, 8, "no worker report: start `loglynx worker` on this data directory");
  }

  private renderAgents(s: PipelineStatus): void {
    const rows = agentRows(s).map((a) => {
      const tr = el("tr", a.stale ? "stale" : "");
      tr.dataset.id = a.id;
      const id = td("", "c-mono", "id");
      id.append(el("span", "", a.id));
      if (a.stale) id.append(badge("stale", "bad"));
      id.title = `report updated ${a.updated}`;
      const state = td("", "", "state");
      state.append(badge(a.state, a.state === "spooling" ? "warn" : a.state === "direct" ? "ok" : "bad"));
      tr.append(
        id,
        state,
        td(a.rate, "c-num", "rate"),
        td(a.delivered, "c-num", "delivered"),
        td(a.failures, a.failuresValue > 0 ? "c-num warm" : "c-num", "failures"),
        td(a.inFlight, "c-num", "in_flight"),
        td(a.spool, "c-num", "spool"),
      );
      return tr;
    });
    fill(
      byId("pipe-agents"),
      rows,
      7,
      "no agent report in this data directory (an agent writes it in its own --data-dir; see its /metrics)",
    );
  }

  private renderRebalances(s: PipelineStatus): void {
    const rows = rebalanceRows(s).map((r) => {
      const tr = el("tr");
      const time = td(formatTime(r.atMs), "c-time", "time");
      time.title = ago(r.atMs, s.now_ms);
      const kind = td("", "", "kind");
      kind.append(badge(r.kind, r.kind === "assign" ? "ok" : r.kind === "revoke" ? "info" : "bad"));
      tr.append(
        time,
        td(r.worker, "c-mono", "worker"),
        td(r.consumer, "c-num", "consumer"),
        kind,
        td(r.partitions, "c-mono", "partitions"),
      );
      return tr;
    });
    fill(byId("pipe-rebalances"), rows, 5, "no rebalance yet");
    const total = totalsOf(s).rebalances_total;
    byId("pipe-rebalances-count").textContent = total
      ? `${fmtCount(total)} in total, newest first`
      : "";
  }
}
