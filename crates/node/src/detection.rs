//! Detection in an assembly: the rules and alerts ([`loglynx_detect::Detection`]), the tagging
//! hook given to the parse threads, and the stateful stage between the pipeline and the store
//! writer (correlation and alerts, in batch order; new alerts join the batch as events, so they
//! are committed with the events that raised them).

use std::sync::Arc;

use loglynx_config::Config;
use loglynx_core::{Event, EventBatch, Timestamp};
use loglynx_query::{Filter, QueryEngine, SearchRequest, SortOrder};
use loglynx_store::Store;
use loglynx_detect::{Detection, DetectionSettings, DetectorOptions};
use loglynx_pipeline::BatchHook;
use tokio::sync::mpsc;

use crate::error::{NodeError, Result};

/// Opens detection as `cfg.detect` says, `None` when it is off. Alerts live under
/// `<data_dir>/alerts/`.
pub(crate) fn open(cfg: &Config) -> Result<Option<Arc<Detection>>> {
    if !cfg.detect.enabled {
        return Ok(None);
    }
    let det = Detection::open(settings(cfg), &cfg.data_dir.join("alerts")).map_err(NodeError::Detect)?;
    started(&det)?;
    det.start_notifier().map_err(|e| NodeError::Thread {
        what: "alert notifier",
        source: std::io::Error::other(e),
    })?;
    Ok(Some(det))
}

/// Detection without an alerts database (a worker, `serve`), `None` when it is off.
pub(crate) fn open_tagging(cfg: &Config) -> Result<Option<Arc<Detection>>> {
    if !cfg.detect.enabled {
        return Ok(None);
    }
    let det = Detection::open_tagging(settings(cfg)).map_err(NodeError::Detect)?;
    started(&det)?;
    Ok(Some(det))
}

/// Logs what loaded and starts the rule-file watcher.
fn started(det: &Arc<Detection>) -> Result<()> {
    {
        let r = det.detector();
        tracing::info!(
            active = r.rules().active().len(),
            correlations = r.rules().correlations().count(),
            rejected = r.rules().rejected().len(),
            "detection rules loaded"
        );
    }
    det.watch().map_err(|source| NodeError::Thread { what: "rules watcher", source })?;
    Ok(())
}

fn settings(cfg: &Config) -> DetectionSettings {
    let d = &cfg.detect;
    DetectionSettings {
        paths: d.rules.clone(),
        pipelines: d.pipelines.clone(),
        builtin: d.builtin,
        params: vec![
            ("failed_connect_threshold".into(), cfg.tcp_states.failed_connect_threshold.to_string()),
            ("failed_connect_window".into(), format!("{}s", cfg.tcp_states.failed_connect_window.as_secs().max(1))),
            ("close_wait_threshold".into(), cfg.tcp_states.close_wait_threshold.to_string()),
            // "0s" turns the growth condition off: a rise no host lives to see
            ("close_wait_growth_s".into(), match cfg.tcp_states.close_wait_growth.as_secs() {
                0 => "1000000000000".to_string(),
                s => s.to_string(),
            }),
            ("time_wait_threshold".into(), cfg.tcp_states.time_wait_threshold.to_string()),
            ("fin_wait2_threshold".into(), cfg.tcp_states.fin_wait2_threshold.to_string()),
            ("churn_threshold".into(), cfg.tcp_states.churn_threshold.to_string()),
            ("rtt_regression_factor".into(), cfg.tcp_states.rtt_regression_factor.to_string()),
            ("rtt_regression_min_us".into(), cfg.tcp_states.rtt_regression_min_increase.as_micros().to_string()),
            ("retransmit_regression_factor".into(), cfg.tcp_states.retransmit_regression_factor.to_string()),
            ("retransmit_regression_min_increase".into(), cfg.tcp_states.retransmit_regression_min_increase.to_string()),
        ],
        options: DetectorOptions {
            disabled: d.disabled.clone(),
            group_by: d.group_by.clone(),
            max_groups: d.max_groups,
            overrides: Default::default(),
        },
        suppress_secs: d.suppress.as_secs(),
        resolve_after_secs: d.resolve_after.as_secs(),
        max_evidence: d.max_evidence,
        reload_interval: d.reload_interval,
        notify: loglynx_detect::notify::NotifySettings {
            webhook: Some(d.notify.webhook.clone()).filter(|w| !w.is_empty()),
            webhook_header: std::env::var("LOGLYNX_WEBHOOK_HEADER")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| d.notify.webhook_header.clone())
                .split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string())),
            syslog: Some(d.notify.syslog.clone()).filter(|s| !s.is_empty()),
            timeout: d.notify.timeout,
            host: cfg.host_name(),
        },
    }
}

/// Tags each parsed event with the rules it matches, on the parse threads.
pub(crate) fn hook(det: &Arc<Detection>) -> BatchHook {
    let det = det.clone();
    Arc::new(move |events| {
        let d = det.detector();
        for e in events.iter_mut() {
            d.tag(e);
        }
    })
}

/// Most stored events read again to rebuild the correlation windows at start.
const WARM_MAX: usize = loglynx_query::MAX_RESULT_WINDOW;

/// The stored events that matched a rule, from `lookback_secs` before the newest of them, oldest
/// first (at most [`WARM_MAX`]): what the correlation windows held when the process stopped.
/// The store's checkpoint is after them, so they are not read from the sources again.
pub(crate) fn stored_matches(store: &Store, engine: &QueryEngine, lookback_secs: i64) -> Vec<Event> {
    if lookback_secs <= 0 {
        return Vec::new();
    }
    let windows = store.snapshot();
    // alert events carry rule.id too; they are not matches
    let query = "rule.id:* AND NOT event.dataset:loglynx.alert";
    let newest = SearchRequest {
        filter: Filter { query: query.into(), start: None, end: None },
        limit: 1,
        offset: 0,
        sort: SortOrder::Desc,
    };
    let last = match engine.search(&windows, &newest) {
        Ok(r) => match r.hits.first() {
            Some(e) => e.timestamp,
            None => return Vec::new(),
        },
        Err(e) => {
            tracing::warn!("correlation windows not rebuilt: {e}");
            return Vec::new();
        }
    };
    let start = Timestamp::from_millis(last.as_millis().saturating_sub(lookback_secs.saturating_mul(1000)));
    let filter = Filter {
        query: query.into(),
        start: Some(start),
        end: None,
    };
    match engine.search_all(&windows, &filter, SortOrder::Asc, WARM_MAX) {
        Ok((total, events)) => {
            if total as usize > events.len() {
                tracing::warn!(
                    events = events.len(),
                    matches = total,
                    "correlation windows rebuilt from the oldest {WARM_MAX} matches of the lookback only"
                );
            }
            events
        }
        Err(e) => {
            tracing::warn!("correlation windows not rebuilt: {e}");
            Vec::new()
        }
    }
}

/// Reads the stored matches a restart needs ([`stored_matches`]), given the lookback.
pub(crate) type Warm = Box<dyn FnOnce(i64) -> Vec<Event> + Send>;

/// Returns the events of the recent alerts the store does not have ([`unindexed_alerts`]).
pub(crate) type Indexed = Box<dyn FnOnce(&loglynx_detect::AlertBook) -> Vec<Event> + Send>;

/// The alert events of the alerts changed in the last day that the store lacks: the alerts
/// database commits before the store, so a crash between the two leaves an alert without its
/// event.
pub(crate) fn unindexed_alerts(store: &Store, engine: &QueryEngine, book: &loglynx_detect::AlertBook) -> Vec<Event> {
    let since = Timestamp::from_millis(Timestamp::now().as_millis() - 86_400_000);
    let recent = match book.list(&loglynx_detect::AlertFilter { limit: 10_000, ..Default::default() }) {
        Ok((_, a)) => a.into_iter().filter(|a| a.updated >= since).collect::<Vec<_>>(),
        Err(e) => {
            tracing::warn!("alerts not checked against the store: {e}");
            return Vec::new();
        }
    };
    let windows = store.snapshot();
    recent
        .into_iter()
        .filter(|a| {
            let f = Filter { query: format!("alert.id:{}", a.id), start: None, end: None };
            matches!(engine.count(&windows, &f), Ok(0))
        })
        .map(|a| a.to_event())
        .collect()
}

/// Runs the detection stage between `rx` (the pipeline's output) and `tx` (the store writer)
/// on its own thread; it ends when `rx` closes (dropping `tx`) or the writer goes away. First
/// it rebuilds the correlation windows from the stored matches `warm` reads (alerts fold
/// idempotently, so this raises nothing twice); an alert that this creates (its event was not
/// committed before a crash) goes to the store at once.
pub(crate) fn spawn_stage(
    det: Arc<Detection>,
    mut rx: mpsc::Receiver<EventBatch>,
    tx: mpsc::Sender<EventBatch>,
    warm: Option<Warm>,
    mut indexed: Option<Indexed>,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("detect".into())
        .spawn(move || {
            let (mut stage, mut seen) = det.stage();
            if let Some(warm) = warm {
                let mut events = warm(stage.lookback_secs());
                let n = events.len();
                if n > 0 {
                    match stage.process(&mut events) {
                        Ok(created) => {
                            tracing::info!(events = n, alerts_created = created, "correlation windows rebuilt from the store");
                            let alerts: Vec<Event> = events.split_off(n);
                            if !alerts.is_empty() {
                                let batch = EventBatch { events: alerts, checkpoint: Vec::new(), ack: None };
                                let _ = tx.blocking_send(batch);
                            }
                        }
                        Err(e) => tracing::error!("correlation windows not rebuilt: {e}"),
                    }
                }
            }
            if let Some(check) = indexed.take() {
                let missing = check(det.alerts());
                if !missing.is_empty() {
                    tracing::info!(alerts = missing.len(), "alert events the store lacked (a crash before their commit) written again");
                    let batch = EventBatch { events: missing, checkpoint: Vec::new(), ack: None };
                    let _ = tx.blocking_send(batch);
                }
            }
            while let Some(mut batch) = rx.blocking_recv() {
                det.refresh(&mut stage, &mut seen);
                if let Err(e) = stage.process(&mut batch.events) {
                    // Kept going: the events are stored, the alerts of this batch are not.
                    tracing::error!("alerts of a batch not written: {e}");
                }
                if tx.blocking_send(batch).is_err() {
                    tracing::error!("the store writer stopped taking batches: detection ends");
                    break;
                }
            }
            det.stop();
        })
        .map_err(|source| NodeError::Thread { what: "detection stage", source })
}
