//! `search_after` over a pinned snapshot: deep paging without a result window.
//!
//! A point in time is a `&[WindowSnapshot]` kept by the caller (the API's `pit` registry): its
//! searchers never change, so every document has a fixed *position*, its ordinal across the
//! windows' segments in snapshot order ([`Positions`]). Hits sort by `@timestamp` (as asked),
//! then by position ascending, the same tie order as [`QueryEngine::search`]. A page starts
//! after the position of the last hit of the previous one: the cursor's own `@timestamp` is
//! read back from the snapshot, so the cursor is one number and no hit is returned twice or
//! skipped, whatever comes in while a client pages (new events are not in the snapshot).
//!
//! Per window a page costs one pass over the matches beyond the cursor's time (a count and a
//! top-k, as a plain search), plus, in the cursor's own window, the matches at exactly the
//! cursor's time whose position is after it (a collector that keeps the first `limit` by
//! address).

use std::ops::Bound;

use loglynx_core::{fields as f, Event, Timestamp};
use loglynx_store::schema::EventReader;
use loglynx_store::WindowSnapshot;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery};
use tantivy::schema::Term;
use tantivy::{DateTime, DocAddress, DocId, Order, Score, SegmentOrdinal, SegmentReader};

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::{Filter, SortOrder, MAX_LIMIT};
use crate::topk::top_by_date;

/// One page of a `search_after` walk.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub filter: Filter,
    /// Hits to return, at most [`MAX_LIMIT`].
    pub limit: usize,
    pub sort: SortOrder,
    /// The position of the last hit already read (None: the first page).
    pub after: Option<u64>,
    /// Count every match (the same total on every page).
    pub count_total: bool,
}

/// A page: the hits with their positions, in order; the total when asked.
#[derive(Debug, Clone)]
pub struct Page {
    pub total: Option<u64>,
    pub hits: Vec<(Event, u64)>,
    /// The exact `@timestamp` of the cursor (`after`), when one was given: a search root
    /// bounds the other leaves' pages by it.
    pub cursor: Option<Timestamp>,
}

/// The first position of each (window, segment) of a snapshot, in order.
struct Positions {
    /// (window index, segment ordinal, first position, max doc).
    spans: Vec<(usize, u32, u64, u32)>,
}

impl Positions {
    fn new(windows: &[WindowSnapshot]) -> Positions {
        let mut spans = Vec::new();
        let mut next = 0u64;
        for (wi, w) in windows.iter().enumerate() {
            for (so, seg) in w.searcher.segment_readers().iter().enumerate() {
                spans.push((wi, so as u32, next, seg.max_doc()));
                next += u64::from(seg.max_doc());
            }
        }
        Positions { spans }
    }

    fn of(&self, wi: usize, addr: DocAddress) -> u64 {
        self.spans
            .iter()
            .find(|s| s.0 == wi && s.1 == addr.segment_ord)
            .map_or(0, |s| s.2 + u64::from(addr.doc_id))
    }

    fn address(&self, pos: u64) -> Option<(usize, DocAddress)> {
        self.spans
            .iter()
            .find(|s| pos >= s.2 && pos < s.2 + u64::from(s.3))
            .map(|s| (s.0, DocAddress::new(s.1, (pos - s.2) as DocId)))
    }
}

impl QueryEngine {
    /// One page of matches of `req.filter` after `req.after` in `windows`, which must be the
    /// same snapshot for every page of a walk (a point in time).
    pub fn search_after(&self, windows: &[WindowSnapshot], req: &PageRequest) -> Result<Page, QueryError> {
        if req.limit > MAX_LIMIT {
            return Err(QueryError::TooLarge { what: "limit", value: req.limit, max: MAX_LIMIT });
        }
        let p = self.prepare(windows, &req.filter, Timestamp::now())?;
        let positions = Positions::new(windows);
        let order = match req.sort {
            SortOrder::Desc => Order::Desc,
            SortOrder::Asc => Order::Asc,
        };
        // The cursor: its window, address and time.
        let cursor = match req.after {
            None => None,
            Some(pos) => {
                let (wi, addr) = positions.address(pos).ok_or_else(|| {
                    QueryError::BadRequest(format!(
                        "search_after position {pos} is not in this point in time: pass back the sort values of the last hit of the previous page"
                    ))
                })?;
                let seg = windows[wi].searcher.segment_reader(addr.segment_ord);
                let ts = seg
                    .fast_fields()
                    .date(f::TIMESTAMP)?
                    .first(addr.doc_id)
                    .ok_or_else(|| QueryError::BadRequest(format!("search_after position {pos} has no @timestamp")))?;
                Some((wi, addr, ts))
            }
        };
        let field = self.schema.timestamp;
        let term = |d: DateTime| Term::from_field_date(field, d);
        let beyond = |ts: DateTime, inclusive: bool| -> RangeQuery {
            let b = if inclusive { Bound::Included(term(ts)) } else { Bound::Excluded(term(ts)) };
            match req.sort {
                SortOrder::Asc => RangeQuery::new(b, Bound::Unbounded),
                SortOrder::Desc => RangeQuery::new(Bound::Unbounded, b),
            }
        };
        let and = |q: &dyn Query, r: Box<dyn Query>| -> BooleanQuery {
            BooleanQuery::new(vec![(Occur::Must, q.box_clone()), (Occur::Must, r)])
        };
        let mut total = 0u64;
        let mut candidates: Vec<(DateTime, usize, DocAddress)> = Vec::new();
        for (wi, w) in windows.iter().enumerate() {
            if !p.windows.iter().any(|pw| std::ptr::eq(*pw, w)) {
                continue;
            }
            crate::budget::check()?;
            if req.count_total {
                total += crate::budget::count(&w.searcher, &*p.query)?;
            }
            let query: Box<dyn Query> = match cursor {
                None => p.query.box_clone(),
                Some((cw, _, ts)) => Box::new(and(&*p.query, Box::new(beyond(ts, wi > cw)))),
            };
            let matches = crate::budget::count(&w.searcher, &*query)?;
            let docs = top_by_date(&w.searcher, &*query, field, f::TIMESTAMP, req.limit, order.clone(), matches)?;
            candidates.extend(docs.into_iter().map(|(ts, addr)| (ts, wi, addr)));
            if let Some((cw, addr, ts)) = cursor {
                if cw == wi {
                    let same = RangeQuery::new(Bound::Included(term(ts)), Bound::Included(term(ts)));
                    let q = and(&*p.query, Box::new(same));
                    let docs = crate::budget::search(&w.searcher, &q, &After { after: addr, limit: req.limit })?;
                    candidates.extend(docs.into_iter().map(|a| (ts, wi, a)));
                }
            }
        }
        candidates.sort_by(|a, b| {
            let by_time = match req.sort {
                SortOrder::Desc => b.0.cmp(&a.0),
                SortOrder::Asc => a.0.cmp(&b.0),
            };
            by_time.then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
        });
        let mut hits = Vec::with_capacity(req.limit.min(candidates.len()));
        let mut reader = EventReader::new(&self.schema);
        for (_, wi, addr) in candidates.into_iter().take(req.limit) {
            match reader.read(wi, &windows[wi].searcher, addr)? {
                Some(event) => hits.push((event, positions.of(wi, addr))),
                None => tracing::warn!(window = %windows[wi].id, ?addr, "stored event is unreadable; skipped"),
            }
        }
        let cursor = cursor.map(|(_, _, ts)| Timestamp::from_micros(ts.into_timestamp_micros()));
        Ok(Page { total: req.count_total.then_some(total), hits, cursor })
    }
}

/// The first `limit` matches (by address) after `after`.
struct After {
    after: DocAddress,
    limit: usize,
}

struct AfterSegment {
    segment: SegmentOrdinal,
    /// Smallest doc id kept (`DocId::MAX`: none of this segment).
    from: DocId,
    limit: usize,
    docs: Vec<DocAddress>,
}

impl Collector for After {
    type Fruit = Vec<DocAddress>;
    type Child = AfterSegment;

    fn for_segment(&self, segment: SegmentOrdinal, _reader: &SegmentReader) -> tantivy::Result<AfterSegment> {
        let from = match segment.cmp(&self.after.segment_ord) {
            std::cmp::Ordering::Less => DocId::MAX,
            std::cmp::Ordering::Equal => self.after.doc_id.saturating_add(1),
            std::cmp::Ordering::Greater => 0,
        };
        Ok(AfterSegment { segment, from, limit: self.limit, docs: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<DocAddress>>) -> tantivy::Result<Vec<DocAddress>> {
        let mut all: Vec<DocAddress> = fruits.into_iter().flatten().collect();
        all.sort();
        all.truncate(self.limit);
        Ok(all)
    }
}

impl SegmentCollector for AfterSegment {
    type Fruit = Vec<DocAddress>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if doc >= self.from && self.from != DocId::MAX && self.docs.len() < self.limit {
            self.docs.push(DocAddress::new(self.segment, doc));
        }
    }

    fn harvest(self) -> Vec<DocAddress> {
        self.docs
    }
}
