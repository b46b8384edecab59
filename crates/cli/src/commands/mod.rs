//! Commands that run loglynx components in this process: flags -> [`loglynx_node::Overrides`]
//! -> an assembly of `loglynx_node`, started, printed, stopped on a signal.

pub mod agent;
mod common;
pub mod run;
pub mod serve;
pub mod tcpstates;
pub mod worker;
