//! loglynx detection: Sigma rules (spec v2.1, detection and correlation) loaded from files and
//! folders, compiled against loglynx events, and checked.
//!
//! - [`ruleset`]: [`RuleSet::load`] reads rule files and folders; a rule that does not compile
//!   becomes a [`Rejection`] (file, line, reason) and the others load.
//! - [`pipeline`]: the field mapping and logsource routing shipped with loglynx (a pySigma-style
//!   processing pipeline, `pipelines/loglynx.yml`).
//! - [`event`]: [`SigmaEvent`], a loglynx [`loglynx_core::Event`] as the engine sees it, read in
//!   place.
//!
//! Parsing and matching are the `rsigma-parser` / `rsigma-eval` crates'.
//!
//! ```
//! use loglynx_core::{Event, Timestamp};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("r.yml"), "title: t\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['Failed password']\n  condition: k\n").unwrap();
//! let rules = loglynx_detect::RuleSet::load(&[dir.path()]).unwrap();
//! let mut e = Event::new("Failed password for root", Timestamp::from_secs(0), Timestamp::from_secs(0), "1".into());
//! e.process_name = Some("sshd".into());
//! assert_eq!(rules.matching_rules(&e)[0].title, "t");
//! ```

pub mod alerts;
pub mod correlate;
mod detector;
pub mod notify;
mod error;
pub mod rules;
mod runtime;
mod stage;
pub mod event;
mod locate;
pub mod pipeline;
pub mod resolve;
pub mod ruleset;

pub use alerts::{Alert, AlertBook, AlertFilter, AlertStatus, Applied};
pub use detector::{Detector, DetectorOptions};
pub use error::DetectError;
pub use runtime::{BacktestError, BacktestResult, BacktestRule, Detection, DetectionSettings, RuleState};
pub use stage::{DetectionStage, DetectionStats};
pub use event::SigmaEvent;
pub use ruleset::{LoadOptions, Rejection, Replaced, RuleInfo, RuleSet};
