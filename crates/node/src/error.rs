//! [`NodeError`]: why an assembly could not start or stopped, with what to do next.
//!
//! Each variant names what was being done; the cause is its typed `source` (walk the chain with
//! [`chain`] or anyhow's `{:#}` to print all of it).

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use loglynx_bus::BusError;
use loglynx_collect::CollectError;
use loglynx_config::ConfigError;
use loglynx_netmon::NetmonError;
use loglynx_store::StoreError;

/// Errors of the assemblies.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The process was asked to stop while waiting (e.g. for a shard another worker holds).
    #[error("stopped while {what} ({path})")]
    Stopping {
        /// What it was doing.
        what: &'static str,
        /// The lock file.
        path: PathBuf,
    },
    /// The search across machines could not start (its client, a catalog record).
    #[error("search across machines")]
    Search(#[source] loglynx_search::SearchError),
    /// The pipeline could not start (its label key file).
    #[error("the pipeline could not start")]
    Pipeline(#[source] loglynx_pipeline::PipelineError),
    /// Detection could not start (the rule paths or the alerts database).
    #[error("detection could not start")]
    Detect(#[source] loglynx_detect::DetectError),
    /// The configuration file or a setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A flag's value could not be read.
    #[error("--{flag} {value:?}: expected {expected}")]
    Flag {
        /// The flag, without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is expected, with an example.
        expected: &'static str,
    },
    /// The agent's HTTP ingest would be open to the network without a token.
    #[error(
        "the agent's HTTP ingest address {addr} is not a loopback address: create an API key (`loglynx keys add NAME --scope ingest --data-dir DIR`) or set http.auth_token (or LOGLYNX_AUTH_TOKEN) so it is not open to the network, or pass --http off"
    )]
    OpenIngest {
        /// The address configured.
        addr: SocketAddr,
    },
    /// A directory could not be created.
    #[error("cannot create {}: check the path and its permissions", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A lock file could not be created or locked.
    #[error("cannot lock {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the directory.
    #[error("{message}")]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// What holds it and what to do (from the [`crate::lock::DirLock`] caller).
        message: String,
    },
    /// The store could not be opened.
    #[error("cannot open the store in {}", dir.display())]
    Store {
        /// The data directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// The store writer could not be started or failed.
    #[error("{what}")]
    Writer {
        /// What was being done (`cannot start the store writer`, `store writer failed`...).
        what: &'static str,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// A source (file tail, syslog server) could not start or failed.
    #[error("{what}")]
    Source {
        /// What was being done, and what to try.
        what: &'static str,
        /// The cause.
        #[source]
        source: CollectError,
    },
    /// The TCP state monitor could not start.
    #[error("cannot start the TCP state monitor")]
    Netmon(#[source] NetmonError),
    /// An address could not be bound.
    #[error("cannot listen on {addr} ({hint})")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What to do about it.
        hint: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be used.
    #[error("cannot set up TLS for the HTTP server")]
    Tls(#[source] loglynx_api::TlsError),
    /// An HTTP server failed while serving.
    #[error("http server failed")]
    Http(#[source] std::io::Error),
    /// The Kafka transport failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A background task panicked or was cancelled.
    #[error("{what}")]
    Join {
        /// Which task.
        what: &'static str,
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The patterns' saved state could not be read or written.
    #[error("cannot read or write the pattern state {path}: {source}; check the data directory's disk space and permissions")]
    Patterns {
        /// The state file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("{what}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Kafka producer stopped with an error.
    #[error("kafka producer failed")]
    Producer(#[source] BusError),
    /// A part of the worker still held the consumer group at shutdown (a bug: the shards may not
    /// have made their last commit).
    #[error("the consumer group is still in use at shutdown")]
    GroupInUse,
}

impl NodeError {
    /// A task that ended without its result (panic, cancellation).
    pub(crate) fn join(what: &'static str, source: tokio::task::JoinError) -> NodeError {
        NodeError::Join { what, source }
    }
}

/// The error and its causes, `outer: inner: ...` (for log lines and the binary's last word). A
/// cause whose text its parent already shows (many messages quote their source) is not repeated.
pub fn chain<'a>(e: &'a (dyn StdError + 'static)) -> impl fmt::Display + 'a {
    struct Chain<'a>(&'a (dyn StdError + 'static));
    impl fmt::Display for Chain<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut shown = self.0.to_string();
            write!(f, "{shown}")?;
            let mut next = self.0.source();
            while let Some(e) = next {
                let text = e.to_string();
                if !shown.contains(&text) {
                    write!(f, ": {text}")?;
                }
                shown = text;
                next = e.source();
            }
            Ok(())
        }
    }
    Chain(e)
}

/// Results of this crate.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_the_step_then_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        let e = NodeError::Listen {
            addr: "127.0.0.1:1".parse().unwrap(),
            hint: "in use? pass --http ADDR",
            source: io,
        };
        assert_eq!(
            chain(&e).to_string(),
            "cannot listen on 127.0.0.1:1 (in use? pass --http ADDR): address in use"
        );
    }

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let e = NodeError::Source {
            what: "cannot start the file tail",
            source: loglynx_collect::CollectError::Io {
                context: "cannot read x".into(),
                source: std::io::Error::other("disk gone"),
            },
        };
        // CollectError::Io's message quotes its io::Error: shown once.
        assert_eq!(
            chain(&e).to_string(),
            "cannot start the file tail: cannot read x: disk gone"
        );
    }
}
