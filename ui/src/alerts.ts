// The Alerts page: the alerts raised by the detection rules (`GET /api/v1/alerts`), filtered by
// status, rule, words and the page's time range; a detail panel with the rule (its author too:
// SigmaHQ rules' licence requires it), the group, the status history, the evidence events (a
// histogram and their rows) and the Acknowledge / Close / Reopen actions. The list refreshes
// every 10 s while the page is visible. `AlertBadge` keeps the count of open alerts in the nav.
//
// The model functions (`alertParams`, `actionsFor`, `evidenceQuery`, `evidenceOf`,
// `timelineOf`, ...) are pure and unit tested; `AlertsView` turns them into DOM.

import { ApiError, getJson, offReason, postJson } from "./api";
import { POLL_MS, alertRows, alertTableRow, fillRows, fmtNum, groupText, levelBadge, statusBadge } from "./detect";
import { byId, el, valueText } from "./dom";
import { eventRow, makeExpandable, type FilterHandler } from "./events";
import { Histogram } from "./histogram";
import { quote } from "./query";
import { scopeOf, type Scope } from "./scope";
import type { State } from "./state";
import { formatTime, rangeLabel } from "./time";
import type {
  Alert,
  AlertsResponse,
  AlertStatus,
  HistogramResponse,
  LogEvent,
  NotificationsResponse,
  PendingNotification,
  RulesResponse,
  SearchResponse,
} from "./types";

/** Alerts per page ("Show more" asks for one more page). */
export const PAGE = 200;
/** The status filter's choices; `all` sends no status. */
export const STATUS_CHOICES = ["open", "acknowledged", "closed", "resolved", "all"] as const;
/** Most events fetched for an alert's evidence (the search API's limit). */
export const EVIDENCE_LIMIT = 10_000;
/** Where the "by" of the actions is remembered. */
const BY_KEY = "loglynx.alerts.by";
export const DEFAULT_BY = "dashboard";

/** The status filter of a state: one of `STATUS_CHOICES`, `open` when absent or unknown. */
export function statusOf(s: Pick<State, "status">): string {
  const v = s.status ?? "";
  return (STATUS_CHOICES as readonly string[]).includes(v) ? v : "open";
}

/** The query parameters of `GET /api/v1/alerts` for a state (its range resolved in `scope`). */
export function alertParams(
  s: Pick<State, "status" | "rule" | "text">,
  scope: Pick<Scope, "start" | "end">,
  limit: number,
): Record<string, string | number | undefined> {
  const status = statusOf(s);
  return {
    status: status === "all" ? undefined : status,
    rule: s.rule?.trim() || undefined,
    q: s.text?.trim() || undefined,
    start: scope.start,
    end: scope.end,
    limit,
  };
}

/** An action on an alert: its path segment and button label. */
export interface AlertAction {
  action: "ack" | "close" | "reopen";
  label: string;
}

/** The actions that change an alert's status: open -> ack/close, acknowledged -> close/reopen, closed -> reopen. */
export function actionsFor(status: AlertStatus | string): AlertAction[] {
  const ack: AlertAction = { action: "ack", label: "Acknowledge" };
  const close: AlertAction = { action: "close", label: "Close" };
  const reopen: AlertAction = { action: "reopen", label: "Reopen" };
  if (status === "open") return [ack, close];
  if (status === "acknowledged") return [close, reopen];
  return [reopen];
}

/** The body of an action: `by` and `comment` when given (the server defaults `by` to "api"). */
export function changeBody(by: string, comment: string): { by?: string; comment?: string } {
  const b: { by?: string; comment?: string } = {};
  if (by.trim()) b.by = by.trim();
  if (comment.trim()) b.comment = comment.trim();
  return b;
}

/**
 * The search query finding an alert's evidence events: the rule's id (events carry the ids of
 * the detection rules they match) and the group's values. A correlation's evidence are events of
 * the rules it correlates, which carry their own ids, not the correlation's: `rule.id:*` then
 * (and for a rule no longer loaded, whose kind is unknown). `evidenceOf` keeps the events whose
 * `event.id` the alert names.
 */
export function evidenceQuery(a: Pick<Alert, "rule" | "group">, kind?: string): string {
  const parts = [kind === "detection" ? `rule.id:${quote(a.rule.id)}` : "rule.id:*"];
  for (const k of Object.keys(a.group ?? {}).sort()) {
    const v = a.group[k];
    // An empty value: the events lack the field; the evidence ids still select them.
    if (v !== "" && v !== undefined && v !== null) parts.push(`${k}:${quote(String(v))}`);
  }
  return parts.join(" AND ");
}

/** The time range of an alert's events: [first_seen, last_seen + 1 s) (the end is exclusive). */
export function evidenceRange(a: Pick<Alert, "first_seen" | "last_seen">): { start: string; end: string } {
  const first = Date.parse(a.first_seen);
  const last = Date.parse(a.last_seen);
  return {
    start: new Date(first).toISOString(),
    end: new Date(Math.max(first, last) + 1000).toISOString(),
  };
}

/** Of the events found, those the alert names as evidence, oldest first. */
export function evidenceOf(hits: LogEvent[], a: Pick<Alert, "evidence">): LogEvent[] {
  const ids = new Set(a.evidence ?? []);
  const seen = new Set<string>();
  const kept = hits.filter((h) => {
    const id = valueText(h["event.id"]);
    if (!ids.has(id) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const t = (h: LogEvent) => Date.parse(valueText(h["@timestamp"]));
  return kept.sort((x, y) => t(x) - t(y));
}

/** Bucket widths of the evidence timeline, smallest first. */
const STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
);

/**
 * The evidence timeline as a histogram answer (what `Histogram` draws): buckets of a round width
 * (1 s .. 1 d, then whole days) over [startMs, endMs), at most `maxBuckets` of them, aligned to
 * the width; each event counted in the bucket of its `@timestamp`.
 */
export function timelineOf(events: LogEvent[], startMs: number, endMs: number, maxBuckets = 60): HistogramResponse {
  const span = Math.max(1000, endMs - startMs);
  let step = STEPS_MS.find((s) => Math.ceil(span / s) <= maxBuckets);
  if (step === undefined) step = Math.ceil(span / maxBuckets / 86_400_000) * 86_400_000;
  const first = Math.floor(startMs / step) * step;
  const n = Math.max(1, Math.ceil((startMs + span - first) / step));
  const counts = new Array<number>(n).fill(0);
  for (const e of events) {
    const t = Date.parse(valueText(e["@timestamp"]));
    if (Number.isNaN(t)) continue;
    const i = Math.floor((t - first) / step);
    if (i >= 0 && i < n) counts[i] += 1;
  }
  return {
    interval_ms: step,
    buckets: counts.map((count, i) => ({ start: new Date(first + i * step).toISOString(), count })),
    total: counts.reduce((a, b) => a + b, 0),
    took_ms: 0,
  };
}

/** The note under the evidence: how many of the alert's events were found and shown. */
export function evidenceNote(found: number, a: Pick<Alert, "count" | "evidence">, searched: number): string {
  const kept = (a.evidence ?? []).length;
  const parts = [`${fmtNum(found)} of ${fmtNum(a.count)} events`];
  if (kept < a.count) parts.push(`the alert keeps the ids of the first ${fmtNum(kept)}`);
  if (found < kept) {
    parts.push(
      searched >= EVIDENCE_LIMIT
        ? `more than ${fmtNum(EVIDENCE_LIMIT)} candidates in the range: narrow it in Search`
        : `${fmtNum(kept - found)} not in the store (deleted by retention?)`,
    );
  }
  return parts.join(" · ");
}

/** One line of an alert's notification state: a delivery made or pending. */
export interface NotifiedLine {
  /** `webhook`, `syslog`, or `webhook:resolved`... */
  delivery: string;
  state: "delivered" | "pending" | "failing";
  text: string;
}

/**
 * Whether and when an alert was notified, per channel it was to be notified on (and per
 * resolution): delivered (when), pending (not tried yet) or failing (attempts, last error, next
 * try), from the alert and the pending notifications of `GET /api/v1/notifications`.
 */
export function notifiedLines(
  a: Pick<Alert, "id" | "notify" | "notified" | "notified_at">,
  pending: PendingNotification[],
): NotifiedLine[] {
  const out: NotifiedLine[] = [];
  const done = new Set(a.notified ?? []);
  const mine = pending.filter((p) => p.alert === a.id);
  const deliveries = new Set<string>([...(a.notify ?? []), ...done]);
  for (const p of mine) deliveries.add(p.kind === "resolved" ? `${p.channel}:resolved` : p.channel);
  for (const d of [...deliveries].sort()) {
    const [channel, kind] = d.split(":");
    const what = kind === "resolved" ? `${channel} (resolution)` : channel;
    if (done.has(d)) {
      const at = a.notified_at?.[d];
      out.push({ delivery: d, state: "delivered", text: `${what}: delivered${at ? ` ${formatTime(at, false)}` : ""}` });
      continue;
    }
    const p = mine.find((x) => x.channel === channel && (x.kind === "resolved") === (kind === "resolved"));
    if (p && p.attempts > 0) {
      out.push({
        delivery: d,
        state: "failing",
        text:
          `${what}: not delivered, ${p.attempts} failed attempt${p.attempts === 1 ? "" : "s"}` +
          `${p.last_error ? `: ${p.last_error}` : ""}; next try ${formatTime(p.next_at, false)}`,
      });
    } else if (kind !== "resolved") {
      out.push({ delivery: d, state: "pending", text: `${what}: pending` });
    }
  }
  return out;
}

/** The remembered "by" of the actions. */
function rememberedBy(): string {
  try {
    return localStorage.getItem(BY_KEY) || DEFAULT_BY;
  } catch {
    return DEFAULT_BY;
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof ApiError) return e.reason;
  return (e as Error)?.message ?? String(e);
}

function isAbort(e: unknown): boolean {
  return (e as Error)?.name === "AbortError";
}

/** The count of open alerts in the nav, refreshed every 10 s while the page is visible. */
export class AlertBadge {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly badge = byId("alerts-badge");

  constructor() {
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.timer === null) void this.refresh();
    });
  }

  /** Counts the open alerts now and schedules the next count. */
  async refresh(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      const r = await getJson<AlertsResponse>("alerts", { status: "open", limit: 0 });
      this.badge.textContent = r.total > 999 ? "999+" : String(r.total);
      this.badge.dataset.count = String(r.total);
      this.badge.hidden = r.total === 0;
      this.badge.title = `${fmtNum(r.total)} open alert${r.total === 1 ? "" : "s"}`;
    } catch (e) {
      // Detection off, or the server is down (the status in the top bar says so).
      this.badge.hidden = true;
      this.badge.dataset.count = "";
      this.badge.title = reasonOf(e);
    }
    if (this.timer === null && !document.hidden) this.timer = setTimeout(() => void this.refresh(), POLL_MS);
  }
}

/** Changes of the page's filters or selection (main records them in the URL hash). */
export type AlertsNavigate = (patch: Partial<Pick<State, "status" | "rule" | "text" | "alert">>) => void;
/** Opens Search with a query over a range (epoch ms). */
export type OpenSearch = (q: string, startMs: number, endMs: number) => void;

/** The Alerts view; `run(state)` loads the list (and the selected alert) and keeps it fresh. */
export class AlertsView {
  private active = false;
  private state: State | null = null;
  private limit = PAGE;
  private listCtl: AbortController | null = null;
  private detailCtl: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listKey = "";
  private shown: Alert | null = null;
  private kinds: Map<string, string> | null = null;
  private evidence: { q: string; startMs: number; endMs: number } | null = null;
  private readonly page = byId("alerts");
  private readonly rows = byId("alerts-rows");
  private readonly detail = byId("alert-detail");
  private readonly statusSel = byId<HTMLSelectElement>("alerts-status");
  private readonly ruleInput = byId<HTMLInputElement>("alerts-rule");
  private readonly textInput = byId<HTMLInputElement>("alerts-text");
  private readonly byInput = byId<HTMLInputElement>("alert-by");
  private readonly commentInput = byId<HTMLInputElement>("alert-comment");
  private readonly more = byId<HTMLButtonElement>("alerts-more");
  private readonly timeline: Histogram;

  constructor(
    private readonly showError: (msg: string | null) => void,
    private readonly navigate: AlertsNavigate,
    private readonly onFilter: FilterHandler,
    private readonly openSearch: OpenSearch,
    private readonly badge: AlertBadge,
  ) {
    this.timeline = new Histogram(byId("alert-timeline"), (a, b) => {
      if (this.evidence) this.openSearch(this.evidence.q, a, b);
    });
    this.byInput.value = rememberedBy();
    this.byInput.addEventListener("change", () => {
      try {
        localStorage.setItem(BY_KEY, this.byInput.value.trim() || DEFAULT_BY);
      } catch {
        // private mode: not remembered
      }
    });
    this.statusSel.addEventListener("change", () => this.navigate({ status: this.statusSel.value }));
    const onEnter = (input: HTMLInputElement, apply: () => void) => {
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") {
          ev.preventDefault();
          apply();
        }
      });
      input.addEventListener("change", apply);
    };
    onEnter(this.ruleInput, () => this.navigate({ rule: this.ruleInput.value.trim() }));
    onEnter(this.textInput, () => this.navigate({ text: this.textInput.value.trim() }));
    this.more.addEventListener("click", () => {
      this.limit += PAGE;
      void this.loadList(true);
    });
    byId("alert-hide").addEventListener("click", () => this.navigate({ alert: "" }));
    byId("alert-search").addEventListener("click", () => {
      if (this.evidence) this.openSearch(this.evidence.q, this.evidence.startMs, this.evidence.endMs);
    });
    for (const a of ["ack", "close", "reopen"] as const) {
      byId(`alert-${a}`).addEventListener("click", () => void this.act(a));
    }
    document.addEventListener("visibilitychange", () => {
      if (this.active && !document.hidden && this.timer === null) void this.tick();
    });
    // Escape closes the detail (unless typing in a field, where it clears the field).
    document.addEventListener("keydown", (ev) => {
      const t = ev.target as HTMLElement | null;
      const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
      if (ev.key === "Escape" && this.active && !this.detail.hidden && !typing) this.navigate({ alert: "" });
    });
  }

  /** Stops refreshing (the view was left). */
  stop(): void {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.listCtl?.abort();
    this.detailCtl?.abort();
  }

  /** Shows the page for a state: filters, list, and the selected alert's detail. */
  async run(s: State): Promise<void> {
    const filtersChanged =
      !this.state ||
      statusOf(this.state) !== statusOf(s) ||
      this.state.rule !== s.rule ||
      this.state.text !== s.text ||
      this.state.start !== s.start ||
      this.state.end !== s.end;
    if (filtersChanged) this.limit = PAGE;
    const wasActive = this.active;
    // The list is loaded again; the detail shown (or loading) stays unless the selection changed.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.listCtl?.abort();
    if (!wasActive) this.detailCtl?.abort();
    this.active = true;
    this.state = s;
    this.statusSel.value = statusOf(s);
    this.ruleInput.value = s.rule ?? "";
    this.textInput.value = s.text ?? "";
    byId("alerts-range").textContent = rangeLabel(s.start, s.end);
    this.showError(null);
    const list = this.loadList(filtersChanged);
    if (!s.alert) {
      this.hideDetail();
    } else if (this.shown?.id !== s.alert || !wasActive) {
      void this.loadDetail(s.alert);
    }
    await list;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.active && !document.hidden) this.timer = setTimeout(() => void this.tick(), POLL_MS);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.active) return;
    await this.loadList(false);
    this.schedule();
  }

  /** Loads the list; rendered only when it changed (a refresh must not move rows under the mouse). */
  private async loadList(force: boolean): Promise<void> {
    const s = this.state;
    if (!s) return;
    let scope: Scope;
    try {
      scope = scopeOf(s, Date.now());
    } catch (e) {
      this.showError(reasonOf(e));
      return;
    }
    this.listCtl?.abort();
    const ctl = new AbortController();
    this.listCtl = ctl;
    this.page.classList.add("loading");
    let r: AlertsResponse;
    try {
      r = await getJson<AlertsResponse>("alerts", alertParams(s, scope, this.limit), ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted || isAbort(e)) return;
      this.page.classList.remove("loading");
      const off = offReason(e);
      if (off !== null) {
        this.setOff(off);
        return;
      }
      this.page.dataset.enabled = "error";
      this.showError(`alerts: ${reasonOf(e)}`);
      return;
    }
    if (ctl.signal.aborted) return;
    this.page.classList.remove("loading");
    this.page.dataset.enabled = "on";
    byId("alerts-off").hidden = true;
    if (!this.kinds) void this.loadRuleNames();
    const key = JSON.stringify([r.total, r.alerts.map((a) => [a.id, a.status, a.count, a.last_seen])]);
    if (!force && key === this.listKey) return;
    this.listKey = key;
    this.renderList(r, s);
  }

  private setOff(reason: string): void {
    this.page.dataset.enabled = "off";
    const off = byId("alerts-off");
    off.hidden = false;
    off.textContent = reason;
    this.rows.replaceChildren();
    this.hideDetail();
    byId("alerts-count").textContent = "";
  }

  private renderList(r: AlertsResponse, s: State): void {
    const rows = alertRows(r.alerts).map((row) => {
      const tr = alertTableRow(row);
      tr.classList.toggle("selected", row.id === s.alert);
      tr.addEventListener("click", () => this.navigate({ alert: row.id }));
      return tr;
    });
    const status = statusOf(s);
    fillRows(
      this.rows,
      rows,
      7,
      `no ${status === "all" ? "" : `${status} `}alert in ${rangeLabel(s.start, s.end)}` +
        (s.rule || s.text ? " matching the filters" : ""),
    );
    this.rows.dataset.total = String(r.total);
    this.rows.dataset.rows = String(r.alerts.length);
    byId("alerts-count").textContent =
      `${fmtNum(r.total)} alert${r.total === 1 ? "" : "s"}` +
      (r.total > r.alerts.length ? `, newest ${fmtNum(r.alerts.length)} shown` : "");
    this.more.hidden = r.total <= r.alerts.length;
  }

  /** Rule names for the rule filter's suggestions, and each rule's kind (for evidence queries). */
  private async loadRuleNames(): Promise<void> {
    try {
      const r = await getJson<RulesResponse>("rules");
      this.kinds = new Map(r.rules.map((x) => [x.key, x.kind]));
      const opts = r.rules.map((x) => {
        const o = el("option");
        o.value = x.name || x.key;
        o.textContent = x.title;
        return o;
      });
      byId("alerts-rule-list").replaceChildren(...opts);
    } catch {
      // suggestions only: the evidence query falls back to `rule.id:*`
    }
  }

  private hideDetail(): void {
    this.detailCtl?.abort();
    this.shown = null;
    this.evidence = null;
    this.detail.hidden = true;
    delete this.detail.dataset.id;
    this.page.classList.remove("with-detail");
    for (const tr of this.rows.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  }

  /** Fetches an alert (fresh status and history) and its evidence. */
  private async loadDetail(id: string): Promise<void> {
    this.detailCtl?.abort();
    const ctl = new AbortController();
    this.detailCtl = ctl;
    for (const tr of this.rows.querySelectorAll<HTMLElement>("tr.alert-row")) {
      tr.classList.toggle("selected", tr.dataset.id === id);
    }
    let a: Alert;
    try {
      a = await getJson<Alert>(`alerts/${encodeURIComponent(id)}`, {}, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted || isAbort(e)) return;
      this.showError(`alert ${id}: ${reasonOf(e)}`);
      this.hideDetail();
      return;
    }
    if (ctl.signal.aborted) return;
    this.renderDetail(a);
    await Promise.all([this.loadNotified(a, ctl.signal), this.loadEvidence(a, ctl.signal)]);
  }

  /** The pending notifications (with their errors) of the shown alert. */
  private async loadNotified(a: Alert, signal: AbortSignal): Promise<void> {
    if (!(a.notify ?? []).length && !(a.notified ?? []).length) return;
    try {
      const r = await getJson<NotificationsResponse>("notifications", {}, signal);
      if (!signal.aborted && this.shown?.id === a.id) this.renderNotified(a, r.pending);
    } catch (e) {
      if (signal.aborted || isAbort(e)) return;
      byId("alert-notified").textContent = `cannot read the notifications: ${reasonOf(e)}`;
    }
  }

  /** Fills the "notified" row; `pending` null: not read yet (only what the alert says). */
  private renderNotified(a: Alert, pending: PendingNotification[] | null): void {
    const cell = byId("alert-notified");
    if (!(a.notify ?? []).length && !(a.notified ?? []).length) {
      cell.textContent = "no channel configured when it was raised ([detect.notify])";
      cell.classList.add("muted");
      return;
    }
    cell.classList.remove("muted");
    const lines = notifiedLines(a, pending ?? []);
    cell.replaceChildren(
      ...lines.map((l) => {
        const div = el("div", l.state === "failing" ? "notify-err" : l.state === "pending" ? "muted" : "", l.text);
        div.dataset.delivery = l.delivery;
        div.dataset.state = l.state;
        return div;
      }),
    );
  }

  private renderDetail(a: Alert): void {
    this.shown = a;
    this.detail.hidden = false;
    this.detail.dataset.id = a.id;
    this.detail.dataset.status = a.status;
    this.page.classList.add("with-detail");
    byId("alert-level").replaceChildren(levelBadge(a.rule.level));
    byId("alert-title").textContent = a.rule.title;
    byId("alert-status").replaceChildren(statusBadge(a.status));
    byId("alert-rule").textContent = [a.rule.title, a.rule.name, a.rule.id]
      .filter((x, i, all) => x && all.indexOf(x) === i)
      .join(" · ");
    byId("alert-rule-level").textContent = a.rule.level || "–";
    const author = byId("alert-author");
    author.textContent = a.rule.author || "unknown";
    author.classList.toggle("muted", !a.rule.author);
    byId("alert-group").textContent = groupText(a.group) || "– (no group)";
    byId("alert-count").textContent =
      `${fmtNum(a.count)} event${a.count === 1 ? "" : "s"}, ` +
      `${formatTime(a.first_seen, false)} → ${formatTime(a.last_seen, false)}`;
    byId("alert-host").textContent = a.host || "–";
    byId("alert-created").textContent =
      `${formatTime(a.created, false)} (updated ${formatTime(a.updated, false)})`;
    byId("alert-id").textContent = a.id;
    this.renderNotified(a, null);
    const can = new Set(actionsFor(a.status).map((x) => x.action));
    for (const x of ["ack", "close", "reopen"] as const) byId(`alert-${x}`).hidden = !can.has(x);
    const hist = (a.history ?? []).map((h) => {
      const tr = el("tr");
      tr.dataset.status = h.status;
      const st = el("td");
      st.dataset.col = "status";
      st.appendChild(statusBadge(h.status));
      const by = el("td", "c-mono", h.by);
      by.dataset.col = "by";
      const at = el("td", "c-time", formatTime(h.at, false));
      at.dataset.col = "at";
      const comment = el("td", "", h.comment ?? "");
      comment.dataset.col = "comment";
      tr.append(at, st, by, comment);
      return tr;
    });
    fillRows(byId("alert-history"), hist, 4, "no status change");
  }

  /** Searches the events of the alert's rule and group in its time range and keeps its evidence. */
  private async loadEvidence(a: Alert, signal: AbortSignal): Promise<void> {
    const range = evidenceRange(a);
    const q = evidenceQuery(a, this.kinds?.get(a.rule.id));
    const startMs = Date.parse(range.start);
    const endMs = Date.parse(range.end);
    this.evidence = { q, startMs, endMs };
    const body = byId("alert-events");
    const note = byId("alert-evidence-note");
    note.textContent = "loading…";
    this.timeline.loading();
    let r: SearchResponse;
    try {
      r = await getJson<SearchResponse>(
        "search",
        { q, start: range.start, end: range.end, limit: EVIDENCE_LIMIT, sort: "asc" },
        signal,
      );
    } catch (e) {
      if (signal.aborted || isAbort(e)) return;
      this.timeline.clear();
      body.replaceChildren();
      note.textContent = `cannot load the events: ${reasonOf(e)}`;
      return;
    }
    if (signal.aborted) return;
    const events = evidenceOf(r.hits, a);
    this.timeline.render(timelineOf(events, startMs, endMs));
    const rows = events.map((e) => {
      const tr = eventRow(e, "evidence");
      makeExpandable(tr, e, this.onFilter);
      return tr;
    });
    fillRows(body, rows, 5, "none of the alert's events found in the store");
    body.dataset.rows = String(events.length);
    note.textContent = evidenceNote(events.length, a, r.hits.length);
  }

  /** Acknowledge, close or reopen the shown alert, then refresh the list, the badge and the detail. */
  private async act(action: AlertAction["action"]): Promise<void> {
    const a = this.shown;
    if (!a) return;
    const buttons = this.detail.querySelectorAll<HTMLButtonElement>(".det-actions button");
    for (const b of buttons) b.disabled = true;
    try {
      const body = changeBody(this.byInput.value, this.commentInput.value);
      const after = await postJson<Alert>(`alerts/${encodeURIComponent(a.id)}/${action}`, body);
      this.commentInput.value = "";
      this.showError(null);
      if (this.shown?.id === after.id) this.renderDetail(after);
      await Promise.all([this.loadList(true), this.badge.refresh()]);
    } catch (e) {
      this.showError(`${action} ${a.id}: ${reasonOf(e)}`);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }
}
