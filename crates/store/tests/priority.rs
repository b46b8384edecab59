//! The store's threads run at `store.indexing_nice`, the rest of the process as it was: a
//! heavy ingest then leaves the cores to searches first.
#![cfg(target_os = "linux")]

mod common;

use std::fs;

use common::*;
use loglynx_store::Store;

/// (name, nice) of every thread of this process, from `/proc/self/task/*/stat`.
fn threads() -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for task in fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // `pid (comm) state ...`: comm may hold spaces, the fields after it do not
        let open = stat.find('(').unwrap();
        let close = stat.rfind(')').unwrap();
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // field 19 of stat is the nice value; fields[0] here is field 3 (state)
        out.push((name, fields[16].parse().unwrap()));
    }
    out
}

fn own_nice() -> i64 {
    let tid = unsafe { libc::gettid() };
    let stat = fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    let close = stat.rfind(')').unwrap();
    stat[close + 2..].split(' ').nth(16).unwrap().parse().unwrap()
}

/// The store's threads by (name, nice); `store_threads` of another store must be gone.
fn store_threads() -> Vec<(String, i64)> {
    threads()
        .into_iter()
        .filter(|(n, _)| {
            n.starts_with("loglynx-store")
                || n.starts_with("thrd-tantivy")
                || n.starts_with("merge_thread")
                || n == "segment_updater"
                || n.starts_with("docstore-compre")
        })
        .collect()
}

fn run_store(nice: u8) -> Vec<(String, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.indexing_nice = nice;
    c.writer_threads = 2;
    let store = Store::open(dir.path(), &c).unwrap();
    let (_, tx, writer) = start_and_send(&store, [batch("a", 0, 500, 1_700_000_000)]);
    assert_eq!(count(&store), 500);
    let seen = store_threads();
    drop(tx);
    writer.join().unwrap();
    drop(store);
    seen
}

// One test (not two): the threads of a store started by a test running beside it would be
// counted as this one's.
#[test]
fn the_store_threads_run_at_the_configured_niceness_and_nothing_else_does() {
    let before = own_nice();

    let seen = run_store(7);
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["loglynx-store-w", "thrd-tantivy-in", "merge_thread_0"] {
        assert!(names.iter().any(|n| n.starts_with(want)), "no {want} thread among {seen:?}");
    }
    for (name, nice) in &seen {
        assert_eq!(*nice, 7, "thread {name} runs at nice {nice}, not the configured 7: {seen:?}");
    }
    // the thread that opened the store (as a server's would) keeps its priority
    assert_eq!(own_nice(), before, "the caller's priority changed");

    // 0 leaves them as the process was (after the first store's threads have ended)
    wait_until("the first store's threads end", || store_threads().is_empty());
    let seen = run_store(0);
    assert!(!seen.is_empty());
    for (name, nice) in &seen {
        assert_eq!(*nice, before, "thread {name} runs at nice {nice} with indexing_nice 0: {seen:?}");
    }
}
