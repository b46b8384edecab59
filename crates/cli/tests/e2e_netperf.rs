//! `loglynx netperf`, the live per-process network counters, against the real kernel: its JSON
//! reports count the bytes this test sends over loopback to this test's pid, and Ctrl-C ends it
//! at once even with a long interval.
//!
//! Needs root (eBPF): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::BIN;

const SENT: u64 = 4 << 20;

#[test]
fn json_reports_count_this_processs_bytes_and_ctrl_c_stops_it_at_once() {
    if !loglynx_testkit::require_root("eBPF") {
        return;
    }
    let mut child = Command::new(BIN)
        .args(["netperf", "--json", "--interval", "1s", "--count", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first report: the programs are attached from now on.
    let first: serde_json::Value = serde_json::from_str(&lines.next().expect("a first report").unwrap()).unwrap();
    assert!(first["processes"].is_array(), "{first}");

    // 4 MiB over loopback from this process to itself.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        sink.len() as u64
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(&vec![b'x'; SENT as usize]).unwrap();
    drop(c);
    assert_eq!(reader.join().unwrap(), SENT);

    // The counters are totals since the start: a later report has this pid's bytes both ways.
    let me = std::process::id();
    let mut seen = None;
    for line in lines.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let mine = v["processes"].as_array().unwrap().iter().find(|p| p["pid"] == me).cloned();
        if let Some(p) = mine {
            if p["tx_bytes"].as_u64().unwrap_or(0) >= SENT {
                seen = Some(p);
                break;
            }
        }
    }
    let p = seen.unwrap_or_else(|| panic!("no report counted {SENT} bytes sent by pid {me}"));
    assert!(p["rx_bytes"].as_u64().unwrap() >= SENT, "{p}");
    assert!(child.wait().unwrap().success());

    // A long interval: SIGINT ends it well before the first report is due.
    let mut child = Command::new(BIN)
        .args(["netperf", "--interval", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready once its SIGINT handler is in place (installed after the programs are attached):
    // bit 2 (SIGINT) of the caught-signals mask in /proc.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !caught_sigint(child.id()) {
        assert!(Instant::now() < deadline, "netperf did not install its SIGINT handler within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    support::signal(child.id(), "INT");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(asked.elapsed() < Duration::from_secs(20), "netperf still running 20 s after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

/// Whether process `pid` catches SIGINT (`SigCgt` of /proc/PID/status).
fn caught_sigint(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (SIGINT - 1)) != 0)
}

/// SIGINT's number on Linux.
const SIGINT: u32 = 2;
