//! [`ShardSink`]: the worker's [`PartitionSink`], one store shard per partition it holds, in a
//! generation of that partition (`generations.rs`): `<data_dir>/shards/<topic>-<p>-g<start>/`.
//!
//! Per partition (opened in the rebalance callback, see loglynx_bus::kafka::consumer): the
//! newest local generation's lock -> its store, whose checkpoint `kafka:<topic>:<partition>`
//! is compared with the group's hand-over offset ([`super::generations::decide`]): it goes on,
//! or a new generation starts at the hand-over offset -> writer <- pipeline <- the consumer.
//! Several workers may share a data directory: a shard is written by the process holding its
//! lock file; a worker assigned a shard that another still holds waits until that one has
//! committed and released it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use loglynx_bus::kafka::{source_key, Opened, PartitionSink};
use loglynx_config::{PipelineConfig, StoreConfig};
use loglynx_pipeline::PipelineStats;
use loglynx_store::{Store, WriterHandle};
use tokio::sync::mpsc;

use super::generations::{self, Resume};
use crate::error::NodeError;
use crate::lock::DirLock;

/// Opens, feeds and closes the shards of one worker process.
pub(crate) struct ShardSink {
    /// Set when the worker stops: a shard still awaited is given up.
    pub(crate) stopping: Arc<std::sync::atomic::AtomicBool>,
    /// Tags events with the rules they match (the correlator takes it from there).
    pub(crate) detection: Option<Arc<loglynx_detect::Detection>>,
    /// Sends the tagged events to the signals topic before the store commits them (with
    /// detection on).
    pub(crate) signals: Option<Arc<loglynx_bus::kafka::SideProducer>>,
    /// The process's pattern miner, shared by its shards (ids agree across shards anyway).
    pub(crate) patterns: Option<Arc<loglynx_patterns::Patterns>>,
    /// `[patterns] signals` and `warmup`.
    pub(crate) pattern_signals: bool,
    pub(crate) pattern_warmup: std::time::Duration,
    pub(crate) shards_dir: PathBuf,
    pub(crate) topic: String,
    /// The process's budgets (`writer_threads`, `writer_memory`, `parse_threads`): split
    /// between its shards, see [`shard_budget`].
    pub(crate) store: StoreConfig,
    pub(crate) pipeline: PipelineConfig,
    /// `files.timezone`, `[[files.zones]]`, `[[files.layouts]]`, applied to the paths the agents read.
    pub(crate) file_rules: Arc<loglynx_pipeline::FileRules>,
    pub(crate) rt: tokio::runtime::Handle,
    pub(crate) stats: Arc<PipelineStats>,
    /// Consumers in this process: the shards it expects to hold at least.
    pub(crate) consumers: usize,
    /// Shards open now, in every consumer of the process.
    pub(crate) open: AtomicUsize,
    /// The stores of the shards open now, by generation directory (for the catalog and for
    /// retention, which leaves them to their writers).
    pub(crate) live: Mutex<HashMap<PathBuf, Store>>,
    /// Held while a consumer chooses and locks a generation, and while retention looks at one,
    /// so retention never deletes a generation being opened.
    pub(crate) choosing: Mutex<()>,
}

/// The store and pipeline settings of one of `shards` shards of a worker process on `cores`
/// cores. In `run` one store has the whole budget; a worker has a store per partition it owns,
/// so what is automatic (`writer_threads`, `parse_threads` at 0) is divided between the shards,
/// and so is `writer_memory`. A thread count set explicitly applies to each shard as given.
/// `retention_size` stays per shard: a worker cannot know how many shards share the disk (other
/// workers may hold the rest), and dividing by a guess would delete data early.
///
/// `shards` is at least the process's consumers (one partition each, the default topic shape):
/// the consumers of a group get their first partitions in separate callbacks, and the first
/// shard opened must not take the whole budget. A worker that holds fewer shards than it has
/// consumers (e.g. two 8-consumer workers on an 8-partition topic) leaves some budget unused;
/// `--consumers` matching its share avoids that.
///
/// Measured (docs/BENCHMARKS.md): a worker holding 2 shards with 2 indexing threads each on 2
/// cores spent 11-18% more CPU per event than with one each (more, smaller segments to merge).
pub(crate) fn shard_budget(
    store: &StoreConfig,
    pipeline: &PipelineConfig,
    shards: usize,
    cores: usize,
) -> (StoreConfig, PipelineConfig) {
    let shards = shards.max(1);
    let mut store = store.clone();
    let mut pipeline = pipeline.clone();
    if store.writer_threads == 0 {
        store.writer_threads = (cores.clamp(1, 4) / shards).max(1);
    }
    store.writer_memory.0 /= shards as u64;
    if pipeline.parse_threads == 0 {
        pipeline.parse_threads = (cores / shards).max(1);
    }
    (store, pipeline)
}

/// A shard being written by this process.
pub(crate) struct Shard {
    key: String,
    dir: PathBuf,
    store: Store,
    writer: WriterHandle,
    _lock: DirLock,
}

impl PartitionSink for ShardSink {
    type Shard = Shard;
    type Error = NodeError;

    fn open(&self, partition: i32, more: usize, handover: Option<i64>) -> Result<Opened<Shard>, NodeError> {
        // Counted from here (two consumers opening at once see each other), given back if the
        // shard cannot be opened.
        let held = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        let opened = self.open_generation(partition, held + more, handover);
        if opened.is_err() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        opened
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    fn committed(&self, shard: &Shard) -> Option<i64> {
        shard.store.checkpoint().get(&shard.key).map(|o| o as i64)
    }

    fn checkpoint(&self, shard: &Shard) -> loglynx_core::Checkpoint {
        shard.store.checkpoint()
    }

    fn close(&self, shard: Shard) -> loglynx_core::Checkpoint {
        let Shard {
            key,
            dir,
            store,
            writer,
            _lock,
        } = shard;
        // The pipeline drains, drops its sender, and the writer makes its last commit.
        if let Err(e) = writer.join() {
            tracing::error!(shard = %key, "last commit failed: {e}; the next owner resumes from the previous commit");
        }
        // Its memory is given back only now.
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.live.lock().unwrap_or_else(|p| p.into_inner()).remove(&dir);
        store.checkpoint()
    }
}

impl ShardSink {
    /// Waits for the lock of a generation directory (another worker sharing the data directory
    /// may still be committing it).
    fn lock(&self, dir: &Path, partition: i32) -> Result<DirLock, NodeError> {
        DirLock::wait_unless(dir, "shard.lock", |waited, taken| {
            if taken {
                tracing::info!(
                    partition,
                    waited_ms = waited.as_millis() as u64,
                    "shard released by its previous owner"
                );
            } else {
                tracing::warn!(partition, dir = %dir.display(), "waiting for another worker to release the shard");
            }
        }, || self.stopping.load(Ordering::Relaxed))
    }

    /// [`PartitionSink::open`] once counted: `held` is how many shards the process holds with
    /// this one and the rest of the assignment. Chooses the generation (the newest local one
    /// goes on, or a new one starts at the hand-over offset), then starts its shard.
    fn open_generation(
        &self,
        partition: i32,
        held: usize,
        handover: Option<i64>,
    ) -> Result<Opened<Shard>, NodeError> {
        let shards = self.consumers.max(held);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let (store_cfg, pipeline) = shard_budget(&self.store, &self.pipeline, shards, cores);
        tracing::debug!(
            partition,
            shards,
            writer_threads = store_cfg.writer_threads,
            writer_memory = store_cfg.writer_memory.0,
            parse_threads = pipeline.parse_threads,
            "shard budget"
        );
        let key = source_key(&self.topic, partition);
        let handover = handover.map(|h| h.max(0) as u64);
        let open_store = |dir: &Path| {
            Store::open(dir, &store_cfg).map_err(|source| NodeError::Store {
                dir: dir.to_path_buf(),
                source,
            })
        };
        let choosing = self.choosing.lock().unwrap_or_else(|p| p.into_inner());
        let newest = generations::local(&self.shards_dir, &self.topic, partition)?.pop();
        // Opened under the lock: the checkpoint is the last one any process committed.
        let current = match newest {
            Some((_, dir)) => {
                let lock = self.lock(&dir, partition)?;
                let store = open_store(&dir)?;
                Some((dir, lock, store))
            }
            None => None,
        };
        let local = current.as_ref().and_then(|(_, _, s)| s.checkpoint().get(&key));
        let (dir, lock, store, next) = match (generations::decide(local, handover), current) {
            (Resume::Keep, Some((dir, lock, store))) => (dir, lock, store, local),
            (resume, current) => {
                // A new generation (`Keep` needs a local one: without, at the hand-over offset).
                let start = match resume {
                    Resume::New(start) => start,
                    Resume::Keep => handover.unwrap_or(0),
                };
                let dir = self.shards_dir.join(generations::dir_name(&self.topic, partition, start));
                let next = handover.map(|_| start);
                match current {
                    // The newest generation starts there and never committed: it is the one.
                    Some((cur, lock, store)) if cur == dir => (cur, lock, store, next),
                    _ => {
                        tracing::info!(
                            partition,
                            local_checkpoint = ?local,
                            handover = ?handover,
                            dir = %dir.display(),
                            "starting a new shard generation at the group's hand-over offset"
                        );
                        let lock = self.lock(&dir, partition)?;
                        let store = open_store(&dir)?;
                        (dir, lock, store, next)
                    }
                }
            }
        };
        let opened = self.start_shard(partition, dir, lock, store, &pipeline, next.map(|n| n as i64));
        drop(choosing);
        opened
    }

    /// Retention of the generations no shard of this process writes (see
    /// [`generations::sweep`]); skipped while a consumer is choosing one.
    pub(crate) fn sweep(&self) -> Result<Vec<PathBuf>, NodeError> {
        let Ok(_choosing) = self.choosing.try_lock() else {
            return Ok(Vec::new());
        };
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        generations::sweep(
            &self.shards_dir,
            &self.topic,
            &self.store,
            &|dir: &Path| live.contains_key(dir),
            loglynx_core::Timestamp::now(),
        )
    }

    /// Starts the writer and pipeline of the shard of `partition` in generation `dir`.
    fn start_shard(
        &self,
        partition: i32,
        dir: PathBuf,
        lock: DirLock,
        store: Store,
        pipeline: &PipelineConfig,
        next: Option<i64>,
    ) -> Result<Opened<Shard>, NodeError> {
        let (mut event_tx, event_rx) = mpsc::channel(pipeline.queue_batches);
        let writer = store
            .start_writer(event_rx)
            .map_err(|source| NodeError::Writer {
                what: "cannot start the shard's store writer",
                source,
            })?;
        if let Some(producer) = &self.signals {
            // pipeline -> signals sender -> writer
            let (tx, rx) = mpsc::channel(pipeline.queue_batches);
            super::correlator::spawn_signals(producer.clone(), self.topic.clone(), self.detection.clone(), self.stopping.clone(), rx, event_tx)?;
            event_tx = tx;
        }
        let (raw_tx, raw_rx) = mpsc::channel(pipeline.queue_batches);
        {
            let _guard = self.rt.enter();
            loglynx_pipeline::spawn_pipeline(
                raw_rx,
                event_tx,
                pipeline.parse_threads,
                pipeline.keep_original,
                self.file_rules.clone(),
                self.stats.clone(),
                crate::patterns::chain(
                    self.patterns.as_ref().map(|p| crate::patterns::hook(p, self.pattern_signals, self.pattern_warmup)),
                    self.detection.as_ref().map(crate::detection::hook),
                ),
            );
        }
        let key = source_key(&self.topic, partition);
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir.clone(), store.clone());
        Ok((
            Shard {
                key,
                dir,
                store,
                writer,
                _lock: lock,
            },
            next,
            raw_tx,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_budgets_are_split_between_shards_and_explicit_ones_kept() {
        let store = StoreConfig::default();
        let pipeline = PipelineConfig::default();
        let mib = 1024 * 1024;
        assert_eq!(store.writer_memory.0, 256 * mib, "the example's default");

        // One shard: the whole budget, as in `run`.
        let (s, p) = shard_budget(&store, &pipeline, 1, 2);
        assert_eq!(
            (s.writer_threads, s.writer_memory.0, p.parse_threads),
            (2, 256 * mib, 2)
        );
        // Two shards on 2 cores: one indexing and one parsing thread each, half the memory.
        let (s, p) = shard_budget(&store, &pipeline, 2, 2);
        assert_eq!(
            (s.writer_threads, s.writer_memory.0, p.parse_threads),
            (1, 128 * mib, 1)
        );
        // Never less than one thread; 16 cores count as 4 indexing threads, as in `run`.
        let (s, p) = shard_budget(&store, &pipeline, 3, 2);
        assert_eq!((s.writer_threads, p.parse_threads), (1, 1));
        let (s, p) = shard_budget(&store, &pipeline, 2, 16);
        assert_eq!((s.writer_threads, p.parse_threads), (2, 8));

        // Set explicitly: per shard, as given (memory is still the process's, split).
        let mut explicit = store.clone();
        explicit.writer_threads = 3;
        let mut explicit_p = pipeline.clone();
        explicit_p.parse_threads = 5;
        let (s, p) = shard_budget(&explicit, &explicit_p, 2, 2);
        assert_eq!(
            (s.writer_threads, s.writer_memory.0, p.parse_threads),
            (3, 128 * mib, 5)
        );
        // Retention by size stays per shard.
        let mut limited = store.clone();
        limited.retention_size.0 = 100 * mib;
        assert_eq!(
            shard_budget(&limited, &pipeline, 4, 2).0.retention_size.0,
            100 * mib
        );
        // Other settings pass through.
        assert_eq!(s.commit_interval, store.commit_interval);
        assert_eq!(p.queue_batches, pipeline.queue_batches);
    }
}
