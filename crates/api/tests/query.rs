//! Query, tail, auth, compatibility and server endpoints over HTTP.

mod common;

use std::time::Duration;

use common::{eventually, start, Opts};
use futures::StreamExt;
use serde_json::Value;

/// Five events one minute apart: hosts a, a, b, a, c.
async fn seed(s: &common::Server) {
    let mut body = String::new();
    for (i, host) in ["a", "a", "b", "a", "c"].iter().enumerate() {
        body.push_str(&format!(
            "{{\"@timestamp\":\"2024-05-01T10:0{i}:30Z\",\"host.name\":\"{host}\",\"message\":\"event {i}\"}}\n"
        ));
    }
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_histogram_terms_and_fields() {
    let s = start(Opts::default()).await;
    seed(&s).await;

    let (_, v) = s
        .get("/api/v1/search?start=2024-05-01T10:01:00Z&end=2024-05-01T10:04:00Z&sort=asc")
        .await;
    assert_eq!(v["total"], 3, "{v}");
    let msgs: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, vec!["event 1", "event 2", "event 3"]);
    let (_, v) = s.get("/api/v1/search?limit=2&offset=1").await;
    assert_eq!(v["total"], 5);
    let msgs: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, vec!["event 3", "event 2"]);

    let (status, v) = s
        .get("/api/v1/histogram?start=2024-05-01T10:00:00Z&end=2024-05-01T10:05:00Z&interval=1m")
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["interval_ms"], 60_000);
    assert_eq!(v["total"], 5);
    let counts: Vec<u64> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![1, 1, 1, 1, 1]);
    assert_eq!(v["buckets"][0]["start"], "2024-05-01T10:00:00Z");
    let (_, v) = s.get("/api/v1/histogram?q=host.name:a&start=2024-05-01T10:00:00Z&end=2024-05-01T10:05:00Z&interval=120000").await;
    let counts: Vec<u64> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 3, "{v}");
    assert_eq!(v["interval_ms"], 120_000);

    let (status, v) = s.get("/api/v1/terms?field=host.name&size=2").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["field"], "host.name");
    assert_eq!(v["buckets"][0]["value"], "a");
    assert_eq!(v["buckets"][0]["count"], 3);
    assert_eq!(v["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(v["other"], 1);

    let (_, v) = s.get("/api/v1/fields").await;
    let fields = v.as_array().unwrap();
    let kind = |n: &str| {
        fields
            .iter()
            .find(|f| f["name"] == n)
            .map(|f| f["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind("host.name").as_deref(), Some("keyword"));
    assert_eq!(kind("message").as_deref(), Some("text"));
    assert_eq!(kind("@timestamp").as_deref(), Some("date"));
    assert_eq!(kind("process.pid").as_deref(), Some("numeric"));
}

/// Every answer says how long the server took (`Server-Timing: app;dur=<ms>`), to the
/// microsecond, and never more than the client waited for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_say_how_long_the_server_took() {
    let s = start(Opts::default()).await;
    seed(&s).await;
    for path in ["/api/v1/search?q=event", "/api/v1/histogram?q=event&buckets=10", "/api/v1/no-such-route"] {
        let t0 = std::time::Instant::now();
        let r = s.client.get(s.url(path)).send().await.unwrap();
        let waited_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let timing = r
            .headers()
            .get("server-timing")
            .unwrap_or_else(|| panic!("{path}: no Server-Timing header"))
            .to_str()
            .unwrap()
            .to_string();
        let dur: f64 = timing
            .strip_prefix("app;dur=")
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{path}: Server-Timing {timing:?} is not app;dur=<ms>"));
        assert!(timing.split('.').nth(1).is_some_and(|f| f.len() == 3), "{path}: {timing:?} has no microseconds");
        assert!(dur > 0.0 && dur <= waited_ms, "{path}: the server took {dur} ms of the {waited_ms} ms the client waited");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_polling_follows_with_the_cursor() {
    let s = start(Opts::default()).await;
    let (_, v) = s.get("/api/v1/tail").await;
    assert_eq!(v["events"].as_array().unwrap().len(), 0);
    assert!(v["cursor"].is_null());

    seed(&s).await;
    let (_, v) = s.get("/api/v1/tail?limit=2").await;
    let msgs: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs.len(), 2, "{v}");
    let cursor = v["cursor"].as_str().unwrap().to_string();

    // Nothing new: the same cursor comes back.
    let (_, v) = s.get(&format!("/api/v1/tail?cursor={cursor}")).await;
    assert_eq!(v["events"].as_array().unwrap().len(), 0);
    assert_eq!(v["cursor"], cursor.as_str());

    let (status, _) = s
        .post("/api/v1/ingest", "text/plain", "new one\nnew two\n")
        .await;
    assert_eq!(status, 200);
    let (_, v) = s.get(&format!("/api/v1/tail?cursor={cursor}")).await;
    let msgs: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, vec!["new one", "new two"]);
    assert_ne!(v["cursor"], cursor.as_str());
}

/// Reads the stream into `text` until it contains `needle` (20 s deadline).
async fn read_until<S>(stream: &mut S, text: &mut String, needle: &str)
where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    let read = async {
        while !text.contains(needle) {
            let chunk = stream.next().await.expect("stream ended").unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    if tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .is_err()
    {
        panic!("no {needle:?} in the stream: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_stream_sends_new_events_as_sse() {
    let s = start(Opts::default()).await;
    let (status, _) = s.post("/api/v1/ingest", "text/plain", "before\n").await;
    assert_eq!(status, 200);
    let r = s
        .client
        .get(s.url("/api/v1/tail/stream?q=-skipme"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = Box::pin(r.bytes_stream());
    let mut text = String::new();
    read_until(&mut stream, &mut text, "before").await;
    let (status, _) = s
        .post("/api/v1/ingest", "text/plain", "skipme please\nafter\n")
        .await;
    assert_eq!(status, 200);
    read_until(&mut stream, &mut text, "after").await;
    let datas: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let msgs: Vec<&str> = datas
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, vec!["before", "after"]);
    assert_eq!(text.lines().filter(|l| l.starts_with("id: ")).count(), 2);
    drop(stream);

    // The stream's permit is given back once the client is gone.
    eventually(10, || async {
        let (_, v) = s.get("/api/v1/stats").await;
        (v["tail_streams"] == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_everywhere_when_set() {
    let s = start(Opts {
        token: Some("s3cret"),
        ..Opts::default()
    })
    .await;
    for path in [
        "/api/v1/health",
        "/metrics",
        "/ui/",
        "/api/v1/search",
        "/",
        "/_license",
        "/nope",
    ] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{path}"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["type"], "unauthorized");
        let r = s
            .client
            .get(s.url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = s
        .client
        .post(s.url("/api/v1/ingest"))
        .body("x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.store.stats().docs_stored, 0);

    let r = s
        .client
        .get(s.url("/api/v1/health"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    let r = s
        .client
        .get(s.url("/ui/"))
        .basic_auth("elastic", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s.client.get(s.url("/ui/")).send().await.unwrap();
    assert!(r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .any(|h| h.to_str().unwrap().starts_with("Basic")));
    let (status, v) = s
        .post("/api/v1/ingest", "text/plain", "authorised line\n")
        .await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_root_dashboard_openapi_and_metrics() {
    let s = start(Opts::default()).await;
    let r = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"]["number"], "8.11.0");
    assert_eq!(v["name"], "testhost");
    assert!(v["cluster_name"].is_string() && v["tagline"].is_string());
    let r = s.client.head(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .get(s.url("/"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/ui/");
    for path in [
        "/_license",
        "/_xpack",
        "/_cluster/health",
        "/_index_template/filebeat-8.11.0",
        "/_ilm/policy/filebeat",
    ] {
        let (status, _) = s.get(path).await;
        assert_eq!(status, 200, "{path}");
    }
    let r = s
        .client
        .put(s.url("/_index_template/x"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["acknowledged"], true);

    let r = s.client.get(s.url("/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let etag = r.headers()["etag"].clone();
    assert!(!r.text().await.unwrap().is_empty());
    let r = s
        .client
        .get(s.url("/ui/"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = s
        .client
        .get(s.url("/ui/some/client/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s.client.get(s.url("/ui/missing.js")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.client.get(s.url("/ui")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/ui/");

    let r = s
        .client
        .get(s.url("/api/v1/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let yaml = r.text().await.unwrap();
    assert!(yaml.starts_with("openapi: 3.1.0"));
    for path in [
        "/api/v1/ingest:",
        "/_bulk:",
        "/api/v1/tail/stream:",
        "/metrics:",
        "/api/v1/terms:",
    ] {
        assert!(yaml.contains(path), "{path} missing from openapi.yaml");
    }

    let (status, _) = s.post("/api/v1/ingest", "text/plain", "one\ntwo\n").await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post("/api/v1/ingest", "application/x-ndjson", "{}\nbad\n")
        .await;
    assert_eq!(status, 200);
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = r.text().await.unwrap();
    for line in [
        "loglynx_http_requests_total{route=\"/api/v1/ingest\",status=\"200\"} 2",
        "loglynx_http_requests_total{route=\"/\",status=\"200\"} 2",
        "loglynx_http_requests_total{route=\"/\",status=\"302\"} 1",
        "loglynx_events_ingested_total{endpoint=\"ingest\"} 3",
        "loglynx_ingest_rejected_total{endpoint=\"ingest\"} 1",
        "loglynx_ingest_requests_total{endpoint=\"ingest\"} 2",
        "loglynx_store_docs 3",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }
    assert!(
        m.lines()
            .any(|l| l.starts_with("loglynx_store_commits_total ") && !l.ends_with(" 0")),
        "{m}"
    );
}

/// Elasticsearch's `terms` ordered by a metric sub-aggregation (ties by key ascending) and
/// `date_histogram` with `offset`, a fixed-offset `time_zone` and calendar weeks (Monday):
/// the keys and counts Elasticsearch gives for these events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_order_by_metric_time_zone_and_offset() {
    let s = start(Opts::default()).await;
    // host: pids. a: avg 15, min 10; b: avg 100, min 100; c: avg 1, min 1 (three events);
    // e and f: min 5 both (a tie).
    let events = [
        ("a", 10, "2024-05-01T10:00:30Z"),
        ("a", 20, "2024-05-01T10:20:00Z"),
        ("b", 100, "2024-05-01T10:40:00Z"),
        ("c", 1, "2024-05-01T11:10:00Z"),
        ("c", 1, "2024-05-01T23:30:00Z"),
        ("c", 1, "2024-05-01T11:12:00Z"),
        ("f", 5, "2024-05-01T11:13:00Z"),
        ("e", 5, "2024-05-01T11:14:00Z"),
    ];
    let mut body = String::new();
    for (host, pid, ts) in events {
        body.push_str(&format!("{{\"@timestamp\":\"{ts}\",\"host.name\":\"{host}\",\"process.pid\":{pid},\"message\":\"m\"}}\n"));
    }
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(8)), "{v}");
    eventually(10, || async { (s.get("/api/v1/search?limit=1").await.1["total"] == 8).then_some(()) }).await;
    let server = &s;
    let search = |aggs: serde_json::Value| {
        let body = serde_json::json!({"size": 0, "aggs": aggs}).to_string();
        async move { server.post("/_search", "application/json", body).await }
    };
    let keys = |v: &Value, name: &str| -> Vec<String> {
        v["aggregations"][name]["buckets"].as_array().unwrap_or_else(|| panic!("{v}")).iter().map(|b| b["key"].as_str().unwrap().to_string()).collect()
    };

    let (status, v) = search(serde_json::json!({"h": {"terms": {"field": "host.name", "order": {"m": "desc"}},
        "aggs": {"m": {"avg": {"field": "process.pid"}}}}})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(keys(&v, "h"), ["b", "a", "e", "f", "c"], "{v}");
    assert_eq!(v["aggregations"]["h"]["buckets"][1]["m"]["value"], 15.0);
    let (_, v) = search(serde_json::json!({"h": {"terms": {"field": "host.name", "order": {"m": "asc"}, "size": 3},
        "aggs": {"m": {"min": {"field": "process.pid"}}}}})).await;
    assert_eq!(keys(&v, "h"), ["c", "e", "f"], "ties by key ascending: {v}");
    assert_eq!(v["aggregations"]["h"]["sum_other_doc_count"], 3, "{v}");
    for (order, why) in [(serde_json::json!({"nope": "desc"}), "no sub-aggregation"), (serde_json::json!({"m.avg": "desc"}), "a path")] {
        let (status, v) = search(serde_json::json!({"h": {"terms": {"field": "host.name", "order": order},
            "aggs": {"m": {"avg": {"field": "process.pid"}}}}})).await;
        assert_eq!(status, 400, "{v}");
        assert!(v["error"]["reason"].as_str().unwrap().contains(why), "{v}");
    }

    // Hours starting at a quarter past: 10:00:30 is in 09:15; 10:20..11:14 in 10:15 (7 with
    // 11:10-11:14); 23:30 in 23:15.
    let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
    let (status, v) = search(serde_json::json!({"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1h",
        "offset": "+15m", "min_doc_count": 1}}})).await;
    assert_eq!(status, 200, "{v}");
    let got: Vec<(i64, u64)> = v["aggregations"]["h"]["buckets"].as_array().unwrap().iter()
        .map(|b| (b["key"].as_i64().unwrap(), b["doc_count"].as_u64().unwrap())).collect();
    assert_eq!(got, vec![(ms("2024-05-01T09:15:00Z"), 1), (ms("2024-05-01T10:15:00Z"), 6), (ms("2024-05-01T23:15:00Z"), 1)], "{v}");

    // Days in +05:30: 23:30Z is 05:00 on 2 May there.
    let (_, v) = search(serde_json::json!({"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day",
        "time_zone": "+05:30"}}})).await;
    let b = v["aggregations"]["h"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 2, "{v}");
    assert_eq!((b[0]["key"].as_i64(), b[0]["doc_count"].as_u64()), (Some(ms("2024-04-30T18:30:00Z")), Some(7)), "{v}");
    assert_eq!(b[0]["key_as_string"], "2024-05-01T00:00:00.000+05:30", "{v}");
    assert_eq!((b[1]["key"].as_i64(), b[1]["doc_count"].as_u64()), (Some(ms("2024-05-01T18:30:00Z")), Some(1)), "{v}");

    // A calendar week starts on Monday (1 May 2024 was a Wednesday).
    let (_, v) = search(serde_json::json!({"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "week"}}})).await;
    assert_eq!(v["aggregations"]["h"]["buckets"][0]["key"].as_i64(), Some(ms("2024-04-29T00:00:00Z")), "{v}");

    let (status, v) = search(serde_json::json!({"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1h",
        "time_zone": "Mars/Olympus"}}})).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["reason"].as_str().unwrap().contains("time_zone [\"Mars/Olympus\"]"), "{v}");
}

/// A named zone with daylight saving time, across Berlin's autumn change (27 October 2024,
/// 03:00 CEST -> 02:00 CET at 01:00Z), one event per UTC hour on alternating hosts: ES local
/// days hold 24, 25 and 24 events (padded by extended_bounds, keys written with the offset of
/// the day), a sub-aggregation sees the whole 25-hour day, hourly buckets stay one event
/// each, and `/api/v1/histogram?tz=` gives the same days.
#[tokio::test]
async fn elasticsearch_and_own_histograms_follow_daylight_saving_time() {
    let s = start(Opts::default()).await;
    let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
    let t0 = ms("2024-10-25T22:00:00Z");
    let mut body = String::new();
    for h in 0..73 {
        let ts = loglynx_core::Timestamp::from_millis(t0 + h * 3_600_000).to_rfc3339();
        let host = if h % 2 == 0 { "a" } else { "b" };
        body.push_str(&format!("{{\"@timestamp\":\"{ts}\",\"host.name\":\"{host}\",\"message\":\"m\"}}\n"));
    }
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(73)), "{v}");
    eventually(10, || async { (s.get("/api/v1/search?limit=1").await.1["total"] == 73).then_some(()) }).await;

    let body = serde_json::json!({"size": 0, "aggs": {"d": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d",
        "time_zone": "Europe/Berlin", "min_doc_count": 0,
        "extended_bounds": {"min": ms("2024-10-24T12:00:00Z"), "max": ms("2024-10-28T12:00:00Z")}},
        "aggs": {"h": {"terms": {"field": "host.name"}}}}}});
    let (status, v) = s.post("/_search", "application/json", body.to_string()).await;
    assert_eq!(status, 200, "{v}");
    let days = v["aggregations"]["d"]["buckets"].as_array().unwrap();
    let got: Vec<(i64, &str, u64)> =
        days.iter().map(|b| (b["key"].as_i64().unwrap(), b["key_as_string"].as_str().unwrap(), b["doc_count"].as_u64().unwrap())).collect();
    assert_eq!(
        got,
        vec![
            (ms("2024-10-23T22:00:00Z"), "2024-10-24T00:00:00.000+02:00", 0),
            (ms("2024-10-24T22:00:00Z"), "2024-10-25T00:00:00.000+02:00", 0),
            (ms("2024-10-25T22:00:00Z"), "2024-10-26T00:00:00.000+02:00", 24),
            (ms("2024-10-26T22:00:00Z"), "2024-10-27T00:00:00.000+02:00", 25),
            (ms("2024-10-27T23:00:00Z"), "2024-10-28T00:00:00.000+01:00", 24),
        ],
        "{v}"
    );
    for b in days {
        let sub: u64 = b["h"]["buckets"].as_array().unwrap().iter().map(|t| t["doc_count"].as_u64().unwrap()).sum();
        assert_eq!(sub, b["doc_count"].as_u64().unwrap(), "the sub-aggregation covers the whole local day: {b}");
    }
    assert_eq!(days[3]["h"]["buckets"], serde_json::json!([{"key": "a", "doc_count": 13}, {"key": "b", "doc_count": 12}]), "{v}");

    let body = serde_json::json!({"size": 0, "aggs": {"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1h",
        "time_zone": "Europe/Berlin"}}}});
    let (_, v) = s.post("/_search", "application/json", body.to_string()).await;
    let hours = v["aggregations"]["h"]["buckets"].as_array().unwrap();
    assert_eq!(hours.len(), 73, "{v}");
    assert!(hours.iter().enumerate().all(|(i, b)| b["doc_count"] == 1 && b["key"].as_i64() == Some(t0 + i as i64 * 3_600_000)), "{v}");
    // The repeated 02:00: 00:00Z is 02:00+02:00, 01:00Z is 02:00+01:00.
    assert_eq!(hours[26]["key_as_string"], "2024-10-27T02:00:00.000+02:00", "{v}");
    assert_eq!(hours[27]["key_as_string"], "2024-10-27T02:00:00.000+01:00", "{v}");

    let (status, own) = s
        .get("/api/v1/histogram?start=2024-10-25T22:00:00Z&end=2024-10-28T23:00:00Z&interval=1d&tz=Europe/Berlin")
        .await;
    assert_eq!(status, 200, "{own}");
    let own: Vec<(i64, u64)> = own["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (ms(b["start"].as_str().unwrap()), b["count"].as_u64().unwrap()))
        .collect();
    let es: Vec<(i64, u64)> = got[2..].iter().map(|(k, _, c)| (*k, *c)).collect();
    assert_eq!(own, es);
    let (status, v) = s.get("/api/v1/histogram?interval=1d&tz=Mars/Olympus").await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap_or_default().contains("Mars/Olympus") || v.to_string().contains("Mars/Olympus"), "{v}");
}

/// `POST /api/v1/aggs`: terms -> date_histogram -> metric and date_histogram -> terms ->
/// metric, the same aggregations as `_search` over the same events give the same numbers;
/// past the nested-bucket limit a 400 that says what to narrow.
#[tokio::test]
async fn own_aggregations_nest_and_match_elasticsearch() {
    let s = start(Opts::default()).await;
    let t0 = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").unwrap().timestamp_millis();
    let mut body = String::new();
    for i in 0..300i64 {
        let ts = loglynx_core::Timestamp::from_millis(t0 + i * 41_000).to_rfc3339();
        let (host, level, pid) = (["web0", "web1", "web2"][(i % 3) as usize], ["info", "error"][(i % 7 == 0) as usize], 100 + (i * 13) % 50);
        body.push_str(&format!(
            "{{\"@timestamp\":\"{ts}\",\"host.name\":\"{host}\",\"log.level\":\"{level}\",\"process.pid\":{pid},\"message\":\"m{i}\"}}\n"
        ));
    }
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(300)), "{v}");
    eventually(10, || async { (s.get("/api/v1/search?limit=1").await.1["total"] == 300).then_some(()) }).await;

    let nested = serde_json::json!({
        "hosts": {"terms": {"field": "host.name", "size": 2, "order": {"top": "desc"}}, "aggs": {
            "top": {"max": {"field": "process.pid"}},
            "per30m": {"date_histogram": {"field": "@timestamp", "fixed_interval": "30m"}, "aggs": {
                "avg": {"avg": {"field": "process.pid"}}, "n": {"cardinality": {"field": "process.pid"}}}}}},
        "per30m": {"date_histogram": {"field": "@timestamp", "fixed_interval": "30m", "time_zone": "Europe/Berlin"}, "aggs": {
            "levels": {"terms": {"field": "log.level"}, "aggs": {"sum": {"sum": {"field": "process.pid"}}}}}},
    });
    for (q, es_query) in [
        ("", serde_json::json!({"match_all": {}})),
        ("log.level:error", serde_json::json!({"term": {"log.level": "error"}})),
    ] {
        let own_body = serde_json::json!({"q": q, "aggs": nested});
        let (status, own) = s.post("/api/v1/aggs", "application/json", own_body.to_string()).await;
        assert_eq!(status, 200, "{own}");
        let es_body = serde_json::json!({"size": 0, "query": es_query, "aggs": nested});
        let (status, es) = s.post("/_search", "application/json", es_body.to_string()).await;
        assert_eq!(status, 200, "{es}");
        assert_eq!(own["aggregations"], es["aggregations"], "q={q}");
        assert_eq!(own["total"], es["hits"]["total"]["value"], "q={q}");
        // The numbers are the own API's too: each host's 30-minute counts are /api/v1/histogram's.
        let hosts = own["aggregations"]["hosts"]["buckets"].as_array().unwrap();
        assert_eq!(hosts.len(), 2, "{own}");
        for h in hosts {
            let host = h["key"].as_str().unwrap();
            let query = if q.is_empty() { format!("host.name:{host}") } else { format!("{q} AND host.name:{host}") };
            let (_, hist) = s.get(&format!("/api/v1/histogram?q={}&interval=30m", urlencode(&query))).await;
            let want: Vec<u64> = hist["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).filter(|c| *c > 0).collect();
            let got: Vec<u64> = h["per30m"]["buckets"].as_array().unwrap().iter().map(|b| b["doc_count"].as_u64().unwrap()).filter(|c| *c > 0).collect();
            assert_eq!(got, want, "{host} q={q}");
        }
    }

    // Terms over the 50 pids, each padding a 1 s histogram to 3,001 buckets: past 65,536
    // buckets in the reply, refused.
    let too_many = serde_json::json!({"start": t0.to_string(), "end": (t0 + 3_000_000).to_string(), "aggs": {"p": {"terms": {"field": "process.pid", "size": 300}, "aggs": {
        "h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1s", "min_doc_count": 0,
            "extended_bounds": {"min": t0, "max": t0 + 3_000_000}}}}}}});
    let (status, v) = s.post("/api/v1/aggs", "application/json", too_many.to_string()).await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("more than 65536 buckets"), "{v}");
    for (bad, why) in [
        (serde_json::json!({"aggs": {"x": {"percentiles": {"field": "process.pid"}}}}), "percentiles"),
        (serde_json::json!({"aggs": {}}), "empty"),
        (serde_json::json!({"aggs": {"h": {"terms": {"field": "host.name"}}}, "query": "x"}), "unknown field"),
        (serde_json::json!({"q": "(", "aggs": {"h": {"terms": {"field": "host.name"}}}}), ""),
    ] {
        let (status, v) = s.post("/api/v1/aggs", "application/json", bad.to_string()).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v.to_string().contains(why), "{bad}: {v}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
