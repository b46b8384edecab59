// The Network page's service map: which process / service talks to which peer service over the
// selected range (`GET /api/v1/network/map`), as a table of edges grouped by the side that
// connected, heaviest first, with a filter on node names (a graph of 50 nodes is hard to read;
// a filtered edge list stays readable at any size).

import { getJson } from "./api";
import { byId, el } from "./dom";
import { cell, fill, rateText, usText } from "./netperf";

/** `GET /api/v1/network/map`. */
export interface NetMap {
  events: number;
  scanned: number;
  truncated: boolean;
  edges_total: number;
  nodes: { id: string; kind: "process" | "remote"; process: string; service: string; bytes: number }[];
  edges: {
    source: string;
    target: string;
    connections: number;
    sent_bytes: number;
    received_bytes: number;
    bytes: number;
    retransmits: number;
    segs_out: number;
    retransmit_rate: number | null;
    rtt_samples: number;
    rtt_p99_us: number | null;
  }[];
}

/** Edges asked for (the heaviest). */
const EDGES = 500;

/** The edges ordered for reading: sources by their total bytes, then each source's edges by bytes. */
export function groupedEdges(edges: NetMap["edges"]): NetMap["edges"] {
  const bySource = new Map<string, number>();
  for (const e of edges) bySource.set(e.source, (bySource.get(e.source) ?? 0) + e.bytes);
  return [...edges].sort(
    (a, b) =>
      (bySource.get(b.source) ?? 0) - (bySource.get(a.source) ?? 0) ||
      a.source.localeCompare(b.source) ||
      b.bytes - a.bytes ||
      b.segs_out - a.segs_out ||
      a.target.localeCompare(b.target),
  );
}

/** The service map panel; `load` redraws it for a range. */
export class ServiceMapView {
  private map: NetMap | null = null;
  private readonly filter = byId("net-map-filter") as HTMLInputElement;

  constructor(private readonly showError: (msg: string | null) => void) {
    this.filter.addEventListener("input", () => this.render());
  }

  async load(start: string | undefined, end: string | undefined, signal: AbortSignal): Promise<void> {
    let r: NetMap;
    try {
      r = await getJson<NetMap>("network/map", { start, end, size: EDGES }, signal);
    } catch (e) {
      if (signal.aborted) return;
      this.showError(`service map: ${(e as Error).message}`);
      return;
    }
    if (signal.aborted) return;
    this.map = r;
    this.render();
  }

  private render(): void {
    const r = this.map;
    if (!r) return;
    const kind = new Map(r.nodes.map((n) => [n.id, n.kind]));
    const want = this.filter.value.trim().toLowerCase();
    const shown = groupedEdges(r.edges).filter(
      (e) => !want || e.source.toLowerCase().includes(want) || e.target.toLowerCase().includes(want),
    );
    let last = "";
    const rows = shown.map((e) => {
      const tr = el("tr");
      tr.dataset.source = e.source;
      tr.dataset.target = e.target;
      const first = e.source !== last;
      last = e.source;
      if (first) tr.classList.add("group-start");
      const src = cell(first ? e.source : "", kind.get(e.source) === "remote" ? "c-mono muted" : "c-proc");
      src.title = e.source;
      const dst = cell(e.target, kind.get(e.target) === "remote" ? "c-mono muted" : "c-proc");
      dst.dataset.kind = kind.get(e.target) ?? "";
      tr.append(
        src,
        dst,
        cell(e.connections.toLocaleString(), "c-num", "connections", e.connections),
        cell(e.sent_bytes.toLocaleString(), "c-num", "sent", e.sent_bytes),
        cell(e.received_bytes.toLocaleString(), "c-num", "received", e.received_bytes),
        cell(e.segs_out.toLocaleString(), "c-num", "segs_out", e.segs_out),
        cell(rateText(e.retransmit_rate), "c-num", "rate", e.retransmit_rate),
        cell(usText(e.rtt_p99_us), "c-num", "p99", e.rtt_p99_us),
      );
      return tr;
    });
    fill(byId("net-map"), rows, 8, want ? `no edge names "${want}"` : "no connection in this range");
    const nodes = new Set(shown.flatMap((e) => [e.source, e.target])).size;
    byId("net-map-count").textContent =
      `${nodes.toLocaleString()} nodes, ${shown.length.toLocaleString()} edges` +
      (shown.length < r.edges_total ? ` of ${r.edges_total.toLocaleString()}` : "") +
      (r.truncated ? `; newest ${r.scanned.toLocaleString()} events read` : "");
  }
}
