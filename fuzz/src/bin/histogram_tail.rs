//! Histogram, terms and tail parameters at any value (times and cursors at the i64 ends,
//! intervals up to u64::MAX, any bucket count) over a small corpus: an answer or an error,
//! never a panic or an overflow.
use loglynx_core::Timestamp;
use loglynx_fuzz::{windows, Input};
use loglynx_query::{Filter, HistogramRequest, QueryEngine, TailCursor, TailRequest, TermsRequest};
use loglynx_store::StoreSchema;

fn main() {
    // tantivy's searchers hold trait objects that are not RefUnwindSafe; a panic ends the run
    // (AFL records it), so nothing observes them after one.
    let ctx = std::panic::AssertUnwindSafe((QueryEngine::new(StoreSchema::new()), windows()));
    afl::fuzz!(|data: &[u8]| {
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
        let query = String::from_utf8_lossy(inp.rest()).into_owned();
        let filter = Filter { query, start, end };
        if let Ok(h) = engine.histogram(
            windows,
            &HistogramRequest { filter: filter.clone(), interval_ms: interval, target_buckets: buckets },
        ) {
            assert_eq!(h.buckets.iter().map(|b| b.count).sum::<u64>(), h.total);
        }
        let _ = engine.terms(windows, &TermsRequest { filter: filter.clone(), field: field.into(), size });
        let _ = engine.tail(windows, &TailRequest { filter, cursor, limit });
    });
}
