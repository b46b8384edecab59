//! Mines a file of `service<TAB>line` lines and prints the rate, the template count and the
//! time: the loglynx half of `bench/patterns/compare.sh`.
//!
//!     cargo run --release -p loglynx-patterns --example mine -- LINES.tsv [ROUNDS]

use std::time::Instant;

use loglynx_patterns::{Miner, MinerSettings};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: mine LINES.tsv [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1)
    });
    let lines: Vec<(&str, &str)> = text.lines().map(|l| l.split_once('\t').unwrap_or(("", l))).collect();
    let mut best = f64::MAX;
    let mut templates = 0;
    for _ in 0..rounds {
        let mut m = Miner::new(MinerSettings::default());
        let t = Instant::now();
        for (i, (service, line)) in lines.iter().enumerate() {
            std::hint::black_box(m.mine(service, line, i as i64));
        }
        best = best.min(t.elapsed().as_secs_f64());
        templates = m.template_count();
    }
    println!("lines={} seconds={best:.4} lines_per_s={:.0} templates={templates}", lines.len(), lines.len() as f64 / best);
}
