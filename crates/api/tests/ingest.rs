//! Ingest endpoints end to end: real store, parse stage and router over HTTP.

mod common;

use std::io::Write as _;

use common::{post_raw, start, Opts};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_rejects_bad_lines_by_number_and_stores_the_good_ones() {
    let s = start(Opts::default()).await;
    let body = concat!(
        "{\"message\":\"alpha one\",\"host.name\":\"h1\",\"log.level\":\"error\"}\n",
        "{bad json\n",
        "\n",
        "[1,2]\n",
        "{\"message\":\"alpha two\",\"host.name\":\"h2\"}\r\n",
        "\"just a string\"\n",
        "{\"message\":\"alpha three\",\"host.name\":\"h1\"}",
    );
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 3);
    assert_eq!(v["rejected_count"], 3);
    let lines: Vec<u64> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 4, 6]);
    assert!(
        v["rejected"][1]["error"]
            .as_str()
            .unwrap()
            .contains("array"),
        "{v}"
    );

    // Answered once durable: searchable right away, exactly the good lines.
    let (total, mut msgs) = s.search("").await;
    assert_eq!(total, 3);
    msgs.sort();
    assert_eq!(msgs, vec!["alpha one", "alpha three", "alpha two"]);
    let (total, _) = s.search("host.name:h1").await;
    assert_eq!(total, 2);

    // Event ids are unique.
    let (_, v) = s.get("/api/v1/search?limit=10").await;
    let mut ids: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event.id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_rejected_is_400_with_the_same_body() {
    let s = start(Opts::default()).await;
    let (status, v) = s
        .post("/api/v1/ingest", "application/x-ndjson", "nope\n42\n")
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["accepted"], 0);
    assert_eq!(v["rejected"].as_array().unwrap().len(), 2);
    assert_eq!(v["rejected"][0]["line"], 1);
    assert_eq!(v["rejected"][1]["line"], 2);
    assert_eq!(s.search("").await.0, 0);

    // No lines at all: nothing to do, not an error.
    let (status, v) = s
        .post("/api/v1/ingest", "application/x-ndjson", "\n\n")
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"accepted": 0, "rejected": [], "rejected_count": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_plain_lines_are_parsed_and_invalid_utf8_is_kept_and_flagged() {
    let s = start(Opts::default()).await;
    let mut body = Vec::new();
    body.extend_from_slice(
        b"<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8\n",
    );
    body.extend_from_slice(b"level=info msg=\"hello logfmt\" service=api\n");
    body.extend_from_slice(b"\n");
    body.extend_from_slice(b"broken \xff\xfe bytes here\n");
    let (status, v) = s.post("/api/v1/ingest", "text/plain", body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 3);
    assert_eq!(v["rejected_count"], 0);

    assert_eq!(s.search("").await.0, 3);
    let (n, msgs) = s.search("log.flags:invalid_utf8").await;
    assert_eq!(n, 1);
    assert!(
        msgs[0].starts_with("broken ") && msgs[0].contains('\u{FFFD}'),
        "{msgs:?}"
    );
    let (_, v) = s.get("/api/v1/search?q=process.name:su").await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["hits"][0]["host.name"], "mymachine");
    assert_eq!(v["hits"][0]["process.pid"], 230);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_accepted() {
    let s = start(Opts::default()).await;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"{\"message\":\"zipped\"}\n").unwrap();
    let gz = enc.finish().unwrap();
    let r = post_raw(
        &s.client,
        s.url("/api/v1/ingest"),
        &[
            ("content-type", "application/x-ndjson"),
            ("content-encoding", "gzip"),
        ],
        gz,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.search("zipped").await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_a_json_413() {
    let s = start(Opts {
        max_body: 1024,
        ..Opts::default()
    })
    .await;
    let big = format!("{{\"message\":\"{}\"}}\n", "x".repeat(2048));
    for path in ["/api/v1/ingest", "/_bulk"] {
        let (status, v) = s.post(path, "application/x-ndjson", big.clone()).await;
        assert_eq!(status, 413, "{path}: {v}");
        assert_eq!(v["error"]["type"], "payload_too_large");
        assert!(v["error"]["reason"].as_str().unwrap().contains("1024"));
    }
    // A small gzip body that inflates past the limit is refused too.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'a'; 64 * 1024]).unwrap();
    let gz = enc.finish().unwrap();
    assert!(gz.len() < 1024);
    let r = post_raw(
        &s.client,
        s.url("/api/v1/ingest"),
        &[("content-type", "text/plain"), ("content-encoding", "gzip")],
        gz,
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(s.search("").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_answers_like_elasticsearch_and_stores_the_good_documents() {
    let s = start(Opts::default()).await;
    let body = concat!(
        "{\"index\":{\"_index\":\"web\",\"_id\":\"doc-1\"}}\n",
        "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"message\":\"bulk one\"}\n",
        "{\"create\":{}}\n",
        "{\"message\":\"bulk two\"}\n",
        "{\"delete\":{\"_index\":\"web\",\"_id\":\"doc-1\"}}\n",
        "this is not an action\n",
        "{\"message\":\"orphaned source of the broken action\"}\n",
        "{\"update\":{\"_id\":\"doc-1\"}}\n",
        "{\"doc\":{\"message\":\"changed\"}}\n",
        "{\"index\":{}}\n",
        "[\"not\",\"an\",\"object\"]\n",
        "{\"create\":{\"_id\":\"doc-3\"}}\n",
        "{\"message\":\"bulk three\"}\n",
    );
    let r = post_raw(
        &s.client,
        s.url("/logs/_bulk"),
        &[("content-type", "application/x-ndjson")],
        body,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"], true);
    let items = v["items"].as_array().unwrap();
    let summary: Vec<(String, u64)> = items
        .iter()
        .map(|it| {
            let (op, d) = it.as_object().unwrap().iter().next().unwrap();
            (op.clone(), d["status"].as_u64().unwrap())
        })
        .collect();
    let expect = [
        ("index", 201),
        ("create", 201),
        ("delete", 400),
        ("index", 400),
        ("update", 400),
        ("index", 400),
        ("create", 201),
    ];
    let expect: Vec<(String, u64)> = expect.iter().map(|(o, s)| (o.to_string(), *s)).collect();
    assert_eq!(summary, expect, "{v}");
    assert_eq!(items[0]["index"]["_id"], "doc-1");
    assert_eq!(items[0]["index"]["_index"], "web");
    assert_eq!(items[0]["index"]["result"], "created");
    assert_eq!(items[1]["create"]["_index"], "logs");
    assert_eq!(
        items[2]["delete"]["error"]["type"],
        "illegal_argument_exception"
    );
    assert!(items[2]["delete"]["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    assert_eq!(
        items[3]["index"]["error"]["type"],
        "illegal_argument_exception"
    );
    assert!(
        items[3]["index"]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("line 6"),
        "{v}"
    );
    assert_eq!(
        items[5]["index"]["error"]["type"],
        "mapper_parsing_exception"
    );
    assert_eq!(items[6]["create"]["_id"], "doc-3");

    let (total, mut msgs) = s.search("").await;
    assert_eq!(total, 3);
    msgs.sort();
    assert_eq!(msgs, vec!["bulk one", "bulk three", "bulk two"]);
    let (_, v) = s.get("/api/v1/search?q=labels.index:web").await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["hits"][0]["event.id"], "doc-1");
    assert_eq!(v["hits"][0]["@timestamp"], "2024-05-01T10:00:00Z");
    assert_eq!(s.search("labels.index:logs").await.0, 2);

    // Counters reflect the request.
    let (_, st) = s.get("/api/v1/stats").await;
    assert_eq!(st["ingest"]["bulk"]["events_accepted"], 3, "{st}");
    assert_eq!(st["ingest"]["bulk"]["lines_rejected"], 4);
    assert_eq!(st["store"]["docs_stored"], 3);
    // One window, being written: zstd level 1 doc store, no seal running.
    let w = &st["windows"][0];
    assert_eq!(st["windows"].as_array().map(Vec::len), Some(1), "{st}");
    assert_eq!((w["state"].as_str(), w["docs"].as_u64(), w["doc_store"].as_str()), (Some("live"), Some(3), Some("zstd(compression_level=1)")), "{w}");
    assert!(w["bytes"].as_u64() > Some(0) && w["segments"].as_u64() >= Some(1) && w["seal"].is_null(), "{w}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_gets_a_500() {
    let s = start(Opts::default()).await;
    let mut binary = Vec::new();
    for i in 0..4096u32 {
        binary.push((i.wrapping_mul(2_654_435_761) >> 13) as u8);
    }
    let bodies: Vec<Vec<u8>> = vec![
        binary.clone(),
        b"\xff\xfe\xfd\n\x00\x01\n".to_vec(),
        b"[]\n{}\n".to_vec(),
        b"null".to_vec(),
        b"{\"index\":{}}".to_vec(),
        b"{\"index\":\"not an object\"}\n{}\n".to_vec(),
        b"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{".to_vec(),
    ];
    for body in &bodies {
        for (path, ct) in [
            ("/api/v1/ingest", "application/x-ndjson"),
            ("/api/v1/ingest", "text/plain"),
            ("/api/v1/ingest", "image/png"),
            ("/_bulk", "application/x-ndjson"),
            ("/x/_bulk", "application/json"),
        ] {
            let (status, v) = s.post(path, ct, body.clone()).await;
            assert!(status < 500, "{path} {ct}: {status} {v}");
            if status >= 400 && v.get("error").is_some() {
                assert!(
                    v["error"]["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "{v}"
                );
            }
        }
    }
    // Unknown encodings and bad gzip are 4xx.
    let r = post_raw(
        &s.client,
        s.url("/api/v1/ingest"),
        &[("content-encoding", "br")],
        "x",
    )
    .await;
    assert_eq!(r.status(), 415);
    let r = post_raw(
        &s.client,
        s.url("/api/v1/ingest"),
        &[("content-encoding", "gzip")],
        "x",
    )
    .await;
    assert_eq!(r.status(), 400);
    for path in [
        "/api/v1/search?limit=abc",
        "/api/v1/search?limit=10001",
        "/api/v1/search?sort=sideways",
        "/api/v1/search?q=(unbalanced",
        "/api/v1/search?q=nosuchfield:x",
        "/api/v1/search?start=yesterday",
        "/api/v1/search?start=now&end=now-1h",
        "/api/v1/histogram?interval=soon",
        "/api/v1/histogram?buckets=0",
        "/api/v1/terms",
        "/api/v1/terms?field=message",
        "/api/v1/tail?cursor=zzz",
        "/api/v1/tail?cursor=1_f",
        "/api/v1/tail/stream?q=(",
    ] {
        let (status, v) = s.get(path).await;
        assert_eq!(status, 400, "{path}: {v}");
        assert!(
            v["error"]["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{path}: {v}"
        );
    }
    let (status, v) = s.get("/nope").await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["type"], "not_found");
    let r = s
        .client
        .delete(s.url("/api/v1/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "method_not_allowed"
    );
}
