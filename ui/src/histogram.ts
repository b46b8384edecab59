// The histogram of matching events over time (uPlot bars) with drag-to-zoom.

import uPlot from "uplot";
import type { HistogramResponse } from "./types";
import { formatTime } from "./time";

const HEIGHT = 120;

/** Called with the dragged time range, epoch ms, start inclusive and end exclusive. */
export type ZoomHandler = (startMs: number, endMs: number) => void;

/**
 * Draws the histogram into `container` (#histogram); owns one uPlot instance, rebuilt per result
 * since the bucket width changes with the range. `data-total` on the container holds the sum of
 * the bucket counts, `data-buckets` their number, `data-min`/`data-max` the x span in epoch ms.
 */
export class Histogram {
  private plot: uPlot | null = null;
  private intervalS = 60;
  private readonly hover: HTMLElement;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    private readonly onZoom: ZoomHandler,
  ) {
    this.hover = document.createElement("div");
    this.hover.className = "hist-hover";
    this.container.appendChild(this.hover);
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: HEIGHT });
    });
    this.resize.observe(container);
  }

  private width(): number {
    return Math.max(200, this.container.clientWidth);
  }

  /** Shows a loading state (keeps the previous chart until the new data arrives). */
  loading(): void {
    this.container.classList.add("loading");
  }

  /** Shows an error state: no chart, total unknown. */
  clear(): void {
    this.container.classList.remove("loading");
    this.plot?.destroy();
    this.plot = null;
    delete this.container.dataset.total;
    this.container.dataset.buckets = "0";
  }

  /** Renders a histogram response. */
  render(h: HistogramResponse): void {
    this.container.classList.remove("loading");
    const xs: number[] = [];
    const ys: number[] = [];
    let sum = 0;
    for (const b of h.buckets) {
      const t = Date.parse(b.start);
      if (Number.isNaN(t)) continue;
      xs.push(t / 1000);
      ys.push(b.count);
      sum += b.count;
    }
    this.intervalS = Math.max(h.interval_ms, 1) / 1000;
    this.container.dataset.total = String(sum);
    this.container.dataset.buckets = String(xs.length);
    this.plot?.destroy();
    this.plot = null;
    this.hover.textContent = "";
    if (xs.length === 0) {
      this.container.classList.add("empty");
      return;
    }
    this.container.classList.remove("empty");
    const interval = this.intervalS;
    const opts: uPlot.Options = {
      width: this.width(),
      height: HEIGHT,
      legend: { show: false },
      padding: [8, 8, 0, 0],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
        y: false,
      },
      scales: {
        x: { time: true, range: (_u, min, max) => [min, max + interval] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [
        { stroke: "#8b95a5", grid: { stroke: "#252b36", width: 1 }, ticks: { stroke: "#252b36" } },
        {
          stroke: "#8b95a5",
          size: 44,
          grid: { stroke: "#252b36", width: 1 },
          ticks: { stroke: "#252b36" },
          values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? compact(v) : "")),
        },
      ],
      series: [
        {},
        {
          label: "events",
          stroke: "#3d8bfd",
          fill: "rgba(61,139,253,0.55)",
          width: 1,
          paths: uPlot.paths.bars!({ align: 1, size: [0.9, Infinity] }),
          points: { show: false },
        },
      ],
      hooks: {
        setScale: [
          (u, key) => {
            if (key !== "x") return;
            // The visible time span (epoch ms), for tests and tooling.
            this.container.dataset.min = String(Math.round((u.scales.x.min ?? 0) * 1000));
            this.container.dataset.max = String(Math.round((u.scales.x.max ?? 0) * 1000));
          },
        ],
        setSelect: [
          (u) => {
            const sel = u.select;
            if (sel.width < 3) return;
            const a = u.posToVal(sel.left, "x") * 1000;
            const b = u.posToVal(sel.left + sel.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (b > a) this.onZoom(Math.floor(a), Math.ceil(b));
          },
        ],
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            if (i === null || i === undefined) {
              this.hover.textContent = "";
              return;
            }
            const t = (u.data[0][i] as number) * 1000;
            const c = u.data[1][i];
            this.hover.textContent = `${formatTime(t, false)}  ·  ${c} events  ·  drag to zoom`;
          },
        ],
      },
    };
    this.plot = new uPlot(opts, [xs, ys], this.container);
  }
}

/** 1234 -> "1.2k". */
function compact(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}
