//! What the stored events of a store cost once compressed, and what each part of the record
//! adds: the `_event` records of the first events, re-encoded with one part removed at a time,
//! cut into doc store blocks and compressed with zstd at a few levels and block sizes.
//!
//! ```text
//! cargo run --release -p loglynx-store --example record_sizes -- DATA_DIR [EVENTS]
//! ```

use loglynx_config::StoreConfig;
use loglynx_core::{Event, Timestamp};
use loglynx_store::Store;
use tantivy::schema::Value;

/// Compressed bytes of `records` cut into blocks of `block` bytes (each record prefixed by
/// its length, as tantivy's doc store does).
fn compressed(records: &[Vec<u8>], block: usize, level: i32) -> usize {
    let mut total = 0;
    let mut buf = Vec::with_capacity(block + 4096);
    let mut flush = |buf: &mut Vec<u8>| {
        if !buf.is_empty() {
            total += zstd::bulk::compress(buf, level).expect("zstd").len();
            buf.clear();
        }
    };
    for r in records {
        buf.extend_from_slice(&(r.len() as u32).to_le_bytes()[..2]);
        buf.extend_from_slice(r);
        if buf.len() > block {
            flush(&mut buf);
        }
    }
    flush(&mut buf);
    total
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = std::path::PathBuf::from(args.next().expect("usage: record_sizes DATA_DIR [EVENTS]"));
    let want: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let store = Store::open(&data, &StoreConfig::default()).expect("open store");
    let schema = store.schema().clone();
    let mut events: Vec<Event> = Vec::new();
    let mut stored: Vec<Vec<u8>> = Vec::new();
    let mut reader = loglynx_store::schema::EventReader::new(&schema);
    'outer: for (wi, w) in store.snapshot().iter().enumerate() {
        for (ord, seg) in w.searcher.segment_readers().iter().enumerate() {
            for doc in 0..seg.max_doc() {
                let addr = tantivy::DocAddress::new(ord as u32, doc);
                events.push(reader.read(wi, &w.searcher, addr).expect("read").expect("decodes"));
                let d: tantivy::TantivyDocument = w.searcher.doc(addr).expect("doc");
                let b = d.get_first(schema.event).and_then(|v| v.as_bytes()).expect("_event");
                stored.push(b.to_vec());
                if events.len() >= want {
                    break 'outer;
                }
            }
        }
    }
    let n = events.len().max(1);
    let enc = |f: &dyn Fn(&mut Event)| -> Vec<Vec<u8>> {
        events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                f(&mut e);
                let d = schema.to_document(&e);
                d.get_first(schema.event).and_then(|v| v.as_bytes()).unwrap().to_vec()
            })
            .collect()
    };
    // The parts left out, alone or together.
    let no_times = |e: &mut Event| {
        e.timestamp = Timestamp(0);
        e.ingested = Timestamp(0);
    };
    let no_id = |e: &mut Event| e.id = "0000000000000000-000000000000".into();
    // What reading the low-cardinality keyword fields back from their columns (as the two
    // times are) would save: the fields every line of a source repeats.
    let no_repeated = |e: &mut Event| {
        e.host = None;
        e.dataset = None;
        e.file_path = None;
        e.service = None;
        e.pattern_id = None;
    };
    let variants: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("record as found in DATA_DIR", stored),
        ("record as this version writes it", enc(&|_| {})),
        ("without event.ingested", enc(&|e| e.ingested = e.timestamp)),
        ("without both timestamps", enc(&no_times)),
        ("without timestamps, id", enc(&|e| {
            no_times(e);
            no_id(e);
        })),
        ("without timestamps, id, pattern", enc(&|e| {
            no_times(e);
            no_id(e);
            e.pattern_id = None;
        })),
        ("without host, dataset, file path, service, pattern", enc(&no_repeated)),
        ("without those and the id", enc(&|e| {
            no_repeated(e);
            no_id(e);
        })),
        ("message only", events.iter().map(|e| e.message.as_bytes().to_vec()).collect()),
    ];
    println!("events: {n}; bytes per event (raw record, then compressed)");
    println!("| variant | raw | zstd3 64K | zstd9 64K | zstd9 256K | zstd19 256K |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, recs) in &variants {
        let raw: usize = recs.iter().map(Vec::len).sum();
        let per = |b: usize| b as f64 / n as f64;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            per(raw),
            per(compressed(recs, 64 << 10, 3)),
            per(compressed(recs, 64 << 10, 9)),
            per(compressed(recs, 256 << 10, 9)),
            per(compressed(recs, 256 << 10, 19)),
        );
    }
}
