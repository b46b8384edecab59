//! The monitor's periodic `network.perf` events with real traffic between two network
//! namespaces joined by an emulated link (15% loss from the client, 50 ms delay back): summed
//! over the intervals, the client's retransmits towards the server equal sock_diag's
//! `total_retrans` for its socket, its segments sent are at most sock_diag's `segs_out`, its RTT
//! samples sit in the 50 ms bucket, the bytes per process are what each sent and received; a
//! socket filter that drops everything on a second server's connection shows as drops with
//! reason SOCKET_FILTER attributed to that server (kfree_skb's `rx_sk`).
//!
//! Needs root (CI runs as root): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{perf_config, Watched};
use loglynx_netmon::{netstat, Filter, NetstatQuery, TcpStats, PERF_DATASET};
use loglynx_testkit::netns::{Link, NetnsPair, Side, ADDR_B};
use serde_json::Value;

const CHUNKS: usize = 150;
const CHUNK: usize = 1000;

/// Receives `total` bytes on the first connection; every later connection gets a socket filter
/// that drops everything it would receive.
const SERVER: &str = r#"
import ctypes, socket, struct, sys
port, total = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(4)
print("ready", flush=True)
conn, _ = srv.accept()
got = 0
while got < total:
    chunk = conn.recv(65536)
    if not chunk:
        break
    got += len(chunk)
print("got", got, flush=True)
drop_all = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))  # BPF_RET|BPF_K 0
filtered, _ = srv.accept()
filtered.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", 1, ctypes.addressof(drop_all)))
print("filtered", flush=True)
sys.stdin.readline()
"#;

/// Small writes (one segment each, TCP_NODELAY); `chunks` of them, then waits.
const CLIENT: &str = r#"
import socket, sys, time
host, port, chunks, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = socket.create_connection((host, port))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("connected", flush=True)
sys.stdin.readline()
for _ in range(chunks):
    c.sendall(b"x" * size)
    time.sleep(0.004)
print("sent", flush=True)
sys.stdin.readline()
"#;

fn expect_line(rx: &mpsc::Receiver<String>, want: &str) {
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)).as_deref(),
        Ok(want)
    );
}

/// The client socket's tcp_info inside namespace `name`, once all it sent is acknowledged.
fn settled_client(name: &str, port: u16) -> TcpStats {
    let path = format!("/run/netns/{name}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("namespace file");
        // SAFETY: setns on a valid namespace fd; it only changes this thread's namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows = netstat(&NetstatQuery {
                filter: Filter {
                    remote_ports: vec![port],
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
            // The first client's socket: the one with data sent.
            let st = rows
                .iter()
                .filter_map(|e| e.socket.stats.clone())
                .find(|s| s.tcp.as_ref().is_some_and(|t| t.bytes_acked > 1))
                .expect("client socket");
            if st.send_q == 0 && st.tcp.as_ref().is_some_and(|t| t.retrans == 0) {
                return st.tcp.unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "client never got everything acknowledged: {st:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .join()
    .unwrap()
}

fn num(e: &Value, key: &str) -> u64 {
    match &e[key] {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("{key}: {s}")),
        other => panic!("{key} missing or not a number ({other}) in {e}"),
    }
}

#[test]
fn perf_summaries_over_intervals_add_up_to_the_kernel_counters() {
    if !loglynx_testkit::require_root("CAP_BPF and network namespaces") {
        return;
    }
    let pair = NetnsPair::emulated(Link {
        loss_a_to_b: 0.15,
        delay_b_to_a_ms: 50,
        ..Default::default()
    });
    let port = loglynx_testkit::free_port();
    let watched = Watched::<Value>::start(&perf_config(port, Duration::from_secs(1)));
    let shared = watched.monitor.shared();

    let total = CHUNKS * CHUNK;
    let (mut server, srx) = pair.python(Side::B, SERVER, &[port.to_string(), total.to_string()]);
    expect_line(&srx, "ready");
    let args = |chunks: usize| {
        [
            ADDR_B.to_string(),
            port.to_string(),
            chunks.to_string(),
            CHUNK.to_string(),
        ]
    };
    let (mut client, crx) = pair.python(Side::A, CLIENT, &args(CHUNKS));
    expect_line(&crx, "connected");
    writeln!(client.stdin.as_mut().unwrap()).unwrap();
    expect_line(&crx, "sent");
    expect_line(&srx, &format!("got {total}"));
    let diag = settled_client(pair.name(Side::A), port);
    assert!(
        diag.total_retrans > 0,
        "15% loss made no retransmit: {diag:?}"
    );

    // A second client whose data the server's socket filter drops.
    let (mut dropped, drx) = pair.python(Side::A, CLIENT, &args(3));
    expect_line(&drx, "connected");
    expect_line(&srx, "filtered");
    writeln!(dropped.stdin.as_mut().unwrap()).unwrap();
    expect_line(&drx, "sent");
    let (cpid, spid, dpid) = (client.id(), server.id(), dropped.id());
    // Wait for the summaries that count the server's filtered packets and the second client's
    // retransmits of them: the intervals holding the traffic have then been summed (the stop
    // adds the last, partial one).
    let mut events: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = |events: &[Value], action: &str, pid: u32, what: &dyn Fn(&Value) -> bool| {
        events.iter().any(|e| {
            e["event.dataset"] == PERF_DATASET
                && e["event.action"] == action
                && e["process.pid"] == pid
                && what(e)
        })
    };
    while !(seen(&events, "owner_drop", spid, &|e| {
        e["network.drop.reason"] == "SOCKET_FILTER"
    }) && seen(&events, "peer", dpid, &|e| num(e, "tcp.retransmits") > 0))
    {
        match watched.events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(e) => events.push(e),
            Err(_) => panic!(
                "no summary of the server's SOCKET_FILTER drops and their retransmits in 30 s: {:#?}",
                shared.perf().counters
            ),
        }
    }
    events.extend(watched.stop());
    for c in [&mut client, &mut dropped, &mut server] {
        let _ = c.kill();
        let _ = c.wait();
    }

    let perf: Vec<&Value> = events
        .iter()
        .filter(|e| e["event.dataset"] == PERF_DATASET)
        .collect();
    let ids: HashSet<&str> = perf
        .iter()
        .map(|e| e["event.id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), perf.len(), "event ids are unique");
    let of = |action: &str, pid: u32| -> Vec<&Value> {
        perf.iter()
            .copied()
            .filter(|e| e["event.action"] == action && e["process.pid"] == pid)
            .collect()
    };

    // Client towards the server: retransmits, segments, RTT.
    let peer: Vec<&Value> = of("peer", cpid)
        .into_iter()
        .filter(|e| e["destination.ip"] == ADDR_B)
        .collect();
    assert!(!peer.is_empty(), "{perf:#?}");
    let retrans: u64 = peer.iter().map(|e| num(e, "tcp.retransmits")).sum();
    assert_eq!(
        retrans,
        u64::from(diag.total_retrans),
        "{peer:#?} vs {diag:?}"
    );
    let segs: u64 = peer.iter().map(|e| num(e, "labels.tcp.segs_out")).sum();
    assert!(
        (CHUNKS as u64..=u64::from(diag.segs_out)).contains(&segs),
        "segments sent {segs}, sock_diag {}",
        diag.segs_out
    );
    let mut slots = [0u64; 32];
    for e in &peer {
        let Some(h) = e["labels.tcp.rtt_hist"].as_str() else {
            continue;
        };
        for part in h.split(',') {
            let (i, n) = part.split_once(':').unwrap();
            slots[i.parse::<usize>().unwrap()] += n.parse::<u64>().unwrap();
        }
    }
    let top = (0..32).max_by_key(|i| slots[*i]).unwrap();
    assert_eq!(top, 15, "most samples in [32.768, 65.536) ms: {slots:?}");
    for e in &peer {
        let (r, s) = (num(e, "tcp.retransmits"), num(e, "labels.tcp.segs_out"));
        let rate: f64 = e["labels.tcp.retransmit_rate"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if s > 0 {
            assert!((rate - r as f64 / s as f64).abs() < 1e-5, "{e}");
        }
    }

    // Bytes per process.
    let sum = |evs: Vec<&Value>, key: &str| -> u64 { evs.iter().map(|e| num(e, key)).sum() };
    assert_eq!(sum(of("process", cpid), "source.bytes"), total as u64);
    assert_eq!(sum(of("process", spid), "destination.bytes"), total as u64);

    // Drops attributed to the server, and counted host-wide by reason.
    let owner_drops: Vec<&Value> = of("owner_drop", spid)
        .into_iter()
        .filter(|e| e["network.drop.reason"] == "SOCKET_FILTER")
        .collect();
    let n = sum(owner_drops, "network.drops");
    assert!(n >= 1, "{perf:#?}");
    assert!(sum(of("process", spid), "network.drops") >= n);
    let host_wide: u64 = perf
        .iter()
        .filter(|e| e["event.action"] == "drop" && e["network.drop.reason"] == "SOCKET_FILTER")
        .map(|e| num(e, "network.drops"))
        .sum();
    assert!(host_wide >= n, "host-wide {host_wide} < owner {n}");
    // The dropped data is retransmitted by the second client.
    assert!(
        of("peer", dpid)
            .iter()
            .map(|e| num(e, "tcp.retransmits"))
            .sum::<u64>()
            >= 1
    );
}
