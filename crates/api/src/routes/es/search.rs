//! `_search` and `_msearch`: an Elasticsearch search body -> the engine's search, histogram,
//! terms and field stats -> Elasticsearch's reply shape. The query is translated by `dsl.rs`; this module reads
//! the rest of the body (size, from, sort, track_total_hits, aggregations) and refuses, with
//! its name, anything it does not support.

use loglynx_core::Event;
use loglynx_query::{
    Filter, HistogramRequest, QueryEngine, QueryError, SearchRequest, SortOrder, TermsRequest,
    MAX_BUCKETS, MAX_LIMIT, MAX_TERMS,
};
use loglynx_store::WindowSnapshot;
use serde_json::{json, Map, Value};

use super::dsl::{to_query_string, Unsupported};

/// The index name hits are reported under.
pub(crate) const INDEX: &str = "loglynx";
/// Elasticsearch's default `size`.
const DEFAULT_SIZE: usize = 10;
/// Elasticsearch's `index.max_result_window`.
const MAX_WINDOW: usize = 10_000;

/// A search body read and checked: what the engine is asked.
#[derive(Debug)]
pub(crate) struct Plan {
    query: String,
    size: usize,
    from: usize,
    sort: SortOrder,
    /// `None`: `track_total_hits: false`; `Some(None)`: exact; `Some(Some(n))`: up to n.
    track_total: Option<Option<u64>>,
    aggs: Vec<(String, Agg)>,
}

#[derive(Debug)]
enum Agg {
    DateHistogram { interval_ms: u64, min_doc_count: u64 },
    Terms { field: String, size: usize },
    /// `min`, `max`, `avg`, `sum` (numeric fields) and `cardinality` (any aggregatable field).
    Metric { kind: Metric, field: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Min,
    Max,
    Avg,
    Sum,
    Cardinality,
}

/// Reads a search body (`{}` for none).
pub(crate) fn plan(body: &Value) -> Result<Plan, Unsupported> {
    let empty = Map::new();
    let obj = match body {
        Value::Null => &empty,
        Value::Object(m) => m,
        other => return Err(Unsupported(format!("the search body must be an object, got {other}"))),
    };
    // `highlight` is accepted and ignored (hits come without highlights; Grafana's logs
    // query sends it); `script_fields` only empty.
    const KNOWN: &[&str] = &[
        "query", "size", "from", "sort", "track_total_hits", "aggs", "aggregations", "_source",
        "timeout", "highlight", "script_fields",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Unsupported(format!(
            "unsupported search option [{k}]: loglynx supports {}",
            KNOWN.join(", ")
        )));
    }
    if let Some(f) = obj.get("script_fields").filter(|f| f.as_object().is_none_or(|m| !m.is_empty())) {
        return Err(Unsupported(format!("[script_fields] {f}: scripts are not supported")));
    }
    if let Some(s) = obj.get("_source") {
        if s != &Value::Bool(true) {
            return Err(Unsupported("[_source] filtering: hits always carry the whole event".into()));
        }
    }
    let query = to_query_string(obj.get("query"))?;
    let num = |k: &str, default: usize| -> Result<usize, Unsupported> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| Unsupported(format!("[{k}] must be a non-negative integer, got {v}"))),
        }
    };
    let (size, from) = (num("size", DEFAULT_SIZE)?, num("from", 0)?);
    if size + from > MAX_WINDOW {
        return Err(Unsupported(format!(
            "from + size must be at most {MAX_WINDOW} (the result window), got {}: narrow the query or use /api/v1/tail to read everything",
            from + size
        )));
    }
    let track_total = match obj.get("track_total_hits") {
        None | Some(Value::Bool(true)) => Some(None),
        Some(Value::Bool(false)) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(Some(n)),
            None => return Err(Unsupported(format!("[track_total_hits] must be a boolean or a number, got {v}"))),
        },
    };
    let sort = sort(obj.get("sort"))?;
    let mut aggs = Vec::new();
    if let Some(a) = obj.get("aggs").or_else(|| obj.get("aggregations")) {
        let a = a.as_object().ok_or_else(|| Unsupported("[aggs] must be an object".into()))?;
        for (name, def) in a {
            aggs.push((name.clone(), agg(name, def)?));
        }
    }
    Ok(Plan { query, size, from, sort, track_total, aggs })
}

fn sort(v: Option<&Value>) -> Result<SortOrder, Unsupported> {
    let one = |s: &Value| -> Result<SortOrder, Unsupported> {
        let (field, order) = match s {
            Value::String(t) => match t.split_once(':') {
                Some((f, o)) => (f.to_string(), o.to_string()),
                None => (t.clone(), "asc".to_string()),
            },
            Value::Object(m) if m.len() == 1 => {
                let (f, o) = m.iter().next().expect("one key");
                let order = match o {
                    Value::String(x) => x.clone(),
                    Value::Object(om) => {
                        if let Some(k) = om.keys().find(|k| !matches!(k.as_str(), "order" | "unmapped_type")) {
                            return Err(Unsupported(format!("unsupported sort option [{k}]")));
                        }
                        om.get("order").and_then(Value::as_str).unwrap_or("asc").to_string()
                    }
                    _ => return Err(Unsupported(format!("unsupported sort [{s}]"))),
                };
                (f.clone(), order)
            }
            other => return Err(Unsupported(format!("unsupported sort [{other}]"))),
        };
        if field != "@timestamp" {
            return Err(Unsupported(format!("sort on [{field}]: loglynx sorts by @timestamp only")));
        }
        match order.as_str() {
            "asc" => Ok(SortOrder::Asc),
            "desc" => Ok(SortOrder::Desc),
            o => Err(Unsupported(format!("sort order [{o}]: asc or desc"))),
        }
    };
    match v {
        None | Some(Value::Null) => Ok(SortOrder::Desc),
        Some(Value::Array(a)) if a.is_empty() => Ok(SortOrder::Desc),
        Some(Value::Array(a)) if a.len() == 1 => one(&a[0]),
        // Grafana adds `_doc` as a tie-break: events with one timestamp come in store order.
        Some(Value::Array(a)) if a.len() == 2 && is_doc(&a[1]) => one(&a[0]),
        Some(Value::Array(_)) => Err(Unsupported("sort on several keys: loglynx sorts by @timestamp only".into())),
        Some(s) => one(s),
    }
}

/// `"_doc"` or `{"_doc": ...}`.
fn is_doc(v: &Value) -> bool {
    v == "_doc" || v.as_object().is_some_and(|m| m.len() == 1 && m.contains_key("_doc"))
}

fn agg(name: &str, def: &Value) -> Result<Agg, Unsupported> {
    let obj = def.as_object().ok_or_else(|| Unsupported(format!("aggregation [{name}] must be an object")))?;
    if let Some(k) = obj.keys().find(|k| *k == "aggs" || *k == "aggregations") {
        return Err(Unsupported(format!("sub-aggregations ([{name}].{k}) are not supported")));
    }
    if obj.len() != 1 {
        return Err(Unsupported(format!("aggregation [{name}] must have exactly one type")));
    }
    let (kind, body) = obj.iter().next().expect("one key");
    let field = body.get("field").and_then(Value::as_str).map(str::to_string);
    match kind.as_str() {
        "date_histogram" => {
            let field = field.unwrap_or_default();
            if field != "@timestamp" {
                return Err(Unsupported(format!("date_histogram on [{field}]: only @timestamp")));
            }
            let b = body.as_object().expect("has a field");
            const KNOWN: &[&str] = &["field", "fixed_interval", "calendar_interval", "interval", "min_doc_count", "format", "extended_bounds"];
            if let Some(k) = b.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(Unsupported(format!("unsupported option [date_histogram.{k}]")));
            }
            let spec = b
                .get("fixed_interval")
                .or_else(|| b.get("interval"))
                .or_else(|| b.get("calendar_interval"))
                .and_then(Value::as_str)
                .ok_or_else(|| Unsupported(format!("date_histogram [{name}] needs fixed_interval")))?;
            let interval_ms = interval_ms(spec, b.contains_key("calendar_interval"))?;
            let min_doc_count = b.get("min_doc_count").and_then(Value::as_u64).unwrap_or(0);
            Ok(Agg::DateHistogram { interval_ms, min_doc_count })
        }
        "terms" => {
            let b = body.as_object().expect("an object");
            const KNOWN: &[&str] = &["field", "size", "order", "min_doc_count", "shard_size"];
            if let Some(k) = b.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(Unsupported(format!("unsupported option [terms.{k}]")));
            }
            if let Some(o) = b.get("order") {
                if o != &json!({"_count": "desc"}) {
                    return Err(Unsupported(format!("terms order [{o}]: only by count, descending")));
                }
            }
            let field = field.ok_or_else(|| Unsupported(format!("terms [{name}] needs a field")))?;
            let size = b.get("size").and_then(Value::as_u64).map_or(10, |n| n as usize).min(MAX_TERMS);
            Ok(Agg::Terms { field: field.strip_suffix(".keyword").unwrap_or(&field).to_string(), size })
        }
        "min" | "max" | "avg" | "sum" | "cardinality" => {
            let b = body.as_object().ok_or_else(|| Unsupported(format!("[{name}] must be an object")))?;
            if let Some(k) = b.keys().find(|k| !matches!(k.as_str(), "field" | "precision_threshold")) {
                return Err(Unsupported(format!("unsupported option [{kind}.{k}]")));
            }
            let field = field.ok_or_else(|| Unsupported(format!("{kind} [{name}] needs a field")))?;
            let kind = match kind.as_str() {
                "min" => Metric::Min,
                "max" => Metric::Max,
                "avg" => Metric::Avg,
                "sum" => Metric::Sum,
                _ => Metric::Cardinality,
            };
            Ok(Agg::Metric { kind, field: field.strip_suffix(".keyword").unwrap_or(&field).to_string() })
        }
        other => Err(Unsupported(format!(
            "unsupported aggregation type [{other}] in [{name}]: loglynx supports date_histogram, terms, min, max, avg, sum and cardinality"
        ))),
    }
}

/// `30s`, `1m`, `1h`, `1d` (calendar: `minute`, `hour`, `day`, `1d`...); months and years are
/// not fixed lengths and are refused.
fn interval_ms(spec: &str, calendar: bool) -> Result<u64, Unsupported> {
    let s = spec.trim();
    let named = match s {
        "minute" | "1m" => Some(60_000),
        "hour" | "1h" => Some(3_600_000),
        "day" | "1d" => Some(86_400_000),
        "week" | "1w" => Some(7 * 86_400_000),
        _ => None,
    };
    if let Some(ms) = named {
        return Ok(ms);
    }
    if calendar {
        return Err(Unsupported(format!("calendar_interval [{spec}]: use minute, hour, day, week or a fixed_interval")));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| Unsupported(format!("interval [{spec}]")))?;
    let per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(Unsupported(format!("interval [{spec}]: units ms, s, m, h, d"))),
    };
    match n * per {
        0 => Err(Unsupported(format!("interval [{spec}] is zero"))),
        ms => Ok(ms),
    }
}

/// Runs a plan on a snapshot; the Elasticsearch reply.
pub(crate) fn run(engine: &QueryEngine, windows: &[WindowSnapshot], plan: &Plan) -> Result<Value, QueryError> {
    let started = std::time::Instant::now();
    let filter = plan.filter();
    let res = engine.search(windows, &plan.search_request())?;
    let mut aggregations = Map::new();
    for (name, agg) in &plan.aggs {
        let v = match agg {
            Agg::DateHistogram { interval_ms, min_doc_count, .. } => {
                let h = engine.histogram(windows, &histogram_request(&filter, *interval_ms))?;
                histogram_json(&h, *min_doc_count)
            }
            Agg::Terms { field, size } => {
                let t = engine.terms(windows, &TermsRequest { filter: filter.clone(), field: field.clone(), size: Some(*size) })?;
                // Elasticsearch's other count leaves out the events without the field.
                let with_field = engine.count(windows, &plan.with_field(field))?;
                terms_json(&t, with_field)
            }
            Agg::Metric { kind, field } => {
                let s = engine.field_stats(windows, &filter, field)?;
                let numeric = engine.schema().kind(field) == Some(loglynx_store::FieldKind::Numeric);
                if *kind != Metric::Cardinality && !numeric {
                    return Err(QueryError::BadRequest(format!(
                        "field [{field}] is not numeric: {kind:?} needs a numeric field such as process.pid (cardinality works on any aggregatable field)"
                    )
                    .to_lowercase()));
                }
                let value = match kind {
                    Metric::Min => json!(s.min.map(|v| v as f64)),
                    Metric::Max => json!(s.max.map(|v| v as f64)),
                    Metric::Sum => json!(s.sum.unwrap_or(0) as f64),
                    Metric::Avg => json!(s.avg()),
                    Metric::Cardinality => json!(s.distinct),
                };
                json!({ "value": value })
            }
        };
        aggregations.insert(name.clone(), v);
    }
    Ok(reply_json(plan, &res, aggregations, started, &[]))
}

/// Runs a plan through the leaves (`serve` as root): search, date histograms and terms are
/// merged by the root; metric aggregations are refused (the leaves do not merge field stats
/// yet). Pieces no leaf answered are reported as failed shards, as Elasticsearch does for a
/// partial answer.
pub(crate) async fn run_root(root: &loglynx_search::Root, plan: &Plan) -> Result<Value, crate::error::ApiError> {
    use crate::error::ApiError;
    let started = std::time::Instant::now();
    let filter = plan.filter();
    let res = root.search(plan.search_request()).await?;
    let mut missing = res.missing;
    let mut aggregations = Map::new();
    for (name, agg) in &plan.aggs {
        let v = match agg {
            Agg::DateHistogram { interval_ms, min_doc_count, .. } => {
                let h = root.histogram(histogram_request(&filter, *interval_ms)).await?;
                missing.extend(h.missing);
                histogram_json(&h.body, *min_doc_count)
            }
            Agg::Terms { field, size } => {
                let t = root.terms(TermsRequest { filter: filter.clone(), field: field.clone(), size: Some(*size) }).await?;
                let with_field = root.count(plan.with_field(field)).await?;
                missing.extend(t.missing);
                missing.extend(with_field.missing);
                terms_json(&t.body, with_field.body)
            }
            Agg::Metric { kind, .. } => {
                return Err(ApiError::InvalidQuery(format!(
                    "{kind:?} aggregations are not supported through the leaves (serve --leaves/--catalog): use terms or date_histogram, or query a worker's own serve"
                )
                .to_lowercase()))
            }
        };
        aggregations.insert(name.clone(), v);
    }
    missing.sort_by_key(|m| (m.partition, m.from, m.leaf.clone()));
    missing.dedup();
    Ok(reply_json(plan, &res.body, aggregations, started, &missing))
}

impl Plan {
    fn filter(&self) -> Filter {
        Filter { query: self.query.clone(), start: None, end: None }
    }

    fn search_request(&self) -> SearchRequest {
        SearchRequest { filter: self.filter(), limit: self.size.min(MAX_LIMIT), offset: self.from, sort: self.sort }
    }

    /// The events of the query that have `field`.
    fn with_field(&self, field: &str) -> Filter {
        Filter { query: format!("({}) AND {field}:*", self.query), start: None, end: None }
    }
}

fn histogram_request(filter: &Filter, interval_ms: u64) -> HistogramRequest {
    HistogramRequest { filter: filter.clone(), interval_ms: Some(interval_ms), target_buckets: Some(MAX_BUCKETS) }
}

fn histogram_json(h: &loglynx_query::HistogramResponse, min_doc_count: u64) -> Value {
    let buckets: Vec<Value> = h
        .buckets
        .iter()
        .filter(|b| b.count >= min_doc_count)
        .map(|b| json!({"key": b.start.as_millis(), "key_as_string": b.start.to_rfc3339(), "doc_count": b.count}))
        .collect();
    json!({ "buckets": buckets })
}

fn terms_json(t: &loglynx_query::TermsResponse, with_field: u64) -> Value {
    let in_buckets: u64 = t.buckets.iter().map(|b| b.count).sum();
    let buckets: Vec<Value> = t.buckets.iter().map(|b| json!({"key": b.value, "doc_count": b.count})).collect();
    json!({
        "doc_count_error_upper_bound": 0,
        "sum_other_doc_count": with_field.saturating_sub(in_buckets),
        "buckets": buckets,
    })
}

/// The reply; each missing piece (through the leaves) is a failed shard with its reason.
fn reply_json(
    plan: &Plan,
    res: &loglynx_query::SearchResponse,
    aggregations: Map<String, Value>,
    started: std::time::Instant,
    missing: &[loglynx_search::Missing],
) -> Value {
    let hits: Vec<Value> = res.hits.iter().map(hit).collect();
    let mut hits_obj = json!({ "max_score": null, "hits": hits });
    if let Some(limit) = plan.track_total {
        let (value, relation) = match limit {
            Some(n) if res.total > n => (n, "gte"),
            _ => (res.total, "eq"),
        };
        hits_obj["total"] = json!({ "value": value, "relation": relation });
    }
    let failures: Vec<Value> = missing
        .iter()
        .map(|m| {
            json!({
                "shard": m.partition,
                "index": INDEX,
                "node": m.leaf,
                "reason": {"type": "leaf_unavailable", "reason": format!("offsets {}..{}: {}", m.from, m.to.map(|t| t.to_string()).unwrap_or_default(), m.reason)},
            })
        })
        .collect();
    let mut shards = json!({"total": 1 + failures.len(), "successful": 1, "skipped": 0, "failed": failures.len()});
    if !failures.is_empty() {
        shards["failures"] = Value::Array(failures);
    }
    let mut reply = json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "_shards": shards,
        "hits": hits_obj,
    });
    if !plan.aggs.is_empty() {
        reply["aggregations"] = Value::Object(aggregations);
    }
    reply
}

fn hit(e: &Event) -> Value {
    json!({
        "_index": INDEX,
        "_id": e.id,
        "_score": null,
        "_source": e,
        "sort": [e.timestamp.as_millis()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_and_the_unsupported_named() {
        let p = plan(&json!({"size": 5, "from": 10, "sort": [{"@timestamp": {"order": "asc"}}],
            "track_total_hits": 100, "query": {"match_all": {}},
            "aggs": {"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "30s"}},
                     "t": {"terms": {"field": "host.name.keyword", "size": 3}}}}))
        .unwrap();
        assert_eq!((p.size, p.from, p.sort, p.track_total), (5, 10, SortOrder::Asc, Some(Some(100))));
        assert!(matches!(&p.aggs[0].1, Agg::DateHistogram { interval_ms: 30_000, .. }));
        assert!(matches!(&p.aggs[1].1, Agg::Terms { field, size: 3 } if field == "host.name"));
        let e = |b: Value| plan(&b).unwrap_err().0;
        assert!(e(json!({"suggest": {}})).contains("unsupported search option [suggest]"));
        assert!(e(json!({"script_fields": {"x": {}}})).contains("scripts are not supported"));
        assert!(e(json!({"aggs": {"a": {"percentiles": {"field": "process.pid"}}}})).contains("unsupported aggregation type [percentiles]"));
        assert!(matches!(plan(&json!({"aggs": {"a": {"avg": {"field": "process.pid"}}}})).unwrap().aggs[0].1, Agg::Metric { kind: Metric::Avg, .. }));
        assert!(e(json!({"aggs": {"a": {"terms": {"field": "x"}, "aggs": {}}}})).contains("sub-aggregations"));
        assert!(e(json!({"sort": ["host.name"]})).contains("sorts by @timestamp only"));
        assert!(e(json!({"size": 9000, "from": 2000})).contains("result window"));
        assert!(e(json!({"aggs": {"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "month"}}}})).contains("calendar_interval [month]"));
    }
}
