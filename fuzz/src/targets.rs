//! The fuzz targets' bodies, one function per target: each sets up what its target needs once
//! and returns the check to run on one input. The AFL++ binaries (`src/bin/`, feature `afl`)
//! wrap them in `afl::fuzz!`; `tests/smoke.rs` runs them uninstrumented on the corpus and on
//! mutations of it (what CI runs), so both exercise the same code.

use std::panic::AssertUnwindSafe;

use loglynx_core::{RawRecord, Timestamp};

use crate::{record, windows, Input};

/// A target's check on one input: panics on a bug.
pub type Check = Box<dyn Fn(&[u8])>;

/// Every target, in the order scripts/fuzz.sh runs them.
pub const NAMES: &[&str] = &[
    "parse_record",
    "syslog_framing",
    "query_parser",
    "histogram_tail",
    "kafka_codec",
    "spool_recovery",
    "bulk",
    "netlink",
];

/// The check of the target `name`, set up; `None` for an unknown name.
pub fn target(name: &str) -> Option<Check> {
    Some(match name {
        "parse_record" => parse_record(),
        "syslog_framing" => Box::new(syslog_framing),
        "query_parser" => query_parser(),
        "histogram_tail" => histogram_tail(),
        "kafka_codec" => Box::new(kafka_codec),
        "spool_recovery" => spool_recovery(),
        "bulk" => bulk(),
        "netlink" => Box::new(netlink),
        _ => return None,
    })
}

/// The record parsers: format detection, every line format, JSON, and the ECS decoders, on a
/// record of any source with any body. Never panics; an event always comes out.
fn parse_record() -> Check {
    use loglynx_pipeline::parse::{parse_record, ParseContext};
    let ctx = ParseContext::now();
    Box::new(move |data| {
        let rec = record(&mut Input(data));
        let mut e = parse_record(&rec, &ctx);
        loglynx_pipeline::decode::decode(&mut e);
        // Batch parsing (layout learning across lines) on the body's lines as one batch.
        let rules = loglynx_pipeline::FileRules::default();
        let lines: Vec<_> = rec
            .body
            .split(|b| *b == b'\n')
            .take(64)
            .map(|l| RawRecord { body: l.to_vec(), ..rec.clone() })
            .collect();
        assert_eq!(rules.parse_batch(&lines, &ctx).len(), lines.len());
    })
}

/// Syslog TCP framing (RFC 6587): any byte stream, cut into any chunks, gives the same frames
/// as in one piece, each at most `max_frame` bytes.
fn syslog_framing(data: &[u8]) {
    use loglynx_collect::syslog::framing::FrameDecoder;
    fn frames(chunks: &[&[u8]], max_frame: usize) -> Vec<(Vec<u8>, bool)> {
        let mut d = FrameDecoder::new(max_frame, "fuzz".into());
        let mut out = Vec::new();
        for c in chunks {
            d.decode(c, &mut out);
        }
        out.extend(d.finish());
        out.into_iter().map(|f| (f.body, f.truncated)).collect()
    }
    let mut inp = Input(data);
    let max_frame = 1 + inp.u8() as usize;
    let cut = inp.u8() as usize;
    let stream = inp.rest();
    let whole = frames(&[stream], max_frame);
    for (body, _) in &whole {
        assert!(body.len() <= max_frame, "a frame of {} bytes over max_frame {max_frame}", body.len());
    }
    let cut = cut.min(stream.len());
    let (a, b) = stream.split_at(cut);
    assert_eq!(frames(&[a, b], max_frame), whole, "chunking changed the frames");
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(frames(&bytewise, max_frame), whole, "byte-at-a-time changed the frames");
}

/// The query language and the time forms: any text parses and compiles, or is refused with
/// an error; never a panic.
fn query_parser() -> Check {
    use loglynx_query::{parse_time, QueryEngine};
    // The engine's tokenizers are not RefUnwindSafe; a panic ends the run, so nothing sees
    // them after one.
    let engine = AssertUnwindSafe(QueryEngine::new(loglynx_store::StoreSchema::new()));
    Box::new(move |data| {
        let text = String::from_utf8_lossy(data);
        let _ = engine.validate(&text);
        let _ = parse_time(&text, Timestamp::now());
        let _ = parse_time(&text, Timestamp(i64::MAX));
        let _ = parse_time(&text, Timestamp(i64::MIN));
    })
}

/// Histogram, terms and tail parameters at any value (times and cursors at the i64 ends,
/// intervals up to u64::MAX, any bucket count) over a small corpus: an answer or an error,
/// never a panic or an overflow.
fn histogram_tail() -> Check {
    use loglynx_query::{Filter, HistogramRequest, QueryEngine, TailCursor, TailRequest, TermsRequest};
    // tantivy's searchers hold trait objects that are not RefUnwindSafe; a panic ends the run
    // (AFL records it), so nothing observes them after one.
    let ctx = AssertUnwindSafe((QueryEngine::new(loglynx_store::StoreSchema::new()), windows()));
    Box::new(move |data| {
        let (engine, windows) = &*ctx;
        let windows = windows.as_slice();
        let mut inp = Input(data);
        let opt_time = |inp: &mut Input<'_>| inp.bool().then(|| Timestamp(inp.i64()));
        let start = opt_time(&mut inp);
        let end = opt_time(&mut inp);
        let interval = inp.bool().then(|| inp.u64());
        let buckets = inp.bool().then(|| (inp.u64() % 20_000) as usize);
        let size = inp.bool().then(|| (inp.u64() % 20_000) as usize);
        let limit = (inp.u64() % 2_000) as usize;
        let cursor = inp.bool().then(|| TailCursor { ingested: Timestamp(inp.i64()), id: inp.string(32) });
        let field = ["host.name", "service.name", "process.pid", "labels.env", "message", "@timestamp", "labels."]
            [inp.u8() as usize % 7];
        let time_zone = [None, Some("Europe/Berlin"), Some("+05:30"), Some("America/New_York")][inp.u8() as usize % 4];
        let query = String::from_utf8_lossy(inp.rest()).into_owned();
        let filter = Filter { query, start, end };
        if let Ok(h) = engine.histogram(
            windows,
            &HistogramRequest {
                filter: filter.clone(),
                interval_ms: interval,
                target_buckets: buckets,
                time_zone: time_zone.map(str::to_string),
            },
        ) {
            assert_eq!(h.buckets.iter().map(|b| b.count).sum::<u64>(), h.total);
        }
        let _ = engine.terms(windows, &TermsRequest { filter: filter.clone(), field: field.into(), size });
        let _ = engine.tail(windows, &TailRequest { filter, cursor, limit });
    })
}

/// The Kafka record codec: any record encodes to the bytes serde_json gives and decodes back
/// to itself; any message value decodes (to the record serde reads, or kept whole as
/// undecodable), never a panic.
fn kafka_codec(data: &[u8]) {
    use loglynx_bus::kafka::{decode_record, encode_record};
    // Any value: never a panic; when serde reads a record, the codec reads the same one.
    let got = decode_record(Some(data), "t", 0, 1);
    if let Ok(want) = serde_json::from_slice::<RawRecord>(data) {
        if got.source.as_ref() == want.source.as_ref() {
            assert_eq!(got.body, want.body);
            assert_eq!(got.id, want.id);
            assert_eq!(got.host, want.host);
        }
    }
    // Round trip of a record built from the input, against serde_json.
    let r = record(&mut Input(data));
    let bytes = encode_record(&r);
    assert_eq!(bytes, serde_json::to_vec(&r).unwrap(), "the encoder's bytes differ from serde_json's");
    let back = decode_record(Some(&bytes), "t", 0, 1);
    assert_eq!(back.body, r.body);
    assert_eq!(back.truncated, r.truncated);
    assert_eq!(back.source, r.source);
    assert_eq!(back.host, r.host);
    assert_eq!(back.received, r.received);
    assert_eq!(back.id, r.id);
}

/// Spool recovery: a data directory whose segment files hold any bytes opens, and reading it
/// to the end hands out whole batches or skips damage, never a panic or an endless loop.
fn spool_recovery() -> Check {
    use loglynx_bus::kafka::Spool;
    let dir = tempfile::tempdir().expect("a temporary directory for the spool");
    Box::new(move |data| {
        let root = dir.path().join("spool");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut inp = Input(data);
        let cursor = inp.bytes(40).to_vec();
        let split = inp.u64() as usize;
        let rest = inp.rest();
        let (a, b) = rest.split_at(split % (rest.len() + 1));
        std::fs::write(root.join("00000000000000000001.spool"), a).unwrap();
        if !b.is_empty() {
            std::fs::write(root.join("00000000000000000002.spool"), b).unwrap();
        }
        if !cursor.is_empty() {
            std::fs::write(root.join("cursor"), cursor).unwrap();
        }
        let Ok(mut spool) = Spool::open(&root, 64 << 20) else { return };
        // Each read hands out a frame or ends: at most one frame per 12 bytes of input.
        for _ in 0..=(data.len() / 12 + 2) {
            match spool.read_next() {
                Ok(Some((id, _batch))) => {
                    if spool.delivered(id).is_err() {
                        return;
                    }
                }
                Ok(None) | Err(_) => return,
            }
        }
        panic!("read_next handed out more frames than the files can hold");
    })
}

/// Elasticsearch `_bulk` bodies: any body gives one item per action in order (or the error of
/// an empty request), never a panic.
fn bulk() -> Check {
    use loglynx_collect::http::{HttpSettings, HttpSource};
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    // The source holds callbacks that are not RefUnwindSafe; a panic ends the run, so nothing
    // sees it after one.
    let source = AssertUnwindSafe(HttpSource::new(tx, "fuzz".into(), HttpSettings::default(), None));
    Box::new(move |data| {
        let _keep_open = &rx;
        let mut inp = Input(data);
        let index = inp.bool().then(|| inp.string(16));
        if let Ok(bulk) = source.bulk(inp.rest(), index.as_deref()) {
            assert!(bulk.records.len() <= bulk.items.len());
        }
    })
}

/// The sock_diag (netlink) reply parser of the socket dump: any datagram parses or is refused
/// as malformed, never a panic.
fn netlink(data: &[u8]) {
    // The sequence number the dump waits for: the first message's own (so replies are taken),
    // or a random one (so they are skipped).
    let seq = data.get(8..12).map_or(1, |b| u32::from_ne_bytes(b.try_into().unwrap()));
    let _ = loglynx_netmon::fuzzing::netlink_replies(data, seq);
}
