//! The store's threads run at `store.indexing_nice`, the rest of the process as it was: a
//! heavy ingest then leaves the cores to searches first.
#![cfg(target_os = "linux")]

mod common;

use std::fs;

use common::*;
use loglynx_core::sched;
use loglynx_store::Store;

/// (name, nice, thread id) of every thread of this process, from `/proc/self/task/*/stat`.
fn threads_with_ids() -> Vec<(String, i64, i32)> {
    let mut out = Vec::new();
    for task in fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap();
        let tid: i32 = task.file_name().to_str().unwrap().parse().unwrap();
        let Ok(stat) = fs::read_to_string(task.path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // `pid (comm) state ...`: comm may hold spaces, the fields after it do not
        let open = stat.find('(').unwrap();
        let close = stat.rfind(')').unwrap();
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // field 19 of stat is the nice value; fields[0] here is field 3 (state)
        out.push((name, fields[16].parse().unwrap(), tid));
    }
    out
}

fn own_nice() -> i64 {
    let tid = unsafe { libc::gettid() };
    let stat = fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    let close = stat.rfind(')').unwrap();
    stat[close + 2..]
        .split(' ')
        .nth(16)
        .unwrap()
        .parse()
        .unwrap()
}

/// The store's threads by (name, nice); `store_threads` of another store must be gone.
fn store_threads() -> Vec<(String, i64)> {
    store_threads_with_ids()
        .into_iter()
        .map(|(n, nice, _)| (n, nice))
        .collect()
}

fn store_threads_with_ids() -> Vec<(String, i64, i32)> {
    threads_with_ids()
        .into_iter()
        .filter(|(n, _, _)| {
            n.starts_with("loglynx-store")
                || n.starts_with("thrd-tantivy")
                || n.starts_with("merge_thread")
                || n == "segment_updater"
                || n.starts_with("docstore-compre")
        })
        .collect()
}

fn run_store(nice: u8) -> Vec<(String, i64)> {
    run_store_seeing(nice, store_threads)
}

/// Runs a store at `nice` through one batch and returns what `see` finds while it runs.
fn run_store_seeing<T>(nice: u8, see: impl FnOnce() -> T) -> T {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.indexing_nice = nice;
    c.writer_threads = 2;
    let store = Store::open(dir.path(), &c).unwrap();
    let (_, tx, writer) = start_and_send(&store, [batch("a", 0, 500, 1_700_000_000)]);
    assert_eq!(count(&store), 500);
    let seen = see();
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
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "no {want} thread among {seen:?}"
        );
    }
    for (name, nice) in &seen {
        assert_eq!(
            *nice, 7,
            "thread {name} runs at nice {nice}, not the configured 7: {seen:?}"
        );
    }
    // the thread that opened the store (as a server's would) keeps its priority
    assert_eq!(own_nice(), before, "the caller's priority changed");

    // 0 leaves them as the process was (after the first store's threads have ended)
    wait_until("the first store's threads end", || {
        store_threads().is_empty()
    });
    let seen = run_store(0);
    assert!(!seen.is_empty());
    for (name, nice) in &seen {
        assert_eq!(
            *nice, before,
            "thread {name} runs at nice {nice} with indexing_nice 0: {seen:?}"
        );
    }

    // Opened from a thread with the short slice (a server's runtime thread), the store's
    // threads still take the kernel's default slice: the short one is for request threads.
    wait_until("the second store's threads end", || {
        store_threads().is_empty()
    });
    let default = std::thread::spawn(|| sched::slice_ns().unwrap())
        .join()
        .unwrap();
    let seen = std::thread::spawn(|| {
        sched::set_slice(Some(sched::SHORT_SLICE_NS)).unwrap();
        let seen: Vec<(String, u64)> = run_store_seeing(0, || {
            store_threads_with_ids()
                .into_iter()
                .filter_map(|(n, _, tid)| Some((n, sched::thread_slice_ns(tid).ok()?)))
                .collect()
        });
        (seen, sched::slice_ns().unwrap())
    })
    .join()
    .unwrap();
    let (seen, own) = seen;
    assert_eq!(
        own,
        if sched::has_slices() {
            sched::SHORT_SLICE_NS
        } else {
            0
        }
    );
    assert!(
        seen.iter().any(|(n, _)| n.starts_with("thrd-tantivy-in")),
        "{seen:?}"
    );
    for (name, slice) in &seen {
        assert_eq!(
            *slice, default,
            "thread {name} has slice {slice}, not the kernel's {default}: {seen:?}"
        );
    }
}
