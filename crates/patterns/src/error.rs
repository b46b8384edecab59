//! The errors of loglynx-patterns.

/// What can go wrong outside mining itself (mining never fails: any line gets a template).
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// A persisted miner state could not be read back.
    #[error("the persisted pattern state does not parse: {source}; remove it to start mining afresh")]
    StateFormat {
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A persisted miner state was written by a newer format version.
    #[error("the persisted pattern state has format version {found}, this loglynx reads {expected}; remove it or upgrade loglynx")]
    StateVersion {
        /// The version in the state.
        found: u32,
        /// The version this build writes and reads.
        expected: u32,
    },
}
