//! [`cover`]: per partition, one non-overlapping cover of the offset line by the leaves'
//! generations.
//!
//! Generations overlap: a worker that crashed is followed by one that starts at the last
//! committed offset (up to one commit interval of records twice), a zombie keeps its copy, a
//! partition moved A -> B -> A leaves two generations on A. The cover walks each partition's
//! offsets from the lowest held and, at each point, takes the generation holding it that
//! reaches furthest (then the live one, then the one that starts later: the newest; between
//! equal copies the leaf with the fewest pieces so far, spreading the work), up to its end; so
//! every offset is answered by exactly one leaf, and with few pieces. The last piece of
//! a partition is open-ended when its generation is live (the leaf keeps writing it). Offsets
//! no generation holds between the lowest and the highest are a gap: reported, not hidden.

use crate::offsets::{OffsetFilter, OffsetRange};
use crate::wire::Generation;

/// One leaf as the cover sees it: its generations.
#[derive(Debug, Clone, Copy)]
pub struct LeafView<'a> {
    /// The generations it holds.
    pub generations: &'a [Generation],
}

/// One piece of a partition's offset line and the leaf that answers for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Kafka partition.
    pub partition: i32,
    /// The offsets.
    pub range: OffsetRange,
    /// Index of the leaf in the slice given to [`cover`].
    pub leaf: usize,
}

/// The cover of every partition the leaves hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// The pieces, by partition then offset.
    pub pieces: Vec<Piece>,
    /// Offsets no leaf holds, between a partition's lowest and highest held offsets.
    pub gaps: Vec<(i32, OffsetRange)>,
    /// Generations no piece uses (fully covered by others): orphans once old enough.
    pub unused: Vec<(usize, String)>,
}

impl Cover {
    /// The offsets leaf `leaf` answers for (empty: ask it nothing).
    pub fn offsets_of(&self, leaf: usize) -> OffsetFilter {
        let mut f = OffsetFilter::default();
        for p in self.pieces.iter().filter(|p| p.leaf == leaf) {
            f.add(p.partition, p.range.from, p.range.to);
        }
        f
    }
}

/// Covers each partition's offsets with the leaves' generations (see the module comment).
pub fn cover(leaves: &[LeafView<'_>]) -> Cover {
    let mut by_partition: std::collections::BTreeMap<i32, Vec<(usize, &Generation)>> =
        Default::default();
    for (i, l) in leaves.iter().enumerate() {
        for g in l.generations.iter().filter(|g| g.from < g.to || g.live) {
            by_partition.entry(g.partition).or_default().push((i, g));
        }
    }
    let mut out = Cover::default();
    let mut used = std::collections::HashSet::new();
    let mut load: std::collections::HashMap<usize, usize> = Default::default();
    for (partition, gens) in by_partition {
        let end = gens.iter().map(|(_, g)| g.to).max().unwrap_or(0);
        let mut x = gens.iter().map(|(_, g)| g.from).min().unwrap_or(0);
        let mut last: Option<(usize, &Generation)> = None;
        while x < end {
            let holding: Vec<&(usize, &Generation)> = gens.iter().filter(|(_, g)| g.from <= x && x < g.to).collect();
            let top = holding.iter().map(|(_, g)| (g.to, g.live, g.from)).max();
            // Equal copies (replicas): the leaf with the fewest pieces so far answers, so the
            // partitions of two full copies are spread over both leaves.
            let best = holding
                .iter()
                .filter(|(_, g)| Some((g.to, g.live, g.from)) == top)
                .min_by_key(|(leaf, _)| load.get(leaf).copied().unwrap_or(0))
                .map(|e| **e);
            match best {
                Some((leaf, g)) => {
                    *load.entry(leaf).or_insert(0) += 1;
                    out.pieces.push(Piece { partition, range: OffsetRange { from: x, to: g.to }, leaf });
                    used.insert((leaf, g.id.clone()));
                    last = Some((out.pieces.len() - 1, g));
                    x = g.to;
                }
                None => {
                    let next = gens.iter().map(|(_, g)| g.from).filter(|f| *f > x).min().unwrap_or(end);
                    out.gaps.push((partition, OffsetRange { from: x, to: next }));
                    x = next;
                }
            }
        }
        // The live generation reaching the end keeps growing: its piece is open.
        match last {
            Some((i, g)) if g.live => out.pieces[i].range.to = u64::MAX,
            _ => {
                if let Some(&(leaf, g)) = gens.iter().find(|(_, g)| g.live && g.to >= end) {
                    // Live but with nothing past the others yet: it answers from there on.
                    out.pieces.push(Piece { partition, range: OffsetRange { from: end.max(g.from), to: u64::MAX }, leaf });
                    used.insert((leaf, g.id.clone()));
                }
            }
        }
    }
    for (i, l) in leaves.iter().enumerate() {
        for g in l.generations {
            if !used.contains(&(i, g.id.clone())) {
                out.unused.push((i, g.id.clone()));
            }
        }
    }
    out
}

/// Where the pieces of failed leaves can be read again: for each piece (`offsets`, of leaves
/// in `failed`), the generation of another leaf that holds its start and reaches furthest (a
/// live one reaches every later offset). Returns what to ask each such leaf, and the parts of
/// pieces no other leaf holds (from where the best copy ends, or the whole piece).
pub fn other_copies(
    leaves: &[LeafView<'_>],
    failed: &std::collections::HashSet<usize>,
    offsets: &OffsetFilter,
) -> (std::collections::BTreeMap<usize, OffsetFilter>, Vec<(i32, OffsetRange)>) {
    let mut again: std::collections::BTreeMap<usize, OffsetFilter> = Default::default();
    let mut lost = Vec::new();
    for (partition, r) in offsets.ranges() {
        let best = leaves
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed.contains(i))
            .flat_map(|(i, l)| l.generations.iter().map(move |g| (i, g)))
            .filter(|(_, g)| g.partition == partition && g.from <= r.from)
            .map(|(i, g)| (if g.live { u64::MAX } else { g.to }, i))
            .filter(|(reach, _)| *reach > r.from)
            .max_by_key(|(reach, i)| (*reach, std::cmp::Reverse(*i)));
        match best {
            Some((reach, i)) => {
                let to = reach.min(r.to);
                again.entry(i).or_default().add(partition, r.from, to);
                if to < r.to {
                    lost.push((partition, OffsetRange { from: to, to: r.to }));
                }
            }
            None => lost.push((partition, r)),
        }
    }
    (again, lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(partition: i32, id: &str, from: u64, to: u64, live: bool) -> Generation {
        Generation { partition, id: id.into(), from, to, min_timestamp: None, max_timestamp: None, docs: to - from, live }
    }

    fn r(from: u64, to: u64) -> OffsetRange {
        OffsetRange { from, to }
    }

    #[test]
    fn overlapping_generations_are_answered_once() {
        // A crashed at 120 after committing 100; B resumed at 100 and is live.
        let a = [g(0, "a0", 0, 120, false), g(1, "a1", 0, 50, true)];
        let b = [g(0, "b0", 100, 300, true)];
        let c = cover(&[LeafView { generations: &a }, LeafView { generations: &b }]);
        assert_eq!(
            c.pieces,
            vec![
                Piece { partition: 0, range: r(0, 120), leaf: 0 },
                Piece { partition: 0, range: r(120, u64::MAX), leaf: 1 },
                Piece { partition: 1, range: r(0, u64::MAX), leaf: 0 },
            ]
        );
        assert!(c.gaps.is_empty());
        assert!(c.unused.is_empty());
        let mut want = OffsetFilter::default();
        want.add(0, 0, 120);
        want.add(1, 0, u64::MAX);
        assert_eq!(c.offsets_of(0), want);
    }

    #[test]
    fn a_generation_inside_a_longer_one_is_unused_and_holes_are_gaps() {
        // A -> B -> A: A's second generation continues where B stopped; B's copy is inside
        // a longer one held elsewhere.
        let a = [g(3, "a-old", 0, 100, false), g(3, "a-new", 100, 400, true)];
        let b = [g(3, "b", 100, 200, false)];
        let d = [g(3, "d", 0, 50, false), g(3, "d2", 500, 600, false)];
        let c = cover(&[LeafView { generations: &a }, LeafView { generations: &b }, LeafView { generations: &d }]);
        assert_eq!(
            c.pieces,
            vec![
                Piece { partition: 3, range: r(0, 100), leaf: 0 },
                Piece { partition: 3, range: r(100, 400), leaf: 0 },
                Piece { partition: 3, range: r(500, 600), leaf: 2 },
            ]
        );
        assert_eq!(c.gaps, vec![(3, r(400, 500))]);
        assert_eq!(c.unused, vec![(1, "b".to_string()), (2, "d".to_string())]);
    }

    #[test]
    fn equal_copies_are_spread_over_the_leaves() {
        let a = [g(1, "a1", 0, 10, true), g(3, "a3", 0, 10, true)];
        let b = [g(1, "b1", 0, 10, true), g(3, "b3", 0, 10, true)];
        let c = cover(&[LeafView { generations: &a }, LeafView { generations: &b }]);
        let leaves: Vec<usize> = c.pieces.iter().map(|p| p.leaf).collect();
        assert_eq!(leaves, vec![0, 1]);
    }

    #[test]
    fn a_live_generation_with_nothing_yet_is_asked_from_its_start() {
        let a = [g(0, "a", 0, 10, false)];
        let b = [g(0, "b", 10, 10, true)];
        let c = cover(&[LeafView { generations: &a }, LeafView { generations: &b }]);
        assert_eq!(
            c.pieces,
            vec![Piece { partition: 0, range: r(0, 10), leaf: 0 }, Piece { partition: 0, range: r(10, u64::MAX), leaf: 1 }]
        );
    }

    #[test]
    fn a_failed_leafs_pieces_go_to_copies_that_hold_them() {
        // Two full copies (a and b), and c holding only the start of partition 1.
        let a = [g(0, "a0", 0, 100, true), g(1, "a1", 0, 80, true)];
        let b = [g(0, "b0", 0, 90, true), g(1, "b1", 0, 60, false)];
        let c = [g(1, "c1", 0, 30, false), g(2, "c2", 0, 10, false)];
        let views = [LeafView { generations: &a }, LeafView { generations: &b }, LeafView { generations: &c }];
        let mut failed_offsets = OffsetFilter::default();
        failed_offsets.add(0, 0, u64::MAX);
        failed_offsets.add(1, 20, u64::MAX);
        failed_offsets.add(3, 0, 5);
        let failed = [0].into_iter().collect();
        let (again, lost) = other_copies(&views, &failed, &failed_offsets);
        let mut want_b = OffsetFilter::default();
        want_b.add(0, 0, u64::MAX);
        want_b.add(1, 20, 60);
        assert_eq!(again.get(&1), Some(&want_b));
        assert!(!again.contains_key(&2), "b reaches further than c: {again:?}");
        assert_eq!(lost, vec![(1, r(60, u64::MAX)), (3, r(0, 5))]);
        // Nobody else left: everything is lost.
        let failed = [0, 1, 2].into_iter().collect();
        let (again, lost) = other_copies(&views, &failed, &failed_offsets);
        assert!(again.is_empty());
        assert_eq!(lost.len(), 3);
    }
}
