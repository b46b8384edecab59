//! Commands that run loglynx components in this process.

pub mod agent;
pub mod run;
mod scaleout;
pub mod serve;
pub mod worker;
