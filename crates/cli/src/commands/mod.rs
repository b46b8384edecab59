//! Commands that run loglynx components in this process: flags -> [`loglynx_node::Overrides`]
//! -> an assembly of `loglynx_node`, started, printed, stopped on a signal; and `rules`, which
//! checks Sigma rule files offline; `keys`, which manages the API keys of a data directory; `parse`, which shows what the parser makes of a file, offline; `completions` and `man`, generated from the flags.

pub mod agent;
mod caps;
mod common;
pub mod docs;
pub mod keys;
pub mod netperf;
pub mod netstat;
pub mod parse;
pub mod rules;
pub mod run;
pub mod serve;
pub mod tcplife;
pub mod tcpstates;
pub mod worker;
