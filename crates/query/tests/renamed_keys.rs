//! JSON and logfmt keys that became ECS labels (`logger`, `logger_name`, `component`, `c` ->
//! `log.logger`; `thread`, `thread_name`, `ctx` -> `process.thread.name`, when the value is one
//! word) stay searchable under their old names: raw lines -> parse stage -> tantivy -> search,
//! counted against what the lines say.

mod common;

use std::sync::Arc;

use common::window;
use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::{parse_record, ParseContext};
use loglynx_query::{Filter, SearchRequest, SortOrder};
use loglynx_store::WindowSnapshot;

fn parsed(lines: &[String]) -> Vec<Event> {
    let source = Arc::new(SourceKind::File { path: "/var/log/app.log".into() });
    let ctx = ParseContext { now: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(), keep_original: false, utc_offset_secs: 0 };
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.as_bytes().to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: ctx.now,
                id: format!("l{i}"),
            };
            parse_record(&rec, &ctx)
        })
        .collect()
}

fn total(w: &[WindowSnapshot], query: &str) -> u64 {
    let req = SearchRequest {
        filter: Filter { query: query.into(), ..Default::default() },
        limit: 1,
        offset: 0,
        sort: SortOrder::Desc,
    };
    common::engine().search(w, &req).unwrap().total
}

#[test]
fn old_key_names_still_find_the_events_whose_keys_became_ecs_labels() {
    let keys = ["logger", "logger_name", "component", "c", "thread", "thread_name", "ctx"];
    let mut lines = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        for i in 0..(k + 2) {
            lines.push(format!(r#"{{"@timestamp":"2026-02-01T10:00:0{i}Z","message":"json {i}","{key}":"billing"}}"#));
            lines.push(format!("time=2026-02-01T10:00:0{i}Z msg=\"logfmt {i}\" {key}=billing"));
        }
        // A value of several words stays a label under the key as written.
        lines.push(format!(r#"{{"@timestamp":"2026-02-01T10:00:00Z","message":"spaced","{key}":"two words"}}"#));
    }
    let events = parsed(&lines);
    // The parse stage stores them under the ECS names (the behaviour change).
    let logger = events.iter().filter(|e| e.labels.get("log.logger").map(String::as_str) == Some("billing")).count();
    let thread = events.iter().filter(|e| e.labels.get("process.thread.name").map(String::as_str) == Some("billing")).count();
    assert_eq!((logger, thread), (2 * (2 + 3 + 4 + 5), 2 * (6 + 7 + 8)));
    let w = vec![window("app", &[events])];
    for key in keys {
        let ecs = if key.contains("thread") || key == "ctx" { "process.thread.name" } else { "log.logger" };
        let renamed = if ecs == "log.logger" { logger } else { thread } as u64;
        // The old name finds every event whose key became the ECS label (any of its old
        // names: they are one field now), and its own multi-word value.
        assert_eq!(total(&w, &format!("labels.{key}:billing")), renamed, "labels.{key}:billing");
        assert_eq!(total(&w, &format!("labels.{ecs}:billing")), renamed, "labels.{ecs}:billing");
        assert_eq!(total(&w, &format!("labels.{key}:\"two words\"")), 1, "labels.{key}:\"two words\"");
        assert_eq!(total(&w, &format!("labels.{key}:bill*")), renamed, "labels.{key}:bill*");
        assert_eq!(total(&w, &format!("labels.{key}:* AND message:spaced")), 1, "labels.{key}:* AND message:spaced");
        // 35 JSON lines, half of the renamed events.
        assert_eq!(total(&w, &format!("NOT labels.{key}:billing AND message:json")), 35 - renamed / 2, "NOT labels.{key}:billing");
    }
}
