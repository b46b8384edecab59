//! Accuracy of a parse against ground truth, as the Loghub benchmark computes it.
//!
//! - Grouping accuracy (GA): the share of lines whose parsed group holds exactly the lines of
//!   their true group.
//! - Parsing accuracy (PA): the share of lines whose parsed template equals the true template.
//! - FGA: the F1 of groups: a parsed group is correct when it is exactly one true group;
//!   precision over parsed groups, recall over true groups.

use std::collections::HashMap;
use std::hash::Hash;

/// The three figures for one dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    pub ga: f64,
    pub pa: f64,
    pub fga: f64,
    /// Groups in the truth and in the parse.
    pub truth_groups: usize,
    pub parsed_groups: usize,
}

/// Scores a parse: per line its true group and template, its parsed group and template.
pub fn score<T: Hash + Eq, P: Hash + Eq>(truth: &[(T, &str)], parsed: &[(P, &str)]) -> Accuracy {
    assert_eq!(truth.len(), parsed.len(), "one parse per line");
    let n = truth.len().max(1);
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for (t, _) in truth {
        *truth_size.entry(t).or_default() += 1;
    }
    // per parsed group: its size and its true groups
    let mut groups: HashMap<&P, (usize, Option<&T>, bool)> = HashMap::new();
    for ((t, _), (p, _)) in truth.iter().zip(parsed) {
        let g = groups.entry(p).or_insert((0, Some(t), true));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = false;
        }
    }
    let mut correct_lines = 0;
    let mut correct_groups = 0;
    for (size, t, pure) in groups.values() {
        if *pure && truth_size.get(t.expect("set")) == Some(size) {
            correct_lines += size;
            correct_groups += 1;
        }
    }
    let pa = truth.iter().zip(parsed).filter(|((_, tt), (_, pt))| tt == pt).count();
    let precision = correct_groups as f64 / groups.len().max(1) as f64;
    let recall = correct_groups as f64 / truth_size.len().max(1) as f64;
    let fga = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    Accuracy {
        ga: correct_lines as f64 / n as f64,
        pa: pa as f64 / n as f64,
        fga,
        truth_groups: truth_size.len(),
        parsed_groups: groups.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_the_loghub_definitions() {
        let truth = [(1, "a <*>"), (1, "a <*>"), (2, "b"), (3, "c <*>")];
        // group 1 whole; 2 and 3 merged
        let parsed = [("x", "a <*>"), ("x", "a <*>"), ("y", "b"), ("y", "<*>")];
        let s = score(&truth, &parsed);
        assert_eq!(s.ga, 0.5);
        assert_eq!(s.pa, 0.75);
        let (p, r) = (1.0 / 2.0, 1.0 / 3.0);
        assert!((s.fga - 2.0 * p * r / (p + r)).abs() < 1e-12);
        // a true group split in two is wrong too
        let parsed = [("x", "a <*>"), ("z", "a <*>"), ("y", "b"), ("w", "c <*>")];
        assert_eq!(score(&truth, &parsed).ga, 0.5);
    }
}
