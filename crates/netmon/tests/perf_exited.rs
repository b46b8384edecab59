//! Short-lived processes and the bounded per-owner counters: 5 client processes, one after the
//! other, each connect to a long-lived server on loopback, send a known number of bytes and
//! exit. The monitor's `network.perf` summaries count each client's bytes, and once a client has
//! exited and been summed its counters leave the kernel maps (so a host running many
//! short-lived processes does not fill them for good), while the live server's stay.
//!
//! Needs root (CI runs as root): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{perf_config, Watched};
use loglynx_netmon::PERF_DATASET;
use serde_json::Value;

const CLIENTS: u64 = 5;

/// Kills the server when the test ends, passed or not (it would hold the test's stderr open).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Accepts connections on 127.0.0.1:PORT and reads each to its end, until killed.
const SERVER: &str = r#"
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    while c.recv(65536):
        pass
    c.close()
"#;

/// Connects, sends N bytes, closes, exits.
const CLIENT: &str = r#"
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"x" * int(sys.argv[2]))
c.close()
"#;

fn num(e: &Value, key: &str) -> u64 {
    match &e[key] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn exited_processes_are_summed_then_leave_the_kernel_counters() {
    if !loglynx_testkit::require_root("CAP_BPF") {
        return;
    }
    let port = loglynx_testkit::free_port();
    let watched = Watched::<Value>::start(&perf_config(port, Duration::from_millis(500)));
    let shared = watched.monitor.shared();

    let mut server = Killed(
        Command::new("python3")
            .args(["-c", SERVER, &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let mut sent: HashMap<u32, u64> = HashMap::new();
    for i in 1..=CLIENTS {
        let bytes = 10_000 * i;
        let mut c = Command::new("python3")
            .args(["-c", CLIENT, &port.to_string(), &bytes.to_string()])
            .spawn()
            .unwrap();
        sent.insert(c.id(), bytes);
        assert!(c.wait().unwrap().success());
    }
    let total: u64 = sent.values().sum();

    // The summaries count every client's bytes; then the exited clients leave the counters.
    let mut counted: HashMap<u32, u64> = HashMap::new();
    let mut server_rx = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let live = |pid: u32| {
        shared
            .perf()
            .counters
            .processes
            .iter()
            .any(|p| p.pid == pid)
    };
    loop {
        while let Ok(e) = watched.events.try_recv() {
            if e["event.dataset"] != PERF_DATASET || e["event.action"] != "process" {
                continue;
            }
            let pid = num(&e, "process.pid") as u32;
            if sent.contains_key(&pid) {
                *counted.entry(pid).or_default() += num(&e, "source.bytes");
            } else if pid == server.0.id() {
                server_rx += num(&e, "destination.bytes");
            }
        }
        let summed = counted == sent && server_rx == total;
        if summed && !sent.keys().any(|p| live(*p)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 20 s: sent {sent:?}, summed {counted:?}, server received {server_rx} of \
             {total}; live counters of: {:?}",
            shared
                .perf()
                .counters
                .processes
                .iter()
                .map(|p| p.pid)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        live(server.0.id()),
        "the live server's counters stay: {:?}",
        shared.perf().counters.processes
    );

    watched.stop();
    drop(server);
}
