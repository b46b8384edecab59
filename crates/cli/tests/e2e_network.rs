//! The TCP state monitor end to end: `loglynx run --tcp-states` against a leaking python
//! server, and an unprivileged run falling back to sock_diag. Both need root: skipped without
//! it, failed when `LOGLYNX_REQUIRE_ROOT` is set (as `.ci/run` does).

mod support;

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use loglynx_testkit::free_port;
use support::{Server, BIN};

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
        # Wait for the client's close, then close: no CLOSE_WAIT left behind.
        conn.recv(1)
        conn.close()
    else:
        kept.append(conn)     # never closed: CLOSE_WAIT once the client closes
print("done", flush=True)
sys.stdin.read()
"#;

fn get(s: &Server, path: &str) -> Value {
    s.client()
        .get(s.url(path))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null)
}

#[test]
fn close_wait_leak_is_listed_per_process_and_raises_one_alert() {
    if !loglynx_testkit::require_root("eBPF") {
        return;
    }
    const N: usize = 6;
    const K: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Nothing listens there: connections to it fail.
    let closed = std::iter::repeat_with(free_port).find(|p| *p != port).unwrap();
    let conf = dir.path().join("loglynx.toml");
    std::fs::write(
        &conf,
        // The built-in rules' thresholds: the K CLOSE_WAIT sockets of the server, the N - K
        // client sockets in TIME_WAIT and the K in FIN_WAIT2 (the server never closes them).
        format!("[tcp_states]\nsnapshot_interval = \"500ms\"\nsocket_counts_interval = \"1s\"\nclose_wait_threshold = {K}\ntime_wait_threshold = {}\nfin_wait2_threshold = {K}\nfailed_connect_threshold = 5\nports = [{port}, {closed}]\n[detect]\nresolve_after = \"4s\"\n", N - K),
    )
    .unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[
            "-c",
            conf.to_str().unwrap(),
            "--tcp-states",
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
        ],
    );
    assert!(
        s.startup
            .iter()
            .any(|l| l.starts_with("tcp states: mode bpf")),
        "{:?}",
        s.startup
    );
    let st = get(&s, "/api/v1/network/status");
    assert_eq!(st["mode"], "bpf", "{st}");

    let (mut child, rx) = loglynx_testkit::python(LEAKY_SERVER, &[&port, &N, &K]);
    let pid = child.id() as u64;
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "ready");
    for _ in 0..N {
        // Connect and close at once: the server sees EOF on every connection.
        drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "done");

    // Exactly K CLOSE_WAIT sockets, all held by the python server.
    let mut last = Value::Null;
    s.wait_for(
        Duration::from_secs(20),
        "K CLOSE_WAIT sockets of the server",
        || {
            last = get(&s, "/api/v1/network/sockets");
            last["by_state"]["CLOSE_WAIT"].as_u64() == Some(K as u64)
                && last["close_wait_leaders"][0]["pid"].as_u64() == Some(pid)
        },
    );
    let lead = &last["close_wait_leaders"][0];
    assert_eq!(lead["count"], K as u64, "{last}");
    assert_eq!(lead["comm"], "python3");
    assert_eq!(lead["local_ports"], serde_json::json!([port]));
    assert_eq!(lead["peers"][0]["ip"], "127.0.0.1");
    let proc_row = last["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .cloned();
    assert_eq!(
        proc_row.unwrap()["states"]["CLOSE_WAIT"],
        K as u64,
        "{last}"
    );

    // The CLOSE_WAIT leak is the built-in rule tcp_close_wait_leak over the monitor's socket
    // counts: one alert for the process (one while the leak holds), high, the evidence naming
    // the process and the peer.
    let rule_alerts = |rule: &str| get(&s, &format!("/api/v1/alerts?rule={rule}"));
    s.wait_for(Duration::from_secs(20), "the CLOSE_WAIT leak alert", || rule_alerts("tcp_close_wait_leak")["total"] == 1);
    let a = rule_alerts("tcp_close_wait_leak");
    let leak = &a["alerts"][0];
    assert_eq!(leak["group"], serde_json::json!({"process.name": "python3", "process.pid": pid.to_string()}), "{a}");
    assert_eq!(leak["rule"]["level"], "high");
    assert_eq!(leak["status"], "open");
    let q = format!("event.dataset:network.sockets AND event.action:close_wait AND process.pid:{pid} AND labels.tcp.sockets:{K}");
    s.wait_for(Duration::from_secs(20), "the count event of the leak", || s.total(&q) >= 1);
    let count_event = &s.search(&q, 1, 0, "desc")["hits"][0];
    assert!(leak["evidence"].as_array().unwrap().iter().any(|id| id == &count_event["event.id"]), "{leak} {count_event}");
    let msg = count_event["message"].as_str().unwrap();
    assert!(msg.contains(&format!("process python3 (pid {pid}) holds {K} sockets in CLOSE_WAIT")), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1 ({K})")), "{msg}");
    assert_eq!(count_event["destination.ip"], "127.0.0.1");
    // The client sockets: N - K in TIME_WAIT, K in FIN_WAIT2 (closed, so unowned), both on the
    // server's endpoint: one alert each.
    let endpoint = format!("remote 127.0.0.1:{port}");
    s.wait_for(Duration::from_secs(20), "the TIME_WAIT and FIN_WAIT2 alerts", || {
        rule_alerts("tcp_time_wait_storm")["total"] == 1 && rule_alerts("tcp_fin_wait2_storm")["total"] == 1
    });
    let tw = rule_alerts("tcp_time_wait_storm");
    assert_eq!(tw["alerts"][0]["group"], serde_json::json!({"labels.tcp.endpoint": endpoint}), "{tw}");
    assert_eq!(tw["alerts"][0]["rule"]["level"], "medium");
    let fw = rule_alerts("tcp_fin_wait2_storm");
    assert_eq!(fw["alerts"][0]["group"], serde_json::json!({"labels.tcp.group": endpoint}), "{fw}");
    // Several more snapshots pass: still one alert each.
    let snaps = get(&s, "/api/v1/network/status")["snapshots"]
        .as_u64()
        .unwrap();
    s.wait_for(Duration::from_secs(10), "3 more snapshots", || {
        get(&s, "/api/v1/network/status")["snapshots"]
            .as_u64()
            .unwrap_or(0)
            >= snaps + 3
    });
    for rule in ["tcp_close_wait_leak", "tcp_time_wait_storm", "tcp_fin_wait2_storm"] {
        let a = rule_alerts(rule);
        assert_eq!((a["total"].as_u64(), a["alerts"][0]["status"].as_str()), (Some(1), Some("open")), "{rule}: {a}");
    }
    let st = get(&s, "/api/v1/network/status");
    assert!(st["alerts_active"].as_array().unwrap().iter().any(|g| g == &serde_json::json!(format!("close_wait:pid:{pid}"))), "{st}");

    // The transitions are events too: all N server sockets entered CLOSE_WAIT (the clients
    // closed first), and only the N - K the server closed left it.
    let q =
        format!("event.dataset:network.tcp AND tcp.new_state:CLOSE_WAIT AND source.port:{port}");
    s.wait_total(&q, N as u64, Duration::from_secs(20));
    let q =
        format!("event.dataset:network.tcp AND tcp.old_state:CLOSE_WAIT AND source.port:{port}");
    s.wait_total(&q, (N - K) as u64, Duration::from_secs(20));

    // Finished connections are events too (tcplife): the N client sockets the test closed
    // (source: this process's ports) and the N - K server sockets the server closed, each with
    // its own owner; source is the connecting side on both.
    let q = format!("event.dataset:network.connection AND destination.port:{port}");
    s.wait_total(&q, (2 * N - K) as u64, Duration::from_secs(20));
    let q = format!("event.dataset:network.connection AND destination.port:{port} AND process.pid:{pid}");
    s.wait_total(&q, (N - K) as u64, Duration::from_secs(20));
    let hit = &s.search(&q, 1, 0, "desc")["hits"][0];
    assert_eq!(hit["labels.network.direction"], "inbound", "{hit}");
    assert_eq!(hit["source.ip"], "127.0.0.1");
    assert_eq!(hit["network.transport"], "tcp");
    assert!(hit["event.duration"].as_u64().unwrap() > 0, "{hit}");
    assert!(hit["tcp.srtt_us"].is_u64(), "{hit}");
    // The counters are numeric fields: ranges work (every socket here sent at least its FIN).
    let q = format!("event.dataset:network.connection AND destination.port:{port} AND network.bytes:[1 TO *] AND event.duration:[1 TO *]");
    s.wait_total(&q, (2 * N - K) as u64, Duration::from_secs(20));
    let me = std::process::id();
    let q = format!("event.dataset:network.connection AND destination.port:{port} AND process.pid:{me}");
    s.wait_total(&q, N as u64, Duration::from_secs(20));

    let st = get(&s, "/api/v1/network/status");
    assert_eq!(st["drops"]["kernel"], 0, "{st}");
    assert_eq!(st["drops"]["queue"], 0, "{st}");
    assert_eq!(st["drops"]["connections_kernel"], 0, "{st}");
    assert!(st["connections"].as_u64().unwrap() >= (2 * N - K) as u64, "{st}");

    // Performance counters: loglynx itself sent the HTTP answers of this test.
    let me_server = s.child.id() as u64;
    let mut perf = Value::Null;
    s.wait_for(Duration::from_secs(20), "perf counters naming loglynx", || {
        perf = get(&s, "/api/v1/network/perf");
        perf["processes"].as_array().is_some_and(|ps| {
            ps.iter().any(|p| p["pid"] == me_server && p["tx_bytes"].as_u64() > Some(0))
        })
    });
    assert!(perf["as_of"].is_string(), "{perf}");
    assert!(perf["drops"].is_array() && perf["rtt"].is_array(), "{perf}");
    assert_eq!(perf["owners_overflow"], 0);

    // Failed connection attempts are the built-in detection rule tcp_connect_failures (its
    // threshold from [tcp_states]): 8 refused connections to one port, one alert for it.
    for _ in 0..8 {
        assert!(TcpStream::connect(("127.0.0.1", closed)).is_err());
    }
    let alerts = |s: &Server| get(s, "/api/v1/alerts?rule=tcp_connect_failures");
    s.wait_for(Duration::from_secs(20), "the connect failures alert", || alerts(&s)["alerts"][0]["count"] == 8);
    let a = alerts(&s);
    assert_eq!(a["total"], 1, "{a}");
    assert_eq!(a["alerts"][0]["group"], serde_json::json!({"destination.ip": "127.0.0.1", "destination.port": closed.to_string()}), "{a}");
    assert_eq!(a["alerts"][0]["rule"]["level"], "medium");

    // The server exits: its CLOSE_WAIT sockets go, the count drops to 0, and once no count over
    // the threshold came for resolve_after (4 s of event time), the alert resolves.
    drop(child.stdin.take());
    let _ = child.wait();
    s.wait_for(Duration::from_secs(30), "the CLOSE_WAIT alert resolved", || rule_alerts("tcp_close_wait_leak")["alerts"][0]["status"] == "resolved");
    let a = rule_alerts("tcp_close_wait_leak");
    let last = a["alerts"][0]["history"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!((last["status"].as_str(), last["by"].as_str()), (Some("resolved"), Some("loglynx")), "{a}");
    let q = format!("event.dataset:loglynx.alert AND event.action:resolved AND alert.id:{}", a["alerts"][0]["id"].as_str().unwrap());
    s.wait_total(&q, 1, Duration::from_secs(20));
    s.stop();
}

#[test]
fn an_unprivileged_run_falls_back_to_sock_diag_and_says_why() {
    if !loglynx_testkit::require_root("to drop to another user") {
        return;
    }
    // A copy of the binary and a data directory the unprivileged user can reach.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("loglynx");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap(); // root's: counted, not attributed
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(&bin);
    let s = Server::start_with(
        cmd,
        &data,
        &["--tcp-states", "--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    let line = s
        .startup
        .iter()
        .find(|l| l.starts_with("tcp states: mode"))
        .cloned()
        .unwrap_or_default();
    assert!(
        line.starts_with("tcp states: mode sock_diag"),
        "{:?}",
        s.startup
    );
    assert!(
        line.contains("not permitted") && line.contains("CAP_BPF"),
        "{line}"
    );

    let st = get(&s, "/api/v1/network/status");
    assert_eq!(st["mode"], "sock_diag", "{st}");
    assert!(
        st["reason"]
            .as_str()
            .unwrap()
            .contains("CAP_BPF and CAP_PERFMON"),
        "{st}"
    );
    assert_eq!(st["transitions"], 0);
    assert!(st["last_snapshot"].is_string(), "{st}");
    let so = get(&s, "/api/v1/network/sockets");
    assert_eq!(so["mode"], "sock_diag");
    assert!(so["by_state"]["LISTEN"].as_u64().unwrap_or(0) >= 2, "{so}"); // ours + its API
    drop(listener);
    s.stop();
}

/// The bits of a `Cap*:` line of /proc/PID/task/TID/status.
fn cap_line(status: &str, name: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {status}"));
    u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
}

#[test]
fn a_root_run_drops_the_attach_capabilities_from_every_thread_and_keeps_tracing() {
    if !loglynx_testkit::require_root("eBPF") {
        return;
    }
    // linux/capability.h: what only attaching needed, and what a root run keeps.
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    const KEPT: u64 = 1 << 1 | 1 << 2 | 1 << 10 | 1 << 19; // DAC_OVERRIDE, DAC_READ_SEARCH, NET_BIND_SERVICE, SYS_PTRACE
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("loglynx.toml");
    std::fs::write(&conf, format!("[tcp_states]\nports = [{port}]\n")).unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["-c", conf.to_str().unwrap(), "--tcp-states", "--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    assert_eq!(get(&s, "/api/v1/network/status")["mode"], "bpf");

    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{}/task", s.child.id()))
        .unwrap()
        .map(|t| t.unwrap().path())
        .collect();
    // The runtime's workers, the store's and the monitor's threads, besides the main one.
    assert!(tasks.len() > 4, "only {} threads", tasks.len());
    for task in &tasks {
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        for set in ["CapEff:", "CapPrm:", "CapBnd:", "CapInh:", "CapAmb:"] {
            let bits = cap_line(&status, set);
            for cap in [CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF] {
                assert_eq!(bits & 1 << cap, 0, "thread {} ({}) still has capability {cap} in {set} {bits:x}", task.display(), name.trim());
            }
            assert_eq!(bits & !KEPT, 0, "thread {} ({}) has more than it keeps in {set} {bits:x}", task.display(), name.trim());
        }
        assert_eq!(cap_line(&status, "CapEff:"), KEPT, "thread {} ({})", task.display(), name.trim());
    }

    // The programs attached before the drop still report: a connection made now is an event.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    drop((client, server));
    let q = format!("event.dataset:network.tcp AND tcp.new_state:ESTABLISHED AND (source.port:{port} OR destination.port:{port})");
    s.wait_for(Duration::from_secs(30), "the connection's transition after the drop", || s.total(&q) >= 1);
    s.stop();
}

/// Reads each connection to its end, answers `rep` bytes and closes; named `mapsrv`.
const MAP_SERVER: &str = r#"
import socket, sys
open("/proc/self/comm", "w").write("mapsrv")
port, n, rep = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(16)
print("ready", flush=True)
for _ in range(n):
    c, _ = srv.accept()
    while c.recv(65536):
        pass
    c.sendall(b"r" * rep)
    c.close()
print("done", flush=True)
sys.stdin.read()
"#;

/// Connects `n` times, sends `req` bytes, reads the answer to its end; named `mapcli`.
const MAP_CLIENT: &str = r#"
import socket, sys
open("/proc/self/comm", "w").write("mapcli")
host, port, n, req = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(b"q" * req)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
print("done", flush=True)
sys.stdin.read()
"#;

#[test]
fn service_map_names_who_connected_to_whom_across_namespaces_and_drops_are_fields() {
    if !loglynx_testkit::require_root("eBPF and network namespaces") {
        return;
    }
    use loglynx_testkit::netns::{NetnsPair, Side, ADDR_B};
    const N: u64 = 4;
    const REQ: u64 = 300_000;
    const REP: u64 = 20_000;
    let pair = NetnsPair::new();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("loglynx.toml");
    std::fs::write(
        &conf,
        format!("[tcp_states]\nsnapshot_interval = \"500ms\"\nperf_interval = \"200ms\"\nperf_summary_interval = \"1s\"\nports = [{port}]\n"),
    )
    .unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[
            "-c",
            conf.to_str().unwrap(),
            "--tcp-states",
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
        ],
    );
    assert!(
        s.startup
            .iter()
            .any(|l| l.starts_with("tcp states: mode bpf")),
        "{:?}",
        s.startup
    );

    let line = |rx: &std::sync::mpsc::Receiver<String>, want: &str| {
        let got = rx.recv_timeout(Duration::from_secs(60));
        assert_eq!(got.as_deref(), Ok(want));
    };
    let (mut server, srx) = pair.python(
        Side::B,
        MAP_SERVER,
        &[port.to_string(), N.to_string(), REP.to_string()],
    );
    line(&srx, "ready");
    let (mut client, crx) = pair.python(
        Side::A,
        MAP_CLIENT,
        &[
            ADDR_B.to_string(),
            port.to_string(),
            N.to_string(),
            REQ.to_string(),
        ],
    );
    line(&crx, "done");
    line(&srx, "done");

    // Both ends of every connection are stored, and a summary of the client's segments.
    s.wait_total(
        &format!("event.dataset:network.connection AND destination.port:{port}"),
        2 * N,
        Duration::from_secs(30),
    );
    s.wait_for(Duration::from_secs(30), "a network.perf summary of mapcli with RTT samples", || {
        s.search("event.dataset:network.perf AND event.action:peer AND process.name:mapcli", 100, 0, "desc")["hits"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["labels.tcp.rtt_samples"].as_str().is_some_and(|n| n != "0")))
    });

    let q = format!("destination.port:{port} OR process.name:mapcli OR process.name:mapsrv");
    let url = format!(
        "/api/v1/network/map?start=now-1h&q={}",
        q.replace(' ', "%20").replace(':', "%3A")
    );
    let m = get(&s, &url);
    let node = |name: &str| {
        m["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["process"] == name)
            .unwrap_or_else(|| panic!("no node {name}: {m}"))
            .clone()
    };
    let (cli, srv) = (node("mapcli"), node("mapsrv"));
    assert_eq!(
        (cli["kind"].as_str(), srv["kind"].as_str()),
        (Some("process"), Some("process"))
    );
    let edges = m["edges"].as_array().unwrap();
    assert_eq!(
        edges.len(),
        1,
        "one edge, the target named by its listener: {m}"
    );
    let e = &edges[0];
    assert_eq!(
        (&e["source"], &e["target"]),
        (&cli["id"], &srv["id"]),
        "{m}"
    );
    assert_eq!(e["connections"], N);
    // The kernel counts sequence space acked / received: the payload plus at most SYN and FIN.
    let near = |k: &str, want: u64| {
        let got = e[k].as_u64().unwrap();
        assert!(
            (want..=want + 2 * N).contains(&got),
            "{k}: {got}, sent {want}: {e}"
        );
    };
    near("sent_bytes", N * REQ);
    near("received_bytes", N * REP);
    let segs = e["segs_out"].as_u64().unwrap();
    assert!(segs >= N, "{e}");
    assert!(
        e["rtt_samples"].as_u64().unwrap() > 0 && e["rtt_p99_us"].as_u64().unwrap() > 0,
        "{e}"
    );
    assert_eq!(
        e["retransmit_rate"].as_f64().unwrap(),
        e["retransmits"].as_u64().unwrap() as f64 / segs as f64
    );
    assert_eq!(m["truncated"], false);

    // Drops are typed fields of the stored summaries: a SYN to a port nobody listens on in the
    // server's namespace is dropped (NO_SOCKET), found by a range on network.drops and by its
    // reason, and the perf history reads it.
    let refused = pair
        .command(Side::A, "python3")
        .args(["-c", "import socket,sys\ntry:\n socket.create_connection((sys.argv[1], 9))\nexcept ConnectionRefusedError:\n print('refused')"])
        .arg(ADDR_B)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&refused.stdout).trim(), "refused");
    let q = "event.dataset:network.perf AND event.action:drop AND network.drop.reason:NO_SOCKET AND network.drops:>=1";
    s.wait_for(Duration::from_secs(30), "a NO_SOCKET drop summary", || s.total(q) >= 1);
    let h = get(&s, "/api/v1/network/perf/history?start=now-1h");
    assert!(
        h["drops"].as_array().unwrap().iter().any(|d| d["reason"] == "NO_SOCKET" && d["count"].as_u64() >= Some(1)),
        "{h}"
    );

    for c in [&mut client, &mut server] {
        let _ = c.kill();
        let _ = c.wait();
    }
    s.stop();
}
