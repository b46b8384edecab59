//! [`PipelineError`]: why the pipeline stage stopped before its input ended.

/// Errors of the pipeline stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store writer (the stage's downstream) stopped taking batches: the events parsed
    /// since were not stored, and their positions and acks were not advanced.
    #[error("the store writer stopped taking events: the pipeline stopped too (see the store writer's error)")]
    DownstreamClosed,
}
