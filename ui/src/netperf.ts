// The Network page's "performance over time" panels: RTT percentiles and retransmit rate per
// process / service and peer, and drops by reason, over the selected range, from the stored
// network.perf events (`GET /api/v1/network/perf/history`). The RTT chart draws each pair's mean
// RTT beside its baseline (the usual mean the monitor compared each interval with, dashed) and
// marks the buckets holding an interval the rule tcp_rtt_above_baseline flags: usual vs now. The
// retransmit-rate chart does the same with the pair's usual rate and the intervals the rule
// tcp_retransmit_above_baseline flags.

import uPlot from "uplot";
import { getJson } from "./api";
import { byId, el } from "./dom";
import { formatTime } from "./time";

/** Totals of a group or of one bucket. */
export interface PerfPoint {
  retransmits: number;
  segs_out: number;
  retransmit_rate: number | null;
  /** The pair's usual retransmit rate the intervals were compared with; null before it has one. */
  retransmit_baseline_rate: number | null;
  /** Intervals that tcp_retransmit_above_baseline flags. */
  retransmit_above_baseline: number;
  rtt_samples: number;
  rtt_p50_us: number | null;
  rtt_p99_us: number | null;
  rtt_mean_us: number | null;
  /** The pair's usual mean RTT the intervals were compared with; null before it has one. */
  rtt_baseline_mean_us: number | null;
  /** Intervals that tcp_rtt_above_baseline flags. */
  rtt_above_baseline: number;
}

/** `GET /api/v1/network/perf/history`. */
export interface PerfHistory {
  events: number;
  scanned: number;
  truncated: boolean;
  buckets: string[];
  bucket_ms: number;
  groups: number;
  peers: (PerfPoint & { process: string; service: string; peer: string; series: PerfPoint[] })[];
  drops: { reason: string; count: number; series: number[] }[];
  owner_drops: { process: string; service: string; reason: string; count: number }[];
}

const BUCKETS = 60;
const GROUPS = 50;
/** Lines drawn per chart (the first groups / reasons). */
const LINES = 6;
const COLORS = ["#3d8bfd", "#f25f5c", "#3fb950", "#e3b341", "#d2a8ff", "#4fb3a9"];

/** A retransmit rate as a percentage cell (`1.25 %`; empty without segments). */
export function rateText(rate: number | null): string {
  return rate === null ? "" : `${(rate * 100).toFixed(2)} %`;
}

export function usText(us: number | null): string {
  if (us === null) return "";
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export function cell(text: string, cls: string, k?: string, value?: number | null): HTMLTableCellElement {
  const c = el("td", cls, text);
  if (k) c.dataset.k = k;
  if (value !== undefined && value !== null) c.dataset.value = String(value);
  return c;
}

export function fill(body: HTMLElement, rows: HTMLTableRowElement[], cols: number, empty: string): void {
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el("tr", "empty-row");
    const c = el("td", "muted", empty);
    c.colSpan = cols;
    tr.appendChild(c);
    body.appendChild(tr);
  }
}

/** The two charts and the tables; `load` redraws them for a range. */
export class PerfHistoryView {
  private plots: uPlot[] = [];

  constructor(private readonly showError: (msg: string | null) => void) {}

  async load(start: string | undefined, end: string | undefined, signal: AbortSignal): Promise<void> {
    let r: PerfHistory;
    try {
      r = await getJson<PerfHistory>("network/perf/history", { start, end, buckets: BUCKETS, size: GROUPS }, signal);
    } catch (e) {
      if (signal.aborted) return;
      this.showError(`performance over time: ${(e as Error).message}`);
      return;
    }
    if (signal.aborted) return;
    this.renderPeers(r);
    this.renderDrops(r);
    for (const p of this.plots) p.destroy();
    this.plots = [];
    const xs = r.buckets.map((b) => Date.parse(b) / 1000);
    const top = r.peers.slice(0, LINES);
    const ms = (us: number | null) => (us === null ? null : us / 1000);
    this.baselineChart(byId("net-perf-rtt-chart"), xs, top, "ms", (p) => ({
      value: ms(p.rtt_mean_us),
      baseline: ms(p.rtt_baseline_mean_us),
      above: p.rtt_above_baseline,
    }));
    const pct = (r: number | null) => (r === null ? null : r * 100);
    this.baselineChart(byId("net-perf-rate-chart"), xs, top, "%", (p) => ({
      value: pct(p.retransmit_rate),
      baseline: pct(p.retransmit_baseline_rate),
      above: p.retransmit_above_baseline,
    }));
    const reasons = r.drops.slice(0, LINES);
    this.chart(
      byId("net-perf-drops-chart"),
      xs,
      reasons.map((d) => `${d.reason} (${d.count})`),
      reasons.map((d) => d.series),
      "",
    );
    byId("net-perf-history-count").textContent = r.events
      ? `${r.events.toLocaleString()} summaries, ${r.groups.toLocaleString()} groups` +
        (r.truncated ? `; newest ${r.scanned.toLocaleString()} read` : "")
      : "";
  }

  private renderPeers(r: PerfHistory): void {
    const rows = r.peers.map((p) => {
      const tr = el("tr");
      tr.dataset.process = p.process;
      tr.dataset.peer = p.peer;
      tr.append(
        cell(p.process, "c-proc"),
        cell(p.service, "c-mono muted"),
        cell(p.peer, "c-mono"),
        cell(p.segs_out.toLocaleString(), "c-num", "segs_out", p.segs_out),
        cell(p.retransmits.toLocaleString(), "c-num", "retransmits", p.retransmits),
        cell(rateText(p.retransmit_rate), "c-num", "rate", p.retransmit_rate),
        cell(rateText(p.retransmit_baseline_rate), "c-num muted", "rate_baseline", p.retransmit_baseline_rate),
        cell(
          p.retransmit_above_baseline ? `${p.retransmit_above_baseline} ▲` : "",
          "c-num rate-above",
          "rate_above",
          p.retransmit_above_baseline,
        ),
        cell(p.rtt_samples.toLocaleString(), "c-num", "samples", p.rtt_samples),
        cell(usText(p.rtt_p50_us), "c-num", "p50", p.rtt_p50_us),
        cell(usText(p.rtt_p99_us), "c-num", "p99", p.rtt_p99_us),
        cell(usText(p.rtt_mean_us), "c-num", "mean", p.rtt_mean_us),
        cell(usText(p.rtt_baseline_mean_us), "c-num muted", "baseline", p.rtt_baseline_mean_us),
        cell(p.rtt_above_baseline ? `${p.rtt_above_baseline} ▲` : "", "c-num rtt-above", "above", p.rtt_above_baseline),
      );
      const why: string[] = [];
      if (p.rtt_above_baseline > 0) {
        tr.classList.add("above-baseline");
        why.push(`${p.rtt_above_baseline} interval(s) above the usual RTT (rule tcp_rtt_above_baseline)`);
      }
      if (p.retransmit_above_baseline > 0) {
        tr.classList.add("rate-above-baseline");
        why.push(
          `${p.retransmit_above_baseline} interval(s) above the usual retransmit rate (rule tcp_retransmit_above_baseline)`,
        );
      }
      if (why.length > 0) tr.title = why.join("; ");
      return tr;
    });
    fill(byId("net-perf-history"), rows, 14, "no performance summary in this range");
  }

  private renderDrops(r: PerfHistory): void {
    const rows = r.drops.map((d) => {
      const tr = el("tr");
      tr.dataset.reason = d.reason;
      tr.append(cell(d.reason, "c-mono"), cell("", "muted"), cell(d.count.toLocaleString(), "c-num", "count", d.count));
      return tr;
    });
    for (const d of r.owner_drops) {
      const tr = el("tr");
      tr.dataset.reason = d.reason;
      tr.dataset.process = d.process;
      tr.append(
        cell(d.reason, "c-mono"),
        cell(d.service ? `${d.process} (${d.service})` : d.process, "c-proc"),
        cell(d.count.toLocaleString(), "c-num", "count", d.count),
      );
      rows.push(tr);
    }
    fill(byId("net-perf-drops"), rows, 3, "no drop in this range");
  }

  /**
   * Per pair: its value (mean RTT in ms, or retransmit rate in %), its baseline dashed in the
   * same colour where it has one, and red points on the buckets with an interval above the
   * baseline. `data-baselines` (pairs with a baseline line) and `data-above` (intervals marked)
   * count what is drawn.
   */
  private baselineChart(
    box: HTMLElement,
    xs: number[],
    top: PerfHistory["peers"],
    unit: string,
    pick: (p: PerfPoint) => { value: number | null; baseline: number | null; above: number },
  ): void {
    const labels: string[] = [];
    const series: (number | null)[][] = [];
    const styles: Partial<uPlot.Series>[] = [];
    let baselines = 0;
    let above = 0;
    top.forEach((p, i) => {
      const color = COLORS[i % COLORS.length];
      const name = `${p.process || "?"} → ${p.peer}`;
      const points = p.series.map(pick);
      labels.push(name);
      series.push(points.map((s) => s.value));
      styles.push({ stroke: color });
      if (points.some((s) => s.baseline !== null)) {
        baselines += 1;
        labels.push(`${name} baseline`);
        series.push(points.map((s) => s.baseline));
        styles.push({ stroke: color, dash: [6, 4], points: { show: false } });
      }
      const flagged = pick(p).above;
      if (flagged > 0) {
        above += flagged;
        labels.push(`${name} above baseline`);
        series.push(points.map((s) => (s.above > 0 ? s.value : null)));
        styles.push({ stroke: "#f25f5c", width: 0, spanGaps: false, points: { show: true, size: 9, fill: "#f25f5c" } });
      }
    });
    this.chart(box, xs, labels, series, unit, styles);
    box.dataset.baselines = String(baselines);
    box.dataset.above = String(above);
  }

  /**
   * One line per series over the buckets (nothing drawn when every value is empty; a rate of 0 %
   * over segments sent is drawn).
   */
  private chart(
    box: HTMLElement,
    xs: number[],
    labels: string[],
    series: (number | null)[][],
    unit: string,
    styles: Partial<uPlot.Series>[] = [],
  ): void {
    const any = series.some((s) => s.some((v) => v !== null));
    box.classList.toggle("empty", !any);
    box.dataset.lines = String(any ? series.length : 0);
    if (!any || xs.length === 0) return;
    const opts: uPlot.Options = {
      width: Math.max(300, box.clientWidth),
      height: 160,
      padding: [8, 8, 0, 0],
      legend: { show: true, live: false },
      cursor: { points: { show: false }, y: false, drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1e-3, (max ?? 1) * 1.1)] } },
      axes: [
        { stroke: "#8b95a5", grid: { stroke: "#252b36", width: 1 }, ticks: { stroke: "#252b36" } },
        {
          stroke: "#8b95a5",
          size: 52,
          grid: { stroke: "#252b36", width: 1 },
          ticks: { stroke: "#252b36" },
          values: (_u, splits) => splits.map((v) => `${+v.toFixed(2)}${unit ? ` ${unit}` : ""}`),
        },
      ],
      series: [
        { value: (_u, v) => (v === null ? "" : formatTime(v * 1000, false)) },
        ...labels.map((label, i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
          points: { show: true, size: 4 },
          ...styles[i],
        })),
      ],
    };
    this.plots.push(new uPlot(opts, [xs, ...series] as uPlot.AlignedData, box));
  }
}
