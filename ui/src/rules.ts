// The Rules page: the detection rules (`GET /api/v1/rules`): loaded ones with kind, level, hits,
// correlation groups (evictions highlighted) and an enable/disable toggle
// (`POST /api/v1/rules/{key}/enable|disable`); the refused rules as `file:line: reason`; the
// inactive ones (for logs loglynx does not collect) in a collapsed section; and a backtest
// (`POST /api/v1/rules/backtest`) of a loaded rule or of pasted Sigma YAML over the stored events
// of the page's time range. Refreshes every 10 s while the page is visible (hits grow, edited
// rule files are reloaded by the server).
//
// The model functions (`ruleRows`, `rejectedLines`, `rulesSummary`, `backtestRequest`,
// `backtestSummary`) are pure and unit tested; `RulesView` turns them into DOM.

import { ApiError, getJson, offReason, postJson } from "./api";
import { POLL_MS, alertRows, alertTableRow, fillRows, fmtNum, levelBadge, levelOf } from "./detect";
import { byId, el } from "./dom";
import { scopeOf, type Scope } from "./scope";
import type { State } from "./state";
import { rangeLabel } from "./time";
import type { BacktestRequest, BacktestResponse, RejectedRule, RuleInfo, RulesResponse } from "./types";

/** True when every word of `filter` appears (case-insensitive) in the rule's name, title, key, id or file. */
export function ruleMatches(r: RuleInfo, filter: string): boolean {
  const hay = [r.name, r.title, r.key, r.id, r.file].filter(Boolean).join(" ").toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

/** One row of a rules table. */
export interface RuleRow {
  key: string;
  title: string;
  /** The rule's name when it differs from its title, else "". */
  name: string;
  kind: string;
  /** One of `LEVELS` or "other". */
  level: string;
  levelText: string;
  author: string;
  file: string;
  logsource: string;
  enabled: boolean;
  hits: string;
  hitsValue: number;
  /** Correlation groups held now ("" for a detection rule). */
  groups: string;
  evicted: string;
  /** Groups evicted (`[detect] max_groups` reached): above 0 needs a look. */
  evictedValue: number;
}

/** The rows of the rules that match `filter`, in the server's order. */
export function ruleRows(rules: RuleInfo[], filter = ""): RuleRow[] {
  return rules
    .filter((r) => ruleMatches(r, filter))
    .map((r) => ({
      key: r.key,
      title: r.title,
      name: r.name && r.name !== r.title ? r.name : "",
      kind: r.kind,
      level: levelOf(r.level),
      levelText: r.level || "–",
      author: r.author || "",
      file: r.file,
      logsource: r.logsource,
      enabled: r.enabled,
      hits: fmtNum(r.hits),
      hitsValue: r.hits ?? 0,
      groups: r.groups === undefined ? "" : fmtNum(r.groups),
      evicted: r.groups_evicted === undefined ? "" : fmtNum(r.groups_evicted),
      evictedValue: r.groups_evicted ?? 0,
    }));
}

/** The refused rules as `file:line: reason`, one per rule, in the server's order. */
export function rejectedLines(rejected: RejectedRule[]): string[] {
  return (rejected ?? []).map((r) => `${r.file}${r.line ? `:${r.line}` : ""}: ${r.reason}`);
}

/** The line above the table: counts of rules by kind, refused, reloads and alerts raised. */
export function rulesSummary(r: RulesResponse): string {
  const count = (kind: string) => r.rules.filter((x) => x.kind === kind).length;
  const disabled = r.rules.filter((x) => !x.enabled).length;
  const plural = (n: number, w: string) => `${fmtNum(n)} ${w}${n === 1 ? "" : "s"}`;
  return [
    `${plural(count("detection"), "detection rule")}, ${plural(count("correlation"), "correlation")}` +
      (disabled ? ` (${fmtNum(disabled)} disabled)` : ""),
    `${fmtNum((r.inactive ?? []).length)} inactive`,
    `${fmtNum((r.rejected ?? []).length)} refused`,
    `${plural(r.reloads ?? 0, "reload")} and ${plural(r.alerts_raised ?? 0, "alert")} since start`,
  ].join("  ·  ");
}

/** What to backtest: a loaded rule (by key) or Sigma YAML. */
export type BacktestSource = { rule: string } | { yaml: string };

/** The body of `POST /api/v1/rules/backtest`: the source, the range (resolved) and the query. */
export function backtestRequest(src: BacktestSource, scope: Pick<Scope, "start" | "end">, q: string): BacktestRequest {
  const body: BacktestRequest = { ...src };
  if (scope.start) body.start = scope.start;
  if (scope.end) body.end = scope.end;
  if (q.trim()) body.q = q.trim();
  return body;
}

/** "12,000 events scanned, 286 matched, 2 alerts would be raised (40 ms)", and the truncation. */
export function backtestSummary(r: BacktestResponse): string {
  const n = r.alerts.length;
  const text =
    `${fmtNum(r.events_scanned)} events scanned, ${fmtNum(r.matched)} matched, ` +
    `${fmtNum(n)} alert${n === 1 ? "" : "s"} would be raised (${fmtNum(r.took_ms)} ms)`;
  return r.truncated ? `${text}; stopped early: narrow the range or the query to scan everything` : text;
}

function reasonOf(e: unknown): string {
  if (e instanceof ApiError) return e.reason;
  return (e as Error)?.message ?? String(e);
}

function td(text: string, cls: string, col: string): HTMLTableCellElement {
  const c = el("td", cls, text);
  c.dataset.col = col;
  return c;
}

/** The Rules view; `run(state)` loads the rules (the range is the backtest's). */
export class RulesView {
  private rules: RulesResponse | null = null;
  private shownKey = "";
  private active = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private scope: Scope | null = null;
  private ctl: AbortController | null = null;
  private backtestCtl: AbortController | null = null;
  private readonly page = byId("rules");
  private readonly filter = byId<HTMLInputElement>("rules-filter");
  private readonly yaml = byId<HTMLTextAreaElement>("backtest-yaml");
  private readonly btQuery = byId<HTMLInputElement>("backtest-q");

  constructor(private readonly showError: (msg: string | null) => void) {
    this.filter.addEventListener("input", () => this.renderRules());
    byId("backtest-run").addEventListener("click", () => {
      const text = this.yaml.value;
      if (!text.trim()) {
        this.showError("backtest: paste a Sigma rule (YAML) first");
        return;
      }
      void this.backtest({ yaml: text }, "the pasted rule");
    });
    document.addEventListener("visibilitychange", () => {
      if (this.active && !document.hidden && this.timer === null) void this.tick();
    });
  }

  /** Stops refreshing and what is loading (the view was left). */
  stop(): void {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ctl?.abort();
    this.backtestCtl?.abort();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.active) return;
    await this.load(false);
    if (this.active && !document.hidden && this.timer === null) {
      this.timer = setTimeout(() => void this.tick(), POLL_MS);
    }
  }

  /** Loads the rules; the state's range is the one backtests run over. */
  async run(s: State): Promise<void> {
    this.stop();
    this.showError(null);
    try {
      this.scope = scopeOf(s, Date.now());
    } catch (e) {
      this.scope = null;
      this.showError(reasonOf(e));
    }
    byId("backtest-range").textContent = `over ${rangeLabel(s.start, s.end)} (the page's time range)`;
    this.active = true;
    this.shownKey = "";
    await this.tick();
  }

  /** Loads the rules; renders them when they changed since the last time (or `force`). */
  private async load(force = true): Promise<void> {
    this.ctl?.abort();
    const ctl = new AbortController();
    this.ctl = ctl;
    let r: RulesResponse;
    try {
      r = await getJson<RulesResponse>("rules", {}, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted || (e as Error).name === "AbortError") return;
      const off = offReason(e);
      if (off !== null) {
        this.page.dataset.enabled = "off";
        const box = byId("rules-off");
        box.hidden = false;
        box.textContent = off;
        byId("rules-summary").textContent = "";
        return;
      }
      this.page.dataset.enabled = "error";
      this.showError(`rules: ${reasonOf(e)}`);
      return;
    }
    if (ctl.signal.aborted) return;
    this.page.dataset.enabled = "on";
    this.page.dataset.reloads = String(r.reloads);
    byId("rules-off").hidden = true;
    const key = JSON.stringify(r);
    if (!force && key === this.shownKey) return;
    this.shownKey = key;
    this.rules = r;
    byId("rules-summary").textContent = rulesSummary(r);
    this.renderRules();
    this.renderRejected(r);
    this.renderInactive(r);
  }

  private renderRules(): void {
    const r = this.rules;
    if (!r) return;
    const rows = ruleRows(r.rules, this.filter.value).map((x) => {
      const tr = el("tr", x.enabled ? "" : "disabled");
      tr.dataset.key = x.key;
      tr.dataset.kind = x.kind;
      const rule = td("", "c-rule", "rule");
      rule.append(el("span", "rule-title", x.title));
      if (x.name) rule.append(el("span", "rule-name", x.name));
      rule.title = `${x.key}${x.author ? `\nauthor: ${x.author}` : ""}\nlogsource: ${x.logsource}`;
      const level = td("", "c-sev", "level");
      level.appendChild(levelBadge(x.levelText === "–" ? null : x.levelText));
      const evicted = td(x.evicted, x.evictedValue > 0 ? "c-num bad" : "c-num", "evicted");
      if (x.evictedValue > 0) evicted.title = "groups dropped at [detect] max_groups: some sources were not counted";
      const enabled = td("", "", "enabled");
      const toggle = el("button", `mini toggle ${x.enabled ? "on" : "off"}`, x.enabled ? "enabled" : "disabled");
      toggle.dataset.testid = "rule-toggle";
      toggle.title = x.enabled ? "disable this rule" : "enable this rule";
      toggle.setAttribute("aria-pressed", String(x.enabled));
      toggle.addEventListener("click", () => void this.toggle(x.key, x.enabled, toggle));
      enabled.appendChild(toggle);
      const actions = td("", "", "actions");
      const bt = el("button", "mini", "Backtest");
      bt.dataset.testid = "rule-backtest";
      bt.title = "run this rule over the stored events of the page's time range";
      bt.addEventListener("click", () => void this.backtest({ rule: x.key }, x.title));
      actions.appendChild(bt);
      tr.append(
        rule,
        td(x.kind, "", "kind"),
        level,
        td(x.hits, x.hitsValue > 0 ? "c-num" : "c-num muted", "hits"),
        td(x.groups, "c-num", "groups"),
        evicted,
        td(x.file, "c-mono c-file", "file"),
        enabled,
        actions,
      );
      return tr;
    });
    const filtered = this.filter.value.trim() !== "";
    fillRows(byId("rules-rows"), rows, 9, filtered ? "no rule matches the filter" : "no rule loaded");
    byId("rules-shown").textContent = filtered
      ? `${fmtNum(rows.length)} of ${fmtNum(r.rules.length)}`
      : `${fmtNum(r.rules.length)}`;
  }

  private renderRejected(r: RulesResponse): void {
    const lines = rejectedLines(r.rejected);
    const items = lines.map((line, i) => {
      const li = el("li", "refused-rule", line);
      li.dataset.file = r.rejected[i].file;
      li.dataset.line = String(r.rejected[i].line);
      return li;
    });
    const list = byId("rules-rejected");
    list.replaceChildren(...items);
    if (items.length === 0) list.appendChild(el("li", "muted", "none: every rule file compiled"));
    byId("rules-rejected-count").textContent = String(lines.length);
    byId("rules-rejected-panel").classList.toggle("has-refused", lines.length > 0);
  }

  private renderInactive(r: RulesResponse): void {
    const rows = ruleRows(r.inactive ?? []).map((x) => {
      const tr = el("tr");
      tr.dataset.key = x.key;
      const rule = td("", "c-rule", "rule");
      rule.append(el("span", "rule-title", x.title));
      if (x.name) rule.append(el("span", "rule-name", x.name));
      const level = td("", "c-sev", "level");
      level.appendChild(levelBadge(x.levelText === "–" ? null : x.levelText));
      tr.append(rule, level, td(x.logsource, "c-mono", "logsource"), td(x.file, "c-mono c-file", "file"));
      return tr;
    });
    fillRows(byId("rules-inactive-rows"), rows, 4, "none");
    byId("rules-inactive-count").textContent = `(${fmtNum(rows.length)})`;
  }

  /** Enables or disables a rule, then reloads the list (hits and state as the server has them). */
  private async toggle(key: string, enabled: boolean, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await postJson<RuleInfo>(`rules/${encodeURIComponent(key)}/${enabled ? "disable" : "enable"}`, {});
      this.showError(null);
      await this.load();
    } catch (e) {
      this.showError(`${enabled ? "disable" : "enable"} ${key}: ${reasonOf(e)}`);
      button.disabled = false;
    }
  }

  /** Runs a backtest and shows what the rule would have raised. */
  private async backtest(src: BacktestSource, what: string): Promise<void> {
    if (!this.scope) return;
    this.backtestCtl?.abort();
    const ctl = new AbortController();
    this.backtestCtl = ctl;
    const result = byId("backtest-result");
    const summary = byId("backtest-summary");
    result.hidden = false;
    result.dataset.state = "running";
    byId("backtest-title").textContent = `Backtest of ${what}`;
    summary.textContent = "running…";
    summary.classList.remove("bad");
    byId("backtest-alerts").replaceChildren();
    byId("backtest").scrollIntoView({ block: "nearest" });
    let r: BacktestResponse;
    try {
      r = await postJson<BacktestResponse>("rules/backtest", backtestRequest(src, this.scope, this.btQuery.value), ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted || (e as Error).name === "AbortError") return;
      result.dataset.state = "error";
      summary.textContent = `backtest failed: ${reasonOf(e)}`;
      summary.classList.add("bad");
      return;
    }
    if (ctl.signal.aborted) return;
    result.dataset.state = "done";
    result.dataset.scanned = String(r.events_scanned);
    result.dataset.matched = String(r.matched);
    result.dataset.alerts = String(r.alerts.length);
    summary.textContent = backtestSummary(r);
    fillRows(
      byId("backtest-alerts"),
      alertRows(r.alerts).map((row) => alertTableRow(row, false)),
      6,
      "no alert would be raised",
    );
  }
}
