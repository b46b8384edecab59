//! What one request may cost, against a running server over real sockets: records per ingest
//! request (`http.max_records`), `_bulk` error reports (`http.max_bulk_errors`), the ingest
//! rate per key (`http.ingest_rate`), a gzip bomb against `http.max_body`, the query timeout
//! (`query.timeout`), a query whose client hangs up (it stops and frees its
//! `query.max_concurrent` slot) and the terms cardinality cap (`query.max_distinct_terms`).

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::{post_raw, start, urlencode, Opts};
use loglynx_api::{Auth, KeyFile, Scope};
use loglynx_config::{ByteSize, HttpConfig, QueryConfig, StoreConfig};
use tokio::io::AsyncWriteExt as _;

fn lines(n: usize, word: &str) -> String {
    (0..n).map(|i| format!("{{\"message\":\"{word} {i}\"}}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_max_records_is_413_and_nothing_of_it_is_stored() {
    let s = start(Opts {
        http: HttpConfig { max_records: 3, ..HttpConfig::default() },
        ..Opts::default()
    })
    .await;
    for path in ["/api/v1/ingest", "/_bulk"] {
        let body = match path {
            "/_bulk" => (0..4).map(|i| format!("{{\"index\":{{}}}}\n{{\"message\":\"toomany {i}\"}}\n")).collect(),
            _ => lines(4, "toomany"),
        };
        let (status, v) = s.post(path, "application/x-ndjson", body).await;
        assert_eq!(status, 413, "{path}: {v}");
        assert_eq!(v["error"]["type"], "too_many_records");
        let reason = v["error"]["reason"].as_str().unwrap();
        assert!(reason.contains("http.max_records (3)") && reason.contains("4 records"), "{reason}");
    }
    assert_eq!(s.search("toomany").await.0, 0);
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", lines(3, "fits")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(s.search("fits").await.0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_reports_at_most_max_bulk_errors_in_full_and_keeps_every_item() {
    let s = start(Opts {
        http: HttpConfig { max_bulk_errors: 2, ..HttpConfig::default() },
        ..Opts::default()
    })
    .await;
    let mut body = String::from("{\"index\":{}}\n{\"message\":\"good one\"}\n");
    for _ in 0..5 {
        body.push_str("{\"index\":{}}\nnot json at all\n");
    }
    let (status, v) = s.post("/_bulk", "application/x-ndjson", body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["errors"], true);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "one item per document, in order: {v}");
    assert_eq!(items[0]["index"]["status"], 201);
    let reasons: Vec<&str> = items[1..]
        .iter()
        .map(|it| {
            assert_eq!(it["index"]["status"], 400, "{it}");
            it["index"]["error"]["reason"].as_str().unwrap()
        })
        .collect();
    for r in &reasons[..2] {
        assert!(!r.contains("max_bulk_errors"), "the first two are reported in full: {r}");
    }
    for r in &reasons[2..] {
        assert!(r.contains("http.max_bulk_errors (2)"), "{r}");
    }
    assert_eq!(s.search("good").await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_ingest_rate_gets_429_with_retry_after_and_other_keys_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyFile::in_data_dir(dir.path());
    let (fast, _) = keys.add("fast", Scope::Ingest).unwrap();
    let (other, _) = keys.add("other", Scope::Admin).unwrap();
    let s = start(Opts {
        http: HttpConfig { ingest_rate: 10, ..HttpConfig::default() },
        auth: Some(Auth::new(None, Some(dir.path()), false)),
        ..Opts::default()
    })
    .await;
    let send = |key: String, body: String| {
        let client = s.client.clone();
        let url = s.url("/api/v1/ingest");
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // A second's worth (and more: a request may overdraw once), then refused.
    assert_eq!(send(fast.clone(), lines(15, "rated")).await.status(), 200);
    let r = send(fast.clone(), lines(1, "rated")).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limited");
    assert!(v["error"]["reason"].as_str().unwrap().contains("http.ingest_rate"), "{v}");
    // Another key has its own bucket.
    assert_eq!(send(other.clone(), lines(5, "otherkey")).await.status(), 200);
    // After Retry-After the key is let in again; nothing refused was stored.
    tokio::time::sleep(Duration::from_secs(retry + 1)).await;
    assert_eq!(send(fast, lines(1, "again")).await.status(), 200);
    let count = |q: &'static str| {
        let client = s.client.clone();
        let url = s.url(&format!("/api/v1/search?q={q}"));
        let key = other.clone();
        async move {
            let v: serde_json::Value =
                client.get(url).bearer_auth(key).send().await.unwrap().json().await.unwrap();
            v["total"].as_u64().unwrap()
        }
    };
    assert_eq!(count("rated").await, 15);
    assert_eq!(count("again").await, 1);
}

/// Peak resident memory of this process (the server runs in it), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_of_10_gib_gets_413_with_memory_flat() {
    let s = start(Opts { max_body: 16 << 20, ..Opts::default() }).await;
    // One gzip member of 64 MiB of zeros (~64 KiB compressed), repeated: 160 members inflate
    // to 10 GiB from a ~10 MiB body (deflate cannot shrink more than ~1000:1, so a 64 KiB gzip
    // inflates to 64 MiB at most; the body is concatenated members, which gzip readers
    // including this server's inflate as one stream).
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let member = enc.finish().unwrap();
    assert!(member.len() < 100 << 10, "{}", member.len());
    let body: Vec<u8> = member.iter().copied().cycle().take(member.len() * 160).collect();
    drop(zeros);
    let before = peak_rss_kib();
    let r = post_raw(
        &s.client,
        s.url("/api/v1/ingest"),
        &[("content-type", "text/plain"), ("content-encoding", "gzip")],
        body,
    )
    .await;
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "payload_too_large");
    let grew_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    // Inflating stops at http.max_body (16 MiB) + 1 byte: the body, its copy and the inflated
    // 16 MiB, nowhere near 10 GiB.
    assert!(grew_mib < 256, "peak memory grew by {grew_mib} MiB");
    assert_eq!(s.search("").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_query_timeout_is_503_naming_the_setting() {
    let s = start(Opts {
        query: QueryConfig { timeout: Duration::from_nanos(1), ..QueryConfig::default() },
        ..Opts::default()
    })
    .await;
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", lines(3, "slow")).await;
    assert_eq!(status, 200, "{v}");
    for path in ["/api/v1/search?q=slow", "/api/v1/histogram?q=slow", "/api/v1/terms?field=host.name"] {
        let (status, v) = s.get(path).await;
        assert_eq!(status, 503, "{path}: {v}");
        assert_eq!(v["error"]["type"], "query_timeout");
        assert!(v["error"]["reason"].as_str().unwrap().contains("query.timeout"), "{v}");
    }
    // Ingest is not a query: still taken.
    let (status, _) = s.post("/api/v1/ingest", "application/x-ndjson", lines(1, "more")).await;
    assert_eq!(status, 200);
}

/// Issue 11: a client that hangs up during its query stops the query, which frees its
/// `query.max_concurrent` slot long before the query would have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_stops_its_query_and_frees_the_slot() {
    let s = start(Opts {
        query: QueryConfig { max_concurrent: 1, timeout: Duration::from_secs(600), ..QueryConfig::default() },
        // One window per ingest request: a query stops between windows.
        store: StoreConfig { window_max_size: ByteSize(1), ..StoreConfig::default() },
        ..Opts::default()
    })
    .await;
    // 60 wildcard clauses matching nothing: each walks every word of every window.
    let slow = (0..60).map(|i| format!("message:*qz{i}*")).collect::<Vec<_>>().join(" OR ");
    let slow_path = format!("/api/v1/search?q={}", urlencode(&slow));
    let cheap = "/api/v1/search?q=nosuchword";

    // Windows of distinct words (doubled) until the slow query takes 2 s when its client waits.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut word = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("{seed:016x}")
    };
    let mut windows = 0;
    let full = loop {
        for _ in 0..windows.max(4) {
            let body: String = (0..2000)
                .map(|_| format!("{{\"message\":\"{} {} {} {}\"}}\n", word(), word(), word(), word()))
                .collect();
            let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
            assert_eq!(status, 200, "{v}");
            windows += 1;
        }
        let t0 = Instant::now();
        let (status, v) = s.get(&slow_path).await;
        assert_eq!((status, &v["total"]), (200, &serde_json::json!(0)), "{v}");
        let took = t0.elapsed();
        if took >= Duration::from_secs(2) {
            break took;
        }
        assert!(windows < 400, "{windows} windows and the slow query still takes {took:?}");
    };

    // The slow query from a client that hangs up once the query holds the only slot (a cheap
    // query is then refused with 429).
    let send_slow = || async {
        let addr = s.base.trim_start_matches("http://");
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(format!("GET {slow_path} HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
        c
    };
    let mut client = send_slow().await;
    let deadline = Instant::now() + full + Duration::from_secs(30);
    let hung_up = loop {
        assert!(Instant::now() < deadline, "the slow query never held the slot");
        let (status, v) = s.get(cheap).await;
        if status == 429 {
            assert_eq!(v["error"]["type"], "too_many_queries", "{v}");
            drop(client);
            break Instant::now();
        }
        assert_eq!(status, 200, "{v}");
        // The cheap query ran alone: the slow one has not started, or came while the cheap one
        // held the slot and was refused (then it is sent again).
        let mut head = [0u8; 64];
        match client.try_read(&mut head) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok(n) if n > 0 => {
                let head = String::from_utf8_lossy(&head[..n]);
                assert!(head.starts_with("HTTP/1.1 429"), "the slow query was answered: {head}");
                client = send_slow().await;
            }
            other => panic!("the slow query's connection: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let freed = loop {
        let (status, v) = s.get(cheap).await;
        if status == 200 {
            break hung_up.elapsed();
        }
        assert_eq!(status, 429, "{v}");
        assert!(hung_up.elapsed() < full * 2, "the slot is still taken {:?} after the hang-up", hung_up.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        freed < full / 2,
        "the slot was freed {freed:?} after the hang-up; the whole query takes {full:?} over {windows} windows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terms_over_max_distinct_terms_are_approximate_and_say_so() {
    let s = start(Opts {
        query: QueryConfig { max_distinct_terms: 3, ..QueryConfig::default() },
        ..Opts::default()
    })
    .await;
    // Service "big" 20 times, "mid" 10, then 30 services seen once each.
    let mut body = String::new();
    for i in 0..20 {
        body.push_str(&format!("{{\"message\":\"m {i}\",\"service.name\":\"big\"}}\n"));
    }
    for i in 0..10 {
        body.push_str(&format!("{{\"message\":\"m {i}\",\"service.name\":\"mid\"}}\n"));
    }
    for i in 0..30 {
        body.push_str(&format!("{{\"message\":\"m {i}\",\"service.name\":\"once{i}\"}}\n"));
    }
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = s.get("/api/v1/terms?field=service.name&size=2").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["approximate"], true, "{v}");
    assert_eq!(v["buckets"][0]["value"], "big");
    assert_eq!(v["buckets"][0]["count"], 20);
    assert_eq!(v["buckets"][1]["value"], "mid");
    assert_eq!(v["other"], 30);
    // By how much: the services seen once, dropped with a count of 1.
    assert_eq!(v["error_upper_bound"], 1, "{v}");
    // The Elasticsearch API says it the Elasticsearch way.
    let q = r#"{"size":0,"aggs":{"s":{"terms":{"field":"service.name","size":2}}}}"#;
    let (status, v) = s.post("/_search", "application/json", q.to_string()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["aggregations"]["s"]["doc_count_error_upper_bound"], 1, "{v}");
    assert_eq!(v["aggregations"]["s"]["buckets"][0]["key"], "big", "{v}");
    // Under the cap the answer is exact and says so.
    let (_, v) = s.get("/api/v1/terms?field=service.name&q=service.name:(big%20OR%20mid)").await;
    assert_eq!(v["approximate"], false, "{v}");
    assert_eq!(v["error_upper_bound"], 0, "{v}");
    let q = r#"{"size":0,"query":{"terms":{"service.name":["big","mid"]}},"aggs":{"s":{"terms":{"field":"service.name"}}}}"#;
    let (_, v) = s.post("/_search", "application/json", q.to_string()).await;
    assert_eq!(v["aggregations"]["s"]["doc_count_error_upper_bound"], 0, "{v}");
}
