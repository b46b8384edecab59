//! Elasticsearch aggregations, nested: `date_histogram` and `terms` buckets with
//! sub-aggregations (`terms` or `date_histogram` under either, metrics under both), as
//! Grafana's Elasticsearch data source sends for "metric per bucket" and "group by" panels.
//!
//! Each level runs on the engine's own aggregations (histogram, terms, field stats), so the
//! numbers are the same as `/api/v1/histogram`, `/api/v1/terms`; a bucket's sub-aggregations
//! run with the bucket's condition added to the filter (its time range, or `field:"value"`).
//! That costs one engine call per bucket and sub-aggregation, so the buckets a request may
//! open with sub-aggregations are capped ([`MAX_NESTED_BUCKETS`]); empty buckets cost nothing.
//! Terms ordered by a metric sub-aggregation compute it for every value (each counts as a
//! bucket opened), then sort. A histogram's `offset` and `time_zone` move where its buckets
//! start (`QueryEngine::histogram_offset`): in a zone with daylight saving time
//! (`Europe/Berlin`) they follow its clock, so a day is 23 or 25 hours long across a change
//! while hours stay hours, as in Elasticsearch; calendar weeks start on Monday.
//! Anything else is refused with its name.

use loglynx_config::Zone;
use loglynx_core::Timestamp;
use loglynx_query::{bucket_edges, Filter, HistogramRequest, QueryEngine, QueryError, TermsRequest, MAX_BUCKETS, MAX_TERMS};
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
    /// Counts one more bucket opened for sub-aggregations (or ordered by a metric: one engine
    /// call each); an error past [`MAX_NESTED_BUCKETS`].
    fn open(&mut self) -> Result<(), QueryError> {
        self.opened += 1;
        if self.opened > MAX_NESTED_BUCKETS {
            return Err(QueryError::BadRequest(format!(
                "the aggregations open more than {MAX_NESTED_BUCKETS} buckets with sub-aggregations: widen the interval, lower the terms size or narrow the time range"
            )));
        }
        Ok(())
    }

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
        /// Where buckets start on the local clock: `offset` (plus four days for calendar
        /// weeks, which start on Monday), in ms; 0 = multiples of the width.
        align_ms: i64,
        /// `time_zone` (buckets are cut on its clock and `key_as_string` is written in it);
        /// `None`: UTC.
        zone: Option<Zone>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Order {
    CountDesc,
    CountAsc,
    KeyAsc,
    KeyDesc,
    /// By a single-value metric sub-aggregation (its name; `true`: descending), ties by key
    /// ascending, buckets without a value last (as Elasticsearch).
    Metric(String, bool),
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
            known(&[
                "field", "fixed_interval", "calendar_interval", "interval", "min_doc_count", "format", "extended_bounds",
                "time_zone", "offset",
            ])?;
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
            let calendar = b.contains_key("calendar_interval") || (b.contains_key("interval") && !b.contains_key("fixed_interval"));
            let interval_ms = interval_ms(spec, b.contains_key("calendar_interval"))?;
            let zone = match b.get("time_zone") {
                None => None,
                Some(z) => time_zone(z)?,
            };
            let offset = match b.get("offset") {
                None => 0,
                Some(o) => offset_ms(o)?,
            };
            // Elasticsearch rounds in a named zone and then adds the offset in absolute time;
            // loglynx shifts the zone's clock, which differs across a daylight saving change.
            // Refused rather than answered differently.
            let fixed_zone = b.get("time_zone").and_then(Value::as_str).is_some_and(|s| s.trim().starts_with(['+', '-']));
            if offset != 0 && zone.is_some() && !fixed_zone {
                return Err(Unsupported(format!(
                    "date_histogram [{name}]: offset with a named time_zone is not supported yet (Elasticsearch adds the offset after rounding in the zone): give the zone as a fixed offset such as \"+01:00\", or leave out offset"
                )));
            }
            // A calendar week starts on Monday; the epoch was a Thursday.
            let week = if calendar && interval_ms == 7 * 86_400_000 { 4 * 86_400_000 } else { 0 };
            let align_ms = offset + week;
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
            Ok(Agg::DateHistogram { interval_ms, min_doc_count, bounds, epoch_millis, align_ms, zone, subs })
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
            if let Order::Metric(m, _) = &order {
                match subs.iter().find(|(n, _)| n == m) {
                    Some((_, Agg::Metric { .. })) => {}
                    Some(_) => {
                        return Err(Unsupported(format!(
                            "terms order by [{m}]: a bucket aggregation; order by a metric sub-aggregation (min, max, avg, sum, value_count, cardinality), _count or _key"
                        )))
                    }
                    None => {
                        return Err(Unsupported(format!(
                            "terms order by [{m}]: no sub-aggregation of [{name}] has that name; order by _count, _key or a metric sub-aggregation"
                        )))
                    }
                }
            }
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
        (k, _) if k.contains('>') || k.contains('.') || k.contains('[') => Err(Unsupported(format!(
            "terms order by [{k}]: a path into a sub-aggregation; order by a single-value metric sub-aggregation of this terms, by name"
        ))),
        (k, Some(d @ ("asc" | "desc"))) => Ok(Order::Metric(k.to_string(), d == "desc")),
        (k, _) => Err(Unsupported(format!("terms order [{k}]: asc or desc"))),
    }
}

/// `time_zone`: `UTC`, `Z`, `GMT`, `Etc/UTC`, a fixed offset (`+01:00`, `-0530`, `+2`, as
/// Elasticsearch reads them, up to 18 hours) or an IANA name with its daylight saving rules
/// (`Europe/Berlin`, from the system's tzdb); `None` for UTC.
fn time_zone(z: &Value) -> Result<Option<Zone>, Unsupported> {
    let refuse = |why: &str| {
        Unsupported(format!(
            "date_histogram time_zone [{z}]: {why}; give an IANA name such as \"Europe/Berlin\", \"UTC\" or an offset such as \"+01:00\""
        ))
    };
    let s = z.as_str().ok_or_else(|| refuse("not a string"))?.trim();
    if matches!(s.to_ascii_uppercase().as_str(), "UTC" | "Z" | "GMT" | "ETC/UTC" | "ETC/GMT" | "UCT" | "+00:00" | "-00:00") {
        return Ok(None);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Zone::parse(s).map(Some).map_err(|_| refuse("an unknown zone")),
    };
    let bad = || refuse("not an offset");
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=18).contains(&h) || !(0..60).contains(&m) || (h == 18 && m > 0) {
        return Err(bad());
    }
    if h == 0 && m == 0 {
        return Ok(None);
    }
    let sign = if sign < 0 { '-' } else { '+' };
    Zone::parse(&format!("{sign}{h:02}:{m:02}")).map(Some).map_err(|_| bad())
}

/// `offset`: `+6h`, `-30m`, `1d` or milliseconds.
fn offset_ms(o: &Value) -> Result<i64, Unsupported> {
    if let Some(n) = o.as_i64() {
        return Ok(n);
    }
    let bad = || Unsupported(format!("date_histogram offset [{o}]: give a duration such as \"+6h\" or \"-30m\""));
    let s = o.as_str().ok_or_else(bad)?.trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let ms = interval_ms(rest, false).map_err(|_| bad())?;
    i64::try_from(ms).map(|ms| sign * ms).map_err(|_| bad())
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
            Agg::DateHistogram { interval_ms, min_doc_count, bounds, epoch_millis, align_ms, zone, subs } => {
                let tz = zone.as_ref().map(Zone::name);
                let h = engine.histogram_offset(
                    windows,
                    &HistogramRequest {
                        filter: filter.clone(),
                        interval_ms: Some(*interval_ms),
                        target_buckets: Some(MAX_BUCKETS),
                        time_zone: tz.map(str::to_string),
                    },
                    *align_ms,
                )?;
                // Keys (ms) and counts, padded to extended_bounds when empty buckets are asked.
                let mut buckets: Vec<(i64, u64)> = h.buckets.iter().map(|b| (b.start.as_millis(), b.count)).collect();
                if let (Some((lo, hi)), 0) = (bounds, min_doc_count) {
                    let lo = buckets.first().map_or(*lo, |b| b.0.min(*lo));
                    let hi = buckets.last().map_or(*hi, |b| b.0.max(*hi));
                    let edges = bucket_edges(tz, *interval_ms, *align_ms, lo, hi.saturating_add(1))?;
                    let n = edges.len() - 1;
                    nested.emit(n)?;
                    let counts: std::collections::HashMap<i64, u64> = buckets.into_iter().collect();
                    buckets = edges[..n].iter().map(|k| (*k, counts.get(k).copied().unwrap_or(0))).collect();
                } else {
                    nested.emit(buckets.len())?;
                }
                // A bucket ends where the next starts (buckets are contiguous; in a zone with
                // daylight saving time they are not all one width).
                let ends: Vec<i64> = match buckets.last() {
                    None => Vec::new(),
                    Some(last) => {
                        let after = bucket_edges(tz, *interval_ms, *align_ms, last.0, last.0 + 1)?;
                        buckets.iter().skip(1).map(|b| b.0).chain(after.last().copied()).collect()
                    }
                };
                let mut list = Vec::new();
                for ((key, count), end) in buckets.into_iter().zip(ends).filter(|b| b.0 .1 >= *min_doc_count) {
                    let key_as_string = match (epoch_millis, zone) {
                        (true, _) => key.to_string(),
                        (false, None) => Timestamp::from_millis(key).to_rfc3339(),
                        (false, Some(z)) => in_zone(key, z),
                    };
                    let mut b = json!({"key": key, "key_as_string": key_as_string, "doc_count": count});
                    if !subs.is_empty() {
                        let start = Timestamp::from_millis(key).max(filter.start.unwrap_or(Timestamp::from_millis(key)));
                        let end = Timestamp::from_millis(end);
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
                let every = !matches!(order, Order::CountDesc);
                let ask = if every { MAX_TERMS } else { *size };
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
                    Order::Metric(m, desc) => {
                        let Some((_, Agg::Metric { kind, field: mf })) = subs.iter().find(|(n, _)| n == m) else {
                            return Err(QueryError::BadRequest(format!("terms order by [{m}]: no such metric sub-aggregation")));
                        };
                        // One engine call per value: counted like the buckets opened for
                        // sub-aggregations.
                        // A bucket without a value sorts as Elasticsearch's empty metric:
                        // min +inf, max -inf, avg NaN (above every number).
                        let empty = match kind {
                            Metric::Min => f64::INFINITY,
                            Metric::Max => f64::NEG_INFINITY,
                            _ => f64::NAN,
                        };
                        let mut valued: Vec<(f64, String, u64)> = Vec::with_capacity(buckets.len());
                        for (value, count) in buckets {
                            nested.open()?;
                            let sub = Filter { query: and(&filter.query, &term(field, &value)), ..filter.clone() };
                            let v = metric(engine, windows, &sub, *kind, mf)?["value"].as_f64().unwrap_or(empty);
                            valued.push((v, value, count));
                        }
                        valued.sort_by(|a, b| {
                            let by_value = if *desc { b.0.total_cmp(&a.0) } else { a.0.total_cmp(&b.0) };
                            by_value.then_with(|| key_cmp(&a.1, &b.1))
                        });
                        buckets = valued.into_iter().map(|(_, v, c)| (v, c)).collect();
                    }
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
                    // Past `query.max_distinct_terms` the counts are approximate: the bound says
                    // by how much (0: exact).
                    "doc_count_error_upper_bound": t.error_upper_bound,
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
    nested.open()?;
    run(engine, windows, filter, subs, nested)
}

/// `ms` as RFC 3339 with milliseconds in `zone`, with the offset in force then
/// (`2015-09-30T00:00:00.000-01:00`, as Elasticsearch writes a zoned key).
fn in_zone(ms: i64, zone: &Zone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_zoned(zone.time_zone().clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
        Err(_) => ms.to_string(),
    }
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
        assert!(e(json!({"a": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "time_zone": "Mars/Olympus"}}})).contains("time_zone [\"Mars/Olympus\"]: an unknown zone"));
        assert!(e(json!({"a": {"terms": {"field": "host.name", "order": {"m": "desc"}}, "aggs": {"m": {"terms": {"field": "x"}}}}})).contains("a bucket aggregation"));
        assert!(e(json!({"a": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "offset": "soon"}}})).contains("offset"));
        // An offset with a named zone would be answered otherwise than Elasticsearch across a
        // daylight saving change: refused, naming what to do; a zero offset or UTC pass.
        assert!(e(json!({"a": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1d",
            "time_zone": "Europe/Berlin", "offset": "+6h"}}}))
        .contains("offset with a named time_zone"));
        for ok in [json!({"time_zone": "Europe/Berlin", "offset": 0}), json!({"time_zone": "UTC", "offset": "+6h"}), json!({"time_zone": "-05:00", "offset": "+6h"})] {
            let mut b = json!({"field": "@timestamp", "fixed_interval": "1d"});
            b.as_object_mut().unwrap().extend(ok.as_object().unwrap().clone());
            assert!(parse(&json!({"a": {"date_histogram": b}})).is_ok(), "{ok}");
        }
        assert!(e(json!({"a": {"terms": {"field": "host.name", "min_doc_count": 0}}})).contains("min_doc_count 0"));
        assert_eq!(interval_ms("1000ms", false).unwrap(), 1000);
        // Buckets start at local time plus the offset (+15m); the engine shifts them by the
        // zone's offset.
        let a = parse(&json!({"a": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1d",
            "time_zone": "+05:30", "offset": "+15m"}}}))
        .unwrap();
        let Agg::DateHistogram { align_ms, zone, .. } = &a[0].1 else { panic!() };
        assert_eq!((*align_ms, zone.as_ref().and_then(Zone::fixed_offset_secs)), (15 * 60_000, Some(19_800)));
        let east = |z: &str| time_zone(&json!(z)).unwrap().map(|z| z.fixed_offset_secs());
        for (z, secs) in [("UTC", None), ("Z", None), ("-08:00", Some(Some(-28_800))), ("+0100", Some(Some(3_600))), ("+2", Some(Some(7_200))), ("-00:00", None)] {
            assert_eq!(east(z), secs, "{z}");
        }
        assert_eq!(east("Europe/Paris"), Some(None));
        for z in ["+19:00", "Mars/Olympus", "+01:60", "1"] {
            assert!(time_zone(&json!(z)).is_err(), "{z}");
        }
        assert_eq!(offset_ms(&json!("-30m")).unwrap(), -1_800_000);
        assert_eq!(offset_ms(&json!(5000)).unwrap(), 5000);
        assert_eq!(in_zone(0, &Zone::parse("-01:00").unwrap()), "1969-12-31T23:00:00.000-01:00");
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(in_zone(1_711_839_600_000, &berlin), "2024-03-31T00:00:00.000+01:00");
        assert_eq!(in_zone(1_711_922_400_000, &berlin), "2024-04-01T00:00:00.000+02:00");
        assert!(interval_ms("month", true).unwrap_err().0.contains("calendar_interval [month]"));
    }
}
