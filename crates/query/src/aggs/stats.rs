//! The distinct count of a field and the stats (count, min, max, sum, avg) of a numeric one,
//! from the value counts the terms aggregation collects: exact, merged across windows, in
//! memory proportional to the number of distinct values (like terms).

use loglynx_store::{FieldKind, WindowSnapshot};
use serde::{Deserialize, Serialize};

use super::terms::Key;
use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::Filter;

/// What [`QueryEngine::field_stats`] found among the matching events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldStats {
    /// Values seen (an event without the field adds none).
    pub count: u64,
    /// Distinct values.
    pub distinct: u64,
    /// Numeric fields: the smallest value (None without values or for a keyword field).
    pub min: Option<u64>,
    /// Numeric fields: the largest value.
    pub max: Option<u64>,
    /// Numeric fields: the sum of the values (u128: no overflow).
    pub sum: Option<u128>,
}

impl FieldStats {
    /// The mean of a numeric field's values.
    pub fn avg(&self) -> Option<f64> {
        self.sum.filter(|_| self.count > 0).map(|s| s as f64 / self.count as f64)
    }
}

impl QueryEngine {
    /// The values of `field` among the events matching `filter`: how many, how many distinct,
    /// and for a numeric field min, max and sum. A field that cannot be aggregated (full text,
    /// dates, `event.id`) is refused like by terms.
    pub fn field_stats(
        &self,
        windows: &[WindowSnapshot],
        filter: &Filter,
        field: &str,
    ) -> Result<FieldStats, QueryError> {
        let (_, counts, _) = self.value_counts(windows, filter, field, None)?;
        let numeric = self.schema().kind(field) == Some(FieldKind::Numeric);
        let mut s = FieldStats {
            distinct: counts.len() as u64,
            ..FieldStats::default()
        };
        for (k, c) in &counts {
            s.count += c;
            if let (true, Key::Num(v)) = (numeric, k) {
                s.min = Some(s.min.map_or(*v, |m| m.min(*v)));
                s.max = Some(s.max.map_or(*v, |m| m.max(*v)));
                s.sum = Some(s.sum.unwrap_or(0) + u128::from(*v) * u128::from(*c));
            }
        }
        if numeric && s.sum.is_none() {
            s.sum = Some(0);
        }
        Ok(s)
    }
}
