//! The query language and the time forms: any text parses and compiles, or is refused with
//! an error; never a panic.
use loglynx_core::Timestamp;
use loglynx_query::{parse_time, QueryEngine};
use loglynx_store::StoreSchema;

fn main() {
    // The engine's tokenizers are not RefUnwindSafe; a panic ends the run, so nothing sees
    // them after one.
    let engine = std::panic::AssertUnwindSafe(QueryEngine::new(StoreSchema::new()));
    afl::fuzz!(|data: &[u8]| {
        let engine = &*engine;
        let text = String::from_utf8_lossy(data);
        let _ = engine.validate(&text);
        let _ = parse_time(&text, Timestamp::now());
        let _ = parse_time(&text, Timestamp(i64::MAX));
        let _ = parse_time(&text, Timestamp(i64::MIN));
    });
}
