//! Shard generations: the stores a worker keeps of one partition, one per stretch of offsets it
//! consumed, `<data_dir>/shards/<topic>-<partition>-g<start>/` (`start`: the offset the
//! generation began at). The layout before generations, `<data_dir>/shards/<topic>-<partition>/`,
//! is still read: it is the partition's oldest generation, its start unknown.
//!
//! A worker assigned a partition resumes its newest local generation when that one is at or
//! past the offset the group hands over ([`decide`]); otherwise it starts a new generation at
//! that offset, so the offsets another worker stored meanwhile are never stored a second time
//! here (a partition moving A -> B -> A leaves A two generations with B's stretch between them).
//!
//! [`generations`] lists them (partition, generation, offsets, time range, events) for the
//! search catalog; [`super::RunningWorker::generations`] adds what the live shards committed.

use std::path::{Path, PathBuf};

use loglynx_core::{fields as f, Timestamp};
use loglynx_store::WindowSnapshot;
use serde::Serialize;

use crate::error::{NodeError, Result};

/// Prefix of a generation's start in its directory name (`logs-3-g1200`).
const GEN_MARK: &str = "-g";

/// The directory name of the generation of `partition` that starts at `start`.
pub(crate) fn dir_name(topic: &str, partition: i32, start: u64) -> String {
    format!("{topic}-{partition}{GEN_MARK}{start}")
}

/// What a directory under `shards/` is for `topic`: its partition and its generation's start
/// (`None`: the layout before generations). `None` for anything else (another topic's shard).
pub(crate) fn parse_dir_name(topic: &str, name: &str) -> Option<(i32, Option<u64>)> {
    let rest = name.strip_prefix(topic)?.strip_prefix('-')?;
    let (p, start) = match rest.split_once(GEN_MARK) {
        Some((p, start)) => (p, Some(start.parse::<u64>().ok()?)),
        None => (rest, None),
    };
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((p.parse().ok()?, start))
}

/// The local generations of `partition`, oldest first (the layout before generations first,
/// then by start offset).
pub(crate) fn local(shards_dir: &Path, topic: &str, partition: i32) -> Result<Vec<(Option<u64>, PathBuf)>> {
    Ok(all_local(shards_dir, topic)?
        .into_iter()
        .filter(|(p, _, _)| *p == partition)
        .map(|(_, start, dir)| (start, dir))
        .collect())
}

/// Every local generation of `topic`: (partition, start, directory), by partition then age.
pub(crate) fn all_local(shards_dir: &Path, topic: &str) -> Result<Vec<(i32, Option<u64>, PathBuf)>> {
    let entries = match std::fs::read_dir(shards_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(NodeError::CreateDir {
                dir: shards_dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out: Vec<(i32, Option<u64>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let (p, start) = parse_dir_name(topic, &e.file_name().to_string_lossy())?;
            Some((p, start, e.path()))
        })
        .collect();
    out.sort_by_key(|(p, start, _)| (*p, start.map_or(0, |s| s + 1)));
    Ok(out)
}

/// Where a partition resumes on this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// In the newest local generation, at its checkpoint.
    Keep,
    /// In a new generation starting at this offset.
    New(u64),
}

/// Whether the newest local generation (its checkpoint `local`: the next offset it has durably
/// stored, `None` when there is none or it never committed) goes on, given the offset the group
/// hands over (`handover`: the group's committed offset, or the partition's changelog record
/// when that is further, see loglynx_bus's `consumer/changelog.rs`; `None` when the group never
/// committed the partition).
///
/// - No handover offset: the group has nothing, so the local generation goes on (or, without
///   one, a generation from the beginning of what Kafka keeps, [`Resume::New`]`(0)`).
/// - The local checkpoint is at the handover offset: nothing happened elsewhere since; go on.
/// - It is *ahead*: this worker stored offsets past what the group committed (it crashed, or
///   lost the partition, between its store commit and the Kafka commit, which is up to a commit
///   interval behind). Going on stores nothing twice here; a new generation at the committed
///   offset would store those offsets a second time on this disk. Any other worker that had the
///   partition meanwhile started at the committed offset: the overlap is between two workers,
///   at most one commit interval, and the search root counts each offset once.
/// - It is *behind*: another worker stored the offsets between (the partition moved away and
///   back); a new generation at the handover offset, so that stretch is not stored here too.
pub(crate) fn decide(local: Option<u64>, handover: Option<u64>) -> Resume {
    match (local, handover) {
        (None, None) => Resume::New(0),
        (Some(_), None) => Resume::Keep,
        (Some(l), Some(h)) if l >= h => Resume::Keep,
        (_, Some(h)) => Resume::New(h),
    }
}

/// One shard generation on this worker's disk, for the search catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    /// The Kafka partition.
    pub partition: i32,
    /// `g<start>`, or `g-` for a shard of the layout before generations.
    pub id: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The first offset it holds: its start, or (layout before generations) the smallest
    /// `kafka.offset` stored. `None` when it holds nothing.
    pub first_offset: Option<u64>,
    /// The next offset after what it holds: its committed checkpoint when the worker has it
    /// open, else one past the largest `kafka.offset` stored. Offsets in between that it does not
    /// hold were records skipped as sent twice by an agent (stored once elsewhere) or given up
    /// as missing.
    pub next_offset: Option<u64>,
    /// Smallest and largest `@timestamp` stored.
    pub min_timestamp: Option<Timestamp>,
    pub max_timestamp: Option<Timestamp>,
    /// Events stored.
    pub docs: u64,
}

/// The generations of `topic` under `<data_dir>/shards/`, by partition then age, read from
/// their committed windows (read-only, like `serve`: safe while a worker writes them). A
/// running worker's [`super::RunningWorker::generations`] adds the checkpoints of the ones it
/// holds open.
pub fn generations(data_dir: &Path, topic: &str, store: &loglynx_config::StoreConfig) -> Result<Vec<Generation>> {
    let shards_dir = data_dir.join("shards");
    let view = loglynx_store::Store::open_read_only(&shards_dir, store).map_err(|source| NodeError::Store {
        dir: shards_dir.clone(),
        source,
    })?;
    let snaps = view.snapshot();
    let mut out = Vec::new();
    for (partition, start, dir) in all_local(&shards_dir, topic)? {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!("{name}/");
        let mine: Vec<&WindowSnapshot> = snaps.iter().filter(|s| s.id.starts_with(&prefix)).collect();
        out.push(describe(partition, start, dir, &mine));
    }
    Ok(out)
}

/// A generation from its windows.
pub(crate) fn describe(partition: i32, start: Option<u64>, dir: PathBuf, windows: &[&WindowSnapshot]) -> Generation {
    let mut g = Generation {
        partition,
        id: start.map_or_else(|| "g-".to_string(), |s| format!("g{s}")),
        dir,
        first_offset: None,
        next_offset: None,
        min_timestamp: None,
        max_timestamp: None,
        docs: 0,
    };
    let (mut lo, mut hi): (Option<u64>, Option<u64>) = (None, None);
    for w in windows {
        g.docs += w.searcher.num_docs();
        g.min_timestamp = opt_min(g.min_timestamp, w.min_timestamp);
        g.max_timestamp = opt_max(g.max_timestamp, w.max_timestamp);
        for seg in w.searcher.segment_readers() {
            let Ok(col) = seg.fast_fields().u64(f::KAFKA_OFFSET) else { continue };
            if matches!(col.index, tantivy::columnar::ColumnIndex::Empty { .. }) || seg.num_docs() == 0 {
                continue;
            }
            lo = opt_min(lo, Some(col.min_value()));
            hi = opt_max(hi, Some(col.max_value()));
        }
    }
    if g.docs > 0 {
        g.first_offset = start.or(lo);
        g.next_offset = hi.map(|h| h + 1);
    } else {
        g.min_timestamp = None;
        g.max_timestamp = None;
    }
    g
}

/// Retention for the generations no shard of this process writes (orphans of partitions that
/// moved away, older generations of ones it holds): each one's lock is tried (one another
/// process holds is left to it), then it gets the store's retention (age and size by window, by ingest time) and,
/// when that leaves it empty and it is not its partition's newest, it is deleted whole. A shard being written applies
/// retention itself. `live` are the generations this process has open. Returns the directories
/// deleted.
pub(crate) fn sweep(
    shards_dir: &Path,
    topic: &str,
    cfg: &loglynx_config::StoreConfig,
    live: &dyn Fn(&Path) -> bool,
    now: Timestamp,
) -> Result<Vec<PathBuf>> {
    let all = all_local(shards_dir, topic)?;
    let mut deleted = Vec::new();
    for (i, (partition, _, dir)) in all.iter().enumerate() {
        if live(dir) {
            continue;
        }
        let newest = all.get(i + 1).is_none_or(|(p, _, _)| p != partition);
        let Ok(lock) = crate::lock::DirLock::try_lock(dir, "shard.lock", String::new) else {
            continue;
        };
        let store = match loglynx_store::Store::open(dir, cfg) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "retention cannot open a shard generation: {e}");
                continue;
            }
        };
        // Windows go by ingest time, as in every store: an import of last year's logs is not
        // expired by its event times. The store's retention first, then an empty generation
        // that is not its partition's newest is deleted whole.
        let gone = store.apply_retention(now);
        if !gone.is_empty() {
            tracing::info!(partition, dir = %dir.display(), windows = gone.len(), "retention deleted windows of a shard generation no worker writes here");
        }
        let docs: u64 = store.snapshot().iter().map(|w| w.searcher.num_docs()).sum();
        if docs == 0 && !newest {
            drop(store);
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {
                    tracing::info!(partition, dir = %dir.display(), "retention deleted an empty shard generation no worker writes here");
                    deleted.push(dir.clone());
                }
                Err(e) => tracing::error!(dir = %dir.display(), "retention could not delete a shard generation ({e}): delete it by hand"),
            }
        }
        drop(lock);
    }
    Ok(deleted)
}

fn opt_min<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn opt_max<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_round_trip_and_other_topics_are_ignored() {
        assert_eq!(dir_name("logs", 3, 1200), "logs-3-g1200");
        assert_eq!(parse_dir_name("logs", "logs-3-g1200"), Some((3, Some(1200))));
        assert_eq!(parse_dir_name("logs", "logs-3"), Some((3, None)));
        // A topic whose name extends this one's, and garbage.
        assert_eq!(parse_dir_name("logs", "logs-x-3"), None);
        assert_eq!(parse_dir_name("logs", "logs-3-gx"), None);
        assert_eq!(parse_dir_name("logs", "logs-"), None);
        assert_eq!(parse_dir_name("logs", "other-3"), None);
        assert_eq!(parse_dir_name("my-logs", "my-logs-0-g0"), Some((0, Some(0))));
    }

    #[test]
    fn a_generation_goes_on_unless_the_group_is_past_it() {
        // Nothing anywhere: from the beginning of what Kafka keeps.
        assert_eq!(decide(None, None), Resume::New(0));
        // The group never committed: the local generation goes on.
        assert_eq!(decide(Some(50), None), Resume::Keep);
        // Exactly where the group is (a clean hand-back, a restart).
        assert_eq!(decide(Some(50), Some(50)), Resume::Keep);
        // Ahead of the group (crash between store and Kafka commits): go on, store nothing twice.
        assert_eq!(decide(Some(70), Some(50)), Resume::Keep);
        // Behind: another worker stored 50..90; a new generation at 90.
        assert_eq!(decide(Some(50), Some(90)), Resume::New(90));
        // No local generation (or one that never committed), the group at 90: never from 0.
        assert_eq!(decide(None, Some(90)), Resume::New(90));
    }

    /// Writes one event at `at` into a generation's store (a commit, as a worker would).
    fn write_event(dir: &Path, cfg: &loglynx_config::StoreConfig, at: Timestamp, offset: u64) {
        let store = loglynx_store::Store::open(dir, cfg).unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let writer = store.start_writer(rx).unwrap();
        let mut e = loglynx_core::Event::new("x", at, at, format!("id{offset}"));
        e.kafka_partition = Some(1);
        e.kafka_offset = Some(offset);
        tx.blocking_send(loglynx_core::EventBatch {
            events: vec![e],
            checkpoint: vec![("kafka:logs:1".into(), offset + 1)],
            ack: None,
        })
        .unwrap();
        drop(tx);
        writer.join().unwrap();
    }

    /// Issue 13: a generation no shard writes (its partition moved away) never expired.
    #[test]
    fn retention_deletes_orphaned_generations_and_leaves_live_ones_to_their_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = loglynx_config::StoreConfig {
            retention_age: std::time::Duration::from_secs(86_400),
            ..Default::default()
        };
        let old = Timestamp::from_secs(1_000_000);
        let now = Timestamp::now();
        let shards = tmp.path().join("shards");
        let dir = |name: &str| shards.join(name);
        write_event(&dir("logs-1-g0"), &cfg, old, 5); // orphan of old events ingested now: kept
        std::fs::create_dir_all(dir("logs-1-g10")).unwrap(); // empty, not the newest
        write_event(&dir("logs-1-g20"), &cfg, now, 25); // recent
        write_event(&dir("logs-1-g30"), &cfg, old, 35); // expired but written by this process
        let live = |d: &Path| d.ends_with("logs-1-g30");
        let mut gone = sweep(&shards, "logs", &cfg, &live, now).unwrap();
        gone.sort();
        assert_eq!(gone, vec![dir("logs-1-g10")]);
        let left: Vec<Option<u64>> = local(&shards, "logs", 1).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(left, vec![Some(0), Some(20), Some(30)]);
        // The catalog of what is left: offsets and times from the stored events.
        let gens = generations(tmp.path(), "logs", &cfg).unwrap();
        assert_eq!(gens.len(), 3);
        assert_eq!((gens[1].id.as_str(), gens[1].first_offset, gens[1].next_offset, gens[1].docs), ("g20", Some(20), Some(26), 1));
        assert_eq!(gens[2].max_timestamp, Some(old));
    }

    #[test]
    fn local_generations_are_listed_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["logs-1-g500", "logs-1", "logs-1-g20", "logs-0-g7", "other-1", "logs-2-gx"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let got: Vec<(Option<u64>, String)> = local(tmp.path(), "logs", 1)
            .unwrap()
            .into_iter()
            .map(|(s, d)| (s, d.file_name().unwrap().to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "logs-1".to_string()),
                (Some(20), "logs-1-g20".to_string()),
                (Some(500), "logs-1-g500".to_string())
            ]
        );
        assert!(local(&tmp.path().join("absent"), "logs", 1).unwrap().is_empty());
    }
}
