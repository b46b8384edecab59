// What the Alerts and Rules pages share: Sigma levels and their colours, an alert as a table row
// (the alerts list and a backtest's alerts), and the severity badge. Pure but for `levelBadge`
// and `alertTableRow`, which build DOM.

import { el } from "./dom";
import { formatTime } from "./time";
import type { Alert } from "./types";

/** Refresh interval of the Alerts and Rules pages and of the nav badge while visible. */
export const POLL_MS = 10_000;

/** Sigma levels, most severe first (the CSS classes `sev-<level>`). */
export const LEVELS = ["critical", "high", "medium", "low", "informational"] as const;

/** The level as one of `LEVELS` (case-insensitive; `info` is `informational`), else "other". */
export function levelOf(level: string | null | undefined): string {
  const l = (level ?? "").trim().toLowerCase();
  if (l === "info") return "informational";
  return (LEVELS as readonly string[]).includes(l) ? l : "other";
}

/** 0 for critical .. 4 for informational, 5 for an unknown level (for sorting). */
export function levelRank(level: string | null | undefined): number {
  const i = (LEVELS as readonly string[]).indexOf(levelOf(level));
  return i < 0 ? LEVELS.length : i;
}

/** An alert's group as [field, value] pairs, by field name. */
export function groupPairs(group: Record<string, string> | null | undefined): [string, string][] {
  return Object.keys(group ?? {})
    .sort()
    .map((k) => [k, String(group![k])]);
}

/** An alert's group as `field=value` pairs by field name, e.g. `source.ip=1.2.3.4`; "" when none. */
export function groupText(group: Record<string, string> | null | undefined): string {
  return groupPairs(group)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

const NUM = new Intl.NumberFormat("en-US");

/** A count with thousands separators. */
export function fmtNum(n: number | null | undefined): string {
  return typeof n === "number" && Number.isFinite(n) ? NUM.format(n) : "–";
}

/** One alert as the alert tables show it. */
export interface AlertRow {
  id: string;
  /** One of `LEVELS` or "other": the colour. */
  level: string;
  /** The level as the rule gives it ("–" when it has none). */
  levelText: string;
  title: string;
  name: string;
  group: string;
  groupPairs: [string, string][];
  count: string;
  first: string;
  last: string;
  status: string;
}

/** The rows of a list of alerts, in the order given (the API sorts by last event, newest first). */
export function alertRows(alerts: Alert[]): AlertRow[] {
  return alerts.map((a) => ({
    id: a.id,
    level: levelOf(a.rule.level),
    levelText: a.rule.level || "–",
    title: a.rule.title,
    name: a.rule.name && a.rule.name !== a.rule.title ? a.rule.name : "",
    group: groupText(a.group),
    groupPairs: groupPairs(a.group),
    count: fmtNum(a.count),
    first: formatTime(a.first_seen, false),
    last: formatTime(a.last_seen, false),
    status: a.status,
  }));
}

/** The coloured badge of a level. */
export function levelBadge(level: string | null | undefined): HTMLSpanElement {
  const b = el("span", `sev sev-${levelOf(level)}`, level || "–");
  b.dataset.level = levelOf(level);
  return b;
}

/** The badge of an alert status (open is the one that needs a look). */
export function statusBadge(status: string): HTMLSpanElement {
  const cls = status === "open" ? "bad" : status === "acknowledged" ? "warn" : "ok";
  const b = el("span", `badge ${cls}`, status);
  b.dataset.status = status;
  return b;
}

function td(text: string, cls: string, col: string): HTMLTableCellElement {
  const c = el("td", cls, text);
  c.dataset.col = col;
  return c;
}

/**
 * One row of an alert table: severity, rule (title and name), group, count, first and last
 * event, and status unless `withStatus` is false (a backtest's alerts have none: they are not
 * stored). `data-id` is the alert id.
 */
export function alertTableRow(r: AlertRow, withStatus = true): HTMLTableRowElement {
  const tr = el("tr", "alert-row");
  tr.dataset.id = r.id;
  tr.dataset.status = r.status;
  const sev = td("", "c-sev", "level");
  sev.appendChild(levelBadge(r.levelText === "–" ? null : r.levelText));
  const rule = td("", "c-rule", "rule");
  rule.append(el("span", "rule-title", r.title));
  if (r.name) rule.append(el("span", "rule-name", r.name));
  const status = td("", "", "status");
  status.appendChild(statusBadge(r.status));
  const group = td("", "c-mono", "group");
  if (r.groupPairs.length === 0) group.textContent = "–";
  r.groupPairs.forEach(([k, v], i) => {
    // A line may break after "=" (not inside an address) and after the comma.
    const pair = el("span", "pair");
    pair.append(el("span", "muted", `${k}=`), el("wbr"), el("span", "", v));
    group.append(...(i ? [document.createTextNode(", "), pair] : [pair]));
  });
  tr.append(
    sev,
    rule,
    group,
    td(r.count, "c-num", "count"),
    td(r.first, "c-time", "first"),
    td(r.last, "c-time", "last"),
  );
  if (withStatus) tr.append(status);
  return tr;
}

/** Replaces the rows of a table body; an empty list shows `empty` across `cols` columns. */
export function fillRows(body: HTMLElement, rows: HTMLTableRowElement[], cols: number, empty: string): void {
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el("tr", "empty-row");
    const c = el("td", "muted", empty);
    c.colSpan = cols;
    tr.appendChild(c);
    body.appendChild(tr);
  }
}
