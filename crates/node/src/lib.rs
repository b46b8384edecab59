//! loglynx node: the assemblies that run in a process, each `config -> build() (validates) ->
//! start() -> a running handle` with an observable state and a `shutdown()`:
//!
//! - [`AllInOne`]: sources -> pipeline -> store -> API and dashboard (`loglynx run`);
//! - [`Agent`]: sources -> Kafka producer, with the on-disk buffer (`loglynx agent`);
//! - [`Worker`]: Kafka consumer group -> pipeline -> one store shard per partition
//!   (`loglynx worker`);
//! - [`Serve`]: the API and dashboard over the workers' shards (`loglynx serve`).
//!
//! [`Overrides::resolve`] turns the command line over the config file into the validated
//! [`loglynx_config::Config`] all of them take. Also here: [`DirLock`] (one writer per
//! directory), [`HealthReporter`] (the health report files `serve` reads). The binary
//! (`crates/cli`) keeps argument parsing, signals, printing and the HTTP client commands.

mod agent;
mod all_in_one;
mod catalog;
mod detection;
mod error;
mod lock;
mod patterns;
mod reporter;
mod serve;
mod settings;
mod sources;
mod worker;

/// API keys (`loglynx keys`): the key file of a data directory and the scopes.
pub use loglynx_api::{KeyEntry, KeyError, KeyFile, Scope};
pub use agent::{Agent, AgentState, RunningAgent};
pub use catalog::catalog_topic;
pub use all_in_one::{AllInOne, AllInOneState, RunningAllInOne};
pub use error::{chain, NodeError, Result};
pub use lock::DirLock;
pub use reporter::{HealthReporter, LastReport};
pub use serve::{HealthFiles, RunningServe, Serve, REFRESH};
pub use settings::{Listen, Overrides, AUTH_TOKEN_ENV, SEARCH_KEY_ENV};
pub use sources::{SourceAddrs, TcpStatesMode};
pub use worker::{generations, Generation, RunningWorker, Worker, WorkerState, RETENTION_EVERY};
