//! Detection in an assembly: the rules and alerts ([`loglynx_detect::Detection`]), the tagging
//! hook given to the parse threads, and the stateful stage between the pipeline and the store
//! writer (correlation and alerts, in batch order; new alerts join the batch as events, so they
//! are committed with the events that raised them).

use std::sync::Arc;

use loglynx_config::Config;
use loglynx_core::EventBatch;
use loglynx_detect::{Detection, DetectionSettings, DetectorOptions};
use loglynx_pipeline::BatchHook;
use tokio::sync::mpsc;

use crate::error::{NodeError, Result};

/// Opens detection as `cfg.detect` says, `None` when it is off. Alerts live under
/// `<data_dir>/alerts/`.
pub(crate) fn open(cfg: &Config) -> Result<Option<Arc<Detection>>> {
    let d = &cfg.detect;
    if !d.enabled {
        return Ok(None);
    }
    let settings = DetectionSettings {
        paths: d.rules.clone(),
        builtin: d.builtin,
        options: DetectorOptions {
            disabled: d.disabled.clone(),
            group_by: d.group_by.clone(),
            max_groups: d.max_groups,
        },
        suppress_secs: d.suppress.as_secs(),
        max_evidence: d.max_evidence,
        reload_interval: d.reload_interval,
    };
    let det = Detection::open(settings, &cfg.data_dir.join("alerts")).map_err(NodeError::Detect)?;
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
    Ok(Some(det))
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

/// Runs the detection stage between `rx` (the pipeline's output) and `tx` (the store writer)
/// on its own thread; it ends when `rx` closes (dropping `tx`) or the writer goes away.
pub(crate) fn spawn_stage(
    det: Arc<Detection>,
    mut rx: mpsc::Receiver<EventBatch>,
    tx: mpsc::Sender<EventBatch>,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("detect".into())
        .spawn(move || {
            let (mut stage, mut seen) = det.stage();
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
