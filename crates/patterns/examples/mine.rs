//! Mines a file of `service<TAB>line` lines and prints the rate, the template count and the
//! time: the loglynx half of `bench/patterns/compare.sh`. `lines_per_s` is by wall time,
//! `cpu_lines_per_s` by the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which other
//! work on a loaded machine disturbs less; each the best round.
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
    let mut best_cpu = f64::MAX;
    let mut templates = 0;
    let mut fast = 0;
    for _ in 0..rounds {
        let mut m = Miner::new(MinerSettings::default());
        m.set_full_path_only(std::env::var_os("FULL_PATH").is_some());
        let c = cpu_seconds();
        let t = Instant::now();
        for (i, (service, line)) in lines.iter().enumerate() {
            std::hint::black_box(m.mine(service, line, i as i64));
        }
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - c);
        templates = m.template_count();
        fast = m.fast_lines();
    }
    let n = lines.len() as f64;
    println!(
        "lines={} seconds={best:.4} lines_per_s={:.0} cpu_seconds={best_cpu:.4} cpu_lines_per_s={:.0} templates={templates} fast_path_lines={fast}",
        lines.len(),
        n / best,
        n / best_cpu
    );
}

/// CPU time of this thread so far, in seconds.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given and nothing else
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
