//! Elasticsearch aggregations, nested: `date_histogram` and `terms` buckets with
//! sub-aggregations (`terms` or `date_histogram` under either, metrics under both), as
//! Grafana's Elasticsearch data source sends for "metric per bucket" and "group by" panels.
//!
//! Each level runs on the engine's own aggregations (histogram, terms, field stats), so the
//! numbers are the same as `/api/v1/histogram`, `/api/v1/terms`; a bucket's sub-aggregations
//! run with the bucket's condition added to the filter (its time range, or `field:"value"`).
//! That costs one engine call per bucket and sub-aggregation, so the buckets a request may
//! open with sub-aggregations are capped ([`MAX_NESTED_BUCKETS`]); empty buckets cost nothing.
//! Anything else is refused with its name.

use loglynx_core::Timestamp;
use loglynx_query::{Filter, HistogramRequest, QueryEngine, QueryError, TermsRequest, MAX_BUCKETS, MAX_TERMS};
use loglynx_store::{FieldKind, WindowSnapshot};
use serde_json::{json, Map, Value};

use super::dsl::{term, Unsupported};

/// Buckets whose sub-aggregations one request may compute (Elasticsearch's
/// `search.max_buckets` is 65,536; here each costs engine calls).
pub(crate) const MAX_NESTED_BUCKETS: usize = 10_000;

/// Most buckets one request's aggregations emit at all levels together (Elasticsearch's
/// `search.max_buckets` default): padded histograms under other buckets multiply.
pub(crate) const MAX_EMITTED_BUCKETS: usize = 65_536;

/// What a request's aggregations have cost so far: buckets opened for sub-aggregations
/// (engine calls, [`MAX_NESTED_BUCKETS`]) and buckets emitted ([`MAX_EMITTED_BUCKETS`]).
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    opened: usize,
    emitted: usize,
}

impl Buckets {
    /// Counts `n` more buckets in the reply; an error past [`MAX_EMITTED_BUCKETS`], before
    /// they are built.
    fn emit(&mut self, n: usize) -> Result<(), QueryError> {
        self.emitted = self.emitted.saturating_add(n);
        if self.emitted > MAX_EMITTED_BUCKETS {
            return Err(QueryError::BadRequest(format!(
                "the aggregations would return more than {MAX_EMITTED_BUCKETS} buckets: widen the interval, lower the terms size, narrow extended_bounds or the time range"
            )));
        }
        Ok(())
    }
}

/// One aggregation of a request.
#[derive(Debug)]
pub(crate) enum Agg {
    DateHistogram {
        interval_ms: u64,
        min_doc_count: u64,
        /// `extended_bounds` (ms): empty buckets from `min` to `max` when `min_doc_count` is 0.
        bounds: Option<(i64, i64)>,
        /// `format: epoch_millis`: `key_as_string` is the key in ms.
        epoch_millis: bool,
        subs: Vec<(String, Agg)>,
    },
    Terms {
        field: String,
        size: usize,
        min_doc_count: u64,
        order: Order,
        subs: Vec<(String, Agg)>,
    },
    /// `min`, `max`, `avg`, `sum`, `value_count` (numeric fields; `value_count` any
    /// aggregatable field) and `cardinality` (any aggregatable field).
    Metric { kind: Metric, field: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    Min,
    Max,
    Avg,
    Sum,
    ValueCount,
    Cardinality,
}

/// The order of terms buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    CountDesc,
    CountAsc,
    KeyAsc,
    KeyDesc,
}

/// Reads an `aggs` object.
pub(crate) fn parse(v: &Value) -> Result<Vec<(String, Agg)>, Unsupported> {
    let a = v.as_object().ok_or_else(|| Unsupported("[aggs] must be an object".into()))?;
    a.iter().map(|(name, def)| Ok((name.clone(), agg(name, def)?))).collect()
}

fn agg(name: &str, def: &Value) -> Result<Agg, Unsupported> {
    let obj = def.as_object().ok_or_else(|| Unsupported(format!("aggregation [{name}] must be an object")))?;
    let subs = match obj.get("aggs").or_else(|| obj.get("aggregations")) {
        Some(s) => parse(s)?,
        None => Vec::new(),
    };
    let types: Vec<&String> = obj.keys().filter(|k| *k != "aggs" && *k != "aggregations").collect();
    let [kind] = types.as_slice() else {
        return Err(Unsupported(format!("aggregation [{name}] must have exactly one type")));
    };
    let body = &obj[kind.as_str()];
    let b = body.as_object().ok_or_else(|| Unsupported(format!("[{name}.{kind}] must be an object")))?;
    let known = |list: &[&str]| -> Result<(), Unsupported> {
        match b.keys().find(|k| !list.contains(&k.as_str())) {
            Some(k) => Err(Unsupported(format!("unsupported option [{kind}.{k}] in [{name}]"))),
            None => Ok(()),
        }
    };
    let field = b.get("field").and_then(Value::as_str).map(|f| f.strip_suffix(".keyword").unwrap_or(f).to_string());
    match kind.as_str() {
        "date_histogram" => {
            known(&["field", "fixed_interval", "calendar_interval", "interval", "min_doc_count", "format", "extended_bounds"])?;
            let field = field.unwrap_or_default();
            if field != "@timestamp" {
                return Err(Unsupported(format!("date_histogram on [{field}]: only @timestamp")));
            }
            let spec = b
                .get("fixed_interval")
                .or_else(|| b.get("interval"))
                .or_else(|| b.get("calendar_interval"))
                .and_then(Value::as_str)
                .ok_or_else(|| Unsupported(format!("date_histogram [{name}] needs fixed_interval")))?;
            let interval_ms = interval_ms(spec, b.contains_key("calendar_interval"))?;
            let min_doc_count = b.get("min_doc_count").map_or(Ok(0), |v| count("date_histogram.min_doc_count", v))?;
            let bounds = match b.get("extended_bounds") {
                None => None,
                Some(e) => {
                    let ms = |k: &str| -> Result<i64, Unsupported> {
                        let v = e.get(k).ok_or_else(|| Unsupported(format!("[extended_bounds] needs {k}")))?;
                        v.as_i64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                            .ok_or_else(|| Unsupported(format!("[extended_bounds.{k}] {v}: give epoch milliseconds")))
                    };
                    Some((ms("min")?, ms("max")?))
                }
            };
            let epoch_millis = match b.get("format") {
                None => false,
                Some(f) if f == "epoch_millis" => true,
                Some(f) => return Err(Unsupported(format!("date_histogram format [{f}]: only epoch_millis"))),
            };
            Ok(Agg::DateHistogram { interval_ms, min_doc_count, bounds, epoch_millis, subs })
        }
        "terms" => {
            known(&["field", "size", "order", "min_doc_count", "shard_size"])?;
            let field = field.ok_or_else(|| Unsupported(format!("terms [{name}] needs a field")))?;
            let size = b.get("size").map_or(Ok(10), |v| count("terms.size", v))? as usize;
            let min_doc_count = b.get("min_doc_count").map_or(Ok(1), |v| count("terms.min_doc_count", v))?;
            if min_doc_count == 0 {
                return Err(Unsupported("terms min_doc_count 0 (buckets for values no event has) is not supported".into()));
            }
            let order = match b.get("order") {
                None => Order::CountDesc,
                Some(o) => order(o)?,
            };
            Ok(Agg::Terms { field, size: size.min(MAX_TERMS), min_doc_count, order, subs })
        }
        "min" | "max" | "avg" | "sum" | "value_count" | "cardinality" => {
            known(&["field", "precision_threshold"])?;
            if !subs.is_empty() {
                return Err(Unsupported(format!("metric aggregation [{name}] ({kind}) cannot have sub-aggregations")));
            }
            let field = field.ok_or_else(|| Unsupported(format!("{kind} [{name}] needs a field")))?;
            let kind = match kind.as_str() {
                "min" => Metric::Min,
                "max" => Metric::Max,
                "avg" => Metric::Avg,
                "sum" => Metric::Sum,
                "value_count" => Metric::ValueCount,
                _ => Metric::Cardinality,
            };
            Ok(Agg::Metric { kind, field })
        }
        other => Err(Unsupported(format!(
            "unsupported aggregation type [{other}] in [{name}]: loglynx supports date_histogram, terms, min, max, avg, sum, value_count and cardinality"
        ))),
    }
}

fn count(what: &str, v: &Value) -> Result<u64, Unsupported> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| Unsupported(format!("[{what}] must be a non-negative integer, got {v}")))
}

/// `{"_count": "desc"}`, `{"_key": "asc"}` (`_term` is `_key`'s old name); one key.
fn order(o: &Value) -> Result<Order, Unsupported> {
    let one = o.as_array().map_or(Some(o), |a| if a.len() == 1 { a.first() } else { None });
    let m = one.and_then(Value::as_object).filter(|m| m.len() == 1);
    let Some((k, dir)) = m.and_then(|m| m.iter().next()) else {
        return Err(Unsupported(format!("terms order [{o}]: one of {{\"_count\"|\"_key\": \"asc\"|\"desc\"}}")));
    };
    match (k.as_str(), dir.as_str()) {
        ("_count", Some("desc")) => Ok(Order::CountDesc),
        ("_count", Some("asc")) => Ok(Order::CountAsc),
        ("_key" | "_term", Some("asc")) => Ok(Order::KeyAsc),
        ("_key" | "_term", Some("desc")) => Ok(Order::KeyDesc),
        ("_count" | "_key" | "_term", _) => Err(Unsupported(format!("terms order [{o}]: asc or desc"))),
        (k, _) => Err(Unsupported(format!(
            "terms order by [{k}] (a sub-aggregation): loglynx orders terms by _count or _key"
        ))),
    }
}

/// `30s`, `1m`, `1h`, `1d` (calendar: `minute`, `hour`, `day`, `week`, `1d`...); months and
/// years are not fixed lengths and are refused.
pub(crate) fn interval_ms(spec: &str, calendar: bool) -> Result<u64, Unsupported> {
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
    match n.saturating_mul(per) {
        0 => Err(Unsupported(format!("interval [{spec}] is zero"))),
        ms => Ok(ms),
    }
}

/// `q AND clause` (just `clause` when `q` matches everything).
fn and(q: &str, clause: &str) -> String {
    match q.trim() {
        "" | "*" => clause.to_string(),
        q => format!("({q}) AND {clause}"),
    }
}

/// Runs `aggs` over the events matching `filter`; `nested` counts the buckets opened for
/// sub-aggregations so far and the buckets emitted at every level (both capped).
pub(crate) fn run(
    engine: &QueryEngine,
    windows: &[WindowSnapshot],
    filter: &Filter,
    aggs: &[(String, Agg)],
    nested: &mut Buckets,
) -> Result<Map<String, Value>, QueryError> {
    let mut out = Map::new();
    for (name, agg) in aggs {
        let v = match agg {
            Agg::DateHistogram { interval_ms, min_doc_count, bounds, epoch_millis, subs } => {
                let h = engine.histogram(
                    windows,
                    &HistogramRequest { filter: filter.clone(), interval_ms: Some(*interval_ms), target_buckets: Some(MAX_BUCKETS) },
                )?;
                let width = i64::try_from(*interval_ms).unwrap_or(i64::MAX).max(1);
                // Keys (ms) and counts, padded to extended_bounds when empty buckets are asked.
                let mut buckets: Vec<(i64, u64)> = h.buckets.iter().map(|b| (b.start.as_millis(), b.count)).collect();
                if let (Some((lo, hi)), 0) = (bounds, min_doc_count) {
                    let out_of_range = || QueryError::BadRequest("extended_bounds is out of range: give min and max as epoch milliseconds or dates".into());
                    let first = lo.div_euclid(width).checked_mul(width).ok_or_else(out_of_range)?;
                    let last = hi.div_euclid(width).checked_mul(width).ok_or_else(out_of_range)?;
                    let lo_key = buckets.first().map_or(first, |b| b.0.min(first));
                    let hi_key = buckets.last().map_or(last, |b| b.0.max(last));
                    let n = hi_key.checked_sub(lo_key).map_or(usize::MAX, |d| usize::try_from(d / width).unwrap_or(usize::MAX).saturating_add(1));
                    if n > MAX_BUCKETS {
                        return Err(QueryError::TooLarge { what: "bucket count (widen the interval)", value: n, max: MAX_BUCKETS });
                    }
                    nested.emit(n)?;
                    let mut padded: Vec<(i64, u64)> = (0..n as i64).map(|i| (lo_key + i * width, 0)).collect();
                    for (k, c) in buckets {
                        padded[((k - lo_key) / width) as usize].1 = c;
                    }
                    buckets = padded;
                } else {
                    nested.emit(buckets.len())?;
                }
                let mut list = Vec::new();
                for (key, count) in buckets.into_iter().filter(|b| b.1 >= *min_doc_count) {
                    let key_as_string = if *epoch_millis { key.to_string() } else { Timestamp::from_millis(key).to_rfc3339() };
                    let mut b = json!({"key": key, "key_as_string": key_as_string, "doc_count": count});
                    if !subs.is_empty() {
                        let start = Timestamp::from_millis(key).max(filter.start.unwrap_or(Timestamp::from_millis(key)));
                        let end = Timestamp::from_millis(key + width);
                        let end = filter.end.map_or(end, |e| e.min(end));
                        let sub = Filter { query: filter.query.clone(), start: Some(start), end: Some(end) };
                        merge(&mut b, sub_aggs(engine, windows, &sub, subs, count, nested)?);
                    }
                    list.push(b);
                }
                json!({ "buckets": list })
            }
            Agg::Terms { field, size, min_doc_count, order, subs } => {
                let numeric = engine.schema().kind(field) == Some(FieldKind::Numeric);
                let by_key = matches!(order, Order::KeyAsc | Order::KeyDesc);
                let ask = if by_key || *order == Order::CountAsc { MAX_TERMS } else { *size };
                let t = engine.terms(windows, &TermsRequest { filter: filter.clone(), field: field.clone(), size: Some(ask) })?;
                let mut buckets: Vec<(String, u64)> =
                    t.buckets.iter().filter(|b| b.count >= *min_doc_count).map(|b| (b.value.clone(), b.count)).collect();
                let key_cmp = |a: &String, b: &String| match (numeric, a.parse::<f64>(), b.parse::<f64>()) {
                    (true, Ok(x), Ok(y)) => x.total_cmp(&y),
                    _ => a.cmp(b),
                };
                match order {
                    Order::CountDesc => {}
                    Order::CountAsc => buckets.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| key_cmp(&a.0, &b.0))),
                    Order::KeyAsc => buckets.sort_by(|a, b| key_cmp(&a.0, &b.0)),
                    Order::KeyDesc => buckets.sort_by(|a, b| key_cmp(&b.0, &a.0)),
                }
                buckets.truncate(*size);
                nested.emit(buckets.len())?;
                // Elasticsearch's other count leaves out the events without the field.
                let with_field = engine.count(windows, &Filter { query: and(&filter.query, &format!("{field}:*")), ..filter.clone() })?;
                let in_buckets: u64 = buckets.iter().map(|b| b.1).sum();
                let mut list = Vec::new();
                for (value, count) in buckets {
                    let key = match (numeric, value.parse::<i64>()) {
                        (true, Ok(n)) => json!(n),
                        _ => json!(value),
                    };
                    let mut b = json!({"key": key, "doc_count": count});
                    if !subs.is_empty() {
                        let sub = Filter { query: and(&filter.query, &term(field, &value)), ..filter.clone() };
                        merge(&mut b, sub_aggs(engine, windows, &sub, subs, count, nested)?);
                    }
                    list.push(b);
                }
                json!({
                    "doc_count_error_upper_bound": 0,
                    "sum_other_doc_count": with_field.saturating_sub(in_buckets),
                    "buckets": list,
                })
            }
            Agg::Metric { kind, field } => metric(engine, windows, filter, *kind, field)?,
        };
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// A bucket's sub-aggregations: over the bucket's filter, or over nothing when it is empty.
fn sub_aggs(
    engine: &QueryEngine,
    windows: &[WindowSnapshot],
    filter: &Filter,
    subs: &[(String, Agg)],
    count: u64,
    nested: &mut Buckets,
) -> Result<Map<String, Value>, QueryError> {
    if count == 0 {
        return run(engine, &[], filter, subs, nested);
    }
    nested.opened += 1;
    if nested.opened > MAX_NESTED_BUCKETS {
        return Err(QueryError::BadRequest(format!(
            "the aggregations open more than {MAX_NESTED_BUCKETS} buckets with sub-aggregations: widen the interval, lower the terms size or narrow the time range"
        )));
    }
    run(engine, windows, filter, subs, nested)
}

fn merge(bucket: &mut Value, subs: Map<String, Value>) {
    if let Value::Object(b) = bucket {
        b.extend(subs);
    }
}

fn metric(engine: &QueryEngine, windows: &[WindowSnapshot], filter: &Filter, kind: Metric, field: &str) -> Result<Value, QueryError> {
    let numeric = engine.schema().kind(field) == Some(FieldKind::Numeric);
    if !matches!(kind, Metric::Cardinality | Metric::ValueCount) && !numeric {
        return Err(QueryError::BadRequest(format!(
            "field [{field}] is not numeric: {kind:?} needs a numeric field such as process.pid (cardinality and value_count work on any aggregatable field)"
        )
        .to_lowercase()));
    }
    let s = engine.field_stats(windows, filter, field)?;
    let value = match kind {
        Metric::Min => json!(s.min.map(|v| v as f64)),
        Metric::Max => json!(s.max.map(|v| v as f64)),
        Metric::Sum => json!(s.sum.unwrap_or(0) as f64),
        Metric::Avg => json!(s.avg()),
        Metric::ValueCount => json!(s.count),
        Metric::Cardinality => json!(s.distinct),
    };
    Ok(json!({ "value": value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Padded histograms under padded histograms multiply: the request is refused before the
    /// buckets are built, whatever the store holds (here nothing), and absurd bounds are a 400,
    /// not an overflow.
    #[test]
    fn emitted_buckets_are_capped_and_bounds_checked() {
        let engine = QueryEngine::new(loglynx_store::StoreSchema::new());
        let filter = Filter { query: "*".into(), start: None, end: None };
        let padded = |subs: serde_json::Value| {
            json!({"date_histogram": {"field": "@timestamp", "fixed_interval": "1s", "min_doc_count": 0,
                "extended_bounds": {"min": 0, "max": 9_999_000}}, "aggs": subs})
        };
        let one = parse(&json!({"h": padded(json!({}))})).unwrap();
        let out = run(&engine, &[], &filter, &one, &mut Buckets::default()).unwrap();
        assert_eq!(out["h"]["buckets"].as_array().unwrap().len(), 10_000);
        let squared = parse(&json!({"h": padded(json!({"g": padded(json!({}))}))})).unwrap();
        let e = run(&engine, &[], &filter, &squared, &mut Buckets::default()).unwrap_err();
        assert!(e.to_string().contains("more than 65536 buckets"), "{e}");
        let absurd = parse(&json!({"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "7s",
            "min_doc_count": 0, "extended_bounds": {"min": i64::MIN, "max": i64::MAX}}}}))
        .unwrap();
        assert!(run(&engine, &[], &filter, &absurd, &mut Buckets::default()).is_err());
    }

    #[test]
    fn grafana_shapes_are_read_and_the_unsupported_named() {
        let a = parse(&json!({"4": {"terms": {"field": "host.name", "order": {"_key": "desc"}, "size": 10},
            "aggs": {"2": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "format": "epoch_millis",
                "min_doc_count": 0, "extended_bounds": {"min": 1, "max": 2}},
                "aggs": {"1": {"max": {"field": "process.pid"}}, "3": {"value_count": {"field": "process.pid"}}}}}}}))
        .unwrap();
        let Agg::Terms { order: Order::KeyDesc, subs, .. } = &a[0].1 else { panic!("{a:?}") };
        let Agg::DateHistogram { bounds: Some((1, 2)), epoch_millis: true, subs, .. } = &subs[0].1 else { panic!() };
        assert!(matches!(subs[1].1, Agg::Metric { kind: Metric::ValueCount, .. }));
        let e = |v: Value| parse(&v).unwrap_err().0;
        assert!(e(json!({"a": {"terms": {"field": "host.name", "order": {"1": "desc"}}}})).contains("order by [1]"));
        assert!(e(json!({"a": {"max": {"field": "process.pid"}, "aggs": {"b": {"min": {"field": "process.pid"}}}}})).contains("cannot have sub-aggregations"));
        assert!(e(json!({"a": {"terms": {"field": "host.name"}, "aggs": {"b": {"percentiles": {"field": "x"}}}}})).contains("[percentiles] in [b]"));
        assert!(e(json!({"a": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "time_zone": "Europe/Paris"}}})).contains("[date_histogram.time_zone]"));
        assert!(e(json!({"a": {"terms": {"field": "host.name", "min_doc_count": 0}}})).contains("min_doc_count 0"));
        assert_eq!(interval_ms("1000ms", false).unwrap(), 1000);
        assert!(interval_ms("month", true).unwrap_err().0.contains("calendar_interval [month]"));
    }
}
