//! The worker's leaf API (`--search-listen ADDR`, `[search] listen`): its shards, opened
//! read-only like `loglynx serve` opens a shared directory (refreshed every
//! [`crate::REFRESH`]), served to the root by `loglynx_api::leaf_router`.
//!
//! Generations: each shard directory `<topic>-<partition>-g<start>` is one generation, its
//! offsets from its start (the first layout `<topic>-<partition>`: the smallest `kafka.offset`
//! stored) to one past the largest `kafka.offset` stored (the range a snapshot can answer for
//! exactly); a live shard with nothing stored yet starts and ends at its checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use loglynx_api::GenerationView;
use loglynx_config::Config;
use loglynx_query::QueryEngine;
use loglynx_search::{Generation, OFFSET_FIELD};
use loglynx_store::WindowSnapshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{NodeError, Result};

/// The partitions this worker writes now (its live generations).
pub(crate) type Owned = Arc<dyn Fn() -> Vec<i32> + Send + Sync>;

/// A running leaf API.
pub(crate) struct LeafServer {
    /// The address bound.
    pub(crate) addr: SocketAddr,
    /// The generations of its shards.
    pub(crate) view: Arc<ShardGenerations>,
    /// The read-only view of the shards.
    pub(crate) store: loglynx_store::Store,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl LeafServer {
    /// Serves the shards of `cfg.data_dir` on `cfg.search.listen` (`None` when off).
    /// `patterns`: the worker's miner, whose dictionary the leaf answers.
    pub(crate) async fn start(
        cfg: &Config,
        worker: &str,
        owned: Owned,
        patterns: Option<Arc<dyn loglynx_api::PatternView>>,
    ) -> Result<Option<LeafServer>> {
        let Some(listen) = cfg.search.listen else {
            return Ok(None);
        };
        let shards = cfg.data_dir.join("shards");
        let store =
            loglynx_store::Store::open_read_only(&shards, &cfg.store).map_err(|source| {
                NodeError::Store {
                    dir: shards.clone(),
                    source,
                }
            })?;
        let stop = CancellationToken::new();
        tokio::spawn(crate::serve::refresh(store.clone(), stop.clone()));
        let engine = Arc::new(QueryEngine::new(store.schema().clone()));
        let view = Arc::new(ShardGenerations {
            topic: cfg.kafka.topic.clone(),
            engine: engine.clone(),
            owned,
            store: store.clone(),
            shards_dir: cfg.data_dir.join("shards"),
        });
        let state = loglynx_api::LeafState {
            store: store.clone(),
            engine,
            key: Some(cfg.search.key.clone()).filter(|k| !k.is_empty()),
            worker: worker.to_string(),
            generations: view.clone(),
            health_dir: loglynx_telemetry::health::health_dir(&cfg.data_dir),
            pits: loglynx_api::Pits::new(cfg.query.max_open_pits, cfg.query.max_pit_keep_alive),
            patterns,
        };
        let tls = match (&cfg.search.tls_cert, &cfg.search.tls_key) {
            (Some(cert), Some(key)) => {
                Some(loglynx_api::TlsConfig::from_pem_files(cert, key).map_err(NodeError::Tls)?)
            }
            _ => None,
        };
        let https = tls.is_some();
        let (listener, addr) =
            crate::sources::bind_http(listen, "in use? pass --search-listen ADDR").await?;
        let token = stop.clone();
        let server = tokio::spawn(loglynx_api::serve_router_with(
            listener,
            loglynx_api::leaf_router(state),
            tls,
            loglynx_api::ServeLimits::default(),
            token.cancelled_owned(),
        ));
        tracing::info!(%addr, https, "leaf search API ready");
        Ok(Some(LeafServer {
            addr,
            view,
            store,
            stop,
            server,
        }))
    }

    /// Stops serving (requests in flight are answered).
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        match self.server.await {
            Ok(Err(e)) => tracing::warn!("leaf search API: {e}"),
            Err(e) => tracing::warn!("leaf search API task failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
}

/// The generations of a worker's shards: one per shard directory of its topic.
pub(crate) struct ShardGenerations {
    topic: String,
    engine: Arc<QueryEngine>,
    owned: Owned,
    /// For the checkpoint of a live shard with no events yet (where it starts).
    store: loglynx_store::Store,
    /// `<data>/shards`: which generation of a partition is the newest on disk.
    shards_dir: std::path::PathBuf,
}

impl GenerationView for ShardGenerations {
    fn generations(&self, windows: &[WindowSnapshot]) -> Vec<Generation> {
        // Window ids of a read-only store are `<shard>/<window>`.
        let mut by_shard: BTreeMap<&str, Vec<WindowSnapshot>> = BTreeMap::new();
        for w in windows {
            if let Some((shard, _)) = w.id.split_once('/') {
                by_shard.entry(shard).or_default().push(w.clone());
            }
        }
        let owned = (self.owned)();
        let checkpoint = self.store.checkpoint();
        // `<topic>-<p>` (the first layout, start 0) or a generation `<topic>-<p>-g<start>`
        // (its start kept: where it began consuming).
        let shards: Vec<(i32, u64, Option<u64>, &str, Vec<WindowSnapshot>)> = by_shard
            .into_iter()
            .filter_map(|(shard, ws)| {
                let (partition, start) = super::generations::parse_dir_name(&self.topic, shard)?;
                Some((partition, start.unwrap_or(0), start, shard, ws))
            })
            .collect();
        // Only a live partition's newest generation is still written. The newest on disk: a
        // generation just started at the hand-over offset has no window yet, and the older one
        // it follows must not be taken for live (its open piece would hide the offsets between
        // its end and the new start, held by another worker).
        let mut newest: HashMap<i32, u64> = HashMap::new();
        match super::generations::all_local(&self.shards_dir, &self.topic) {
            Ok(all) => {
                for (partition, start, _) in all {
                    let n = newest.entry(partition).or_insert(start.unwrap_or(0));
                    *n = (*n).max(start.unwrap_or(0));
                }
            }
            Err(e) => tracing::warn!("shard generations not listed: {e}"),
        }
        for (partition, start, _, _, _) in &shards {
            let n = newest.entry(*partition).or_insert(*start);
            *n = (*n).max(*start);
        }
        // Where a shard stopped consuming its partition: its own checkpoint.
        let consumed = |shard: &str| {
            let (p, _) = super::generations::parse_dir_name(&self.topic, shard)?;
            self.store
                .shard_position(shard, &loglynx_bus::kafka::source_key(&self.topic, p))
        };
        let mut out = Vec::new();
        for (partition, start, began, shard, ws) in shards {
            let extent = match self.engine.u64_extent(&ws, OFFSET_FIELD) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(shard, "offsets of the shard not read: {e}");
                    continue;
                }
            };
            let live = owned.contains(&partition) && newest.get(&partition) == Some(&start);
            let (from, to) = match extent {
                // A generation answers from where it began consuming: offsets between its start
                // and its first stored one were records skipped as sent twice by an agent
                // (stored before, at other offsets) or given up as missing. From its first
                // stored offset instead, they were held by no leaf: the root named them
                // missing for good after a hand-over that began with an agent's copies.
                // It answers up to where it stopped consuming, too: a generation no longer
                // written ends at its own checkpoint (the offsets after its last stored one
                // were copies skipped, or gaps given up, before the partition moved on); a
                // live one's piece is open.
                Some((lo, hi)) => {
                    let to = if live {
                        hi + 1
                    } else {
                        (hi + 1).max(consumed(shard).unwrap_or(0))
                    };
                    (began.map_or(lo, |b| b.min(lo)), to)
                }
                // Nothing stored yet: it answers from where it resumes (its checkpoint).
                None if live => {
                    let at = checkpoint
                        .get(&loglynx_bus::kafka::source_key(&self.topic, partition))
                        .unwrap_or(0);
                    (at, at)
                }
                // Nothing stored, no longer written: what it consumed was all copies.
                None => match (began, consumed(shard)) {
                    (Some(b), Some(c)) if c > b => (b, c),
                    _ => continue,
                },
            };
            out.push(Generation {
                partition,
                id: shard.to_string(),
                from,
                to,
                min_timestamp: ws.iter().filter_map(|w| w.min_timestamp).min(),
                max_timestamp: ws.iter().filter_map(|w| w.max_timestamp).max(),
                docs: ws.iter().map(|w| w.searcher.num_docs()).sum(),
                live,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;

    /// Stores events of partition 1 at `offsets` in the generation directory `dir`, one commit,
    /// as a worker would (its checkpoint one past the last).
    fn store_offsets(dir: &std::path::Path, cfg: &loglynx_config::StoreConfig, offsets: &[u64]) {
        store_offsets_upto(dir, cfg, offsets, offsets.iter().max().map_or(0, |o| o + 1));
    }

    /// [`store_offsets`] with the checkpoint at `next`.
    fn store_offsets_upto(
        dir: &std::path::Path,
        cfg: &loglynx_config::StoreConfig,
        offsets: &[u64],
        next: u64,
    ) {
        let store = loglynx_store::Store::open(dir, cfg).unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let writer = store.start_writer(rx).unwrap();
        let now = Timestamp::now();
        let events = offsets
            .iter()
            .map(|o| {
                let mut e = loglynx_core::Event::new("x", now, now, format!("id{o}"));
                e.kafka_partition = Some(1);
                e.kafka_offset = Some(*o);
                e
            })
            .collect();
        tx.blocking_send(loglynx_core::EventBatch {
            events,
            checkpoint: vec![("kafka:logs:1".into(), next)],
            ack: None,
        })
        .unwrap();
        drop(tx);
        writer.join().unwrap();
    }

    /// Issue 13: a generation answers from where it began consuming to where it stopped
    /// (its own checkpoint once no longer written), not from its first to its last stored
    /// offset: records at its head or tail skipped as an agent's copies (stored before,
    /// elsewhere) were otherwise held by no leaf, and the root named them missing for good.
    #[test]
    fn a_generation_answers_from_where_it_began_to_where_it_stopped_consuming() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = loglynx_config::StoreConfig::default();
        let shards = tmp.path().join("shards");
        // Began at 40; 40..50 were copies, skipped.
        store_offsets(&shards.join("logs-1-g40"), &cfg, &[50, 51, 52]);
        // The first layout, without a start: from its first stored offset.
        store_offsets(&shards.join("logs-1"), &cfg, &[7, 8]);
        // Began at 60, stored 60 and 61, then consumed copies up to 70 (its checkpoint) before
        // the partition moved on: it answers up to 70.
        store_offsets_upto(&shards.join("logs-1-g60"), &cfg, &[60, 61], 70);
        let store = loglynx_store::Store::open_read_only(&shards, &cfg).unwrap();
        let view = ShardGenerations {
            topic: "logs".into(),
            engine: Arc::new(QueryEngine::new(store.schema().clone())),
            owned: Arc::new(Vec::new),
            store: store.clone(),
            shards_dir: shards.clone(),
        };
        let got: Vec<(String, u64, u64, u64, bool)> = view
            .generations(&store.snapshot())
            .into_iter()
            .map(|g| (g.id, g.from, g.to, g.docs, g.live))
            .collect();
        assert_eq!(
            got,
            vec![
                ("logs-1".into(), 7, 9, 2, false),
                ("logs-1-g40".into(), 40, 53, 3, false),
                ("logs-1-g60".into(), 60, 70, 2, false)
            ]
        );
    }
}
