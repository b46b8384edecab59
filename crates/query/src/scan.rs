//! Every matching event of a snapshot, in the order the store holds them: window by window,
//! segment by segment (tantivy's order, not the order they were written), document by
//! document. This is what an export needs: each event once,
//! in one pass over the matches (linear in their number, where paging with a sort key costs a
//! pass over everything after the cursor for every page), with memory of one event at a time.
//! Elasticsearch recommends the same order (`_doc`) for scrolling through everything.

use std::ops::ControlFlow;

use loglynx_core::{Event, Timestamp};
use loglynx_store::schema::RecordColumns;
use loglynx_store::WindowSnapshot;
use tantivy::query::EnableScoring;
use tantivy::{DocSet, TantivyDocument, TERMINATED};

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::Filter;

/// Doc store blocks kept decompressed per segment while scanning: documents are read in doc
/// order, so one block serves every document in it and a second avoids re-reading the block
/// a boundary document straddles.
const STORE_CACHE_BLOCKS: usize = 2;

/// Matches between two calls of a scan's `stop`.
pub const STOP_EVERY: usize = 1024;

/// What a scan went through.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Events handed to the visitor.
    pub events: u64,
    /// Matching documents whose stored record could not be read (damaged or of an unknown
    /// format): skipped and logged, as search does.
    pub unreadable: u64,
}

impl QueryEngine {
    /// Calls `visit` with every event of `windows` matching `filter`, each once, window by
    /// window in the snapshot's order and, inside a window, segment by segment (in no
    /// particular order) and in each segment as written. `visit` returns [`ControlFlow::Break`] to stop early (a client
    /// gone, a shutdown); `stop` is asked before every segment and every [`STOP_EVERY`]
    /// matches, so a scan whose matches are rare stops too. The filter is checked like
    /// search's (a bad query is refused before anything is visited); no query budget applies
    /// (a scan lasts as long as its caller wants).
    pub fn scan(
        &self,
        windows: &[WindowSnapshot],
        filter: &Filter,
        stop: &dyn Fn() -> bool,
        mut visit: impl FnMut(Event) -> ControlFlow<()>,
    ) -> Result<ScanStats, QueryError> {
        let p = self.prepare(windows, filter, Timestamp::now())?;
        let mut stats = ScanStats::default();
        for w in &p.windows {
            let searcher = &w.searcher;
            let weight = p.query.weight(EnableScoring::disabled_from_searcher(searcher))?;
            for reader in searcher.segment_readers() {
                if stop() {
                    return Ok(stats);
                }
                let mut docs = weight.scorer(reader, 1.0)?;
                if docs.doc() == TERMINATED {
                    continue;
                }
                let store = reader
                    .get_store_reader(STORE_CACHE_BLOCKS)
                    .map_err(|e| QueryError::Index(e.into()))?;
                let columns = RecordColumns::open(reader)?;
                let alive = reader.alive_bitset();
                let mut doc = docs.doc();
                let mut since_check = 0usize;
                while doc != TERMINATED {
                    since_check += 1;
                    if since_check == STOP_EVERY {
                        since_check = 0;
                        if stop() {
                            return Ok(stats);
                        }
                    }
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        let stored: TantivyDocument = store.get(doc)?;
                        match self.schema.from_document(&stored, &columns.at(doc)) {
                            Some(event) => {
                                stats.events += 1;
                                if visit(event).is_break() {
                                    return Ok(stats);
                                }
                            }
                            None => {
                                stats.unreadable += 1;
                                tracing::warn!(window = %w.id, doc, "stored event is unreadable; skipped");
                            }
                        }
                    }
                    doc = docs.advance();
                }
            }
        }
        Ok(stats)
    }
}
