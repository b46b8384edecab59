//! The query parameters of the Network page's routes that fold stored events over a time range
//! (`/api/v1/network/talkers`, `/api/v1/network/map`, `/api/v1/network/perf/history`), read in
//! one place: the user's `q` ANDed with the route's own event selection, `start` / `end` as
//! everywhere else, `size` bounded.

use loglynx_query::Filter;
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::{bounded, filter};

/// `q`, `start`, `end` and `size` of a network range route.
#[derive(Debug, Deserialize)]
pub(crate) struct RangeParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    size: Option<usize>,
}

impl RangeParams {
    /// The filter of the events `base` selects, narrowed by `q` (blank: none) over the range,
    /// and `size` (`default` when absent, refused above `max`).
    pub(crate) fn resolve(&self, base: &str, default: usize, max: usize) -> Result<(Filter, usize), ApiError> {
        let size = bounded("size", self.size, default, max)?;
        Ok((range_filter(base, self.q.as_deref(), self.start.as_deref(), self.end.as_deref())?, size))
    }
}

/// `base AND (q)` (just `base` when `q` is blank) between `start` and `end`.
pub(crate) fn range_filter(base: &str, q: Option<&str>, start: Option<&str>, end: Option<&str>) -> Result<Filter, ApiError> {
    let q = match q.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => format!("{base} AND ({q})"),
        None => base.to_string(),
    };
    filter(Some(q), start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: Option<&str>, size: Option<usize>) -> RangeParams {
        RangeParams {
            q: q.map(String::from),
            start: Some("2024-05-01T00:00:00Z".into()),
            end: None,
            size,
        }
    }

    #[test]
    fn the_users_query_narrows_the_routes_selection() {
        let (f, size) = params(Some(" process.name:curl "), None).resolve("event.dataset:network.connection", 20, 100).unwrap();
        assert_eq!(f.query, "event.dataset:network.connection AND (process.name:curl)");
        assert_eq!(size, 20);
        assert!(f.start.is_some() && f.end.is_none());
        let (f, size) = params(Some("  "), Some(7)).resolve("a:b", 20, 100).unwrap();
        assert_eq!((f.query.as_str(), size), ("a:b", 7));
        assert!(params(None, Some(101)).resolve("a:b", 20, 100).is_err());
        assert!(range_filter("a:b", None, Some("not a time"), None).is_err());
    }
}
