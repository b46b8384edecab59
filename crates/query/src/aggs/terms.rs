//! Top-N values of a keyword, numeric or `labels.*` field, with exact counts up to the
//! budget's cardinality cap (`query.max_distinct_terms`).
//!
//! Beyond the cap only the most frequent values are kept, per segment and again when
//! segments and windows are merged (memory stays proportional to the cap, not to the number
//! of distinct values); the counts of the values kept are then lower bounds, which may miss
//! a value frequent overall but rare in every segment, and the answer says `approximate`.

use std::collections::HashMap;
use std::time::Instant;

use loglynx_core::{fields as f, Timestamp};
use loglynx_store::{FieldKind, WindowSnapshot};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::lang::{parse, Node};
use crate::request::{TermsBucket, TermsRequest, TermsResponse};

/// Most buckets one terms request returns.
pub const MAX_TERMS: usize = 10_000;
const DEFAULT_SIZE: usize = 10;

impl QueryEngine {
    /// The `size` most frequent values of `field` among matching events, most frequent first
    /// (ties by value). Every value is counted in every window, so the counts are exact.
    /// `other` is the number of matching events minus the sum of the bucket counts: exact for
    /// single-valued fields; for the multi-valued `log.flags` an event counts once per flag.
    /// Past the cardinality cap the answer is approximate (see the module).
    pub fn terms(
        &self,
        windows: &[WindowSnapshot],
        req: &TermsRequest,
    ) -> Result<TermsResponse, QueryError> {
        let started = Instant::now();
        let size = req.size.unwrap_or(DEFAULT_SIZE);
        if size > MAX_TERMS {
            return Err(QueryError::TooLarge {
                what: "size",
                value: size,
                max: MAX_TERMS,
            });
        }
        let cap = crate::budget::max_distinct_terms();
        let (total, counts, error) = self.value_counts(windows, &req.filter, &req.field, cap)?;
        let mut all: Vec<(Key, u64)> = counts.into_iter().collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(size);
        let in_buckets: u64 = all.iter().map(|(_, c)| c).sum();
        let buckets = all
            .into_iter()
            .map(|(k, count)| TermsBucket {
                value: k.to_string(),
                count,
            })
            .collect();
        Ok(TermsResponse {
            field: req.field.clone(),
            buckets,
            other: total.saturating_sub(in_buckets),
            approximate: error > 0,
            error_upper_bound: error,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The number of matching events and the count of every value of `field` among them, over
    /// all windows, at most `cap` values kept (the most frequent; see the module); the third
    /// item bounds the error: no value's count (kept or dropped) is short by more than that
    /// (the sum, over every pruning, of the largest count it dropped; 0: exact).
    fn value_counts(
        &self,
        windows: &[WindowSnapshot],
        filter: &crate::request::Filter,
        field: &str,
        cap: usize,
    ) -> Result<(u64, HashMap<Key, u64>, u64), QueryError> {
        let column = self.terms_column(field)?;
        let p = self.prepare(windows, filter, Timestamp::now())?;
        // Every event of a window matches: its counts are the term dictionary's doc
        // frequencies (see `dictionary_counts`).
        let match_all = matches!(parse(&filter.query)?, Node::All);
        // Keyword fields have a term index; numeric ones are columns only.
        let indexed = match (&column, self.schema.kind(field)) {
            (TermsColumn::Str(name), Some(FieldKind::Keyword))
                if !matches!(field, f::LOG_FLAGS | f::RULE_ID | f::RULE_NAME) =>
            {
                self.schema.field(field).map(|ix| (name.clone(), ix))
            }
            _ => None,
        };
        let cap = cap.max(1);
        let collector = TermCounts { column, cap };
        let mut counts: HashMap<Key, u64> = HashMap::new();
        let mut total = 0u64;
        let mut error = 0u64;
        for w in &p.windows {
            // The dictionary path reads no column, so it checks the budget (timeout, cancel) itself.
            crate::budget::check()?;
            let fast = match &indexed {
                Some((name, ix)) if match_all && w.within(filter.start, filter.end) => {
                    dictionary_counts(&w.searcher, name, *ix)?
                }
                _ => None,
            };
            let (docs, part) = match fast {
                Some(r) => r,
                None => {
                    let part = crate::budget::search(&w.searcher, &*p.query, &collector)?;
                    error = error.saturating_add(part.error);
                    (part.docs, part.counts)
                }
            };
            total += docs;
            for (k, c) in part {
                *counts.entry(k).or_default() += c;
            }
            error = error.saturating_add(keep_most_frequent(&mut counts, cap));
        }
        Ok((total, counts, error))
    }

    /// The fast column to count `field` on, or why it cannot be aggregated.
    pub(super) fn terms_column(&self, field: &str) -> Result<TermsColumn, QueryError> {
        let reason = match self.schema.kind(field) {
            None => {
                let mut known = self.schema.field_names();
                known.push("labels.<key>");
                return Err(QueryError::UnknownField {
                    field: field.to_string(),
                    known: known.join(", "),
                });
            }
            Some(FieldKind::Keyword) if field != f::EVENT_ID => {
                return Ok(TermsColumn::Str(field.to_string()))
            }
            Some(FieldKind::Numeric) => return Ok(TermsColumn::U64(field.to_string())),
            Some(FieldKind::Labels) => {
                let key = &field[f::LABELS_PREFIX.len()..];
                if key.is_empty() {
                    "name the label, e.g. `labels.env`"
                } else {
                    return Ok(TermsColumn::Str(format!(
                        "{}{}",
                        f::LABELS_PREFIX,
                        key.replace('.', "\\.")
                    )));
                }
            }
            Some(FieldKind::Keyword) => {
                "every event has its own id; pick a field whose values repeat"
            }
            Some(FieldKind::Text) => {
                "`message` is full text; aggregate a keyword field such as `pattern.id`"
            }
            Some(FieldKind::Date) => "dates are counted with the histogram",
        };
        Err(QueryError::BadRequest(format!(
            "cannot count the values of `{field}`: {reason}"
        )))
    }
}

/// The value counts of a keyword column over a window every event of which matches, from
/// the term dictionary of `field` (one doc frequency per distinct value) instead of a pass over
/// every event's column value: O(distinct values) rather than O(events). `None` when that would
/// not be exact: a segment with deleted events, a multi-valued column, or a column holding
/// values the index did not keep (tantivy skips terms over 65,530 bytes), seen as doc
/// frequencies not adding up to the column's number of values. The collector counts then.
fn dictionary_counts(
    searcher: &tantivy::Searcher,
    column: &str,
    field: tantivy::schema::Field,
) -> Result<Option<(u64, HashMap<Key, u64>)>, QueryError> {
    let mut docs = 0u64;
    let mut out: HashMap<Key, u64> = HashMap::new();
    for reader in searcher.segment_readers() {
        crate::budget::check()?;
        if reader.has_deletes() {
            return Ok(None);
        }
        docs += u64::from(reader.num_docs());
        let Some(col) = reader.fast_fields().str(column)? else {
            continue;
        };
        if col.ords().get_cardinality() == Cardinality::Multivalued {
            return Ok(None);
        }
        let values = u64::from(col.ords().values.num_vals());
        let index = reader.inverted_index(field)?;
        let mut stream = index.terms().stream().map_err(tantivy::TantivyError::from)?;
        let mut seen = Vec::new();
        let mut sum = 0u64;
        while stream.advance() {
            let n = u64::from(stream.value().doc_freq);
            sum += n;
            seen.push((String::from_utf8_lossy(stream.key()).into_owned(), n));
        }
        if sum != values {
            return Ok(None);
        }
        for (k, n) in seen {
            *out.entry(Key::Str(k)).or_default() += n;
        }
    }
    Ok(Some((docs, out)))
}

/// Which fast column a terms request reads (its column name in the store).
#[derive(Clone)]
pub(super) enum TermsColumn {
    Str(String),
    U64(String),
}

/// A counted value: text, or a number (ordered numerically on ties).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Num(u64),
    Str(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Num(n) => write!(f, "{n}"),
            Key::Str(s) => f.write_str(s),
        }
    }
}

/// Keeps the `cap` most frequent values of `counts` (ties by value); returns the largest count
/// dropped (0 when none was).
fn keep_most_frequent(counts: &mut HashMap<Key, u64>, cap: usize) -> u64 {
    if counts.len() <= cap {
        return 0;
    }
    let mut all: Vec<(Key, u64)> = counts.drain().collect();
    all.select_nth_unstable_by(cap - 1, |a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let dropped = all[cap..].iter().map(|(_, c)| *c).max().unwrap_or(0);
    all.truncate(cap);
    counts.extend(all);
    dropped
}

/// Counts matching docs and every value of one column, keeping at most `cap` values per
/// segment.
struct TermCounts {
    column: TermsColumn,
    cap: usize,
}

/// What one segment (or several merged) counted.
#[derive(Default)]
struct Counted {
    docs: u64,
    counts: HashMap<Key, u64>,
    /// Bound of the counts' error from values dropped over the cap (0: exact).
    error: u64,
}

enum TermCountsSegment {
    /// Counts per term ordinal of the segment's dictionary.
    Str {
        column: StrColumn,
        counts: Vec<u64>,
        docs: u64,
        cap: usize,
    },
    U64 {
        column: Column<u64>,
        counts: HashMap<u64, u64>,
        docs: u64,
        cap: usize,
        error: u64,
    },
    /// The column is absent in this segment: only docs are counted.
    Missing { docs: u64 },
}

impl Collector for TermCounts {
    type Fruit = Counted;
    type Child = TermCountsSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let ff = reader.fast_fields();
        Ok(match &self.column {
            TermsColumn::Str(name) => match ff.str(name)? {
                Some(column) => {
                    let counts = vec![0; column.num_terms()];
                    TermCountsSegment::Str {
                        column,
                        counts,
                        docs: 0,
                        cap: self.cap,
                    }
                }
                None => TermCountsSegment::Missing { docs: 0 },
            },
            TermsColumn::U64(name) => match ff.column_opt::<u64>(name)? {
                Some(column) => TermCountsSegment::U64 {
                    column,
                    counts: HashMap::new(),
                    docs: 0,
                    cap: self.cap,
                    error: 0,
                },
                None => TermCountsSegment::Missing { docs: 0 },
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<std::io::Result<Counted>>) -> tantivy::Result<Self::Fruit> {
        let mut all = Counted::default();
        for fruit in fruits {
            let part = fruit?;
            all.docs += part.docs;
            all.error = all.error.saturating_add(part.error);
            for (k, c) in part.counts {
                *all.counts.entry(k).or_default() += c;
            }
            all.error = all.error.saturating_add(keep_most_frequent(&mut all.counts, self.cap));
        }
        Ok(all)
    }
}

impl SegmentCollector for TermCountsSegment {
    type Fruit = std::io::Result<Counted>;

    fn collect(&mut self, doc: DocId, _: Score) {
        match self {
            TermCountsSegment::Str {
                column,
                counts,
                docs,
                ..
            } => {
                *docs += 1;
                for ord in column.term_ords(doc) {
                    if let Some(c) = counts.get_mut(ord as usize) {
                        *c += 1;
                    }
                }
            }
            TermCountsSegment::U64 {
                column,
                counts,
                docs,
                cap,
                error,
            } => {
                *docs += 1;
                for v in column.values_for_doc(doc) {
                    *counts.entry(v).or_default() += 1;
                }
                // Numbers have no dictionary to bound them: prune to the cap's most frequent
                // whenever the map reaches twice the cap (amortised, memory at most 2 x cap).
                if counts.len() >= cap.saturating_mul(2) {
                    let mut all: Vec<(u64, u64)> = counts.drain().collect();
                    all.select_nth_unstable_by(*cap - 1, |a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    let dropped = all[*cap..].iter().map(|(_, c)| *c).max().unwrap_or(0);
                    all.truncate(*cap);
                    counts.extend(all);
                    *error = error.saturating_add(dropped);
                }
            }
            TermCountsSegment::Missing { docs } => *docs += 1,
        }
    }

    fn collect_block(&mut self, block: &[DocId]) {
        if let TermCountsSegment::Missing { docs } = self {
            *docs += block.len() as u64;
            return;
        }
        for doc in block {
            self.collect(*doc, 0.0);
        }
    }

    fn harvest(self) -> Self::Fruit {
        match self {
            TermCountsSegment::Str {
                column,
                counts,
                docs,
                cap,
            } => {
                let mut seen: Vec<(u64, u64)> = counts
                    .into_iter()
                    .enumerate()
                    .filter(|(_, c)| *c > 0)
                    .map(|(o, c)| (o as u64, c))
                    .collect();
                let mut error = 0;
                if seen.len() > cap {
                    // The most frequent ordinals, back in dictionary order for the walk below.
                    seen.select_nth_unstable_by(cap - 1, |a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    error = seen[cap..].iter().map(|(_, c)| *c).max().unwrap_or(0);
                    seen.truncate(cap);
                    seen.sort_unstable_by_key(|(o, _)| *o);
                }
                let mut out = HashMap::with_capacity(seen.len());
                let mut next = seen.iter().map(|(_, c)| *c);
                // One sequential walk over the dictionary resolves every counted ordinal.
                column.dictionary().sorted_ords_to_term_cb(
                    seen.iter().map(|(o, _)| *o),
                    |bytes| {
                        let count = next.next().unwrap_or(0);
                        out.insert(Key::Str(String::from_utf8_lossy(bytes).into_owned()), count);
                        Ok(())
                    },
                )?;
                Ok(Counted { docs, counts: out, error })
            }
            TermCountsSegment::U64 {
                counts,
                docs,
                cap,
                error,
                ..
            } => {
                let mut counts: HashMap<Key, u64> =
                    counts.into_iter().map(|(k, c)| (Key::Num(k), c)).collect();
                let error = error.saturating_add(keep_most_frequent(&mut counts, cap));
                Ok(Counted { docs, counts, error })
            }
            TermCountsSegment::Missing { docs } => Ok(Counted { docs, ..Counted::default() }),
        }
    }
}
