//! What a window's doc store costs in bytes and compression CPU with each codec and block size
//! tantivy offers: the stored records of a store, cut into blocks as tantivy's store writer cuts
//! them (a block is flushed once it holds at least the block size) and compressed with the same
//! libraries (lz4_flex block format, zstd), one thread, best of `ROUNDS` passes.
//!
//! ```text
//! cargo run --release -p loglynx-store --example docstore_codecs -- DATA_DIR [ROUNDS]
//! ```

use std::time::Instant;

use loglynx_config::StoreConfig;
use loglynx_store::Store;

/// Records (each prefixed by its varint length, as tantivy's doc store writes documents) cut
/// into blocks of at least `block` bytes.
fn blocks(records: &[Vec<u8>], block: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(block + 4096);
    for r in records {
        let mut n = r.len();
        while n >= 0x80 {
            buf.push((n as u8) | 0x80);
            n >>= 7;
        }
        buf.push(n as u8);
        buf.extend_from_slice(r);
        if buf.len() >= block {
            out.push(std::mem::take(&mut buf));
        }
    }
    if !buf.is_empty() {
        out.push(buf);
    }
    out
}

#[derive(Clone, Copy)]
enum Codec {
    Lz4,
    Zstd(i32),
}

impl Codec {
    fn compress(self, block: &[u8]) -> usize {
        match self {
            Codec::Lz4 => lz4_flex::block::compress(block).len(),
            Codec::Zstd(level) => zstd::bulk::compress(block, level).expect("zstd").len(),
        }
    }

    fn name(self) -> String {
        match self {
            Codec::Lz4 => "lz4".into(),
            Codec::Zstd(l) => format!("zstd -{l}"),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = std::path::PathBuf::from(args.next().expect("usage: docstore_codecs DATA_DIR [ROUNDS]"));
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let store = Store::open(&data, &StoreConfig::default()).expect("open store");
    // The raw stored document bytes (tantivy's serialized document: what its store compresses).
    let mut records: Vec<Vec<u8>> = Vec::new();
    for w in store.snapshot() {
        for seg in w.searcher.segment_readers() {
            let reader = seg.get_store_reader(0).expect("store reader");
            for doc in 0..seg.max_doc() {
                if seg.is_deleted(doc) {
                    continue;
                }
                records.push(reader.get_document_bytes(doc).expect("stored document").as_slice().to_vec());
            }
        }
    }
    let n = records.len().max(1);
    let raw: usize = records.iter().map(Vec::len).sum();
    println!("{n} stored documents, {raw} bytes serialized ({:.1} B/event)", raw as f64 / n as f64);
    println!("| codec | block | compressed bytes | B/event | % of serialized | compress ns/event (best of {rounds}) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let codecs = [Codec::Lz4, Codec::Zstd(1), Codec::Zstd(3), Codec::Zstd(9)];
    for block in [16 << 10, 64 << 10, 256 << 10, 1 << 20] {
        let bs = blocks(&records, block);
        for codec in codecs {
            let mut best = f64::MAX;
            let mut bytes = 0;
            for _ in 0..rounds {
                let t = Instant::now();
                bytes = bs.iter().map(|b| codec.compress(b)).sum::<usize>();
                best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
            }
            println!(
                "| {} | {} KiB | {bytes} | {:.1} | {:.1}% | {best:.0} |",
                codec.name(),
                block >> 10,
                bytes as f64 / n as f64,
                100.0 * bytes as f64 / raw as f64
            );
        }
    }
}
