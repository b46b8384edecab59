//! What reading events back costs, per segment of a store: opening a segment's record columns,
//! a page of 20 events through an `EventReader` (twice: columns opened and decoded by the first
//! page, kept for the next searches), the same through `event_at` one by one, and the size of
//! the keyword dictionaries a record reads from.
//!
//! ```text
//! cargo run --release -p loglynx-store --example read_cost -- DATA_DIR
//! ```

use std::time::Instant;

use loglynx_config::StoreConfig;
use loglynx_store::schema::{EventReader, RecordColumns};
use loglynx_store::{Store, KEYWORD_COLUMNS};
use tantivy::DocAddress;

fn main() {
    let data = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: read_cost DATA_DIR"));
    let store = Store::open(&data, &StoreConfig::default()).expect("open store");
    let schema = store.schema().clone();
    for pass in ["first search", "next search"] {
        println!("## {pass}");
        for (wi, w) in store.snapshot().iter().enumerate() {
            for (ord, seg) in w.searcher.segment_readers().iter().enumerate() {
                if seg.max_doc() < 20 {
                    continue;
                }
                let last = seg.max_doc() - 1;
                let page = |d: u32| DocAddress::new(ord as u32, last - d);
                let t = Instant::now();
                for _ in 0..100 {
                    std::hint::black_box(RecordColumns::open(seg).expect("columns"));
                }
                let open = t.elapsed() / 100;
                let t = Instant::now();
                let mut reader = EventReader::new(&schema);
                for d in 0..20 {
                    std::hint::black_box(reader.read(wi, &w.searcher, page(d)).expect("read"));
                }
                let by_reader = t.elapsed();
                let t = Instant::now();
                for d in 0..20 {
                    std::hint::black_box(schema.event_at(&w.searcher, page(d)).expect("read"));
                }
                let one_by_one = t.elapsed();
                let terms: Vec<String> = KEYWORD_COLUMNS
                    .iter()
                    .map(|name| {
                        let n = seg.fast_fields().str(name).ok().flatten().map_or(0, |c| c.num_terms());
                        format!("{name} {n}")
                    })
                    .collect();
                println!(
                    "window {wi} segment {ord} ({} docs): columns opened in {open:?}; 20 events {by_reader:?} \
                     by a reader, {one_by_one:?} one by one; values: {}",
                    seg.max_doc(),
                    terms.join(", ")
                );
            }
        }
    }
}
