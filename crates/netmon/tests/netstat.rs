//! `netstat` (sock_diag snapshot, no eBPF) against a real process placed in a test cgroup:
//! its sockets are listed with their owner, byte counts, RTT and the cgroup, and `--cgroup`
//! keeps exactly them.
//!
//! Needs root to create the cgroup (CI runs as root): skipped otherwise, or failed when
//! `LOGLYNX_REQUIRE_ROOT` is set.

use std::path::PathBuf;
use std::time::Duration;

use loglynx_netmon::{cgroup2_mount, netstat, summary, CgroupNames, NetstatQuery, TcpState};

/// Waits for "go" (the test moves it into the cgroup first), then opens a loopback connection
/// to itself, moves 7000 bytes one way and 1200 back, prints the listening port and holds.
const HOLDER: &str = r#"
import socket, sys
sys.stdin.readline()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(4)
c = socket.create_connection(srv.getsockname())
s, _ = srv.accept()
c.sendall(b"a" * 7000)
got = 0
while got < 7000:
    got += len(s.recv(65536))
s.sendall(b"b" * 1200)
got = 0
while got < 1200:
    got += len(c.recv(65536))
print(srv.getsockname()[1], flush=True)
sys.stdin.readline()
"#;

struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn lists_a_cgroups_sockets_with_owner_bytes_and_rtt() {
    if !loglynx_testkit::require_root("creates a cgroup") {
        return;
    }
    let root = cgroup2_mount().expect("a cgroup2 mount (unified or hybrid hierarchy)");
    let name = format!("llx-netstat-{}", std::process::id());
    let cg = TestCgroup(root.join(&name));
    std::fs::create_dir(&cg.0).unwrap();
    let (mut child, rx) = loglynx_testkit::python(HOLDER, &[]);
    let pid = child.id();
    std::fs::write(cg.0.join("cgroup.procs"), pid.to_string()).unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    let port: u16 = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("holder ready")
        .parse()
        .unwrap();

    let path = format!("/{name}");
    let q = NetstatQuery {
        cgroup: Some(path.clone()),
        ..Default::default()
    };
    let rows = netstat(&q).unwrap();
    let table: String = rows
        .iter()
        .map(|e| format!("{}\n", e.row(Default::default())))
        .collect();
    assert_eq!(rows.len(), 3, "listener, client, accepted socket:\n{table}");
    for e in &rows {
        assert_eq!(e.cgroup.as_deref(), Some(path.as_str()), "{table}");
        let o = e.socket.owner.as_ref().expect("owner from /proc");
        assert_eq!((o.pid, o.comm.as_str()), (pid, "python3"));
        let st = e.socket.stats.as_ref().unwrap();
        let id = st.cgroup_id.expect("cgroup id in the dump");
        assert_eq!(CgroupNames::new().path(id).as_deref(), Some(path.as_str()));
    }
    let states: Vec<TcpState> = rows.iter().map(|e| e.socket.state).collect();
    assert_eq!(
        states,
        vec![
            TcpState::Established,
            TcpState::Established,
            TcpState::Listen
        ]
    );
    let client = rows
        .iter()
        .find(|e| e.socket.rport == port)
        .expect("client socket");
    let accepted = rows
        .iter()
        .find(|e| e.socket.lport == port && e.socket.rport != 0)
        .expect("accepted socket");
    let (ct, at) = (
        client.socket.stats.as_ref().unwrap().tcp.clone().unwrap(),
        accepted.socket.stats.as_ref().unwrap().tcp.clone().unwrap(),
    );
    // bytes_acked counts the SYN's sequence number too; nothing is closed yet (no FIN).
    assert!((7000..=7001).contains(&ct.bytes_acked), "{ct:?}");
    assert_eq!(ct.bytes_received, 1200, "{ct:?}");
    assert!((1200..=1201).contains(&at.bytes_acked), "{at:?}");
    assert_eq!(at.bytes_received, 7000, "{at:?}");
    assert!(ct.rtt_us > 0 && at.rtt_us > 0);
    assert_eq!((ct.total_retrans, at.total_retrans), (0, 0));
    let g = summary(&rows);
    assert_eq!(g.len(), 2, "{g:?}");
    assert_eq!(
        (g[0].state, g[0].sockets, g[0].pid),
        (TcpState::Established, 2, Some(pid))
    );
    assert_eq!(g[0].bytes_received, 8200);

    // Not in the cgroup: none of this process's sockets.
    let others = netstat(&NetstatQuery {
        cgroup: Some(format!("{path}-other")),
        ..Default::default()
    })
    .unwrap();
    assert!(others.is_empty());

    drop(stdin);
    let _ = child.wait();
}
