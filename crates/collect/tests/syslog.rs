//! Syslog servers against real sockets on port 0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loglynx_collect::syslog::{SyslogStats, MAX_BATCH_BYTES};
use loglynx_collect::SyslogServer;
use loglynx_config::{ByteSize, SyslogConfig};
use loglynx_core::{FormatHint, RawBatch, RawRecord, SourceKind};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

struct Running {
    rx: mpsc::Receiver<RawBatch>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), loglynx_collect::CollectError>>,
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
    stats: Arc<SyslogStats>,
}

async fn start(udp: bool, tcp: bool, tweak: impl FnOnce(&mut SyslogConfig)) -> Running {
    start_queue(16, udp, tcp, tweak).await
}

/// As [`start`], with a pipeline channel of `queue` batches.
async fn start_queue(
    queue: usize,
    udp: bool,
    tcp: bool,
    tweak: impl FnOnce(&mut SyslogConfig),
) -> Running {
    let mut cfg = SyslogConfig::default();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    cfg.udp = udp.then_some(any);
    cfg.tcp = tcp.then_some(any);
    cfg.linger = Duration::from_millis(20);
    tweak(&mut cfg);
    let (tx, rx) = mpsc::channel(queue);
    let server = SyslogServer::bind(&cfg, "testhost".into(), tx)
        .await
        .unwrap();
    let (udp, tcp) = (server.udp_addr(), server.tcp_addr());
    let stats = server.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(server.run(stop.clone()));
    Running {
        rx,
        stop,
        task,
        udp,
        tcp,
        stats,
    }
}

impl Running {
    async fn records(&mut self, n: usize) -> Vec<RawRecord> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while got.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(b)) => {
                    assert!(b.checkpoint.is_empty(), "syslog batches carry no position");
                    assert!(b.ack.is_none(), "syslog has no ack");
                    got.extend(b.records);
                }
                Ok(None) => panic!("server stopped after {} of {n} records", got.len()),
                Err(_) => panic!(
                    "timed out after {} of {n} records: {:?}",
                    got.len(),
                    bodies(&got)
                ),
            }
        }
        assert_eq!(
            got.len(),
            n,
            "more records than expected: {:?}",
            bodies(&got)
        );
        got
    }

    async fn stop(self) {
        self.stop.cancel();
        let r = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops on cancel");
        r.unwrap().unwrap();
    }
}

fn bodies(rs: &[RawRecord]) -> Vec<String> {
    rs.iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn udp_datagrams_become_records() {
    let mut s = start(true, false, |_| {}).await;
    assert!(s.tcp.is_none());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    for m in [
        &b"<13>one\n"[..],
        b"<13>two\0",
        b"<13>three",
        b"\n",
        b"<13>multi\nline",
    ] {
        client.send_to(m, s.udp.unwrap()).await.unwrap();
    }
    let got = s.records(4).await;
    assert_eq!(
        bodies(&got),
        ["<13>one", "<13>two", "<13>three", "<13>multi\nline"]
    );
    for r in &got {
        assert_eq!(r.hint, FormatHint::Syslog);
        assert_eq!(r.host, None);
        assert!(!r.truncated);
        assert_eq!(
            *r.source,
            SourceKind::Syslog {
                transport: "udp".into(),
                peer: me.to_string()
            }
        );
    }
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4, "ids are unique");
    s.stop().await;
}

#[tokio::test]
async fn udp_oversized_datagram_is_truncated() {
    let mut s = start(true, false, |c| c.max_frame = ByteSize(1024)).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&vec![b'a'; 5000], s.udp.unwrap())
        .await
        .unwrap();
    client.send_to(b"<13>small", s.udp.unwrap()).await.unwrap();
    let got = s.records(2).await;
    assert_eq!(got[0].body.len(), 1024);
    assert!(got[0].truncated);
    assert_eq!(got[1].body, b"<13>small");
    assert!(!got[1].truncated);
    s.stop().await;
}

#[tokio::test]
async fn tcp_newline_framing() {
    let mut s = start(false, true, |_| {}).await;
    assert!(s.udp.is_none());
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(b"<13>a\n<13>b\0<13>c\r\n\n").await.unwrap();
    let got = s.records(3).await;
    assert_eq!(bodies(&got), ["<13>a", "<13>b", "<13>c\r"]);
    assert_eq!(
        *got[0].source,
        SourceKind::Syslog {
            transport: "tcp".into(),
            peer: me.to_string()
        }
    );
    assert_eq!(got[0].hint, FormatHint::Syslog);
    assert_eq!(got[0].host, None);
    s.stop().await;
}

#[tokio::test]
async fn tcp_octet_counting() {
    let mut s = start(false, true, |_| {}).await;
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    c.write_all(b"7 <13>one9 <13>t\nwo\n9 <13>three")
        .await
        .unwrap();
    let got = s.records(3).await;
    // A newline inside a counted message is part of it.
    assert_eq!(bodies(&got), ["<13>one", "<13>t\nwo", "<13>three"]);
    s.stop().await;
}

#[tokio::test]
async fn tcp_mixed_framing_across_connections() {
    let mut s = start(false, true, |_| {}).await;
    let mut a = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    let mut b = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    a.write_all(b"8 <13>oct18 <13>oct2").await.unwrap();
    b.write_all(b"<13>nl1\n<13>nl2\n").await.unwrap();
    a.write_all(b"8 <13>oct3").await.unwrap();
    let got = s.records(5).await;
    assert_eq!(
        sorted(bodies(&got)),
        ["<13>nl1", "<13>nl2", "<13>oct1", "<13>oct2", "<13>oct3"]
    );
    s.stop().await;
}

#[tokio::test]
async fn tcp_frames_split_across_writes() {
    let mut s = start(false, true, |_| {}).await;
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    let mut d = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    for part in [&b"1"[..], b"2 <13>split", b" it\n", b"<13>whole"] {
        c.write_all(part).await.unwrap();
        c.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for part in [&b"<13>line "[..], b"in parts", b"\n"] {
        d.write_all(part).await.unwrap();
        d.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let got = s.records(2).await;
    assert_eq!(sorted(bodies(&got)), ["<13>line in parts", "<13>split it"]);
    // The octet-counted connection: "<13>whole" is a truncated frame only once it closes.
    drop(c);
    let got = s.records(1).await;
    assert_eq!(bodies(&got), ["<13>whole"]);
    assert!(
        !got[0].truncated,
        "an unterminated line ends at close: {got:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn tcp_close_mid_frame_emits_it_truncated() {
    let mut s = start(false, true, |_| {}).await;
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    c.write_all(b"8 <13>full50 <13>cut short").await.unwrap();
    c.shutdown().await.unwrap();
    drop(c);
    let got = s.records(2).await;
    assert_eq!(bodies(&got), ["<13>full", "<13>cut short"]);
    assert!(!got[0].truncated);
    assert!(got[1].truncated);
    // Newline framing: closing ends the last line; it is complete, not flagged.
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    c.write_all(b"<13>done\n<13>no newline").await.unwrap();
    drop(c);
    let got = s.records(2).await;
    assert_eq!(bodies(&got), ["<13>done", "<13>no newline"]);
    assert!(!got[1].truncated);
    s.stop().await;
}

#[tokio::test]
async fn tcp_garbage_and_oversized_frames_keep_the_good_ones() {
    let mut s = start(false, true, |c| c.max_frame = ByteSize(1024)).await;
    // Octet counting, then a bad count: the rest is read as lines, nothing good is lost.
    let mut a = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    a.write_all(b"8 <13>good12x4 garbage \xff\xfe\n<13>after\n")
        .await
        .unwrap();
    drop(a);
    let got = s.records(3).await;
    assert_eq!(got[0].body, b"<13>good");
    assert_eq!(got[1].body, b"12x4 garbage \xff\xfe");
    assert_eq!(got[2].body, b"<13>after");

    // Oversized newline frame between good ones.
    let mut b = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    let mut data = b"<13>before\n".to_vec();
    data.extend(vec![b'y'; 5000]);
    data.extend_from_slice(b"\n<13>after big\n");
    b.write_all(&data).await.unwrap();
    let got = s.records(3).await;
    assert_eq!(got[0].body, b"<13>before");
    assert_eq!(got[1].body, vec![b'y'; 1024]);
    assert!(got[1].truncated);
    assert_eq!(got[2].body, b"<13>after big");
    assert!(!got[2].truncated);

    // Oversized octet-counted frame: cut, the rest of its count skipped, next frame intact.
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    let mut data = b"5000 ".to_vec();
    data.extend(vec![b'z'; 5000]);
    data.extend_from_slice(b"9 <13>next!");
    c.write_all(&data).await.unwrap();
    let got = s.records(2).await;
    assert_eq!(got[0].body, vec![b'z'; 1024]);
    assert!(got[0].truncated);
    assert_eq!(got[1].body, b"<13>next!");
    assert!(!got[1].truncated);
    s.stop().await;
}

#[tokio::test]
async fn tcp_connections_over_the_limit_wait_their_turn() {
    let mut s = start(false, true, |c| c.max_connections = 1).await;
    let mut a = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    a.write_all(b"<13>from a\n").await.unwrap();
    assert_eq!(bodies(&s.records(1).await), ["<13>from a"]);
    let mut b = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    b.write_all(b"<13>from b\n").await.unwrap();
    // b is not served while a holds the only slot.
    let early = tokio::time::timeout(Duration::from_millis(300), s.rx.recv()).await;
    assert!(
        early.is_err(),
        "second connection served beyond the limit: {early:?}"
    );
    drop(a);
    assert_eq!(bodies(&s.records(1).await), ["<13>from b"]);
    s.stop().await;
}

#[tokio::test]
async fn tcp_idle_connections_are_closed_and_free_their_slot() {
    let mut s = start(false, true, |c| {
        c.max_connections = 1;
        c.idle_timeout = Duration::from_millis(500);
    })
    .await;
    // A client that sends half a line and goes silent holds the only slot...
    let mut a = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    a.write_all(b"<13>half a li").await.unwrap();
    // ...until the idle timeout closes it: its unfinished line is kept.
    assert_eq!(bodies(&s.records(1).await), ["<13>half a li"]);
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut a, &mut byte))
        .await
        .expect("the idle connection was not closed");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // The slot is free for the next client.
    let mut b = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    b.write_all(b"<13>from b\n").await.unwrap();
    assert_eq!(bodies(&s.records(1).await), ["<13>from b"]);
    s.stop().await;
}

#[tokio::test]
async fn regression_issue_11_a_dripping_client_is_cut_off_after_read_timeout() {
    let mut s = start(false, true, |c| {
        c.max_connections = 1;
        c.read_timeout = Duration::from_secs(1);
    })
    .await;
    // One whole message, then the next one a byte every 200 ms: each byte would put the idle
    // timeout (10 min) off, and 100 bytes take 20 s.
    let mut a = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    a.write_all(b"<13>complete\n").await.unwrap();
    let drip = b"<13>dripping one byte at a time ".repeat(4);
    let expected = drip.clone();
    let dripper = tokio::spawn(async move {
        for (i, b) in drip.iter().take(100).enumerate() {
            if a.write_all(&[*b]).await.is_err() {
                return i;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        100
    });
    // The message completed before the drip is delivered...
    assert_eq!(bodies(&s.records(1).await), ["<13>complete"]);
    // ...and about read_timeout into the drip the connection is closed: what it dripped is
    // kept, flagged as cut.
    let got = s.records(1).await;
    assert!(
        got[0].body.starts_with(b"<13>") && expected.starts_with(&got[0].body),
        "{:?}",
        bodies(&got)
    );
    // 1 s of dripping is about 5 bytes: the cut comes at read_timeout, not at some later bound.
    assert!(got[0].body.len() < 20, "{:?}", bodies(&got));
    assert!(got[0].truncated);
    let sent = tokio::time::timeout(WAIT, dripper).await.unwrap().unwrap();
    assert!(sent < 100, "the dripping client was never cut off");
    assert_eq!(s.stats.tcp_read_timeouts.load(Ordering::Relaxed), 1);
    assert_eq!(s.stats.tcp_idle_closes.load(Ordering::Relaxed), 0);
    // The slot is free for the next client, whose messages take less than read_timeout.
    let mut b = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    b.write_all(b"<13>from b\n").await.unwrap();
    assert_eq!(bodies(&s.records(1).await), ["<13>from b"]);
    s.stop().await;
}

#[tokio::test]
async fn regression_issue_11_empty_lines_do_not_keep_a_connection_open() {
    let mut s = start(false, true, |c| {
        c.max_connections = 1;
        c.idle_timeout = Duration::from_millis(500);
    })
    .await;
    // A message, then an empty line every 100 ms for 10 s: bytes, but no message.
    let mut a = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    a.write_all(b"<13>hello\n").await.unwrap();
    let dripper = tokio::spawn(async move {
        for i in 0..100 {
            if a.write_all(b"\n").await.is_err() {
                return i;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        100
    });
    assert_eq!(bodies(&s.records(1).await), ["<13>hello"]);
    let sent = tokio::time::timeout(WAIT, dripper).await.unwrap().unwrap();
    assert!(sent < 100, "empty lines kept the connection open");
    assert_eq!(s.stats.tcp_idle_closes.load(Ordering::Relaxed), 1);
    assert_eq!(s.stats.tcp_read_timeouts.load(Ordering::Relaxed), 0);
    s.stop().await;
}

/// The largest value of a `tcp_rmem` / `tcp_wmem` sysctl: the most the kernel buffers on one
/// side of a connection.
fn kernel_buffer_max(sysctl: &str) -> usize {
    let v = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{sysctl}")).unwrap();
    v.split_whitespace().last().unwrap().parse().unwrap()
}

#[tokio::test]
async fn regression_issue_11_a_connection_holds_one_batch_of_bytes_while_the_pipeline_is_full() {
    // A pipeline queue of one batch that nobody reads, and a linger long enough that only
    // the batch bounds send batches on.
    let mut s = start_queue(1, false, true, |c| c.linger = Duration::from_secs(30)).await;
    const FRAME: usize = 200 << 10;
    const FRAMES: usize = 320; // 64 MiB
    let mut frame = b"<13>".to_vec();
    frame.resize(FRAME - 1, b'x');
    frame.push(b'\n');
    let written = Arc::new(AtomicUsize::new(0));
    let mut c = TcpStream::connect(s.tcp.unwrap()).await.unwrap();
    let counted = Arc::clone(&written);
    let writer = tokio::spawn(async move {
        for _ in 0..FRAMES {
            c.write_all(&frame).await.unwrap();
            counted.fetch_add(FRAME, Ordering::Relaxed);
        }
    });
    // Wait until the sender makes no progress for a second.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !writer.is_finished(),
            "all {FRAMES} frames were taken while the pipeline was full"
        );
        let now = written.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sender never stopped: {now} bytes"
        );
    }
    // Held back by back-pressure: what it could write is the queued batch, the connection's
    // batch, a frame and a read in the server, and the kernel's socket buffers.
    let bound = 2 * MAX_BATCH_BYTES
        + (256 << 10)
        + (64 << 10)
        + kernel_buffer_max("tcp_rmem")
        + kernel_buffer_max("tcp_wmem");
    assert!(
        last <= bound,
        "{last} bytes written past a bound of {bound}"
    );
    // Reading the pipeline again lets everything through, in batches of at most the bound.
    let mut got = 0;
    while got < FRAMES {
        let b = tokio::time::timeout(WAIT, s.rx.recv())
            .await
            .expect("frames stopped coming")
            .unwrap();
        let bytes: usize = b.records.iter().map(|r| r.body.len()).sum();
        assert!(bytes <= MAX_BATCH_BYTES, "a batch of {bytes} bytes");
        for r in &b.records {
            assert_eq!(r.body.len(), FRAME - 1);
            assert!(!r.truncated);
        }
        got += b.records.len();
    }
    assert_eq!(got, FRAMES);
    tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    s.stop().await;
}

#[tokio::test]
async fn bind_reports_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = SyslogConfig {
        udp: None,
        tcp: Some(taken.local_addr().unwrap()),
        ..Default::default()
    };
    let (tx, _rx) = mpsc::channel(1);
    let e = SyslogServer::bind(&cfg, "h".into(), tx).await.unwrap_err();
    assert!(e.to_string().contains("tcp"), "{e}");
}
