//! Detection stage events/s over Loghub's `Linux_2k.log` + `OpenSSH_2k.log` (parsed and decoded
//! as the pipeline does), repeated to ~200k events, with three rule sets; prepares the same
//! events (JSON lines) and rules (folders) for a peer (the `rsigma` CLI, run by
//! `bench/detect.sh`). One thread, release profile.
//!
//! `DETECT_OUT=DIR cargo bench --workspace --bench detect_compare` (needs `../shared/data`).
//! Env: `DETECT_OUT` (default `target/detect-bench`), `DETECT_EVENTS` (default 200000),
//! `DETECT_ROUNDS` (default 3: the best round is reported), `DETECT_BATCH` (events per
//! `DetectionStage::process` call, default 1000).
//!
//! Rule sets (each written to `DIR/rules-<set>/` for the peer):
//! - `builtin`: loglynx's pack (`crates/detect/rules/`, SSH and Linux, with correlations);
//! - `sigmahq_100`: the first 100 rule files of `sigmahq/rules/linux` (path order);
//! - `sigmahq_1000`: the 210 of `sigmahq/rules/linux`, then the other folders' files in path
//!   order (application, category, cloud, ..., windows) up to 1,000 files.
//!
//! SigmaHQ sets load with `LoadOptions::evaluate_unrouted` (every rule that compiles is
//! evaluated, as the peer evaluates every rule it is given); `run` would keep the rules whose
//! logsource loglynx does not route inactive: those figures are printed too (`routed`).
//!
//! Modes, per set, each timed over all events:
//! - `tag`: `Detector::tag` (the stateless part, on the parse threads in `run`);
//! - `tag+stage`: `tag`, then `DetectionStage::process` in batches (correlation, alerts in an
//!   `AlertBook::in_memory`); the time is the sum of both;
//! - `json+tag`: `serde_json::from_str::<Event>` of each line of `events.jsonl`, then `tag`: the
//!   input the peer has (JSON text), for a like-for-like figure.
//!
//! With `DETECT_MATCH_FILE=LOG` (and `DETECT_MATCH_RULES=DIR`, optional) it only says what
//! share of the first `DETECT_EVENTS` lines of LOG (parsed + decoded) the built-in pack plus
//! the rules of DIR match, loaded as `run` loads them (`bench/detect.sh` does not use it; it is
//! for `bench/gen_syslog.py` lines in the ingest A/B).
//!
//! Prints one line per measurement: `RESULT<TAB>set<TAB>mode<TAB>rules<TAB>events<TAB>secs<TAB>
//! events_per_s<TAB>matches<TAB>alerts`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::{AlertBook, DetectionStage, DetectionStats, Detector, DetectorOptions, LoadOptions, RuleSet};
use loglynx_pipeline::parse::{parse_record, ParseContext};

fn parse_file(path: &Path, name: &str) -> Vec<Event> {
    let text = std::fs::read_to_string(path).expect("read log");
    let source = Arc::new(SourceKind::File { path: name.into() });
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
                id: format!("{name}-{i}"),
            };
            let mut e = parse_record(&rec, &ctx);
            loglynx_pipeline::decode::decode(&mut e);
            e
        })
        .collect()
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml") {
            out.push(p);
        }
    }
}

/// Copies `files` into a fresh `dir` as `NNNN-name.yml` (path order kept).
fn write_rules(dir: &Path, files: &[PathBuf]) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap().to_string_lossy();
        std::fs::copy(f, dir.join(format!("{i:04}-{name}"))).unwrap();
    }
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn result(set: &str, mode: &str, rules: usize, events: usize, secs: f64, matches: usize, alerts: usize) {
    println!(
        "RESULT\t{set}\t{mode}\t{rules}\t{events}\t{secs:.4}\t{:.0}\t{matches}\t{alerts}",
        events as f64 / secs
    );
}

fn main() {
    let Some(data) = loglynx_testkit::shared_data("") else {
        return;
    };
    let out = PathBuf::from(std::env::var("DETECT_OUT").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/detect-bench").to_string_lossy().into_owned()
    }));
    std::fs::create_dir_all(&out).unwrap();
    let n = env_usize("DETECT_EVENTS", 200_000);
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: a small run then
    let n = if std::env::args().any(|a| a == "--bench") { n } else { n.min(8_000) };
    if let Ok(log) = std::env::var("DETECT_MATCH_FILE") {
        let dirs: Vec<PathBuf> = std::env::var("DETECT_MATCH_RULES").ok().map(PathBuf::from).into_iter().collect();
        let rules = RuleSet::load_all(&dirs, loglynx_detect::rules::BUILTIN, LoadOptions::default()).unwrap();
        let active = rules.active().len();
        let detector = Detector::new(rules, DetectorOptions::default());
        let mut events = parse_file(Path::new(&log), "match");
        events.truncate(n);
        let mut per_rule: std::collections::BTreeMap<String, usize> = Default::default();
        let mut matched = 0;
        for e in &mut events {
            detector.tag(e);
            matched += usize::from(!e.rule_ids.is_empty());
            for r in &e.rule_ids {
                *per_rule.entry(r.clone()).or_default() += 1;
            }
        }
        println!(
            "MATCH\t{log}\t{active} rules evaluated\t{matched} of {} events matched ({:.2}%)\t{per_rule:?}",
            events.len(),
            100.0 * matched as f64 / events.len() as f64
        );
        return;
    }
    let rounds = env_usize("DETECT_ROUNDS", 3).max(1);
    let batch = env_usize("DETECT_BATCH", 1000).max(1);

    // events: Linux_2k then OpenSSH_2k, repeated; each repetition gets its own ids and is moved
    // 400 days later (so windows and alert suppression see successive periods, not one pile)
    let mut base = parse_file(&data.join("loghub/Linux/Linux_2k.log"), "Linux_2k.log");
    base.extend(parse_file(&data.join("loghub/OpenSSH/OpenSSH_2k.log"), "OpenSSH_2k.log"));
    let mut events = Vec::with_capacity(n);
    let mut rep = 0i64;
    while events.len() < n {
        for e in &base {
            if events.len() == n {
                break;
            }
            let mut e = e.clone();
            e.id = format!("r{rep}-{}", e.id);
            e.timestamp = Timestamp::from_millis(e.timestamp.as_millis() + rep * 400 * 86_400_000);
            events.push(e);
        }
        rep += 1;
    }
    let jsonl = out.join("events.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&jsonl).unwrap());
        for e in &events {
            writeln!(w, "{}", serde_json::to_string(e).unwrap()).unwrap();
        }
    }
    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::open(&jsonl).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    eprintln!("{} base events, {} events ({rep} repetitions) -> {}", base.len(), events.len(), jsonl.display());

    // rule sets
    let sigmahq = data.join("sigmahq/rules");
    let mut linux = Vec::new();
    rule_files(&sigmahq.join("linux"), &mut linux);
    let mut others = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&sigmahq).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs.iter().filter(|d| !d.ends_with("linux")) {
        rule_files(d, &mut others);
    }
    let hundred: Vec<PathBuf> = linux.iter().take(100).cloned().collect();
    let thousand: Vec<PathBuf> = linux.iter().chain(&others).take(1000).cloned().collect();
    let builtin_dir = out.join("rules-builtin");
    let _ = std::fs::remove_dir_all(&builtin_dir);
    std::fs::create_dir_all(&builtin_dir).unwrap();
    for (name, text) in loglynx_detect::rules::BUILTIN {
        std::fs::write(builtin_dir.join(name), text).unwrap();
    }
    write_rules(&out.join("rules-sigmahq_100"), &hundred);
    write_rules(&out.join("rules-sigmahq_1000"), &thousand);

    let all = LoadOptions { evaluate_unrouted: true, ..Default::default() };
    for (set, opts) in [
        ("builtin", LoadOptions::default()),
        ("sigmahq_100", all),
        ("sigmahq_100_routed", LoadOptions::default()),
        ("sigmahq_1000", all),
        ("sigmahq_1000_routed", LoadOptions::default()),
    ] {
        let dir = out.join(format!("rules-{}", set.trim_end_matches("_routed")));
        let t = Instant::now();
        let rules = RuleSet::load_with(&[&dir], opts).unwrap();
        let load = t.elapsed().as_secs_f64();
        let active = rules.active().len();
        let correlations = rules.correlations().count();
        eprintln!(
            "{set}: {} files, {active} detection rules evaluated, {} inactive, {correlations} correlations, {} rejected; loaded in {load:.2} s",
            std::fs::read_dir(&dir).unwrap().count(),
            rules.inactive().len(),
            rules.rejected().len(),
        );
        let detector = Arc::new(Detector::new(rules, DetectorOptions::default()));

        // tag only
        let mut best = f64::MAX;
        let mut matches = 0;
        let mut matched_events = 0;
        for _ in 0..rounds {
            let mut evs = events.clone();
            let t = Instant::now();
            for e in &mut evs {
                detector.tag(e);
            }
            best = best.min(t.elapsed().as_secs_f64());
            matches = evs.iter().map(|e| e.rule_ids.len()).sum();
            matched_events = evs.iter().filter(|e| !e.rule_ids.is_empty()).count();
        }
        result(set, "tag", active, events.len(), best, matches, 0);
        eprintln!("{set}: {matched_events} of {} events matched at least one rule ({matches} matches)", events.len());

        if set.ends_with("_routed") {
            continue;
        }

        // tag + stage, in the batches the pipeline hands over (made before the clock starts)
        let mut best = f64::MAX;
        let mut alerts = 0;
        for _ in 0..rounds {
            let mut batches: Vec<Vec<Event>> = events.chunks(batch).map(<[Event]>::to_vec).collect();
            let book = Arc::new(AlertBook::in_memory(3600, 1000).unwrap());
            let mut stage = DetectionStage::new(detector.clone(), book, Arc::new(Mutex::new(DetectionStats::default())));
            let t = Instant::now();
            let mut created = 0;
            for b in &mut batches {
                for e in b.iter_mut() {
                    detector.tag(e);
                }
                created += stage.process(b).unwrap();
            }
            best = best.min(t.elapsed().as_secs_f64());
            alerts = created;
        }
        result(set, "tag+stage", active, events.len(), best, matches, alerts);

        // from JSON text, then tag
        let mut best = f64::MAX;
        let mut jm = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let mut m = 0;
            for l in &lines {
                let mut e: Event = serde_json::from_str(l).unwrap();
                detector.tag(&mut e);
                m += e.rule_ids.len();
            }
            best = best.min(t.elapsed().as_secs_f64());
            jm = m;
        }
        result(set, "json+tag", active, events.len(), best, jm, 0);
    }
}
