//! `loglynx netstat`'s per-connection figures (sock_diag with `tcp_info`, this crate's own
//! netlink code) against iproute2's `ss -tin` on the same sockets, with real traffic between two
//! network namespaces over an emulated link (10% loss from the client so there are
//! retransmits, 20 ms delay back so the RTT is not loopback-small).
//!
//! Margins: once both ends are idle (everything acknowledged, nothing queued, read twice with
//! the same figures around the `ss` run), bytes acked, bytes received, segments sent and total
//! retransmits must be equal; the smoothed RTT within 1 us (ss prints `rtt:` in ms with three
//! decimals, i.e. `tcpi_rtt` in us / 1000) and the RTO too (`rto:` in ms).
//!
//! Needs root and iproute2 (CI runs as root): skipped otherwise, or failed when
//! `LOGLYNX_REQUIRE_ROOT` is set.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use loglynx_netmon::{netstat, Filter, NetstatQuery, SocketRow};
use loglynx_testkit::netns::{Link, NetnsPair, Side, ADDR_B};

const SERVER: &str = r#"
import socket, sys
port, total, reply = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(4)
print("ready", flush=True)
conn, _ = srv.accept()
got = 0
while got < total:
    got += len(conn.recv(65536))
conn.sendall(b"r" * reply)
print("got", got, flush=True)
sys.stdin.readline()
"#;

const CLIENT: &str = r#"
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
total, reply = int(sys.argv[3]), int(sys.argv[4])
for _ in range(total // 1000):
    c.sendall(b"x" * 1000)
    time.sleep(0.002)
got = 0
while got < reply:
    got += len(c.recv(65536))
print("done", flush=True)
sys.stdin.readline()
"#;

const TOTAL: u64 = 200_000;
const REPLY: u64 = 30_000;

/// The client's socket towards `port` as `netstat` (what `loglynx netstat` prints) sees it,
/// from inside namespace `ns`.
fn ours(ns: &str, port: u16) -> SocketRow {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("namespace file");
        // SAFETY: setns on a valid namespace fd; it only changes this thread's namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let rows = netstat(&NetstatQuery {
            filter: Filter {
                remote_ports: vec![port],
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let mut rows: Vec<SocketRow> = rows.into_iter().map(|e| e.socket).collect();
        assert_eq!(rows.len(), 1, "one client socket: {rows:#?}");
        rows.remove(0)
    })
    .join()
    .unwrap()
}

/// `key:value` fields of the `ss -tin` info line of the socket from local port `lport`.
fn ss(pair: &NetnsPair, port: u16, lport: u16) -> HashMap<String, String> {
    let out = pair
        .command(Side::A, "ss")
        .args(["-tinH", "dport", &format!("= :{port}")])
        .output()
        .expect("ss (iproute2) is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // One socket: a state line then its indented info line (ss may join them on one line).
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(
        words.iter().any(|w| w.ends_with(&format!(":{lport}"))),
        "ss shows another socket than local port {lport}: {text}"
    );
    words
        .iter()
        .filter_map(|w| w.split_once(':'))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ms_to_us(v: &str) -> f64 {
    v.parse::<f64>().unwrap_or_else(|_| panic!("not a number of ms: {v}")) * 1000.0
}

#[test]
fn netstat_figures_agree_with_ss_tin() {
    if !loglynx_testkit::require_root("network namespaces and iproute2") {
        return;
    }
    let pair = NetnsPair::emulated(Link {
        loss_a_to_b: 0.10,
        delay_b_to_a_ms: 20,
        ..Default::default()
    });
    let port = loglynx_testkit::free_port();
    let (mut server, srx) = pair.python(Side::B, SERVER, &[port.to_string(), TOTAL.to_string(), REPLY.to_string()]);
    assert_eq!(srx.recv_timeout(Duration::from_secs(10)).as_deref(), Ok("ready"));
    let args = [ADDR_B.to_string(), port.to_string(), TOTAL.to_string(), REPLY.to_string()];
    let (mut client, crx) = pair.python(Side::A, CLIENT, &args);
    assert_eq!(crx.recv_timeout(Duration::from_secs(120)).as_deref(), Ok("done"));
    assert_eq!(srx.recv_timeout(Duration::from_secs(10)), Ok(format!("got {TOTAL}")));

    // Idle: everything acknowledged and nothing in flight, and the same figures on both sides
    // of the ss run (else the connection moved meanwhile: try again).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (row, fields) = loop {
        assert!(Instant::now() < deadline, "the connection never stayed idle around an ss run");
        let before = ours(pair.name(Side::A), port);
        let st = before.stats.clone().expect("sock_diag stats");
        let tcp = st.tcp.clone().expect("tcp_info");
        if st.send_q != 0 || tcp.retrans != 0 || tcp.bytes_received < REPLY {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let fields = ss(&pair, port, before.lport);
        let after = ours(pair.name(Side::A), port);
        if after.stats.as_ref().and_then(|s| s.tcp.clone()) == Some(tcp) {
            break (before, fields);
        }
    };
    let tcp = row.stats.unwrap().tcp.unwrap();
    eprintln!("netstat: {tcp:?}\nss -tin: {fields:?}");
    let num = |k: &str| -> u64 {
        fields
            .get(k)
            .unwrap_or_else(|| panic!("ss gave no {k}: {fields:?}"))
            .parse()
            .unwrap()
    };
    // What was moved, plus at most the SYN (the kernel counts sequence space).
    assert!((TOTAL..=TOTAL + 1).contains(&tcp.bytes_acked), "{tcp:?}");
    assert!((REPLY..=REPLY + 1).contains(&tcp.bytes_received), "{tcp:?}");
    assert_eq!(tcp.bytes_acked, num("bytes_acked"), "{tcp:?} vs ss {fields:?}");
    assert_eq!(tcp.bytes_received, num("bytes_received"), "{tcp:?} vs ss {fields:?}");
    assert_eq!(u64::from(tcp.segs_out), num("segs_out"), "{tcp:?} vs ss {fields:?}");
    // `retrans:CUR/TOTAL`.
    let (cur, total) = fields["retrans"].split_once('/').expect("retrans:a/b");
    assert!(tcp.total_retrans > 0, "10% loss made no retransmit: {tcp:?}");
    assert_eq!((u64::from(tcp.retrans), u64::from(tcp.total_retrans)), (cur.parse().unwrap(), total.parse().unwrap()));
    // `rtt:SRTT/RTTVAR` in ms.
    let (srtt, rttvar) = fields["rtt"].split_once('/').expect("rtt:a/b");
    assert!((f64::from(tcp.rtt_us) - ms_to_us(srtt)).abs() <= 1.0, "srtt {} us vs ss {srtt} ms", tcp.rtt_us);
    assert!((f64::from(tcp.rttvar_us) - ms_to_us(rttvar)).abs() <= 1.0, "rttvar {} us vs ss {rttvar} ms", tcp.rttvar_us);
    assert!(tcp.rtt_us >= 20_000, "a 20 ms link: {tcp:?}");
    assert!((f64::from(tcp.rto_us) - ms_to_us(&fields["rto"])).abs() <= 1.0, "rto {} us vs ss {:?}", tcp.rto_us, fields["rto"]);

    for c in [&mut client, &mut server] {
        let _ = c.kill();
        let _ = c.wait();
    }
}
