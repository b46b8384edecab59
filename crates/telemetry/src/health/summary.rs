//! [`summarize`]: every process's [`HealthReport`] summed up as the JSON of
//! `GET /api/v1/pipeline`.

use super::report::{HealthReport, PartitionHealth, RebalanceEvent, Role, MAX_REBALANCES};

/// A partition in the merged view of the fresh workers' reports, with its owner.
pub(super) struct Owned<'a> {
    pub(super) topic: &'a str,
    pub(super) owner: &'a HealthReport,
    pub(super) part: &'a PartitionHealth,
}

/// The partitions the fresh workers own, by topic then partition. During a handover two
/// reports written a second apart can both list a partition: the one written last wins.
pub(super) fn owned_partitions(reports: &[HealthReport], now_ms: u64) -> Vec<Owned<'_>> {
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

pub(super) fn fresh(
    reports: &[HealthReport],
    role: Role,
    now_ms: u64,
) -> impl Iterator<Item = &HealthReport> {
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
        "spool_lost_frames": producers().map(|p| p.spool_lost_frames).sum::<u64>(),
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
