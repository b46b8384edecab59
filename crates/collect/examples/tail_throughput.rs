//! Measures how fast the file source reads 150-byte lines, end to end (file -> RawBatch
//! channel) and for the line framer alone.
//!
//! ```text
//! cargo run --release -p loglynx-collect --example tail_throughput -- [MiB, default 256]
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use loglynx_collect::file::reader::LineFramer;
use loglynx_collect::FileSource;
use loglynx_config::FilesConfig;
use loglynx_core::Checkpoint;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.log");
    // 150-byte lines: 149 bytes of text and a newline.
    let mut block = Vec::new();
    let mut n_block = 0usize;
    while block.len() < (1 << 20) {
        let head = format!("2024-05-01T12:00:00.{n_block:06}Z host app[1234]: INFO request handled path=/api/v1/items status=200 dur_ms=12 ");
        let mut l = head.into_bytes();
        l.resize(149, b'x');
        l.push(b'\n');
        block.extend_from_slice(&l);
        n_block += 1;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for _ in 0..mib {
        f.write_all(&block)?;
    }
    f.flush()?;
    drop(f);
    let data_len = std::fs::metadata(&path)?.len();
    let lines = (n_block * mib) as u64;

    // Framer alone, over the file in memory.
    let data = std::fs::read(&path)?;
    let t = Instant::now();
    let mut framer = LineFramer::new(1 << 20, 0);
    let mut count = 0u64;
    for chunk in data.chunks(256 << 10) {
        framer.feed(chunk, usize::MAX, |_| count += 1);
    }
    let el = t.elapsed();
    report(
        "framer only (copies each line into a Vec)",
        data_len,
        count,
        el,
    );
    drop(data);

    // End to end: FileSource -> bounded channel -> a consumer that drops the batches.
    let cfg = FilesConfig {
        include: vec![format!("{}/*.log", dir.path().display())],
        poll_interval: Duration::from_millis(10),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let src = FileSource::new(cfg, "bench".into(), Checkpoint::default(), tx)?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(src.run(stop.clone()));
    let t = Instant::now();
    let mut got = 0u64;
    while got < lines {
        match rx.recv().await {
            Some(b) => got += b.records.len() as u64,
            None => break,
        }
    }
    let el = t.elapsed();
    report(
        "file source end to end (records built, sent to a channel)",
        data_len,
        got,
        el,
    );
    stop.cancel();
    task.await??;
    Ok(())
}

fn report(what: &str, bytes: u64, lines: u64, el: Duration) {
    let s = el.as_secs_f64();
    println!(
        "{what}: {lines} lines, {:.0} MiB in {s:.3} s = {:.0} MB/s, {:.0} lines/s",
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / 1e6 / s,
        lines as f64 / s
    );
}
