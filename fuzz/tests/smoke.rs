//! CI's fuzz smoke run, without AFL: every target checks each input of its seed corpus
//! (`fuzz/corpus/TARGET/`, regressions included), then mutations of it (bit flips, interesting
//! values, inserted, deleted and repeated ranges, splices of two inputs) from a fixed seed, so a
//! failure is the same on every run. `LOGLYNX_FUZZ_RUNS` sets the mutations per target (default
//! 2,000). Coverage-guided runs stay with AFL++ (scripts/fuzz.sh, docs/FUZZING.md).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use loglynx_fuzz::targets::{target, NAMES};

/// splitmix64: a small, fixed-seed generator (no crate needed for a few random numbers).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'\n', b'"', b'{', b'}', b'<', b'*', b':', b' '];

/// A mutation of `input` (1 to 8 edits), sometimes spliced with `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len >= 8 => {
                // An integer field at its ends (the targets read little-endian u64/i64).
                let i = rng.below(len - 7);
                let x = [0u64, 1, u64::MAX, i64::MAX as u64, i64::MIN as u64][rng.below(5)];
                v[i..i + 8].copy_from_slice(&x.to_le_bytes());
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                let piece = v[i..i + n].repeat(1 + rng.below(8));
                v.splice(i..i, piece);
            }
            6 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                let cut = rng.below(len + 1);
                v.truncate(cut);
            }
        }
    }
    v
}

fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the seed corpus {}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the seed corpus {} is empty: write it with the seeds binary (docs/FUZZING.md)", dir.display());
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("a corpus file"))).collect()
}

/// Runs `name` on its corpus and `runs` mutations of it; a panic fails the test naming the
/// input, saved so that it can be added to the corpus.
fn smoke(name: &str) {
    let runs: usize = std::env::var("LOGLYNX_FUZZ_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let check = AssertUnwindSafe(target(name).expect("a known target"));
    let seeds = corpus(name);
    let run = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| (*check)(input))).is_err() {
            let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{name}-failure"));
            std::fs::write(&saved, input).expect("saving the failing input");
            panic!(
                "fuzz target {name} failed on {what} (see the panic above); the input is saved in {}: \
                 fix it with a regression test in the crate that owns the code and add the input to fuzz/corpus/{name}/",
                saved.display()
            );
        }
    };
    for (path, input) in &seeds {
        run(input, &format!("the corpus file {}", path.display()));
    }
    let mut rng = Rng(name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)));
    for i in 0..runs {
        let (a, b) = (rng.below(seeds.len()), rng.below(seeds.len()));
        let input = mutate(&mut rng, &seeds[a].1, &seeds[b].1);
        run(&input, &format!("mutation {i}"));
    }
    eprintln!("{name}: {} corpus inputs and {runs} mutations, no failure", seeds.len());
}

#[test]
fn every_target_is_smoked() {
    // The list below and the targets' list agree, so a new target is not left out of CI.
    let tested = ["parse_record", "syslog_framing", "query_parser", "histogram_tail", "kafka_codec", "spool_recovery", "bulk", "netlink"];
    assert_eq!(NAMES, tested);
}

#[test]
fn parse_record() {
    smoke("parse_record");
}

#[test]
fn syslog_framing() {
    smoke("syslog_framing");
}

#[test]
fn query_parser() {
    smoke("query_parser");
}

#[test]
fn histogram_tail() {
    smoke("histogram_tail");
}

#[test]
fn kafka_codec() {
    smoke("kafka_codec");
}

#[test]
fn spool_recovery() {
    smoke("spool_recovery");
}

#[test]
fn bulk() {
    smoke("bulk");
}

#[test]
fn netlink() {
    smoke("netlink");
}
