//! Where a store's bytes go: tantivy's space usage of every window, summed per component
//! (term dictionary, postings, positions, fast fields, doc store) and field.
//!
//! ```text
//! cargo run --release -p loglynx-store --example space_usage -- DATA_DIR [RAW_BYTES]
//! ```
//!
//! With RAW_BYTES (the size of the ingested log) every row also shows its share of it.

use std::collections::BTreeMap;

use tantivy::Index;

fn main() {
    let mut args = std::env::args().skip(1);
    let data = std::path::PathBuf::from(args.next().expect("usage: space_usage DATA_DIR [RAW_BYTES]"));
    let raw: Option<f64> = args.next().and_then(|a| a.parse().ok());
    let mut rows: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut docs = 0u64;
    let mut segments = 0usize;
    let mut dirs: Vec<_> = std::fs::read_dir(data.join("store"))
        .expect("read DATA_DIR/store")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("w-")))
        .collect();
    dirs.sort();
    for dir in dirs {
        let index = Index::open_in_dir(&dir).expect("open window");
        let schema = index.schema();
        let searcher = index.reader().expect("reader").searcher();
        let usage = searcher.space_usage().expect("space usage");
        for seg in usage.segments() {
            segments += 1;
            docs += u64::from(seg.num_docs());
            let mut add = |component: &str, per: &tantivy::space_usage::PerFieldSpaceUsage| {
                for (field, u) in per.fields() {
                    let name = schema.get_field_name(*field).to_string();
                    *rows.entry((component.to_string(), name)).or_default() += u.total().get_bytes();
                }
            };
            add("termdict", seg.termdict());
            add("postings", seg.postings());
            add("positions", seg.positions());
            add("fast", seg.fast_fields());
            add("fieldnorms", seg.fieldnorms());
            *rows.entry(("store".into(), "(all)".into())).or_default() += seg.store().total().get_bytes();
        }
    }
    let total: u64 = rows.values().sum();
    println!("windows' segments: {segments}, docs: {docs}, bytes: {total}");
    let mut sorted: Vec<_> = rows.into_iter().filter(|(_, b)| *b > 0).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1));
    println!("| component | field | bytes | bytes/event | % of raw |");
    println!("|---|---|---:|---:|---:|");
    for ((c, f), b) in sorted {
        println!(
            "| {c} | {f} | {b} | {:.2} | {} |",
            b as f64 / docs.max(1) as f64,
            raw.map_or("-".into(), |r| format!("{:.2}%", 100.0 * b as f64 / r))
        );
    }
}
