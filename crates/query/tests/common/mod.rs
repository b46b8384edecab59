//! Test corpora: tantivy indexes in RAM built with the store's schema, wrapped as windows.
#![allow(dead_code)]

use loglynx_core::{Event, Timestamp};
use loglynx_query::QueryEngine;
use loglynx_store::{StoreSchema, WindowSnapshot};
use tantivy::{Index, IndexWriter};

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("test timestamp")
}

/// 2024-05-01T10:00:00Z plus `secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp(ts("2024-05-01T10:00:00Z").0 + secs * 1_000_000_000)
}

pub fn engine() -> QueryEngine {
    QueryEngine::new(StoreSchema::new())
}

/// One window holding `segments` (each committed separately, so a window has several
/// segments); its time bounds are the events' own.
pub fn window(id: &str, segments: &[Vec<Event>]) -> WindowSnapshot {
    let all: Vec<&Event> = segments.iter().flatten().collect();
    let min = all.iter().map(|e| e.timestamp).min();
    let max = all.iter().map(|e| e.timestamp).max();
    window_with_bounds(id, segments, min, max)
}

/// A window whose advertised bounds are given (to test pruning).
pub fn window_with_bounds(
    id: &str,
    segments: &[Vec<Event>],
    min: Option<Timestamp>,
    max: Option<Timestamp>,
) -> WindowSnapshot {
    let schema = StoreSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    let mut writer: IndexWriter = index
        .writer_with_num_threads(1, 15_000_000)
        .expect("writer");
    for seg in segments {
        for e in seg {
            writer.add_document(schema.to_document(e)).expect("add");
        }
        writer.commit().expect("commit");
    }
    let searcher = index.reader().expect("reader").searcher();
    WindowSnapshot {
        id: id.to_string(),
        min_timestamp: min,
        max_timestamp: max,
        searcher,
    }
}

/// One window holding `segments` committed separately and never merged: as many segments as
/// lists (a window that took many small commits before a merge).
pub fn unmerged_window(id: &str, segments: &[Vec<Event>]) -> WindowSnapshot {
    let schema = StoreSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    let mut writer: IndexWriter = index
        .writer_with_num_threads(1, 15_000_000)
        .expect("writer");
    writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    for seg in segments {
        for e in seg {
            writer.add_document(schema.to_document(e)).expect("add");
        }
        writer.commit().expect("commit");
    }
    let searcher = index.reader().expect("reader").searcher();
    let all: Vec<&Event> = segments.iter().flatten().collect();
    WindowSnapshot {
        id: id.to_string(),
        min_timestamp: all.iter().map(|e| e.timestamp).min(),
        max_timestamp: all.iter().map(|e| e.timestamp).max(),
        searcher,
    }
}

/// A plain event at `secs` after the base time, ingested 1 s later.
pub fn event(id: &str, secs: i64, message: &str) -> Event {
    Event::new(message, at(secs), at(secs + 1), id.to_string())
}

pub struct Spec<'a> {
    pub msg: &'a str,
    pub host: &'a str,
    pub level: &'a str,
    pub service: &'a str,
    pub pid: u32,
    pub labels: &'a [(&'a str, &'a str)],
}

/// The small fixed corpus of the language tests: e1..e10 one minute apart from 10:00.
pub fn language_corpus() -> Vec<WindowSnapshot> {
    let specs = [
        Spec {
            msg: "Disk full on /dev/sda1",
            host: "web1",
            level: "error",
            service: "nginx",
            pid: 100,
            labels: &[("env", "prod")],
        },
        Spec {
            msg: "disk is full",
            host: "web1",
            level: "warn",
            service: "nginx",
            pid: 150,
            labels: &[("env", "prod")],
        },
        Spec {
            msg: "Connection failed to db",
            host: "web2",
            level: "error",
            service: "postgres",
            pid: 200,
            labels: &[("env", "staging")],
        },
        Spec {
            msg: "connection failure retrying",
            host: "web2",
            level: "warn",
            service: "nginx-proxy",
            pid: 201,
            labels: &[("env", "prod")],
        },
        Spec {
            msg: "User login ok",
            host: "Web1",
            level: "info",
            service: "auth",
            pid: 50,
            labels: &[("env", "dev"), ("team", "core")],
        },
        Spec {
            msg: "full disk warning",
            host: "db1",
            level: "info",
            service: "postgres",
            pid: 300,
            labels: &[],
        },
        Spec {
            msg: "ERROR timeout contacting upstream",
            host: "web3",
            level: "error",
            service: "nginx",
            pid: 99,
            labels: &[("env", "prod")],
        },
        Spec {
            msg: "failed password for root",
            host: "web3",
            level: "notice",
            service: "sshd",
            pid: 1000,
            labels: &[("k8s.pod", "api-1")],
        },
        Spec {
            msg: "health check ok",
            host: "my host",
            level: "debug",
            service: "auth",
            pid: 100,
            labels: &[],
        },
        Spec {
            msg: "disk-full alarm",
            host: "db1",
            level: "crit",
            service: "nginx",
            pid: 7,
            labels: &[],
        },
    ];
    let events: Vec<Event> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut e = event(&format!("e{}", i + 1), i as i64 * 60, s.msg);
            e.host = Some(s.host.into());
            e.level = Some(s.level.into());
            e.service = Some(s.service.into());
            e.pid = Some(s.pid);
            for (k, v) in s.labels {
                e.labels.insert(k.to_string(), v.to_string());
            }
            match i + 1 {
                3 => e.source_ip = Some("::1".into()),
                8 => e.user_name = Some("root".into()),
                10 => e.flags.truncated = true,
                _ => {}
            }
            e
        })
        .collect();
    vec![window(
        "lang",
        &[events[..5].to_vec(), events[5..].to_vec()],
    )]
}
