//! Field explosion: caps on the `labels.*` keys of one event (`pipeline.max_labels`) and on
//! the distinct keys indexed overall (`pipeline.max_label_keys`).
//!
//! Every distinct label key becomes a column of the store, so a sender that makes up keys
//! (`labels.req_8f3a...`) would grow the index's schema and memory without bound. Labels over
//! either cap are dropped from the event's indexed labels; the raw line is kept in
//! `event.original` (so nothing sent is lost), the event is flagged `labels_capped` and the
//! dropped labels are counted. The first keys in key order are kept, so the same event keeps
//! the same labels whatever else was ingested before it under `max_labels`; under
//! `max_label_keys`, keys seen first win. The set of known keys lives in memory for the
//! process's life (a restart learns them again from the events that follow).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use loglynx_core::{Event, RawRecord};

/// The caps, the keys indexed so far and what was dropped.
#[derive(Debug)]
pub struct LabelGuard {
    max_labels: usize,
    max_keys: usize,
    keys: RwLock<HashSet<String>>,
    /// Labels dropped over a cap, since start (`loglynx_pipeline_labels_dropped_total`).
    pub dropped: AtomicU64,
    /// Events that lost labels (flagged `labels_capped`).
    pub capped_events: AtomicU64,
}

impl Default for LabelGuard {
    /// The default caps of `[pipeline]`.
    fn default() -> Self {
        let c = loglynx_config::PipelineConfig::default();
        LabelGuard::new(c.max_labels, c.max_label_keys)
    }
}

impl LabelGuard {
    /// Caps of `max_labels` per event and `max_keys` distinct keys (each at least 1).
    pub fn new(max_labels: usize, max_keys: usize) -> LabelGuard {
        LabelGuard {
            max_labels: max_labels.max(1),
            max_keys: max_keys.max(1),
            keys: RwLock::new(HashSet::new()),
            dropped: AtomicU64::new(0),
            capped_events: AtomicU64::new(0),
        }
    }

    /// Holds `e` (parsed from `raw`) to the caps; see the module.
    pub fn apply(&self, e: &mut Event, raw: &RawRecord) {
        if e.labels.is_empty() {
            return;
        }
        // The common case: few labels, all of known keys, under a read lock.
        if e.labels.len() <= self.max_labels {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if e.labels.keys().all(|k| keys.contains(k)) {
                return;
            }
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let mut kept = 0usize;
        let mut dropped = 0u64;
        e.labels.retain(|k, _| {
            let admitted = kept < self.max_labels
                && (keys.contains(k) || (keys.len() < self.max_keys && keys.insert(k.clone())));
            if admitted {
                kept += 1;
            } else {
                dropped += 1;
            }
            admitted
        });
        drop(keys);
        if dropped > 0 {
            e.flags.labels_capped = true;
            if e.original.is_none() {
                e.original = Some(String::from_utf8_lossy(&raw.body).into_owned());
            }
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            self.capped_events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use loglynx_core::Timestamp;

    use super::*;

    fn event(labels: &[(&str, &str)]) -> Event {
        let mut e = Event::new("m", Timestamp(0), Timestamp(0), "id".into());
        for (k, v) in labels {
            e.labels.insert((*k).into(), (*v).into());
        }
        e
    }

    fn raw() -> RawRecord {
        RawRecord {
            body: b"{\"labels.a\":\"1\"}".to_vec(),
            truncated: false,
            hint: loglynx_core::FormatHint::Auto,
            source: std::sync::Arc::new(loglynx_core::SourceKind::Other { name: "t".into() }),
            host: None,
            received: Timestamp(0),
            id: "x".into(),
        }
    }

    #[test]
    fn per_event_cap_keeps_the_first_keys_and_the_raw_line() {
        let g = LabelGuard::new(2, 100);
        let mut e = event(&[("c", "3"), ("a", "1"), ("b", "2")]);
        g.apply(&mut e, &raw());
        assert_eq!(e.labels.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(e.flags.labels_capped);
        assert_eq!(e.original.as_deref(), Some("{\"labels.a\":\"1\"}"));
        assert_eq!(g.dropped.load(Ordering::Relaxed), 1);
        let mut ok = event(&[("a", "1")]);
        g.apply(&mut ok, &raw());
        assert!(!ok.flags.labels_capped && ok.original.is_none());
    }

    #[test]
    fn distinct_key_cap_admits_known_keys_only_once_full() {
        let g = LabelGuard::new(100, 2);
        let mut e = event(&[("a", "1"), ("b", "2")]);
        g.apply(&mut e, &raw());
        assert!(!e.flags.labels_capped);
        let mut e = event(&[("a", "1"), ("new", "x"), ("b", "2")]);
        g.apply(&mut e, &raw());
        assert_eq!(e.labels.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(e.flags.labels_capped);
        for i in 0..1000 {
            let mut e = event(&[(&format!("k{i}"), "v")]);
            g.apply(&mut e, &raw());
            assert!(e.labels.is_empty());
        }
        assert_eq!(g.keys.read().unwrap().len(), 2, "the key set stays bounded");
        assert_eq!(g.dropped.load(Ordering::Relaxed), 1001);
        assert_eq!(g.capped_events.load(Ordering::Relaxed), 1001);
    }
}
