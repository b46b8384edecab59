// The Sources page: the header structure the parse stage learned for each source
// (`GET /api/v1/sources/learned`): per source its layout (the fields in order, ending where the
// message starts), how its time is read and in which zone, the lines the structure read and how
// often it was learned again, and a sample line with the fields it reads highlighted; beside
// them, what the configuration sets instead of inference (`files.timezone`, `[[files.zones]]`,
// `[[files.layouts]]`). Refreshes every 10 s while the page is visible.
//
// The model functions (`sourceRows`, `overrideLines`, `sourcesSummary`) are pure and unit
// tested; `SourcesView` turns them into DOM.

import { ApiError, getJson } from "./api";
import { fmtNum } from "./detect";
import { byId, el } from "./dom";
import type { LearnedOverrides, LearnedResponse, LearnedSource, Segment, StreamLayout } from "./types";

const POLL_MS = 10_000;

/** One source as the page shows it. */
export interface SourceRow {
  kind: string;
  /** The file's path, the syslog program or the HTTP endpoint. */
  source: string;
  /** `on web-1`, `from 10.0.0.7 (host web-1)`, ... */
  origin: string;
  /** The fields in order, ending with `message`. */
  fields: string[];
  /** How the time is read: its strftime format, or a description. */
  time: string;
  /** `Europe/Paris (files.zones)`. */
  zone: string;
  matched: string;
  relearned: string;
  ambiguous: boolean;
  segments: Segment[];
  structure: string;
}

/** Where a source's lines come from, in words. */
export function originOf(s: LearnedSource): string {
  const host = s.host ? `host ${s.host}` : "";
  switch (s.kind) {
    case "syslog":
      return [s.detail ? `from ${s.detail}` : "", host].filter(Boolean).join(", ");
    case "http_json":
      return [s.detail ? `stream ${s.detail}` : "", host].filter(Boolean).join(", ");
    default:
      return host;
  }
}

/** How the structure reads its time. */
export function timeOf(s: LearnedSource): string {
  if (s.timestamp_format) return s.timestamp_format;
  if (!s.fields.includes("time")) return "none in the message (the header's time is kept)";
  if (s.structure.includes("time(day-first)")) return "any known shape, day before month";
  return "any known shape";
}

/** The rows of the page, in the server's order (most recently used first). */
export function sourceRows(r: LearnedResponse): SourceRow[] {
  return (r.sources ?? []).map((s) => ({
    kind: s.kind,
    source: s.source,
    origin: originOf(s),
    fields: s.fields ?? [],
    time: timeOf(s),
    zone: `${s.zone} (${s.zone_from === "fixed" ? "syslog and HTTP times without a zone are UTC, unless a [[syslog.layouts]] or [[http.layouts]] entry gives a zone" : s.zone_from})`,
    matched: fmtNum(s.matched ?? 0),
    relearned: fmtNum(s.relearned ?? 0),
    ambiguous: !!s.ambiguous_date,
    segments: s.segments ?? [],
    structure: s.structure,
  }));
}

/** What the configuration sets instead of inference, as the config file spells it. */
export function overrideLines(o: LearnedOverrides | undefined): string[] {
  if (!o) return [];
  const list = (v: string[]) => `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
  const out = [`[files] timezone = ${JSON.stringify(o.timezone)}`];
  for (const z of o.zones ?? []) out.push(`[[files.zones]] paths = ${list(z.paths)}, timezone = ${JSON.stringify(z.timezone)}`);
  for (const l of o.layouts ?? []) {
    const parts = [`paths = ${list(l.paths)}`];
    if (l.pattern) parts.push(`pattern = ${JSON.stringify(l.pattern)}`);
    if (l.timestamp_format) parts.push(`timestamp_format = ${JSON.stringify(l.timestamp_format)}`);
    out.push(`[[files.layouts]] ${parts.join(", ")}`);
  }
  const streams: [string, StreamLayout[] | undefined][] = [
    ["syslog", o.syslog_layouts],
    ["http", o.http_layouts],
  ];
  for (const [section, entries] of streams) {
    for (const l of entries ?? []) {
      const parts: string[] = [];
      for (const k of ["hosts", "programs", "streams"] as const) {
        const v = l[k];
        if (v && v.length) parts.push(`${k} = ${list(v)}`);
      }
      for (const k of ["timezone", "pattern", "timestamp_format"] as const) {
        const v = l[k];
        if (v) parts.push(`${k} = ${JSON.stringify(v)}`);
      }
      out.push(`[[${section}.layouts]] ${parts.join(", ")}`);
    }
  }
  return out;
}

/** The line above the table. */
export function sourcesSummary(r: LearnedResponse): string {
  const n = (r.sources ?? []).length;
  const relearned = (r.sources ?? []).reduce((a, s) => a + (s.relearned ?? 0), 0);
  const o = r.overrides;
  const layouts = (o?.layouts ?? []).length + (o?.syslog_layouts ?? []).length + (o?.http_layouts ?? []).length;
  return [
    `${fmtNum(n)} source${n === 1 ? "" : "s"} with a learned structure`,
    `${fmtNum(relearned)} re-learning${relearned === 1 ? "" : "s"}`,
    `${fmtNum(layouts)} configured layout${layouts === 1 ? "" : "s"}`,
  ].join("  ·  ");
}

/** The page. */
export class SourcesView {
  private active = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ctl: AbortController | null = null;
  private readonly rows = byId("sources-rows");
  private readonly off = byId("sources-off");

  constructor(private readonly showError: (msg: string | null) => void) {
    document.addEventListener("visibilitychange", () => {
      if (this.active && !document.hidden && this.timer === null) void this.tick();
    });
  }

  /** Stops refreshing (the view was left). */
  stop(): void {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ctl?.abort();
  }

  async run(): Promise<void> {
    this.stop();
    this.active = true;
    this.showError(null);
    await this.tick();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.active) return;
    await this.load();
    if (this.active && !document.hidden) this.timer = setTimeout(() => void this.tick(), POLL_MS);
  }

  private async load(): Promise<void> {
    this.ctl?.abort();
    const ctl = new AbortController();
    this.ctl = ctl;
    try {
      const r = await getJson<LearnedResponse>("sources/learned", {}, ctl.signal);
      this.off.hidden = true;
      this.render(r);
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      if (e instanceof ApiError && e.status === 404) {
        this.off.textContent = e.reason;
        this.off.hidden = false;
        this.rows.replaceChildren();
        return;
      }
      this.showError(`sources: ${(e as Error).message}`);
    }
  }

  private render(r: LearnedResponse): void {
    byId("sources-summary").textContent = sourcesSummary(r);
    const rows = sourceRows(r);
    this.rows.replaceChildren(...rows.map((row) => this.card(row)));
    if (rows.length === 0) {
      this.rows.append(
        el("p", "muted", "no source has a learned structure yet: sources whose lines format detection does not read learn one from their first lines"),
      );
    }
    const lines = overrideLines(r.overrides);
    byId("sources-overrides").replaceChildren(...lines.map((l) => el("li", "", l)));
  }

  private card(row: SourceRow): HTMLElement {
    const card = el("article", "source-card");
    card.dataset.kind = row.kind;
    card.dataset.source = row.source;
    const head = el("h3");
    head.append(el("span", "badge", row.kind), " ", el("code", "", row.source));
    if (row.origin) head.append(" ", el("span", "muted", row.origin));
    card.append(head);
    const dl = el("dl", "source-facts");
    const fact = (name: string, key: string, value: string | Node) => {
      const dd = el("dd");
      dd.dataset.fact = key;
      dd.append(value);
      dl.append(el("dt", "", name), dd);
    };
    const layout = el("span", "layout");
    for (const f of row.fields) layout.append(el("span", `fld fld-${f}`, f));
    fact("Layout", "layout", layout);
    fact("Time", "time", row.time + (row.ambiguous ? " (day / month order guessed: all days and months ≤ 12)" : ""));
    fact("Zone", "zone", row.zone);
    fact("Lines read", "matched", row.matched);
    fact("Learned again", "relearned", row.relearned);
    card.append(dl);
    const sample = el("pre", "source-sample");
    if (row.segments.length === 0) {
      sample.append(el("span", "muted", "no sample line kept"));
    }
    for (const s of row.segments) {
      if (s.field) {
        const span = el("span", `fld fld-${s.field}`, s.text);
        span.dataset.field = s.field;
        span.title = s.field;
        sample.append(span);
      } else {
        sample.append(s.text);
      }
    }
    card.append(sample);
    return card;
  }
}
