//! What must exist, and what of it no live leaf answers.
//!
//! The cover ([`crate::cover`]) only sees the generations of the live leaves: when a worker
//! dies and does not come back within `[serve] catalog_ttl`, the offsets only its disk held
//! would drop out of every answer without a word. So the root also knows, per partition, what
//! must exist ([`expected`]): from the lowest offset any generation it ever heard of holds
//! (live leaves' and gone ones', the last records of workers that stopped refreshing theirs
//! or left) up to the furthest of the consumer group's committed offset (every offset below it
//! was stored by some worker) and what the gone leaves held. [`unanswered`] is that line, and
//! the cover's own gaps, minus the pieces live leaves answer, each part named with the gone
//! leaf that holds it (or none).

use std::collections::BTreeMap;

use crate::cover::{Cover, LeafView};
use crate::offsets::{OffsetFilter, OffsetRange};

/// Offsets no live leaf answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unanswered {
    /// Kafka partition.
    pub partition: i32,
    /// The offsets.
    pub range: OffsetRange,
    /// The gone leaf (index into the `gone` slice given to [`unanswered`]) whose disk holds
    /// them; `None`: no leaf ever said it does.
    pub held_by: Option<usize>,
}

/// Per partition, the offsets that must be answered: from the lowest offset a generation of
/// `all` (live and gone leaves) holds, or 0 when none does, up to the furthest of the group's
/// `committed` offset and the generations' ends. Partitions with nothing to answer are left
/// out.
pub fn expected(all: &[LeafView<'_>], committed: &BTreeMap<i32, u64>) -> BTreeMap<i32, OffsetRange> {
    let mut out: BTreeMap<i32, OffsetRange> = BTreeMap::new();
    for g in all.iter().flat_map(|l| l.generations.iter()).filter(|g| g.from < g.to) {
        let r = out.entry(g.partition).or_insert(OffsetRange { from: g.from, to: g.to });
        r.from = r.from.min(g.from);
        r.to = r.to.max(g.to);
    }
    for (&p, &c) in committed {
        let r = out.entry(p).or_insert(OffsetRange { from: 0, to: 0 });
        r.to = r.to.max(c);
    }
    out.retain(|_, r| r.from < r.to);
    out
}

/// The offsets of `expected` and of the cover's gaps that no piece of the cover answers, by
/// partition then offset, each part with the gone leaf holding it (the generation that holds
/// its start and reaches furthest) or none.
pub fn unanswered(c: &Cover, expected: &BTreeMap<i32, OffsetRange>, gone: &[LeafView<'_>]) -> Vec<Unanswered> {
    let mut want = OffsetFilter::default();
    for (p, r) in &c.gaps {
        want.add(*p, r.from, r.to);
    }
    for (p, r) in expected {
        want.add(*p, r.from, r.to);
    }
    let mut out = Vec::new();
    for (partition, r) in want.ranges() {
        let answered: Vec<OffsetRange> = c.pieces.iter().filter(|p| p.partition == partition).map(|p| p.range).collect();
        for hole in subtract(r, &answered) {
            split_by_holder(partition, hole, gone, &mut out);
        }
    }
    out
}

/// `unanswered` without the offsets of `accepted` (what an operator accepted as lost,
/// [`crate::LostRecord`]): those are no longer missing.
pub fn without_lost(unanswered: Vec<Unanswered>, accepted: &OffsetFilter) -> Vec<Unanswered> {
    if accepted.is_empty() {
        return unanswered;
    }
    let mut out = Vec::new();
    for u in unanswered {
        let lost: Vec<OffsetRange> = accepted.ranges().filter(|(p, _)| *p == u.partition).map(|(_, r)| r).collect();
        out.extend(subtract(u.range, &lost).into_iter().map(|range| Unanswered { range, ..u }));
    }
    out
}

/// `r` minus the sorted, disjoint `pieces`.
fn subtract(r: OffsetRange, pieces: &[OffsetRange]) -> Vec<OffsetRange> {
    let mut out = Vec::new();
    let mut x = r.from;
    for p in pieces {
        if p.to <= x || p.from >= r.to {
            continue;
        }
        if p.from > x {
            out.push(OffsetRange { from: x, to: p.from });
        }
        x = x.max(p.to);
        if x >= r.to {
            break;
        }
    }
    if x < r.to {
        out.push(OffsetRange { from: x, to: r.to });
    }
    out
}

/// Cuts `hole` into the parts each gone leaf holds (furthest-reaching first) and the parts
/// none holds.
fn split_by_holder(partition: i32, hole: OffsetRange, gone: &[LeafView<'_>], out: &mut Vec<Unanswered>) {
    let gens: Vec<(usize, OffsetRange)> = gone
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.generations.iter().map(move |g| (i, g)))
        .filter(|(_, g)| g.partition == partition && g.from < g.to)
        .map(|(i, g)| (i, OffsetRange { from: g.from, to: g.to }))
        .collect();
    let mut x = hole.from;
    while x < hole.to {
        let best = gens.iter().filter(|(_, g)| g.from <= x && x < g.to).max_by_key(|(i, g)| (g.to, std::cmp::Reverse(*i)));
        let (to, held_by) = match best {
            Some((i, g)) => (g.to.min(hole.to), Some(*i)),
            None => (gens.iter().map(|(_, g)| g.from).filter(|f| *f > x).min().unwrap_or(hole.to).min(hole.to), None),
        };
        match out.last_mut() {
            Some(last) if last.partition == partition && last.range.to == x && last.held_by == held_by => last.range.to = to,
            _ => out.push(Unanswered { partition, range: OffsetRange { from: x, to }, held_by }),
        }
        x = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cover::cover;
    use crate::wire::Generation;

    fn g(partition: i32, id: &str, from: u64, to: u64, live: bool) -> Generation {
        Generation { partition, id: id.into(), from, to, min_timestamp: None, max_timestamp: None, docs: to - from, live }
    }

    fn r(from: u64, to: u64) -> OffsetRange {
        OffsetRange { from, to }
    }

    fn u(partition: i32, from: u64, to: u64, held_by: Option<usize>) -> Unanswered {
        Unanswered { partition, range: r(from, to), held_by }
    }

    #[test]
    fn a_dead_workers_offsets_stay_unanswered_after_its_record_expired() {
        // A held partition 0 up to 100 and handed it to B; B stored 100..250 and died; A took
        // it back at the group's commit, 240 (B's last 10 are A's now too). Partition 1: only
        // B ever held it, and nobody has taken it yet; the group committed 70.
        let a = [g(0, "a0", 0, 100, false), g(0, "a0b", 240, 300, true)];
        let b = [g(0, "b0", 100, 250, false), g(1, "b1", 0, 60, true)];
        let live = [LeafView { generations: &a }];
        let gone = [LeafView { generations: &b }];
        let c = cover(&live);
        // The cover of the live leaves alone says nothing of 100..240: that is the bug.
        assert_eq!(c.gaps, vec![(0, r(100, 240))]);
        let committed: BTreeMap<i32, u64> = [(0, 240), (1, 70)].into_iter().collect();
        let all = [live[0], gone[0]];
        let want = expected(&all, &committed);
        assert_eq!(want, [(0, r(0, 300)), (1, r(0, 70))].into_iter().collect());
        assert_eq!(
            unanswered(&c, &want, &gone),
            vec![u(0, 100, 240, Some(0)), u(1, 0, 60, Some(0)), u(1, 60, 70, None)]
        );
    }

    #[test]
    fn without_gone_leaves_the_committed_offset_still_names_what_is_lost() {
        // B's record is long forgotten (a serve started later, or it left): A took partition
        // 2 at the commit 500, and holds nothing below; the rest of the line is unanswered.
        let a = [g(2, "a2", 500, 520, true), g(3, "a3", 0, 10, true)];
        let live = [LeafView { generations: &a }];
        let c = cover(&live);
        let committed: BTreeMap<i32, u64> = [(2, 500), (3, 9)].into_iter().collect();
        let want = expected(&live, &committed);
        // Partition 2's lowest known offset is A's 500: nothing below is expected (it may have
        // been deleted by retention); partition 3 is whole.
        assert_eq!(unanswered(&c, &want, &[]), vec![]);
        let committed: BTreeMap<i32, u64> = [(4, 30)].into_iter().collect();
        let want = expected(&live, &committed);
        assert_eq!(unanswered(&c, &want, &[]), vec![u(4, 0, 30, None)]);
    }

    #[test]
    fn gone_copies_of_what_live_leaves_hold_are_not_missing_and_holes_are_split_by_holder() {
        // C died holding 0..50 and 80..120; D died holding 40..90; the live A holds 100 on.
        let a = [g(5, "a", 100, 130, true)];
        let cc = [g(5, "c1", 0, 50, false), g(5, "c2", 80, 120, false)];
        let d = [g(5, "d", 40, 90, false)];
        let live = [LeafView { generations: &a }];
        let gone = [LeafView { generations: &cc }, LeafView { generations: &d }];
        let c = cover(&live);
        let want = expected(&[live[0], gone[0], gone[1]], &BTreeMap::new());
        assert_eq!(want.get(&5), Some(&r(0, 130)));
        assert_eq!(
            unanswered(&c, &want, &gone),
            vec![u(5, 0, 50, Some(0)), u(5, 50, 90, Some(1)), u(5, 90, 100, Some(0))]
        );
    }

    #[test]
    fn offsets_accepted_as_lost_are_no_longer_unanswered() {
        let left = vec![u(0, 100, 240, Some(0)), u(1, 0, 60, Some(0)), u(1, 60, 70, None), u(2, 5, 9, None)];
        let mut lost = OffsetFilter::default();
        lost.add(0, 100, 240);
        lost.add(1, 0, 70);
        lost.add(2, 7, 8);
        assert_eq!(without_lost(left.clone(), &lost), vec![u(2, 5, 7, None), u(2, 8, 9, None)]);
        assert_eq!(without_lost(left.clone(), &OffsetFilter::default()), left);
    }

    #[test]
    fn subtracting_pieces() {
        assert_eq!(subtract(r(0, 100), &[r(10, 20), r(50, u64::MAX)]), vec![r(0, 10), r(20, 50)]);
        assert_eq!(subtract(r(0, 100), &[r(0, 100)]), vec![]);
        assert_eq!(subtract(r(30, 40), &[r(0, 10)]), vec![r(30, 40)]);
    }
}
