//! How fast the journald source reads a journal: every entry of the journal files in DIR read
//! by [`JournaldSource`] (sd-journal, mapped to ECS JSON records, sent in batches into a
//! channel that is drained at once), timed until N records arrived. `bench/journald.sh` runs it
//! beside `journalctl -o export` / `-o json` over the same files.
//!
//! `cargo run --release -p loglynx-collect --example journald_read -- DIR N`

use std::time::Instant;

use loglynx_collect::JournaldSource;
use loglynx_config::JournaldConfig;
use loglynx_core::Checkpoint;
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: journald_read DIR N (N: the entries the journal holds)");
        std::process::exit(2);
    };
    let cfg = JournaldConfig {
        enabled: true,
        directory: Some(dir.into()),
        ..JournaldConfig::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let source = JournaldSource::new(cfg, "bench".into(), Checkpoint::default(), tx).expect("journal directory");
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(source.run(stop.clone()));
    let (mut records, mut bytes) = (0usize, 0usize);
    while records < n {
        let Some(batch) = rx.recv().await else { break };
        records += batch.records.len();
        bytes += batch.records.iter().map(|r| r.body.len()).sum::<usize>();
    }
    let secs = started.elapsed().as_secs_f64();
    stop.cancel();
    drop(rx);
    task.await.expect("join").expect("journald source");
    println!(
        "journald source: {records} entries in {secs:.3} s = {:.0} entries/s ({:.1} MB of JSON)",
        records as f64 / secs,
        bytes as f64 / 1e6
    );
}
