// JSON shapes of the loglynx HTTP API (see crates/query/src/request.rs).

/** One event: a flat object with ECS dotted keys ("@timestamp", "host.name", "labels.env"...). */
export type LogEvent = Record<string, unknown>;

/** Offsets of a Kafka partition no leaf answered for (`serve` searching through workers). */
export interface Missing {
  partition: number;
  from: number;
  /** null: up to the newest. */
  to: number | null;
  leaf: string;
  reason: string;
}

export interface SearchResponse {
  total: number;
  hits: LogEvent[];
  took_ms: number;
  /** Present when the answer is partial: what it lacks. */
  missing?: Missing[];
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

// `GET /api/v1/pipeline` (crates/api/src/routes/pipeline.rs; reports from crates/bus/src/kafka/health.rs).

/** An agent's producer (`ProducerHealth`). */
export interface ProducerHealth {
  enqueued: number;
  delivered: number;
  failures: number;
  rate: number;
  in_flight: number;
  /** `direct` or `spooling` (broker unreachable or stalled: batches go to the on-disk buffer). */
  state: string;
  spool_bytes: number;
  spool_max_bytes: number;
  spool_records: number;
}

/** One partition a worker owns (`PartitionHealth`). */
export interface PartitionHealth {
  partition: number;
  consumer: number;
  position: number;
  committed: number | null;
  high_watermark: number | null;
  lag: number | null;
  /** Offsets given up as missing over the shard's life (absent from older workers). */
  missing?: number;
}

/** One rebalance callback (`RebalanceEvent`). */
export interface RebalanceEvent {
  at_ms: number;
  consumer: number;
  /** `assign`, `revoke`, `lost` or `error`. */
  kind: string;
  partitions: number[];
}

/** A worker's consumers (`ConsumerHealth`). */
export interface ConsumerHealth {
  group: string;
  consumers: number;
  consumed: number;
  rate: number;
  undecodable: number;
  skipped: number;
  /** Of `skipped`, records an agent sent twice (absent in reports of older workers). */
  duplicates?: number;
  /** Fetches started again because the broker's answer skipped offsets. */
  refetches?: number;
  /** Offsets given up as missing after re-fetching: anything but 0 needs a look. */
  missing?: number;
  partitions: PartitionHealth[];
  rebalances_total: number;
  rebalances: RebalanceEvent[];
}

/** One process's report (`HealthReport`) plus whether it is stale (its process is gone). */
export interface HealthReport {
  role: "agent" | "worker";
  id: string;
  host: string;
  pid: number;
  topic: string;
  brokers: string;
  started_ms: number;
  updated_ms: number;
  producer?: ProducerHealth;
  consumer?: ConsumerHealth;
  stale: boolean;
}

/** One row of the pipeline's partition table: an owned partition and its owner. */
export interface PipelinePartition {
  /** The partition's topic (absent from older servers: the status's `topic`). */
  topic?: string;
  partition: number;
  owner: string;
  consumer: number;
  position: number;
  committed: number | null;
  high_watermark: number | null;
  lag: number | null;
  /** Offsets given up as missing over the shard's life (absent from older servers). */
  missing?: number;
}

/** The pipeline's totals over fresh reports. */
export interface PipelineTotals {
  produce_rate: number;
  consume_rate: number;
  lag: number;
  members: number;
  rebalances_total: number;
  /** Offsets given up as missing in the owned partitions, over their shards' life. */
  missing?: number;
  spool_bytes: number;
  spool_max_bytes: number;
  spool_records: number;
  agents: number;
  workers: number;
}

/** `GET /api/v1/pipeline` with a view (`loglynx serve`). */
export interface PipelineStatus {
  enabled: true;
  now_ms: number;
  topic: string;
  group: string;
  agents: HealthReport[];
  workers: HealthReport[];
  partitions: PipelinePartition[];
  totals: PipelineTotals;
  /** Newest last, at most 50. */
  rebalances: (RebalanceEvent & { worker: string })[];
}

/** `GET /api/v1/pipeline` without a view (404: `loglynx run` has no Kafka pipeline). */
export interface PipelineOff {
  enabled: false;
  error: string;
}

// Detection: `GET /api/v1/alerts`, `GET /api/v1/rules` and the rule actions
// (crates/api/src/routes/alerts.rs; docs/openapi.yaml, tag `detection`).

/** The rule that raised an alert (`AlertRule`). */
export interface AlertRule {
  /** The rule's id, else its name, else its title: what events' `rule.id` holds. */
  id: string;
  name: string;
  title: string;
  /** Sigma level: informational, low, medium, high, critical. */
  level: string | null;
  /** Kept on every alert (SigmaHQ rules are under the DRL 1.1, which requires it). */
  author: string | null;
}

/** One status change of an alert, oldest first. */
export interface AlertChange {
  status: string;
  by: string;
  at: string;
  comment?: string;
}

export type AlertStatus = "open" | "acknowledged" | "closed" | "resolved";

/** An alert (`Alert` in the OpenAPI document). */
export interface Alert {
  id: string;
  rule: AlertRule;
  status: AlertStatus;
  /** Group-by field -> value, e.g. {"source.ip": "1.2.3.4"}. */
  group: Record<string, string>;
  /** Distinct events folded into the alert. */
  count: number;
  first_seen: string;
  last_seen: string;
  /** The `event.id` of its events (the first `[detect] max_evidence`). */
  evidence: string[];
  host?: string;
  created: string;
  updated: string;
  history?: AlertChange[];
  /** The notification channels configured when it was raised. */
  notify?: string[];
  /** The deliveries made: a channel, or `<channel>:resolved` for the resolution. */
  notified?: string[];
  /** Delivery (entry of `notified`) -> when. */
  notified_at?: Record<string, string>;
}

/** A notification not delivered yet (`GET /api/v1/notifications`). */
export interface PendingNotification {
  channel: string;
  kind?: "raised" | "resolved";
  alert: string;
  rule: string;
  attempts: number;
  next_at: string;
  last_error?: string | null;
}

/** `GET /api/v1/notifications`. */
export interface NotificationsResponse {
  channels: string[];
  delivered: number;
  failed_attempts: number;
  pending: PendingNotification[];
}

/** `GET /api/v1/alerts`. */
export interface AlertsResponse {
  total: number;
  alerts: Alert[];
}

/** One rule of `GET /api/v1/rules` (`Rule`). */
export interface RuleInfo {
  /** How events' `rule.id` and alerts name the rule; the path segment of enable/disable. */
  key: string;
  id: string | null;
  name: string | null;
  title: string;
  level: string | null;
  author: string | null;
  /** The rule file, or `builtin:<file>` for the built-in pack. */
  file: string;
  logsource: string;
  kind: "detection" | "correlation" | "inactive";
  enabled: boolean;
  hits: number;
  groups?: number;
  groups_evicted?: number;
}

/** A rule that does not compile. */
export interface RejectedRule {
  file: string;
  line: number;
  reason: string;
}

/** `GET /api/v1/rules`. */
export interface RulesResponse {
  loaded: number;
  rules: RuleInfo[];
  inactive: RuleInfo[];
  rejected: RejectedRule[];
  reloads: number;
  alerts_raised: number;
}

/** `POST /api/v1/rules/backtest` body: a loaded rule's key or Sigma YAML, over stored events. */
export interface BacktestRequest {
  rule?: string;
  yaml?: string;
  start?: string;
  end?: string;
  q?: string;
}

/** `POST /api/v1/rules/backtest`: what the rule would have raised (nothing is stored). */
export interface BacktestResponse {
  events_scanned: number;
  matched: number;
  alerts: Alert[];
  truncated: boolean;
  took_ms: number;
}

/** 404 of a subsystem that is off: `{"enabled": false, "error": "..."}`. */
export interface Off {
  enabled: false;
  error: string;
}

/** One pattern of `GET /api/v1/patterns`. */
export interface PatternInfo {
  id: string;
  template: string;
  service?: string | null;
  count: number;
  share: number;
  first_seen?: string | null;
  last_seen?: string | null;
  example?: string | null;
  series: number[];
  former: string[];
  previous_count?: number;
  change?: "new" | "gone" | "changed" | "same";
}

/** `GET /api/v1/patterns`. */
export interface PatternsResponse {
  patterns: PatternInfo[];
  total: number;
  start: string;
  end: string;
  interval_ms: number;
  templates: number;
  overflow: { service: string; lines: number }[];
  /** Through a search root: the offsets no leaf answered (absent when complete). */
  missing?: Missing[];
}

/** A piece of a sample line: a field a learned structure reads, or what lies between two. */
export interface Segment {
  text: string;
  field?: string;
}

/** One source of `GET /api/v1/sources/learned`. */
export interface LearnedSource {
  kind: "file" | "syslog" | "http_text" | "http_json" | string;
  host: string;
  source: string;
  detail?: string;
  structure: string;
  timestamp_format?: string;
  fields: string[];
  zone: string;
  zone_from: "files.zones" | "files.timezone" | "fixed" | string;
  ambiguous_date: boolean;
  matched: number;
  relearned: number;
  sample?: string;
  segments: Segment[];
}

/** What the configuration sets instead of inference. */
export interface LearnedOverrides {
  timezone: string;
  zones: { paths: string[]; timezone: string }[];
  layouts: { paths: string[]; pattern?: string; timestamp_format?: string }[];
  /** `[[syslog.layouts]]`, `[[http.layouts]]` (absent from older servers). */
  syslog_layouts?: StreamLayout[];
  http_layouts?: StreamLayout[];
}

/** A `[[syslog.layouts]]` or `[[http.layouts]]` entry. */
export interface StreamLayout {
  hosts?: string[];
  programs?: string[];
  streams?: string[];
  timezone?: string;
  pattern?: string;
  timestamp_format?: string;
}

/** `GET /api/v1/sources/learned`. */
export interface LearnedResponse {
  sources: LearnedSource[];
  overrides?: LearnedOverrides;
}
