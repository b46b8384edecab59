//! Points in time through the root: [`Root::open_pit`] opens one on each leaf the cover uses
//! (each pins its own snapshot, see the leaf API's `pit/*`) and keeps which leaf answers for
//! which offsets ([`RootPit`]); [`Root::pit_page`] asks every leaf for its next page and
//! merges them by `@timestamp`, ties by leaf, then by the leaf's own position.
//!
//! A hit's root position is the leaf's entry in the point in time and its position there in
//! one number ([`compose`]), so a cursor is stateless (a client can ask a page again). A page
//! after a cursor `(t, entry e, position p)` asks leaf `e` for its hits after `p` (which also
//! gives `t` exactly, to the microsecond), then the other leaves for their hits beyond `t`:
//! at `t` too for the leaves after `e`, strictly beyond for those before it. So each hit comes
//! once, in one total order, whatever comes in while a client pages.
//!
//! Offsets no leaf answered for at open are missing from the point in time and reported with
//! every page; a leaf failing during a page fails the page (503: ask the same page again),
//! never a page with its hits silently left out.

use std::cmp::Ordering;
use std::time::Duration;

use loglynx_core::{Event, Timestamp};
use loglynx_query::{Filter, SortOrder};

use crate::error::SearchError;
use crate::offsets::OffsetFilter;
use crate::root::{Reply, Root};
use crate::wire::{LeafAfter, LeafPage, LeafPageResponse, LeafPitClose, LeafPitOpen, LeafPitOpened, LeafRequest};
use crate::Missing;

/// Bits of a root position that hold the leaf's own position (the rest: the leaf's entry).
const POSITION_BITS: u32 = 48;

/// Most leaf points in time one root point in time holds (entries fit the position's top bits).
const MAX_ENTRIES: usize = 1 << (64 - POSITION_BITS);

/// One leaf's point in time: where it answers, its id there, the offsets it answers for.
#[derive(Debug, Clone)]
pub struct PitEntry {
    /// The leaf's address.
    pub addr: String,
    /// The leaf's id of its point in time.
    pub pit_id: String,
    /// The offsets it answers for.
    pub offsets: OffsetFilter,
}

/// A point in time opened through the root: one per leaf of the cover.
#[derive(Debug, Clone)]
pub struct RootPit {
    /// The leaves' points in time; a hit's entry is its index here.
    pub entries: Vec<PitEntry>,
    /// Offsets no leaf answered for when it was opened.
    pub missing: Vec<Missing>,
}

/// A page through the root.
#[derive(Debug, Clone)]
pub struct RootPage {
    /// Every match in the point in time (the same on every page).
    pub total: u64,
    /// The hits and their root positions (pass the last back as the next cursor).
    pub hits: Vec<(Event, u64)>,
    /// Offsets missing from the point in time.
    pub missing: Vec<Missing>,
}

/// The root position of a leaf's hit: its entry in the top bits, its leaf position below;
/// `None` when the leaf's position does not fit.
pub fn compose(entry: usize, position: u64) -> Option<u64> {
    (entry < MAX_ENTRIES && position < 1 << POSITION_BITS).then(|| ((entry as u64) << POSITION_BITS) | position)
}

/// The entry and leaf position of a root position.
pub fn split(position: u64) -> (usize, u64) {
    ((position >> POSITION_BITS) as usize, position & ((1 << POSITION_BITS) - 1))
}

/// The first `limit` of the leaves' pages (each in its own order, keyed by entry) by
/// `@timestamp` in `sort` order, ties by entry, then by the leaf's position; each hit with its
/// root position ([`compose`]).
pub fn merge_pages(parts: Vec<(usize, Vec<(Event, u64)>)>, sort: SortOrder, limit: usize) -> Vec<(Event, u64)> {
    let mut all: Vec<(Event, usize, u64)> =
        parts.into_iter().flat_map(|(e, hits)| hits.into_iter().map(move |(ev, p)| (ev, e, p))).collect();
    // The index keeps `@timestamp` to the microsecond: the leaves order by that, so must the
    // merge (two events in the same microsecond are a tie, broken by position).
    all.sort_by(|a, b| {
        let (x, y) = (a.0.timestamp.as_micros(), b.0.timestamp.as_micros());
        let t = match sort {
            SortOrder::Asc => x.cmp(&y),
            SortOrder::Desc => y.cmp(&x),
        };
        t.then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    });
    all.truncate(limit);
    all.into_iter().filter_map(|(ev, e, p)| compose(e, p).map(|pos| (ev, pos))).collect()
}

/// Where leaf `entry`'s page starts when the cursor is leaf `at`'s hit at time `t`.
fn bound_for(entry: usize, at: usize, t: Timestamp) -> LeafAfter {
    match entry.cmp(&at) {
        // Ties go by entry: the leaves after the cursor's still have hits at `t` to give.
        Ordering::Greater => LeafAfter::Time { at: t, inclusive: true },
        Ordering::Less => LeafAfter::Time { at: t, inclusive: false },
        Ordering::Equal => unreachable!("the cursor's own leaf pages by position"),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Root {
    /// Opens a point in time on every leaf the cover uses (a failed leaf's offsets on another
    /// copy); what none answered for is the point in time's `missing`.
    pub async fn open_pit(&self, keep_alive: Duration) -> Result<RootPit, SearchError> {
        let plan = self.plan()?;
        let req = LeafPitOpen { keep_alive_ms: millis(keep_alive) };
        let (opened, missing, refused) = self
            .fan_out_all::<_, LeafPitOpened>(&plan, "pit/open", &req, |i| plan.cover.offsets_of(i))
            .await?;
        let entries: Vec<PitEntry> = opened
            .into_iter()
            .map(|(i, offsets, o)| PitEntry { addr: plan.leaves[i].addr.clone(), pit_id: o.pit_id, offsets })
            .collect();
        // A leaf that is full (429) or refused: the point in time cannot be whole, so the
        // ones the other leaves opened are closed and the client is told why (and when to
        // ask again), rather than the full leaf's offsets going missing.
        if let Some(e) = refused {
            self.close_pit(&RootPit { entries, missing }).await;
            return Err(e);
        }
        if entries.len() > MAX_ENTRIES {
            self.close_pit(&RootPit { entries, missing }).await;
            return Err(SearchError::BadRequest(format!(
                "a point in time through the root holds at most {MAX_ENTRIES} leaves: query fewer leaves"
            )));
        }
        Ok(RootPit { entries, missing })
    }

    /// The page of `limit` hits after root position `after` (`None`: the first page); every
    /// leaf's keep-alive renewed when `keep_alive` is given.
    pub async fn pit_page(
        &self,
        pit: &RootPit,
        filter: &Filter,
        limit: usize,
        sort: SortOrder,
        after: Option<u64>,
        keep_alive: Option<Duration>,
    ) -> Result<RootPage, SearchError> {
        let page = |entry: usize, after: LeafAfter| LeafPage {
            pit_id: pit.entries[entry].pit_id.clone(),
            filter: filter.clone(),
            limit,
            sort,
            after,
            keep_alive_ms: keep_alive.map(millis),
        };
        let mut parts: Vec<(usize, Vec<(Event, u64)>)> = Vec::with_capacity(pit.entries.len());
        let mut total = 0u64;
        let rest: Vec<(usize, LeafPage)> = match after {
            None => (0..pit.entries.len()).map(|e| (e, page(e, LeafAfter::Start))).collect(),
            Some(cursor) => {
                let (at, pos) = split(cursor);
                if at >= pit.entries.len() {
                    return Err(SearchError::BadRequest(format!(
                        "search_after {cursor} is not in this point in time: pass back the sort values of the last hit of the previous page"
                    )));
                }
                let first = self.leaf_page(pit, at, &page(at, LeafAfter::Position(pos))).await?;
                let t = first.cursor.ok_or_else(|| {
                    SearchError::Unavailable(format!("leaf {} did not say the cursor's time", pit.entries[at].addr))
                })?;
                total += first.total;
                parts.push((at, first.hits));
                (0..pit.entries.len()).filter(|e| *e != at).map(|e| (e, page(e, bound_for(e, at, t)))).collect()
            }
        };
        let calls = rest.iter().map(|(e, req)| async move { (*e, self.leaf_page(pit, *e, req).await) });
        for (e, r) in futures::future::join_all(calls).await {
            let r = r?;
            total += r.total;
            parts.push((e, r.hits));
        }
        Ok(RootPage { total, hits: merge_pages(parts, sort, limit), missing: pit.missing.clone() })
    }

    async fn leaf_page(&self, pit: &RootPit, entry: usize, req: &LeafPage) -> Result<LeafPageResponse, SearchError> {
        let leaf = &pit.entries[entry];
        let body = LeafRequest { request: req.clone(), offsets: Some(leaf.offsets.clone()) };
        match self.call::<_, LeafPageResponse>(&leaf.addr, "pit/page", &body).await {
            Reply::Ok(r) => Ok(r),
            Reply::Refused(m) => Err(SearchError::BadRequest(m)),
            Reply::Busy { reason, retry_after } => Err(SearchError::Busy { reason, retry_after }),
            Reply::Failed(reason) => Err(SearchError::Unavailable(format!(
                "leaf {} did not answer its page of the point in time ({reason}): ask the same page again; if the leaf restarted, its point in time is gone: open a new one"
            , leaf.addr))),
        }
    }

    /// Closes the leaves' points in time (a leaf that does not answer lets its own expire).
    pub async fn close_pit(&self, pit: &RootPit) {
        let calls = pit.entries.iter().map(|e| async move {
            let body = LeafRequest { request: LeafPitClose { pit_id: e.pit_id.clone() }, offsets: None };
            if let Reply::Failed(reason) = self.call::<_, serde_json::Value>(&e.addr, "pit/close", &body).await {
                tracing::debug!(leaf = %e.addr, "leaf point in time not closed ({reason}); it expires with its keep_alive");
            }
        });
        futures::future::join_all(calls).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ms: i64) -> Event {
        let mut e = Event::default();
        e.id = id.to_string();
        e.timestamp = Timestamp::from_millis(ms);
        e
    }

    /// Three leaves with ties across them: walking in pages of any size with the leaves'
    /// bounds gives every hit once, in (time, leaf, position) order.
    #[test]
    fn pages_merge_by_time_then_leaf_then_position_and_walk_once() {
        // Leaf entries 0..3, each hit (id, ms, position); ties at 10 and 20 across leaves.
        let leaves: Vec<Vec<(&str, i64, u64)>> = vec![
            vec![("a0", 10, 0), ("a1", 20, 1), ("a2", 20, 2), ("a3", 40, 3)],
            vec![("b0", 5, 7), ("b1", 10, 8), ("b2", 20, 9)],
            vec![("c0", 10, 3), ("c1", 30, 4)],
        ];
        let want_asc = ["b0", "a0", "b1", "c0", "a1", "a2", "b2", "c1", "a3"];
        for sort in [SortOrder::Asc, SortOrder::Desc] {
            for limit in 1..=10 {
                let mut seen = Vec::new();
                let mut cursor: Option<u64> = None;
                loop {
                    // What each leaf would answer: its hits after the cursor, in its order.
                    let parts: Vec<(usize, Vec<(Event, u64)>)> = leaves
                        .iter()
                        .enumerate()
                        .map(|(e, hits)| {
                            let mut mine: Vec<(Event, u64)> = hits.iter().map(|(id, ms, p)| (ev(id, *ms), *p)).collect();
                            mine.sort_by(|a, b| match sort {
                                SortOrder::Asc => a.0.timestamp.cmp(&b.0.timestamp).then(a.1.cmp(&b.1)),
                                SortOrder::Desc => b.0.timestamp.cmp(&a.0.timestamp).then(a.1.cmp(&b.1)),
                            });
                            if let Some(c) = cursor {
                                let (at, pos) = split(c);
                                let (_, t_ms, _) = leaves[at].iter().find(|h| h.2 == pos).unwrap();
                                let t = Timestamp::from_millis(*t_ms);
                                let beyond = |x: Timestamp, incl: bool| match sort {
                                    SortOrder::Asc => x > t || (incl && x == t),
                                    SortOrder::Desc => x < t || (incl && x == t),
                                };
                                mine.retain(|(h, p)| {
                                    if e == at {
                                        beyond(h.timestamp, false) || (h.timestamp == t && *p > pos)
                                    } else {
                                        let LeafAfter::Time { inclusive, .. } = bound_for(e, at, t) else { unreachable!() };
                                        beyond(h.timestamp, inclusive)
                                    }
                                });
                            }
                            mine.truncate(limit);
                            (e, mine)
                        })
                        .collect();
                    let page = merge_pages(parts, sort, limit);
                    let Some((_, last)) = page.last() else { break };
                    cursor = Some(*last);
                    seen.extend(page.into_iter().map(|(e, _)| e.id));
                }
                let mut want: Vec<&str> = want_asc.to_vec();
                if sort == SortOrder::Desc {
                    // Newest first; ties still by leaf, then position.
                    want = vec!["a3", "c1", "a1", "a2", "b2", "a0", "b1", "c0", "b0"];
                }
                assert_eq!(seen, want, "sort {sort:?}, pages of {limit}");
            }
        }
    }

    #[test]
    fn positions_hold_the_entry_and_refuse_what_does_not_fit() {
        let p = compose(3, 12_345).unwrap();
        assert_eq!(split(p), (3, 12_345));
        assert_eq!(split(compose(0, 0).unwrap()), (0, 0));
        assert!(compose(MAX_ENTRIES, 0).is_none());
        assert!(compose(0, 1 << POSITION_BITS).is_none());
    }
}
