//! Folds over the matching events (the network talkers, map and performance history), over
//! this process's store or through the leaves of a search root.
//!
//! Each route keeps a partial state ([`ScanFold`]) that one read of the events fills and that
//! adds up: on a root every leaf folds the events of the offsets the cover gives it
//! (`POST /internal/v1/network/{op}`, [`leaf_scan`]), the root adds the leaves' states and
//! makes the answer from the sum, as one process would from all the events. Each leaf reads
//! at most [`MAX_SCAN`](crate::routes::talkers::MAX_SCAN) of its events (newest first), so through a root `scanned` may exceed
//! one process's cap; `truncated` says whether any leaf stopped short.

use std::collections::HashMap;
use std::hash::Hash;

use axum::extract::State;
use axum::Json;
use loglynx_query::Filter;
use loglynx_search::LeafRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::leaf::LeafState;
use crate::routes::talkers::scan;
use crate::routes::{run_query, Answer};
use crate::state::AppState;

/// A partial state of a fold over events: what one read keeps, and how two add up.
pub(crate) trait ScanFold: Default + Serialize + DeserializeOwned + Send + 'static {
    /// Folds one event in.
    fn add(&mut self, e: &loglynx_core::Event);
    /// Adds another read's state (of other events).
    fn merge(&mut self, other: Self);
}

/// A fold's state with the counts of its read.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "F: ScanFold")]
pub(crate) struct Scanned<F> {
    /// Events matching.
    pub(crate) total: u64,
    /// Events folded (newest first; at most [`MAX_SCAN`](crate::routes::talkers::MAX_SCAN) per store read).
    pub(crate) scanned: u64,
    /// Some read stopped at [`MAX_SCAN`](crate::routes::talkers::MAX_SCAN).
    pub(crate) truncated: bool,
    /// The state.
    pub(crate) fold: F,
}

/// Reads the events matching `f` of `windows` into a new state.
fn read<F: ScanFold>(
    engine: &loglynx_query::QueryEngine,
    windows: &[loglynx_store::WindowSnapshot],
    f: &Filter,
) -> Result<Scanned<F>, loglynx_query::QueryError> {
    let mut fold = F::default();
    let (total, scanned) = scan(engine, windows, f, |e| fold.add(e))?;
    Ok(Scanned { total, scanned: scanned as u64, truncated: (scanned as u64) < total, fold })
}

/// The fold of the events matching `f`: over the store, or the sum of the leaves' folds
/// (`POST /internal/v1/network/{op}`) when this serve is a search root, with what is missing.
pub(crate) async fn fold<F: ScanFold>(st: &AppState, op: &str, f: Filter) -> Result<Answer<Scanned<F>>, ApiError> {
    match &st.root {
        None => {
            let s = run_query(st, move |engine, windows| read::<F>(engine, windows, &f)).await?;
            Ok(Answer { body: s, missing: Vec::new(), approximate: false })
        }
        Some(root) => {
            let parts = root.gather::<Filter, Scanned<F>>(&format!("network/{op}"), &f).await?;
            let mut sum = Scanned { total: 0, scanned: 0, truncated: false, fold: F::default() };
            for p in parts.body {
                sum.total = sum.total.saturating_add(p.total);
                sum.scanned = sum.scanned.saturating_add(p.scanned);
                sum.truncated |= p.truncated;
                sum.fold.merge(p.fold);
            }
            Ok(Answer { body: sum, missing: parts.missing, approximate: false })
        }
    }
}

/// Handler of `POST /internal/v1/network/{op}` on a leaf: the fold of its events in the
/// request's offsets.
pub(crate) async fn leaf_scan<F: ScanFold>(
    State(st): State<LeafState>,
    Json(r): Json<LeafRequest<Filter>>,
) -> Result<Json<Scanned<F>>, ApiError> {
    let Some(f) = crate::routes::leaf::narrowed(&r.request, &r.offsets) else {
        return Ok(Json(Scanned { total: 0, scanned: 0, truncated: false, fold: F::default() }));
    };
    let s = crate::routes::leaf::run(&st, move |st, w| read::<F>(&st.engine, w, &f)).await?;
    Ok(Json(s))
}

/// Serde of a map whose keys are not strings (tuples, enums) as a list of pairs.
pub(crate) mod pairs {
    use super::*;

    pub(crate) fn serialize<S, K, V>(m: &HashMap<K, V>, s: S) -> Result<S::Ok, S::Error>
    where
        S: serde::Serializer,
        K: Serialize,
        V: Serialize,
    {
        s.collect_seq(m.iter())
    }

    pub(crate) fn deserialize<'de, D, K, V>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        D: serde::Deserializer<'de>,
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
