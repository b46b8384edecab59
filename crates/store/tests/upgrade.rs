//! A store written by an earlier version, whose schema lacked fields this version has: it opens,
//! every old event is searchable, new events carry the new fields, and it keeps working after a
//! restart. A window with a field of another type is refused, naming it.

mod common;

use std::ops::Bound;
use std::path::Path;

use common::*;
use loglynx_config::ByteSize;
use loglynx_core::fields as f;
use loglynx_store::{Store, StoreSchema};
use tantivy::collector::Count;
use tantivy::query::{PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

/// The fields the earlier version did not have.
const ADDED: &[&str] = &[f::URL_ORIGINAL, f::HTTP_RESPONSE_STATUS_CODE];

/// Field names in every window's `meta.json` schema, oldest window first.
fn schemas_on_disk(data: &Path) -> Vec<Vec<String>> {
    let mut dirs: Vec<_> = std::fs::read_dir(data.join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("meta.json")).unwrap()).unwrap();
            meta["schema"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn hits(store: &Store, q: &dyn Query) -> usize {
    store
        .snapshot()
        .iter()
        .map(|w| w.searcher.search(q, &Count).unwrap())
        .sum()
}

fn term(store: &Store, field: &str, value: &str) -> usize {
    let field = store.schema().field(field).unwrap();
    let q = TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic);
    hits(store, &q)
}

fn status_range(store: &Store, lo: u64, hi: u64) -> usize {
    let field = store.schema().field(f::HTTP_RESPONSE_STATUS_CODE).unwrap();
    let q = RangeQuery::new(
        Bound::Included(Term::from_field_u64(field, lo)),
        Bound::Included(Term::from_field_u64(field, hi)),
    );
    hits(store, &q)
}

fn phrase(store: &Store, words: &[&str]) -> usize {
    let terms = words
        .iter()
        .map(|w| Term::from_field_text(store.schema().message, w))
        .collect();
    hits(store, &PhraseQuery::new(terms))
}

/// Writes `batches` of 1000 events of source `a` from position `from`, each acknowledged,
/// with `url.original` and a 404 status when `url` is set.
fn ingest_from(store: &Store, from: u64, batches: u64, url: Option<&str>) {
    let batches = (0..batches).map(|i| {
        let start = from + i * 1000;
        let mut b = batch("a", start, 1000, 1_700_000_000 + start as i64);
        for e in &mut b.events {
            e.url_original = url.map(String::from);
            e.http_status = url.map(|_| 404);
        }
        b
    });
    ingest(store, batches);
}

#[test]
fn a_store_of_an_earlier_version_opens_searchable_and_takes_the_new_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let earlier = StoreSchema::without_fields(ADDED);
    // The earlier version writes two windows: the first is closed (and sealed) after its
    // commit, the second is the newest, which this version resumes.
    {
        let mut c = cfg();
        c.window_max_size = ByteSize(1);
        let store = Store::open_as(tmp.path(), &c, earlier.clone()).unwrap();
        ingest_from(&store, 0, 2, None);
    }
    let before = schemas_on_disk(tmp.path());
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|s| !s.iter().any(|n| ADDED.contains(&n.as_str()))));

    let c = cfg();
    let store = Store::open(tmp.path(), &c).unwrap();
    // Both windows now list the added fields, after the ones they had (same positions).
    for s in schemas_on_disk(tmp.path()) {
        assert_eq!(&s[..before[0].len()], &before[0][..]);
        assert_eq!(&s[before[0].len()..], &[f::URL_ORIGINAL, f::HTTP_RESPONSE_STATUS_CODE]);
    }
    assert_eq!(count(&store), 2000);
    assert_eq!(term(&store, f::HOST_NAME, "web1"), 2000);
    assert_eq!(phrase(&store, &["failed", "password", "for", "root"]), 2000);
    assert_eq!(term(&store, f::URL_ORIGINAL, "/login"), 0);
    assert_eq!(status_range(&store, 0, 999), 0);
    assert_eq!(store.checkpoint().positions["a"], 2000);

    // This version writes on, into the resumed window, with the new fields.
    ingest_from(&store, 2000, 2, Some("/login"));
    let check = |store: &Store| {
        assert_eq!(count(store), 4000);
        assert_eq!(term(store, f::HOST_NAME, "web1"), 4000);
        assert_eq!(phrase(store, &["failed", "password", "for", "root"]), 4000);
        assert_eq!(term(store, f::URL_ORIGINAL, "/login"), 2000);
        assert_eq!(status_range(store, 400, 499), 2000);
        assert_exactly(store, "a", 4000);
        assert_eq!(store.checkpoint().positions["a"], 4000);
    };
    check(&store);
    drop(store);

    // After a restart nothing changes, and nothing is upgraded twice.
    let store = Store::open(tmp.path(), &c).unwrap();
    check(&store);
    let fields = StoreSchema::new().schema.num_fields();
    assert!(schemas_on_disk(tmp.path()).iter().all(|s| s.len() == fields));
}

#[test]
fn a_window_with_a_field_of_another_type_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store = Store::open(tmp.path(), &cfg()).unwrap();
        ingest_from(&store, 0, 1, None);
    }
    // Rewrite the window's schema with `process.pid` as text instead of a number.
    let dir = std::fs::read_dir(tmp.path().join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("meta.json").exists())
        .unwrap();
    let meta_path = dir.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let pid = meta["schema"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["name"] == f::PROCESS_PID)
        .unwrap();
    *pid = serde_json::json!({"name": f::PROCESS_PID, "type": "text", "options": {"stored": true}});
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let e = Store::open(tmp.path(), &cfg()).err().unwrap().to_string();
    let window = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        e.contains(&window) && e.contains("`process.pid` is stored as str") && e.contains("as u64"),
        "{e}"
    );
    assert!(e.contains("run the loglynx version that wrote it"), "{e}");
}
