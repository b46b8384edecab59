//! The record parsers: format detection, every line format, JSON, and the ECS decoders, on a
//! record of any source with any body. Never panics; an event always comes out.
use loglynx_fuzz::{record, Input};
use loglynx_pipeline::parse::{parse_record, ParseContext};

fn main() {
    let ctx = ParseContext::now();
    afl::fuzz!(|data: &[u8]| {
        let rec = record(&mut Input(data));
        let mut e = parse_record(&rec, &ctx);
        loglynx_pipeline::decode::decode(&mut e);
        // Batch parsing (layout learning across lines) on the body's lines as one batch.
        let rules = loglynx_pipeline::FileRules::default();
        let lines: Vec<_> = rec
            .body
            .split(|b| *b == b'\n')
            .take(64)
            .map(|l| loglynx_core::RawRecord { body: l.to_vec(), ..rec.clone() })
            .collect();
        assert_eq!(rules.parse_batch(&lines, &ctx).len(), lines.len());
    });
}
