//! `_search` and `_msearch`: an Elasticsearch search body -> the engine's search, histogram,
//! terms and field stats -> Elasticsearch's reply shape. The query is translated by `dsl.rs`,
//! the aggregations read and run by `aggs.rs`; this module reads the rest of the body (size,
//! from, sort, track_total_hits, pit, search_after) and refuses, with its name, anything it
//! does not support. With a `pit` the search pages a point in time with `search_after`.

use loglynx_core::Event;
use loglynx_query::{
    Filter, PageRequest, QueryEngine, QueryError, SearchRequest, SortOrder, MAX_LIMIT,
};
use loglynx_store::WindowSnapshot;
use serde_json::{json, Map, Value};

use super::aggs;
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
    aggs: Vec<(String, aggs::Agg)>,
    /// `pit`: the point in time's id and the keep-alive to renew it with.
    pit: Option<(String, Option<String>)>,
    /// `search_after`: the position of the last hit read (the tiebreaker sort value).
    after: Option<u64>,
}

impl Plan {
    /// The point in time the search runs on, and its new keep-alive.
    pub(crate) fn pit(&self) -> Option<(&str, Option<&str>)> {
        self.pit.as_ref().map(|(id, k)| (id.as_str(), k.as_deref()))
    }
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
        "timeout", "highlight", "script_fields", "pit", "search_after",
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
    let pit = match obj.get("pit") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            if let Some(k) = p.keys().find(|k| !matches!(k.as_str(), "id" | "keep_alive")) {
                return Err(Unsupported(format!("unsupported pit option [{k}]: id and keep_alive")));
            }
            let id = p.get("id").and_then(Value::as_str).ok_or_else(|| Unsupported("[pit] needs an id (from POST /_pit)".into()))?;
            let keep_alive = match p.get("keep_alive") {
                None | Some(Value::Null) => None,
                Some(Value::String(k)) => Some(k.clone()),
                Some(v) => return Err(Unsupported(format!("[pit.keep_alive] must be a duration such as \"1m\", got {v}"))),
            };
            Some((id.to_string(), keep_alive))
        }
        Some(v) => return Err(Unsupported(format!("[pit] must be an object {{\"id\": ..., \"keep_alive\": ...}}, got {v}"))),
    };
    let after = match obj.get("search_after") {
        None | Some(Value::Null) => None,
        Some(v) => {
            if pit.is_none() {
                return Err(Unsupported(
                    "[search_after] needs a [pit]: open one with POST /_pit?keep_alive=1m and send {\"pit\": {\"id\": ...}} with every page".into(),
                ));
            }
            match v.as_array().map(Vec::as_slice) {
                Some([t, pos]) if t.is_number() => Some(pos.as_u64().ok_or_else(|| {
                    Unsupported(format!("[search_after] {v}: the second value is the tiebreaker of a hit's sort values, a non-negative integer"))
                })?),
                _ => {
                    return Err(Unsupported(format!(
                        "[search_after] {v}: pass back the sort values of the last hit, [@timestamp, tiebreaker]"
                    )))
                }
            }
        }
    };
    if pit.is_some() && from > 0 {
        return Err(Unsupported("[from] with a [pit]: page with search_after instead".into()));
    }
    let aggs = match obj.get("aggs").or_else(|| obj.get("aggregations")) {
        Some(a) => aggs::parse(a)?,
        None => Vec::new(),
    };
    Ok(Plan { query, size, from, sort, track_total, aggs, pit, after })
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
        // Grafana adds `_doc` as a tie-break, a point-in-time walk `_shard_doc`: events with
        // one timestamp come in store order.
        Some(Value::Array(a)) if a.len() == 2 && is_doc(&a[1]) => {
            if a[1].get("_shard_doc").is_some_and(|o| o == "desc" || o.get("order").is_some_and(|x| x == "desc")) {
                return Err(Unsupported("[_shard_doc] desc: loglynx breaks ties by ascending _shard_doc".into()));
            }
            one(&a[0])
        }
        Some(Value::Array(_)) => Err(Unsupported("sort on several keys: loglynx sorts by @timestamp only".into())),
        Some(s) => one(s),
    }
}

/// `"_doc"`, `"_shard_doc"` or `{"_doc": ...}`, `{"_shard_doc": ...}`.
fn is_doc(v: &Value) -> bool {
    v == "_doc"
        || v == "_shard_doc"
        || v.as_object().is_some_and(|m| m.len() == 1 && (m.contains_key("_doc") || m.contains_key("_shard_doc")))
}

/// Runs a plan on a snapshot; the Elasticsearch reply.
pub(crate) fn run(engine: &QueryEngine, windows: &[WindowSnapshot], plan: &Plan) -> Result<Value, QueryError> {
    let started = std::time::Instant::now();
    let filter = Filter { query: plan.query.clone(), start: None, end: None };
    let (total, hits): (u64, Vec<Value>) = match &plan.pit {
        None => {
            let res = engine.search(windows, &plan.search_request())?;
            (res.total, res.hits.iter().map(|e| hit(e, None)).collect())
        }
        Some(_) => {
            let page = engine.search_after(
                windows,
                &PageRequest {
                    filter: filter.clone(),
                    limit: plan.size.min(MAX_LIMIT),
                    sort: plan.sort,
                    after: plan.after,
                    count_total: plan.track_total.is_some(),
                },
            )?;
            (page.total.unwrap_or(0), page.hits.iter().map(|(e, pos)| hit(e, Some(*pos))).collect())
        }
    };
    let aggregations = aggs::run(engine, windows, &filter, &plan.aggs, &mut aggs::Buckets::default())?;
    Ok(reply_json(plan, total, hits, aggregations, started, &[]))
}

/// Runs a plan through the leaves (`serve` as root): search, and top-level date histograms and
/// terms (counted by `_count`, without sub-aggregations) are merged by the root; metric and
/// nested aggregations are refused (the leaves do not merge field stats or per-bucket
/// sub-aggregations yet). Pieces no leaf answered are reported as failed shards, as
/// Elasticsearch does for a partial answer.
pub(crate) async fn run_root(root: &loglynx_search::Root, plan: &Plan) -> Result<Value, crate::error::ApiError> {
    use crate::error::ApiError;
    let started = std::time::Instant::now();
    let filter = Filter { query: plan.query.clone(), start: None, end: None };
    let res = root.search(plan.search_request()).await?;
    let mut missing = res.missing;
    let mut aggregations = Map::new();
    let through_leaves = |what: &str| {
        ApiError::InvalidQuery(format!(
            "{what} is not supported through the leaves (serve --leaves/--catalog): use top-level terms (ordered by _count) or date_histogram, or query a worker's own serve"
        ))
    };
    for (name, agg) in &plan.aggs {
        let v = match agg {
            aggs::Agg::DateHistogram { interval_ms, min_doc_count, bounds: None, epoch_millis, align_ms: 0, zone: None, subs }
                if subs.is_empty() =>
            {
                let h = root
                    .histogram(loglynx_query::HistogramRequest {
                        filter: filter.clone(),
                        interval_ms: Some(*interval_ms),
                        target_buckets: Some(loglynx_query::MAX_BUCKETS),
                        time_zone: None,
                    })
                    .await?;
                missing.extend(h.missing);
                let buckets: Vec<Value> = h
                    .body
                    .buckets
                    .iter()
                    .filter(|b| b.count >= *min_doc_count)
                    .map(|b| {
                        let key = b.start.as_millis();
                        let key_as_string = if *epoch_millis { key.to_string() } else { b.start.to_rfc3339() };
                        json!({"key": key, "key_as_string": key_as_string, "doc_count": b.count})
                    })
                    .collect();
                json!({ "buckets": buckets })
            }
            aggs::Agg::Terms { field, size, min_doc_count, order: aggs::Order::CountDesc, subs } if subs.is_empty() => {
                let t = root
                    .terms(loglynx_query::TermsRequest { filter: filter.clone(), field: field.clone(), size: Some(*size) })
                    .await?;
                let with_field = root.count(plan.with_field(field)).await?;
                missing.extend(t.missing);
                missing.extend(with_field.missing);
                let kept: Vec<_> = t.body.buckets.iter().filter(|b| b.count >= *min_doc_count).collect();
                let in_buckets: u64 = kept.iter().map(|b| b.count).sum();
                let buckets: Vec<Value> = kept.iter().map(|b| json!({"key": b.value, "doc_count": b.count})).collect();
                json!({
                    "doc_count_error_upper_bound": 0,
                    "sum_other_doc_count": with_field.body.saturating_sub(in_buckets),
                    "buckets": buckets,
                })
            }
            aggs::Agg::DateHistogram { .. } => {
                return Err(through_leaves("a date_histogram with sub-aggregations, extended_bounds, time_zone, offset or a calendar week"))
            }
            aggs::Agg::Terms { .. } => return Err(through_leaves("a terms aggregation with sub-aggregations or an order other than _count")),
            aggs::Agg::Metric { kind, .. } => return Err(through_leaves(&format!("a {kind:?} aggregation").to_lowercase())),
        };
        aggregations.insert(name.clone(), v);
    }
    missing.sort_by_key(|m| (m.partition, m.from, m.leaf.clone()));
    missing.dedup();
    let hits = res.body.hits.iter().map(|e| hit(e, None)).collect();
    Ok(reply_json(plan, res.body.total, hits, aggregations, started, &missing))
}

/// A page of a point in time through the leaves (`serve` as root): the hits' sort values are
/// `[@timestamp ms, root position]`; offsets missing from the point in time are failed shards.
/// Aggregations are refused with a pit here (the leaves' points in time answer pages only).
pub(crate) async fn run_root_pit(
    root: &loglynx_search::Root,
    pit: &loglynx_search::RootPit,
    plan: &Plan,
) -> Result<Value, crate::error::ApiError> {
    use crate::error::ApiError;
    if !plan.aggs.is_empty() {
        return Err(ApiError::InvalidQuery(
            "aggregations with a [pit] are not supported through the leaves (serve --leaves/--catalog): send them without the pit".into(),
        ));
    }
    let started = std::time::Instant::now();
    let filter = Filter { query: plan.query.clone(), start: None, end: None };
    let keep_alive = match plan.pit.as_ref().and_then(|(_, k)| k.as_deref()) {
        Some(k) => Some(humantime::parse_duration(k.trim()).map_err(|e| ApiError::BadRequest(format!("invalid [pit.keep_alive] {k:?} ({e})")))?),
        None => None,
    };
    let page = root.pit_page(pit, &filter, plan.size.min(MAX_LIMIT), plan.sort, plan.after, keep_alive).await?;
    let hits = page.hits.iter().map(|(e, pos)| hit(e, Some(*pos))).collect();
    Ok(reply_json(plan, page.total, hits, Map::new(), started, &page.missing))
}

impl Plan {
    fn search_request(&self) -> SearchRequest {
        SearchRequest {
            filter: Filter { query: self.query.clone(), start: None, end: None },
            limit: self.size.min(MAX_LIMIT),
            offset: self.from,
            sort: self.sort,
        }
    }

    /// The events of the query that have `field`.
    fn with_field(&self, field: &str) -> Filter {
        Filter { query: format!("({}) AND {field}:*", self.query), start: None, end: None }
    }
}

/// The reply; each missing piece (through the leaves) is a failed shard with its reason.
fn reply_json(
    plan: &Plan,
    total: u64,
    hits: Vec<Value>,
    aggregations: Map<String, Value>,
    started: std::time::Instant,
    missing: &[loglynx_search::Missing],
) -> Value {
    let mut hits_obj = json!({ "max_score": null, "hits": hits });
    if let Some(limit) = plan.track_total {
        let (value, relation) = match limit {
            Some(n) if total > n => (n, "gte"),
            _ => (total, "eq"),
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
    if let Some((id, _)) = &plan.pit {
        reply["pit_id"] = json!(id);
    }
    reply
}

/// A hit; its sort values are `[@timestamp ms]`, or `[@timestamp ms, position]` in a point
/// in time (the position is the `_shard_doc` tiebreaker `search_after` takes back).
fn hit(e: &Event, position: Option<u64>) -> Value {
    let sort = match position {
        None => json!([e.timestamp.as_millis()]),
        Some(p) => json!([e.timestamp.as_millis(), p]),
    };
    json!({ "_index": INDEX, "_id": e.id, "_score": null, "_source": e, "sort": sort })
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
        assert!(matches!(&p.aggs[0].1, aggs::Agg::DateHistogram { interval_ms: 30_000, .. }));
        assert!(matches!(&p.aggs[1].1, aggs::Agg::Terms { field, size: 3, .. } if field == "host.name"));
        let e = |b: Value| plan(&b).unwrap_err().0;
        assert!(e(json!({"suggest": {}})).contains("unsupported search option [suggest]"));
        assert!(e(json!({"script_fields": {"x": {}}})).contains("scripts are not supported"));
        assert!(e(json!({"aggs": {"a": {"percentiles": {"field": "process.pid"}}}})).contains("unsupported aggregation type [percentiles]"));
        assert!(matches!(plan(&json!({"aggs": {"a": {"avg": {"field": "process.pid"}}}})).unwrap().aggs[0].1, aggs::Agg::Metric { kind: aggs::Metric::Avg, .. }));
        assert!(e(json!({"search_after": [1, 2]})).contains("needs a [pit]"));
        assert!(e(json!({"pit": {"id": "x"}, "search_after": [1]})).contains("[@timestamp, tiebreaker]"));
        assert!(e(json!({"pit": {"id": "x"}, "sort": [{"@timestamp": "asc"}, {"_shard_doc": "desc"}]})).contains("_shard_doc"));
        let p = plan(&json!({"pit": {"id": "x", "keep_alive": "1m"}, "sort": [{"@timestamp": "asc"}, {"_shard_doc": "asc"}], "search_after": [5, 7]})).unwrap();
        assert_eq!((p.pit(), p.after, p.sort), (Some(("x", Some("1m"))), Some(7), SortOrder::Asc));
        assert!(e(json!({"sort": ["host.name"]})).contains("sorts by @timestamp only"));
        assert!(e(json!({"size": 9000, "from": 2000})).contains("result window"));
        assert!(e(json!({"aggs": {"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "month"}}}})).contains("calendar_interval [month]"));
    }
}
