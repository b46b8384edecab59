//! Measures the store writer alone: pre-built batches of ~150-byte syslog events in, committed
//! and searchable out.
//!
//! ```text
//! cargo run --release -p loglynx-store --example write_throughput -- [events] [data_dir]
//! ```

use std::time::Instant;

use loglynx_config::StoreConfig;
use loglynx_core::{Event, EventBatch, Timestamp};
use loglynx_store::Store;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let cfg = StoreConfig::default();
    let store = Store::open(&dir, &cfg).expect("open store");

    let hosts = ["web1", "web2", "db1", "cache3"];
    let users = ["root", "admin", "deploy", "alice", "bob"];
    let base = Timestamp::now().as_nanos();
    let mut raw_bytes = 0u64;
    let batches: Vec<EventBatch> = (0..n)
        .collect::<Vec<_>>()
        .chunks(2048)
        .map(|chunk| {
            let events = chunk
                .iter()
                .map(|&i| {
                    let host = hosts[(i % 4) as usize];
                    let msg = format!(
                        "Failed password for invalid user {} from 10.{}.{}.{} port {} ssh2 session={:08x}",
                        users[(i % 5) as usize],
                        i % 7,
                        (i / 7) % 256,
                        i % 251,
                        1024 + i % 60000,
                        i.wrapping_mul(2_654_435_761) as u32
                    );
                    raw_bytes += msg.len() as u64 + 40;
                    let mut e = Event::new(msg, Timestamp(base + i as i64 * 1_000), Timestamp(base), format!("bench-{i}"));
                    e.host = Some(host.into());
                    e.process_name = Some("sshd".into());
                    e.pid = Some(4000 + (i % 100) as u32);
                    e.level = Some("warn".into());
                    e.dataset = Some("syslog".into());
                    e
                })
                .collect();
            EventBatch { events, checkpoint: vec![("bench".into(), chunk[chunk.len() - 1] + 1)], ack: None }
        })
        .collect();

    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let writer = store.start_writer(rx).expect("start writer");
    let start = Instant::now();
    for b in batches {
        tx.blocking_send(b).expect("writer alive");
    }
    drop(tx);
    writer.join().expect("writer");
    let secs = start.elapsed().as_secs_f64();
    let stats = store.stats();
    let segments: usize = store
        .snapshot()
        .iter()
        .map(|w| w.searcher.segment_readers().len())
        .sum();
    println!(
        "events={n} seconds={secs:.2} events_per_s={:.0} commits={} segments={segments} disk_bytes={} raw_bytes={raw_bytes} disk_per_raw={:.2} cores={}",
        n as f64 / secs,
        stats.commits,
        stats.bytes,
        stats.bytes as f64 / raw_bytes as f64,
        std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1),
    );
    assert_eq!(stats.docs_stored, n);
}
