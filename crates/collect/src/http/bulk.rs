//! Elasticsearch `_bulk` bodies, so Filebeat, Vector, Fluent Bit, Logstash and `curl` scripts
//! written for Elasticsearch can ship logs here.
//!
//! - `index` and `create` are accepted: the source line is taken like an NDJSON line (a JSON
//!   object, format hint `Json`). `_index` (from the action, else from the path) is kept as the
//!   label `labels.index` (the event's own `event.dataset` is left alone); `_id` becomes
//!   `event.id` (otherwise a UUID v7 is given). A source that is not a JSON object is an item
//!   error ([`BulkItemError::BadDocument`]).
//! - `delete` and `update`: an item error "action not supported" (events are immutable); the
//!   source line of an `update` is skipped.
//! - A malformed action line (not JSON, not an object, unknown action) is an item error under
//!   the op `index`. Resynchronisation: if the next non-empty line is itself a valid action line
//!   it starts the next item; otherwise it is taken as the broken action's source line and
//!   skipped. So one bad line costs one item and the good items around it are kept.

use std::fmt;
use std::sync::Arc;

use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};
use serde_json::{Map, Value};

use crate::error::CollectError;
use crate::http::json::{validate_json_line, JsonLineError};
use crate::http::lines::{lines, new_event_id};

/// `_index` reported for documents sent without one.
pub const DEFAULT_INDEX: &str = "loglynx";
/// The label that keeps a document's `_index`.
pub const INDEX_LABEL: &str = "labels.index";

/// A bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkOp {
    /// `index`: stored.
    Index,
    /// `create`: stored.
    Create,
    /// `delete`: refused (events are immutable).
    Delete,
    /// `update`: refused (events are immutable).
    Update,
}

impl BulkOp {
    /// The action's name, as in the request and the reply's items.
    pub fn name(self) -> &'static str {
        match self {
            BulkOp::Index => "index",
            BulkOp::Create => "create",
            BulkOp::Delete => "delete",
            BulkOp::Update => "update",
        }
    }
}

/// What became of one item, in request order.
#[derive(Debug)]
pub struct BulkItem {
    /// The action (`index` for a malformed action line).
    pub op: BulkOp,
    /// The `_index` shown in the reply: the action's, else the path's, else [`DEFAULT_INDEX`].
    pub index: String,
    /// The `_id`: the action's, or the id given to a stored document.
    pub id: Option<String>,
    /// `Ok`: taken (stored once the request's records are submitted).
    pub outcome: Result<(), BulkItemError>,
}

/// Why one bulk item was not taken.
#[derive(Debug)]
pub enum BulkItemError {
    /// The action line could not be read.
    MalformedAction {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: ActionError,
    },
    /// `delete` or `update`.
    Unsupported {
        /// 1-based line number of the action.
        line: usize,
    },
    /// An `index` or `create` at the end of the body.
    NoDocument {
        /// 1-based line number of the action.
        line: usize,
    },
    /// The document line is not a JSON object.
    BadDocument {
        /// 1-based line number of the document.
        line: usize,
        /// What is wrong with it.
        reason: JsonLineError,
    },
}

impl BulkItemError {
    /// The Elasticsearch error type of this item, as its clients expect it.
    pub fn kind(&self) -> &'static str {
        match self {
            BulkItemError::BadDocument { .. } => "mapper_parsing_exception",
            BulkItemError::MalformedAction { .. }
            | BulkItemError::Unsupported { .. }
            | BulkItemError::NoDocument { .. } => "illegal_argument_exception",
        }
    }
}

impl fmt::Display for BulkItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BulkItemError::MalformedAction { line, reason } => {
                write!(f, "malformed action line {line}: {reason}")
            }
            BulkItemError::Unsupported { line } => write!(
                f,
                "action not supported on line {line}: loglynx stores immutable events, only index and create are accepted"
            ),
            BulkItemError::NoDocument { line } => {
                write!(f, "the action on line {line} has no document line after it")
            }
            BulkItemError::BadDocument { line, reason } => {
                write!(f, "failed to parse the document on line {line}: {reason}")
            }
        }
    }
}

impl std::error::Error for BulkItemError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BulkItemError::MalformedAction { reason, .. } => Some(reason),
            BulkItemError::BadDocument { reason, .. } => Some(reason),
            BulkItemError::Unsupported { .. } | BulkItemError::NoDocument { .. } => None,
        }
    }
}

/// Why an action line could not be read.
#[derive(Debug)]
pub enum ActionError {
    /// Not valid JSON.
    NotJson(serde_json::Error),
    /// Valid JSON, not an object.
    NotAnObject,
    /// An object with other than one key.
    KeyCount(usize),
    /// An action other than index, create, delete or update.
    Unknown(String),
    /// The action's metadata is not an object.
    MetadataNotAnObject(String),
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::NotJson(e) => write!(f, "not valid JSON ({e})"),
            ActionError::NotAnObject => f.write_str("expected an object such as {\"index\":{}}"),
            ActionError::KeyCount(n) => write!(
                f,
                "expected exactly one action (index, create, delete or update), found {n} keys"
            ),
            ActionError::Unknown(name) => write!(
                f,
                "unknown action {name:?}: expected index, create, delete or update"
            ),
            ActionError::MetadataNotAnObject(name) => {
                write!(f, "the metadata of action {name:?} must be an object")
            }
        }
    }
}

impl std::error::Error for ActionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ActionError::NotJson(e) => Some(e),
            _ => None,
        }
    }
}

/// What a bulk body became.
#[derive(Debug)]
pub struct Bulk {
    /// Every item's outcome, in request order.
    pub items: Vec<BulkItem>,
    /// The records of the taken items, in request order.
    pub records: Vec<RawRecord>,
}

/// Frames a bulk body into items and records of source `http` endpoint `bulk`; a body without
/// any item is [`CollectError::EmptyBulk`].
pub(crate) fn frame_bulk(
    body: &[u8],
    path_index: Option<&str>,
    host: &str,
) -> Result<Bulk, CollectError> {
    let (items, records) = parse_bulk(body, path_index, host);
    if items.is_empty() {
        return Err(CollectError::EmptyBulk);
    }
    Ok(Bulk { items, records })
}

/// A parsed action line.
#[derive(Debug, PartialEq)]
struct Action {
    op: BulkOp,
    index: Option<String>,
    id: Option<String>,
}

/// Reads a bulk body into per-item outcomes (request order) and the records to store.
fn parse_bulk(
    body: &[u8],
    path_index: Option<&str>,
    host: &str,
) -> (Vec<BulkItem>, Vec<RawRecord>) {
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
                items.push(BulkItem {
                    op: BulkOp::Index,
                    index: path_index.unwrap_or(DEFAULT_INDEX).to_string(),
                    id: None,
                    outcome: Err(BulkItemError::MalformedAction {
                        line: number,
                        reason,
                    }),
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
            BulkOp::Delete | BulkOp::Update => {
                if action.op == BulkOp::Update
                    && i < lines.len()
                    && parse_action(lines[i].1).is_err()
                {
                    i += 1;
                }
                items.push(BulkItem {
                    op: action.op,
                    index: shown_index,
                    id: action.id,
                    outcome: Err(BulkItemError::Unsupported { line: number }),
                });
            }
            BulkOp::Index | BulkOp::Create => {
                let Some(&(doc_number, doc)) = lines.get(i) else {
                    items.push(BulkItem {
                        op: action.op,
                        index: shown_index,
                        id: action.id,
                        outcome: Err(BulkItemError::NoDocument { line: number }),
                    });
                    continue;
                };
                i += 1;
                if let Err(reason) = validate_json_line(doc) {
                    items.push(BulkItem {
                        op: action.op,
                        index: shown_index,
                        id: action.id,
                        outcome: Err(BulkItemError::BadDocument {
                            line: doc_number,
                            reason,
                        }),
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
                items.push(BulkItem {
                    op: action.op,
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
fn parse_action(line: &[u8]) -> Result<Action, ActionError> {
    let v: Value = serde_json::from_slice(line).map_err(ActionError::NotJson)?;
    let Value::Object(obj) = v else {
        return Err(ActionError::NotAnObject);
    };
    if obj.len() != 1 {
        return Err(ActionError::KeyCount(obj.len()));
    }
    let Some((name, meta)) = obj.into_iter().next() else {
        return Err(ActionError::KeyCount(0));
    };
    let op = match name.as_str() {
        "index" => BulkOp::Index,
        "create" => BulkOp::Create,
        "delete" => BulkOp::Delete,
        "update" => BulkOp::Update,
        _ => return Err(ActionError::Unknown(name)),
    };
    let Value::Object(meta) = meta else {
        return Err(ActionError::MetadataNotAnObject(name));
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

    fn outcomes(items: &[BulkItem]) -> Vec<(&str, Result<(), &str>)> {
        items
            .iter()
            .map(|i| {
                (
                    i.op.name(),
                    i.outcome.as_ref().map(|_| ()).map_err(|e| e.kind()),
                )
            })
            .collect()
    }

    #[test]
    fn actions_parse_with_index_and_id() {
        let a = parse_action(br#"{"create":{"_index":"logs","_id":"a1"}}"#).unwrap();
        assert_eq!(
            a,
            Action {
                op: BulkOp::Create,
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
    fn action_errors_say_what_is_expected() {
        let e = |l: &[u8]| parse_action(l).unwrap_err().to_string();
        assert_eq!(
            e(br#"{"index":{},"create":{}}"#),
            "expected exactly one action (index, create, delete or update), found 2 keys"
        );
        assert_eq!(
            e(br#"{"upsert":{}}"#),
            "unknown action \"upsert\": expected index, create, delete or update"
        );
        assert_eq!(
            e(br#"["index"]"#),
            "expected an object such as {\"index\":{}}"
        );
        assert_eq!(
            e(br#"{"index":1}"#),
            "the metadata of action \"index\" must be an object"
        );
        assert!(e(b"{oops").starts_with("not valid JSON (key must be a string"));
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

    #[test]
    fn item_errors_name_the_line() {
        let (items, _) = parse_bulk(
            b"{\"delete\":{}}\n{\"index\":{}}\n[1]\n{\"index\":{}}\n",
            None,
            "h",
        );
        let reasons: Vec<String> = items
            .iter()
            .map(|i| i.outcome.as_ref().unwrap_err().to_string())
            .collect();
        assert_eq!(
            reasons,
            vec![
                "action not supported on line 1: loglynx stores immutable events, only index and create are accepted".to_string(),
                "failed to parse the document on line 3: expected a JSON object, got an array: send one object per line".to_string(),
                "the action on line 4 has no document line after it".to_string(),
            ]
        );
    }

    #[test]
    fn an_empty_body_is_refused() {
        assert!(matches!(
            frame_bulk(b"\n \n", None, "h"),
            Err(CollectError::EmptyBulk)
        ));
        let b = frame_bulk(b"{\"index\":{}}\n{}\n", Some("p"), "h").unwrap();
        assert_eq!((b.items.len(), b.records.len()), (1, 1));
        assert_eq!(b.items[0].index, "p");
    }

    #[test]
    fn an_existing_index_label_is_kept() {
        assert_eq!(
            with_index_label(br#"{"labels":{"index":"mine"}}"#, Some("x")),
            br#"{"labels":{"index":"mine"}}"#.to_vec()
        );
        assert_eq!(
            with_index_label(br#"{"labels.index":"mine"}"#, Some("x")),
            br#"{"labels.index":"mine"}"#.to_vec()
        );
        assert_eq!(with_index_label(b"{}", None), b"{}".to_vec());
    }
}
