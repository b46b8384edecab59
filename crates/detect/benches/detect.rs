//! Sigma rules: load + compile time of the SigmaHQ rule set, and evaluation throughput over the
//! events of Loghub's `Linux_2k.log` parsed by `loglynx_pipeline::parse::parse_record`, one core.
//!
//! `cargo bench --workspace --bench detect` (needs `../shared/data`; prints `skipping` without).
//! Cases:
//! - `load_compile/sigmahq`: `RuleSet::load` of the 3,141 rules of `sigmahq/rules`;
//! - `evaluate/linux_routed`: the rules of `sigmahq/rules/linux` that loglynx routes
//!   (sshd, auth, sudo, cron, syslog and the keyword rules of product linux) over 2,000 events;
//! - `evaluate/linux_100`: the first 100 rule files of `sigmahq/rules/linux` (name order), all
//!   evaluated (`LoadOptions::evaluate_unrouted`), over the same events.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::{LoadOptions, RuleSet};
use loglynx_pipeline::parse::{parse_record, ParseContext};

fn linux_events(data: &Path) -> Vec<Event> {
    let raw = std::fs::read(data.join("loghub/Linux/Linux_2k.log")).expect("read Linux_2k.log");
    let source = Arc::new(SourceKind::File {
        path: "Linux_2k.log".into(),
    });
    let ctx = ParseContext {
        now: Timestamp::from_secs(1_717_200_000),
        keep_original: false,
        utc_offset_secs: 0,
    };
    raw.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: Timestamp::from_secs(1_717_200_000),
                id: i.to_string(),
            };
            parse_record(&rec, &ctx)
        })
        .collect()
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml") {
            out.push(p);
        }
    }
}

fn matches(set: &RuleSet, events: &[Event]) -> usize {
    events.iter().map(|e| set.matching_rules(e).len()).sum()
}

fn bench(c: &mut Criterion) {
    let Some(data) = loglynx_testkit::shared_data("") else {
        return;
    };
    let sigmahq = data.join("sigmahq/rules");

    let mut g = c.benchmark_group("load_compile");
    g.sample_size(10);
    g.bench_function("sigmahq", |b| {
        b.iter(|| black_box(RuleSet::load(&[&sigmahq]).unwrap().loaded()))
    });
    g.finish();

    let events = linux_events(&data);
    let routed = RuleSet::load(&[sigmahq.join("linux")]).unwrap();
    let mut files = Vec::new();
    rule_files(&sigmahq.join("linux"), &mut files);
    files.truncate(100);
    let hundred = RuleSet::load_with(
        &files,
        LoadOptions {
            evaluate_unrouted: true,
        },
    )
    .unwrap();
    println!(
        "{} events; linux_routed: {} rules, {} matches; linux_100: {} rules, {} matches",
        events.len(),
        routed.active().len(),
        matches(&routed, &events),
        hundred.active().len(),
        matches(&hundred, &events)
    );

    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(events.len() as u64));
    for (name, set) in [("linux_routed", &routed), ("linux_100", &hundred)] {
        g.bench_function(name, |b| b.iter(|| black_box(matches(set, &events))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
