//! loglynx pipeline: the stage between transport and store.
//!
//! - [`parse`]: format detection, parsing and ECS normalisation of one [`RawRecord`].
//! - [`decode`]: after parsing, ECS fields from the messages of sshd, sudo, su, pam_unix,
//!   account tools, cron, systemd, kernel firewalls and web access logs.
//! - [`PipelineError`]: why the stage stopped early.
//! - [`FileRules`]: each file's zone for timestamps that carry none (`files.timezone`) and its
//!   explicit layout (`[[files.layouts]]`), or the header structure learned from its lines
//!   when detection does not explain them or reads them only as a generic header (`learn`).
//! - `labels`: [`LabelGuard`], the caps on `labels.*` keys per event and overall.
//! - `stage`: the loop that turns [`RawBatch`]es into [`EventBatch`]es (parse, then decode) on a pool of blocking
//!   threads, preserving batch order (so source positions reach the store in order).
//!
//! [`RawRecord`]: loglynx_core::RawRecord
//! [`RawBatch`]: loglynx_core::RawBatch
//! [`EventBatch`]: loglynx_core::EventBatch

pub mod decode;
mod error;
pub mod parse;
mod file_rules;
mod labels;
mod learn;
mod stage;

pub use error::PipelineError;
pub use stage::{spawn_pipeline, BatchHook, PipelineStats};
pub use file_rules::{FileRules, SourceRules};
pub use labels::LabelGuard;
pub use learn::{learned_sources, learned_sources_with, LearnedSource, Seen, Segment};
