//! loglynx log patterns: the kinds of line behind a stream of logs, mined as lines arrive.
//!
//! - `classes`: which bytes of a line are whitespace or notable, as bitmaps of 64 bytes (SSE2).
//! - `token`: lines into whitespace tokens; which tokens are values; values masked as `<*>`
//!   inside a token ([`mask`]).
//! - `template`: a template's positions, how a line fits it and how it learns; its id, a hash
//!   of its text ([`template_id`]), so shards and restarts agree without talking.
//! - `miner`: [`Miner`], the online grouping (Drain-like buckets, similarity, a cap per
//!   service with the overflow counted).
//! - `state`: the persisted state and the [`Dictionary`] (template text by current or former id).
//! - `shared`: [`Patterns`], one miner shared by threads.
//! - [`accuracy`]: grouping and parsing accuracy against ground truth, the Loghub way.
//!
//! Written for loglynx rather than taken from a crate: the Rust Drain ports on crates.io
//! (`drain-rs`, `drain3`-like ones) have no stable ids, persisted state, per-service caps or
//! sub-token masking, and are not maintained.

pub mod accuracy;
mod classes;
mod error;
mod miner;
mod shared;
mod state;
mod template;
mod token;

pub use error::PatternError;
pub use miner::{
    Mined, Miner, MinerSettings, DEFAULT_MAX_SERVICES, DEFAULT_MAX_TEMPLATES, DEFAULT_MAX_TOKENS, DEFAULT_SIMILARITY,
    OTHER_SERVICES, OVERFLOW_TEMPLATE,
};
pub use shared::Patterns;
pub use state::{Dictionary, TemplateInfo, STATE_VERSION};
pub use template::{format_id, parse_id, template_id, TemplateId};
pub use token::{mask, WILDCARD};
