//! Connection lifetimes (tcplife) with real traffic between two network namespaces: a client
//! process in one, a server process in the other, N connections moving known byte counts each
//! way. Every socket gives one record naming its own owner, with the bytes it sent and received
//! within the SYN/FIN margin (each of SYN and FIN takes one sequence number).
//!
//! Needs root (CI runs as root): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

use std::io::Write;
use std::time::{Duration, Instant};

use loglynx_netmon::{ConnLife, Filter, Tracer, TracerConfig};
use loglynx_testkit::netns::{NetnsPair, Side, ADDR_A, ADDR_B};

const N: usize = 8;

struct TestCgroup(std::path::PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Accepts `n` connections; each: read until the client half-closes, then send back the size
/// asked for in the first 8 bytes, then close.
const SERVER: &str = r#"
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()  # the test moves us into its cgroup first
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(64)
print("ready", flush=True)
for _ in range(n):
    conn, _ = srv.accept()
    got = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    reply = int(got[:8])
    conn.sendall(b"r" * reply)
    conn.close()
print("done", flush=True)
"#;

/// For each (sent, reply): connect, send `sent` bytes (the first 8 the reply size), half-close,
/// read the reply to EOF, close.
const CLIENT: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
for pair in sys.argv[3:]:
    sent, reply = map(int, pair.split(":"))
    c = socket.create_connection((host, port))
    c.sendall(b"%08d" % reply + b"s" * (sent - 8))
    c.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        got += len(chunk)
    assert got == reply, (got, reply)
    c.close()
print("done", flush=True)
"#;

fn within_margin(got: u64, sent: u64) -> bool {
    got >= sent && got <= sent + 2
}

#[test]
fn every_socket_reports_its_bytes_duration_and_owner() {
    if !loglynx_testkit::require_root("CAP_BPF and network namespaces") {
        return;
    }
    let pair = NetnsPair::new();
    let port = loglynx_testkit::free_port();
    let mut tracer = Tracer::start(&TracerConfig {
        filter: Filter {
            any_ports: vec![port],
            ..Default::default()
        },
        lifetimes: true,
        ..Default::default()
    })
    .expect("start tracer (running as root)");

    // Known, distinct sizes per connection (some above the initial window, some tiny).
    let sizes: Vec<(u64, u64)> = (0..N as u64)
        .map(|i| {
            (
                8 + 1000 * i * i * 7 + 13 * i,
                1 + 150_000 * (i % 3) + 17 * i,
            )
        })
        .collect();
    let (mut server, srx) = pair.python(Side::B, SERVER, &[port.to_string(), N.to_string()]);
    // The server runs in a cgroup of its own: its sockets say so (read in the kernel at close).
    let root = loglynx_netmon::cgroup2_mount().expect("a cgroup2 mount");
    let cg_name = format!("llx-tcplife-{}", std::process::id());
    let cg = TestCgroup(root.join(&cg_name));
    std::fs::create_dir(&cg.0).unwrap();
    std::fs::write(cg.0.join("cgroup.procs"), server.id().to_string()).unwrap();
    writeln!(server.stdin.as_mut().unwrap(), "go").unwrap();
    assert_eq!(
        srx.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("ready")
    );
    let mut args = vec![ADDR_B.to_string(), port.to_string()];
    args.extend(sizes.iter().map(|(s, r)| format!("{s}:{r}")));
    let (mut client, crx) = pair.python(Side::A, CLIENT, &args);
    assert_eq!(
        crx.recv_timeout(Duration::from_secs(30)).as_deref(),
        Ok("done")
    );
    assert_eq!(
        srx.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("done")
    );
    let (client_pid, server_pid) = (client.id(), server.id());
    assert!(client.wait().unwrap().success());
    assert!(server.wait().unwrap().success());

    let mut lives: Vec<ConnLife> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lives.len() < 2 * N && Instant::now() < deadline {
        tracer
            .poll_all(Duration::from_millis(100), &mut |_| {}, &mut |l| {
                lives.push(l)
            })
            .unwrap();
    }
    tracer
        .poll_all(Duration::ZERO, &mut |_| {}, &mut |l| lives.push(l))
        .unwrap();
    let table: String = lives
        .iter()
        .map(|l| format!("{l} active={}\n", l.active))
        .collect();
    assert_eq!(lives.len(), 2 * N, "one record per socket:\n{table}");
    assert_eq!(tracer.life_drops().unwrap().0, 0);

    let clients: Vec<&ConnLife> = lives.iter().filter(|l| l.active).collect();
    let servers: Vec<&ConnLife> = lives.iter().filter(|l| !l.active).collect();
    assert_eq!((clients.len(), servers.len()), (N, N), "{table}");
    for (i, c) in clients.iter().enumerate() {
        let (sent, reply) = sizes[i];
        // Connections ran one after the other, and records come in close order.
        assert_eq!(
            c.pid, client_pid,
            "client socket owned by the client\n{table}"
        );
        assert_eq!(c.comm, "python3");
        assert_eq!(
            (c.laddr.to_string(), c.raddr.to_string(), c.rport),
            (ADDR_A.into(), ADDR_B.into(), port)
        );
        assert!(
            within_margin(c.tx_bytes, sent),
            "connection {i}: client sent {sent}, reported {}\n{table}",
            c.tx_bytes
        );
        assert!(
            within_margin(c.rx_bytes, reply),
            "connection {i}: client got {reply}, reported {}\n{table}",
            c.rx_bytes
        );
        assert!(c.duration_ns > 0 && c.segs_out > 0, "{c}");
        assert!(c.srtt_us > 0, "an RTT was measured: {c}");
        // The server's socket of the same connection: found by the client's port.
        let s = servers
            .iter()
            .find(|s| s.rport == c.lport)
            .unwrap_or_else(|| panic!("server side of {c}\n{table}"));
        assert_eq!(
            s.pid, server_pid,
            "server socket owned by the server\n{table}"
        );
        assert_eq!(s.lport, port);
        assert!(
            within_margin(s.rx_bytes, sent),
            "connection {i}: server got {sent}, reported {}\n{table}",
            s.rx_bytes
        );
        assert!(
            within_margin(s.tx_bytes, reply),
            "connection {i}: server sent {reply}, reported {}\n{table}",
            s.tx_bytes
        );
        let cg_path = format!("/{cg_name}");
        assert_eq!(
            s.cgroup.as_deref(),
            Some(cg_path.as_str()),
            "server socket's cgroup\n{table}"
        );
        assert_ne!(
            c.cgroup.as_deref(),
            Some(cg_path.as_str()),
            "client socket's cgroup"
        );
        assert_ne!(c.cgroup_id, 0);
        let e = s.to_event();
        assert_eq!(e.labels.get("cgroup.path"), Some(&cg_path));

        // Both events describe the connection the same way: source = the side that connected.
        for (l, owner) in [(*c, client_pid), (*s, server_pid)] {
            let e = l.to_event();
            assert_eq!(e.dataset.as_deref(), Some("network.connection"));
            assert_eq!(e.source_ip.as_deref(), Some(ADDR_A));
            assert_eq!(e.source_port, Some(c.lport));
            assert_eq!(e.destination_ip.as_deref(), Some(ADDR_B));
            assert_eq!(e.destination_port, Some(port));
            assert!(within_margin(e.source_bytes.unwrap(), sent), "{e:?}");
            assert!(within_margin(e.destination_bytes.unwrap(), reply), "{e:?}");
            assert_eq!(
                e.network_bytes,
                Some(e.source_bytes.unwrap() + e.destination_bytes.unwrap())
            );
            assert_eq!(e.pid, Some(owner));
            assert_eq!(e.duration_ns, Some(l.duration_ns));
        }
    }
}
