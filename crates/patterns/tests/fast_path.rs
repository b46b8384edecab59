//! The miner's fast path (a line that fits a template it was found in lately, read straight
//! from its bytes) must give what the full path gives: the same id, `new` / `refined` /
//! `overflow` for every line, and the same state at the end (templates, counts, times, former
//! ids). Each test mines the same lines through two miners, one with the fast path and one
//! without, and compares them line by line, across a save and load too.

use loglynx_patterns::{Miner, MinerSettings};

/// Mines `lines` (service, line) through a miner with the fast path and one without; panics
/// at the first line where they differ, and when their saved states differ. Halfway, both
/// are saved and loaded again (the fast path starts from nothing after a load). Returns the
/// share of lines the fast path took.
fn same_through_both_paths(settings: MinerSettings, lines: &[(String, String)]) -> f64 {
    let mut fast = Miner::new(settings);
    let mut full = Miner::new(settings);
    full.set_full_path_only(true);
    let half = lines.len() / 2;
    let mut taken = 0;
    for (i, (service, line)) in lines.iter().enumerate() {
        if i == half {
            taken += fast.fast_lines();
            let saved = fast.save();
            assert_eq!(saved, full.save(), "states differ before line {i}");
            fast = Miner::load(settings, &saved).expect("the state loads");
            full = Miner::load(settings, &saved).expect("the state loads");
            full.set_full_path_only(true);
        }
        let a = fast.mine(service, line, i as i64);
        let b = full.mine(service, line, i as i64);
        assert_eq!(a, b, "line {i} of {service}: {line:?}");
    }
    assert_eq!(fast.save(), full.save(), "the states differ at the end");
    assert_eq!(full.fast_lines(), 0);
    (taken + fast.fast_lines()) as f64 / lines.len() as f64
}

#[test]
fn the_fast_path_gives_what_the_full_path_gives_on_loghub() {
    let Some(dir) = loglynx_testkit::shared_data("loghub") else { return };
    let mut all = Vec::new();
    for name in ["Apache", "BGL", "HDFS", "HPC", "Linux", "OpenSSH", "Proxifier", "Zookeeper"] {
        let path = dir.join(name).join(format!("{name}_2k.log_structured.csv"));
        let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let c = r.headers().unwrap().iter().position(|h| h == "Content").expect("a Content column");
        let content: Vec<String> = r.records().map(|rec| rec.unwrap()[c].to_string()).collect();
        // three times over: the second and third passes are the steady state
        let lines: Vec<(String, String)> =
            (0..3).flat_map(|_| content.iter().map(|l| (name.to_string(), l.clone()))).collect();
        let taken = same_through_both_paths(MinerSettings::default(), &lines);
        // (so that the comparison is one: most lines of the later passes are known)
        assert!(taken > 0.3, "{name}: the fast path took {taken:.2} of the lines");
        all.extend(content.into_iter().map(|l| ("all".to_string(), l)));
    }
    // all eight as one service, interleaved: many templates per first word and bucket
    let mut mixed = Vec::with_capacity(all.len() * 2);
    let step = 7919; // a prime: visits every line once, far apart
    for k in 0..all.len() * 2 {
        mixed.push(all[(k * step) % all.len()].clone());
    }
    let taken = same_through_both_paths(MinerSettings::default(), &mixed);
    assert!(taken > 0.3, "mixed: the fast path took {taken:.2} of the lines");
    // a small cap: the overflow is reached and counted the same way
    same_through_both_paths(MinerSettings { max_templates: 40, ..Default::default() }, &mixed);
}

/// Lines made to hit the places where the tokenizer reads a line otherwise than its pieces
/// (a unit joins the value before it, a measurement in parentheses is dropped, long lines are
/// cut), keyed values and their shapes, the shape's own text as a word, words that are
/// values (month names, long words), a first word with digits, spacing, and junk.
fn tricky_lines(n: usize, seed: u64) -> Vec<(String, String)> {
    let words = [
        "took", "ms", "sec", "(1.2", "KB)", "5", "17", "uid=0", "uid=12", "uid=<*>", "gid=4,mode=idle", "user=root",
        "user=guest", "Jun", "Monday", "I1203", "I1204", "blk_-42", "blk_77", "10.0.0.1:80", "/var/log/a.log",
        "host.example.com", "ERROR", "RUNNING", "open", "close", "session", "for", "from", "port", "<*>", "x",
        "ab.cd.ef", "0x1f", "état", "\u{fffd}\u{fffd}", "taskID[3]", "Open(0)", "a\tb", "", "  ",
    ];
    let long = "y".repeat(70);
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let r = next();
            // few kinds of line (so templates form and the fast path is taken), varied in
            // their values
            let kind = (r % 23) as usize;
            let len = 1 + kind % 9;
            let mut line = String::new();
            for p in 0..len {
                let v = next();
                let w = if (kind + p) % 3 == 0 { words[(v % words.len() as u64) as usize] } else { words[(kind * 7 + p) % words.len()] };
                if p > 0 {
                    line.push_str(if v % 11 == 0 { "  " } else if v % 13 == 0 { "\t" } else { " " });
                }
                if v % 97 == 0 {
                    line.push_str(&long);
                } else if (kind + p) % 5 == 1 {
                    line.push_str(&format!("{}", v % 1000));
                } else {
                    line.push_str(w);
                }
            }
            let service = ["a", "b", "c"][(r >> 40) as usize % 3].to_string();
            (service, line)
        })
        .collect()
}

#[test]
fn the_fast_path_gives_what_the_full_path_gives_on_tricky_lines() {
    let lines = tricky_lines(60_000, 0x9e37_79b9_7f4a_7c15);
    let taken = same_through_both_paths(MinerSettings::default(), &lines);
    assert!(taken > 0.1, "the fast path took {taken:.2} of the lines");
    // a low token cap: lines at and past it are cut by the tokenizer
    same_through_both_paths(MinerSettings { max_tokens: 5, ..Default::default() }, &lines);
    same_through_both_paths(MinerSettings { max_templates: 25, similarity: 0.3, ..Default::default() }, &tricky_lines(30_000, 7));
}

#[test]
fn a_known_kind_of_line_keeps_its_id_and_is_counted() {
    // a known kind of line again: the same id, nothing new or refined, counted
    let mut m = Miner::new(MinerSettings::default());
    let mut last = None;
    for i in 0..1000 {
        let line = format!("Accepted password for root from 10.0.{}.{} port {} ssh2", i % 7, i % 250, 1024 + i);
        let got = m.mine("sshd", &line, i);
        if i > 0 {
            assert!(!got.new && !got.refined && !got.overflow, "line {i}: {got:?}");
            if i > 10 {
                assert_eq!(m.fast_lines(), i as u64 - 1, "line {i} went down the full path");
            }
            assert_eq!(Some(got.id), last);
        }
        last = Some(got.id);
    }
    let d = m.dictionary();
    assert_eq!(d.templates().len(), 1);
    assert_eq!(d.templates()[0].count, 1000);
    assert_eq!(d.templates()[0].template, "Accepted password for root from <*> port <*> ssh2");
}
