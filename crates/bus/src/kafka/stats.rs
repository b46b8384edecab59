//! The view over every process's [`HealthReport`]: [`summarize`] (the JSON of
//! `GET /api/v1/pipeline`) and [`prometheus`] (the `loglynx_kafka_*` series), both re-exported
//! by [`super::health`].

use super::health::{HealthReport, PartitionHealth, RebalanceEvent, Role, MAX_REBALANCES};

/// A partition in the merged view of the fresh workers' reports, with its owner.
struct Owned<'a> {
    topic: &'a str,
    owner: &'a HealthReport,
    part: &'a PartitionHealth,
}

/// The partitions the fresh workers own, by topic then partition. During a handover two
/// reports written a second apart can both list a partition: the one written last wins.
fn owned_partitions(reports: &[HealthReport], now_ms: u64) -> Vec<Owned<'_>> {
    let mut by_key: std::collections::BTreeMap<(&str, i32), Owned<'_>> = Default::default();
    for r in reports.iter().filter(|r| !r.is_stale(now_ms)) {
        let Some(c) = &r.consumer else { continue };
        for part in &c.partitions {
            let key = (r.topic.as_str(), part.partition);
            let newer = by_key
                .get(&key)
                .is_none_or(|o| (r.updated_ms, &r.id) > (o.owner.updated_ms, &o.owner.id));
            if newer {
                let topic = r.topic.as_str();
                by_key.insert(
                    key,
                    Owned {
                        topic,
                        owner: r,
                        part,
                    },
                );
            }
        }
    }
    by_key.into_values().collect()
}

fn fresh(reports: &[HealthReport], role: Role, now_ms: u64) -> impl Iterator<Item = &HealthReport> {
    reports
        .iter()
        .filter(move |r| r.role == role && !r.is_stale(now_ms))
}

/// The JSON of `GET /api/v1/pipeline` (`PipelineStatus` in docs/openapi.yaml) from the
/// processes' reports at `now_ms`: every report with its `stale` flag, the partitions owned by
/// fresh workers, totals over fresh reports, and the last [`MAX_REBALANCES`] rebalance events
/// of all workers (newest last, each naming its `worker`). `topic` and `group` are those of the
/// first fresh worker (else any report; empty when there is none).
pub fn summarize(reports: &[HealthReport], now_ms: u64) -> serde_json::Value {
    use serde_json::{json, Value};
    let with_stale = |role: Role| -> Vec<Value> {
        reports
            .iter()
            .filter(|r| r.role == role)
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("stale".into(), Value::Bool(r.is_stale(now_ms)));
                }
                v
            })
            .collect()
    };
    let first = fresh(reports, Role::Worker, now_ms)
        .next()
        .or_else(|| fresh(reports, Role::Agent, now_ms).next())
        .or_else(|| reports.iter().find(|r| r.role == Role::Worker))
        .or_else(|| reports.first());
    let group = fresh(reports, Role::Worker, now_ms)
        .chain(reports.iter())
        .find_map(|r| r.consumer.as_ref().map(|c| c.group.clone()))
        .unwrap_or_default();

    let owned = owned_partitions(reports, now_ms);
    let partitions: Vec<Value> = owned
        .iter()
        .map(|o| {
            json!({
                "topic": o.topic,
                "partition": o.part.partition,
                "owner": o.owner.id,
                "consumer": o.part.consumer,
                "position": o.part.position,
                "committed": o.part.committed,
                "high_watermark": o.part.high_watermark,
                "lag": o.part.lag,
                "missing": o.part.missing,
            })
        })
        .collect();

    let producers = || fresh(reports, Role::Agent, now_ms).filter_map(|r| r.producer.as_ref());
    let consumers = || fresh(reports, Role::Worker, now_ms).filter_map(|r| r.consumer.as_ref());
    let totals = json!({
        "produce_rate": producers().map(|p| p.rate).sum::<f64>(),
        "consume_rate": consumers().map(|c| c.rate).sum::<f64>(),
        "lag": owned.iter().filter_map(|o| o.part.lag).sum::<i64>(),
        "members": consumers().map(|c| c.consumers).sum::<usize>(),
        "rebalances_total": consumers().map(|c| c.rebalances_total).sum::<u64>(),
        // Over the shards' life (their checkpoints), not since the workers started.
        "missing": owned.iter().map(|o| o.part.missing).sum::<u64>(),
        "spool_bytes": producers().map(|p| p.spool_bytes).sum::<u64>(),
        "spool_max_bytes": producers().map(|p| p.spool_max_bytes).sum::<u64>(),
        "spool_records": producers().map(|p| p.spool_records).sum::<u64>(),
        "agents": fresh(reports, Role::Agent, now_ms).count(),
        "workers": fresh(reports, Role::Worker, now_ms).count(),
    });

    let mut events: Vec<(&RebalanceEvent, &str)> = reports
        .iter()
        .filter_map(|r| r.consumer.as_ref().map(|c| (c, r.id.as_str())))
        .flat_map(|(c, id)| c.rebalances.iter().map(move |e| (e, id)))
        .collect();
    // Stable: events of one worker at the same millisecond keep their order.
    events.sort_by_key(|(e, _)| e.at_ms);
    let skip = events.len().saturating_sub(MAX_REBALANCES);
    let rebalances: Vec<Value> = events[skip..]
        .iter()
        .map(|(e, worker)| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("worker".into(), Value::String((*worker).to_string()));
            }
            v
        })
        .collect();

    json!({
        "enabled": true,
        "now_ms": now_ms,
        "topic": first.map(|r| r.topic.clone()).unwrap_or_default(),
        "group": group,
        "agents": with_stale(Role::Agent),
        "workers": with_stale(Role::Worker),
        "partitions": partitions,
        "totals": totals,
        "rebalances": rebalances,
    })
}

/// A label value escaped for the Prometheus text format (backslash, double quote, newline).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Samples of one metric: `(labels, value)` where labels is `k="v",...` already escaped.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .collect();
        self.samples.push((l.join(","), value.to_string()));
    }

    /// Writes `# HELP`, `# TYPE` and the samples; nothing when there is no sample.
    fn write(&self, out: &mut String) {
        use std::fmt::Write;
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (l, v) in &self.samples {
            let _ = writeln!(out, "{}{{{l}}} {v}", self.name);
        }
    }
}

/// A float as Prometheus reads it (`NaN`, `+Inf`, `-Inf` spelled its way).
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// Appends the `loglynx_kafka_*` series of `reports` at `now_ms` to `out` (Prometheus text
/// format, `# HELP`/`# TYPE` once per metric, metrics without a sample left out). Per-process
/// and per-partition series come from fresh reports only (a gone process has no series);
/// `loglynx_kafka_report_stale{role,id}` lists every report.
pub fn prometheus(reports: &[HealthReport], now_ms: u64, out: &mut String) {
    let mut produced = Family::new(
        "loglynx_kafka_produced_records_total",
        "counter",
        "records acknowledged by the brokers since the agent started",
    );
    let mut failures = Family::new(
        "loglynx_kafka_produce_failures_total",
        "counter",
        "delivery failures (each retried) since the agent started",
    );
    let mut prate = Family::new(
        "loglynx_kafka_produce_rate",
        "gauge",
        "records delivered per second over the last report interval",
    );
    let mut spool_bytes = Family::new(
        "loglynx_kafka_spool_bytes",
        "gauge",
        "bytes in the agent's on-disk buffer",
    );
    let mut spool_max = Family::new(
        "loglynx_kafka_spool_max_bytes",
        "gauge",
        "capacity of the agent's on-disk buffer",
    );
    let mut spool_records = Family::new(
        "loglynx_kafka_spool_records",
        "gauge",
        "records in the agent's on-disk buffer not yet delivered",
    );
    let mut spooling = Family::new(
        "loglynx_kafka_spooling",
        "gauge",
        "1 while the agent buffers on disk (broker unreachable or stalled)",
    );
    for r in fresh(reports, Role::Agent, now_ms) {
        let Some(p) = &r.producer else { continue };
        let l = [("agent", r.id.as_str())];
        produced.add(&l, p.delivered);
        failures.add(&l, p.failures);
        prate.add(&l, float(p.rate));
        spool_bytes.add(&l, p.spool_bytes);
        spool_max.add(&l, p.spool_max_bytes);
        spool_records.add(&l, p.spool_records);
        spooling.add(&l, u8::from(p.state == "spooling"));
    }

    let mut consumed = Family::new(
        "loglynx_kafka_consumed_records_total",
        "counter",
        "records handed to the shards since the worker started",
    );
    let mut crate_ = Family::new(
        "loglynx_kafka_consume_rate",
        "gauge",
        "records consumed per second over the last report interval",
    );
    let mut rebalances = Family::new(
        "loglynx_kafka_rebalances_total",
        "counter",
        "rebalance callbacks (assignments, revocations) since the worker started",
    );
    let mut skipped = Family::new(
        "loglynx_kafka_skipped_records_total",
        "counter",
        "records not stored again since the worker started, by reason: offset (the shard had \
         the offset: read again after a hand-over or a re-fetch) or resent (an agent sent the \
         record twice)",
    );
    let mut refetches = Family::new(
        "loglynx_kafka_refetches_total",
        "counter",
        "fetches started again because the broker's answer skipped offsets",
    );
    let mut missing = Family::new(
        "loglynx_kafka_missing_offsets_total",
        "counter",
        "offsets given up as missing after re-fetching (deleted by retention or lost by the broker)",
    );
    let mut members: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in fresh(reports, Role::Worker, now_ms) {
        let Some(c) = &r.consumer else { continue };
        let l = [("worker", r.id.as_str())];
        consumed.add(&l, c.consumed);
        crate_.add(&l, float(c.rate));
        rebalances.add(&l, c.rebalances_total);
        let offset = c.skipped.saturating_sub(c.duplicates);
        skipped.add(&[("worker", r.id.as_str()), ("reason", "offset")], offset);
        skipped.add(&[("worker", r.id.as_str()), ("reason", "resent")], c.duplicates);
        refetches.add(&l, c.refetches);
        missing.add(&l, c.missing);
        *members.entry(c.group.as_str()).or_default() += c.consumers;
    }
    let mut group_members = Family::new(
        "loglynx_kafka_group_members",
        "gauge",
        "consumers of the group in fresh worker reports",
    );
    for (g, n) in &members {
        group_members.add(&[("group", g)], n);
    }

    let mut lag = Family::new(
        "loglynx_kafka_consumer_lag",
        "gauge",
        "records in the partition not yet searchable (high watermark - committed offset)",
    );
    let mut committed = Family::new(
        "loglynx_kafka_partition_committed_offset",
        "gauge",
        "next offset durably committed in the partition's shard",
    );
    let mut high = Family::new(
        "loglynx_kafka_high_watermark",
        "gauge",
        "next offset the broker will write in the partition",
    );
    let mut part_missing = Family::new(
        "loglynx_kafka_partition_missing_offsets",
        "gauge",
        "offsets of the partition given up as missing over its shard's life (alert on any rise)",
    );
    let mut owner = Family::new(
        "loglynx_kafka_partition_owner",
        "gauge",
        "1 for the worker and consumer that own the partition",
    );
    for o in owned_partitions(reports, now_ms) {
        let p = o.part.partition.to_string();
        let l = [("topic", o.topic), ("partition", p.as_str())];
        if let Some(v) = o.part.lag {
            lag.add(&l, v);
        }
        if let Some(v) = o.part.committed {
            committed.add(&l, v);
        }
        if let Some(v) = o.part.high_watermark {
            high.add(&l, v);
        }
        part_missing.add(&l, o.part.missing);
        let c = o.part.consumer.to_string();
        owner.add(
            &[
                ("topic", o.topic),
                ("partition", p.as_str()),
                ("worker", o.owner.id.as_str()),
                ("consumer", c.as_str()),
            ],
            1,
        );
    }

    let mut stale = Family::new(
        "loglynx_kafka_report_stale",
        "gauge",
        "1 when a process's health report was not rewritten in time (the process is gone)",
    );
    for r in reports {
        stale.add(
            &[("role", r.role.as_str()), ("id", r.id.as_str())],
            u8::from(r.is_stale(now_ms)),
        );
    }

    for f in [
        produced,
        failures,
        prate,
        spool_bytes,
        spool_max,
        spool_records,
        spooling,
        consumed,
        crate_,
        lag,
        committed,
        high,
        part_missing,
        owner,
        group_members,
        rebalances,
        skipped,
        refetches,
        missing,
        stale,
    ] {
        f.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::health::{ConsumerHealth, ProducerHealth};

    fn ev(at_ms: u64, kind: &str, partitions: &[i32]) -> RebalanceEvent {
        RebalanceEvent {
            at_ms,
            consumer: 0,
            kind: kind.into(),
            partitions: partitions.to_vec(),
        }
    }

    fn worker(
        id: &str,
        updated_ms: u64,
        part: PartitionHealth,
        events: Vec<RebalanceEvent>,
    ) -> HealthReport {
        HealthReport {
            role: Role::Worker,
            id: id.into(),
            host: "h".into(),
            pid: 2,
            topic: "logs".into(),
            brokers: "b:9092".into(),
            started_ms: 500,
            updated_ms,
            producer: None,
            consumer: Some(ConsumerHealth {
                group: "g\"x".into(),
                consumers: 1,
                consumed: 300,
                rate: 50.0,
                undecodable: 0,
                skipped: 0,
                duplicates: 0,
                refetches: 0,
                missing: 0,
                partitions: vec![part],
                rebalances_total: events.len() as u64,
                rebalances: events,
            }),
        }
    }

    /// An agent (spooling), two fresh workers owning one partition each, and a stale worker
    /// still claiming partition 0.
    fn cluster() -> Vec<HealthReport> {
        let agent = HealthReport {
            role: Role::Agent,
            id: "h-10".into(),
            host: "h".into(),
            pid: 10,
            topic: "logs".into(),
            brokers: "b:9092".into(),
            started_ms: 500,
            updated_ms: 100_000,
            producer: Some(ProducerHealth {
                enqueued: 510,
                delivered: 500,
                failures: 1,
                rate: 12.5,
                in_flight: 3,
                state: "spooling".into(),
                spool_bytes: 2048,
                spool_max_bytes: 4096,
                spool_records: 7,
            }),
            consumer: None,
        };
        // `missing` over the shard's life: partition 0 lost 10 offsets (7 of them under an
        // earlier owner, 3 since h-20 started), partition 1 none.
        let p = |partition, position, committed: Option<i64>, hw: Option<i64>| PartitionHealth {
            partition,
            consumer: 0,
            position,
            committed,
            high_watermark: hw,
            lag: hw.zip(committed).map(|(h, c)| h - c),
            missing: if partition == 0 { if position == 310 { 10 } else { 7 } } else { 0 },
        };
        let mut h20 = worker(
            "h-20",
            99_500,
            p(0, 310, Some(300), Some(320)),
            vec![ev(1_000, "assign", &[0, 1]), ev(5_000, "revoke", &[1])],
        );
        if let Some(c) = h20.consumer.as_mut() {
            (c.skipped, c.duplicates, c.refetches, c.missing) = (5, 2, 4, 3);
        }
        vec![
            agent,
            h20,
            worker(
                "h-30",
                100_000,
                p(1, 200, Some(190), None),
                vec![ev(6_000, "assign", &[1])],
            ),
            worker(
                "h-40",
                80_000,
                p(0, 120, Some(100), Some(320)),
                vec![ev(3_000, "assign", &[0])],
            ),
        ]
    }

    #[test]
    fn summarize_merges_fresh_workers_and_flags_the_stale_one() {
        let v = summarize(&cluster(), 100_000);
        let worker_json = |id: &str,
                           updated: u64,
                           part: serde_json::Value,
                           evs: serde_json::Value,
                           stale: bool| {
            // skipped, duplicates, refetches, missing
            let gaps = if id == "h-20" { [5, 2, 4, 3] } else { [0; 4] };
            serde_json::json!({
                "role": "worker", "id": id, "host": "h", "pid": 2, "topic": "logs",
                "brokers": "b:9092", "started_ms": 500, "updated_ms": updated,
                "consumer": {
                    "group": "g\"x", "consumers": 1, "consumed": 300, "rate": 50.0,
                    "undecodable": 0, "skipped": gaps[0], "duplicates": gaps[1],
                    "refetches": gaps[2], "missing": gaps[3], "partitions": [part],
                    "rebalances_total": evs.as_array().unwrap().len(), "rebalances": evs,
                },
                "stale": stale,
            })
        };
        let expected = serde_json::json!({
            "enabled": true,
            "now_ms": 100_000,
            "topic": "logs",
            "group": "g\"x",
            "agents": [{
                "role": "agent", "id": "h-10", "host": "h", "pid": 10, "topic": "logs",
                "brokers": "b:9092", "started_ms": 500, "updated_ms": 100_000,
                "producer": {
                    "enqueued": 510, "delivered": 500, "failures": 1, "rate": 12.5,
                    "in_flight": 3, "state": "spooling", "spool_bytes": 2048,
                    "spool_max_bytes": 4096, "spool_records": 7,
                },
                "stale": false,
            }],
            "workers": [
                worker_json("h-20", 99_500,
                    serde_json::json!({"partition": 0, "consumer": 0, "position": 310,
                        "committed": 300, "high_watermark": 320, "lag": 20, "missing": 10}),
                    serde_json::json!([
                        {"at_ms": 1_000, "consumer": 0, "kind": "assign", "partitions": [0, 1]},
                        {"at_ms": 5_000, "consumer": 0, "kind": "revoke", "partitions": [1]},
                    ]), false),
                worker_json("h-30", 100_000,
                    serde_json::json!({"partition": 1, "consumer": 0, "position": 200,
                        "committed": 190, "high_watermark": null, "lag": null, "missing": 0}),
                    serde_json::json!([
                        {"at_ms": 6_000, "consumer": 0, "kind": "assign", "partitions": [1]},
                    ]), false),
                worker_json("h-40", 80_000,
                    serde_json::json!({"partition": 0, "consumer": 0, "position": 120,
                        "committed": 100, "high_watermark": 320, "lag": 220, "missing": 7}),
                    serde_json::json!([
                        {"at_ms": 3_000, "consumer": 0, "kind": "assign", "partitions": [0]},
                    ]), true),
            ],
            "partitions": [
                {"topic": "logs", "partition": 0, "owner": "h-20", "consumer": 0,
                 "position": 310, "committed": 300, "high_watermark": 320, "lag": 20,
                 "missing": 10},
                {"topic": "logs", "partition": 1, "owner": "h-30", "consumer": 0,
                 "position": 200, "committed": 190, "high_watermark": null, "lag": null,
                 "missing": 0},
            ],
            "totals": {
                "produce_rate": 12.5, "consume_rate": 100.0, "lag": 20, "members": 2,
                "rebalances_total": 3, "missing": 10, "spool_bytes": 2048, "spool_max_bytes": 4096,
                "spool_records": 7, "agents": 1, "workers": 2,
            },
            "rebalances": [
                {"at_ms": 1_000, "consumer": 0, "kind": "assign", "partitions": [0, 1], "worker": "h-20"},
                {"at_ms": 3_000, "consumer": 0, "kind": "assign", "partitions": [0], "worker": "h-40"},
                {"at_ms": 5_000, "consumer": 0, "kind": "revoke", "partitions": [1], "worker": "h-20"},
                {"at_ms": 6_000, "consumer": 0, "kind": "assign", "partitions": [1], "worker": "h-30"},
            ],
        });
        assert_eq!(v, expected, "{v:#}");
    }

    #[test]
    fn prometheus_lists_fresh_series_and_every_report_staleness() {
        let mut out = String::new();
        prometheus(&cluster(), 100_000, &mut out);
        let expected = r#"# HELP loglynx_kafka_produced_records_total records acknowledged by the brokers since the agent started
# TYPE loglynx_kafka_produced_records_total counter
loglynx_kafka_produced_records_total{agent="h-10"} 500
# HELP loglynx_kafka_produce_failures_total delivery failures (each retried) since the agent started
# TYPE loglynx_kafka_produce_failures_total counter
loglynx_kafka_produce_failures_total{agent="h-10"} 1
# HELP loglynx_kafka_produce_rate records delivered per second over the last report interval
# TYPE loglynx_kafka_produce_rate gauge
loglynx_kafka_produce_rate{agent="h-10"} 12.5
# HELP loglynx_kafka_spool_bytes bytes in the agent's on-disk buffer
# TYPE loglynx_kafka_spool_bytes gauge
loglynx_kafka_spool_bytes{agent="h-10"} 2048
# HELP loglynx_kafka_spool_max_bytes capacity of the agent's on-disk buffer
# TYPE loglynx_kafka_spool_max_bytes gauge
loglynx_kafka_spool_max_bytes{agent="h-10"} 4096
# HELP loglynx_kafka_spool_records records in the agent's on-disk buffer not yet delivered
# TYPE loglynx_kafka_spool_records gauge
loglynx_kafka_spool_records{agent="h-10"} 7
# HELP loglynx_kafka_spooling 1 while the agent buffers on disk (broker unreachable or stalled)
# TYPE loglynx_kafka_spooling gauge
loglynx_kafka_spooling{agent="h-10"} 1
# HELP loglynx_kafka_consumed_records_total records handed to the shards since the worker started
# TYPE loglynx_kafka_consumed_records_total counter
loglynx_kafka_consumed_records_total{worker="h-20"} 300
loglynx_kafka_consumed_records_total{worker="h-30"} 300
# HELP loglynx_kafka_consume_rate records consumed per second over the last report interval
# TYPE loglynx_kafka_consume_rate gauge
loglynx_kafka_consume_rate{worker="h-20"} 50
loglynx_kafka_consume_rate{worker="h-30"} 50
# HELP loglynx_kafka_consumer_lag records in the partition not yet searchable (high watermark - committed offset)
# TYPE loglynx_kafka_consumer_lag gauge
loglynx_kafka_consumer_lag{topic="logs",partition="0"} 20
# HELP loglynx_kafka_partition_committed_offset next offset durably committed in the partition's shard
# TYPE loglynx_kafka_partition_committed_offset gauge
loglynx_kafka_partition_committed_offset{topic="logs",partition="0"} 300
loglynx_kafka_partition_committed_offset{topic="logs",partition="1"} 190
# HELP loglynx_kafka_high_watermark next offset the broker will write in the partition
# TYPE loglynx_kafka_high_watermark gauge
loglynx_kafka_high_watermark{topic="logs",partition="0"} 320
# HELP loglynx_kafka_partition_missing_offsets offsets of the partition given up as missing over its shard's life (alert on any rise)
# TYPE loglynx_kafka_partition_missing_offsets gauge
loglynx_kafka_partition_missing_offsets{topic="logs",partition="0"} 10
loglynx_kafka_partition_missing_offsets{topic="logs",partition="1"} 0
# HELP loglynx_kafka_partition_owner 1 for the worker and consumer that own the partition
# TYPE loglynx_kafka_partition_owner gauge
loglynx_kafka_partition_owner{topic="logs",partition="0",worker="h-20",consumer="0"} 1
loglynx_kafka_partition_owner{topic="logs",partition="1",worker="h-30",consumer="0"} 1
# HELP loglynx_kafka_group_members consumers of the group in fresh worker reports
# TYPE loglynx_kafka_group_members gauge
loglynx_kafka_group_members{group="g\"x"} 2
# HELP loglynx_kafka_rebalances_total rebalance callbacks (assignments, revocations) since the worker started
# TYPE loglynx_kafka_rebalances_total counter
loglynx_kafka_rebalances_total{worker="h-20"} 2
loglynx_kafka_rebalances_total{worker="h-30"} 1
# HELP loglynx_kafka_skipped_records_total records not stored again since the worker started, by reason: offset (the shard had the offset: read again after a hand-over or a re-fetch) or resent (an agent sent the record twice)
# TYPE loglynx_kafka_skipped_records_total counter
loglynx_kafka_skipped_records_total{worker="h-20",reason="offset"} 3
loglynx_kafka_skipped_records_total{worker="h-20",reason="resent"} 2
loglynx_kafka_skipped_records_total{worker="h-30",reason="offset"} 0
loglynx_kafka_skipped_records_total{worker="h-30",reason="resent"} 0
# HELP loglynx_kafka_refetches_total fetches started again because the broker's answer skipped offsets
# TYPE loglynx_kafka_refetches_total counter
loglynx_kafka_refetches_total{worker="h-20"} 4
loglynx_kafka_refetches_total{worker="h-30"} 0
# HELP loglynx_kafka_missing_offsets_total offsets given up as missing after re-fetching (deleted by retention or lost by the broker)
# TYPE loglynx_kafka_missing_offsets_total counter
loglynx_kafka_missing_offsets_total{worker="h-20"} 3
loglynx_kafka_missing_offsets_total{worker="h-30"} 0
# HELP loglynx_kafka_report_stale 1 when a process's health report was not rewritten in time (the process is gone)
# TYPE loglynx_kafka_report_stale gauge
loglynx_kafka_report_stale{role="agent",id="h-10"} 0
loglynx_kafka_report_stale{role="worker",id="h-20"} 0
loglynx_kafka_report_stale{role="worker",id="h-30"} 0
loglynx_kafka_report_stale{role="worker",id="h-40"} 1
"#;
        assert_eq!(out, expected);
        assert_eq!(label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn only_the_newest_rebalances_are_kept_and_no_report_is_an_empty_view() {
        let events: Vec<RebalanceEvent> = (0..60).map(|i| ev(i, "assign", &[0])).collect();
        let w = worker("h-20", 1_000, PartitionHealth::default(), events);
        let v = summarize(&[w], 1_000);
        let r = v["rebalances"].as_array().unwrap();
        assert_eq!(r.len(), MAX_REBALANCES);
        assert_eq!(r[0]["at_ms"], 10);
        assert_eq!(r[49]["at_ms"], 59);
        assert_eq!(r[49]["worker"], "h-20");

        let v = summarize(&[], 5);
        assert_eq!(v["topic"], "");
        assert_eq!(v["partitions"], serde_json::json!([]));
        assert_eq!(v["totals"]["members"], 0);
        let mut out = String::new();
        prometheus(&[], 5, &mut out);
        assert_eq!(out, "");
    }
}
