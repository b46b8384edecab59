//! Sealing: a window no longer written ends as one segment with a zstd doc store, and every
//! event in it still reads back whole; phrase queries still match exactly.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::*;
use loglynx_config::ByteSize;
use loglynx_core::Event;
use loglynx_store::{Store, WindowPhase};
use tantivy::collector::Count;
use tantivy::query::PhraseQuery;
use tantivy::Term;

/// The doc store compression and the segment count of every window, from its `meta.json`.
fn windows_on_disk(data: &Path) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(data.join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    dirs.sort();
    for d in dirs {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("meta.json")).unwrap()).unwrap();
        let compression = meta["index_settings"]["docstore_compression"]
            .as_str()
            .unwrap()
            .to_string();
        out.push((compression, meta["segments"].as_array().unwrap().len()));
    }
    out
}

fn all_sealed(data: &Path, windows: usize) -> bool {
    let w = windows_on_disk(data);
    w.len() == windows && w.iter().all(|(c, n)| c == "zstd(compression_level=9)" && *n == 1)
}

/// Every stored event by id.
fn stored(store: &Store) -> BTreeMap<String, Event> {
    let mut m = BTreeMap::new();
    for e in stored_events(store) {
        assert!(m.insert(e.id.clone(), e).is_none(), "an event stored twice");
    }
    m
}

/// `n` batches of `size` events of source `a`, 10,000 s apart. The keyword fields that the
/// stored record leaves to the columns (host, dataset, file path, service, pattern id) vary
/// from event to event and from batch to batch (each batch a window of its own, with its own
/// dictionaries), some absent, so that reading them back after a merge checks the merged
/// columns line up with the merged doc store, and the decoded values kept for one segment are
/// never used for another.
fn batches(n: u64, size: u64) -> impl Iterator<Item = loglynx_core::EventBatch> {
    (0..n).map(move |i| {
        let mut b = batch("a", i * size, size, 1_700_000_000 + i as i64 * 10_000);
        for (k, e) in b.events.iter_mut().enumerate() {
            let pos = i * size + k as u64;
            e.host = Some(format!("web{}-{}", i, pos % 7));
            e.dataset = (!pos.is_multiple_of(4)).then(|| format!("ds.{}", pos % 3));
            e.file_path = Some(format!("/var/log/f{}.log", pos % 5));
            e.service = (!pos.is_multiple_of(13)).then(|| format!("svc{}", pos % 3));
            e.pattern_id = Some(format!("p{:04x}", (pos + i * 5) % 11 + i * 3));
        }
        b
    })
}

/// Events matching the phrase `words` in `message`, over all windows.
fn phrase_count(store: &Store, words: &[&str]) -> usize {
    let terms = words
        .iter()
        .map(|w| Term::from_field_text(store.schema().message, w))
        .collect();
    let q = PhraseQuery::new(terms);
    store
        .snapshot()
        .iter()
        .map(|w| w.searcher.search(&q, &Count).unwrap())
        .sum()
}

fn assert_whole(store: &Store, sent: &[Event]) {
    let got = stored(store);
    assert_eq!(got.len(), sent.len(), "events stored");
    for e in sent {
        assert_eq!(got.get(&e.id), Some(e), "event {} read back", e.id);
    }
    assert_eq!(
        phrase_count(store, &["failed", "password", "for", "root"]),
        sent.len()
    );
    assert_eq!(phrase_count(store, &["password", "failed"]), 0);
}

#[test]
fn a_closed_window_is_sealed_and_its_events_read_back_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    // Every window is full after its first commit: each commit closes (and seals) one.
    c.window_max_size = ByteSize(1);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (sent, tx, writer) = start_and_send(&store, batches(2, 3000));
    wait_until("both windows sealed", || all_sealed(tmp.path(), 2));
    // The store searches the sealed segments (the reader was reloaded after the seal).
    wait_until("the snapshot shows the sealed segments", || {
        store
            .snapshot()
            .iter()
            .all(|w| w.searcher.segment_readers().len() == 1)
    });
    assert_whole(&store, &sent);
    // The stats page tells the same: every window sealed, one segment, zstd, its events.
    wait_until("the stats show both windows sealed", || {
        store.windows().iter().all(|w| w.state == WindowPhase::Sealed)
    });
    for w in store.windows() {
        assert_eq!((w.docs, w.segments, w.seal.clone()), (3000, 1, None), "{w:?}");
        assert!(w.doc_store.starts_with("zstd") && w.bytes > 0, "{w:?}");
    }
    drop(tx);
    writer.join().unwrap();
    let store = Store::open(tmp.path(), &c).unwrap();
    assert_whole(&store, &sent);
    assert_exactly(&store, "a", 6000);
}

#[test]
fn a_window_left_unsealed_is_sealed_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    // Three commits: three segments in the one window (fewer than the merge policy merges).
    let sent = ingest(&Store::open(tmp.path(), &c).unwrap(), batches(3, 1000));
    let before = windows_on_disk(tmp.path());
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].1, 3, "segments before sealing: {before:?}");
    assert_eq!(before[0].0, "zstd(compression_level=1)", "a written window's doc store");
    let w = &Store::open(tmp.path(), &c).unwrap().windows()[0];
    assert_eq!((w.state, w.segments, w.docs), (WindowPhase::Unsealed, 3, 3000), "{w:?}");
    assert_eq!(w.doc_store, "zstd(compression_level=1)");

    // Restarted with a smaller window size, the window is not resumed: it is sealed.
    c.window_max_size = ByteSize(1);
    c.commit_interval = Duration::from_millis(20);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (_, tx, writer) = start_and_send(&store, []);
    wait_until("the window sealed", || all_sealed(tmp.path(), 1));
    wait_until("the snapshot shows the sealed segment", || {
        store.snapshot()[0].searcher.segment_readers().len() == 1
    });
    assert_whole(&store, &sent);
    drop(tx);
    writer.join().unwrap();
    assert_exactly(&Store::open(tmp.path(), &c).unwrap(), "a", 3000);
}

#[test]
fn a_window_of_an_earlier_version_zstd_3_is_sealed_and_read() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    let sent = ingest(&Store::open(tmp.path(), &c).unwrap(), batches(2, 1000));
    // Rewrite the window as earlier versions wrote it: a zstd level 3 doc store in 64 KiB
    // blocks (a merge with that compressor recompresses the written blocks; the payload stays).
    let dir = std::fs::read_dir(tmp.path().join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("meta.json").exists())
        .unwrap();
    {
        let mut index = tantivy::Index::open_in_dir(&dir).unwrap();
        *index.settings_mut() = tantivy::IndexSettings {
            docstore_compression: tantivy::store::Compressor::Zstd(
                tantivy::store::ZstdCompressor {
                    compression_level: Some(3),
                },
            ),
            docstore_blocksize: 64 << 10,
            ..Default::default()
        };
        let mut w: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let ids = index.searchable_segment_ids().unwrap();
        w.merge(&ids).wait().unwrap();
        w.wait_merging_threads().unwrap();
    }
    assert_eq!(
        windows_on_disk(tmp.path()),
        vec![("zstd(compression_level=3)".to_string(), 1)]
    );

    // Opened by this version (and too large to be resumed): read as it is, then sealed.
    c.window_max_size = ByteSize(1);
    let store = Store::open(tmp.path(), &c).unwrap();
    assert_whole(&store, &sent);
    let (_, tx, writer) = start_and_send(&store, []);
    wait_until("the window sealed", || all_sealed(tmp.path(), 1));
    wait_until("the snapshot reloaded after the seal", || {
        store.snapshot()[0].searcher.segment_readers().len() == 1
    });
    assert_whole(&store, &sent);
    drop(tx);
    writer.join().unwrap();
    assert_exactly(&Store::open(tmp.path(), &c).unwrap(), "a", 2000);
}
