//! SIGKILL in the middle of ingesting a large file, restart: every line exactly once.

mod support;

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::time::Duration;

use support::Server;

#[test]
fn sigkill_mid_ingest_then_restart_stores_every_line_exactly_once() {
    const N: usize = 300_000;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let path = logs.join("big.log");
    let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..N {
        writeln!(w, "<13>Oct 11 22:14:15 web{} app[{}]: crashmark line {i} payload {:08x}", i % 7, i % 1000, (i as u64).wrapping_mul(2_654_435_761) % (1 << 32)).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let glob = format!("{}/*.log", logs.display());
    let data = dir.path().join("data");
    let off = ["--tail", glob.as_str(), "--syslog-udp", "off", "--syslog-tcp", "off"];

    let first = Server::start(&data, &off);
    let mut seen = 0;
    first.wait_for(Duration::from_secs(120), "the first committed events", || {
        seen = first.total("*");
        seen > 0
    });
    first.kill();
    assert!(seen < N as u64, "ingest finished before the kill ({seen} events): the test needs a larger file");

    let second = Server::start(&data, &off);
    second.wait_total("*", N as u64, Duration::from_secs(300));
    let hits = second.all_hits("*");
    assert_eq!(hits.len(), N);
    let lines: HashSet<u64> = hits
        .iter()
        .map(|h| {
            let m = h["message"].as_str().unwrap();
            let n = m.split_whitespace().nth(2).unwrap();
            n.parse().unwrap()
        })
        .collect();
    assert_eq!(lines.len(), N, "some line is missing or stored twice");
    let ids: HashSet<&str> = hits.iter().map(|h| h["event.id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), N);
    second.stop();
}
