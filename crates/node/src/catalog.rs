//! The catalog of leaves: a compacted topic `<topic>-catalog` (key = worker id) where each
//! worker with a leaf API publishes its address and generations
//! ([`loglynx_search::CatalogRecord`]) every `[search] publish_every`, and a last record marked
//! `left` when it exits cleanly ([`Publisher`]; not a tombstone, which compaction would drop:
//! a `serve` started later still knows what only its disk holds); `loglynx serve` reads it whole and follows it
//! ([`CatalogLeaves`]). A record not refreshed for `[serve] catalog_ttl` by the clock of
//! `serve` (the time it was read, so a worker's clock being off does not matter) is no longer
//! searched unless its leaf still answers (below): its worker is gone. A record of another version is skipped with a warning.
//!
//! Gone workers are not forgotten: the last record of a worker whose record expired or that
//! left (its `left` record, or a tombstone of an older worker) is kept ([`Directory::gone`]), and the workers' consumer group's
//! committed offsets are read every [`COMMITTED_EVERY`] ([`Directory::committed`]), so the
//! root names as missing what only a gone worker's disk holds, or what the group committed
//! and no live leaf holds, instead of answering less without a word
//! (`loglynx_search::expected`). Until an operator accepts the loss (`loglynx leaves forget`):
//! a [`LostRecord`] under `lost:<addr>` in the same topic, read by every root
//! ([`Directory::lost`]); a worker record from that address read after it clears it.
//!
//! A record of the backlog a starting `serve` reads is dated by its own publish time (when in
//! the past), so a worker that crashed before the restart is gone at once, not after the ttl.
//!
//! A worker cut from the brokers but still reachable (a zombie) cannot refresh its record, yet
//! its disk still answers: `serve` asks the leaf of every record not refreshed for half the
//! ttl every [`PROBE_EVERY`] (`GET /internal/v1/generations`, [`CatalogLeaves::probe_quiet`];
//! before it expires, so a zombie's answers never flip to missing in between); while the same
//! worker answers (its id, so not a new process at that address) it stays searched with the
//! generations it answers now, and only once it has not answered for `catalog_ttl` either is
//! it gone. The cover counts its copy once beside the partition's new owner's. Each address is
//! asked on its own: one that hangs until `[serve] leaf_timeout` is not asked again meanwhile
//! and holds back no other (a zombie's answers keep coming every [`PROBE_EVERY`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglynx_api::GenerationView;
use loglynx_bus::kafka::{ensure_side_topic, GroupOffsets, SideProducer, TopicReader};
use loglynx_config::{Config, KafkaConfig};
use loglynx_search::{CatalogRecord, Directory, LostRecord, CATALOG_VERSION, LOST_PREFIX};

use crate::error::{NodeError, Result};

/// How long a catalog send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `serve` reads the workers' group's committed offsets.
pub(crate) const COMMITTED_EVERY: Duration = Duration::from_secs(5);
/// How long one read of the committed offsets may take.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(3);
/// Most gone workers' records kept (the oldest are forgotten first, with a warning): a worker
/// id is `<host>-<pid>`, so every restart leaves one behind until its address is live again.
const MAX_GONE: usize = 1000;
/// How often `serve` asks the leaves of quiet records (not refreshed for half the ttl) whether
/// they still answer.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(2);
/// At most this many addresses of quiet records are being asked at once (the most recently
/// seen first), so a thousand gone workers do not cost a thousand requests every round.
const MAX_PROBED: usize = 32;

/// The catalog topic of `topic`.
pub fn catalog_topic(topic: &str) -> String {
    format!("{topic}-catalog")
}

/// A worker's catalog publisher (a thread).
pub(crate) struct Publisher {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Publisher {
    /// Creates the topic unless it exists and publishes `worker`'s record now and every
    /// `[search] publish_every`.
    pub(crate) async fn start(
        cfg: &Config,
        worker: String,
        addr: String,
        store: loglynx_store::Store,
        view: Arc<dyn GenerationView>,
    ) -> Result<Publisher> {
        let topic = catalog_topic(&cfg.kafka.topic);
        ensure_side_topic(&cfg.kafka, &topic, true).await?;
        let producer = SideProducer::new(&cfg.kafka)?;
        let stop = Arc::new(AtomicBool::new(false));
        let every = cfg.search.publish_every;
        let group = cfg.kafka.group.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("catalog".into())
            .spawn(move || {
                let mut warned = false;
                let record = |left: bool| CatalogRecord {
                    version: CATALOG_VERSION,
                    worker: worker.clone(),
                    addr: addr.clone(),
                    updated_ms: loglynx_telemetry::health::now_ms(),
                    group: group.clone(),
                    generations: view.generations(&store.snapshot()),
                    left,
                };
                while !flag.load(Ordering::Relaxed) {
                    let rec = record(false);
                    match producer.send(&topic, &[(worker.clone(), rec.encode())], SEND_TIMEOUT) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            tracing::warn!("catalog record not published to {topic}: {e}; retrying");
                            warned = true;
                        }
                        Err(_) => {}
                    }
                    let until = Instant::now() + every;
                    while Instant::now() < until && !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                // A clean exit: the last record, marked `left`, takes this worker out of the
                // search at once and stays in the compacted topic (a tombstone would be
                // compacted away), so every serve, started now or later, names what only this
                // disk holds as missing until the worker is back or its loss is accepted.
                if let Err(e) = producer.send(&topic, &[(worker.clone(), record(true).encode())], SEND_TIMEOUT) {
                    tracing::warn!("last catalog record not published: {e}; serve counts this worker gone after serve.catalog_ttl");
                }
            })
            .map_err(|source| NodeError::Thread { what: "catalog publisher", source })?;
        Ok(Publisher { stop, thread })
    }

    /// Publishes the last record (`left`) and stops.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// The leaves `serve` learns from the catalog topic (and `[serve] leaves` besides).
pub(crate) struct CatalogLeaves {
    known: Mutex<HashMap<String, (CatalogRecord, Instant)>>,
    /// Workers that left (a `left` record or a tombstone): their last record, and when they
    /// left.
    left: Mutex<HashMap<String, (CatalogRecord, Instant)>>,
    /// Accepted losses, by key (`lost:<addr>`).
    lost: Mutex<HashMap<String, LostRecord>>,
    /// Where accepted losses are written (`None`: this reader does not write them).
    kafka: Option<KafkaConfig>,
    /// The committed offsets of the live workers' groups (the largest per partition).
    committed: Mutex<BTreeMap<i32, u64>>,
    ttl: Duration,
    fixed: Option<Arc<loglynx_search::StaticLeaves>>,
    /// Whether the topic has been read to the end it had when `serve` started.
    caught_up: AtomicBool,
    /// Quiet records (by key) whose leaf, the same worker, answered when last asked, and when
    /// ([`CatalogLeaves::probe_quiet`]): still searched for `ttl` after that.
    answering: Mutex<HashMap<String, Instant>>,
}

impl CatalogLeaves {
    /// Follows the catalog of `kafka.topic` on a thread until `stop`.
    pub(crate) fn start(
        kafka: &KafkaConfig,
        ttl: Duration,
        fixed: Option<Arc<loglynx_search::StaticLeaves>>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<Arc<CatalogLeaves>> {
        let mut me = CatalogLeaves::new(ttl, fixed);
        me.kafka = Some(kafka.clone());
        let me = Arc::new(me);
        let topic = catalog_topic(&kafka.topic);
        let reader = TopicReader::new(kafka, &topic)?;
        let weak = Arc::downgrade(&me);
        let kafka = kafka.clone();
        std::thread::Builder::new()
            .name("catalog-reader".into())
            .spawn(move || follow(reader, &kafka, &topic, weak, stop))
            .map_err(|source| NodeError::Thread {
                what: "catalog reader",
                source,
            })?;
        Ok(me)
    }

    fn new(ttl: Duration, fixed: Option<Arc<loglynx_search::StaticLeaves>>) -> CatalogLeaves {
        CatalogLeaves {
            known: Mutex::new(HashMap::new()),
            left: Mutex::new(HashMap::new()),
            lost: Mutex::new(HashMap::new()),
            kafka: None,
            committed: Mutex::new(BTreeMap::new()),
            ttl,
            fixed,
            caught_up: AtomicBool::new(false),
            answering: Mutex::new(HashMap::new()),
        }
    }

    /// Asks the leaf of every quiet record (a worker that published nothing for half the ttl)
    /// every [`PROBE_EVERY`] until `stop`: one that answers as the same worker is still
    /// searched after its record expires, with the generations it answers (a zombie cut from
    /// the brokers but reachable keeps its disk in the answers instead of having it named
    /// missing). Asked before the record expires, so its answers do not flip to missing until
    /// the first answer. `serve` only: the orphan reaper of a worker wants proof of life
    /// through the topic.
    pub(crate) fn probe_quiet(
        self: &Arc<Self>,
        settings: loglynx_search::RootSettings,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<()> {
        let client = loglynx_search::leaf_client(&settings).map_err(NodeError::Search)?;
        let weak = Arc::downgrade(self);
        // The addresses asked and not answered yet: a leaf that hangs until `leaf_timeout`
        // is not asked again meanwhile, and holds back no other address (each call is a
        // task of its own, not part of a round that waits for its slowest call).
        let pending: Arc<Mutex<BTreeSet<String>>> = Arc::new(Mutex::new(BTreeSet::new()));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(PROBE_EVERY) => {}
                }
                let Some(me) = weak.upgrade() else { return };
                let asked = {
                    let mut busy = pending.lock().unwrap_or_else(|e| e.into_inner());
                    let asked = me.quiet(&busy);
                    busy.extend(asked.iter().map(|(_, _, addr)| addr.clone()));
                    asked
                };
                drop(me);
                for (key, worker, addr) in asked {
                    let (client, settings, weak, pending) = (
                        client.clone(),
                        settings.clone(),
                        weak.clone(),
                        pending.clone(),
                    );
                    tokio::spawn(async move {
                        let answer = loglynx_search::leaf_status(&client, &addr, &settings).await;
                        if let Some(me) = weak.upgrade() {
                            me.answered(&key, &worker, &addr, answer);
                        }
                        pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&addr);
                    });
                }
            }
        });
        Ok(())
    }

    /// The quiet records to ask (key, worker, address): not refreshed for half the ttl, one
    /// per address, none at the address of a record refreshed since nor at one still being
    /// asked (`pending`), the most recently seen first, at most [`MAX_PROBED`] with `pending`.
    fn quiet(&self, pending: &BTreeSet<String>) -> Vec<(String, String, String)> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let half = self.ttl / 2;
        let fresh: BTreeSet<&str> = known
            .values()
            .filter(|(_, seen)| seen.elapsed() < half)
            .map(|(r, _)| r.addr.as_str())
            .collect();
        let mut quiet: Vec<(&String, &CatalogRecord, Instant)> = known
            .iter()
            .filter(|(_, (r, seen))| seen.elapsed() >= half && !fresh.contains(r.addr.as_str()))
            .map(|(k, (r, seen))| (k, r, *seen))
            .collect();
        quiet.sort_by_key(|q| std::cmp::Reverse(q.2));
        let mut addrs = BTreeSet::new();
        quiet
            .into_iter()
            .filter(|(_, r, _)| addrs.insert(r.addr.clone()) && !pending.contains(&r.addr))
            .take(MAX_PROBED.saturating_sub(pending.len()))
            .map(|(k, r, _)| (k.clone(), r.worker.clone(), r.addr.clone()))
            .collect()
    }

    /// Takes the answer of the leaf of the quiet record `key`: the same worker answering keeps
    /// it searched, with the generations it holds now (also what is named missing if it stops
    /// answering later).
    fn answered(
        &self,
        key: &str,
        worker: &str,
        addr: &str,
        answer: std::result::Result<loglynx_search::LeafStatus, String>,
    ) {
        let status = match answer {
            Ok(s) if s.worker == worker => s,
            Ok(s) => {
                tracing::debug!(leaf = %addr, "another worker ({}) answers at the address of quiet worker {worker}", s.worker);
                return;
            }
            Err(e) => {
                tracing::debug!(leaf = %addr, "quiet worker {worker} does not answer: {e}");
                return;
            }
        };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let Some((rec, seen)) = known.get_mut(key) else {
            return;
        };
        if rec.worker != worker {
            return;
        }
        rec.generations = status.generations;
        let quiet_for = seen.elapsed();
        let mut answering = self.answering.lock().unwrap_or_else(|e| e.into_inner());
        let was = answering.get(key).is_some_and(|t| t.elapsed() < self.ttl);
        answering.insert(key.to_string(), Instant::now());
        if !was {
            tracing::info!(leaf = %addr, worker = %worker, "worker {worker} published no catalog record for {quiet_for:?} but its leaf answers: searched while it does (cut from the brokers?)");
        }
    }

    /// Whether the record `key`, seen at `seen`, is searched: refreshed within the ttl, or
    /// its leaf answered within the ttl.
    fn searched(&self, key: &str, seen: Instant, answering: &HashMap<String, Instant>) -> bool {
        seen.elapsed() < self.ttl || answering.get(key).is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// Waits until the topic has been read to the end it had at the start (so the first
    /// searches see every live worker, not only the ones read so far), at most `max`; false
    /// when it was not (no catalog topic yet: no worker has started).
    pub(crate) async fn wait_caught_up(&self, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        while !self.caught_up.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Takes one record of the topic: a tombstone or a `left` record makes its worker gone,
    /// a `lost:` record is an accepted loss, a record of another version is skipped.
    fn take(&self, key: &str, value: &[u8]) {
        if key.starts_with(LOST_PREFIX) {
            let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
            if value.is_empty() {
                lost.remove(key);
                return;
            }
            match LostRecord::decode(key, value) {
                Ok(rec) => {
                    lost.insert(key.to_string(), rec);
                }
                Err(e) => tracing::warn!("{e}; skipped"),
            }
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        if value.is_empty() {
            // Its disk is out of the search until it is back: kept as gone.
            if let Some((rec, _)) = known.remove(key) {
                left.insert(key.to_string(), (rec, Instant::now()));
            }
            return;
        }
        match CatalogRecord::decode(key, value) {
            Ok(rec) if rec.left => {
                known.remove(key);
                let seen = self.seen(&rec);
                left.insert(key.to_string(), (rec, seen));
            }
            Ok(rec) => {
                left.remove(key);
                // A worker runs at an address whose loss was accepted: the loss no longer
                // holds (the records it named are forgotten, the address is searched again).
                // By the topic's order, so every root agrees.
                let lost_key = format!("{LOST_PREFIX}{}", rec.addr);
                if let Some(l) = self
                    .lost
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&lost_key)
                {
                    known.retain(|_, (r, _)| !l.workers.contains(&r.worker));
                    left.retain(|_, (r, _)| !l.workers.contains(&r.worker));
                    tracing::info!(addr = %rec.addr, worker = %rec.worker, "a worker runs again at an address whose loss was accepted: no longer lost");
                }
                let seen = self.seen(&rec);
                known.insert(key.to_string(), (rec, seen));
            }
            Err(e) => tracing::warn!("{e}; skipped"),
        }
        let expired = known
            .values()
            .filter(|(_, seen)| seen.elapsed() >= self.ttl)
            .count();
        if expired + left.len() > MAX_GONE {
            forget_oldest(&mut known, &mut left, self.ttl);
        }
    }

    /// When `rec` counts as seen. A record read live is dated by serve's clock when read (a
    /// worker's clock being off does not matter). A record of the topic's backlog (read before
    /// catching up, after serve started) is dated by its own publish time when that is in the
    /// past by serve's clock: a worker that crashed before serve started is gone at once, not
    /// only after `catalog_ttl`. A live worker whose clock lags by more than the ttl looks
    /// gone until its next record (one `publish_every`), read live.
    fn seen(&self, rec: &CatalogRecord) -> Instant {
        let now = Instant::now();
        if rec.updated_ms == 0 || self.caught_up.load(Ordering::Acquire) {
            return now;
        }
        let age = Duration::from_millis(
            loglynx_telemetry::health::now_ms().saturating_sub(rec.updated_ms),
        );
        now.checked_sub(age.min(self.ttl)).unwrap_or(now)
    }

    /// The consumer groups of the live workers.
    fn groups(&self) -> BTreeSet<String> {
        self.leaves()
            .into_iter()
            .map(|r| r.group)
            .filter(|g| !g.is_empty())
            .collect()
    }
}

/// Forgets the gone record seen longest ago (a warning says so).
fn forget_oldest(
    known: &mut HashMap<String, (CatalogRecord, Instant)>,
    left: &mut HashMap<String, (CatalogRecord, Instant)>,
    ttl: Duration,
) {
    let oldest_known = known
        .iter()
        .filter(|(_, (_, seen))| seen.elapsed() >= ttl)
        .min_by_key(|(_, (_, seen))| *seen)
        .map(|(k, (_, s))| (k.clone(), *s));
    let oldest_left = left
        .iter()
        .min_by_key(|(_, (_, seen))| *seen)
        .map(|(k, (_, s))| (k.clone(), *s));
    let from_left = match (&oldest_known, &oldest_left) {
        (Some((_, a)), Some((_, b))) => b < a,
        (None, Some(_)) => true,
        _ => false,
    };
    let forgotten = if from_left {
        oldest_left.and_then(|(k, _)| left.remove(&k))
    } else {
        oldest_known.and_then(|(k, _)| known.remove(&k))
    };
    if let Some((rec, _)) = forgotten {
        tracing::warn!(
            worker = %rec.worker,
            "more than {MAX_GONE} gone workers known: forgetting the oldest, {} ({}); offsets only its disk holds are no longer named missing",
            rec.worker,
            rec.addr
        );
    }
}

fn follow(
    mut reader: TopicReader,
    kafka: &KafkaConfig,
    topic: &str,
    me: std::sync::Weak<CatalogLeaves>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut warned = false;
    let mut offsets = Committed::new(kafka);
    while !stop.is_cancelled() {
        match reader.poll(1000, Duration::from_millis(500)) {
            Ok(records) => {
                warned = false;
                let Some(me) = me.upgrade() else { return };
                for r in records {
                    me.take(&r.key, &r.payload);
                }
                if reader.caught_up() {
                    // The committed offsets first, so the first searches know what must exist.
                    offsets.refresh(&me);
                    me.caught_up.store(true, Ordering::Release);
                }
            }
            Err(e) => {
                if !warned {
                    tracing::warn!("catalog {topic} not read: {e}; retrying");
                    warned = true;
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
}

/// Reads the committed offsets of the live workers' groups every [`COMMITTED_EVERY`].
struct Committed {
    kafka: KafkaConfig,
    readers: HashMap<String, GroupOffsets>,
    last: Option<Instant>,
    warned: bool,
}

impl Committed {
    fn new(kafka: &KafkaConfig) -> Committed {
        Committed {
            kafka: kafka.clone(),
            readers: HashMap::new(),
            last: None,
            warned: false,
        }
    }

    /// Reads them again when [`COMMITTED_EVERY`] has passed. Offsets only grow: a failed read
    /// keeps the last ones (still a true lower bound of what was stored).
    fn refresh(&mut self, me: &CatalogLeaves) {
        if self.last.is_some_and(|t| t.elapsed() < COMMITTED_EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        let mut merged: BTreeMap<i32, u64> = BTreeMap::new();
        for group in me.groups() {
            if !self.readers.contains_key(&group) {
                match GroupOffsets::new(&self.kafka, &group, &self.kafka.topic) {
                    Ok(r) => {
                        self.readers.insert(group.clone(), r);
                    }
                    Err(e) => {
                        tracing::warn!("cannot read the committed offsets of group {group}: {e}");
                        continue;
                    }
                }
            }
            match self.readers[&group].read(COMMITTED_TIMEOUT) {
                Ok(offsets) => {
                    self.warned = false;
                    for (p, o) in offsets {
                        let o = u64::try_from(o).unwrap_or(0);
                        let e = merged.entry(p).or_insert(0);
                        *e = (*e).max(o);
                    }
                }
                Err(e) => {
                    if !self.warned {
                        tracing::warn!("the committed offsets of group {group} not read: {e}; keeping the last ones, retrying");
                        self.warned = true;
                    }
                    return;
                }
            }
        }
        let mut known = me.committed.lock().unwrap_or_else(|e| e.into_inner());
        for (p, o) in merged {
            let e = known.entry(p).or_insert(0);
            *e = (*e).max(o);
        }
    }
}

impl Directory for CatalogLeaves {
    fn leaves(&self) -> Vec<CatalogRecord> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let answering = self.answering.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<CatalogRecord> = known
            .iter()
            .filter(|(k, (_, seen))| self.searched(k, *seen, &answering))
            .map(|(_, (r, _))| r.clone())
            .collect();
        drop(answering);
        drop(known);
        if let Some(fixed) = &self.fixed {
            for r in fixed.leaves() {
                if !out.iter().any(|o| o.addr == r.addr) {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.worker.cmp(&b.worker));
        out
    }

    fn gone(&self) -> Vec<CatalogRecord> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        let answering = self.answering.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<CatalogRecord> = known
            .iter()
            .filter(|(k, (_, seen))| !self.searched(k, *seen, &answering))
            .map(|(_, v)| v)
            .chain(left.values())
            .map(|(r, _)| r.clone())
            .collect();
        out.sort_by(|a, b| a.worker.cmp(&b.worker));
        out
    }

    fn committed(&self) -> BTreeMap<i32, u64> {
        self.committed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lost(&self) -> Vec<LostRecord> {
        let mut out: Vec<LostRecord> = self
            .lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        out.sort_by(|a, b| a.addr.cmp(&b.addr));
        out
    }

    fn record_lost(&self, rec: LostRecord) -> std::result::Result<(), String> {
        let Some(kafka) = &self.kafka else {
            return Err(
                "this catalog reader does not write: accept the loss through serve --catalog"
                    .into(),
            );
        };
        let (key, value) = (rec.key(), rec.encode());
        let producer = SideProducer::new(kafka).map_err(|e| e.to_string())?;
        producer
            .send(
                &catalog_topic(&kafka.topic),
                &[(key.clone(), value.clone())],
                SEND_TIMEOUT,
            )
            .map_err(|e| {
                format!("the accepted loss was not written to the catalog topic: {e}; try again")
            })?;
        self.take(&key, &value);
        tracing::warn!(addr = %rec.addr, workers = ?rec.workers, ranges = rec.ranges.len(), "loss accepted: these offsets are no longer named missing");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_search::{Generation, LeafStatus};

    #[test]
    fn records_come_and_go_and_other_versions_are_skipped() {
        let c = CatalogLeaves::new(Duration::from_secs(60), None);
        let rec = CatalogRecord {
            version: CATALOG_VERSION,
            worker: "w1".into(),
            addr: "a:1".into(),
            updated_ms: 0,
            group: "g".into(),
            generations: Vec::new(),
            left: false,
        };
        c.take("w1", &rec.encode());
        c.take("w9", br#"{"version": 9, "worker": "w9"}"#);
        assert_eq!(c.leaves(), vec![rec.clone()]);
        assert!(c.gone().is_empty());
        assert_eq!(c.groups(), ["g".to_string()].into_iter().collect());
        c.take("w1", b"");
        assert!(c.leaves().is_empty());
        assert_eq!(
            c.gone(),
            vec![rec.clone()],
            "a worker that left is gone, not forgotten"
        );
        c.take("w1", &rec.encode());
        assert_eq!(
            (c.leaves(), c.gone()),
            (vec![rec.clone()], vec![]),
            "back again"
        );
        let stale = CatalogLeaves::new(Duration::ZERO, None);
        stale.take("w1", &rec.encode());
        assert!(
            stale.leaves().is_empty(),
            "a record older than the ttl is ignored"
        );
        assert_eq!(stale.gone(), vec![rec.clone()], "and kept as gone");
        // A clean exit's last record: gone at once, and still gone for a reader that starts later.
        let last = CatalogRecord {
            left: true,
            ..rec.clone()
        };
        c.take("w1", &last.encode());
        assert!(c.leaves().is_empty());
        assert_eq!(c.gone(), vec![last.clone()]);
        let later = CatalogLeaves::new(Duration::from_secs(60), None);
        later.take("w1", &rec.encode());
        later.take("w1", &last.encode());
        assert_eq!((later.leaves(), later.gone()), (vec![], vec![last]));
        // An accepted loss; its tombstone takes it back.
        let lost = LostRecord {
            version: CATALOG_VERSION,
            addr: "a:1".into(),
            workers: vec!["w1".into()],
            ranges: vec![],
            at_ms: 1,
        };
        later.take(&lost.key(), &lost.encode());
        assert_eq!(later.lost(), vec![lost.clone()]);
        assert!(
            later.record_lost(lost.clone()).is_err(),
            "a reader without kafka settings does not write"
        );
        later.take(&lost.key(), b"");
        assert!(later.lost().is_empty());
    }

    /// Issue 13: a worker cut from the brokers but reachable (its record expired) stays
    /// searched while its leaf answers as the same worker, with the generations it answers.
    #[test]
    fn an_expired_record_whose_leaf_answers_as_itself_is_still_searched() {
        let gen = |to: u64| Generation {
            partition: 0,
            id: "g0".into(),
            from: 0,
            to,
            min_timestamp: None,
            max_timestamp: None,
            docs: to,
            live: true,
        };
        let c = CatalogLeaves::new(Duration::from_secs(60), None);
        // Read from the backlog and published long ago: expired at once.
        let rec = CatalogRecord {
            version: CATALOG_VERSION,
            worker: "w1".into(),
            addr: "a:1".into(),
            updated_ms: 1,
            group: "g".into(),
            generations: vec![gen(10)],
            left: false,
        };
        c.take("w1", &rec.encode());
        assert_eq!((c.leaves(), c.gone()), (vec![], vec![rec.clone()]));
        assert_eq!(
            c.quiet(&BTreeSet::new()),
            vec![("w1".to_string(), "w1".to_string(), "a:1".to_string())]
        );
        c.answered("w1", "w1", "a:1", Err("connection refused".into()));
        assert!(
            c.leaves().is_empty(),
            "a leaf that does not answer stays gone"
        );
        c.answered(
            "w1",
            "w1",
            "a:1",
            Ok(LeafStatus {
                worker: "w2".into(),
                generations: vec![gen(30)],
            }),
        );
        assert!(
            c.leaves().is_empty(),
            "another process at the address is not the gone worker"
        );
        c.answered(
            "w1",
            "w1",
            "a:1",
            Ok(LeafStatus {
                worker: "w1".into(),
                generations: vec![gen(20)],
            }),
        );
        let answering = CatalogRecord {
            generations: vec![gen(20)],
            ..rec.clone()
        };
        assert_eq!((c.leaves(), c.gone()), (vec![answering.clone()], vec![]));
        // Another worker's live record at a different address: only the expired one is asked;
        // a live record at the expired one's address (a new process there): none is.
        let other = CatalogRecord {
            worker: "w3".into(),
            addr: "b:1".into(),
            updated_ms: 0,
            ..rec.clone()
        };
        c.take("w3", &other.encode());
        assert_eq!(c.quiet(&BTreeSet::new()).len(), 1);
        let back = CatalogRecord {
            worker: "w4".into(),
            updated_ms: 0,
            ..rec.clone()
        };
        c.take("w4", &back.encode());
        assert!(c.quiet(&BTreeSet::new()).is_empty());
    }

    /// Issue 13: after a serve restart, a crashed worker's old record is gone at once.
    #[test]
    fn a_backlog_record_older_than_the_ttl_is_gone_at_once_after_a_restart() {
        let now = loglynx_telemetry::health::now_ms();
        let rec = |worker: &str, updated_ms: u64| CatalogRecord {
            version: CATALOG_VERSION,
            worker: worker.into(),
            addr: format!("{worker}:1"),
            updated_ms,
            group: "g".into(),
            generations: Vec::new(),
            left: false,
        };
        let c = CatalogLeaves::new(Duration::from_secs(30), None);
        // The backlog a restarted serve reads: a worker that crashed 2 minutes ago, one that
        // published a second ago, one whose clock is ahead.
        let (crashed, alive, ahead) = (
            rec("crashed", now - 120_000),
            rec("alive", now - 1_000),
            rec("ahead", now + 600_000),
        );
        for r in [&crashed, &alive, &ahead] {
            c.take(&r.worker, &r.encode());
        }
        let workers = |v: Vec<CatalogRecord>| v.into_iter().map(|r| r.worker).collect::<Vec<_>>();
        assert_eq!(workers(c.leaves()), vec!["ahead", "alive"]);
        assert_eq!(workers(c.gone()), vec!["crashed"]);
        // Read live, a record is dated by serve's clock: a worker whose clock lags is live.
        c.caught_up.store(true, Ordering::Release);
        let lagging = rec("lagging", now - 600_000);
        c.take("lagging", &lagging.encode());
        assert_eq!(workers(c.leaves()), vec!["ahead", "alive", "lagging"]);
        // The crashed worker back (a new record): live again.
        c.take("crashed", &rec("crashed", now).encode());
        assert!(c.gone().is_empty());
    }

    /// Issue 13: a record from an address whose loss was accepted clears the loss.
    #[test]
    fn a_worker_running_again_at_a_lost_address_clears_the_loss() {
        let old = CatalogRecord {
            version: CATALOG_VERSION,
            worker: "w1".into(),
            addr: "a:1".into(),
            updated_ms: 0,
            group: "g".into(),
            generations: Vec::new(),
            left: true,
        };
        let c = CatalogLeaves::new(Duration::from_secs(60), None);
        c.take("w1", &old.encode());
        let lost = LostRecord {
            version: CATALOG_VERSION,
            addr: "a:1".into(),
            workers: vec!["w1".into()],
            ranges: vec![],
            at_ms: 1,
        };
        c.take(&lost.key(), &lost.encode());
        assert_eq!(c.lost(), vec![lost.clone()]);
        // Another address publishing changes nothing.
        let other = CatalogRecord {
            worker: "w2".into(),
            addr: "b:1".into(),
            left: false,
            ..old.clone()
        };
        c.take("w2", &other.encode());
        assert_eq!(c.lost(), vec![lost.clone()]);
        // A new worker at the lost address: the loss is cleared, the record it named forgotten.
        let again = CatalogRecord {
            worker: "w3".into(),
            left: false,
            ..old.clone()
        };
        c.take("w3", &again.encode());
        assert!(c.lost().is_empty());
        assert!(c.gone().is_empty(), "{:?}", c.gone());
        assert_eq!(c.leaves().len(), 2);
        // When it goes, only its own record is gone.
        c.take("w3", b"");
        assert_eq!(c.gone(), vec![again]);
    }

    /// A leaf at `listener` answering every request, once per connection, with `body`.
    async fn answer_with(listener: tokio::net::TcpListener, body: String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    }

    fn quiet_record(worker: &str, addr: &str) -> CatalogRecord {
        // Read from the backlog and published long ago: quiet (and expired) at once.
        CatalogRecord {
            version: CATALOG_VERSION,
            worker: worker.into(),
            addr: addr.into(),
            updated_ms: 1,
            group: "g".into(),
            generations: Vec::new(),
            left: false,
        }
    }

    fn settings(timeout: Duration) -> loglynx_search::RootSettings {
        loglynx_search::RootSettings {
            timeout,
            key: None,
            tls: false,
            ca_pem: None,
        }
    }

    /// Issue 13: a quiet leaf that hangs (accepts, never answers) does not hold back the
    /// probes of an answering zombie: before, a round waited for its slowest call, so with
    /// `leaf_timeout` past `catalog_ttl` the zombie's answers stopped counting and it was
    /// named missing although it answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_quiet_leaf_does_not_hold_back_an_answering_one() {
        let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hanging_addr = hanging.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = hanging.accept().await {
                held.push(s);
            }
        });
        let zombie = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let zombie_addr = zombie.local_addr().unwrap().to_string();
        let status = LeafStatus {
            worker: "zombie".into(),
            generations: Vec::new(),
        };
        tokio::spawn(answer_with(zombie, serde_json::to_string(&status).unwrap()));

        let ttl = Duration::from_secs(5);
        let c = Arc::new(CatalogLeaves::new(ttl, None));
        // The hanging one was seen last, so it is asked first.
        c.take("zombie", &quiet_record("zombie", &zombie_addr).encode());
        c.take("hung", &quiet_record("hung", &hanging_addr).encode());
        assert!(c.leaves().is_empty());
        let stop = tokio_util::sync::CancellationToken::new();
        c.probe_quiet(settings(Duration::from_secs(60)), stop.clone())
            .unwrap();
        let searched = |c: &CatalogLeaves| {
            c.leaves()
                .iter()
                .map(|r| r.worker.clone())
                .collect::<Vec<_>>()
        };
        let first = Instant::now();
        while searched(&c) != ["zombie"] {
            assert!(
                first.elapsed() < 3 * PROBE_EVERY,
                "the answering zombie was not searched: {:?}",
                searched(&c)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // For three ttls it stays searched (its answers keep coming every PROBE_EVERY), and
        // the hanging one is never searched.
        let until = Instant::now() + 3 * ttl;
        while Instant::now() < until {
            assert_eq!(searched(&c), ["zombie"], "after {:?}", first.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.cancel();
    }

    /// Issue 13: a zombie that answers is searched, so its loss cannot be accepted
    /// (`loglynx leaves forget`); once it no longer answers it is gone and can be.
    #[tokio::test]
    async fn the_loss_of_an_answering_zombie_is_refused() {
        let c = Arc::new(CatalogLeaves::new(Duration::from_millis(300), None));
        c.take("z", &quiet_record("z", "a:1").encode());
        c.answered(
            "z",
            "z",
            "a:1",
            Ok(LeafStatus {
                worker: "z".into(),
                generations: Vec::new(),
            }),
        );
        let root = loglynx_search::Root::new(settings(Duration::from_secs(1)), c.clone()).unwrap();
        for id in ["a:1", "z"] {
            match root.forget(id).await {
                Err(loglynx_search::SearchError::BadRequest(m)) => {
                    assert!(m.contains("is a live leaf"), "{m}")
                }
                other => panic!("the loss of an answering zombie was accepted: {other:?}"),
            }
        }
        // No answer for the ttl: gone, its loss may be accepted (this reader cannot write it:
        // the refusal is now about writing, not about a live leaf).
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(c.gone().len(), 1);
        match root.forget("a:1").await {
            Err(loglynx_search::SearchError::Unavailable(m)) => {
                assert!(m.contains("does not write"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}
