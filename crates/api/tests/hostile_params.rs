//! Hostile query parameters (extreme times, cursors and intervals) against a running server:
//! each is a 400 naming what to fix, or an ordinary answer; never a 500 or a dropped
//! connection (a panic).

mod common;

use common::{start, urlencode, Opts};

/// One event, so the histogram and tail have data to span.
async fn seed(s: &common::Server) {
    let body = "{\"@timestamp\":\"2024-05-01T10:00:30Z\",\"host.name\":\"a\",\"message\":\"event\"}\n";
    let (status, v) = s.post("/api/v1/ingest", "application/x-ndjson", body.to_string()).await;
    assert_eq!(status, 200, "{v}");
}

const I64_MIN: &str = "-9223372036854775808";
const I64_MAX: &str = "9223372036854775807";
const U64_MAX: &str = "18446744073709551615";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_cursors_intervals_and_times_are_400_never_500() {
    let s = start(Opts::default()).await;
    seed(&s).await;
    // (path, the words the 400 must contain); "" = any answer below 500 will do.
    let cases: Vec<(String, &str)> = vec![
        (format!("/api/v1/tail?cursor={I64_MIN}_"), "cursor"),
        (format!("/api/v1/tail?cursor={I64_MIN}_41"), "cursor"),
        (format!("/api/v1/tail?cursor=-1_41"), "cursor"),
        (format!("/api/v1/tail?cursor={I64_MAX}_41"), ""),
        (format!("/api/v1/histogram?interval={I64_MAX}"), "leave it out"),
        (format!("/api/v1/histogram?interval={U64_MAX}"), "leave it out"),
        (format!("/api/v1/histogram?interval=9223372036854775"), ""),
        (format!("/api/v1/histogram?interval=1&start={I64_MIN}&end={I64_MAX}"), ""),
        (format!("/api/v1/histogram?interval={I64_MAX}&start={I64_MIN}&end={I64_MAX}"), ""),
        (format!("/api/v1/histogram?start={I64_MIN}&end={I64_MAX}"), ""),
        (format!("/api/v1/histogram?start={I64_MIN}"), ""),
        (format!("/api/v1/histogram?end={I64_MAX}"), ""),
        (format!("/api/v1/histogram?interval=100000000w"), ""),
        (format!("/api/v1/histogram?start={}", urlencode("now-100000000w")), ""),
        (format!("/api/v1/search?start={I64_MIN}&end={I64_MAX}"), ""),
        (format!("/api/v1/terms?field=host.name&start={I64_MIN}&end={I64_MAX}"), ""),
        (format!("/api/v1/tail?start={I64_MIN}&end={I64_MAX}"), ""),
    ];
    let mut failures = Vec::new();
    for (path, words) in &cases {
        let (status, v) = s.get(path).await;
        let ok = if words.is_empty() {
            status < 500
        } else {
            status == 400 && v["error"]["reason"].as_str().unwrap_or("").contains(words)
        };
        if !ok {
            failures.push(format!("{path}: {status} {v}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // And the server still answers.
    let (status, _) = s.get("/api/v1/health").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_the_clause_or_wildcard_cap_are_400_naming_it() {
    let s = start(Opts::default()).await;
    seed(&s).await;
    let words = |n: usize, suffix: &str| {
        (0..n).map(|i| format!("w{i}{suffix}")).collect::<Vec<_>>().join(" OR ")
    };
    // At the caps: answered.
    for q in [words(1024, ""), words(64, "*")] {
        let (status, v) = s.get(&format!("/api/v1/search?q={}", urlencode(&q))).await;
        assert_eq!(status, 200, "{v}");
    }
    // Over them: 400 naming the cap, on search and on the aggregations alike.
    for (q, cap) in [(words(1025, ""), "query.max_clauses (1024)"), (words(65, "*"), "query.max_wildcards (64)")] {
        for path in ["/api/v1/search", "/api/v1/histogram", "/api/v1/terms?field=host.name&"] {
            let sep = if path.ends_with('&') { "" } else { "?" };
            let (status, v) = s.get(&format!("{path}{sep}q={}", urlencode(&q))).await;
            assert_eq!(status, 400, "{path}: {v}");
            let reason = v["error"]["reason"].as_str().unwrap();
            assert!(reason.contains(cap), "{path}: {reason}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clause_and_wildcard_caps_follow_the_query_section() {
    let s = start(Opts {
        query: loglynx_config::QueryConfig {
            max_clauses: 4,
            max_wildcards: 1,
            ..Default::default()
        },
        ..Opts::default()
    })
    .await;
    seed(&s).await;
    let get = |q: &str| format!("/api/v1/search?q={}", urlencode(q));
    // Within the configured caps: answered, and the seeded event is found.
    let (status, v) = s.get(&get("event OR a OR b OR ev*")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    // One clause or one wildcard more: 400 naming the setting.
    for (q, setting) in [("event OR a OR b OR c OR d", "query.max_clauses (4)"), ("ev* OR a*", "query.max_wildcards (1)")] {
        let (status, v) = s.get(&get(q)).await;
        assert_eq!(status, 400, "{q}: {v}");
        let reason = v["error"]["reason"].as_str().unwrap();
        assert!(reason.contains(setting), "{q}: {reason}");
    }
}
