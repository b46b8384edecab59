//! Points in time: store snapshots kept open for `search_after` walks (Elasticsearch's
//! `POST /_pit`, loglynx's `POST /api/v1/pit`).
//!
//! A point in time pins the store's searchers as they were when it was opened, so a client
//! paging through millions of events sees each one once while ingest goes on. Each pins files
//! (a window deleted by retention stays on disk while a point in time holds it), so they are
//! bounded: at most `query.max_open_pits` at once (one more is 429), each for its keep-alive
//! (renewed by every page, at most `query.max_pit_keep_alive`), swept whenever one is opened,
//! used or closed. An id is 128 random bits (base64url), so one client cannot guess another's,
//! and it belongs to the API key that opened it: another key is answered 404, as for an id
//! that does not exist. Through a search root a point in time holds the leaves' own points in
//! time ([`loglynx_search::RootPit`]); each leaf keeps its snapshot in its own table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use loglynx_store::WindowSnapshot;

use crate::error::ApiError;

/// The open points in time; cheap to clone (one shared table).
#[derive(Clone)]
pub struct Pits {
    open: Arc<Mutex<HashMap<String, Pit>>>,
    max_open: usize,
    max_keep_alive: Duration,
}

struct Pit {
    pinned: Pinned,
    /// The name of the API key that opened it.
    owner: String,
    expires: Instant,
}

/// What a point in time holds.
#[derive(Clone)]
pub enum Pinned {
    /// A snapshot of this server's store.
    Local(Arc<Vec<WindowSnapshot>>),
    /// The leaves' points in time (serve as a search root).
    Root(Arc<loglynx_search::RootPit>),
}

impl Pinned {
    /// A snapshot of a store (leaves and serve over a data directory).
    pub fn local(windows: Vec<WindowSnapshot>) -> Pinned {
        Pinned::Local(Arc::new(windows))
    }
}

impl std::fmt::Debug for Pits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pits").field("max_open", &self.max_open).finish_non_exhaustive()
    }
}

impl Pits {
    /// A table of at most `max_open` points in time kept at most `max_keep_alive` each.
    pub fn new(max_open: usize, max_keep_alive: Duration) -> Pits {
        Pits { open: Arc::new(Mutex::new(HashMap::new())), max_open, max_keep_alive }
    }

    /// Reads a keep-alive (`1m`, `30s`, `2h`), checked against `query.max_pit_keep_alive`.
    pub fn keep_alive(&self, s: &str) -> Result<Duration, ApiError> {
        let d = humantime::parse_duration(s.trim()).map_err(|e| {
            ApiError::BadRequest(format!("invalid keep_alive {s:?} ({e}): give a duration such as 1m or 30s"))
        })?;
        self.check_keep_alive(d)
    }

    /// `d`, when it is above 0 and at most `query.max_pit_keep_alive`.
    pub fn check_keep_alive(&self, d: Duration) -> Result<Duration, ApiError> {
        if d.is_zero() || d > self.max_keep_alive {
            return Err(ApiError::BadRequest(format!(
                "keep_alive {} must be above 0 and at most {} (query.max_pit_keep_alive)",
                humantime::format_duration(d),
                humantime::format_duration(self.max_keep_alive)
            )));
        }
        Ok(d)
    }

    /// Keeps `pinned` for `keep_alive`, for the key `owner`; its id, or 429 when
    /// `query.max_open_pits` are open.
    pub fn open(&self, pinned: Pinned, owner: &str, keep_alive: Duration) -> Result<String, ApiError> {
        let mut open = self.lock();
        sweep(&mut open);
        if open.len() >= self.max_open {
            return Err(self.full());
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| ApiError::Internal(format!("the system's random source failed: {e}")))?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        open.insert(id.clone(), Pit { pinned, owner: owner.to_string(), expires: Instant::now() + keep_alive });
        Ok(id)
    }

    /// What `id` holds, its keep-alive renewed when one is given; 404 when it is unknown,
    /// expired or `owner`'s key did not open it.
    pub fn get(&self, id: &str, owner: &str, keep_alive: Option<Duration>) -> Result<Pinned, ApiError> {
        let mut open = self.lock();
        sweep(&mut open);
        let pit = open.get_mut(id).filter(|p| p.owner == owner).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no point in time {id:?}: it expired (its keep_alive passed with no search) or was closed; open a new one and start the walk again"
            ))
        })?;
        if let Some(k) = keep_alive {
            pit.expires = Instant::now() + k;
        }
        Ok(pit.pinned.clone())
    }

    /// Closes `id` if `owner`'s key opened it; what it held, `None` when it was not open.
    pub fn close(&self, id: &str, owner: &str) -> Option<Pinned> {
        let mut open = self.lock();
        sweep(&mut open);
        if open.get(id).is_some_and(|p| p.owner == owner) {
            open.remove(id).map(|p| p.pinned)
        } else {
            None
        }
    }

    /// `query.max_open_pits`.
    pub fn max_open(&self) -> usize {
        self.max_open
    }

    /// The 429 of a full table.
    pub fn full(&self) -> ApiError {
        ApiError::Throttled {
            kind: "too_many_pits",
            reason: format!(
                "{} points in time are open, the most query.max_open_pits allows: close finished ones (DELETE /_pit or /api/v1/pit), wait for their keep_alive to end, or raise query.max_open_pits",
                self.max_open
            ),
            retry_after: 1,
        }
    }

    /// Points in time open now.
    pub fn len(&self) -> usize {
        let mut open = self.lock();
        sweep(&mut open);
        open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pit>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn sweep(open: &mut HashMap<String, Pit>) {
    let now = Instant::now();
    open.retain(|_, p| p.expires > now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_renewed_and_expired() {
        let pits = Pits::new(2, Duration::from_secs(60));
        let none = || Pinned::local(Vec::new());
        // Long enough to be alive at the third open on a loaded machine, short enough to wait out.
        let a = pits.open(none(), "k", Duration::from_millis(500)).unwrap();
        let b = pits.open(none(), "k", Duration::from_secs(30)).unwrap();
        assert_ne!(a, b);
        let e = pits.open(none(), "k", Duration::from_secs(30)).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(e.to_string().contains("query.max_open_pits"), "{e}");
        std::thread::sleep(Duration::from_millis(1000));
        let e = pits.get(&a, "k", None).err().expect("expired");
        assert_eq!(e.status(), axum::http::StatusCode::NOT_FOUND);
        assert!(e.to_string().contains("expired"), "{e}");
        assert!(pits.get(&b, "k", Some(Duration::from_secs(30))).is_ok());
        assert!(pits.open(none(), "k", Duration::from_secs(30)).is_ok(), "the expired one made room");
        assert!(pits.close(&b, "k").is_some());
        assert!(pits.close(&b, "k").is_none());
        assert!(pits.keep_alive("2h").unwrap_err().to_string().contains("query.max_pit_keep_alive"));
        assert_eq!(pits.keep_alive("1m").unwrap(), Duration::from_secs(60));
    }

    #[test]
    fn another_key_neither_sees_nor_closes_a_point_in_time() {
        let pits = Pits::new(4, Duration::from_secs(60));
        let id = pits.open(Pinned::local(Vec::new()), "alice", Duration::from_secs(30)).unwrap();
        let e = pits.get(&id, "bob", None).err().expect("another key");
        assert_eq!(e.status(), axum::http::StatusCode::NOT_FOUND);
        assert!(pits.close(&id, "bob").is_none());
        assert!(pits.get(&id, "alice", None).is_ok(), "still open for its own key");
        assert!(pits.close(&id, "alice").is_some());
    }
}
