//! The Elasticsearch query DSL subset -> a loglynx query string (crates/query's language), so
//! an Elasticsearch search runs on the same engine, with the same matching, as `/api/v1/search`.
//!
//! | DSL | query string |
//! |---|---|
//! | `match_all` | `*` |
//! | `query_string` (`query`, `default_field` `*` or `message`, `default_operator`) | the query, in parentheses (loglynx's language); clauses side by side that Elasticsearch's default OR would read otherwise (`a b`, `+a b`) are a 400 unless `default_operator` is AND |
//! | `term` (`case_insensitive` false) / `terms` | `field:"v"` / `(field:"a" OR field:"b")` |
//! | `match` (`operator` or / and) | each word as a term of the field, joined by the operator |
//! | `match_phrase` (`slop` 0) | `field:"the phrase"` |
//! | `range` (`gt`, `gte`, `lt`, `lte`; dates, epoch ms, `now-15m`) | `field:>=v AND field:<v` |
//! | `exists` | `field:*` |
//! | `bool` (`must`, `filter`, `must_not`, `should`) | `AND`, `AND`, `NOT`, `OR` (should only matters without must / filter, as in Elasticsearch) |
//!
//! Anything else is refused with the name of what is not supported ([`Unsupported`]), never
//! approximated.

use std::fmt;

use serde_json::{Map, Value};

/// A part of a request loglynx does not support; its text names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported(pub(crate) String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(what.into()))
}

/// The query string of a DSL query (`None` or `{}`: everything).
pub(crate) fn to_query_string(query: Option<&Value>) -> Result<String, Unsupported> {
    match query {
        None => Ok("*".into()),
        Some(Value::Object(m)) if m.is_empty() => Ok("*".into()),
        Some(q) => clause(q),
    }
}

/// One query clause: an object with exactly one key, the query type.
fn clause(q: &Value) -> Result<String, Unsupported> {
    let Some(obj) = q.as_object() else {
        return unsupported(format!("a query must be an object, got {q}"));
    };
    if obj.len() != 1 {
        return unsupported(format!(
            "a query object must have exactly one query type, got {:?}",
            obj.keys().collect::<Vec<_>>()
        ));
    }
    let (kind, body) = obj.iter().next().expect("one key");
    match kind.as_str() {
        "match_all" => Ok("*".into()),
        "query_string" => query_string(kind, body),
        "simple_query_string" => unsupported(
            "unsupported query type [simple_query_string]: its operators (+ | - and a default OR) differ from loglynx's; send a query_string with AND/OR/NOT instead",
        ),
        "term" => {
            let (field, v) = field_value(kind, body, &["value", "boost", "case_insensitive"])?;
            Ok(term(&field, &scalar(kind, &v)?))
        }
        "terms" => terms(body),
        "match" => match_query(body),
        "match_phrase" => {
            let (field, v) = field_value(kind, body, &["query", "boost", "slop"])?;
            Ok(term(&field, &scalar(kind, &v)?))
        }
        "range" => range(body),
        "exists" => {
            let field = body
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| Unsupported("exists needs a field".into()))?;
            Ok(format!("{}:*", field_name(field)))
        }
        "bool" => bool_query(body),
        other => unsupported(format!(
            "unsupported query type [{other}]: loglynx supports match_all, query_string, term, terms, match, match_phrase, range, exists and bool"
        )),
    }
}

fn query_string(kind: &str, body: &Value) -> Result<String, Unsupported> {
    let obj = object(kind, body)?;
    check_keys(
        kind,
        obj,
        &["query", "default_field", "fields", "analyze_wildcard", "default_operator", "lenient", "boost"],
    )?;
    let q = obj
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| Unsupported(format!("{kind} needs a query string")))?;
    if let Some(f) = obj.get("default_field").and_then(Value::as_str) {
        if f != "*" && f != "message" {
            return unsupported(format!(
                "{kind}.default_field [{f}]: loglynx searches bare words in message; name the field in the query instead"
            ));
        }
    }
    if obj.contains_key("fields") {
        return unsupported(format!("{kind}.fields: name the fields in the query instead"));
    }
    let and = match obj.get("default_operator").and_then(Value::as_str) {
        None => false,
        Some(op) if op.eq_ignore_ascii_case("and") => true,
        Some(op) if op.eq_ignore_ascii_case("or") => false,
        Some(op) => return unsupported(format!("{kind}.default_operator [{op}]: AND or OR")),
    };
    // Elasticsearch ORs clauses written side by side (default_operator OR, its default);
    // loglynx ANDs them. Where that changes the answer, say so instead of answering otherwise.
    // A query that does not parse is left for the search to refuse with its position.
    if !and && loglynx_query::differs_under_default_or(q).unwrap_or(false) {
        return unsupported(format!(
            "{kind} [{q}] joins clauses without an operator, which Elasticsearch reads as OR (default_operator OR) and loglynx as AND: write AND or OR between them, or set default_operator to AND"
        ));
    }
    let q = q.trim();
    Ok(if q.is_empty() { "*".into() } else { format!("({q})") })
}

fn terms(body: &Value) -> Result<String, Unsupported> {
    let obj = object("terms", body)?;
    let fields: Vec<_> = obj.iter().filter(|(k, _)| *k != "boost").collect();
    if fields.len() != 1 {
        return unsupported("terms needs exactly one field");
    }
    let (field, values) = fields[0];
    let Some(values) = values.as_array() else {
        return unsupported("terms: the values must be an array (terms lookup is not supported)");
    };
    if values.is_empty() {
        return Ok("NOT *".into());
    }
    let parts = values
        .iter()
        .map(|v| scalar("terms", v).map(|s| term(field, &s)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("({})", parts.join(" OR ")))
}

fn match_query(body: &Value) -> Result<String, Unsupported> {
    let obj = object("match", body)?;
    if obj.len() != 1 {
        return unsupported("match needs exactly one field");
    }
    let (field, v) = obj.iter().next().expect("one key");
    let (text, op) = match v {
        Value::Object(o) => {
            check_keys("match", o, &["query", "operator", "boost", "lenient", "zero_terms_query"])?;
            let op = match o.get("operator").and_then(Value::as_str) {
                None => "OR",
                Some(s) if s.eq_ignore_ascii_case("or") => "OR",
                Some(s) if s.eq_ignore_ascii_case("and") => "AND",
                Some(s) => return unsupported(format!("match.operator [{s}]")),
            };
            (scalar("match", o.get("query").unwrap_or(&Value::Null))?, op)
        }
        other => (scalar("match", other)?, "OR"),
    };
    if field != "message" {
        // Keyword and numeric fields are not analysed: the value as a whole.
        return Ok(term(field, &text));
    }
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| term(field, w))
        .collect();
    if words.is_empty() {
        return Ok("NOT *".into());
    }
    Ok(format!("({})", words.join(&format!(" {op} "))))
}

fn range(body: &Value) -> Result<String, Unsupported> {
    let obj = object("range", body)?;
    if obj.len() != 1 {
        return unsupported("range needs exactly one field");
    }
    let (field, bounds) = obj.iter().next().expect("one key");
    let b = object("range", bounds)?;
    check_keys("range", b, &["gt", "gte", "lt", "lte", "format", "boost", "time_zone"])?;
    if let Some(f) = b.get("format").and_then(Value::as_str) {
        if !matches!(f, "epoch_millis" | "strict_date_optional_time" | "date_optional_time" | "strict_date_optional_time_nanos") {
            return unsupported(format!("range.format [{f}]: use epoch_millis or RFC 3339 dates"));
        }
    }
    if b.get("time_zone").is_some() {
        return unsupported("range.time_zone: give dates with their offset");
    }
    let mut parts = Vec::new();
    for (op, sym) in [("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")] {
        if let Some(v) = b.get(op).filter(|v| !v.is_null()) {
            let s = scalar("range", v)?;
            parts.push(format!("{}:{sym}{}", field_name(field), escape_bare(&s)));
        }
    }
    if parts.is_empty() {
        return Ok("*".into());
    }
    Ok(format!("({})", parts.join(" AND ")))
}

fn bool_query(body: &Value) -> Result<String, Unsupported> {
    let obj = object("bool", body)?;
    check_keys("bool", obj, &["must", "filter", "must_not", "should", "minimum_should_match", "boost"])?;
    let list = |k: &str| -> Result<Vec<String>, Unsupported> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(clause).collect(),
            Some(one) => Ok(vec![clause(one)?]),
        }
    };
    let (must, filter, must_not, should) = (list("must")?, list("filter")?, list("must_not")?, list("should")?);
    let min_should = match obj.get("minimum_should_match") {
        None => None,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Some(1),
        Some(Value::String(s)) if s == "1" => Some(1),
        Some(other) => return unsupported(format!("bool.minimum_should_match [{other}]: only 1 is supported")),
    };
    let mut all: Vec<String> = must.into_iter().chain(filter).collect();
    if !should.is_empty() && (all.is_empty() || min_should == Some(1)) {
        all.push(format!("({})", should.join(" OR ")));
    }
    all.extend(must_not.into_iter().map(|c| format!("NOT {c}")));
    if all.is_empty() {
        return Ok("*".into());
    }
    if all.iter().all(|c| c.starts_with("NOT ")) {
        all.insert(0, "*".into());
    }
    Ok(format!("({})", all.join(" AND ")))
}

fn object<'a>(kind: &str, v: &'a Value) -> Result<&'a Map<String, Value>, Unsupported> {
    v.as_object()
        .ok_or_else(|| Unsupported(format!("{kind} must be an object, got {v}")))
}

fn check_keys(kind: &str, obj: &Map<String, Value>, known: &[&str]) -> Result<(), Unsupported> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => unsupported(format!("unsupported option [{kind}.{k}]")),
        None => Ok(()),
    }
}

/// `{"field": value}` or `{"field": {"value"|"query": value, ...}}`.
fn field_value(kind: &str, body: &Value, known: &[&str]) -> Result<(String, Value), Unsupported> {
    let obj = object(kind, body)?;
    if obj.len() != 1 {
        return unsupported(format!("{kind} needs exactly one field"));
    }
    let (field, v) = obj.iter().next().expect("one key");
    let v = match v {
        Value::Object(o) => {
            check_keys(kind, o, known)?;
            // Options accepted only at their default: any other value would change the answer.
            if o.get("case_insensitive").is_some_and(|c| c != &Value::Bool(false)) {
                return unsupported(format!(
                    "{kind}.case_insensitive: loglynx's keyword terms match exactly; search each spelling (a terms query) instead"
                ));
            }
            if o.get("slop").is_some_and(|s| s.as_u64() != Some(0)) {
                return unsupported(format!("{kind}.slop: loglynx's phrases match exactly (slop 0)"));
            }
            o.get("value").or_else(|| o.get("query")).cloned().unwrap_or(Value::Null)
        }
        other => other.clone(),
    };
    Ok((field.clone(), v))
}

fn scalar(kind: &str, v: &Value) -> Result<String, Unsupported> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => unsupported(format!("{kind}: expected a string, number or boolean, got {other}")),
    }
}

/// A field name as the query language reads it (`.keyword` sub-fields are the field itself:
/// loglynx's keyword fields are not analysed).
fn field_name(f: &str) -> &str {
    f.strip_suffix(".keyword").unwrap_or(f)
}

/// `field:"value"` with `"` and `\` escaped.
pub(crate) fn term(field: &str, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{}:\"{v}\"", field_name(field))
}

/// A bare range bound: characters the query language would read as syntax escaped.
fn escape_bare(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ' ' | '(' | ')' | '"' | '\\' | '[' | ']' | '{' | '}' | '*' | '?') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn q(v: Value) -> Result<String, String> {
        to_query_string(Some(&v)).map_err(|e| e.0)
    }

    #[test]
    fn options_that_would_change_the_answer_are_refused() {
        let err = |v: Value| q(v).unwrap_err();
        assert!(err(json!({"term": {"host.name": {"value": "A", "case_insensitive": true}}})).contains("case_insensitive"));
        assert!(q(json!({"term": {"host.name": {"value": "a", "case_insensitive": false}}})).is_ok());
        assert!(err(json!({"match_phrase": {"message": {"query": "a b", "slop": 2}}})).contains("slop"));
        assert!(q(json!({"match_phrase": {"message": {"query": "a b", "slop": 0}}})).is_ok());
        assert!(err(json!({"simple_query_string": {"query": "a | b"}})).contains("simple_query_string"));
        // Side by side: Elasticsearch ORs, loglynx ANDs; refused unless the operator is AND.
        assert!(err(json!({"query_string": {"query": "error timeout"}})).contains("default_operator"));
        assert!(err(json!({"query_string": {"query": "error timeout", "default_operator": "OR"}})).contains("without an operator"));
        assert_eq!(q(json!({"query_string": {"query": "error timeout", "default_operator": "AND"}})).unwrap(), "(error timeout)");
        assert_eq!(q(json!({"query_string": {"query": "error -timeout"}})).unwrap(), "(error -timeout)");
        assert!(err(json!({"query_string": {"query": "x", "default_operator": "xor"}})).contains("AND or OR"));
    }

    #[test]
    fn the_supported_queries_translate() {
        assert_eq!(q(json!({"match_all": {}})).unwrap(), "*");
        assert_eq!(q(json!({"term": {"host.name": "web1"}})).unwrap(), "host.name:\"web1\"");
        assert_eq!(q(json!({"term": {"host.name.keyword": {"value": "a\"b"}}})).unwrap(), "host.name:\"a\\\"b\"");
        assert_eq!(q(json!({"terms": {"log.level": ["error", "warn"]}})).unwrap(), "(log.level:\"error\" OR log.level:\"warn\")");
        assert_eq!(q(json!({"match": {"message": "disk full"}})).unwrap(), "(message:\"disk\" OR message:\"full\")");
        assert_eq!(
            q(json!({"match": {"message": {"query": "disk full", "operator": "and"}}})).unwrap(),
            "(message:\"disk\" AND message:\"full\")"
        );
        assert_eq!(q(json!({"match_phrase": {"message": "disk full"}})).unwrap(), "message:\"disk full\"");
        assert_eq!(
            q(json!({"range": {"@timestamp": {"gte": 1700000000000u64, "lte": "now", "format": "epoch_millis"}}})).unwrap(),
            "(@timestamp:>=1700000000000 AND @timestamp:<=now)"
        );
        assert_eq!(q(json!({"exists": {"field": "source.ip"}})).unwrap(), "source.ip:*");
        assert_eq!(
            q(json!({"bool": {"filter": [{"term": {"a": "1"}}], "must_not": {"term": {"b": "2"}},
                "should": [{"term": {"c": "3"}}]}})).unwrap(),
            "(a:\"1\" AND NOT b:\"2\")"
        );
        assert_eq!(
            q(json!({"bool": {"should": [{"term": {"c": "3"}}, {"term": {"d": "4"}}]}})).unwrap(),
            "((c:\"3\" OR d:\"4\"))"
        );
        assert_eq!(q(json!({"bool": {"must_not": [{"exists": {"field": "x"}}]}})).unwrap(), "(* AND NOT x:*)");
        assert_eq!(q(json!({"query_string": {"query": "error AND host.name:web1", "analyze_wildcard": true}})).unwrap(), "(error AND host.name:web1)");
    }

    #[test]
    fn what_is_not_supported_is_named() {
        assert!(q(json!({"wildcard": {"host.name": "w*"}})).unwrap_err().contains("unsupported query type [wildcard]"));
        assert!(q(json!({"bool": {"must": [{"fuzzy": {"m": "x"}}]}})).unwrap_err().contains("[fuzzy]"));
        assert!(q(json!({"match": {"message": {"query": "x", "fuzziness": 2}}})).unwrap_err().contains("[match.fuzziness]"));
        assert!(q(json!({"query_string": {"query": "x", "default_field": "host.name"}})).unwrap_err().contains("default_field"));
        assert!(q(json!({"bool": {"should": [], "minimum_should_match": 2}})).unwrap_err().contains("minimum_should_match"));
        assert!(q(json!({"terms": {"host.name": {"index": "users"}}})).unwrap_err().contains("terms lookup"));
    }
}
