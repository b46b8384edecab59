// Time ranges: presets, relative expressions (`now-15m`) and resolving them to absolute times.

/** Preset keys of the range picker and their relative start. */
export const PRESETS: Record<string, string> = {
  "15m": "now-15m",
  "1h": "now-1h",
  "24h": "now-24h",
  "7d": "now-7d",
  "30d": "now-30d",
  all: "",
};

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Resolves `now`, `now-15m`, `now-7d` or an RFC 3339 string against `now` (ms); returns null
 * for an empty string (unbounded) and NaN for text it cannot read.
 */
export function resolveTime(expr: string, now: number): number | null {
  const e = expr.trim();
  if (e === "") return null;
  const rel = /^now(?:([+-])(\d+)([smhdw]))?$/.exec(e);
  if (rel) {
    if (!rel[1]) return now;
    const delta = Number(rel[2]) * UNIT_MS[rel[3]];
    return rel[1] === "-" ? now - delta : now + delta;
  }
  const t = Date.parse(e);
  return Number.isNaN(t) ? NaN : t;
}

/** Which preset key a (start, end) pair is, or "custom". */
export function presetOf(start: string, end: string): string {
  if (end !== "" && end !== "now") return "custom";
  for (const [k, v] of Object.entries(PRESETS)) if (v === start) return k;
  return "custom";
}

/** A human label for a range: "last 1h", "all time", or "from … to …". */
export function rangeLabel(start: string, end: string): string {
  const p = presetOf(start, end);
  if (p === "all") return "all time";
  if (p !== "custom") return `last ${p}`;
  const f = (x: string) => (x === "" ? "…" : /^now/.test(x) ? x : formatTime(x, false));
  return `${f(start)} → ${end === "" ? "now" : f(end)}`;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** Local time `YYYY-MM-DD HH:mm:ss.SSS` (ms optional) of an RFC 3339 string or epoch ms. */
export function formatTime(t: string | number, millis = true): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const base =
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** The value for an `<input type="datetime-local" step="1">` from epoch ms (local time). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Epoch ms of a `datetime-local` value (local time), NaN when empty or unreadable. */
export function fromLocalInput(v: string): number {
  if (!v) return NaN;
  return new Date(v).getTime();
}
