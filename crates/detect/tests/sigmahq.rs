//! Every rule of the SigmaHQ rule set (`../shared/data/sigmahq/rules`, 3,141 rules, DRL 1.1)
//! and the test rules of the Sigma specification must parse; at least 99% must compile. Prints
//! the counts and the reasons of the refused rules, grouped.
//!
//! Skipped when the data is absent, unless `LOGLYNX_REQUIRE_SHARED` is set (see loglynx-testkit).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use loglynx_detect::RuleSet;

fn count_yaml(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += count_yaml(&p);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            n += 1;
        }
    }
    n
}

/// Reason without the rule-specific part, to group them.
fn group(reason: &str) -> String {
    reason
        .split(['\'', '('])
        .next()
        .unwrap_or(reason)
        .trim()
        .to_string()
}

fn report(set: &RuleSet) {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in set.rejected() {
        groups.entry(group(&r.reason)).or_default().push(format!(
            "{}:{}: {}",
            r.file.display(),
            r.line,
            r.reason
        ));
    }
    for (g, items) in &groups {
        println!("rejected x{}: {g}", items.len());
        for i in items {
            println!("    {i}");
        }
    }
}

#[test]
fn every_sigmahq_rule_parses_and_99_percent_compile() {
    let Some(dir) = loglynx_testkit::shared_data("sigmahq/rules") else {
        return;
    };
    let files = count_yaml(&dir);
    let t = Instant::now();
    let set = RuleSet::load(&[&dir]).unwrap();
    let took = t.elapsed();
    let rejected = set.rejected().len();
    println!(
        "sigmahq: {files} files, {} loaded ({} active for loglynx, {} inactive, {} correlations), {rejected} rejected, load+compile {took:?}",
        set.loaded(),
        set.active().len(),
        set.inactive().len(),
        set.correlations().count()
    );
    report(&set);
    assert_eq!(files, 3141);
    let not_parsed: Vec<_> = set
        .rejected()
        .iter()
        .filter(|r| {
            !r.reason.contains("does not compile")
                && !r.reason.contains("regular expression")
                && !r.reason.contains("not a selection")
        })
        .collect();
    assert!(
        not_parsed.is_empty(),
        "rules that did not parse: {not_parsed:?}"
    );
    assert_eq!(set.loaded() + rejected, files, "each file holds one rule");
    assert!(
        set.loaded() * 100 >= files * 99,
        "only {} of {files} compiled",
        set.loaded()
    );
    assert!(
        set.active().len() >= 30,
        "the linux service and web rules are routed: {}",
        set.active().len()
    );
}

#[test]
fn the_specification_test_rules_load() {
    let Some(dir) = loglynx_testkit::shared_data("sigma-specification/tests") else {
        return;
    };
    let set = RuleSet::load(&[&dir]).unwrap();
    println!(
        "sigma-specification tests: {} loaded ({} detection, {} filters, {} correlations), {} rejected",
        set.loaded(),
        set.active().len() + set.inactive().len(),
        set.filters(),
        set.correlations().count(),
        set.rejected().len()
    );
    report(&set);
    assert_eq!(
        (set.active().len() + set.inactive().len(), set.filters()),
        (2, 2)
    );
    // The 8 correlation examples refer to rules that are not in the folder (`rule_a_id`,
    // `recon_cmd_a`, ...): each must be refused for that reason, at the line of the reference.
    assert_eq!(set.rejected().len(), 8);
    for r in set.rejected() {
        assert!(
            r.reason
                .starts_with("correlation rule refers to unknown rule '"),
            "{r:?}"
        );
        let text = std::fs::read_to_string(&r.file).unwrap();
        let missing = r.reason.split('\'').nth(1).unwrap();
        assert!(
            text.lines().nth(r.line - 1).unwrap().contains(missing),
            "{r:?}"
        );
    }
}
