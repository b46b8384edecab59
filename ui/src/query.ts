// Editing the query string: adding `field:"value"` filters from clicks.

/** Quotes a value as a query-string phrase, escaping backslashes and double quotes. */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** True for field kinds whose values are numbers (matched without quotes). */
export function isNumericKind(kind: string | undefined): boolean {
  return !!kind && /^(u64|i64|f64|int|integer|long|float|double|number|numeric|unsigned)/i.test(kind);
}

/** The clause matching `field` equal to `value`, e.g. `host.name:"web 1"` or `process.pid:42`. */
export function clause(field: string, value: string, numeric = false): string {
  const v = numeric && /^-?\d+(\.\d+)?$/.test(value) ? value : quote(value);
  return `${field}:${v}`;
}

/**
 * Adds a clause to a query with AND (or `NOT clause` when `negate`). An empty or `*` query is
 * replaced; a query containing OR is parenthesised so the new clause applies to all of it; a
 * clause already present is not added twice.
 */
export function addClause(query: string, c: string, negate = false): string {
  const q = query.trim();
  const term = negate ? `NOT ${c}` : c;
  if (q === "" || q === "*") return term;
  if (q === term || q.endsWith(` AND ${term}`) || q.startsWith(`${term} AND `)) return q;
  const base = /\bOR\b/.test(q) ? `(${q})` : q;
  return `${base} AND ${term}`;
}
