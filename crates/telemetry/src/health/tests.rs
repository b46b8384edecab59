//! Tests of the summary and the collector over one set of reports.

use super::collector::render_at;
use super::report::{
    ConsumerHealth, HealthReport, PartitionHealth, ProducerHealth, ProducerState, RebalanceEvent,
    RebalanceKind, Role, MAX_REBALANCES,
};
use super::summary::summarize;

fn ev(at_ms: u64, kind: RebalanceKind, partitions: &[i32]) -> RebalanceEvent {
    RebalanceEvent {
        at_ms,
        consumer: 0,
        kind,
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
            truncated: 4,
            rate: 12.5,
            in_flight: 3,
            state: ProducerState::Spooling,
            spool_bytes: 2048,
            spool_max_bytes: 4096,
            spool_records: 7,
            spool_lost_frames: 2,
            spool_lost_bytes: 300,
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
        missing: if partition == 0 {
            if position == 310 {
                10
            } else {
                7
            }
        } else {
            0
        },
    };
    let mut h20 = worker(
        "h-20",
        99_500,
        p(0, 310, Some(300), Some(320)),
        vec![
            ev(1_000, RebalanceKind::Assign, &[0, 1]),
            ev(5_000, RebalanceKind::Revoke, &[1]),
        ],
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
            vec![ev(6_000, RebalanceKind::Assign, &[1])],
        ),
        worker(
            "h-40",
            80_000,
            p(0, 120, Some(100), Some(320)),
            vec![ev(3_000, RebalanceKind::Assign, &[0])],
        ),
    ]
}

#[test]
fn summarize_merges_fresh_workers_and_flags_the_stale_one() {
    let v = summarize(&cluster(), 100_000);
    let worker_json =
        |id: &str, updated: u64, part: serde_json::Value, evs: serde_json::Value, stale: bool| {
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
                "enqueued": 510, "delivered": 500, "failures": 1, "truncated": 4, "rate": 12.5,
                "in_flight": 3, "state": "spooling", "spool_bytes": 2048,
                "spool_max_bytes": 4096, "spool_records": 7, "spool_lost_frames": 2,
                "spool_lost_bytes": 300,
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
            "spool_records": 7, "spool_lost_frames": 2, "agents": 1, "workers": 2,
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
fn collector_lists_fresh_series_and_every_report_staleness() {
    let out = render_at(cluster(), 100_000);
    let expected = r#"# HELP loglynx_kafka_produced_records_total records acknowledged by the brokers since the agent started
# TYPE loglynx_kafka_produced_records_total counter
loglynx_kafka_produced_records_total{agent="h-10"} 500
# HELP loglynx_kafka_produce_failures_total delivery failures (each retried) since the agent started
# TYPE loglynx_kafka_produce_failures_total counter
loglynx_kafka_produce_failures_total{agent="h-10"} 1
# HELP loglynx_kafka_produce_truncated_records_total records too large for Kafka sent cut to fit (flagged truncated) since the agent started
# TYPE loglynx_kafka_produce_truncated_records_total counter
loglynx_kafka_produce_truncated_records_total{agent="h-10"} 4
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
# HELP loglynx_kafka_spool_lost_frames_total damaged frames of the agent's on-disk buffer skipped since it started (their records are lost)
# TYPE loglynx_kafka_spool_lost_frames_total counter
loglynx_kafka_spool_lost_frames_total{agent="h-10"} 2
# HELP loglynx_kafka_spool_lost_bytes_total bytes of damaged stretches of the agent's on-disk buffer skipped since it started
# TYPE loglynx_kafka_spool_lost_bytes_total counter
loglynx_kafka_spool_lost_bytes_total{agent="h-10"} 300
# HELP loglynx_kafka_spooling 1 while the agent buffers on disk (broker unreachable or stalled)
# TYPE loglynx_kafka_spooling gauge
loglynx_kafka_spooling{agent="h-10"} 1
# HELP loglynx_kafka_consumed_records_total records handed to the shards since the worker started
# TYPE loglynx_kafka_consumed_records_total counter
loglynx_kafka_consumed_records_total{worker="h-20"} 300
loglynx_kafka_consumed_records_total{worker="h-30"} 300
# HELP loglynx_kafka_consume_rate records consumed per second over the last report interval
# TYPE loglynx_kafka_consume_rate gauge
loglynx_kafka_consume_rate{worker="h-20"} 50.0
loglynx_kafka_consume_rate{worker="h-30"} 50.0
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
    // The group `g"x` is escaped as the format wants it.
    assert!(out.contains("{group=\"g\\\"x\"}"));
}

#[test]
fn only_the_newest_rebalances_are_kept_and_no_report_is_an_empty_view() {
    let events: Vec<RebalanceEvent> = (0..60)
        .map(|i| ev(i, RebalanceKind::Assign, &[0]))
        .collect();
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
    assert_eq!(render_at(Vec::new(), 5), "");
}
