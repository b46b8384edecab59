//! `loglynx`: real-time log management in one binary.
//!
//! - `loglynx run`: the all-in-one (sources -> pipeline -> store -> API + dashboard);
//! - `loglynx search`, `loglynx patterns`, `loglynx tail`, `loglynx ingest`: clients of a running
//!   instance;
//! - `loglynx tcpstates`: live TCP state changes from eBPF;
//! - `loglynx rules check`: validate Sigma rule files without a running instance;
//! - `loglynx parse FILE`: the structure the parser infers for a file and its first events.

mod client;
mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "loglynx", version, about = "Real-time log management and search", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the all-in-one: collect, parse, store, search API and dashboard in one process.
    Run(commands::run::RunArgs),
    /// Collect (file tail, syslog) and produce raw records to a Kafka topic.
    Agent(commands::agent::AgentArgs),
    /// Consume the topic in a consumer group and index it into shards of the data directory.
    Worker(commands::worker::WorkerArgs),
    /// Serve the search API and dashboard over the workers' shards in the data directory.
    Serve(commands::serve::ServeArgs),
    /// Search a running instance.
    Search(client::SearchArgs),
    /// The kinds of line (templates) behind the events of a query, most frequent first, from a
    /// running instance.
    Patterns(client::PatternsArgs),
    /// Follow new events of a running instance as they arrive.
    Tail(client::TailArgs),
    /// Bulk-import files into a running instance, with progress.
    Ingest(client::IngestArgs),
    /// Trace TCP state changes live with eBPF (like libbpf-tools' tcpstates); needs root or
    /// CAP_BPF + CAP_PERFMON.
    Tcpstates(commands::tcpstates::TcpstatesArgs),
    /// Work with Sigma detection rules (`rules check PATH...`).
    Rules(commands::rules::RulesArgs),
    /// Show what loglynx makes of a log file, offline: the layouts and timestamp formats found,
    /// the share of lines explained and flagged, and the first events as they would be stored.
    Parse(commands::parse::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::main(args),
        Command::Agent(args) => commands::agent::main(args),
        Command::Worker(args) => commands::worker::main(args),
        Command::Serve(args) => commands::serve::main(args),
        Command::Search(args) => client::run_search(args),
        Command::Patterns(args) => client::run_patterns(args),
        Command::Tail(args) => client::run_tail(args),
        Command::Ingest(args) => client::run_ingest(args),
        Command::Tcpstates(args) => commands::tcpstates::main(args),
        Command::Rules(args) => commands::rules::main(args),
        Command::Parse(args) => commands::parse::main(args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("loglynx: error: {}", loglynx_node::chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
