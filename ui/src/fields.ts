// The field sidebar: fields of the index with their top 5 values for the current query.

import { ApiError, getJson } from "./api";
import { el } from "./dom";
import type { FilterHandler } from "./events";
import type { FieldInfo, LogEvent, TermsResponse } from "./types";

/** Fields never aggregated: unique per event or free text. */
const SKIP = new Set(["@timestamp", "event.ingested", "event.id", "event.original", "message"]);
/** Fields opened automatically, in this order; then labels.*, then the rest collapsed. */
const PRIORITY = ["log.level", "host.name", "service.name", "process.name", "event.dataset", "log.flags"];
/** How many fields (present in the sampled hits) fetch their top values without being clicked. */
const AUTO_OPEN = 8;
const TOP = 5;

/** The query a terms request runs with (resolved absolute times). */
export interface TermsScope {
  q: string;
  start?: string;
  end?: string;
}

/** Kind of every known field, filled by the sidebar, used to quote values correctly. */
export const fieldKinds = new Map<string, string>();

function aggregatable(f: FieldInfo): boolean {
  return !SKIP.has(f.name) && !/^(text|date|timestamp)$/i.test(f.kind);
}

function rank(name: string): number {
  const i = PRIORITY.indexOf(name);
  if (i >= 0) return i;
  return name.startsWith("labels.") ? PRIORITY.length : PRIORITY.length + 1;
}

/** Owns #fields: lists fields and, per open field, its top values as clickable filters. */
export class FieldSidebar {
  private open = new Set<string>();
  private closed = new Set<string>();
  private scope: TermsScope = { q: "" };
  private abort: AbortController | null = null;

  constructor(
    private readonly list: HTMLElement,
    private readonly onFilter: FilterHandler,
  ) {}

  /**
   * Reloads the field list and the top values of open fields for a new query. `sample` (the
   * first page of hits) adds fields the schema list lacks (`labels.*`) and tells which fields
   * the matching events have: those come first, the others are listed as empty.
   */
  async refresh(scope: TermsScope, sample: Promise<LogEvent[]>): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.scope = scope;
    let fields: FieldInfo[];
    let hits: LogEvent[];
    try {
      [fields, hits] = await Promise.all([
        getJson<FieldInfo[]>("fields", {}, abort.signal),
        sample.catch(() => [] as LogEvent[]),
      ]);
    } catch (e) {
      if (abort.signal.aborted) return;
      this.list.replaceChildren(el("div", "muted pad", `fields unavailable: ${(e as Error).message}`));
      return;
    }
    if (abort.signal.aborted) return;
    for (const f of fields) fieldKinds.set(f.name, f.kind);
    const present = new Set<string>();
    for (const h of hits) for (const k of Object.keys(h)) present.add(k);
    const all = [...fields];
    const listed = new Set(fields.map((f) => f.name));
    for (const name of present) {
      if (listed.has(name)) continue;
      const kind = typeof hits.find((h) => name in h)?.[name] === "number" ? "numeric" : "keyword";
      fieldKinds.set(name, kind);
      all.push({ name, kind });
    }
    const byRank = (a: FieldInfo, b: FieldInfo) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name);
    const candidates = all.filter(aggregatable);
    const withValues = candidates.filter((f) => present.has(f.name)).sort(byRank);
    const empty = candidates.filter((f) => !present.has(f.name)).sort(byRank);
    const blocks: HTMLElement[] = [];
    withValues.forEach((f, i) => {
      if (i < AUTO_OPEN && !this.closed.has(f.name)) this.open.add(f.name);
      blocks.push(this.block(f, abort.signal));
    });
    if (withValues.length === 0) blocks.push(el("div", "muted pad", "no matching events"));
    if (empty.length) {
      const more = el("details", "empty-fields");
      more.appendChild(el("summary", "", `${empty.length} fields without values in these hits`));
      for (const f of empty) more.appendChild(this.block(f, abort.signal));
      blocks.push(more);
    }
    this.list.replaceChildren(...blocks);
  }

  private block(f: FieldInfo, signal: AbortSignal): HTMLElement {
    const box = el("div", "field");
    box.dataset.field = f.name;
    box.dataset.testid = "field";
    const head = el("button", "field-name");
    head.type = "button";
    head.append(el("span", "caret"), el("span", "", f.name), el("span", "kind", f.kind));
    const values = el("div", "field-values");
    box.append(head, values);
    const isOpen = this.open.has(f.name);
    box.classList.toggle("open", isOpen);
    if (isOpen) void this.loadValues(f, values, signal);
    head.addEventListener("click", () => {
      if (box.classList.toggle("open")) {
        this.open.add(f.name);
        this.closed.delete(f.name);
        void this.loadValues(f, values, this.abort?.signal ?? signal);
      } else {
        this.open.delete(f.name);
        this.closed.add(f.name);
      }
    });
    return box;
  }

  private async loadValues(f: FieldInfo, into: HTMLElement, signal: AbortSignal): Promise<void> {
    into.replaceChildren(el("div", "muted pad", "…"));
    let r: TermsResponse;
    try {
      r = await getJson<TermsResponse>(
        "terms",
        { q: this.scope.q, start: this.scope.start, end: this.scope.end, field: f.name, size: TOP },
        signal,
      );
    } catch (e) {
      if (signal.aborted) return;
      const reason = e instanceof ApiError ? e.reason : (e as Error).message;
      into.replaceChildren(el("div", "muted pad", reason));
      return;
    }
    if (signal.aborted) return;
    const total = r.buckets.reduce((s, b) => s + b.count, 0) + r.other;
    if (r.buckets.length === 0) {
      into.replaceChildren(el("div", "muted pad", "no values"));
      return;
    }
    into.replaceChildren(
      ...r.buckets.map((b) => {
        const row = el("div", "value-row");
        const btn = el("button", "value");
        btn.type = "button";
        btn.dataset.testid = "field-value";
        btn.dataset.field = f.name;
        btn.dataset.value = b.value;
        btn.dataset.count = String(b.count);
        btn.title = `filter for ${f.name}: ${b.value}`;
        const pct = total > 0 ? (100 * b.count) / total : 0;
        btn.style.setProperty("--pct", `${pct.toFixed(1)}%`);
        btn.append(el("span", "v", b.value === "" ? "(empty)" : b.value), el("span", "n", String(b.count)));
        btn.addEventListener("click", () => this.onFilter(f.name, b.value, false));
        const out = el("button", "mini", "−");
        out.type = "button";
        out.title = `filter out ${f.name}: ${b.value}`;
        out.addEventListener("click", () => this.onFilter(f.name, b.value, true));
        row.append(btn, out);
        return row;
      }),
    );
  }
}
