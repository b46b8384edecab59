//! Standalone `tcpstates` (the same code as `loglynx tcpstates`), for trying the tracer:
//! `sudo cargo run -p loglynx-netmon --example tcpstates -- -T --count 20`.

use clap::Parser;
use loglynx_netmon::{run_tcpstates, TcpstatesArgs};

#[derive(Parser)]
#[command(
    name = "tcpstates",
    about = "Print TCP state changes with the owning process"
)]
struct Cli {
    #[command(flatten)]
    args: TcpstatesArgs,
}

fn main() -> std::process::ExitCode {
    match run_tcpstates(Cli::parse().args) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("tcpstates: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
