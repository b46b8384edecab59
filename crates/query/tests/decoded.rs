//! Decoded fields end to end: raw lines -> parse -> decode -> tantivy documents -> search and
//! terms aggregations on `event.outcome`, `event.category`, `source.ip`, `user.name`, with the
//! expected figures counted from the raw lines with plain string checks.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::window;
use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::decode::decode;
use loglynx_pipeline::parse::{parse_record, ParseContext};
use loglynx_query::{Filter, SearchRequest, SortOrder, TermsRequest};
use loglynx_store::WindowSnapshot;

fn decoded(lines: &[String]) -> Vec<Event> {
    let source = Arc::new(SourceKind::File { path: "/var/log/auth.log".into() });
    let ctx = ParseContext { now: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(), keep_original: false, utc_offset_secs: 0 };
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.as_bytes().to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: ctx.now,
                id: format!("l{i}"),
            };
            let mut e = parse_record(&rec, &ctx);
            decode(&mut e);
            e
        })
        .collect()
}

fn total(w: &[WindowSnapshot], query: &str) -> u64 {
    let req = SearchRequest {
        filter: Filter { query: query.into(), ..Default::default() },
        limit: 1,
        offset: 0,
        sort: SortOrder::Desc,
    };
    common::engine().search(w, &req).unwrap().total
}

fn top(w: &[WindowSnapshot], field: &str, query: &str, size: usize) -> Vec<(String, u64)> {
    let req = TermsRequest {
        filter: Filter { query: query.into(), ..Default::default() },
        field: field.into(),
        size: Some(size),
    };
    common::engine().terms(w, &req).unwrap().buckets.into_iter().map(|b| (b.value, b.count)).collect()
}

/// The `n` most frequent values, ties by value (as the terms aggregation orders them).
fn top_of(counts: &BTreeMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

#[test]
fn auth_lines_are_searchable_by_outcome_source_and_user() {
    let lines: Vec<String> = [
        "Mar  1 10:00:01 bastion sshd[100]: Failed password for root from 203.0.113.7 port 40001 ssh2",
        "Mar  1 10:00:02 bastion sshd[100]: Failed password for root from 203.0.113.7 port 40002 ssh2",
        "Mar  1 10:00:03 bastion sshd[101]: Failed password for invalid user admin from 203.0.113.7 port 40003 ssh2",
        "Mar  1 10:00:04 bastion sshd[102]: Failed password for alice from 198.51.100.20 port 50000 ssh2",
        "Mar  1 10:00:05 bastion sshd[103]: Accepted publickey for alice from 198.51.100.20 port 50001 ssh2: ED25519 SHA256:x",
        "Mar  1 10:00:06 bastion sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
        "Mar  1 10:00:07 bastion sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
        "Mar  1 10:00:08 bastion CRON[200]: (root) CMD (run-parts /etc/cron.hourly)",
        "Mar  1 10:00:09 bastion nginx: Failed password for mallory from 192.0.2.1 port 1 ssh2",
    ]
    .map(String::from)
    .to_vec();
    let w = vec![window("auth", &[decoded(&lines)])];

    // Failed authentications: sshd's failed passwords and sudo's wrong passwords (the nginx
    // line has the words but is not sshd's: nothing is decoded from it).
    let failed = lines
        .iter()
        .filter(|l| (l.contains(" sshd[") && l.contains("Failed password")) || l.contains("incorrect password attempts"))
        .count() as u64;
    assert_eq!(total(&w, "event.outcome:failure AND event.category:authentication"), failed);
    assert_eq!(total(&w, "event.outcome:success AND event.action:ssh_login"), 1);
    assert_eq!(total(&w, "user.effective.name:root AND process.command_line:\"/usr/bin/id\""), 1);

    let mut by_ip: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_user: BTreeMap<String, u64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.contains(" sshd[") && l.contains("Failed password for ")) {
        let rest = l.split_once("Failed password for ").unwrap().1;
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let (user, addr) = rest.split_once(" from ").unwrap();
        *by_user.entry(user.to_string()).or_default() += 1;
        *by_ip.entry(addr.split(' ').next().unwrap().to_string()).or_default() += 1;
    }
    let q = "event.action:ssh_login AND event.outcome:failure";
    assert_eq!(top(&w, "source.ip", q, 5), top_of(&by_ip, 5));
    assert_eq!(top(&w, "user.name", q, 5), top_of(&by_user, 5));
    assert_eq!(total(&w, "source.ip:203.0.113.7"), by_ip["203.0.113.7"]);

    // The hits carry the fields under their ECS names, as the search API returns them.
    let hit = common::engine()
        .search(&w, &SearchRequest { filter: Filter { query: "event.action:sudo_command".into(), ..Default::default() }, limit: 1, offset: 0, sort: SortOrder::Desc })
        .unwrap()
        .hits
        .remove(0);
    let json = serde_json::to_value(&hit).unwrap();
    assert_eq!(json["user.name"], "alice");
    assert_eq!(json["user.effective.name"], "root");
    assert_eq!(json["process.command_line"], "/usr/bin/id");
    assert_eq!(json["event.outcome"], "success");
}

#[test]
fn openssh_sample_top_failed_sources_and_users_by_terms_aggregation() {
    let Some(dir) = loglynx_testkit::shared_data("loghub/OpenSSH") else { return };
    let raw = std::fs::read_to_string(dir.join("OpenSSH_2k.log")).unwrap();
    let lines: Vec<String> = raw.lines().map(|l| l.trim_end_matches('\r').to_string()).collect();
    let w = vec![window("openssh", &[decoded(&lines)])];

    let mut by_ip: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_user: BTreeMap<String, u64> = BTreeMap::new();
    for l in &lines {
        let Some(rest) = l.split_once("Failed password for ").or_else(|| l.split_once("Failed none for ")).map(|(_, r)| r) else { continue };
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let (user, addr) = rest.rsplit_once(" from ").unwrap();
        *by_user.entry(user.to_string()).or_default() += 1;
        *by_ip.entry(addr.split(' ').next().unwrap().to_string()).or_default() += 1;
    }
    let q = "event.action:ssh_login AND event.outcome:failure";
    let ips = top(&w, "source.ip", q, 5);
    println!("top failed-login source.ip: {ips:?}\ntop failed-login user.name: {:?}", top(&w, "user.name", q, 5));
    assert_eq!(ips, top_of(&by_ip, 5));
    assert_eq!(top(&w, "user.name", q, 5), top_of(&by_user, 5));
    assert_eq!(total(&w, q), by_ip.values().sum::<u64>());
    assert!(total(&w, "event.outcome:failure AND event.category:authentication") > total(&w, q));
}
