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
//! - `stage/*`: the detection stage as `run` uses it, over Loghub's `Linux_2k.log` +
//!   `OpenSSH_2k.log` (4,000 events) parsed and decoded (`loglynx_pipeline::decode::decode`):
//!   `tag_<set>` is `Detector::tag` alone (the stateless part, on the parse threads);
//!   `tag_stage_<set>` is `tag` then `DetectionStage::process` in batches of 1,000 (correlation,
//!   alerts in an `AlertBook::in_memory`, a fresh one per iteration). Sets: `builtin` (the
//!   built-in pack), `sigmahq_100` (the first 100 files of `sigmahq/rules/linux`) and
//!   `sigmahq_1000` (the 210 linux files, then the other folders' files in path order up to
//!   1,000), both with `evaluate_unrouted`; `run_100` (the built-in pack + the first 100 linux
//!   files as `run` loads them: routed rules only, grouped by route and keyword-gated) and its
//!   peer `run_100_whole` (the same rules each evaluated whole in one rsigma engine,
//!   `LoadOptions::whole_rules`), `run_100_bloom` (rsigma's bloom pre-filter on). `bench/detect.sh` runs the same sets over 200k
//!   events beside the `rsigma` CLI.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::{AlertBook, DetectionStage, DetectionStats, Detector, DetectorOptions, LoadOptions, RuleSet};
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

/// A Loghub file parsed and decoded as the pipeline does.
fn decoded_events(data: &Path, rel: &str) -> Vec<Event> {
    let text = std::fs::read_to_string(data.join(rel)).expect("read loghub file");
    let source = Arc::new(SourceKind::File { path: rel.into() });
    let now = Timestamp::from_secs(1_717_200_000);
    let ctx = ParseContext { now, keep_original: false, utc_offset_secs: 0 };
    text.lines()
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.as_bytes().to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: now,
                id: format!("{rel}-{i}"),
            };
            let mut e = parse_record(&rec, &ctx);
            loglynx_pipeline::decode::decode(&mut e);
            e
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
            ..Default::default()
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

    // the detection stage: tag, and tag + correlation + alerts
    let mut events = decoded_events(&data, "loghub/Linux/Linux_2k.log");
    events.extend(decoded_events(&data, "loghub/OpenSSH/OpenSSH_2k.log"));
    let mut linux = Vec::new();
    rule_files(&sigmahq.join("linux"), &mut linux);
    let mut others = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&sigmahq).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs.iter().filter(|d| !d.ends_with("linux")) {
        rule_files(d, &mut others);
    }
    let all = LoadOptions { evaluate_unrouted: true, ..Default::default() };
    // as `run` loads them: routed rules only (the others are inactive), with and without
    // rsigma's bloom pre-filter
    let routed = || RuleSet::load_all(&linux[..100], loglynx_detect::rules::BUILTIN, LoadOptions::default()).unwrap();
    let mut routed_bloom = routed();
    routed_bloom.set_bloom_prefilter(true);
    // the peer: each rule whole (routing condition included) in one rsigma engine
    let whole = LoadOptions { whole_rules: true, ..Default::default() };
    let sets = [
        ("builtin", RuleSet::load_all::<&str>(&[], loglynx_detect::rules::BUILTIN, LoadOptions::default()).unwrap()),
        ("run_100", routed()),
        ("run_100_whole", RuleSet::load_all(&linux[..100], loglynx_detect::rules::BUILTIN, whole).unwrap()),
        ("run_100_bloom", routed_bloom),
        ("sigmahq_100", RuleSet::load_with(&linux[..100], all).unwrap()),
        (
            "sigmahq_1000",
            RuleSet::load_with(&linux.iter().chain(&others).take(1000).cloned().collect::<Vec<_>>(), all).unwrap(),
        ),
    ];
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    for (name, rules) in sets {
        let detector = Arc::new(Detector::new(rules, DetectorOptions::default()));
        let mut tagged = events.clone();
        tagged.iter_mut().for_each(|e| detector.tag(e));
        println!(
            "stage {name}: {} rules evaluated, {} of {} events matched",
            detector.rules().active().len(),
            tagged.iter().filter(|e| !e.rule_ids.is_empty()).count(),
            events.len()
        );
        g.bench_function(format!("tag_{name}"), |b| {
            b.iter_batched_ref(
                || events.clone(),
                |evs| evs.iter_mut().for_each(|e| detector.tag(e)),
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("tag_stage_{name}"), |b| {
            b.iter_batched_ref(
                || {
                    let book = Arc::new(AlertBook::in_memory(3600, 1000).unwrap());
                    let stage = DetectionStage::new(detector.clone(), book, Arc::new(Mutex::new(DetectionStats::default())));
                    let batches: Vec<Vec<Event>> = events.chunks(1000).map(<[Event]>::to_vec).collect();
                    (stage, batches)
                },
                |(stage, batches)| {
                    let mut created = 0;
                    for b in batches.iter_mut() {
                        b.iter_mut().for_each(|e| detector.tag(e));
                        created += stage.process(b).unwrap();
                    }
                    black_box(created)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
