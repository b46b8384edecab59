// Dashboard state kept in the URL hash (#q=...&start=...&end=...&view=...) so that a view can be
// shared and reloaded.

/** Which main view is shown. */
export type View = "search" | "tail" | "patterns" | "network" | "pipeline" | "alerts" | "rules" | "sources";

export const VIEWS: readonly View[] = ["search", "tail", "patterns", "network", "pipeline", "alerts", "rules", "sources"];

/** Everything that defines what the dashboard shows. */
export interface State {
  q: string;
  /** RFC 3339 or relative (`now-15m`); empty = unbounded. */
  start: string;
  /** RFC 3339 or relative; empty = now/unbounded. */
  end: string;
  view: View;
  /** Alerts page: status filter (`open` when absent; `all` = every status). */
  status?: string;
  /** Alerts page: rule filter (id, name or title). */
  rule?: string;
  /** Alerts page: words in the rule's title or name, a group value or the alert id. */
  text?: string;
  /** Alerts page: the alert whose detail is open. */
  alert?: string;
  /** Search page: `patterns` shows the Patterns tab beside the results instead of the events. */
  tab?: string;
  /** Patterns (page or tab): `previous` compares with the range of the same length before. */
  compare?: string;
}

/** The Alerts page's keys in the hash (written only while that page is shown). */
const ALERT_KEYS = ["status", "rule", "text", "alert"] as const;

/** The range a fresh dashboard opens with. */
export const DEFAULT_STATE: State = { q: "", start: "now-24h", end: "", view: "search" };

/** Parses a hash such as `#q=error&start=now-1h&view=tail`; missing keys take the defaults. */
export function parseHash(hash: string): State {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const v = p.get("view") ?? "";
  const view: View = (VIEWS as readonly string[]).includes(v) ? (v as View) : "search";
  const s: State = {
    q: p.get("q") ?? DEFAULT_STATE.q,
    start: p.has("start") ? (p.get("start") ?? "") : DEFAULT_STATE.start,
    end: p.get("end") ?? DEFAULT_STATE.end,
    view,
  };
  for (const k of ALERT_KEYS) {
    const x = p.get(k);
    if (x) s[k] = x;
  }
  if (p.get("tab") === "patterns") s.tab = "patterns";
  if (p.get("compare") === "previous") s.compare = "previous";
  return s;
}

/** The hash for a state (start is always written, even empty, since empty means "all time"). */
export function formatHash(s: State): string {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  p.set("start", s.start);
  if (s.end) p.set("end", s.end);
  p.set("view", s.view);
  if (s.view === "alerts") {
    for (const k of ALERT_KEYS) {
      const x = s[k];
      if (x) p.set(k, x);
    }
  }
  if (s.view === "search" && s.tab === "patterns") p.set("tab", "patterns");
  const patterns = s.view === "patterns" || (s.view === "search" && s.tab === "patterns");
  if (patterns && s.compare === "previous") p.set("compare", "previous");
  return "#" + p.toString();
}
