//! A rule file overrides a built-in rule by using its `id` or `name` (issue 10 item 4: "each
//! rule overridable or disabled by config"): the built-in copy is not loaded, the file's rule
//! runs in its place, and the correlations that refer to it by name follow.

use std::sync::{Arc, Mutex};

use loglynx_core::{Event, Timestamp};
use loglynx_detect::{
    AlertBook, AlertFilter, DetectionStage, DetectionStats, Detector, DetectorOptions, LoadOptions,
    RuleSet,
};

/// `ssh_brute_force` with a threshold of 20 instead of 10, and its own title and author.
const STRICTER: &str = "title: SSH brute force (20)\nname: ssh_brute_force\nauthor: site team\ncorrelation:\n  type: event_count\n  rules:\n    - ssh_failed_login\n  group-by:\n    - source.ip\n  timespan: 5m\n  condition:\n    gte: 20\nlevel: medium\n";

/// `ssh_failed_login` by the built-in rule's id, counting failures for root only.
const ROOT_ONLY: &str = "title: SSH failed login as root\nid: 6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a01\nname: ssh_failed_login\nauthor: site team\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  selection:\n    event.action: ssh_login\n    event.outcome: failure\n    user.name: root\n  condition: selection\nlevel: low\n";

/// The built-in pack plus the rule files `files` (name, YAML).
fn rules(files: &[(&str, &str)]) -> (tempfile::TempDir, RuleSet) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let texts = loglynx_detect::rules::builtin_with(&[]);
    let texts: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let set = RuleSet::load_all(&[dir.path()], &texts, LoadOptions::default()).unwrap();
    assert!(set.rejected().is_empty(), "{:?}", set.rejected());
    (dir, set)
}

/// Failed sshd logins from one source, one a second, as the sshd decoder leaves them.
fn failures(n: usize, user: &str) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let t = Timestamp::from_secs(1_700_000_000 + i as i64);
            let mut e = Event::new(
                format!("Failed password for {user} from 203.0.113.7 port 4000 ssh2"),
                t,
                t,
                format!("{user}-{i}"),
            );
            e.process_name = Some("sshd".into());
            e.action = Some("ssh_login".into());
            e.outcome = Some("failure".into());
            e.category = Some("authentication".into());
            e.source_ip = Some("203.0.113.7".into());
            e.user_name = Some(user.into());
            e
        })
        .collect()
}

/// (rule name, rule title, author, count) of the brute-force alerts `events` raise under `set`.
fn brute_force_alerts(
    set: RuleSet,
    mut events: Vec<Event>,
) -> Vec<(String, String, Option<String>, u64)> {
    let detector = Arc::new(Detector::new(set, DetectorOptions::default()));
    let book = Arc::new(AlertBook::in_memory(3600, 1000).unwrap());
    let mut stage = DetectionStage::new(
        detector.clone(),
        book.clone(),
        Arc::new(Mutex::new(DetectionStats::default())),
    );
    for e in &mut events {
        detector.tag(e);
    }
    stage.process(&mut events).unwrap();
    let (_, alerts) = book
        .list(&AlertFilter {
            rule: Some("ssh_brute_force".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    alerts
        .into_iter()
        .map(|a| (a.rule.name, a.rule.title, a.rule.author, a.count))
        .collect()
}

#[test]
fn a_rule_file_with_a_built_in_name_replaces_the_built_in_rule() {
    let (_d, builtin) = rules(&[]);
    assert_eq!(
        brute_force_alerts(builtin, failures(12, "admin")).len(),
        1,
        "the built-in threshold is 10"
    );

    let (d, set) = rules(&[("stricter.yml", STRICTER)]);
    let named: Vec<_> = set
        .correlations()
        .filter(|r| r.is_named("ssh_brute_force"))
        .collect();
    assert_eq!(named.len(), 1, "one ssh_brute_force, not two: {named:?}");
    assert_eq!(named[0].file, d.path().join("stricter.yml"));
    assert_eq!(set.replaced().len(), 1, "{:?}", set.replaced());
    assert_eq!(
        set.replaced()[0].key,
        "6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a03"
    );
    assert_eq!(set.replaced()[0].file.to_str(), Some("builtin:ssh.yml"));
    assert_eq!(set.replaced()[0].by, d.path().join("stricter.yml"));
    // the other built-in rules still load, ssh_success_after_brute_force refers to the new one
    assert!(set
        .correlations()
        .any(|r| r.is_named("ssh_success_after_brute_force")));
    assert!(set
        .correlations()
        .any(|r| r.is_named("ssh_password_spraying")));
    assert_eq!(
        brute_force_alerts(set, failures(12, "admin")),
        vec![],
        "12 is below the file's 20"
    );

    let (_d, set) = rules(&[("stricter.yml", STRICTER)]);
    let got = brute_force_alerts(set, failures(25, "admin"));
    assert_eq!(
        got,
        vec![(
            "ssh_brute_force".to_string(),
            "SSH brute force (20)".to_string(),
            Some("site team".to_string()),
            25
        )]
    );
}

#[test]
fn a_rule_file_with_a_built_in_id_replaces_it_for_the_correlations_too() {
    let (d, set) = rules(&[("root.yml", ROOT_ONLY)]);
    let failed: Vec<_> = set
        .active()
        .iter()
        .filter(|r| r.is_named("ssh_failed_login"))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].file, d.path().join("root.yml"));
    // the built-in ssh_brute_force now counts the file's rule: failures for root only
    assert_eq!(brute_force_alerts(set, failures(12, "admin")), vec![]);
    let (_d, set) = rules(&[("root.yml", ROOT_ONLY)]);
    let got = brute_force_alerts(set, failures(12, "root"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].3), ("ssh_brute_force", 12));
}

#[test]
fn rule_files_with_other_names_load_beside_the_built_in_pack() {
    let other = STRICTER.replace("name: ssh_brute_force", "name: ssh_brute_force_20");
    let (_d, set) = rules(&[("other.yml", &other)]);
    assert!(set.replaced().is_empty());
    assert!(set.correlations().any(|r| r.is_named("ssh_brute_force")));
    assert!(set.correlations().any(|r| r.is_named("ssh_brute_force_20")));
}
