//! Source positions: what the store writes in the same commit as the events (DESIGN invariant 1).
//!
//! A checkpoint maps a source key to the next position to read. Keys are chosen by sources:
//! - file tail: `file:<dev>:<inode>:<fingerprint hex>` -> byte offset of the next unread byte;
//! - Kafka: `kafka:<topic>:<partition>` -> next offset to consume;
//! - systemd journal: `journald:<seqnum_id>` -> next sequence number of that journal series.
//!
//! On start (and on every Kafka partition assignment) a source resumes from the position the
//! store holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A position that removes its key instead of advancing it (see [`Checkpoint::advance`]): how a
/// source forgets a key it no longer needs, in the same commit as the events. Never a real
/// position: byte offsets and Kafka offsets stay far below it.
pub const FORGET: u64 = u64::MAX;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Source key -> next position.
    pub positions: BTreeMap<String, u64>,
}

impl Checkpoint {
    pub fn get(&self, key: &str) -> Option<u64> {
        self.positions.get(key).copied()
    }
    /// Records `pos` for `key`; positions only move forward. [`FORGET`] removes the key.
    pub fn advance(&mut self, key: &str, pos: u64) {
        if pos == FORGET {
            self.positions.remove(key);
            return;
        }
        match self.positions.get_mut(key) {
            Some(p) => *p = (*p).max(pos),
            None => {
                self.positions.insert(key.to_string(), pos);
            }
        }
    }
    /// Applies every position of `other` with [`Checkpoint::advance`].
    pub fn merge(&mut self, other: &[(String, u64)]) {
        for (k, p) in other {
            self.advance(k, *p);
        }
    }
    /// Removes every key for which `keep` is false (e.g. files gone for longer than retention).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.positions.retain(|k, _| keep(k));
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_never_goes_back() {
        let mut c = Checkpoint::default();
        c.advance("file:1:2:ab", 100);
        c.advance("file:1:2:ab", 50);
        assert_eq!(c.get("file:1:2:ab"), Some(100));
        c.merge(&[("file:1:2:ab".into(), 150), ("kafka:t:0".into(), 7)]);
        assert_eq!(c.get("file:1:2:ab"), Some(150));
        let back = Checkpoint::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn forget_removes_a_key_and_a_later_position_brings_it_back() {
        let mut c = Checkpoint::default();
        c.merge(&[("seen:a".into(), 10), ("seen:b".into(), 20)]);
        c.merge(&[("seen:a".into(), FORGET), ("seen:zz".into(), FORGET)]);
        assert_eq!(c.get("seen:a"), None);
        assert_eq!(c.get("seen:zz"), None, "forgetting an absent key adds nothing");
        assert_eq!(c.get("seen:b"), Some(20));
        c.advance("seen:a", 5);
        assert_eq!(c.get("seen:a"), Some(5), "a new start after forgetting");
    }
}
