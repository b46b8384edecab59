//! [`PipelineError`]: why the pipeline stage stopped before its input ended.

/// Errors of the pipeline stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store writer (the stage's downstream) stopped taking batches: the events parsed
    /// since were not stored, and their positions and acks were not advanced.
    #[error("the store writer stopped taking events: the pipeline stopped too (see the store writer's error)")]
    DownstreamClosed,
    /// A parse task did not finish (cancelled at shutdown): its batch and the later ones were
    /// not passed on, so their positions and acks were not advanced and they are read again.
    #[error("a parse task did not finish: the pipeline stopped without passing on its batch")]
    ParseTask {
        #[source]
        source: tokio::task::JoinError,
    },
    /// The file of admitted `labels.*` keys (`<data_dir>/parse/label_keys.jsonl`) could not be
    /// opened or read at start.
    #[error("cannot open or read the label key file {path}")]
    LabelKeys {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
