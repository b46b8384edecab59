//! `loglynx`: real-time log management in one binary.
//!
//! - `loglynx run`: the all-in-one (sources -> pipeline -> store -> API + dashboard);
//! - `loglynx search`, `loglynx patterns`, `loglynx tail`, `loglynx ingest`: clients of a running
//!   instance;
//! - `loglynx tcpstates`: live TCP state changes from eBPF (`--snapshot`: the sockets of now
//!   first, from sock_diag; alone it needs no eBPF);
//! - `loglynx netperf`: live bytes, retransmits, resets, RTT per process and drops by reason;
//! - `loglynx netstat`: every TCP socket now per state and process, like `ss -tinp`;
//! - `loglynx tcplife`: finished TCP connections with bytes, duration, retransmits, from eBPF;
//! - `loglynx rules check`: validate Sigma rule files without a running instance;
//! - `loglynx keys add|list|revoke`: the API keys of a data directory;
//! - `loglynx parse FILE`: the structure the parser infers for a file and its first events;
//! - `loglynx completions SHELL`, `loglynx man`: shell completions and manual pages.

mod client;
mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// mimalloc instead of glibc's malloc. Ingest allocates an event's strings on a parse thread
/// and frees them on the store writer's, and tantivy's indexing and merge threads allocate
/// their own buffers: with glibc, malloc and free (arena locks, `malloc_consolidate`,
/// `unlink_chunk`, waits on the two arenas [`bound_malloc_arenas`] allows) were about 12% of an
/// ingest's CPU in a profile; with mimalloc the CPU per event fell ~27% (docs/BENCHMARKS.md).
/// The v2 series: it gives freed memory back after 10 ms, v3 after 1 s, which held peak
/// anonymous memory at 313-392 MiB in the same benchmark against 290-313 MiB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// The header structures a running instance learned per source (files, syslog senders'
    /// programs, HTTP streams), most recently used first.
    Sources(client::SourcesArgs),
    /// The leaves a search root knows (live, gone, lost); `leaves forget ID` accepts that what
    /// only a gone worker's disk held is lost.
    Leaves(client::LeavesArgs),
    /// Bulk-import files into a running instance, with progress.
    Ingest(client::IngestArgs),
    /// Export every event matching a query as NDJSON on stdout, with progress on stderr.
    Export(client::ExportArgs),
    /// Trace TCP state changes live with eBPF (like libbpf-tools' tcpstates); needs root or
    /// CAP_BPF + CAP_PERFMON. `--snapshot` prints the sockets of now first (sock_diag, no
    /// privilege) and exits, or goes on with the changes with `--follow`.
    Tcpstates(commands::tcpstates::TcpstatesArgs),
    /// Trace finished TCP connections live with eBPF (like libbpf-tools' tcplife): owner, ends,
    /// bytes each way, duration, retransmits, RTT; needs root or CAP_BPF + CAP_PERFMON.
    Tcplife(commands::tcplife::TcplifeArgs),
    /// List every TCP socket now, per state and process, with queues, RTT, retransmits, bytes
    /// and the service (cgroup, systemd unit) behind it, like `ss -tinp`; sock_diag, no eBPF.
    Netstat(commands::netstat::NetstatArgs),
    /// Live network performance per process from eBPF: bytes sent and received, retransmits,
    /// resets, RTT percentiles, and drops by reason, every interval (like tcptop, tcpretrans
    /// and tcprtt together); needs root or CAP_BPF + CAP_PERFMON.
    Netperf(commands::netperf::NetperfArgs),
    /// Manage the API keys of a data directory (`keys add NAME --scope ingest|read|admin`,
    /// `keys list`, `keys revoke NAME`); a running instance picks up changes at once.
    Keys(commands::keys::KeysArgs),
    /// Work with Sigma detection rules (`rules check PATH...`).
    Rules(commands::rules::RulesArgs),
    /// Show what loglynx makes of a log file, offline: the layouts and timestamp formats found,
    /// the share of lines explained and flagged, and the first events as they would be stored.
    Parse(commands::parse::ParseArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(commands::docs::CompletionsArgs),
    /// Print the manual page (roff), or write every page into a directory with --dir.
    Man(commands::docs::ManArgs),
}

/// glibc malloc arenas the process uses unless `MALLOC_ARENA_MAX` is set. Rust code allocates
/// with mimalloc ([`GLOBAL`]); what still calls glibc's malloc is the C libraries (librdkafka,
/// zstd, libsystemd). glibc's default is up to 8 arenas per core, one per thread that allocates
/// at a time, and memory freed in one arena is not reused by another: under a heavy file ingest
/// (before mimalloc) the peak anonymous memory was 387 MiB with glibc's default and 207 MiB
/// with 2 (`bench/ingest.sh`, 1 M lines, docs/BENCHMARKS.md).
const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`] (before any other thread starts), unless the
/// user chose a number with `MALLOC_ARENA_MAX`.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt sets an allocator parameter; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

fn main() -> ExitCode {
    bound_malloc_arenas();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::main(args),
        Command::Agent(args) => commands::agent::main(args),
        Command::Worker(args) => commands::worker::main(args),
        Command::Serve(args) => commands::serve::main(args),
        Command::Search(args) => client::run_search(args),
        Command::Patterns(args) => client::run_patterns(args),
        Command::Tail(args) => client::run_tail(args),
        Command::Sources(args) => client::run_sources(args),
        Command::Leaves(args) => client::run_leaves(args),
        Command::Ingest(args) => client::run_ingest(args),
        Command::Export(args) => client::run_export(args),
        Command::Tcpstates(args) => commands::tcpstates::main(args),
        Command::Tcplife(args) => commands::tcplife::main(args),
        Command::Netstat(args) => commands::netstat::main(args),
        Command::Netperf(args) => commands::netperf::main(args),
        Command::Rules(args) => commands::rules::main(args),
        Command::Keys(args) => commands::keys::main(args),
        Command::Parse(args) => commands::parse::main(args),
        Command::Completions(args) => commands::docs::completions(args, Cli::command()),
        Command::Man(args) => commands::docs::man(args, Cli::command()),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("loglynx: error: {}", loglynx_node::chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
