//! End-to-end: the real tracer on the real kernel, watching loopback connections.
//!
//! What Linux emits per loopback connection when the client closes first (checked here):
//! - client socket: CLOSE->SYN_SENT (local port still 0), SYN_SENT->ESTABLISHED,
//!   ESTABLISHED->FIN_WAIT1, FIN_WAIT1->FIN_WAIT2, FIN_WAIT2->CLOSE (TIME_WAIT is a separate
//!   mini-socket: the full socket goes to CLOSE and TIME_WAIT never appears);
//! - server (accepted) socket: LISTEN->SYN_RECV (the child is cloned from the listener; request
//!   sockets in NEW_SYN_RECV emit nothing), SYN_RECV->ESTABLISHED, ESTABLISHED->CLOSE_WAIT,
//!   CLOSE_WAIT->LAST_ACK, LAST_ACK->CLOSE;
//! - listener: CLOSE->LISTEN, LISTEN->CLOSE.
//!
//! Needs root (CI runs as root); without it each test prints "skipping" and returns, or fails
//! when `LOGLYNX_REQUIRE_ROOT` is set (as `.ci/run` does).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use loglynx_netmon::{Filter, Owner, TcpState, TcpTransition, Tracer, TracerConfig};
// A port that was free a moment ago (bound then released), so the tracer can be filtered on it
// before the listener exists and its CLOSE->LISTEN is seen.
use loglynx_testkit::free_port;

use TcpState::*;

/// One transition, as (old, new).
type Step = (TcpState, TcpState);

/// Not root: skipped, or failed when `LOGLYNX_REQUIRE_ROOT` is set (CI), see loglynx-testkit.
fn skip_without_root() -> bool {
    !loglynx_testkit::require_root("CAP_BPF: this test loads eBPF programs")
}


fn tracer_on(port: u16) -> Tracer {
    let cfg = TracerConfig {
        filter: Filter {
            any_ports: vec![port],
            ..Default::default()
        },
        ..Default::default()
    };
    Tracer::start(&cfg).expect("start tracer (running as root)")
}

/// Polls until `done(&all)` or the deadline; then takes what is already queued.
fn collect_until(
    tracer: &mut Tracer,
    all: &mut Vec<TcpTransition>,
    within: Duration,
    done: impl Fn(&[TcpTransition]) -> bool,
) {
    let deadline = Instant::now() + within;
    while !done(all) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "deadline passed; got {} transitions:\n{}",
            all.len(),
            table(all)
        );
        tracer
            .poll(left.min(Duration::from_millis(100)), &mut |t| all.push(t))
            .unwrap();
    }
    tracer.poll(Duration::ZERO, &mut |t| all.push(t)).unwrap();
}

fn table(all: &[TcpTransition]) -> String {
    all.iter().map(|t| format!("{t} {:?}\n", t.owner)).collect()
}

fn count(all: &[TcpTransition], f: impl Fn(&TcpTransition) -> bool) -> usize {
    all.iter().filter(|t| f(t)).count()
}

#[test]
fn every_transition_of_every_loopback_connection_is_reported() {
    if skip_without_root() {
        return;
    }
    const M: usize = 20;
    let port = free_port();
    let mut tracer = tracer_on(port);
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    for _ in 0..M {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        c.write_all(b"x").unwrap();
        let mut buf = [0u8; 8];
        s.read_exact(&mut buf[..1]).unwrap();
        drop(c); // the client closes first
        assert_eq!(s.read(&mut buf).unwrap(), 0, "server sees EOF");
        drop(s);
    }
    drop(listener);

    let expected_total = 10 * M + 2;
    let mut all = Vec::new();
    collect_until(&mut tracer, &mut all, Duration::from_secs(10), |a| {
        a.len() >= expected_total
    });
    assert_eq!(all.len(), expected_total, "{}", table(&all));
    assert_eq!(tracer.drops().unwrap(), 0);

    let is_server = |t: &TcpTransition| t.lport == port && t.rport != 0;
    let is_client = |t: &TcpTransition| t.rport == port;
    let is_listener = |t: &TcpTransition| t.lport == port && t.rport == 0;
    for (old, new) in [(Close, Listen), (Listen, Close)] {
        let n = count(&all, |t| {
            is_listener(t) && t.old_state == old && t.new_state == new
        });
        assert_eq!(n, 1, "listener {old} -> {new}");
    }
    let client = [
        (Close, SynSent),
        (SynSent, Established),
        (Established, FinWait1),
        (FinWait1, FinWait2),
        (FinWait2, Close),
    ];
    let server = [
        (Listen, SynRecv),
        (SynRecv, Established),
        (Established, CloseWait),
        (CloseWait, LastAck),
        (LastAck, Close),
    ];
    for (old, new) in client {
        let n = count(&all, |t| {
            is_client(t) && t.old_state == old && t.new_state == new
        });
        assert_eq!(n, M, "client {old} -> {new}\n{}", table(&all));
    }
    for (old, new) in server {
        let n = count(&all, |t| {
            is_server(t) && t.old_state == old && t.new_state == new
        });
        assert_eq!(n, M, "server {old} -> {new}\n{}", table(&all));
    }

    // Per connection, in order: the server socket by the client's port, the client socket by
    // its local port (its CLOSE->SYN_SENT has local port 0 and is counted above).
    let mut by_conn: BTreeMap<u16, (Vec<Step>, Vec<Step>)> = BTreeMap::new();
    for t in &all {
        if is_server(t) {
            by_conn
                .entry(t.rport)
                .or_default()
                .0
                .push((t.old_state, t.new_state));
        } else if is_client(t) && t.lport != 0 {
            by_conn
                .entry(t.lport)
                .or_default()
                .1
                .push((t.old_state, t.new_state));
        }
    }
    assert_eq!(by_conn.len(), M);
    for (p, (srv, cli)) in &by_conn {
        assert_eq!(
            srv.as_slice(),
            &server[..],
            "server socket of connection from port {p}"
        );
        assert_eq!(cli.as_slice(), &client[1..], "client socket with port {p}");
    }

    // Owners: everything here was done by this process; first transitions have no duration.
    let me = std::process::id();
    for t in &all {
        assert_eq!(t.pid, me, "{t} {:?}", t.owner);
        assert_ne!(t.owner, Owner::Current, "{t}");
        if (t.old_state, t.new_state) == (Close, SynSent)
            || (t.old_state, t.new_state) == (Listen, SynRecv)
        {
            assert_eq!(t.state_duration_us, 0, "{t}");
        }
        let e = t.to_event();
        assert_eq!(e.network_transport.as_deref(), Some("tcp"));
        assert_eq!(e.pid, Some(me));
    }
}

const LEAKY_SERVER: &str = r#"
import socket, sys
port, n, k = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
print("ready", flush=True)
kept = []
for i in range(n):
    conn, _ = srv.accept()
    if i < n - k:
        conn.close()          # closed by the server: no CLOSE_WAIT here
    else:
        kept.append(conn)     # never closed: CLOSE_WAIT once the client closes
print("done", flush=True)
sys.stdin.read()              # hold the sockets until the test closes our stdin
"#;

#[test]
fn close_wait_leak_is_attributed_to_the_server_process() {
    if skip_without_root() {
        return;
    }
    const N: usize = 6;
    const K: usize = 2;
    let port = free_port();
    let mut tracer = tracer_on(port);
    let (mut child, rx) = loglynx_testkit::python(LEAKY_SERVER, &[&port, &N, &K]);
    let server_pid = child.id();
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server ready");
    assert_eq!(line, "ready");

    let clients: Vec<TcpStream> = (0..N)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server accepted all");
    assert_eq!(line, "done");
    drop(clients);

    let server_close_wait = |t: &TcpTransition| {
        t.lport == port && t.rport != 0 && t.old_state == Established && t.new_state == CloseWait
    };
    let client_close_wait = |t: &TcpTransition| {
        t.rport == port && t.old_state == Established && t.new_state == CloseWait
    };
    let client_closed = |t: &TcpTransition| t.rport == port && t.new_state == Close;
    let mut all = Vec::new();
    collect_until(&mut tracer, &mut all, Duration::from_secs(10), |a| {
        count(a, server_close_wait) >= K && count(a, client_closed) >= N
    });
    drop(child.stdin.take());
    let _ = child.wait();

    let leaks: Vec<&TcpTransition> = all.iter().filter(|t| server_close_wait(t)).collect();
    assert_eq!(leaks.len(), K, "{}", table(&all));
    for t in &leaks {
        assert_eq!(
            t.pid, server_pid,
            "CLOSE_WAIT must name the server, not the client\n{t}"
        );
        assert_eq!(t.comm, "python3");
        assert_ne!(t.owner, Owner::Current);
    }
    // The N-K connections the server closed first: the clients went to CLOSE_WAIT instead.
    let me = std::process::id();
    let client_side: Vec<&TcpTransition> = all.iter().filter(|t| client_close_wait(t)).collect();
    assert_eq!(client_side.len(), N - K, "{}", table(&all));
    assert!(client_side
        .iter()
        .all(|t| t.pid == me && t.owner == Owner::Connect));
    // No server socket left CLOSE_WAIT while the server held it.
    assert_eq!(
        count(&all, |t| t.lport == port && t.old_state == CloseWait),
        0,
        "{}",
        table(&all)
    );
    assert_eq!(tracer.drops().unwrap(), 0);
}
