//! Rules over real events: Loghub's `Linux_2k.log` parsed by
//! `loglynx_pipeline::parse::parse_record`, then matched by a `RuleSet`, as the detection stage
//! will do. The expected counts are what `grep` finds in the file.
//!
//! Skipped when the data is absent, unless `LOGLYNX_REQUIRE_SHARED` is set (see loglynx-testkit).

use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::RuleSet;
use loglynx_pipeline::parse::{parse_record, ParseContext};

fn linux_events() -> Option<(String, Vec<Event>)> {
    let dir = loglynx_testkit::shared_data("loghub/Linux")?;
    let text = std::fs::read_to_string(dir.join("Linux_2k.log")).unwrap();
    let source = Arc::new(SourceKind::File {
        path: "Linux_2k.log".into(),
    });
    let ctx = ParseContext {
        now: Timestamp::from_secs(1_717_200_000),
        keep_original: false,
        utc_offset_secs: 0,
    };
    let events = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.as_bytes().to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: Timestamp::from_secs(1_717_200_000),
                id: i.to_string(),
            };
            parse_record(&rec, &ctx)
        })
        .collect();
    Some((text, events))
}

const RULES: &str = "title: sshd pam failure
id: 0b4d1f2e-0000-4000-8000-000000000001
logsource:
  product: linux
  service: sshd
detection:
  keywords:
    - 'authentication failure'
  condition: keywords
---
title: auth pam failure
id: 0b4d1f2e-0000-4000-8000-000000000002
logsource:
  product: linux
  service: auth
detection:
  keywords:
    - 'authentication failure'
  condition: keywords
---
title: session opened
id: 0b4d1f2e-0000-4000-8000-000000000003
logsource:
  product: linux
  service: syslog
detection:
  keywords:
    - 'session opened'
  condition: keywords
";

#[test]
fn linux_2k_events_match_the_rules_of_their_service() {
    let Some((text, events)) = linux_events() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let set = RuleSet::load(&[dir.path()]).unwrap();
    assert_eq!(set.active().len(), 3, "{:?}", set.rejected());

    let mut counts = std::collections::BTreeMap::new();
    for e in &events {
        for r in set.matching_rules(e) {
            *counts.entry(r.title.as_str()).or_insert(0usize) += 1;
        }
    }
    let grep = |program: &str, words: &str| {
        text.lines()
            .filter(|l| l.contains(program) && l.contains(words))
            .count()
    };
    println!("{counts:?}");
    // sshd: only sshd's lines, not the same words from other programs
    assert_eq!(
        counts.get("sshd pam failure").copied().unwrap_or(0),
        grep(" sshd(pam_unix)[", "authentication failure")
    );
    assert_eq!(counts.get("sshd pam failure").copied().unwrap_or(0), 489);
    // auth: every program that writes auth.log
    assert_eq!(
        counts.get("auth pam failure").copied().unwrap_or(0),
        grep("(pam_unix)[", "authentication failure")
    );
    // syslog: any program
    assert_eq!(
        counts.get("session opened").copied().unwrap_or(0),
        grep("", "session opened")
    );
}

#[test]
fn the_sigmahq_linux_rules_run_over_linux_2k() {
    let Some((_, events)) = linux_events() else {
        return;
    };
    let Some(rules) = loglynx_testkit::shared_data("sigmahq/rules/linux") else {
        return;
    };
    let set = RuleSet::load(&[rules]).unwrap();
    let hits: usize = events.iter().map(|e| set.matching_rules(e).len()).sum();
    println!(
        "sigmahq linux: {} rules loaded, {} active, {} matches over {} events",
        set.loaded(),
        set.active().len(),
        hits,
        events.len()
    );
    assert_eq!(set.loaded(), 210);
    assert!(set.rejected().is_empty());
}
