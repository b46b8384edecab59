//! The server's limits under abusive clients, over real sockets: the header-read timeout
//! (slowloris), the connection cap, the cap on requests in progress and the request timeout
//! (`[http]` header_read_timeout, max_connections, max_requests, request_timeout).

use std::net::SocketAddr;
use std::time::Duration;

use loglynx_api::{ingest_router, serve_router_with, IngestState, ServeLimits};
use loglynx_config::HttpConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Serves the ingest router within `limits` on 127.0.0.1:0. The ingest queue's receiver is
/// kept (and never read) so ingest requests stay in progress while their body arrives.
async fn serve(limits: ServeLimits) -> (SocketAddr, mpsc::Receiver<loglynx_core::RawBatch>) {
    let (tx, rx) = mpsc::channel(16);
    let state = IngestState::new(tx, "test".into(), &HttpConfig::default());
    (serve_app(ingest_router(state, None), limits).await, rx)
}

/// Serves `app` within `limits` on 127.0.0.1:0 until the test ends.
async fn serve_app(app: axum::Router, limits: ServeLimits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_router_with(listener, app, None, limits, std::future::pending()));
    addr
}

fn limits() -> ServeLimits {
    ServeLimits::default()
}

/// Reads one HTTP/1.1 response (header and a `content-length` body): status and body.
async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                return (status, body);
            }
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection before a whole response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends a GET of the health endpoint on `s` (kept alive) and reads the reply.
async fn health(s: &mut TcpStream) -> (u16, String) {
    s.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    read_response(s).await
}

#[tokio::test]
async fn slowloris_clients_are_cut_off_and_others_are_served_meanwhile() {
    let (addr, _rx) = serve(ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 8,
        ..limits()
    })
    .await;
    // Four clients sending a long header one byte at a time: never a whole request.
    let header = format!(
        "GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\nx-pad: {}\r\n\r\n",
        "a".repeat(4000)
    );
    let mut slow = Vec::new();
    for _ in 0..4 {
        let header = header.clone();
        slow.push(tokio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = s.into_split();
            let writer = tokio::spawn(async move {
                for b in header.as_bytes() {
                    if w.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            // Cut off: the server ends the connection long before the header is complete
            // (400 s at this pace); 30 s is only the test's patience.
            let mut b = [0u8; 1024];
            let cut = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    match r.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => continue,
                    }
                }
            })
            .await
            .is_ok();
            let finished = writer.is_finished();
            writer.abort();
            (cut, finished)
        }));
    }
    // Meanwhile other clients are answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (status, body) = health(&mut c).await;
        assert_eq!(status, 200, "{body}");
    }
    for t in slow {
        let (cut, finished) = t.await.unwrap();
        assert!(cut, "a slowloris connection stayed open for 30 s");
        assert!(!finished, "the slowloris client sent its whole header");
    }
    // And after them too.
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(health(&mut c).await.0, 200);
}

#[tokio::test]
async fn over_the_connection_cap_new_clients_wait_while_open_ones_work() {
    let (addr, _rx) = serve(ServeLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    let mut c1 = TcpStream::connect(addr).await.unwrap();
    let mut c2 = TcpStream::connect(addr).await.unwrap();
    assert_eq!(health(&mut c1).await.0, 200);
    assert_eq!(health(&mut c2).await.0, 200);
    // A third client: connected by the kernel's backlog, but not served while two are open.
    let mut c3 = TcpStream::connect(addr).await.unwrap();
    c3.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), c3.read(&mut b)).await.is_err(),
        "a connection over http.max_connections was served"
    );
    // The open ones keep working.
    assert_eq!(health(&mut c1).await.0, 200);
    assert_eq!(health(&mut c2).await.0, 200);
    // One closes: the waiting client is served.
    drop(c1);
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), read_response(&mut c3))
        .await
        .expect("the waiting client was not served after a connection closed");
    assert_eq!(status, 200, "{body}");
    assert_eq!(health(&mut c2).await.0, 200);
}

/// Starts an ingest request whose body never completes, on its own connection.
async fn stalled_ingest(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /api/v1/ingest HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-ndjson\r\ncontent-length: 1000\r\n\r\n{\"message\":",
    )
    .await
    .unwrap();
    s
}

#[tokio::test]
async fn over_the_request_cap_requests_get_503_naming_the_setting() {
    let (addr, _rx) = serve(ServeLimits {
        max_requests: 1,
        ..limits()
    })
    .await;
    let stalled = stalled_ingest(addr).await;
    // Once the stalled request is in progress, another is refused.
    let mut refused = None;
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (status, body) = health(&mut c).await;
        if status == 503 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = refused.expect("a request over http.max_requests = 1 was served");
    assert!(body.contains("http.max_requests = 1"), "{body}");
    // The stalled client goes away: requests are served again.
    drop(stalled);
    let mut served = false;
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        if health(&mut c).await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "requests stayed refused after the stalled one ended");
}

#[tokio::test]
async fn a_request_past_the_timeout_gets_408_naming_the_setting() {
    let (addr, _rx) = serve(ServeLimits {
        request_timeout: Duration::from_secs(1),
        ..limits()
    })
    .await;
    let mut s = stalled_ingest(addr).await;
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), read_response(&mut s))
        .await
        .expect("no reply to a request stalled past http.request_timeout");
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("http.request_timeout"), "{body}");
    // The stalled client does not hold up the server.
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(health(&mut c).await.0, 200);
}

/// Reads `s` until the server closes it (end of stream or reset), at most `within`: true when
/// it did.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = vec![0u8; 1 << 16];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn clients_that_send_nothing_are_closed_and_free_their_slots() {
    let (addr, _rx) = serve(ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 2,
        ..limits()
    })
    .await;
    // Two connections that never send a byte take both slots...
    let mut silent = [TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap()];
    // ... until http.header_read_timeout closes them: a third client is then served.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), health(&mut c))
        .await
        .expect("two silent connections locked the server out");
    assert_eq!(status, 200);
    for s in &mut silent {
        assert!(closed_within(s, Duration::from_secs(5)).await, "a silent connection is still open");
    }
}

/// HTTP/2 is not served (see serve.rs): its preface gets the connection closed at once,
/// rather than a connection a client could hold without requests.
#[tokio::test]
async fn an_http2_preface_is_refused() {
    // The default header timeout (10 s): closed well before it.
    let (addr, _rx) = serve(limits()).await;
    // The HTTP/2 connection preface and an empty SETTINGS frame.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(3)).await,
        "an HTTP/2 connection preface got a connection that stayed open"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_its_response_is_cut_off_after_the_request_timeout() {
    // An endless response body (as a big export is to a client that stopped reading).
    let endless = axum::Router::new().route(
        "/big",
        axum::routing::get(|| async {
            let chunk = bytes::Bytes::from(vec![b'x'; 64 << 10]);
            axum::body::Body::from_stream(futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone())))
        }),
    );
    let limits = ServeLimits {
        request_timeout: Duration::from_secs(2),
        max_connections: 1,
        ..limits()
    };
    let addr = serve_app(endless, limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).await.unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    // Not reading: the server's writes block, and after http.request_timeout it closes.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        closed_within(&mut s, Duration::from_secs(10)).await,
        "a response nobody reads held its connection"
    );
    // The slot is free again (max_connections is 1).
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /big HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut head))
        .await
        .expect("the next client was not served")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
}

#[tokio::test]
async fn a_whole_reply_read_slowly_is_not_cut_before_the_request_timeout() {
    // One 32 MiB reply in a single piece: hyper takes the body at once and then writes it out
    // as the client reads.
    const SIZE: usize = 32 << 20;
    let big = axum::Router::new().route("/big", axum::routing::get(|| async { vec![b'y'; SIZE] }));
    let limits = ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(60),
        ..limits()
    };
    let addr = serve_app(big, limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).await.unwrap();
    // A pause longer than the header timeout, well under the request timeout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut rest)).await.unwrap().unwrap();
    let all = [&first[..], &rest].concat();
    let body = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - body, SIZE, "the reply was cut");
}
