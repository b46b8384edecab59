//! The query engine: what every request shares (parsing, the time filter, window pruning).

use loglynx_core::Timestamp;
use loglynx_store::{StoreSchema, WindowSnapshot};
use tantivy::query::{BooleanQuery, Occur, Query};

use crate::error::QueryError;
use crate::lang::{parse, Compiler, Node};
use crate::request::Filter;

/// Answers searches, aggregations and tails over a set of window snapshots.
///
/// Holds no index: callers pass the windows to read (`&[WindowSnapshot]`), so one engine
/// serves every point-in-time view the store hands out. Cheap to share (`Send + Sync`).
#[derive(Clone)]
pub struct QueryEngine {
    pub(crate) schema: StoreSchema,
    pub(crate) compiler: Compiler,
}

/// A request made ready to run: the tantivy query (with the time filter) and the windows that
/// may hold matches.
pub(crate) struct Prepared<'w> {
    pub query: Box<dyn Query>,
    pub windows: Vec<&'w WindowSnapshot>,
}

impl QueryEngine {
    /// An engine for indexes built with `schema`.
    pub fn new(schema: StoreSchema) -> Self {
        QueryEngine {
            compiler: Compiler::new(schema.clone()),
            schema,
        }
    }

    /// The schema queries are resolved against.
    pub fn schema(&self) -> &StoreSchema {
        &self.schema
    }

    /// Checks a query string without running it (for as-you-type validation): the same errors
    /// a search would return.
    pub fn validate(&self, query: &str) -> Result<(), QueryError> {
        self.compiler
            .compile(&parse(query)?, Timestamp::now())
            .map(|_| ())
    }

    /// The smallest and largest value of the numeric fast field `field` in `windows` (every
    /// stored event, no query), from the columns' statistics: cheap. `None` without values.
    pub fn u64_extent(&self, windows: &[WindowSnapshot], field: &str) -> Result<Option<(u64, u64)>, QueryError> {
        let mut out: Option<(u64, u64)> = None;
        for w in windows {
            for seg in w.searcher.segment_readers() {
                if seg.num_docs() == 0 {
                    continue;
                }
                let col = seg.fast_fields().u64(field)?;
                if col.values.num_vals() == 0 {
                    continue;
                }
                let (lo, hi) = (col.min_value(), col.max_value());
                out = Some(out.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
        }
        Ok(out)
    }

    /// Parses the filter, adds the time range and keeps the windows it may touch.
    pub(crate) fn prepare<'w>(
        &self,
        windows: &'w [WindowSnapshot],
        filter: &Filter,
        now: Timestamp,
    ) -> Result<Prepared<'w>, QueryError> {
        if let (Some(s), Some(e)) = (filter.start, filter.end) {
            if s > e {
                return Err(QueryError::BadRequest(format!(
                    "start {s} is after end {e}: swap them or widen the range"
                )));
            }
        }
        let node = parse(&filter.query)?;
        let time = self.compiler.time_range(filter.start, filter.end);
        let query: Box<dyn Query> = match (node, time) {
            (Node::All, Some(time)) => time,
            (node, None) => self.compiler.compile(&node, now)?,
            (node, Some(time)) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, self.compiler.compile(&node, now)?),
                (Occur::Must, time),
            ])),
        };
        let windows = windows
            .iter()
            .filter(|w| w.overlaps(filter.start, filter.end))
            .collect();
        Ok(Prepared { query, windows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API shares one engine between request handlers (a compile-time check).
    #[test]
    fn engine_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<QueryEngine>();
        assert!(QueryEngine::new(StoreSchema::new())
            .validate("host.name:web1 AND \"disk full\"")
            .is_ok());
        assert!(QueryEngine::new(StoreSchema::new())
            .validate("nope:x")
            .is_err());
    }
}
