//! What one request may cost beyond the connection limits of serve.rs: the ingest limits
//! (`http.max_records`, `http.max_bulk_errors`, `http.ingest_rate` per key) and the query
//! limits (`[query]`: a budget per query, a cap on queries running at once).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglynx_config::{HttpConfig, QueryConfig};
use loglynx_query::Budget;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{KeyRates, Principal};
use crate::error::ApiError;

/// The ingest endpoints' limits; cheap to clone (the rate table is shared).
#[derive(Debug, Clone)]
pub struct IngestLimits {
    /// Records one request may carry (`http.max_records`).
    pub max_records: usize,
    /// `_bulk` errors reported in full per request (`http.max_bulk_errors`).
    pub max_bulk_errors: usize,
    rates: Arc<Mutex<KeyRates>>,
}

impl IngestLimits {
    /// The limits of the `[http]` section.
    pub fn new(http: &HttpConfig) -> IngestLimits {
        IngestLimits {
            max_records: http.max_records,
            max_bulk_errors: http.max_bulk_errors,
            rates: Arc::new(Mutex::new(KeyRates::new(http.ingest_rate))),
        }
    }

    /// Lets a request of `records` from `who` in, or says why not: 413 over
    /// `http.max_records`, 429 with `Retry-After` over the key's `http.ingest_rate`.
    pub fn admit(&self, who: &Principal, records: usize) -> Result<(), ApiError> {
        if records > self.max_records {
            return Err(ApiError::TooManyRecords {
                count: records,
                limit: self.max_records,
            });
        }
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        rates
            .take(&who.name, records as u64, Instant::now())
            .map_err(|retry_after| ApiError::Throttled {
                kind: "rate_limited",
                reason: format!(
                    "key {:?} is over http.ingest_rate ({} records/s): nothing of this request was taken; retry after {retry_after} s, or ask for a higher rate",
                    who.name,
                    rates.rate()
                ),
                retry_after,
            })
    }
}

/// The query endpoints' limits: one permit per running query, and the budget each gets.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    running: Arc<Semaphore>,
    max_concurrent: usize,
    timeout: Duration,
    max_distinct_terms: usize,
    max_clauses: usize,
    max_wildcards: usize,
    /// The open points in time (`query.max_open_pits`, `query.max_pit_keep_alive`).
    pub(crate) pits: crate::Pits,
}

/// A running query's permit and budget.
pub(crate) struct QueryTicket {
    pub _permit: OwnedSemaphorePermit,
    pub budget: Budget,
}

impl QueryLimits {
    /// The limits of the `[query]` section.
    pub fn new(q: &QueryConfig) -> QueryLimits {
        QueryLimits {
            running: Arc::new(Semaphore::new(q.max_concurrent)),
            max_concurrent: q.max_concurrent,
            timeout: q.timeout,
            max_distinct_terms: q.max_distinct_terms,
            max_clauses: q.max_clauses,
            max_wildcards: q.max_wildcards,
            pits: crate::Pits::new(q.max_open_pits, q.max_pit_keep_alive),
        }
    }

    /// A permit to run a query now, or 429 naming `query.max_concurrent`.
    pub(crate) fn start(&self) -> Result<QueryTicket, ApiError> {
        let permit = self.running.clone().try_acquire_owned().map_err(|_| ApiError::Throttled {
            kind: "too_many_queries",
            reason: format!(
                "{} queries are running, the most query.max_concurrent allows: retry in a moment, or raise query.max_concurrent",
                self.max_concurrent
            ),
            retry_after: 1,
        })?;
        Ok(QueryTicket {
            _permit: permit,
            budget: Budget::new(self.timeout, self.max_distinct_terms)
                .with_query_caps(self.max_clauses, self.max_wildcards),
        })
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits::new(&QueryConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_over_max_concurrent_get_429_naming_it_until_one_ends() {
        let q = QueryLimits::new(&QueryConfig {
            max_concurrent: 2,
            ..QueryConfig::default()
        });
        let a = q.start().unwrap();
        let _b = q.start().unwrap();
        let e = q.start().err().unwrap();
        assert_eq!(e.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.kind(), "too_many_queries");
        assert!(e.to_string().contains("query.max_concurrent"), "{e}");
        drop(a);
        assert!(q.start().is_ok(), "a slot is free again");
    }

    #[test]
    fn ingest_requests_are_held_to_max_records_and_the_rate_per_key() {
        let l = IngestLimits::new(&HttpConfig {
            max_records: 8,
            ingest_rate: 5,
            ..HttpConfig::default()
        });
        let who = |n: &str| Principal {
            name: n.into(),
            scope: crate::Scope::Ingest,
        };
        let e = l.admit(&who("a"), 9).unwrap_err();
        assert_eq!(e.kind(), "too_many_records");
        assert!(e.to_string().contains("http.max_records (8)"), "{e}");
        // 8 of a bucket of 5: let in once, 3 in debt.
        l.admit(&who("a"), 8).unwrap();
        let e = l.admit(&who("a"), 1).unwrap_err();
        assert_eq!((e.status().as_u16(), e.kind()), (429, "rate_limited"));
        assert!(e.to_string().contains("http.ingest_rate (5 records/s)"), "{e}");
        l.admit(&who("b"), 5).unwrap();
    }
}
