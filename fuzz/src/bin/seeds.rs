//! Writes the seed corpus of every target under `fuzz/corpus/<target>/` (small, kept in the
//! repository): real inputs of each format, made by the project's own code where it has an
//! encoder (Kafka values, spool segments) and captured from the kernel (sock_diag replies).
//! Run by scripts/fuzz.sh when a target has no corpus: `cargo afl run --bin seeds -- DIR`.
use std::path::Path;
use std::sync::Arc;

use loglynx_bus::kafka::{encode_record, Spool, SpoolBatch};
use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};

/// The input bytes `loglynx_fuzz::record` reads back as a file record with `body`.
fn record_input(path: &str, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8, path.len() as u8];
    v.extend_from_slice(path.as_bytes());
    v.push(0); // not truncated
    v.push(1); // a host
    v.push(4);
    v.extend_from_slice(b"web1");
    v.extend_from_slice(&1_714_557_600_000_000_000i64.to_le_bytes());
    v.push(6);
    v.extend_from_slice(b"id-001");
    v.extend_from_slice(body);
    v
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
}

const LINES: &[&str] = &[
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event",
    "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
    "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"message\":\"disk full\",\"log.level\":\"error\",\"labels\":{\"env\":\"prod\"},\"pid\":7}",
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"-\" \"curl/8\"",
    "kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=4444 DPT=22",
    "2024-05-01 10:00:00,123 ERROR [main] com.example.App - boom\n\tat com.example.App.main(App.java:1)",
    "sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
];

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: seeds DIR"));
    for (i, l) in LINES.iter().enumerate() {
        write(&dir, "parse_record", &format!("line{i}"), &record_input("/var/log/app.log", l.as_bytes()));
        let r = RawRecord {
            body: l.as_bytes().to_vec(),
            truncated: i % 2 == 1,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File { path: "/var/log/app.log".into() }),
            host: Some("web1".into()),
            received: Timestamp(1_714_557_600_000_000_000),
            id: format!("id-{i}"),
        };
        write(&dir, "kafka_codec", &format!("value{i}"), &encode_record(&r));
    }
    write(&dir, "kafka_codec", "record", &record_input("/var/log/x", b"body \xff bytes"));

    for (name, stream) in [
        ("octet", &b"52 <34>Oct 11 22:14:15 mymachine su: 'su root' failed\n27 <13>1 - - - - - - short one"[..]),
        ("newline", b"<34>Oct 11 22:14:15 a b: c\n<13>x\0\n\n<14>tail"),
        ("bad_count", b"0012 <1>x\n99999999999 y\n"),
    ] {
        let mut v = vec![64u8, 7];
        v.extend_from_slice(stream);
        write(&dir, "syslog_framing", name, &v);
    }

    for (i, q) in [
        "error AND host.name:web1",
        "\"disk full\" OR process.pid:[100 TO 200]",
        "service.name:ngin* -log.level:debug",
        "@timestamp:>=now-1h labels.env:prod",
        "host.name:(web1 OR web2) AND NOT (a OR b)",
        "process.pid:>=100 message:/fa.l/",
        "now-15m",
        "2024-05-01T10:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        write(&dir, "query_parser", &format!("q{i}"), q.as_bytes());
    }

    for (i, (start, end, interval, q)) in [
        (1_714_557_600_000_000_000i64, 1_714_565_000_000_000_000i64, 60_000u64, "error"),
        (i64::MIN, i64::MAX, u64::MAX, "*"),
        (0, 1, 1, "host.name:web1"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut v = vec![1u8];
        v.extend_from_slice(&start.to_le_bytes());
        v.push(1);
        v.extend_from_slice(&end.to_le_bytes());
        v.push(1);
        v.extend_from_slice(&interval.to_le_bytes());
        v.extend_from_slice(&[1, 60, 0, 0, 0, 0, 0, 0, 0]); // buckets
        v.extend_from_slice(&[1, 10, 0, 0, 0, 0, 0, 0, 0]); // size
        v.extend_from_slice(&[100, 0, 0, 0, 0, 0, 0, 0]); // limit
        v.push(1); // a cursor
        v.extend_from_slice(&start.to_le_bytes());
        v.push(4);
        v.extend_from_slice(b"a0-3");
        v.push(i as u8);
        v.extend_from_slice(q.as_bytes());
        write(&dir, "histogram_tail", &format!("p{i}"), &v);
    }

    let tmp = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(tmp.path(), 1 << 20).unwrap();
    let batch = |n: usize| SpoolBatch {
        records: (0..n)
            .map(|i| (format!("web1|/var/log/{i}"), format!("{{\"body\":\"line {i}\"}}").into_bytes()))
            .collect(),
        positions: vec![(format!("file:1:{n}:0"), 10 * n as u64)],
    };
    spool.append(&[batch(1), batch(3)]).unwrap();
    spool.append(&[batch(2)]).unwrap();
    drop(spool);
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "spool") {
            let seg = std::fs::read(&p).unwrap();
            let mut v = vec![0u8]; // no cursor file
            v.extend_from_slice(&(seg.len() as u64 / 2).to_le_bytes());
            v.extend_from_slice(&seg);
            write(&dir, "spool_recovery", "two_segments", &v);
            let mut v = vec![0u8];
            v.extend_from_slice(&u64::MAX.to_le_bytes());
            v.extend_from_slice(&seg);
            write(&dir, "spool_recovery", "one_segment", &v);
        }
    }

    for (name, body) in [
        ("index", "{\"index\":{\"_index\":\"logs\"}}\n{\"message\":\"a\",\"host.name\":\"h\"}\n{\"create\":{}}\n{\"message\":\"b\"}\n"),
        ("mixed", "{\"delete\":{\"_id\":\"1\"}}\n{\"update\":{\"_id\":\"2\"}}\n{\"doc\":{}}\nnot json\n{\"index\":{}}\n{\"message\":\"c\"}\n"),
    ] {
        let mut v = vec![0u8];
        v.extend_from_slice(body.as_bytes());
        write(&dir, "bulk", name, &v);
    }

    // A real sock_diag reply of this machine's TCP sockets (a listener made here, so there is one).
    let _listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let reply = capture_sock_diag();
    write(&dir, "netlink", "dump", &reply[..reply.len().min(4096)]);
    write(&dir, "netlink", "done", &done_message());
}

fn done_message() -> Vec<u8> {
    // nlmsghdr: len 20, NLMSG_DONE (3), flags multi (2), seq 1, pid 0, then an i32 0.
    let mut v = Vec::new();
    v.extend_from_slice(&20u32.to_ne_bytes());
    v.extend_from_slice(&3u16.to_ne_bytes());
    v.extend_from_slice(&2u16.to_ne_bytes());
    v.extend_from_slice(&1u32.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(&0i32.to_ne_bytes());
    v
}

/// One datagram of the kernel's answer to the dump request of IPv4 TCP sockets.
fn capture_sock_diag() -> Vec<u8> {
    // SAFETY: plain socket(2), sendto(2), recv(2) on a fresh fd with buffers valid for their lengths.
    unsafe {
        let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 4);
        assert!(fd >= 0, "netlink socket: {}", std::io::Error::last_os_error());
        let req = loglynx_netmon::fuzzing::netlink_request(libc::AF_INET as u8, 1);
        let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let rc = libc::sendto(
            fd,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        );
        assert!(rc >= 0, "sendto: {}", std::io::Error::last_os_error());
        let mut buf = vec![0u8; 64 * 1024];
        let n = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
        assert!(n > 0, "recv: {}", std::io::Error::last_os_error());
        libc::close(fd);
        buf.truncate(n as usize);
        buf
    }
}
