// The search view: total, histogram, results table with "load more", field sidebar, and the
// Patterns tab beside the results (the same query and range, see patterns.ts).

import { ApiError, getJson, partialText } from "./api";
import { byId } from "./dom";
import { eventRow, makeExpandable, type FilterHandler } from "./events";
import { FieldSidebar } from "./fields";
import { Histogram, type ZoomHandler } from "./histogram";
import { PatternsView } from "./patterns";
import { scopeOf, type Scope } from "./scope";
import { formatHash, type State } from "./state";
import { rangeLabel } from "./time";
import type { HistogramResponse, Missing, SearchResponse } from "./types";

/** Hits per page ("load more" fetches the next page). */
export const PAGE_SIZE = 100;
const BUCKETS = 60;

/** Controller of the search view. */
export class SearchView {
  private readonly histogram: Histogram;
  private readonly sidebar: FieldSidebar;
  private readonly results = byId("results");
  private readonly total = byId("total");
  private readonly took = byId("took");
  private readonly rangeText = byId("range-label");
  private readonly more = byId<HTMLButtonElement>("load-more");
  private readonly shown = byId("shown");
  private readonly eventsBox = byId("search-events");
  private readonly patternsBox = byId("search-patterns");
  private readonly patterns: PatternsView;
  private state: State | null = null;
  private abort: AbortController | null = null;
  private scope: Scope = { q: "" };
  private count = 0;
  private totalHits = 0;

  constructor(
    private readonly showError: (msg: string | null) => void,
    onZoom: ZoomHandler,
    private readonly onFilter: FilterHandler,
  ) {
    this.histogram = new Histogram(byId("histogram"), onZoom);
    this.sidebar = new FieldSidebar(byId("fields-list"), onFilter);
    this.more.addEventListener("click", () => void this.loadMore());
    this.patterns = new PatternsView(this.patternsBox, showError);
    for (const tab of ["events", "patterns"] as const) {
      byId(`search-tab-${tab}`).addEventListener("click", (ev) => {
        ev.preventDefault();
        if (this.state) location.hash = formatHash({ ...this.state, tab: tab === "patterns" ? tab : undefined });
      });
    }
  }

  /** Shows the events or the Patterns tab; returns whether the patterns are shown. */
  private showTab(s: State): boolean {
    const patterns = s.tab === "patterns";
    this.eventsBox.hidden = patterns;
    this.patternsBox.hidden = !patterns;
    byId("search-tab-events").classList.toggle("active", !patterns);
    byId("search-tab-patterns").classList.toggle("active", patterns);
    if (!patterns) this.patterns.stop();
    return patterns;
  }

  /** Runs the state's query: total + first page, histogram and field values, in parallel. */
  async run(s: State): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const signal = abort.signal;
    let scope: Scope;
    try {
      scope = scopeOf(s, Date.now());
    } catch (e) {
      this.showError((e as Error).message);
      return;
    }
    this.scope = scope;
    this.state = s;
    this.showError(null);
    if (this.showTab(s)) void this.patterns.run(s);
    this.rangeText.textContent = `· ${rangeLabel(s.start, s.end)}`;
    document.body.dataset.loading = "true";
    this.total.classList.add("stale");
    this.histogram.loading();
    const search = getJson<SearchResponse>(
      "search",
      { ...scope, limit: PAGE_SIZE, offset: 0, sort: "desc" },
      signal,
    );
    void this.sidebar.refresh(scope, search.then((r) => r.hits));
    const hist = getJson<HistogramResponse>("histogram", { ...scope, buckets: BUCKETS }, signal);
    const [sr, hr] = await Promise.allSettled([search, hist]);
    if (signal.aborted) return;
    delete document.body.dataset.loading;
    this.total.classList.remove("stale");

    if (sr.status === "fulfilled") {
      const r = sr.value;
      this.totalHits = r.total;
      this.total.textContent = `${r.total} ${r.total === 1 ? "event" : "events"}`;
      this.total.dataset.total = String(r.total);
      this.took.textContent = `· ${r.took_ms} ms`;
      showPartial(r.missing);
      this.results.replaceChildren();
      this.count = 0;
      this.append(r.hits);
      this.results.closest(".content")?.scrollTo({ top: 0 });
    } else {
      this.showError(reasonOf(sr.reason));
      showPartial(undefined);
      this.total.textContent = "–";
      delete this.total.dataset.total;
      this.took.textContent = "";
      this.results.replaceChildren();
      this.count = 0;
      this.totalHits = 0;
      this.updateMore();
    }
    if (hr.status === "fulfilled") {
      this.histogram.render(hr.value);
    } else {
      this.histogram.clear();
      if (sr.status === "fulfilled") this.showError(`histogram: ${reasonOf(hr.reason)}`);
    }
    document.body.dataset.ready = "true";
  }

  private append(hits: SearchResponse["hits"]): void {
    const frag = document.createDocumentFragment();
    for (const e of hits) {
      const tr = eventRow(e, "hit");
      makeExpandable(tr, e, this.onFilter);
      frag.appendChild(tr);
    }
    this.results.appendChild(frag);
    this.count += hits.length;
    this.updateMore();
  }

  private updateMore(): void {
    this.more.hidden = this.count >= this.totalHits;
    this.shown.textContent = this.totalHits ? `showing ${this.count} of ${this.totalHits}` : "";
    this.results.dataset.rows = String(this.count);
  }

  private async loadMore(): Promise<void> {
    const signal = this.abort?.signal;
    this.more.disabled = true;
    try {
      const r = await getJson<SearchResponse>(
        "search",
        { ...this.scope, limit: PAGE_SIZE, offset: this.count, sort: "desc" },
        signal,
      );
      if (signal?.aborted) return;
      this.append(r.hits);
    } catch (e) {
      if (!signal?.aborted) this.showError(reasonOf(e));
    } finally {
      this.more.disabled = false;
    }
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof ApiError) return e.reason;
  return (e as Error)?.message ?? String(e);
}

/** The warning over the results when some leaves did not answer (see partialText). */
function showPartial(missing: Missing[] | undefined): void {
  const el = byId("partial");
  const text = partialText(missing, "the total and the results");
  el.hidden = text === null;
  el.textContent = text ?? "";
}
