//! The tracer as a library: print the next TCP state changes of this host as table rows
//! (`loglynx tcpstates` is the full command, with filters, JSON and a summary):
//! `sudo cargo run -p loglynx-netmon --example tcpstates -- 20`.

use std::time::Duration;

use loglynx_netmon::{Layout, Tracer, TracerConfig};

fn main() -> std::process::ExitCode {
    let count: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 20,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("tcpstates: usage: tcpstates [COUNT]");
            return std::process::ExitCode::from(2);
        }
    };
    // Every socket of both families; `TracerConfig::filter` narrows that down in the kernel.
    let mut tracer = match Tracer::start(&TracerConfig::default()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tcpstates: error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let layout = Layout {
        timestamp: true,
        wide: false,
    };
    println!("{}", layout.header());
    let mut seen = 0u64;
    while seen < count {
        let polled = tracer.poll(Duration::from_millis(200), &mut |t| {
            if seen < count {
                seen += 1;
                println!("{}", t.row(layout));
            }
        });
        if let Err(e) = polled {
            eprintln!("tcpstates: error: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}
