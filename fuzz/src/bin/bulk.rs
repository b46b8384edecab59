//! Elasticsearch `_bulk` bodies: any body gives one item per action in order (or the error of
//! an empty request), never a panic.
use loglynx_collect::http::{HttpSettings, HttpSource};
use loglynx_fuzz::Input;

fn main() {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    // The source holds callbacks that are not RefUnwindSafe; a panic ends the run, so nothing
    // sees it after one.
    let source = std::panic::AssertUnwindSafe(HttpSource::new(tx, "fuzz".into(), HttpSettings::default(), None));
    afl::fuzz!(|data: &[u8]| {
        let source = &*source;
        let mut inp = Input(data);
        let index = inp.bool().then(|| inp.string(16));
        if let Ok(bulk) = source.bulk(inp.rest(), index.as_deref()) {
            assert!(bulk.records.len() <= bulk.items.len());
        }
    });
}
