//! Performance counters with real traffic between two network namespaces joined by an emulated
//! link (testkit's TUN forwarder; this kernel has no `sch_netem`): 15% loss from the client
//! makes retransmits, attributed to the client process and equal to sock_diag's
//! `total_retrans` for its socket; a 50 ms delay from the server puts the client's RTT samples
//! in the [32.768, 65.536) ms bucket; a SYN to a closed port is dropped with reason NO_SOCKET
//! and answered by a reset; an abortive close counts a reset sent and one received; the live
//! byte counters equal what each process sent and received.
//!
//! Needs root (CI runs as root): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use loglynx_netmon::{netstat, Filter, NetstatEntry, NetstatQuery, Tracer, TracerConfig};
use loglynx_testkit::netns::{Link, NetnsPair, Side, ADDR_B};

const CHUNKS: usize = 150;
const CHUNK: usize = 1000;

const SERVER: &str = r#"
import socket, sys
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
try:
    while conn.recv(65536):
        pass
except ConnectionResetError:
    pass
print("reset", flush=True)
"#;

/// Small writes (one segment each, TCP_NODELAY) so a retransmitted skb is one segment.
const CLIENT: &str = r#"
import socket, struct, sys, time
host, port, chunks, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = socket.create_connection((host, port))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(chunks):
    c.sendall(b"x" * size)
    time.sleep(0.004)
print("sent", flush=True)
sys.stdin.readline()
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print("closed", flush=True)
"#;

/// sock_diag inside namespace `name` (a thread that enters it, as `ip netns exec` would).
fn netstat_in(name: &str, port: u16) -> Vec<NetstatEntry> {
    let path = format!("/run/netns/{name}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("namespace file");
        // SAFETY: setns on a valid namespace fd; it only changes this thread's namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        netstat(&NetstatQuery {
            filter: Filter {
                any_ports: vec![port],
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn retransmits_rtt_drops_resets_and_bytes_are_attributed() {
    if !loglynx_testkit::require_root("CAP_BPF, network namespaces and tc") {
        return;
    }
    let pair = NetnsPair::emulated(Link {
        loss_a_to_b: 0.15,
        delay_b_to_a_ms: 50,
        ..Default::default()
    });
    let port = loglynx_testkit::free_port();
    let tracer = Tracer::start(&TracerConfig {
        filter: Filter {
            any_ports: vec![port],
            ..Default::default()
        },
        perf: true,
        ..Default::default()
    })
    .expect("start tracer (running as root)");
    assert!(
        tracer
            .missing_hooks()
            .iter()
            .all(|(h, _)| !h.starts_with("tp_btf")),
        "{:?}",
        tracer.missing_hooks()
    );

    let total = CHUNKS * CHUNK;
    let (mut server, srx) = pair.python(Side::B, SERVER, &[port.to_string(), total.to_string()]);
    assert_eq!(
        srx.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("ready")
    );
    let args = [
        ADDR_B.to_string(),
        port.to_string(),
        CHUNKS.to_string(),
        CHUNK.to_string(),
    ];
    let (mut client, crx) = pair.python(Side::A, CLIENT, &args);
    let (cpid, spid) = (client.id(), server.id());
    assert_eq!(
        crx.recv_timeout(Duration::from_secs(60)).as_deref(),
        Ok("sent")
    );
    assert_eq!(
        srx.recv_timeout(Duration::from_secs(60)),
        Ok(format!("got {total}"))
    );

    // Wait until everything the client sent is acknowledged, then compare its socket's
    // total_retrans with the retransmits counted for the client process.
    let deadline = Instant::now() + Duration::from_secs(30);
    let diag = loop {
        let rows = netstat_in(pair.name(Side::A), port);
        let row = rows
            .into_iter()
            .find(|e| e.socket.rport == port)
            .expect("client socket");
        let st = row.socket.stats.clone().unwrap();
        if st.send_q == 0 && st.tcp.as_ref().is_some_and(|t| t.retrans == 0) {
            break st.tcp.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "client never got everything acknowledged: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let snap = tracer.perf_snapshot().unwrap();
    let proc_of = |pid: u32| snap.processes.iter().find(|p| p.pid == pid).cloned();
    let c = proc_of(cpid).unwrap_or_else(|| panic!("client counters: {snap:#?}"));
    assert!(
        diag.total_retrans > 0,
        "15% loss made no retransmit: {diag:?}"
    );
    assert_eq!(
        c.retransmits,
        u64::from(diag.total_retrans),
        "{c:?} vs sock_diag {diag:?}"
    );
    assert_eq!(c.comm, "python3");
    assert_eq!(c.tx_bytes, total as u64, "live bytes sent by the client");
    let s = proc_of(spid).unwrap_or_else(|| panic!("server counters: {snap:#?}"));
    assert_eq!(
        s.rx_bytes, total as u64,
        "live bytes received by the server"
    );
    assert_eq!(s.retransmits, 0, "the server sent no data");

    // RTT: the client's samples towards the server sit in the 50 ms bucket.
    let h = snap
        .rtt
        .iter()
        .find(|h| h.pid == cpid && h.peer.to_string() == ADDR_B)
        .unwrap_or_else(|| panic!("client RTT histogram: {:#?}", snap.rtt));
    let top = h.buckets.iter().max_by_key(|b| b.count).unwrap();
    assert_eq!((top.lo_us, top.hi_us), (32_768, 65_536), "{h:#?}");
    assert!(h.mean_us >= 50_000.0, "{h:#?}");
    // Retransmits and segments sent per owner and peer: the retransmit rate's parts.
    assert_eq!(h.retransmits, u64::from(diag.total_retrans), "{h:#?}");
    assert!(
        (CHUNKS as u64..=u64::from(diag.segs_out)).contains(&h.segs_out),
        "segments sent {} vs sock_diag {}",
        h.segs_out,
        diag.segs_out
    );

    // Drops: a SYN to a port nobody listens on is dropped (NO_SOCKET) and answered by a reset.
    let no_socket = |s: &loglynx_netmon::PerfSnapshot| {
        s.drops
            .iter()
            .find(|d| d.reason == "NO_SOCKET")
            .map_or(0, |d| d.count)
    };
    let before = no_socket(&snap);
    let refused = pair
        .command(Side::A, "python3")
        .args(["-c", "import socket,sys\ntry:\n socket.create_connection((sys.argv[1], 9))\nexcept ConnectionRefusedError:\n print('refused')"])
        .arg(ADDR_B)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&refused.stdout).trim(), "refused");
    let snap2 = tracer.perf_snapshot().unwrap();
    assert!(no_socket(&snap2) > before, "{:#?}", snap2.drops);
    assert!(
        snap2.resets.iter().any(|r| r.reason == "NO_SOCKET"),
        "{:#?}",
        snap2.resets
    );

    // An abortive close: one reset sent by the client, one received by the server.
    writeln!(client.stdin.as_mut().unwrap()).unwrap();
    assert_eq!(
        crx.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("closed")
    );
    assert_eq!(
        srx.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("reset")
    );
    let snap = tracer.perf_snapshot().unwrap();
    let proc_of = |pid: u32| {
        snap.processes
            .iter()
            .find(|p| p.pid == pid)
            .cloned()
            .unwrap()
    };
    assert_eq!(proc_of(cpid).resets_sent, 1, "{snap:#?}");
    assert_eq!(proc_of(spid).resets_received, 1, "{snap:#?}");
    assert!(
        snap.resets.iter().map(|r| r.count).sum::<u64>() >= 1,
        "{:#?}",
        snap.resets
    );
    assert_eq!((snap.owners_overflow, snap.rtt_overflow), (0, 0));
    let _ = client.wait();
    let _ = server.wait();
}
