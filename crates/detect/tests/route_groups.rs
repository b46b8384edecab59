//! Rules grouped by route (the default) match exactly the events the same rules match when each
//! is evaluated whole in one rsigma engine (`LoadOptions::whole_rules`, routing condition
//! included): over Loghub's `Linux_2k.log` and `OpenSSH_2k.log` parsed and decoded as the
//! pipeline does, with the built-in pack, every SigmaHQ rule, and rules written to exercise the
//! shapes the split must keep (keywords, several conditions, `1 of them`, negation, fields).
//!
//! Skipped when the data is absent, unless `LOGLYNX_REQUIRE_SHARED` is set (see loglynx-testkit).

use std::path::Path;
use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::{LoadOptions, RuleSet};
use loglynx_pipeline::parse::{parse_record, ParseContext};

fn decoded(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap();
    let source = Arc::new(SourceKind::File {
        path: path.display().to_string(),
    });
    let now = Timestamp::from_secs(1_717_200_000);
    let ctx = ParseContext {
        now,
        keep_original: true,
        utc_offset_secs: 0,
    };
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.as_bytes().to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: now,
                id: i.to_string(),
            };
            let mut e = parse_record(&rec, &ctx);
            loglynx_pipeline::decode::decode(&mut e);
            e
        })
        .collect()
}

const SHAPES: &str = "title: keywords over syslog
logsource: {product: linux, service: syslog}
detection:
  k: ['session opened', 'authentication failure']
  condition: k
---
title: sshd two conditions
logsource: {product: linux, service: sshd}
detection:
  a: ['Invalid user']
  b:
    source.ip|startswith: '173.234.'
  condition:
    - a
    - b
---
title: auth one of them but not root
logsource: {product: linux, service: auth}
detection:
  selection_a: ['authentication failure']
  selection_b: ['check pass']
  filter:
    user.name: root
  condition: 1 of selection_* and not filter
---
title: linux keywords without service
logsource: {product: linux}
detection:
  k: ['error', 'warning']
  condition: k
---
title: linux keywords all of them
logsource: {product: linux}
detection:
  k:
    '|contains|all':
      - 'session opened'
      - 'user root'
  condition: k
---
title: sshd negation only
logsource: {product: linux, service: sshd}
detection:
  k: ['Accepted']
  condition: not k
";

fn matches(set: &RuleSet, e: &Event) -> Vec<String> {
    set.matching_rules(e)
        .into_iter()
        .map(|r| r.key().to_string())
        .collect()
}

#[test]
fn rules_grouped_by_route_match_what_whole_rules_match() {
    let (Some(linux), Some(ssh), Some(sigmahq)) = (
        loglynx_testkit::shared_data("loghub/Linux/Linux_2k.log"),
        loglynx_testkit::shared_data("loghub/OpenSSH/OpenSSH_2k.log"),
        loglynx_testkit::shared_data("sigmahq/rules"),
    ) else {
        return;
    };
    let mut events = decoded(&linux);
    events.extend(decoded(&ssh));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shapes.yml"), SHAPES).unwrap();
    let paths = [dir.path(), sigmahq.as_path()];
    for unrouted in [false, true] {
        let load = |whole_rules| {
            let o = LoadOptions {
                evaluate_unrouted: unrouted,
                whole_rules,
            };
            RuleSet::load_all(&paths, loglynx_detect::rules::BUILTIN, o).unwrap()
        };
        let (split, whole) = (load(false), load(true));
        assert_eq!(split.active().len(), whole.active().len());
        let mut total = 0;
        let mut shapes = std::collections::BTreeMap::<String, usize>::new();
        for e in &events {
            let (a, b) = (matches(&split, e), matches(&whole, e));
            assert_eq!(a, b, "event {:?}: grouped {a:?} vs whole {b:?}", e.message);
            total += a.len();
            for r in split.matching_rules(e) {
                if r.file.ends_with("shapes.yml") {
                    *shapes.entry(r.title.clone()).or_default() += 1;
                }
            }
        }
        println!(
            "evaluate_unrouted {unrouted}: {} active rules in {} route groups, {total} matches over {} events; shapes {shapes:?}",
            split.active().len(),
            split.route_groups(),
            events.len()
        );
        // every shape matched something, so the comparison covered it
        assert_eq!(shapes.len(), 6, "{shapes:?}");
        assert!(split.route_groups() > 1);
    }
}
