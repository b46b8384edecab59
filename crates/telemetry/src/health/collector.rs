//! [`ReportsCollector`]: the `loglynx_kafka_*` series rendered from health reports at each
//! scrape (`loglynx serve` reads the files of the other processes; the agent renders its own
//! report the same way).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::files::{now_ms, read_reports};
use super::report::{HealthReport, ProducerState, Role};
use super::summary::{fresh, owned_partitions};

/// Where a [`ReportsCollector`] gets its reports at each scrape.
#[derive(Clone)]
pub enum ReportSource {
    /// The report files of a directory (`<data_dir>/health`, see [`super::health_dir`]).
    Files(PathBuf),
    /// Reports built on demand (a process rendering its own).
    Fn(Arc<dyn Fn() -> Vec<HealthReport> + Send + Sync>),
}

impl fmt::Debug for ReportSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportSource::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
            ReportSource::Fn(_) => f.write_str("Fn"),
        }
    }
}

/// Renders reports as the `loglynx_kafka_*` series (`docs/METRICS.md`), read at each scrape:
/// register it with [`crate::Registry::register_collector`]. Reading files blocks: render
/// the registry off the async threads.
#[derive(Debug, Clone)]
pub struct ReportsCollector {
    source: ReportSource,
}

impl ReportsCollector {
    /// The reports of the files in `dir` (`loglynx serve`).
    pub fn files(dir: PathBuf) -> ReportsCollector {
        ReportsCollector {
            source: ReportSource::Files(dir),
        }
    }

    /// The reports `f` returns at each scrape (a process's own report).
    pub fn from_fn(f: impl Fn() -> Vec<HealthReport> + Send + Sync + 'static) -> ReportsCollector {
        ReportsCollector {
            source: ReportSource::Fn(Arc::new(f)),
        }
    }

    fn reports(&self) -> Vec<HealthReport> {
        match &self.source {
            ReportSource::Files(dir) => read_reports(dir),
            ReportSource::Fn(f) => f(),
        }
    }
}

impl Collector for ReportsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for family in families(&self.reports(), now_ms()) {
            family.encode(&mut encoder)?;
        }
        Ok(())
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy)]
enum Value {
    Count(u64),
    Int(i64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Count(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

type Labels = Vec<(&'static str, String)>;

/// The samples of one metric, read from the reports.
struct Family {
    /// Without the `_total` a counter gets when rendered.
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, Value)>,
}

impl Family {
    fn counter(name: &'static str, help: &'static str) -> Family {
        Family::new(name, MetricType::Counter, help)
    }

    fn gauge(name: &'static str, help: &'static str) -> Family {
        Family::new(name, MetricType::Gauge, help)
    }

    fn new(name: &'static str, kind: MetricType, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: &[(&'static str, &str)], value: impl Into<Value>) {
        let labels = labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
        self.samples.push((labels, value.into()));
    }

    /// `# HELP`, `# TYPE` and the samples; nothing when there is no sample.
    fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        if self.samples.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, self.kind)?;
        for (labels, value) in &self.samples {
            let sample = metric.encode_family(labels)?;
            match (self.kind, *value) {
                (MetricType::Counter, Value::Count(v)) => ConstCounter::new(v).encode(sample)?,
                (_, Value::Count(v)) => ConstGauge::new(v).encode(sample)?,
                (_, Value::Int(v)) => ConstGauge::new(v).encode(sample)?,
                (_, Value::Float(v)) => ConstGauge::new(v).encode(sample)?,
            }
        }
        Ok(())
    }
}

/// The `loglynx_kafka_*` metrics of `reports` at `now_ms`, in their rendering order; those
/// without a sample are left out when encoded. Per-process and per-partition series come from
/// fresh reports only (a gone process has no series); `loglynx_kafka_report_stale{role,id}`
/// lists every report.
fn families(reports: &[HealthReport], now_ms: u64) -> Vec<Family> {
    let mut produced = Family::counter(
        "loglynx_kafka_produced_records",
        "records acknowledged by the brokers since the agent started",
    );
    let mut failures = Family::counter(
        "loglynx_kafka_produce_failures",
        "delivery failures (each retried) since the agent started",
    );
    let mut truncated = Family::counter(
        "loglynx_kafka_produce_truncated_records",
        "records too large for Kafka sent cut to fit (flagged truncated) since the agent started",
    );
    let mut prate = Family::gauge(
        "loglynx_kafka_produce_rate",
        "records delivered per second over the last report interval",
    );
    let mut spool_bytes = Family::gauge(
        "loglynx_kafka_spool_bytes",
        "bytes in the agent's on-disk buffer",
    );
    let mut spool_max = Family::gauge(
        "loglynx_kafka_spool_max_bytes",
        "capacity of the agent's on-disk buffer",
    );
    let mut spool_records = Family::gauge(
        "loglynx_kafka_spool_records",
        "records in the agent's on-disk buffer not yet delivered",
    );
    let mut spool_lost_frames = Family::counter(
        "loglynx_kafka_spool_lost_frames",
        "damaged frames of the agent's on-disk buffer skipped since it started (their records are lost)",
    );
    let mut spool_lost_bytes = Family::counter(
        "loglynx_kafka_spool_lost_bytes",
        "bytes of damaged stretches of the agent's on-disk buffer skipped since it started",
    );
    let mut spooling = Family::gauge(
        "loglynx_kafka_spooling",
        "1 while the agent buffers on disk (broker unreachable or stalled)",
    );
    for r in fresh(reports, Role::Agent, now_ms) {
        let Some(p) = &r.producer else { continue };
        let l = [("agent", r.id.as_str())];
        produced.add(&l, p.delivered);
        failures.add(&l, p.failures);
        truncated.add(&l, p.truncated);
        prate.add(&l, p.rate);
        spool_bytes.add(&l, p.spool_bytes);
        spool_max.add(&l, p.spool_max_bytes);
        spool_records.add(&l, p.spool_records);
        spool_lost_frames.add(&l, p.spool_lost_frames);
        spool_lost_bytes.add(&l, p.spool_lost_bytes);
        spooling.add(&l, u64::from(p.state == ProducerState::Spooling));
    }

    let mut consumed = Family::counter(
        "loglynx_kafka_consumed_records",
        "records handed to the shards since the worker started",
    );
    let mut crate_ = Family::gauge(
        "loglynx_kafka_consume_rate",
        "records consumed per second over the last report interval",
    );
    let mut rebalances = Family::counter(
        "loglynx_kafka_rebalances",
        "rebalance callbacks (assignments, revocations) since the worker started",
    );
    let mut skipped = Family::counter(
        "loglynx_kafka_skipped_records",
        "records not stored again since the worker started, by reason: offset (the shard had \
         the offset: read again after a hand-over or a re-fetch) or resent (an agent sent the \
         record twice)",
    );
    let mut refetches = Family::counter(
        "loglynx_kafka_refetches",
        "fetches started again because the broker's answer skipped offsets",
    );
    let mut missing = Family::counter(
        "loglynx_kafka_missing_offsets",
        "offsets given up as missing after re-fetching (deleted by retention or lost by the broker)",
    );
    let mut members: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in fresh(reports, Role::Worker, now_ms) {
        let Some(c) = &r.consumer else { continue };
        let l = [("worker", r.id.as_str())];
        consumed.add(&l, c.consumed);
        crate_.add(&l, c.rate);
        rebalances.add(&l, c.rebalances_total);
        let offset = c.skipped.saturating_sub(c.duplicates);
        skipped.add(&[("worker", r.id.as_str()), ("reason", "offset")], offset);
        skipped.add(
            &[("worker", r.id.as_str()), ("reason", "resent")],
            c.duplicates,
        );
        refetches.add(&l, c.refetches);
        missing.add(&l, c.missing);
        *members.entry(c.group.as_str()).or_default() += c.consumers;
    }
    let mut group_members = Family::gauge(
        "loglynx_kafka_group_members",
        "consumers of the group in fresh worker reports",
    );
    for (g, n) in &members {
        group_members.add(&[("group", g)], *n as u64);
    }

    let mut lag = Family::gauge(
        "loglynx_kafka_consumer_lag",
        "records in the partition not yet searchable (high watermark - committed offset)",
    );
    let mut committed = Family::gauge(
        "loglynx_kafka_partition_committed_offset",
        "next offset durably committed in the partition's shard",
    );
    let mut high = Family::gauge(
        "loglynx_kafka_high_watermark",
        "next offset the broker will write in the partition",
    );
    let mut part_missing = Family::gauge(
        "loglynx_kafka_partition_missing_offsets",
        "offsets of the partition given up as missing over its shard's life (alert on any rise)",
    );
    let mut owner = Family::gauge(
        "loglynx_kafka_partition_owner",
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
            1u64,
        );
    }

    let mut stale = Family::gauge(
        "loglynx_kafka_report_stale",
        "1 when a process's health report was not rewritten in time (the process is gone)",
    );
    for r in reports {
        stale.add(
            &[("role", r.role.as_str()), ("id", r.id.as_str())],
            u64::from(r.is_stale(now_ms)),
        );
    }

    vec![
        produced,
        failures,
        truncated,
        prate,
        spool_bytes,
        spool_max,
        spool_records,
        spool_lost_frames,
        spool_lost_bytes,
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
    ]
}

/// The series of `reports` at `now_ms` as rendered (tests).
#[cfg(test)]
pub(super) fn render_at(reports: Vec<HealthReport>, now_ms: u64) -> String {
    #[derive(Debug)]
    struct At(Vec<HealthReport>, u64);
    impl Collector for At {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
            for family in families(&self.0, self.1) {
                family.encode(&mut encoder)?;
            }
            Ok(())
        }
    }
    let mut reg = prometheus_client::registry::Registry::default();
    reg.register_collector(Box::new(At(reports, now_ms)));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &reg).expect("render");
    out
}
