//! The miner's hot path: `Miner::mine` over the Loghub samples' messages (16,000 lines of 8
//! formats, one service per dataset), a fresh miner per iteration, so template creation,
//! refinement and the steady state are all in the figure; and the steady state alone (the
//! same lines again through a miner that has seen them).
//!
//!     cargo bench -p loglynx-patterns --bench miner
//!
//! Needs ../shared/data/loghub (the benchmark says so and exits when it is missing).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use loglynx_patterns::{Miner, MinerSettings};

fn lines() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/loghub");
    let mut out = Vec::new();
    for name in ["Apache", "BGL", "HDFS", "HPC", "Linux", "OpenSSH", "Proxifier", "Zookeeper"] {
        let path = root.join(name).join(format!("{name}_2k.log_structured.csv"));
        let mut r = match csv::Reader::from_path(&path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("the miner benchmark needs {}: {e}", path.display());
                std::process::exit(1);
            }
        };
        let c = r.headers().expect("csv headers").iter().position(|h| h == "Content").expect("a Content column");
        for rec in r.records() {
            out.push((name.to_string(), rec.expect("a csv record")[c].to_string()));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let mut g = c.benchmark_group("miner");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("mine_loghub_16k_fresh", |b| {
        b.iter(|| {
            let mut m = Miner::new(MinerSettings::default());
            for (i, (s, l)) in lines.iter().enumerate() {
                black_box(m.mine(s, l, i as i64));
            }
        })
    });
    let mut warm = Miner::new(MinerSettings::default());
    for (i, (s, l)) in lines.iter().enumerate() {
        warm.mine(s, l, i as i64);
    }
    g.bench_function("mine_loghub_16k_warm", |b| {
        b.iter(|| {
            for (i, (s, l)) in lines.iter().enumerate() {
                black_box(warm.mine(s, l, i as i64));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
