// JSON shapes of the loglynx HTTP API (see crates/query/src/request.rs).

/** One event: a flat object with ECS dotted keys ("@timestamp", "host.name", "labels.env"...). */
export type LogEvent = Record<string, unknown>;

export interface SearchResponse {
  total: number;
  hits: LogEvent[];
  took_ms: number;
}

export interface HistogramBucket {
  start: string;
  count: number;
}

export interface HistogramResponse {
  interval_ms: number;
  buckets: HistogramBucket[];
  total: number;
  took_ms: number;
}

export interface TermsResponse {
  field: string;
  buckets: { value: string; count: number }[];
  other: number;
  took_ms: number;
}

export interface FieldInfo {
  name: string;
  kind: string;
}

export interface TailResponse {
  events: LogEvent[];
  cursor: unknown;
}
