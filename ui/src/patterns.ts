// Patterns: the kinds of line behind the events of a query (`GET /api/v1/patterns`), as a page of
// its own and as the "Patterns" tab beside the search results. Pure model (`templateParts`,
// `patternQuery`, `sparkPoints`, `patternRows`, ...; unit tested) + DOM view.

import { ApiError, getJson, offReason, partialText } from "./api";
import { fmtNum } from "./detect";
import { el } from "./dom";
import { scopeOf, type Scope } from "./scope";
import { formatHash, type State } from "./state";
import { formatTime, rangeLabel } from "./time";
import type { PatternInfo, PatternsResponse, SearchResponse } from "./types";

/** Patterns asked for (the API's maximum is 1000). */
export const PATTERN_LIMIT = 200;
/** What the miner writes for a variable part of a line. */
export const VARIABLE = "<*>";

/** A template cut into its fixed text and its variables (`var: true`), in order. */
export function templateParts(template: string): { text: string; var: boolean }[] {
  const out: { text: string; var: boolean }[] = [];
  const pieces = template.split(VARIABLE);
  pieces.forEach((p, i) => {
    if (i > 0) out.push({ text: VARIABLE, var: true });
    if (p) out.push({ text: p, var: false });
  });
  return out;
}

/**
 * The search for a pattern's events: `pattern.id:<id>`, or with the ids the template had before
 * it was refined (older events carry them) `(pattern.id:<id> OR pattern.id:<former>...)`.
 */
export function patternQuery(p: Pick<PatternInfo, "id" | "former">): string {
  const ids = [p.id, ...(p.former ?? []).filter((f) => f !== p.id)];
  if (ids.length === 1) return `pattern.id:${ids[0]}`;
  return `(${ids.map((i) => `pattern.id:${i}`).join(" OR ")})`;
}

/** The points of an SVG polyline drawing `series` in a `w` x `h` box (the peak at the top). */
export function sparkPoints(series: number[], w: number, h: number): string {
  if (series.length === 0) return "";
  const max = Math.max(...series, 1);
  const step = series.length > 1 ? w / (series.length - 1) : 0;
  return series
    .map((v, i) => {
      const x = series.length > 1 ? i * step : w / 2;
      const y = h - 1 - (v / max) * (h - 2);
      return `${+x.toFixed(1)},${+y.toFixed(1)}`;
    })
    .join(" ");
}

/** A share of the events as a percentage ("12.5%", "<0.1%" for a tiny non-zero one). */
export function fmtShare(share: number): string {
  if (!Number.isFinite(share) || share <= 0) return "0%";
  if (share < 0.001) return "<0.1%";
  return `${(share * 100).toFixed(1)}%`;
}

/** The badge of a compared pattern: new, changed or gone ("same" and no comparison: none). */
export function changeBadge(change: string | undefined): string | null {
  return change === "new" || change === "changed" || change === "gone" ? change : null;
}

/** One pattern as the table shows it. */
export interface PatternRow {
  id: string;
  query: string;
  parts: { text: string; var: boolean }[];
  service: string;
  count: string;
  share: string;
  previous: string;
  first: string;
  last: string;
  badge: string | null;
  series: number[];
  example: string;
}

/** The rows of an answer, in its order (most frequent first). */
export function patternRows(r: PatternsResponse): PatternRow[] {
  return r.patterns.map((p) => ({
    id: p.id,
    query: patternQuery(p),
    parts: templateParts(p.template),
    service: p.service ?? "",
    count: fmtNum(p.count),
    share: fmtShare(p.share),
    previous: p.previous_count === undefined ? "" : fmtNum(p.previous_count),
    first: p.first_seen ? formatTime(p.first_seen, false) : "–",
    last: p.last_seen ? formatTime(p.last_seen, false) : "–",
    badge: changeBadge(p.change),
    series: p.series ?? [],
    example: p.example ?? "",
  }));
}

/** The summary line: patterns shown, events, templates known, overflow. */
export function patternsSummary(r: PatternsResponse): string {
  const parts = [`${fmtNum(r.patterns.length)} patterns`, `${fmtNum(r.total)} events`, `${fmtNum(r.templates)} templates known`];
  const over = r.overflow.reduce((n, o) => n + o.lines, 0);
  if (over > 0) parts.push(`${fmtNum(over)} lines over the template cap (${r.overflow.map((o) => o.service).join(", ")})`);
  return parts.join(" · ");
}

const SVG = "http://www.w3.org/2000/svg";

function sparkline(series: number[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", "100");
  svg.setAttribute("height", "20");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.dataset.series = series.join(",");
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", sparkPoints(series, 100, 20));
  svg.appendChild(line);
  return svg;
}

function td(text: string, cls: string, col: string): HTMLTableCellElement {
  const c = el("td", cls, text);
  c.dataset.col = col;
  return c;
}

/**
 * A patterns table with its compare toggle and summary, built inside `host` (the Patterns page
 * and the search's Patterns tab each have one). The compare toggle and a click on a pattern
 * change the URL hash, which the dashboard applies.
 */
export class PatternsView {
  private readonly compare: HTMLInputElement;
  private readonly summary: HTMLElement;
  private readonly range: HTMLElement;
  private readonly off: HTMLElement;
  private readonly partial: HTMLElement;
  private readonly rows: HTMLTableSectionElement;
  private readonly prevHead: HTMLElement;
  private abort: AbortController | null = null;
  private state: State | null = null;

  constructor(
    private readonly host: HTMLElement,
    private readonly showError: (msg: string | null) => void,
  ) {
    const bar = el("div", "patterns-bar");
    const label = el("label", "patterns-compare");
    this.compare = el("input");
    this.compare.type = "checkbox";
    this.compare.dataset.testid = "patterns-compare";
    label.append(this.compare, document.createTextNode(" compare to the previous range"));
    this.summary = el("span", "muted");
    this.summary.dataset.testid = "patterns-summary";
    this.range = el("span", "muted");
    bar.append(label, this.summary, this.range);
    this.off = el("div", "net-off");
    this.off.dataset.testid = "patterns-off";
    this.off.hidden = true;
    // As on the search page: a partial answer through a search root says what it lacks.
    this.partial = el("div", "warning");
    this.partial.dataset.testid = "patterns-partial";
    this.partial.setAttribute("role", "status");
    this.partial.hidden = true;
    const table = el("table", "net-table patterns-table");
    const head = el("tr");
    this.prevHead = el("th", "c-num", "Previous");
    head.append(
      el("th", "", "Template"),
      el("th", "", "Service"),
      el("th", "c-num", "Count"),
      this.prevHead,
      el("th", "c-num", "Share"),
      el("th", "", "Over the range"),
      el("th", "c-time", "First seen"),
      el("th", "c-time", "Last seen"),
    );
    table.createTHead().appendChild(head);
    this.rows = table.createTBody();
    this.rows.dataset.testid = "patterns-rows";
    this.host.append(bar, this.off, this.partial, table);
    this.compare.addEventListener("change", () => {
      if (!this.state) return;
      location.hash = formatHash({ ...this.state, compare: this.compare.checked ? "previous" : undefined });
    });
  }

  /** Stops an answer in flight from being shown. */
  stop(): void {
    this.abort?.abort();
    this.abort = null;
  }

  /** Loads the patterns of the state's query and range. */
  async run(s: State): Promise<void> {
    this.stop();
    const abort = new AbortController();
    this.abort = abort;
    this.state = s;
    this.compare.checked = s.compare === "previous";
    this.host.dataset.compare = String(this.compare.checked);
    this.prevHead.hidden = !this.compare.checked;
    let scope: Scope;
    try {
      scope = scopeOf(s, Date.now());
    } catch (e) {
      this.showError((e as Error).message);
      return;
    }
    this.range.textContent = `· ${rangeLabel(s.start, s.end)}`;
    delete this.host.dataset.ready;
    try {
      const range = await this.rangeOf(scope, abort.signal);
      const r = await getJson<PatternsResponse>(
        "patterns",
        { ...range, limit: PATTERN_LIMIT, compare: this.compare.checked ? "previous" : undefined },
        abort.signal,
      );
      if (abort.signal.aborted) return;
      this.off.hidden = true;
      this.render(r, s);
    } catch (e) {
      if (abort.signal.aborted || (e as Error).name === "AbortError") return;
      this.partial.hidden = true;
      const off = offReason(e);
      if (off) {
        this.off.textContent = off;
        this.off.hidden = false;
        this.rows.replaceChildren();
        this.summary.textContent = "";
      } else {
        this.showError(e instanceof ApiError ? e.reason : (e as Error).message);
      }
    }
    this.host.dataset.ready = "true";
  }

  /**
   * The range to ask for. "All time" has no start, and the API's default is the last 24 hours:
   * start at the oldest matching event instead.
   */
  private async rangeOf(scope: Scope, signal: AbortSignal): Promise<Scope> {
    if (scope.start) return scope;
    const end = scope.end ?? new Date().toISOString();
    const oldest = await getJson<SearchResponse>("search", { q: scope.q, end, limit: 1, sort: "asc" }, signal);
    const t = oldest.hits[0]?.["@timestamp"];
    if (typeof t !== "string" || Date.parse(t) >= Date.parse(end)) return { ...scope, end };
    return { ...scope, start: t, end };
  }

  private render(r: PatternsResponse, s: State): void {
    this.summary.textContent = patternsSummary(r);
    const partial = partialText(r.missing, "the counts");
    this.partial.hidden = partial === null;
    this.partial.textContent = partial ?? "";
    this.host.dataset.total = String(r.total);
    const trs = patternRows(r).map((p) => {
      const tr = el("tr", "pattern-row");
      tr.dataset.id = p.id;
      tr.dataset.query = p.query;
      tr.title = p.example ? `e.g. ${p.example}\nclick: search ${p.query}` : `click: search ${p.query}`;
      const tpl = td("", "c-mono pattern-template", "template");
      if (p.badge) {
        const b = el("span", `badge change-${p.badge}`, p.badge);
        b.dataset.testid = "pattern-badge";
        tpl.append(b, document.createTextNode(" "));
      }
      for (const part of p.parts) tpl.append(part.var ? el("span", "var", part.text) : document.createTextNode(part.text));
      const prev = td(p.previous, "c-num", "previous");
      prev.hidden = !this.compare.checked;
      const spark = td("", "c-spark", "series");
      spark.appendChild(sparkline(p.series));
      tr.append(
        tpl,
        td(p.service, "c-mono", "service"),
        td(p.count, "c-num", "count"),
        prev,
        td(p.share, "c-num", "share"),
        spark,
        td(p.first, "c-time", "first"),
        td(p.last, "c-time", "last"),
      );
      tr.addEventListener("click", () => {
        location.hash = formatHash({ ...s, q: p.query, view: "search", tab: undefined, compare: undefined });
      });
      return tr;
    });
    this.rows.replaceChildren(...trs);
    if (trs.length === 0) {
      const tr = el("tr", "empty-row");
      const c = el("td", "muted", "no patterns: no event matches in this range");
      c.colSpan = 8;
      tr.appendChild(c);
      this.rows.appendChild(tr);
    }
  }
}
