// Rendering events as table rows (shared by the search results and the live tail).

import type { LogEvent } from "./types";
import { el, valueText } from "./dom";
import { formatTime } from "./time";

/** Field-value filter from a row: add `field:value` (or its negation) to the query. */
export type FilterHandler = (field: string, value: string, negate: boolean) => void;

const LEVEL_CLASS: Record<string, string> = {
  emerg: "err", emergency: "err", alert: "err", crit: "err", critical: "err", fatal: "err",
  error: "err", err: "err",
  warn: "warn", warning: "warn",
  notice: "info", info: "info", information: "info",
  debug: "dbg", trace: "dbg",
};

/** CSS class suffix of a level (`err`, `warn`, `info`, `dbg`, `other`). */
export function levelClass(level: string): string {
  return LEVEL_CLASS[level.toLowerCase()] ?? "other";
}

function str(e: LogEvent, key: string): string {
  return valueText(e[key]);
}

/** The one-line row of an event: time, host, service/process, level, message. */
export function eventRow(e: LogEvent, testid: string): HTMLTableRowElement {
  const tr = el("tr", "hit");
  tr.dataset.testid = testid;
  const id = str(e, "event.id");
  if (id) tr.dataset.id = id;
  const ts = str(e, "@timestamp");
  const time = el("td", "c-time", formatTime(ts));
  time.title = ts;
  const host = el("td", "c-host", str(e, "host.name"));
  const svcName = str(e, "service.name") || str(e, "process.name");
  const pid = str(e, "process.pid");
  const svc = el("td", "c-svc", svcName + (pid ? `[${pid}]` : ""));
  const lv = str(e, "log.level");
  const level = el("td", "c-level");
  if (lv) level.appendChild(el("span", `lvl lvl-${levelClass(lv)}`, lv));
  const msg = el("td", "c-msg", str(e, "message"));
  const flags = e["log.flags"];
  if (Array.isArray(flags) && flags.length) {
    const f = el("span", "flag", flags.join(" "));
    f.title = "log.flags: what the pipeline could not fully handle";
    msg.prepend(f);
  }
  tr.append(time, host, svc, level, msg);
  return tr;
}

/** Field names of an event in display order: @timestamp, message, then alphabetical. */
export function fieldOrder(e: LogEvent): string[] {
  const first = ["@timestamp", "message"];
  const rest = Object.keys(e)
    .filter((k) => !first.includes(k))
    .sort();
  return first.filter((k) => k in e).concat(rest);
}

/** The detail row under an expanded event: every field with +/- filter buttons. */
export function detailRow(e: LogEvent, colspan: number, onFilter: FilterHandler): HTMLTableRowElement {
  const tr = el("tr", "detail");
  tr.dataset.testid = "hit-detail";
  const td = el("td");
  td.colSpan = colspan;
  const table = el("table", "kv");
  for (const k of fieldOrder(e)) {
    const v = e[k];
    const values = Array.isArray(v) ? v.map(valueText) : [valueText(v)];
    const row = el("tr");
    row.dataset.field = k;
    const actions = el("td", "kv-actions");
    // One +/- pair for the whole value (array fields get one pair per element below).
    if (values.length === 1) actions.append(...filterButtons(k, values[0], onFilter));
    const name = el("td", "kv-key", k);
    const val = el("td", "kv-val");
    if (values.length === 1) {
      val.textContent = values[0];
    } else {
      for (const x of values) {
        const chip = el("span", "chip", x);
        chip.append(...filterButtons(k, x, onFilter));
        val.appendChild(chip);
      }
    }
    row.append(actions, name, val);
    table.appendChild(row);
  }
  // An alert stored as an event: a link to it on the Alerts page.
  const alertId = valueText(e["alert.id"]);
  if (alertId) {
    const link = el("a", "pivot", "open this alert on the Alerts page");
    link.href = `#${new URLSearchParams({ start: "", view: "alerts", status: "all", alert: alertId })}`;
    link.dataset.testid = "open-alert";
    td.appendChild(link);
  }
  const json = el("details", "raw");
  json.appendChild(el("summary", "", "JSON"));
  json.appendChild(el("pre", "", JSON.stringify(e, null, 2)));
  td.append(table, json);
  tr.appendChild(td);
  return tr;
}

function filterButtons(field: string, value: string, onFilter: FilterHandler): HTMLButtonElement[] {
  const plus = el("button", "mini", "+");
  plus.title = `filter for ${field}: ${value}`;
  plus.dataset.testid = "filter-in";
  plus.addEventListener("click", (ev) => {
    ev.stopPropagation();
    onFilter(field, value, false);
  });
  const minus = el("button", "mini", "−");
  minus.title = `filter out ${field}: ${value}`;
  minus.dataset.testid = "filter-out";
  minus.addEventListener("click", (ev) => {
    ev.stopPropagation();
    onFilter(field, value, true);
  });
  return [plus, minus];
}

/** Makes `tr` toggle a detail row beneath it when clicked (not when text is being selected). */
export function makeExpandable(tr: HTMLTableRowElement, e: LogEvent, onFilter: FilterHandler): void {
  tr.addEventListener("click", () => {
    if (window.getSelection()?.toString()) return;
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) {
      next.remove();
      tr.classList.remove("open");
      return;
    }
    tr.classList.add("open");
    tr.after(detailRow(e, tr.children.length, onFilter));
  });
}
