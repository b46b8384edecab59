// The Network page: the TCP state monitor (sockets per state and process now, CLOSE_WAIT leaders,
// top talkers over the range, RTT / retransmits / drops from the kernel counters, transitions over
// time, time in state over the range, recent alerts, monitor mode).

import uPlot from "uplot";
import { ApiError, getJson } from "./api";
import { byId, el, valueText } from "./dom";
import { scopeOf } from "./scope";
import type { State } from "./state";
import { ServiceMapView } from "./netmap";
import { PerfHistoryView } from "./netperf";
import { formatTime } from "./time";
import type { HistogramResponse, LogEvent, SearchResponse, TermsResponse } from "./types";

/** The alerts of the built-in network rules (their names start with tcp_ or network_). */
const NETWORK_ALERTS = "event.dataset:loglynx.alert AND (rule.name:tcp_* OR rule.name:network_*)";

/** An alert event's `log.level` back to the rule's Sigma level (crates/detect/src/alerts.rs). */
const SEVERITY: Record<string, string> = {
  crit: "critical",
  error: "high",
  warn: "medium",
  notice: "low",
  info: "informational",
};

/** Kernel TCP state names in connection-lifecycle order (the column order of the tables). */
export const TCP_STATES = [
  "LISTEN",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "CLOSE_WAIT",
  "LAST_ACK",
  "CLOSING",
  "TIME_WAIT",
  "CLOSE",
] as const;

/** States charted in "transitions over time" (entered states), with their colours. */
const CHARTED: [string, string][] = [
  ["SYN_SENT", "#8b95a5"],
  ["SYN_RECV", "#e3b341"],
  ["ESTABLISHED", "#3fb950"],
  ["FIN_WAIT1", "#4fb3a9"],
  ["FIN_WAIT2", "#d2a8ff"],
  ["CLOSE_WAIT", "#f25f5c"],
  ["LAST_ACK", "#f0a53a"],
  ["TIME_WAIT", "#3d8bfd"],
  ["CLOSE", "#7f8797"],
];

const BUCKETS = 60;

/**
 * Time-in-state buckets: upper bounds in microseconds (the last bucket has none) and labels, as
 * the netmon crate's `view.rs` (`DURATION_BOUNDS_US`, `DURATION_LABELS`). A transition's
 * `tcp.state_duration_us` is 0 when the socket's previous change was not seen: left out.
 */
export const TIS_BOUNDS_US = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 60_000_000];
export const TIS_LABELS = ["<1ms", "1-10ms", "10-100ms", "0.1-1s", "1-10s", "10s-1m", ">=1m"];

/** The query of time-in-state bucket `i`: stored transitions whose old state lasted that long. */
export function timeInStateQuery(i: number): string {
  const lo = i === 0 ? 1 : TIS_BOUNDS_US[i - 1];
  const hi = TIS_BOUNDS_US[i];
  const q = `event.dataset:network.tcp AND tcp.state_duration_us:>=${lo}`;
  return hi === undefined ? q : `${q} AND tcp.state_duration_us:<${hi}`;
}

const POLL_MS = 3000;
const ALERTS = 20;

/** `GET /api/v1/network/status`. */
export interface NetStatus {
  mode: string;
  reason: string;
  transitions: number;
  events_sent: number;
  drops: { kernel: number; queue: number };
  last_snapshot: string | null;
  snapshot_interval_s: number;
  sockets: number;
  alerts_raised: number;
  alerts_active: string[];
}

/** `GET /api/v1/network/sockets`. */
export interface NetSockets {
  mode: string;
  as_of: string;
  total: number;
  by_state: Record<string, number>;
  processes: { pid: number; comm: string; total: number; states: Record<string, number> }[];
  unowned: Record<string, number>;
  close_wait_leaders: {
    pid: number;
    comm: string;
    count: number;
    local_ports: number[];
    peers: { ip: string; count: number }[];
  }[];
  time_wait: { total: number; by_endpoint: { side: string; ip: string; port: number; count: number }[] };
  /** Since the monitor started (the page shows the stored transitions of the range instead). */
  time_in_state?: TimeInState;
}

/** `GET /api/v1/network/perf` (cumulative since the monitor started; `as_of` null before a read). */
export interface NetPerf {
  as_of?: string | null;
  processes?: {
    pid: number;
    comm: string;
    retransmits: number;
    synack_retransmits: number;
    resets_sent: number;
    resets_received: number;
    tx_bytes: number;
    rx_bytes: number;
  }[];
  rtt?: { pid: number; peer: string; count: number; mean_us: number; p50_us: number; p99_us: number }[];
  drops?: { code: number; reason: string; count: number }[];
}

/** One socket of `GET /api/v1/network/netstat` (netmon's `NetstatEntry`). */
export interface NetstatRow {
  state: string;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  owner?: { pid: number; comm: string } | null;
  stats?: {
    recv_q: number;
    send_q: number;
    tcp?: { rtt_us: number; total_retrans: number; bytes_acked: number; bytes_received: number };
  };
  cgroup?: string;
  service?: string;
}

/** `GET /api/v1/network/netstat`. */
export interface NetNetstat {
  as_of: string;
  total: number;
  sockets: NetstatRow[];
}

const NETSTAT_ROWS = 50;

function endpoint(ip: string, port: number): string {
  return `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
}

/** Counts per state left, per duration bucket. */
export interface TimeInState {
  labels: string[];
  states: Record<string, number[]>;
}

/** `GET /api/v1/network/talkers`. */
export interface NetTalkers {
  connections: number;
  scanned: number;
  truncated: boolean;
  groups: number;
  talkers: {
    process: string;
    service: string;
    direction: string;
    peer: string;
    port: number;
    connections: number;
    sent_bytes: number;
    received_bytes: number;
    bytes: number;
    retransmits: number;
  }[];
}

const TALKERS = 20;

/** A duration in microseconds for a table cell (`850 µs`, `12.5 ms`, `1.20 s`). */
export function usText(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** Retransmits per second between two cumulative reads (null without an earlier read). */
export function ratePerSec(prev: { n: number; t: number } | undefined, n: number, t: number): number | null {
  if (!prev || t <= prev.t || n < prev.n) return null;
  return (n - prev.n) / ((t - prev.t) / 1000);
}

/** The states to show as columns: those present now, in lifecycle order (CLOSE_WAIT always). */
export function stateColumns(byState: Record<string, number>): string[] {
  const known = TCP_STATES.filter((s) => (byState[s] ?? 0) > 0 || s === "CLOSE_WAIT");
  const other = Object.keys(byState)
    .filter((s) => !(TCP_STATES as readonly string[]).includes(s) && byState[s] > 0)
    .sort();
  return [...known, ...other];
}

function td(text: string, cls = ""): HTMLTableCellElement {
  return el("td", cls, text);
}

function num(n: number | undefined): string {
  return n ? n.toLocaleString() : "";
}

/** Replaces the rows of a table body; an empty list shows `empty` across `cols` columns. */
function fill(body: HTMLElement, rows: HTMLTableRowElement[], cols: number, empty: string): void {
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el("tr", "empty-row");
    const c = td(empty, "muted");
    c.colSpan = cols;
    tr.appendChild(c);
    body.appendChild(tr);
  }
}

/** The Network view; `run(state)` refreshes everything, then the socket tables poll. */
export class NetworkView {
  private timer: ReturnType<typeof setInterval> | null = null;
  private plot: uPlot | null = null;
  private ctl: AbortController | null = null;
  private readonly chart = byId("net-chart");
  private readonly resize: ResizeObserver;
  /** The previous perf read per pid (retransmits, ms), for the rate column. */
  private prevRetrans = new Map<number, { n: number; t: number }>();
  private readonly history: PerfHistoryView;
  private readonly serviceMap: ServiceMapView;

  constructor(private readonly showError: (msg: string | null) => void) {
    this.history = new PerfHistoryView(showError);
    this.serviceMap = new ServiceMapView(showError);
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.chartWidth(), height: 180 });
    });
    this.resize.observe(this.chart);
    const sel = byId("net-ns-state") as HTMLSelectElement;
    for (const st of TCP_STATES) sel.appendChild(el("option", undefined, st));
    sel.addEventListener("change", () => {
      if (this.ctl) void this.loadNetstat(this.ctl.signal);
    });
  }

  private chartWidth(): number {
    return Math.max(300, this.chart.clientWidth);
  }

  /** Stops polling (the view was left). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.ctl?.abort();
    this.ctl = null;
  }

  /** Loads the whole page for a state's time range and starts polling the socket tables. */
  async run(s: State): Promise<void> {
    this.stop();
    this.showError(null);
    const ctl = new AbortController();
    this.ctl = ctl;
    const on = await this.pollNow(ctl.signal);
    if (ctl.signal.aborted) return;
    this.timer = setInterval(() => void this.pollNow(ctl.signal), POLL_MS);
    let scope;
    try {
      scope = scopeOf(s, Date.now());
    } catch (e) {
      this.showError((e as Error).message);
      return;
    }
    await Promise.all([
      this.loadTalkers(scope.start, scope.end, ctl.signal),
      this.serviceMap.load(scope.start, scope.end, ctl.signal),
      this.loadTransitions(scope.start, scope.end, ctl.signal, on),
      this.loadTimeInState(scope.start, scope.end, ctl.signal, on),
      this.loadNetstat(ctl.signal),
      this.loadAlerts(scope.start, scope.end, ctl.signal),
      this.history.load(scope.start, scope.end, ctl.signal),
    ]);
  }

  /** Status and sockets now; returns whether the monitor is on. */
  private async pollNow(signal: AbortSignal): Promise<boolean> {
    const page = byId("network");
    try {
      const [st, so, perf] = await Promise.all([
        getJson<NetStatus>("network/status", {}, signal),
        getJson<NetSockets>("network/sockets", {}, signal),
        getJson<NetPerf>("network/perf", {}, signal),
      ]);
      if (signal.aborted) return true;
      page.dataset.monitor = "on";
      byId("net-off").hidden = true;
      this.renderStatus(st, so);
      this.renderProcesses(so);
      this.renderLeaders(so);
      this.renderPerf(perf, so.mode);
      return true;
    } catch (e) {
      if (signal.aborted || (e as Error).name === "AbortError") return false;
      if (e instanceof ApiError && e.status === 404) {
        page.dataset.monitor = "off";
        byId("net-off").hidden = false;
        byId("net-mode").textContent = "off";
        byId("net-mode").dataset.mode = "off";
        byId("net-status-text").textContent = "";
        return false;
      }
      page.dataset.monitor = "error";
      this.showError((e as Error).message);
      return false;
    }
  }

  private renderStatus(st: NetStatus, so: NetSockets): void {
    const mode = byId("net-mode");
    mode.textContent = st.mode;
    mode.dataset.mode = st.mode;
    const drops = st.drops.kernel + st.drops.queue;
    const parts = [
      st.reason,
      `${so.total.toLocaleString()} sockets`,
      `${st.transitions.toLocaleString()} transitions`,
      `${drops.toLocaleString()} dropped` +
        (drops ? ` (kernel ${st.drops.kernel}, queue ${st.drops.queue})` : ""),
      `as of ${formatTime(so.as_of, false)}`,
    ];
    if (st.alerts_active.length) parts.push(`active alerts: ${st.alerts_active.join(", ")}`);
    byId("net-status-text").textContent = parts.join("  ·  ");
    byId("net-status-text").dataset.drops = String(drops);
  }

  private renderProcesses(so: NetSockets): void {
    const cols = stateColumns(so.by_state);
    const head = byId("net-procs-head");
    const hr = el("tr");
    hr.append(el("th", "c-proc", "Process"), el("th", "c-num", "PID"), el("th", "c-num", "Total"));
    for (const c of cols) hr.appendChild(el("th", "c-num", c));
    head.replaceChildren(hr);
    const rows: HTMLTableRowElement[] = [];
    const addRow = (name: string, pid: string, total: number, states: Record<string, number>) => {
      const tr = el("tr");
      tr.dataset.pid = pid;
      tr.append(td(name, "c-proc"), td(pid, "c-num muted"), td(num(total), "c-num"));
      for (const c of cols) {
        const cell = td(num(states[c]), "c-num");
        cell.dataset.state = c;
        if (c === "CLOSE_WAIT" && states[c]) cell.classList.add("hot");
        tr.appendChild(cell);
      }
      rows.push(tr);
    };
    for (const p of so.processes) addRow(p.comm, String(p.pid), p.total, p.states);
    const unownedTotal = Object.values(so.unowned).reduce((a, b) => a + b, 0);
    if (unownedTotal > 0) addRow("(no owner)", "", unownedTotal, so.unowned);
    fill(byId("net-procs"), rows, cols.length + 3, "no sockets");
    const totals = cols.map((c) => `${c} ${so.by_state[c] ?? 0}`).join(" · ");
    byId("net-procs-summary").textContent = totals;
  }

  private renderLeaders(so: NetSockets): void {
    const rows = so.close_wait_leaders.map((l) => {
      const tr = el("tr");
      tr.dataset.pid = String(l.pid);
      const peers = l.peers.map((p) => `${p.ip} (${p.count})`).join(", ");
      tr.append(
        td(l.comm, "c-proc"),
        td(String(l.pid), "c-num muted"),
        td(String(l.count), "c-num hot"),
        td(l.local_ports.join(", "), "c-mono"),
        td(peers, "c-mono"),
      );
      tr.cells[2].dataset.state = "CLOSE_WAIT";
      return tr;
    });
    fill(byId("net-leaders"), rows, 5, "no socket in CLOSE_WAIT");
    const tw = so.time_wait;
    const top = tw.by_endpoint
      .slice(0, 3)
      .map((e) => `${e.side} ${e.ip.includes(":") ? `[${e.ip}]` : e.ip}:${e.port} (${e.count})`)
      .join(", ");
    byId("net-timewait").textContent =
      `TIME_WAIT: ${tw.total.toLocaleString()} sockets` + (top ? `; busiest: ${top}` : "");
  }

  /**
   * Time spent in each state before leaving it, over the range: the stored transitions
   * (`event.dataset:network.tcp`) counted per `tcp.old_state`, one terms request per duration
   * bucket (so it works through a search root as the other panels do).
   */
  private async loadTimeInState(
    start: string | undefined,
    end: string | undefined,
    signal: AbortSignal,
    on: boolean,
  ): Promise<void> {
    const rs = await Promise.allSettled(
      TIS_LABELS.map((_, i) =>
        getJson<TermsResponse>(
          "terms",
          { q: timeInStateQuery(i), start, end, field: "tcp.old_state", size: TCP_STATES.length },
          signal,
        ),
      ),
    );
    if (signal.aborted) return;
    const failed = rs.find((r) => r.status === "rejected");
    if (failed) {
      this.showError(`time in state: ${((failed as PromiseRejectedResult).reason as Error).message}`);
      return;
    }
    const t: TimeInState = { labels: TIS_LABELS, states: {} };
    rs.forEach((r, i) => {
      for (const b of (r as PromiseFulfilledResult<TermsResponse>).value.buckets) {
        (t.states[b.value] ??= TIS_LABELS.map(() => 0))[i] += b.count;
      }
    });
    this.renderTimeInState(t, on);
  }

  private renderTimeInState(t: TimeInState, on: boolean): void {
    const head = byId("net-tis-head");
    const body = byId("net-tis");
    const labels = t.labels;
    const hr = el("tr");
    hr.append(el("th", "c-state", "State left"), el("th", "c-num", "Total"));
    for (const l of labels) hr.appendChild(el("th", "c-num", l));
    head.replaceChildren(hr);
    const states = Object.keys(t.states).sort(
      (a, b) =>
        (TCP_STATES as readonly string[]).indexOf(a) - (TCP_STATES as readonly string[]).indexOf(b),
    );
    const rows = states.map((s) => {
      const counts = t.states[s];
      const total = counts.reduce((a, b) => a + b, 0);
      const max = Math.max(1, ...counts);
      const tr = el("tr");
      tr.dataset.state = s;
      tr.append(td(s, "c-state"), td(total.toLocaleString(), "c-num"));
      for (const c of counts) {
        const cell = td(num(c), "c-num heat");
        cell.style.setProperty("--pct", `${Math.round((100 * c) / max)}%`);
        tr.appendChild(cell);
      }
      return tr;
    });
    const note = on
      ? "no state left in this range (transitions are seen in eBPF mode only)"
      : "the monitor is off";
    fill(body, rows, labels.length + 2, note);
  }

  /** RTT per process and peer, retransmits and volume per process, drops by reason. */
  private renderPerf(p: NetPerf, mode: string): void {
    const none = mode === "bpf" ? "no sample yet" : "needs eBPF mode with [tcp_states] perf = true";
    byId("net-perf-asof").textContent = p.as_of ? `as of ${formatTime(p.as_of, false)}` : "";
    const names = new Map((p.processes ?? []).map((x) => [x.pid, x.comm]));
    const rtt = [...(p.rtt ?? [])].sort((a, b) => b.p99_us - a.p99_us || b.count - a.count);
    fill(
      byId("net-rtt"),
      rtt.map((r) => {
        const tr = el("tr");
        tr.dataset.pid = String(r.pid);
        tr.dataset.peer = r.peer;
        const p50 = td(usText(r.p50_us), "c-num");
        p50.dataset.us = String(r.p50_us);
        const p99 = td(usText(r.p99_us), "c-num");
        p99.dataset.us = String(r.p99_us);
        const cnt = td(r.count.toLocaleString(), "c-num");
        cnt.dataset.count = String(r.count);
        tr.append(
          td(names.get(r.pid) ?? (r.pid ? "" : "(unknown owner)"), "c-proc"),
          td(String(r.pid), "c-num muted"),
          td(r.peer, "c-mono"),
          cnt,
          td(usText(r.mean_us), "c-num"),
          p50,
          p99,
        );
        return tr;
      }),
      7,
      none,
    );
    const now = Date.now();
    const procs = [...(p.processes ?? [])].sort(
      (a, b) => b.retransmits - a.retransmits || b.tx_bytes + b.rx_bytes - (a.tx_bytes + a.rx_bytes),
    );
    const seen = new Map<number, { n: number; t: number }>();
    fill(
      byId("net-perf-procs"),
      procs.map((x) => {
        const rate = ratePerSec(this.prevRetrans.get(x.pid), x.retransmits, now);
        seen.set(x.pid, { n: x.retransmits, t: now });
        const tr = el("tr");
        tr.dataset.pid = String(x.pid);
        const cells: [string, string, number | null][] = [
          ["tx", num(x.tx_bytes), x.tx_bytes],
          ["rx", num(x.rx_bytes), x.rx_bytes],
          ["retransmits", num(x.retransmits), x.retransmits],
          ["rate", rate === null ? "" : rate.toFixed(1), null],
          ["resets_sent", num(x.resets_sent), x.resets_sent],
          ["resets_received", num(x.resets_received), x.resets_received],
        ];
        tr.append(td(x.comm || "(unknown owner)", "c-proc"), td(String(x.pid), "c-num muted"));
        for (const [k, text, v] of cells) {
          const c = td(text, "c-num");
          c.dataset.k = k;
          if (v !== null) c.dataset.value = String(v);
          tr.appendChild(c);
        }
        return tr;
      }),
      8,
      none,
    );
    this.prevRetrans = seen;
    fill(
      byId("net-drops"),
      (p.drops ?? []).map((d) => {
        const tr = el("tr");
        tr.dataset.reason = d.reason;
        tr.append(td(d.reason, "c-mono"), td(String(d.code), "c-num muted"), td(d.count.toLocaleString(), "c-num"));
        tr.cells[2].dataset.value = String(d.count);
        return tr;
      }),
      3,
      mode === "bpf" ? "no drop counted" : none,
    );
  }

  /** The socket snapshot (`GET /api/v1/network/netstat`: sock_diag now, most bytes first). */
  private async loadNetstat(signal: AbortSignal): Promise<void> {
    const state = (byId("net-ns-state") as HTMLSelectElement).value;
    let r: NetNetstat;
    try {
      r = await getJson<NetNetstat>("network/netstat", { state: state || undefined, size: NETSTAT_ROWS }, signal);
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status === 404) {
        fill(byId("net-netstat"), [], 12, "the monitor is off");
        return;
      }
      this.showError(`socket snapshot: ${(e as Error).message}`);
      return;
    }
    if (signal.aborted) return;
    const rows = r.sockets.map((x) => {
      const tr = el("tr");
      tr.dataset.state = x.state;
      tr.dataset.local = endpoint(x.laddr, x.lport);
      tr.dataset.peer = endpoint(x.raddr, x.rport);
      if (x.owner) tr.dataset.pid = String(x.owner.pid);
      const t = x.stats?.tcp;
      const cells: [string, string, string][] = [
        ["state", x.state, "c-state"],
        ["local", endpoint(x.laddr, x.lport), "c-mono"],
        ["peer", endpoint(x.raddr, x.rport), "c-mono"],
        ["process", x.owner?.comm ?? "", "c-proc"],
        ["pid", x.owner ? String(x.owner.pid) : "", "c-num muted"],
        ["service", x.service ?? x.cgroup ?? "", ""],
        ["recv_q", x.stats ? String(x.stats.recv_q) : "", "c-num"],
        ["send_q", x.stats ? String(x.stats.send_q) : "", "c-num"],
        ["rtt_ms", t ? (t.rtt_us / 1000).toFixed(3) : "", "c-num"],
        ["retransmits", t ? String(t.total_retrans) : "", "c-num"],
        ["sent", t ? t.bytes_acked.toLocaleString() : "", "c-num"],
        ["received", t ? t.bytes_received.toLocaleString() : "", "c-num"],
      ];
      for (const [k, text, cls] of cells) {
        const c = td(text, cls);
        c.dataset.k = k;
        tr.appendChild(c);
      }
      return tr;
    });
    fill(byId("net-netstat"), rows, 12, state ? `no ${state} socket now` : "no TCP socket now");
    byId("net-ns-count").textContent =
      `${r.total.toLocaleString()} sockets${r.total > rows.length ? `, ${rows.length} shown` : ""}, as of ${formatTime(r.as_of, false)}`;
  }

  /** Top talkers over the range (`GET /api/v1/network/talkers`, from stored connections). */
  private async loadTalkers(
    start: string | undefined,
    end: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    let r: NetTalkers;
    try {
      r = await getJson<NetTalkers>("network/talkers", { start, end, size: TALKERS }, signal);
    } catch (e) {
      if (signal.aborted) return;
      this.showError(`talkers: ${(e as Error).message}`);
      return;
    }
    if (signal.aborted) return;
    const rows = r.talkers.map((t) => {
      const tr = el("tr");
      tr.dataset.process = t.process;
      tr.dataset.peer = t.peer;
      tr.dataset.port = String(t.port);
      tr.dataset.direction = t.direction;
      tr.append(
        td(t.process, "c-proc"),
        td(t.service, "c-mono muted"),
        td(t.direction),
        td(t.peer, "c-mono"),
        td(String(t.port), "c-num"),
      );
      for (const [k, v] of [
        ["connections", t.connections],
        ["sent", t.sent_bytes],
        ["received", t.received_bytes],
        ["bytes", t.bytes],
        ["retransmits", t.retransmits],
      ] as const) {
        const c = td(v.toLocaleString(), "c-num");
        c.dataset.k = k;
        c.dataset.value = String(v);
        tr.appendChild(c);
      }
      return tr;
    });
    fill(byId("net-talkers"), rows, 10, "no finished connection in this range");
    byId("net-talkers-count").textContent = r.connections
      ? `${r.connections.toLocaleString()} connections, ${r.groups.toLocaleString()} groups` +
        (r.truncated ? `; newest ${r.scanned.toLocaleString()} summed` : "")
      : "";
  }

  /** One histogram per charted state over the range, drawn as lines. */
  private async loadTransitions(
    start: string | undefined,
    end: string | undefined,
    signal: AbortSignal,
    on: boolean,
  ): Promise<void> {
    const box = this.chart;
    box.classList.add("loading");
    const rs = await Promise.allSettled(
      CHARTED.map(([st]) =>
        getJson<HistogramResponse>(
          "histogram",
          { q: `event.dataset:network.tcp AND tcp.new_state:${st}`, start, end, buckets: BUCKETS },
          signal,
        ),
      ),
    );
    if (signal.aborted) return;
    box.classList.remove("loading");
    this.plot?.destroy();
    this.plot = null;
    const failed = rs.find((r) => r.status === "rejected");
    if (failed) {
      this.showError(`transitions: ${((failed as PromiseRejectedResult).reason as Error).message}`);
      return;
    }
    const hs = rs.map((r) => (r as PromiseFulfilledResult<HistogramResponse>).value);
    const xs = hs[0].buckets.map((b) => Date.parse(b.start) / 1000);
    const series = hs.map((h) => h.buckets.map((b) => b.count));
    const totals = hs.map((h) => h.buckets.reduce((a, b) => a + b.count, 0));
    box.dataset.total = String(totals.reduce((a, b) => a + b, 0));
    const sum = totals.reduce((a, b) => a + b, 0);
    box.classList.toggle("empty", sum === 0);
    box.dataset.empty = on ? "no TCP transitions in this range" : "the monitor is off";
    if (sum === 0 || xs.length === 0) return;
    const interval = Math.max(hs[0].interval_ms, 1) / 1000;
    // One more point at the end of the last bucket so that its step is drawn as wide as the others.
    const xsEnd = [...xs, xs[xs.length - 1] + interval];
    const data: uPlot.AlignedData = [
      xsEnd,
      ...series.map((s, i) => (totals[i] > 0 ? [...s, s[s.length - 1]] : xsEnd.map(() => null))),
    ];
    const opts: uPlot.Options = {
      width: this.chartWidth(),
      height: 180,
      padding: [8, 8, 0, 0],
      legend: { show: true, live: false },
      cursor: { points: { show: false }, y: false, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (_u, min, max) => [min, max] },
        y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.1)] },
      },
      axes: [
        { stroke: "#8b95a5", grid: { stroke: "#252b36", width: 1 }, ticks: { stroke: "#252b36" } },
        {
          stroke: "#8b95a5",
          size: 44,
          grid: { stroke: "#252b36", width: 1 },
          ticks: { stroke: "#252b36" },
          values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")),
        },
      ],
      series: [
        { value: (_u, v) => (v === null ? "" : formatTime(v * 1000, false)) },
        ...CHARTED.map(([name, color], i) => ({
          label: `${name} (${totals[i]})`,
          stroke: color,
          fill: `${color}26`,
          width: 1.5,
          show: totals[i] > 0,
          paths: uPlot.paths.stepped!({ align: 1 }),
          points: { show: false },
        })),
      ],
    };
    this.plot = new uPlot(opts, data, box);
  }

  /** The newest alerts of the network rules (crates/detect/rules/network.yml) in the range. */
  private async loadAlerts(
    start: string | undefined,
    end: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    let r: SearchResponse;
    try {
      r = await getJson<SearchResponse>(
        "search",
        { q: NETWORK_ALERTS, start, end, limit: ALERTS, sort: "desc" },
        signal,
      );
    } catch (e) {
      if (signal.aborted) return;
      this.showError(`alerts: ${(e as Error).message}`);
      return;
    }
    if (signal.aborted) return;
    const rows = r.hits.map((h: LogEvent) => {
      const tr = el("tr");
      const sev = SEVERITY[valueText(h["log.level"])] ?? "";
      const sevCell = td("", "c-sev");
      sevCell.appendChild(el("span", `sev sev-${sev || "other"}`, sev || "–"));
      tr.append(
        td(formatTime(valueText(h["@timestamp"])), "c-time"),
        sevCell,
        td(valueText(h["rule.name"]), "c-mono"),
        td(valueText(h["message"]), "c-msg"),
      );
      return tr;
    });
    fill(byId("net-alerts"), rows, 4, "no alert in this range");
    byId("net-alerts-count").textContent = r.total
      ? `${r.total.toLocaleString()} in range${r.total > ALERTS ? `, newest ${ALERTS} shown` : ""}`
      : "";
  }
}
