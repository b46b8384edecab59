//! The sock_diag fallback against the eBPF-tracked state table, on a known set of loopback
//! sockets: both must count the same sockets per state, and name the same owner.
//!
//! Set-up on one free port P (both monitors filter on it): a python server accepts N
//! connections, closes T of them first (-> T server sockets in TIME_WAIT once the clients
//! close), keeps the others; the test then closes K of the kept clients first (-> K server
//! sockets in CLOSE_WAIT held by python, K client sockets in orphaned FIN_WAIT2) and holds the
//! rest open (-> 2 * (N - T - K) ESTABLISHED). Needs root for the eBPF side (skipped without it,
//! failed when `LOGLYNX_REQUIRE_ROOT` is set).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use loglynx_config::TcpStatesConfig;
use loglynx_netmon::{Mode, Monitor, TcpState};
use TcpState::*;

const SERVER: &str = r#"
import socket, sys
port, n, t = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
print("ready", flush=True)
kept = []
for i in range(n):
    conn, _ = srv.accept()
    if i < t:
        conn.close()
    else:
        kept.append(conn)
print("done", flush=True)
sys.stdin.read()
"#;

fn monitor(port: u16, bpf: bool) -> (Monitor, std::thread::JoinHandle<()>) {
    let cfg = TcpStatesConfig {
        enabled: true,
        bpf,
        ports: vec![port],
        snapshot_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let drain = std::thread::spawn(move || while rx.blocking_recv().is_some() {});
    (
        Monitor::start(&cfg, "test".into(), tx).expect("monitor starts"),
        drain,
    )
}

fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sock_diag_fallback_counts_the_same_states_as_the_ebpf_table() {
    if !loglynx_testkit::require_root("loads eBPF programs") {
        return;
    }
    const N: usize = 7;
    const T: usize = 2;
    const K: usize = 3;
    let port = loglynx_testkit::free_port();
    let (bpf, d1) = monitor(port, true);
    let (diag, d2) = monitor(port, false);
    assert_eq!(bpf.shared().mode, Mode::Bpf);
    assert_eq!(diag.shared().mode, Mode::SockDiag);
    assert!(
        diag.shared().reason.contains("bpf = false"),
        "{}",
        diag.shared().reason
    );

    let (mut child, rx) = loglynx_testkit::python(SERVER, &[&port, &N, &T]);
    let pid = child.id();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "ready");
    let mut clients: Vec<TcpStream> = (0..N)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "done");
    // The T the server closed: read their EOF, then close (server side -> TIME_WAIT).
    for c in clients.drain(..T) {
        let mut c = c;
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(c.read(&mut [0u8; 4]).unwrap(), 0);
    }
    // K kept by the server: the client closes first (server side -> CLOSE_WAIT).
    clients.drain(..K);
    let held = clients; // N - T - K stay ESTABLISHED

    let expected: BTreeMap<TcpState, usize> = [
        (Listen, 1),
        (Established, 2 * (N - T - K)),
        (CloseWait, K),
        (FinWait2, K),
        (TimeWait, T),
    ]
    .into_iter()
    .collect();
    let (sb, sd) = (bpf.shared(), diag.shared());
    wait_until(
        "the eBPF table and snapshots to settle",
        Duration::from_secs(15),
        || {
            bpf.snapshot_now().unwrap();
            sb.state_counts() == expected
        },
    );
    diag.snapshot_now().unwrap();
    assert_eq!(sd.state_counts(), expected);
    assert_eq!(sb.state_counts(), sd.state_counts());

    // Both name python as the holder of the K CLOSE_WAIT sockets.
    for sh in [&sb, &sd] {
        let v = sh.sockets();
        assert_eq!(
            v.view.close_wait_leaders.len(),
            1,
            "{:?}",
            v.view.close_wait_leaders
        );
        let l = &v.view.close_wait_leaders[0];
        assert_eq!(
            (l.pid, l.count, l.local_ports.clone()),
            (pid, K, vec![port])
        );
        assert_eq!(l.peers.len(), 1);
        assert_eq!(l.peers[0].ip.to_string(), "127.0.0.1");
        let p = v
            .view
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .expect("python listed");
        assert_eq!(p.states.get("CLOSE_WAIT"), Some(&K));
        assert_eq!(v.view.time_wait.total, T);
    }
    assert_eq!(sb.status().drops.kernel, 0);
    assert!(sb.status().transitions > 0);
    assert_eq!(sd.status().transitions, 0);

    drop(held);
    drop(child.stdin.take());
    let _ = child.wait();
    bpf.stop();
    diag.stop();
    d1.join().unwrap();
    d2.join().unwrap();
}
