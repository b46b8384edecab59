//! Commands that run loglynx components in this process.

pub mod agent;
mod pipeline_view;
pub mod run;
mod scaleout;
pub mod serve;
pub mod tcpstates;
pub mod worker;
