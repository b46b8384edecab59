//! Deletes this worker's redundant shard generations ([`loglynx_search::redundant`]): not
//! written, below the group's committed offset, and every offset of them answered by another
//! live leaf in the catalog. A generation must stay so for `[search] orphan_grace` (serve's
//! `/api/v1/leaves` lists it among the orphans meanwhile); then it is deleted under its
//! `shard.lock` (one a process still writes is left alone). Runs on workers with a leaf API
//! (they are in the catalog, so the others' generations are known). Another worker counts as
//! a holder only while its catalog record is at most three publish periods old: the window in
//! which a holder that just died still vouches is seconds, and a holder whose disk survives
//! brings its copy back when it restarts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_api::GenerationView;
use loglynx_config::Config;
use loglynx_search::{CatalogRecord, Directory, Generation, LeafView};
use tokio_util::sync::CancellationToken;

use crate::catalog::CatalogLeaves;
use crate::error::Result;

/// The reaper's task and its catalog reader.
pub(crate) struct Reaper {
    task: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
}

impl Reaper {
    /// Follows the catalog and checks this worker's generations every quarter of the grace
    /// period (between 1 s and 60 s).
    pub(crate) fn start(
        cfg: &Config,
        me: String,
        addr: String,
        store: loglynx_store::Store,
        view: Arc<dyn GenerationView>,
    ) -> Result<Reaper> {
        let stop = CancellationToken::new();
        // A holder vouches for another's generation only while its record is fresh: three
        // publish periods (9 s by default), not serve's `catalog_ttl` (30 s), so a worker that
        // died is not counted as holding a copy for long. The generation must also stay
        // redundant at every check during the whole grace period.
        let fresh = (cfg.search.publish_every * 3).min(cfg.serve.catalog_ttl);
        let catalog = CatalogLeaves::start(&cfg.kafka, fresh, None, stop.clone())?;
        let grace = cfg.search.orphan_grace;
        let every = (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let shards = cfg.data_dir.join("shards");
        let task = tokio::spawn(async move {
            let mut since: HashMap<String, Instant> = HashMap::new();
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let mine = CatalogRecord {
                    version: loglynx_search::CATALOG_VERSION,
                    worker: me.clone(),
                    addr: addr.clone(),
                    updated_ms: 0,
                    group: String::new(),
                    generations: view.generations(&store.snapshot()),
                    left: false,
                };
                // Others only: an older record of this worker (same address, before a
                // restart) must never vouch for its own generations.
                let mut leaves: Vec<CatalogRecord> =
                    catalog.leaves().into_iter().filter(|l| l.worker != me && l.addr != addr).collect();
                leaves.push(mine);
                let views: Vec<LeafView<'_>> = leaves.iter().map(|l| LeafView { generations: &l.generations }).collect();
                let redundant = loglynx_search::redundant(&views, views.len() - 1, &catalog.committed());
                since.retain(|id, _| redundant.iter().any(|g| &g.id == id));
                for g in redundant {
                    let first = *since.entry(g.id.clone()).or_insert_with(Instant::now);
                    if first.elapsed() < grace {
                        continue;
                    }
                    since.remove(&g.id);
                    let dir = shards.join(&g.id);
                    let _ = tokio::task::spawn_blocking(move || delete(dir, &g)).await;
                }
            }
        });
        Ok(Reaper { task, stop })
    }

    /// Stops the task and the catalog reader.
    pub(crate) fn stop(self) {
        self.task.abort();
        self.stop.cancel();
    }
}

/// Deletes one generation's directory unless a process holds its lock.
fn delete(dir: PathBuf, g: &Generation) {
    let Ok(lock) = crate::lock::DirLock::try_lock(&dir, "shard.lock", String::new) else {
        return;
    };
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => tracing::info!(
            partition = g.partition,
            dir = %dir.display(),
            from = g.from,
            to = g.to,
            "deleted a shard generation other leaves hold whole (orphan_grace passed)"
        ),
        Err(e) => tracing::error!(dir = %dir.display(), "could not delete a redundant shard generation ({e}): delete it by hand"),
    }
    drop(lock);
}
