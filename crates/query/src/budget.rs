//! What one query may cost: a deadline, a cancel flag, the terms cardinality cap and the caps on
//! clauses and wildcard terms.
//!
//! The caller (the HTTP API's query runner) makes a [`Budget`] per request and runs the engine
//! inside [`Budget::run`], on the thread that runs the query; the engine's searches go through
//! [`search`], which checks the budget before every index segment (tantivy's collection loop
//! inside a segment cannot be interrupted, so a query stops at the next segment boundary).
//! The budget is per thread rather than a parameter of every engine method so the engine's
//! API (and its callers) stay as they are; searches run on the calling thread (the store's
//! searchers have no executor of their own), so the budget is seen by all of them.
//!
//! Without a budget (unit tests, tools) queries are not timed, terms keep
//! [`DEFAULT_MAX_DISTINCT_TERMS`] distinct values and queries have at most
//! [`DEFAULT_MAX_CLAUSES`] clauses, [`DEFAULT_MAX_WILDCARDS`] of them wildcards.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{Query, Weight};
use tantivy::{Searcher, SegmentOrdinal, SegmentReader, TantivyError};

use crate::error::QueryError;

/// Distinct values a terms aggregation counts exactly when no budget says otherwise (the
/// default of `query.max_distinct_terms`).
pub const DEFAULT_MAX_DISTINCT_TERMS: usize = 100_000;
/// Most `field:value` clauses in one query when no budget says otherwise (the default of
/// `query.max_clauses`; Elasticsearch's `max_clause_count` is of this order): each is a term
/// lookup per index window, so a query of 100 000 ORed words would hold a search thread long.
pub const DEFAULT_MAX_CLAUSES: usize = 1024;
/// Most wildcard clauses in one query when no budget says otherwise (the default of
/// `query.max_wildcards`): each walks the field's whole term dictionary.
pub const DEFAULT_MAX_WILDCARDS: usize = 64;

/// The limits of one query; cheap to clone (the cancel flag is shared).
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Instant,
    timeout: Duration,
    cancelled: Arc<AtomicBool>,
    max_distinct_terms: usize,
    max_clauses: usize,
    max_wildcards: usize,
}

/// Sets the cancel flag of its budget when dropped, unless [`CancelOnDrop::disarm`]ed: held by
/// the request's future, so a client that disconnects (the future dropped) stops its query.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl CancelOnDrop {
    /// The query finished: dropping no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

impl Budget {
    /// A budget of `timeout` from now, keeping `max_distinct_terms` values per terms request.
    pub fn new(timeout: Duration, max_distinct_terms: usize) -> Budget {
        let now = Instant::now();
        Budget {
            deadline: now.checked_add(timeout).unwrap_or(now + Duration::from_secs(86_400 * 365)),
            timeout,
            cancelled: Arc::new(AtomicBool::new(false)),
            max_distinct_terms: max_distinct_terms.max(1),
            max_clauses: DEFAULT_MAX_CLAUSES,
            max_wildcards: DEFAULT_MAX_WILDCARDS,
        }
    }

    /// This budget with at most `max_clauses` clauses per query, `max_wildcards` of them
    /// wildcard terms (`query.max_clauses`, `query.max_wildcards`); a query over either is
    /// refused before it runs.
    pub fn with_query_caps(mut self, max_clauses: usize, max_wildcards: usize) -> Budget {
        self.max_clauses = max_clauses.max(1);
        self.max_wildcards = max_wildcards;
        self
    }

    /// A guard that cancels this budget's query when dropped.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.cancelled.clone()))
    }

    /// Runs `f` with this budget on the current thread (restoring the previous one after).
    pub fn run<T>(self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Budget>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = prev);
            }
        }
        let prev = CURRENT.with(|c| c.borrow_mut().replace(self));
        let _restore = Restore(prev);
        f()
    }

    /// Why the query must stop now, if it must.
    fn exhausted(&self) -> Option<QueryError> {
        if self.cancelled.load(Ordering::Relaxed) {
            Some(QueryError::Cancelled)
        } else if Instant::now() >= self.deadline {
            Some(QueryError::TimedOut { timeout: self.timeout })
        } else {
            None
        }
    }
}

/// The current query's reason to stop, if any (none without a budget).
pub(crate) fn check() -> Result<(), QueryError> {
    match CURRENT.with(|c| c.borrow().as_ref().and_then(Budget::exhausted)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The current query's terms cardinality cap.
pub(crate) fn max_distinct_terms() -> usize {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map_or(DEFAULT_MAX_DISTINCT_TERMS, |b| b.max_distinct_terms)
    })
}

/// The current query's caps on clauses and on wildcard clauses.
pub(crate) fn query_caps() -> (usize, usize) {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map_or((DEFAULT_MAX_CLAUSES, DEFAULT_MAX_WILDCARDS), |b| (b.max_clauses, b.max_wildcards))
    })
}

/// `searcher.search(query, collector)` checking the current budget before each segment.
pub(crate) fn search<C: Collector>(
    searcher: &Searcher,
    query: &dyn Query,
    collector: &C,
) -> Result<C::Fruit, QueryError> {
    check()?;
    match searcher.search(query, &Guarded(collector)) {
        Ok(fruit) => Ok(fruit),
        // The guard's own stop: say why (timeout or cancel), not "index error".
        Err(e) => Err(check().err().unwrap_or(QueryError::Index(e))),
    }
}

/// `query.count(searcher)` (tantivy's per-segment count, cheap where the query allows it)
/// checking the current budget before each segment, as [`search`] does: a count over one
/// window of many segments stops at the next segment once the query is timed out or cancelled.
pub(crate) fn count(searcher: &Searcher, query: &dyn Query) -> Result<u64, QueryError> {
    check()?;
    let weight = query.weight(tantivy::query::EnableScoring::disabled_from_searcher(searcher))?;
    let mut total = 0u64;
    for reader in searcher.segment_readers() {
        check()?;
        total += u64::from(weight.count(reader)?);
    }
    Ok(total)
}

/// A collector that checks the budget before each segment, delegating everything else.
struct Guarded<'a, C>(&'a C);

impl<C: Collector> Collector for Guarded<'_, C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(&self, ord: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<C::Child> {
        stop_if_exhausted()?;
        self.0.for_segment(ord, reader)
    }

    fn requires_scoring(&self) -> bool {
        self.0.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<C::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<C::Fruit> {
        self.0.merge_fruits(fruits)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<<C::Child as SegmentCollector>::Fruit> {
        stop_if_exhausted()?;
        self.0.collect_segment(weight, ord, reader)
    }
}

fn stop_if_exhausted() -> tantivy::Result<()> {
    check().map_err(|e| TantivyError::InternalError(format!("query stopped: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_applies_inside_run_only_and_tells_timeout_from_cancel() {
        assert!(check().is_ok(), "no budget: never stops");
        assert_eq!(max_distinct_terms(), DEFAULT_MAX_DISTINCT_TERMS);
        let b = Budget::new(Duration::from_secs(3600), 7);
        let guard = b.cancel_on_drop();
        b.clone().run(|| {
            assert!(check().is_ok());
            assert_eq!(max_distinct_terms(), 7);
        });
        drop(guard);
        let e = b.clone().run(check).unwrap_err();
        assert!(matches!(e, QueryError::Cancelled), "{e}");
        assert!(check().is_ok(), "the budget ends with run");

        let b = Budget::new(Duration::ZERO, 7);
        let e = b.run(check).unwrap_err();
        assert!(matches!(e, QueryError::TimedOut { .. }), "{e}");
        assert!(e.to_string().contains("query.timeout"), "{e}");

        let b = Budget::new(Duration::from_secs(3600), 7);
        b.cancel_on_drop().disarm();
        assert!(b.run(check).is_ok(), "a disarmed guard does not cancel");

        assert_eq!(query_caps(), (DEFAULT_MAX_CLAUSES, DEFAULT_MAX_WILDCARDS));
        let b = Budget::new(Duration::from_secs(3600), 7).with_query_caps(5, 0);
        assert_eq!(b.run(query_caps), (5, 0));
    }
}
