//! [`redundant`]: the generations of one leaf that no query needs any more, so that the leaf
//! can delete them (after a grace period, `[search] orphan_grace`).
//!
//! A generation is redundant when it is not written (not `live`), every offset it holds is
//! below the consumer group's committed offset of its partition (stored for good: nothing
//! will be consumed into it again), and the cover of all live leaves ([`cover`]) uses none of
//! it because other leaves' generations answer each of its offsets. The cover picks exactly
//! one copy of every offset, so two leaves holding the same offsets never both find theirs
//! redundant (given the same catalog; the grace period outlasts a moment's difference).

use std::collections::BTreeMap;

use crate::cover::{cover, LeafView};
use crate::wire::Generation;

/// The generations of leaf `me` (an index into `leaves`) that no query needs: not live,
/// non-empty, below `committed` of their partition, unused by the cover, and every offset
/// answered by another leaf.
pub fn redundant(leaves: &[LeafView<'_>], me: usize, committed: &BTreeMap<i32, u64>) -> Vec<Generation> {
    let Some(mine) = leaves.get(me) else { return Vec::new() };
    let c = cover(leaves);
    mine.generations
        .iter()
        .filter(|g| !g.live && g.from < g.to)
        .filter(|g| committed.get(&g.partition).is_some_and(|c| *c >= g.to))
        .filter(|g| c.unused.iter().any(|(i, id)| *i == me && *id == g.id))
        .filter(|g| {
            // Every offset of it is in a piece of another leaf.
            let mut x = g.from;
            let mut pieces: Vec<_> = c.pieces.iter().filter(|p| p.partition == g.partition && p.leaf != me).collect();
            pieces.sort_by_key(|p| p.range.from);
            for p in pieces {
                if p.range.from <= x && x < p.range.to {
                    x = p.range.to;
                }
            }
            x >= g.to
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(partition: i32, id: &str, from: u64, to: u64, live: bool) -> Generation {
        Generation { partition, id: id.into(), from, to, min_timestamp: None, max_timestamp: None, docs: to - from, live }
    }

    fn ids(gens: Vec<Generation>) -> Vec<String> {
        gens.into_iter().map(|g| g.id).collect()
    }

    #[test]
    fn only_copies_others_answer_below_the_commit_are_redundant() {
        // A: an old copy of partition 0 that B also holds whole, a partition 1 only A ever
        // held (moved away: not live, but the only copy), and its live partition 2.
        let a = [g(0, "a0", 0, 100, false), g(1, "a1", 0, 50, false), g(2, "a2", 0, 10, true)];
        let b = [g(0, "b0", 0, 150, true), g(1, "b1", 50, 60, true)];
        let leaves = [LeafView { generations: &a }, LeafView { generations: &b }];
        let committed: BTreeMap<i32, u64> = [(0, 140), (1, 60), (2, 10)].into_iter().collect();
        assert_eq!(ids(redundant(&leaves, 0, &committed)), vec!["a0"]);
        // B's live generation is never redundant, whatever covers it.
        assert!(redundant(&leaves, 1, &committed).is_empty());
        // Not yet committed past its end: kept.
        let low: BTreeMap<i32, u64> = [(0, 90)].into_iter().collect();
        assert!(redundant(&leaves, 0, &low).is_empty());
    }

    #[test]
    fn of_two_idle_copies_exactly_one_is_redundant() {
        let a = [g(3, "a3", 0, 100, false)];
        let b = [g(3, "b3", 0, 100, false)];
        let leaves = [LeafView { generations: &a }, LeafView { generations: &b }];
        let committed: BTreeMap<i32, u64> = [(3, 100)].into_iter().collect();
        let both = redundant(&leaves, 0, &committed).len() + redundant(&leaves, 1, &committed).len();
        assert_eq!(both, 1);
    }

    #[test]
    fn a_copy_covered_only_in_part_is_kept() {
        // B holds 40..100 of A's 0..100 (A crashed at 100 after committing 40): A's copy
        // answers 0..100 in the cover, B's is the unused one, and it is B's to delete.
        let a = [g(4, "a4", 0, 100, false)];
        let b = [g(4, "b4", 40, 100, false), g(4, "b4b", 100, 130, true)];
        let leaves = [LeafView { generations: &a }, LeafView { generations: &b }];
        let committed: BTreeMap<i32, u64> = [(4, 120)].into_iter().collect();
        assert!(redundant(&leaves, 0, &committed).is_empty());
        assert_eq!(ids(redundant(&leaves, 1, &committed)), vec!["b4"]);
    }
}
