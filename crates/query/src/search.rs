//! Search (a sorted page of hits with an exact total) and count.

use std::cmp::Ordering;
use std::time::Instant;

use loglynx_core::{fields as f, Event, Timestamp};
use loglynx_store::schema::EventReader;
use loglynx_store::WindowSnapshot;
use tantivy::{DateTime, DocAddress, Order};

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::{Filter, SearchRequest, SearchResponse, SortOrder, MAX_LIMIT};
use crate::topk::top_by_date;

/// Deepest page reachable with `offset + limit` (each window sorts that many candidates).
pub const MAX_RESULT_WINDOW: usize = 100_000;

impl QueryEngine {
    /// Matching events sorted by `@timestamp` (newest first by default), one page of them, and
    /// the exact number of matches. Ties on `@timestamp` keep a stable order across pages.
    pub fn search(
        &self,
        windows: &[WindowSnapshot],
        req: &SearchRequest,
    ) -> Result<SearchResponse, QueryError> {
        let started = Instant::now();
        if req.limit > MAX_LIMIT {
            return Err(QueryError::TooLarge {
                what: "limit",
                value: req.limit,
                max: MAX_LIMIT,
            });
        }
        let want = req.offset.saturating_add(req.limit);
        if want > MAX_RESULT_WINDOW {
            return Err(QueryError::TooLarge {
                what: "offset + limit",
                value: want,
                max: MAX_RESULT_WINDOW,
            });
        }
        let p = self.prepare(windows, &req.filter, Timestamp::now())?;
        let order = match req.sort {
            SortOrder::Desc => Order::Desc,
            SortOrder::Asc => Order::Asc,
        };
        let mut total = 0u64;
        // (timestamp, window, doc): each window's best `want`, merged below.
        let mut candidates: Vec<(DateTime, usize, DocAddress)> = Vec::new();
        for (wi, w) in p.windows.iter().enumerate() {
            crate::budget::check()?;
            let count = crate::budget::count(&w.searcher, &*p.query)?;
            total += count;
            let (field, name) = (self.schema.timestamp, f::TIMESTAMP);
            let docs = top_by_date(
                &w.searcher,
                &*p.query,
                field,
                name,
                want,
                order.clone(),
                count,
            )?;
            candidates.extend(docs.into_iter().map(|(ts, addr)| (ts, wi, addr)));
        }
        candidates.sort_by(|a, b| {
            let by_time = match req.sort {
                SortOrder::Desc => b.0.cmp(&a.0),
                SortOrder::Asc => a.0.cmp(&b.0),
            };
            by_time
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then(Ordering::Equal)
        });
        let mut hits = Vec::with_capacity(req.limit.min(candidates.len()));
        let mut reader = EventReader::new(&self.schema);
        for (_, wi, addr) in candidates.into_iter().skip(req.offset).take(req.limit) {
            match reader.read(wi, &p.windows[wi].searcher, addr)? {
                Some(event) => hits.push(event),
                None => {
                    tracing::warn!(window = %p.windows[wi].id, ?addr, "stored event is unreadable; skipped")
                }
            }
        }
        Ok(SearchResponse {
            total,
            hits,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The events matching `filter` in `sort` order, at most `max` (and at most
    /// [`MAX_RESULT_WINDOW`]), read a page of [`MAX_LIMIT`] at a time, with the exact number of
    /// matches (more than were returned when it is over the bound).
    pub fn search_all(
        &self,
        windows: &[WindowSnapshot],
        filter: &Filter,
        sort: SortOrder,
        max: usize,
    ) -> Result<(u64, Vec<Event>), QueryError> {
        let max = max.min(MAX_RESULT_WINDOW);
        let mut out = Vec::new();
        let mut total = 0;
        while out.len() < max {
            let req = SearchRequest {
                filter: filter.clone(),
                limit: MAX_LIMIT.min(max - out.len()),
                offset: out.len(),
                sort,
            };
            let r = self.search(windows, &req)?;
            total = r.total;
            let n = r.hits.len();
            out.extend(r.hits);
            if n < req.limit {
                break;
            }
        }
        Ok((total, out))
    }

    /// The exact number of events matching `filter`.
    pub fn count(&self, windows: &[WindowSnapshot], filter: &Filter) -> Result<u64, QueryError> {
        let p = self.prepare(windows, filter, Timestamp::now())?;
        let mut total = 0u64;
        for w in &p.windows {
            crate::budget::check()?;
            total += crate::budget::count(&w.searcher, &*p.query)?;
        }
        Ok(total)
    }
}
