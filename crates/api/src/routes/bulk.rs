//! `POST /_bulk` and `POST /{index}/_bulk`: the Elasticsearch bulk API, so Filebeat, Vector,
//! Fluent Bit, Logstash and `curl` scripts written for Elasticsearch can ship logs here.
//!
//! - `index` and `create` are accepted: the source line is ingested like an NDJSON line (a JSON
//!   object, format hint `Json`). `_index` (from the action, else from the path) is kept as the
//!   label `labels.index` (the event's own `event.dataset` is left alone); `_id` becomes
//!   `event.id` (otherwise a UUID v7 is given). A source that is not a JSON object gets a
//!   per-item 400 `mapper_parsing_exception`.
//! - `delete` and `update`: per-item 400 `illegal_argument_exception` "action not supported"
//!   (events are immutable); the source line of an `update` is skipped.
//! - A malformed action line (not JSON, not an object, unknown action) gets a 400 item under the
//!   key `index`. Resynchronisation: if the next non-empty line is itself a valid action line it
//!   starts the next item; otherwise it is taken as the broken action's source line and
//!   skipped. So one bad line costs one item and the good items around it are kept.
//!
//! The reply is sent once every accepted document is durable, shaped like Elasticsearch's
//! (`took`, `errors`, `items` in request order, status 201 per created document). A full
//! ingest queue gets 503 `queue_full` with `Retry-After` and nothing of the request is taken
//! (see `ingest.rs`); Elasticsearch clients retry a 503 whole.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::validate_json_line;
use loglynx_telemetry::internal_events::{
    IngestEndpoint, IngestEventsAccepted, IngestLinesRejected, IngestRequestReceived,
};
use loglynx_telemetry::InternalEvent;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::routes::ingest::{deliver, lines, new_event_id};
use crate::routes::read_body;
use crate::state::IngestState;

/// `_index` reported for documents sent without one.
const DEFAULT_INDEX: &str = "loglynx";
/// The label that keeps a document's `_index`.
const INDEX_LABEL: &str = "labels.index";

/// Header Elasticsearch clients (7.14+) check to accept a server.
pub(crate) fn elastic_product_header() -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static("x-elastic-product"),
        HeaderValue::from_static("Elasticsearch"),
    )
}

/// Handler of `POST /_bulk`.
pub(crate) async fn bulk(
    State(st): State<IngestState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    handle(st, None, headers, body).await
}

/// Handler of `POST /{index}/_bulk`.
pub(crate) async fn bulk_index(
    State(st): State<IngestState>,
    index: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(index) = index
        .map_err(|e| ApiError::BadRequest(format!("invalid index in path: {}", e.body_text())))?;
    handle(st, Some(index), headers, body).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Index,
    Create,
    Delete,
    Update,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Index => "index",
            Op::Create => "create",
            Op::Delete => "delete",
            Op::Update => "update",
        }
    }
}

/// A parsed action line.
#[derive(Debug, PartialEq)]
struct Action {
    op: Op,
    index: Option<String>,
    id: Option<String>,
}

/// What became of one item, in request order.
#[derive(Debug)]
struct Item {
    op: &'static str,
    index: String,
    id: Option<String>,
    /// Ok: stored; Err: (error type, reason).
    outcome: Result<(), (&'static str, String)>,
}

async fn handle(
    st: IngestState,
    path_index: Option<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let began = Instant::now();
    let endpoint = IngestEndpoint::Bulk;
    IngestRequestReceived { endpoint }.emit(&st.metrics);
    let body = read_body(st.max_body, &headers, body)?;
    let (items, records) = parse_bulk(&body, path_index.as_deref(), &st.host);
    if items.is_empty() {
        return Err(ApiError::BadRequest(
            "empty bulk body: send action lines each followed by a document line (NDJSON)".into(),
        ));
    }
    let accepted = records.len() as u64;
    let rejected = items.len() as u64 - accepted;
    IngestLinesRejected {
        endpoint,
        count: rejected,
    }
    .emit(&st.metrics);
    deliver(&st, records, endpoint).await?;
    IngestEventsAccepted {
        endpoint,
        count: accepted,
    }
    .emit(&st.metrics);

    let mut seq = st.next_seq_nos(accepted);
    let errors = rejected > 0;
    let items: Vec<Value> = items
        .into_iter()
        .map(|it| {
            let detail = match it.outcome {
                Ok(()) => {
                    let d = json!({
                        "_index": it.index,
                        "_id": it.id,
                        "_version": 1,
                        "result": "created",
                        "_shards": {"total": 1, "successful": 1, "failed": 0},
                        "_seq_no": seq,
                        "_primary_term": 1,
                        "status": 201,
                    });
                    seq += 1;
                    d
                }
                Err((kind, reason)) => json!({
                    "_index": it.index,
                    "_id": it.id,
                    "status": 400,
                    "error": {"type": kind, "reason": reason},
                }),
            };
            let mut m = Map::new();
            m.insert(it.op.to_string(), detail);
            Value::Object(m)
        })
        .collect();
    let took = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
    let reply = json!({"took": took, "errors": errors, "items": items});
    Ok(([elastic_product_header()], Json(reply)).into_response())
}

/// Reads a bulk body into per-item outcomes (request order) and the records to store.
fn parse_bulk(body: &[u8], path_index: Option<&str>, host: &str) -> (Vec<Item>, Vec<RawRecord>) {
    let received = Timestamp::now();
    let source = Arc::new(SourceKind::Http {
        endpoint: "bulk".into(),
    });
    let lines: Vec<(usize, &[u8])> = lines(body)
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    let mut items = Vec::new();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (number, line) = lines[i];
        i += 1;
        let action = match parse_action(line) {
            Ok(a) => a,
            Err(reason) => {
                items.push(Item {
                    op: "index",
                    index: path_index.unwrap_or(DEFAULT_INDEX).to_string(),
                    id: None,
                    outcome: Err((
                        "illegal_argument_exception",
                        format!("malformed action line {number}: {reason}"),
                    )),
                });
                // The broken action's document follows unless the next line is an action.
                if i < lines.len() && parse_action(lines[i].1).is_err() {
                    i += 1;
                }
                continue;
            }
        };
        let index = action
            .index
            .clone()
            .or_else(|| path_index.map(str::to_string));
        let shown_index = index.clone().unwrap_or_else(|| DEFAULT_INDEX.to_string());
        match action.op {
            Op::Delete | Op::Update => {
                if action.op == Op::Update && i < lines.len() && parse_action(lines[i].1).is_err() {
                    i += 1;
                }
                items.push(Item {
                    op: action.op.name(),
                    index: shown_index,
                    id: action.id,
                    outcome: Err((
                        "illegal_argument_exception",
                        format!(
                            "action not supported on line {number}: loglynx stores immutable events, only index and create are accepted"
                        ),
                    )),
                });
            }
            Op::Index | Op::Create => {
                let Some(&(doc_number, doc)) = lines.get(i) else {
                    items.push(Item {
                        op: action.op.name(),
                        index: shown_index,
                        id: action.id,
                        outcome: Err((
                            "illegal_argument_exception",
                            format!("the action on line {number} has no document line after it"),
                        )),
                    });
                    continue;
                };
                i += 1;
                if let Err(reason) = validate_json_line(doc) {
                    items.push(Item {
                        op: action.op.name(),
                        index: shown_index,
                        id: action.id,
                        outcome: Err((
                            "mapper_parsing_exception",
                            format!("failed to parse the document on line {doc_number}: {reason}"),
                        )),
                    });
                    continue;
                }
                let id = action.id.unwrap_or_else(new_event_id);
                records.push(RawRecord {
                    body: with_index_label(doc, index.as_deref()),
                    truncated: false,
                    hint: FormatHint::Json,
                    source: source.clone(),
                    host: Some(host.to_string()),
                    received,
                    id: id.clone(),
                });
                items.push(Item {
                    op: action.op.name(),
                    index: shown_index,
                    id: Some(id),
                    outcome: Ok(()),
                });
            }
        }
    }
    (items, records)
}

/// Parses an action line: `{"index": {"_index": "..", "_id": ".."}}`.
fn parse_action(line: &[u8]) -> Result<Action, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(obj) = v else {
        return Err("expected an object such as {\"index\":{}}".into());
    };
    if obj.len() != 1 {
        return Err(format!(
            "expected exactly one action (index, create, delete or update), found {} keys",
            obj.len()
        ));
    }
    let Some((name, meta)) = obj.into_iter().next() else {
        return Err("empty action".into());
    };
    let op = match name.as_str() {
        "index" => Op::Index,
        "create" => Op::Create,
        "delete" => Op::Delete,
        "update" => Op::Update,
        other => {
            return Err(format!(
                "unknown action {other:?}: expected index, create, delete or update"
            ))
        }
    };
    let Value::Object(meta) = meta else {
        return Err(format!("the metadata of action {name:?} must be an object"));
    };
    let text = |key: &str| -> Option<String> {
        match meta.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    Ok(Action {
        op,
        index: text("_index"),
        id: text("_id"),
    })
}

/// The document with `labels.index` set to the bulk `_index`, unless it already has one.
fn with_index_label(doc: &[u8], index: Option<&str>) -> Vec<u8> {
    let Some(index) = index else {
        return doc.to_vec();
    };
    let Ok(mut obj) = serde_json::from_slice::<Map<String, Value>>(doc) else {
        return doc.to_vec();
    };
    let nested = obj.get("labels").and_then(|l| l.get("index")).is_some();
    if nested || obj.contains_key(INDEX_LABEL) {
        return doc.to_vec();
    }
    obj.insert(INDEX_LABEL.to_string(), Value::String(index.to_string()));
    serde_json::to_vec(&obj).unwrap_or_else(|_| doc.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(items: &[Item]) -> Vec<(&str, Result<(), &str>)> {
        items
            .iter()
            .map(|i| (i.op, i.outcome.as_ref().map(|_| ()).map_err(|e| e.0)))
            .collect()
    }

    #[test]
    fn actions_parse_with_index_and_id() {
        let a = parse_action(br#"{"create":{"_index":"logs","_id":"a1"}}"#).unwrap();
        assert_eq!(
            a,
            Action {
                op: Op::Create,
                index: Some("logs".into()),
                id: Some("a1".into())
            }
        );
        assert!(parse_action(br#"{"index":{},"create":{}}"#).is_err());
        assert!(parse_action(br#"{"upsert":{}}"#).is_err());
        assert!(parse_action(br#"["index"]"#).is_err());
        assert!(parse_action(b"{\"index\":\xff}").is_err());
    }

    #[test]
    fn malformed_action_resynchronises_without_losing_neighbours() {
        let body = concat!(
            "{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"one\"}\n",
            "{not json\n{\"message\":\"orphan\"}\n",
            "{\"create\":{\"_id\":\"x\"}}\n{\"message\":\"two\"}\n",
            "{\"delete\":{\"_id\":\"y\"}}\n",
            "{\"update\":{\"_id\":\"z\"}}\n{\"doc\":{}}\n",
            "{\"index\":{}}\n[1,2]\n",
            "\n{\"index\":{}}\n{\"message\":\"three\"}\n",
        );
        let (items, records) = parse_bulk(body.as_bytes(), Some("p"), "h");
        assert_eq!(
            outcomes(&items),
            vec![
                ("index", Ok(())),
                ("index", Err("illegal_argument_exception")),
                ("create", Ok(())),
                ("delete", Err("illegal_argument_exception")),
                ("update", Err("illegal_argument_exception")),
                ("index", Err("mapper_parsing_exception")),
                ("index", Ok(())),
            ]
        );
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].id, "x");
        let first: Value = serde_json::from_slice(&records[0].body).unwrap();
        assert_eq!(first[INDEX_LABEL], "a");
        let second: Value = serde_json::from_slice(&records[1].body).unwrap();
        assert_eq!(second[INDEX_LABEL], "p");
        assert_eq!(items[0].index, "a");
    }

    #[test]
    fn malformed_action_followed_by_action_skips_only_itself() {
        let body = "oops\n{\"index\":{}}\n{\"message\":\"kept\"}\n";
        let (items, records) = parse_bulk(body.as_bytes(), None, "h");
        assert_eq!(
            outcomes(&items),
            vec![
                ("index", Err("illegal_argument_exception")),
                ("index", Ok(()))
            ]
        );
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].body, br#"{"message":"kept"}"#.to_vec());
    }

    #[test]
    fn action_without_document_is_an_error_item() {
        let (items, records) = parse_bulk(b"{\"index\":{}}\n", None, "h");
        assert_eq!(
            outcomes(&items),
            vec![("index", Err("illegal_argument_exception"))]
        );
        assert!(records.is_empty());
    }
}
