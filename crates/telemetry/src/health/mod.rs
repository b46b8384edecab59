//! Pipeline health of the scale-out shape: what each agent and worker process reports about
//! itself, written every [`REPORT_EVERY`] to `<data_dir>/health/<role>-<host>-<pid>.json` and
//! read back by `loglynx serve` (same data directory, same machine) for `/api/v1/pipeline`,
//! `/metrics` and the dashboard's Pipeline page. The agent also serves its own report on its
//! `/metrics`. Across machines, scrape each process's `/metrics` (see ARCHITECTURE.md).
//!
//! A report older than [`STALE_AFTER`] belongs to a process that is gone (SIGKILL, crash);
//! a clean exit removes its file.
//!
//! - `report.rs`: [`HealthReport`] and its parts, with typed states ([`Role`],
//!   [`ProducerState`], [`RebalanceKind`]) serialised to the strings of the JSON.
//! - `files.rs`: the report files ([`health_dir`], [`HealthReport::write`], [`read_reports`]).
//! - `summary.rs`: [`summarize`], the JSON of `/api/v1/pipeline`.
//! - `collector.rs`: [`ReportsCollector`], the `loglynx_kafka_*` series rendered from reports
//!   at scrape time.

mod collector;
mod files;
mod report;
mod summary;

pub use collector::{ReportSource, ReportsCollector};
pub use files::{health_dir, now_ms, read_reports};
pub use report::{
    ConsumerHealth, HealthReport, PartitionHealth, ProducerHealth, ProducerState, RebalanceEvent,
    RebalanceKind, Role, MAX_REBALANCES, REPORT_EVERY, STALE_AFTER,
};
pub use summary::summarize;

#[cfg(test)]
mod tests;
