//! The fuzz targets ([`targets`]) and what they share: turning fuzz bytes into values (a tiny
//! reader, so targets need no `arbitrary` derive on the project's types) and the fixed corpus
//! some of them query. With the feature `afl`, [`afl_main`] runs a target under AFL++ (the
//! binaries of `src/bin/`, built by scripts/fuzz.sh with `cargo afl`).

pub mod targets;

use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_store::{StoreSchema, WindowSnapshot};

/// Reads values off the front of the fuzz input; past its end every read gives zeros/empty.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    pub fn u64(&mut self) -> u64 {
        let mut v = [0u8; 8];
        for b in &mut v {
            *b = self.u8();
        }
        u64::from_le_bytes(v)
    }
    pub fn i64(&mut self) -> i64 {
        self.u64() as i64
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// Up to `max` bytes, the length taken from the input.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u8() as usize).min(max).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
    pub fn string(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }
    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// A record of any source kind, with the body and fields taken from the input.
pub fn record(inp: &mut Input<'_>) -> RawRecord {
    let source = match inp.u8() % 5 {
        0 => SourceKind::File { path: inp.string(64) },
        1 => SourceKind::Syslog { transport: inp.string(8), peer: inp.string(32) },
        2 => SourceKind::Http { endpoint: inp.string(16) },
        3 => SourceKind::TcpStates,
        _ => SourceKind::Other { name: inp.string(16) },
    };
    let truncated = inp.bool();
    let host = inp.bool().then(|| inp.string(32));
    let received = Timestamp(inp.i64());
    let id = inp.string(40);
    RawRecord {
        body: inp.rest().to_vec(),
        truncated,
        hint: FormatHint::Auto,
        source: Arc::new(source),
        host,
        received,
        id,
    }
}

/// A small corpus in RAM (two windows, several segments) for the query targets.
pub fn windows() -> Vec<WindowSnapshot> {
    let schema = StoreSchema::new();
    let base = 1_714_557_600_000_000_000i64; // 2024-05-01T10:00:00Z
    let mut out = Vec::new();
    for (w, span) in [("a", 0i64), ("b", 3_600)] {
        let index = tantivy::Index::create_in_ram(schema.schema.clone());
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).expect("writer");
        let mut events = Vec::new();
        for seg in 0..3i64 {
            for i in 0..20i64 {
                let secs = span + seg * 600 + i * 7;
                let ts = Timestamp(base + secs * 1_000_000_000);
                let mut e = Event::new(
                    format!("error disk {i} full on web{seg}"),
                    ts,
                    Timestamp(ts.0 + 1_000_000_000),
                    format!("{w}{seg}-{i}"),
                );
                e.host = Some(format!("web{}", i % 3));
                e.service = Some(["nginx", "sshd", "cron"][(i % 3) as usize].into());
                e.pid = Some(i as u32);
                e.labels.insert("env".into(), if i % 2 == 0 { "prod" } else { "dev" }.into());
                writer.add_document(schema.to_document(&e)).expect("add");
                events.push(e);
            }
            writer.commit().expect("commit");
        }
        let min = events.iter().map(|e| e.timestamp).min();
        let max = events.iter().map(|e| e.timestamp).max();
        out.push(WindowSnapshot {
            id: w.to_string(),
            min_timestamp: min,
            max_timestamp: max,
            searcher: index.reader().expect("reader").searcher(),
        });
    }
    out
}

/// Runs the target `name` under AFL++ in persistent mode (the body of every `src/bin/` target).
#[cfg(feature = "afl")]
pub fn afl_main(name: &str) {
    // Targets hold engines and searchers that are not RefUnwindSafe; a panic ends the run (AFL
    // records it), so nothing observes them after one.
    let check = std::panic::AssertUnwindSafe(targets::target(name).expect("a target of targets::NAMES"));
    afl::fuzz!(|data: &[u8]| (*check)(data));
}
