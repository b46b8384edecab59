//! Accepting a loss: a worker gone for good (its disk died) is named in `missing` of every
//! answer until an operator accepts that its offsets are lost (`loglynx leaves forget`,
//! `DELETE /api/v1/leaves/{id}`, [`crate::Root::forget`]). [`lost_ranges`] picks the offsets
//! the loss covers; the [`crate::LostRecord`] kept in the catalog topic carries them to every
//! root, which then lists them as `lost` instead of `missing`.

use crate::root::Missing;
use crate::wire::{LostRange, LostRecord};

/// The offsets of `unanswered` (a root's current `missing`, by partition then offset) that
/// the gone leaf at `addr` held, and the unnamed offsets right after each of them (what it
/// stored after its last catalog record, up to the group's commit): what is lost with it.
pub fn lost_ranges(unanswered: &[Missing], addr: &str) -> Vec<LostRange> {
    let mut out: Vec<LostRange> = Vec::new();
    for m in unanswered {
        let Some(to) = m.to else { continue };
        let follows = out.last().is_some_and(|l| l.partition == m.partition && l.to == m.from);
        if m.leaf == addr || (m.leaf.is_empty() && follows) {
            match out.last_mut() {
                Some(l) if follows => l.to = to,
                _ => out.push(LostRange { partition: m.partition, from: m.from, to }),
            }
        }
    }
    out
}

/// `old` and `new` together (the same address forgotten twice): workers and ranges of both.
pub fn merge_lost(old: Option<&LostRecord>, mut new: LostRecord) -> LostRecord {
    if let Some(old) = old {
        for w in &old.workers {
            if !new.workers.contains(w) {
                new.workers.push(w.clone());
            }
        }
        let mut all = old.offsets();
        for r in &new.ranges {
            all.add(r.partition, r.from, r.to);
        }
        new.ranges = all.ranges().map(|(partition, r)| LostRange { partition, from: r.from, to: r.to }).collect();
    }
    new.workers.sort();
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CATALOG_VERSION;

    fn m(partition: i32, from: u64, to: u64, leaf: &str) -> Missing {
        Missing { partition, from, to: Some(to), leaf: leaf.into(), reason: String::new() }
    }

    #[test]
    fn the_loss_is_what_the_leaf_held_and_the_unnamed_offsets_after_it() {
        let missing = [
            m(0, 0, 100, "b:1"),
            m(0, 100, 120, ""),
            m(0, 300, 310, ""),
            m(1, 0, 50, "c:1"),
            m(1, 50, 60, ""),
            m(2, 10, 20, "b:1"),
        ];
        assert_eq!(
            lost_ranges(&missing, "b:1"),
            vec![LostRange { partition: 0, from: 0, to: 120 }, LostRange { partition: 2, from: 10, to: 20 }],
            "another leaf's offsets and an unnamed hole elsewhere are not b's"
        );
        assert!(lost_ranges(&missing, "x:1").is_empty());
    }

    #[test]
    fn forgetting_an_address_twice_keeps_both_losses() {
        let rec = |workers: &[&str], ranges: Vec<LostRange>| LostRecord {
            version: CATALOG_VERSION,
            addr: "b:1".into(),
            workers: workers.iter().map(|w| w.to_string()).collect(),
            ranges,
            at_ms: 0,
        };
        let old = rec(&["b-1"], vec![LostRange { partition: 0, from: 0, to: 10 }]);
        let new = rec(&["b-2"], vec![LostRange { partition: 0, from: 10, to: 20 }, LostRange { partition: 1, from: 0, to: 5 }]);
        let both = merge_lost(Some(&old), new);
        assert_eq!(both.workers, ["b-1", "b-2"]);
        assert_eq!(both.ranges, vec![LostRange { partition: 0, from: 0, to: 20 }, LostRange { partition: 1, from: 0, to: 5 }]);
    }
}
