// Entry point: wires the query bar, the time-range picker, the URL hash and the views.

import { AlertBadge, AlertsView } from "./alerts";
import { getJson, initToken, logout } from "./api";
import { byId } from "./dom";
import { fieldKinds } from "./fields";
import { addClause, clause, isNumericKind } from "./query";
import { NetworkView } from "./network";
import { PatternsView } from "./patterns";
import { PipelineView } from "./pipeline";
import { RulesView } from "./rules";
import { SearchView } from "./search";
import { SourcesView } from "./sources";
import { VIEWS, formatHash, parseHash, type State } from "./state";
import { LiveTail } from "./tail";
import { PRESETS, fromLocalInput, presetOf, resolveTime, toLocalInput } from "./time";

initToken();

const queryInput = byId<HTMLInputElement>("query");
const form = byId<HTMLFormElement>("query-form");
const preset = byId<HTMLSelectElement>("range-preset");
const custom = byId("range-custom");
const fromInput = byId<HTMLInputElement>("range-from");
const toInput = byId<HTMLInputElement>("range-to");
const errorBox = byId("error");

let state: State = parseHash(location.hash);

function showError(msg: string | null): void {
  errorBox.hidden = !msg;
  errorBox.textContent = msg ?? "";
}

function addFilter(field: string, value: string, negate: boolean): void {
  const c = clause(field, value, isNumericKind(fieldKinds.get(field)));
  const q = addClause(queryInput.value, c, negate);
  navigate({ ...state, q, view: "search" });
}

const search = new SearchView(
  showError,
  (a, b) => navigate({ ...state, q: queryInput.value, start: new Date(a).toISOString(), end: new Date(b).toISOString() }),
  addFilter,
);
const tail = new LiveTail(
  byId("tail-rows"),
  byId("tail-scroll"),
  byId("tail-status"),
  byId("tail-count"),
  byId<HTMLButtonElement>("tail-toggle"),
  addFilter,
);
const network = new NetworkView(showError);
const pipeline = new PipelineView(showError);
const badge = new AlertBadge();
const alerts = new AlertsView(
  showError,
  (patch) => navigate({ ...state, q: queryInput.value, ...patch }),
  addFilter,
  (q, a, b) => navigate({ ...state, q, start: new Date(a).toISOString(), end: new Date(b).toISOString(), view: "search" }),
  badge,
);
const rules = new RulesView(showError);
const sources = new SourcesView(showError);
const patterns = new PatternsView(byId("patterns-page"), showError);
byId("tail-clear").addEventListener("click", () => tail.clear());

/** Why the query bar is off on the pages that do not search. */
const QUERY_OFF: Partial<Record<State["view"], string>> = {
  network: "the Network page shows the TCP state monitor; the query applies to Search and Live tail",
  pipeline: "the Pipeline page shows the Kafka pipeline now; the query applies to Search and Live tail",
  alerts: "the Alerts page has its own filters (status, rule, words); the time range applies to it",
  rules: "the Rules page lists the rules; the time range is the backtests'",
  sources: "the Sources page shows the structures learned per source now",
};

/** Shows a state in the inputs (query, range picker, tabs). */
function syncInputs(s: State): void {
  queryInput.value = s.q;
  const p = presetOf(s.start, s.end);
  preset.value = p;
  custom.hidden = p !== "custom";
  if (p === "custom") {
    const now = Date.now();
    const a = resolveTime(s.start, now);
    const b = resolveTime(s.end, now);
    fromInput.value = a !== null && !Number.isNaN(a) ? toLocalInput(a) : "";
    toInput.value = b !== null && !Number.isNaN(b) ? toLocalInput(b) : "";
  }
  for (const v of VIEWS) {
    byId(v).hidden = s.view !== v;
    byId(`tab-${v}`).classList.toggle("active", s.view === v);
    byId(`tab-${v}`).setAttribute("aria-selected", String(s.view === v));
  }
  document.body.dataset.view = s.view;
  byId("range").classList.toggle("disabled", s.view === "tail" || s.view === "pipeline" || s.view === "sources");
  queryInput.disabled = s.view !== "search" && s.view !== "tail" && s.view !== "patterns";
  queryInput.title = QUERY_OFF[s.view] ?? "";
  byId<HTMLButtonElement>("run").textContent = s.view === "search" || s.view === "tail" || s.view === "patterns" ? "Search" : "Apply";
}

/** Applies a state: inputs, then runs the view (search query or tail stream). */
function apply(s: State): void {
  state = s;
  syncInputs(s);
  if (s.view !== "tail") tail.stop();
  if (s.view !== "network") network.stop();
  if (s.view !== "pipeline") pipeline.stop();
  if (s.view !== "alerts") alerts.stop();
  if (s.view !== "rules") rules.stop();
  if (s.view !== "sources") sources.stop();
  if (s.view !== "patterns") patterns.stop();
  if (s.view === "search") {
    void search.run(s);
  } else if (s.view === "network") {
    void network.run(s);
  } else if (s.view === "pipeline") {
    showError(null);
    void pipeline.run();
  } else if (s.view === "alerts") {
    void alerts.run(s);
  } else if (s.view === "rules") {
    void rules.run(s);
  } else if (s.view === "sources") {
    void sources.run();
  } else if (s.view === "patterns") {
    showError(null);
    void patterns.run(s);
  } else {
    showError(null);
    tail.start(s.q.trim());
  }
}

/** Moves to a new state: records it in the hash (a history entry) and applies it. */
function navigate(s: State): void {
  const hash = formatHash(s);
  if (location.hash !== hash) history.pushState(null, "", hash);
  apply(s);
}

/** The range chosen in the picker, or an error message. */
function pickedRange(): { start: string; end: string } | string {
  const p = preset.value;
  if (p !== "custom") return { start: PRESETS[p] ?? "", end: "" };
  const a = fromLocalInput(fromInput.value);
  const b = fromLocalInput(toInput.value);
  if (Number.isNaN(a) && fromInput.value) return "cannot read the start time";
  if (Number.isNaN(b) && toInput.value) return "cannot read the end time";
  if (!Number.isNaN(a) && !Number.isNaN(b) && a >= b) return "the start of the time range must be before its end";
  return {
    start: Number.isNaN(a) ? "" : new Date(a).toISOString(),
    end: Number.isNaN(b) ? "" : new Date(b).toISOString(),
  };
}

function submit(): void {
  const r = pickedRange();
  if (typeof r === "string") {
    showError(r);
    return;
  }
  navigate({ ...state, q: queryInput.value, ...r });
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  submit();
});
preset.addEventListener("change", () => {
  if (preset.value === "custom") {
    // Start the custom range from what is shown now.
    const now = Date.now();
    const a = resolveTime(state.start, now);
    fromInput.value = toLocalInput(a !== null && !Number.isNaN(a) ? a : now - 3_600_000);
    const b = resolveTime(state.end, now);
    toInput.value = toLocalInput(b !== null && !Number.isNaN(b) ? b : now);
    custom.hidden = false;
    fromInput.focus();
    return;
  }
  submit();
});
for (const inp of [fromInput, toInput]) {
  inp.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      submit();
    }
  });
}
for (const v of VIEWS) {
  byId(`tab-${v}`).addEventListener("click", (ev) => {
    ev.preventDefault();
    navigate({ ...state, q: queryInput.value, view: v });
  });
}
// "/" focuses the query bar (as in Kibana and GitHub), unless typing somewhere already.
document.addEventListener("keydown", (ev) => {
  const t = ev.target as HTMLElement | null;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
  if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    ev.preventDefault();
    queryInput.focus();
    queryInput.select();
  }
});
window.addEventListener("popstate", () => apply(parseHash(location.hash)));
window.addEventListener("hashchange", () => {
  const s = parseHash(location.hash);
  if (formatHash(s) !== formatHash(state)) apply(s);
});

// Who is logged in, and the logout button when the dashboard uses a session cookie.
async function showSession(): Promise<void> {
  try {
    const me = await getJson<{ name: string; scope: string; via: string }>("session");
    if (me.via !== "session") return;
    const who = byId("session-who");
    who.textContent = `${me.name} (${me.scope})`;
    byId("session").hidden = false;
  } catch {
    // auth off or an older server: nothing to show
  }
}
byId("logout").addEventListener("click", () => void logout());
void showSession();

// Server status in the top bar.
const healthText = byId("health-text");
async function pollHealth(): Promise<void> {
  const box = byId("health");
  try {
    await getJson<unknown>("health");
    box.dataset.state = "ok";
    let text = "connected";
    try {
      const stats = await getJson<Record<string, unknown>>("stats");
      box.title = JSON.stringify(stats, null, 2);
      const n = findCount(stats);
      if (n !== null) text = `${n.toLocaleString()} events stored`;
    } catch {
      box.title = "health ok; stats unavailable";
    }
    healthText.textContent = text;
  } catch (e) {
    box.dataset.state = "down";
    healthText.textContent = "server unreachable";
    box.title = (e as Error).message;
  }
}

/** Stored events from /stats: the sum of the time windows' docs, or a top-level count. */
function findCount(stats: Record<string, unknown>): number | null {
  const windows = stats["windows"];
  if (Array.isArray(windows) && windows.every((w) => typeof w?.docs === "number")) {
    return windows.reduce((n: number, w: { docs: number }) => n + w.docs, 0);
  }
  for (const k of ["events", "num_docs", "docs", "total_events", "stored_events", "event_count"]) {
    const v = stats[k];
    if (typeof v === "number") return v;
  }
  const store = stats["store"];
  if (store && typeof store === "object") return findCount(store as Record<string, unknown>);
  return null;
}

void pollHealth();
setInterval(() => void pollHealth(), 15_000);
void badge.refresh();

if (!location.hash) history.replaceState(null, "", formatHash(state));
apply(state);
queryInput.focus();
