//! JSON objects: HTTP NDJSON lines, Elasticsearch `_bulk` documents, JSON log lines.
//!
//! Keys may be ECS flat dotted (`"host.name"`) or nested (`{"host":{"name":..}}`) or common
//! aliases (see [`super::keys`]). Unknown scalars become labels (stringified), unknown nested
//! objects are flattened with dots, arrays are kept as JSON text, `null`s are dropped. An
//! object without a message key gets the whole raw line as `message`. `event.dataset` is the
//! object's own when it has one, else `json`.

use loglynx_core::{Event, RawRecord};
use serde_json::{Map, Value};

use super::keys::{Collected, Val};
use super::record::{self, ParseContext};

/// Auto-detection: `true` (event filled) only for a well-formed JSON object.
pub(crate) fn parse_auto(line: &str, ev: &mut Event) -> bool {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(obj)) => {
            apply_object(&obj, ev, line);
            true
        }
        _ => false,
    }
}

/// Hint `Json`: anything that is not a JSON object is kept raw with `flags.malformed`.
pub(crate) fn parse_hinted(line: &str, ev: &mut Event) {
    if !parse_auto(line, ev) {
        ev.message = line.to_string();
        ev.flags.malformed = true;
    }
}

/// Hint `Event`: a serialised loglynx [`Event`]; its fields are kept except `event.id` and
/// `event.ingested`, which come from the record. Falls back to [`parse_hinted`].
pub(crate) fn parse_event(line: &str, ev: &mut Event) {
    match serde_json::from_str::<Event>(line) {
        Ok(mut parsed) => {
            parsed.id = std::mem::take(&mut ev.id);
            parsed.ingested = ev.ingested;
            *ev = parsed;
        }
        Err(_) => parse_hinted(line, ev),
    }
}

/// Fills `ev` from a JSON object. `raw` is the message when the object has none.
pub fn apply_object(obj: &Map<String, Value>, ev: &mut Event, raw: &str) {
    let mut c = Collected::default();
    let mut key = String::new();
    walk(&mut key, obj, &mut c, ev);
    c.finish(ev, raw);
    if ev.dataset.is_none() {
        ev.dataset = Some("json".to_string());
    }
}

/// The event for a JSON object already decoded by the caller (the HTTP layer validates each
/// NDJSON line, then builds events without parsing twice). Same result as [`super::parse_record`]
/// on the record with hint `Json`.
pub fn parse_json_object(obj: &Map<String, Value>, rec: &RawRecord, ctx: &ParseContext) -> Event {
    let text = String::from_utf8_lossy(&rec.body);
    let invalid = matches!(text, std::borrow::Cow::Owned(_));
    let line = text.strip_suffix('\r').unwrap_or(&text);
    let mut ev = record::new_event(rec);
    apply_object(obj, &mut ev, line);
    record::finish(rec, ctx, ev, line, invalid)
}

fn walk(key: &mut String, obj: &Map<String, Value>, c: &mut Collected, ev: &mut Event) {
    for (k, v) in obj {
        let len = key.len();
        if len > 0 {
            key.push('.');
        }
        key.push_str(k);
        match v {
            Value::Object(m) => walk(key, m, c, ev),
            Value::Null => {}
            Value::Bool(b) => c.set(key, Val::Text(if *b { "true" } else { "false" }), ev),
            Value::String(s) => c.set(key, Val::Text(s), ev),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    c.set(key, Val::Int(i), ev);
                } else if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                    c.set(key, Val::Float(f), ev);
                } else {
                    c.set(key, Val::Text(&n.to_string()), ev);
                }
            }
            Value::Array(_) => c.set(key, Val::Text(&v.to_string()), ev),
        }
        key.truncate(len);
    }
}
