//! Live tail: events in `(event.ingested, event.id)` order after a cursor.
//!
//! The order is on `event.ingested` at the store's microsecond precision, ties broken by
//! `event.id`. `event.ingested` is a fast field, so finding the next page costs a range query
//! plus a top-k; only the page and the events sharing its boundary microsecond are loaded.

use std::ops::Bound;

use loglynx_core::{fields as f, Event, Timestamp};
use loglynx_store::schema::EventReader;
use loglynx_store::WindowSnapshot;
use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::{DocAddress, Order};

use crate::engine::{Prepared, QueryEngine};
use crate::error::QueryError;
use crate::request::{TailCursor, TailRequest, TailResponse, MAX_LIMIT};
use crate::topk::top_by_date;

/// The tail order of an event: ingest time (µs) then id.
type Key = (i64, String);

fn key(e: &Event) -> Key {
    (e.ingested.as_micros(), e.id.clone())
}

impl QueryEngine {
    /// Matching events whose (`event.ingested`, `event.id`) comes after the cursor, oldest
    /// first, at most `limit`. Without a cursor: the newest `limit` events. The returned cursor
    /// is the last event's; pass it back to get what comes next (it is returned unchanged when
    /// nothing new matched). Following cursors yields every event once, provided events become
    /// searchable in `event.ingested` order.
    pub fn tail(
        &self,
        windows: &[WindowSnapshot],
        req: &TailRequest,
    ) -> Result<TailResponse, QueryError> {
        if req.limit > MAX_LIMIT {
            return Err(QueryError::TooLarge {
                what: "limit",
                value: req.limit,
                max: MAX_LIMIT,
            });
        }
        if req.limit == 0 {
            return Ok(TailResponse {
                events: Vec::new(),
                cursor: req.cursor.clone(),
            });
        }
        let p = self.prepare(windows, &req.filter, Timestamp::now())?;
        let events = match &req.cursor {
            Some(c) => self.after(&p, c, req.limit)?,
            None => self.newest(&p, req.limit)?,
        };
        let cursor = match events.last() {
            Some(e) => Some(TailCursor {
                ingested: e.ingested,
                id: e.id.clone(),
            }),
            None => req.cursor.clone(),
        };
        Ok(TailResponse { events, cursor })
    }

    fn after(
        &self,
        p: &Prepared<'_>,
        c: &TailCursor,
        limit: usize,
    ) -> Result<Vec<Event>, QueryError> {
        let c_us = c.ingested.as_micros();
        // Same microsecond as the cursor: only ids after it.
        let mut same: Vec<Event> = self
            .all_at(&mut EventReader::new(&self.schema), p, c_us)?
            .into_iter()
            .filter(|e| e.id > c.id)
            .collect();
        same.sort_by_key(key);
        let later = self.ranked(
            p,
            Bound::Excluded(Timestamp::from_micros(c_us)),
            limit,
            Order::Asc,
        )?;
        let mut rest = self.complete(p, later, limit, Order::Asc)?;
        rest.sort_by_key(key);
        same.extend(rest);
        same.truncate(limit);
        Ok(same)
    }

    fn newest(&self, p: &Prepared<'_>, limit: usize) -> Result<Vec<Event>, QueryError> {
        let top = self.ranked(p, Bound::Unbounded, limit, Order::Desc)?;
        let mut events = self.complete(p, top, limit, Order::Desc)?;
        events.sort_by_key(key);
        Ok(events)
    }

    /// The first `limit` candidates in `order` over all windows: (ingested µs, window, doc).
    fn ranked(
        &self,
        p: &Prepared<'_>,
        lower: Bound<Timestamp>,
        limit: usize,
        order: Order,
    ) -> Result<Vec<(i64, usize, DocAddress)>, QueryError> {
        let query = self.with_ingested(p, lower, Bound::Unbounded);
        let mut all = Vec::new();
        for (wi, w) in p.windows.iter().enumerate() {
            let matches = crate::budget::count(&w.searcher, &*query)?;
            let (field, name) = (self.schema.ingested, f::EVENT_INGESTED);
            let docs = top_by_date(
                &w.searcher,
                &*query,
                field,
                name,
                limit,
                order.clone(),
                matches,
            )?;
            all.extend(
                docs.into_iter()
                    .map(|(t, addr)| (t.into_timestamp_micros(), wi, addr)),
            );
        }
        match order {
            Order::Asc => all.sort_by_key(|(t, wi, addr)| (*t, *wi, *addr)),
            Order::Desc => all.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2)))),
        }
        all.truncate(limit);
        Ok(all)
    }

    /// Loads the ranked candidates. When there are `limit` of them, the last one's microsecond
    /// may hold more events than were ranked: those are all loaded and cut by id, so the page
    /// is exactly the first `limit` events in (ingested, id) order (`order` direction).
    fn complete(
        &self,
        p: &Prepared<'_>,
        ranked: Vec<(i64, usize, DocAddress)>,
        limit: usize,
        order: Order,
    ) -> Result<Vec<Event>, QueryError> {
        let boundary = if ranked.len() >= limit {
            ranked.last().map(|r| r.0)
        } else {
            None
        };
        let mut events = Vec::with_capacity(ranked.len());
        let mut reader = EventReader::new(&self.schema);
        for (t, wi, addr) in ranked {
            if Some(t) != boundary {
                events.extend(self.load(&mut reader, p, wi, addr)?);
            }
        }
        if let Some(t) = boundary {
            let mut at = self.all_at(&mut reader, p, t)?;
            match order {
                Order::Asc => at.sort_by(|a, b| a.id.cmp(&b.id)),
                Order::Desc => at.sort_by(|a, b| b.id.cmp(&a.id)),
            }
            at.truncate(limit - events.len());
            events.extend(at);
        }
        Ok(events)
    }

    /// Every matching event whose ingest time is in microsecond `t`.
    fn all_at(
        &self,
        reader: &mut EventReader<'_>,
        p: &Prepared<'_>,
        t: i64,
    ) -> Result<Vec<Event>, QueryError> {
        let ts = Timestamp::from_micros(t);
        let query = self.with_ingested(p, Bound::Included(ts), Bound::Included(ts));
        let mut events = Vec::new();
        for (wi, w) in p.windows.iter().enumerate() {
            let mut docs: Vec<DocAddress> = crate::budget::search(&w.searcher, &*query, &DocSetCollector)?
                .into_iter()
                .collect();
            docs.sort();
            for addr in docs {
                events.extend(self.load(reader, p, wi, addr)?);
            }
        }
        Ok(events)
    }

    fn with_ingested(
        &self,
        p: &Prepared<'_>,
        lower: Bound<Timestamp>,
        upper: Bound<Timestamp>,
    ) -> Box<dyn Query> {
        match self.compiler.ingested_range(lower, upper) {
            Some(range) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, p.query.box_clone()),
                (Occur::Must, range),
            ])),
            None => p.query.box_clone(),
        }
    }

    fn load(
        &self,
        reader: &mut EventReader<'_>,
        p: &Prepared<'_>,
        wi: usize,
        addr: DocAddress,
    ) -> Result<Option<Event>, QueryError> {
        let event = reader.read(wi, &p.windows[wi].searcher, addr)?;
        if event.is_none() {
            tracing::warn!(window = %p.windows[wi].id, ?addr, "stored event is unreadable; skipped");
        }
        Ok(event)
    }
}
