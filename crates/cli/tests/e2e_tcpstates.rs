//! `loglynx tcpstates --snapshot` on the real binary against real sockets in known states: a
//! listener, an established connection and a connection the client closed while the server
//! kept its end (CLOSE_WAIT on the server, an orphaned FIN_WAIT2 on the client). The snapshot
//! alone needs no privilege; `--snapshot --follow` needs root for eBPF (skipped without it,
//! failed when `LOGLYNX_REQUIRE_ROOT` is set).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::BIN;

/// Listens on a free port, opens two connections to itself, closes the client end of the
/// second (server end: CLOSE_WAIT), prints the port and holds; on "close" on stdin closes the
/// CLOSE_WAIT end and prints "closed".
const HOLDER: &str = r#"
import socket, sys, time
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
port = srv.getsockname()[1]
a = socket.create_connection(("127.0.0.1", port))
a_srv, _ = srv.accept()
b = socket.create_connection(("127.0.0.1", port))
b_srv, _ = srv.accept()
b.close()
while b_srv.recv(1) != b"":
    pass
print(port, flush=True)
sys.stdin.readline()
b_srv.close()
print("closed", flush=True)
sys.stdin.readline()
"#;

struct Holder {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
    port: u16,
}

fn holder() -> Holder {
    let (mut child, lines) = loglynx_testkit::python(HOLDER, &[]);
    let stdin = child.stdin.take().expect("piped stdin");
    let port = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("holder ready")
        .parse()
        .expect("a port");
    Holder {
        child,
        stdin,
        lines,
        port,
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tcpstates(args: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .arg("tcpstates")
        .args(args)
        .output()
        .expect("run loglynx");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}: {stderr}");
    (stdout, stderr)
}

/// The table's rows as columns (header checked and left out).
fn rows(table: &str) -> Vec<Vec<String>> {
    let mut lines = table.lines();
    let header = lines.next().expect("a header");
    assert!(
        header.starts_with("SKADDR") && header.ends_with("MS"),
        "{header}"
    );
    lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn snapshot_lists_the_sockets_of_now_in_tcpstates_columns() {
    let h = holder();
    let (pid, port) = (h.child.id().to_string(), h.port.to_string());

    let (table, stderr) = tcpstates(&["--snapshot", "-P", &port]);
    assert!(stderr.contains("5 sockets now"), "{stderr}");
    // SKADDR PID COMM LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS
    let mut got: Vec<(String, String, String, String, String)> = rows(&table)
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 11, "{c:?}");
            assert_eq!(
                (c[0].as_str(), c[7].as_str(), c[10].as_str()),
                ("-", "-", "-")
            );
            let end = |p: &str| {
                if p == port {
                    "P".to_string()
                } else {
                    "x".to_string()
                }
            };
            (
                c[9].clone(),
                c[1].clone(),
                c[2].clone(),
                end(&c[4]),
                end(&c[6]),
            )
        })
        .collect();
    got.sort();
    let own = |st: &str, l: &str, r: &str| {
        (
            st.to_string(),
            pid.clone(),
            "python3".to_string(),
            l.to_string(),
            r.to_string(),
        )
    };
    let mut want = vec![
        own("LISTEN", "P", "x"),
        own("ESTABLISHED", "P", "x"),
        own("ESTABLISHED", "x", "P"),
        own("CLOSE_WAIT", "P", "x"),
        // The client's end was closed: an orphan, which no process holds.
        (
            "FIN_WAIT2".to_string(),
            "-".to_string(),
            "-".to_string(),
            "x".to_string(),
            "P".to_string(),
        ),
    ];
    want.sort();
    assert_eq!(got, want, "{table}");

    // The same sockets as JSON, in the keys of a change.
    let (json, _) = tcpstates(&["--snapshot", "--json", "-L", &port]);
    let objs: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let mut states: Vec<&str> = objs
        .iter()
        .map(|o| o["new_state"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(
        states,
        vec!["CLOSE_WAIT", "ESTABLISHED", "LISTEN"],
        "{json}"
    );
    for o in &objs {
        assert!(o["old_state"].is_null() && o["skaddr"].is_null(), "{o}");
        assert_eq!(o["lport"].as_u64(), Some(u64::from(h.port)), "{o}");
        assert_eq!(o["pid"].as_u64(), Some(u64::from(h.child.id())), "{o}");
        assert_eq!(
            (o["comm"].as_str(), o["owner"].as_str()),
            (Some("python3"), Some("proc"))
        );
        assert!(o["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{o}");
    }

    // The family filter: these are IPv4 sockets.
    let (table, _) = tcpstates(&["--snapshot", "-6", "-P", &port]);
    assert!(rows(&table).is_empty(), "{table}");
    let (table, _) = tcpstates(&["--snapshot", "-4", "-D", &port]);
    let states: Vec<String> = rows(&table).into_iter().map(|c| c[9].clone()).collect();
    let mut states: Vec<&str> = states.iter().map(String::as_str).collect();
    states.sort();
    assert_eq!(states, vec!["ESTABLISHED", "FIN_WAIT2"], "{table}");
}

#[test]
fn snapshot_then_follow_prints_the_sockets_of_now_then_their_changes() {
    if !loglynx_testkit::require_root("traces TCP state changes with eBPF") {
        return;
    }
    let mut h = holder();
    let port = h.port.to_string();
    let mut child = Command::new(BIN)
        .args(["tcpstates", "--snapshot", "--follow", "--json", "-P", &port])
        .args(["--duration", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loglynx tcpstates");
    let rx = loglynx_testkit::line_channel(child.stdout.take().expect("piped stdout"));
    let mut lines: Vec<Value> = Vec::new();
    while lines.len() < 5 {
        let l = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the five sockets of now");
        lines.push(serde_json::from_str(&l).expect("JSON"));
    }
    assert!(lines.iter().all(|o| o["old_state"].is_null()), "{lines:?}");
    let close_wait = lines
        .iter()
        .find(|o| o["new_state"] == "CLOSE_WAIT")
        .expect("the CLOSE_WAIT socket in the snapshot");
    assert_eq!(close_wait["pid"].as_u64(), Some(u64::from(h.child.id())));

    // Now the server closes its CLOSE_WAIT end: that change follows the snapshot.
    writeln!(h.stdin, "close").unwrap();
    assert_eq!(
        h.lines.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("closed")
    );
    // Its changes follow: CLOSE_WAIT -> LAST_ACK, then LAST_ACK -> CLOSE on the peer's ACK.
    let ours = |o: &Value, old: &str, new: &str| {
        o["old_state"] == old
            && o["new_state"] == new
            && o["lport"].as_u64() == Some(u64::from(h.port))
    };
    while !lines.last().is_some_and(|o| ours(o, "LAST_ACK", "CLOSE")) {
        let l = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the CLOSE_WAIT socket's changes");
        lines.push(serde_json::from_str(&l).expect("JSON"));
    }
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().expect("tcpstates stops on SIGINT");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let changes = &lines[5..];
    assert!(
        changes
            .iter()
            .all(|o| o["old_state"].is_string() && o["skaddr"].is_string()),
        "{changes:?}"
    );
    let first = changes
        .iter()
        .position(|o| ours(o, "CLOSE_WAIT", "LAST_ACK"))
        .expect("CLOSE_WAIT -> LAST_ACK after the snapshot");
    assert!(first < changes.len() - 1, "{changes:?}");
    assert!(
        stderr.contains("5 sockets now (sock_diag), changes follow"),
        "{stderr}"
    );
}
