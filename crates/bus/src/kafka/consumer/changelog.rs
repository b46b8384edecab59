//! [`Changelog`]: the per-partition state that must move with a partition, in a compacted side
//! topic `<topic>-<group>-state` (key: the partition), as Kafka Streams keeps a store's
//! changelog (one per application id). One per consumer group: a second group consuming the
//! same topic (a full copy elsewhere) must not restore the first group's dedup positions,
//! which would drop every line the first group had seen.
//!
//! The state is what a shard's checkpoint holds besides its offset: the agent-resend dedup
//! positions (`seen:<stream>`, `hole:...`, see `dedup.rs`) and the partition's missing count
//! (`missing:kafka:<topic>:<p>`), with the offset it belongs to. It is already bounded (16 holes
//! per stream, streams forgotten after `SEEN_TTL`).
//!
//! Written after the store commit it describes: at most every [`STATE_EVERY`] while a shard
//! commits (by a thread of its own, so consuming never waits for it), and synchronously when a
//! partition is revoked or the worker stops, before the group can give the partition to
//! another member. Read before consuming, on assignment: the reader reads the topic to its
//! current end, so the record of a clean revoke is seen. Records are kept by the highest offset
//! per partition (a zombie's late, older record does not win).
//!
//! A record can lag behind the group's committed offset (a worker crashed between the two
//! writes, or the last write failed): the consumer then reads the partition's records between
//! the record's offset and the committed one again, through the dedup state only (nothing is
//! stored), at most [`REPLAY_MAX`] of them. Past that bound, or without any record, a copy an
//! agent sent twice across the hand-over can be stored twice: a duplicate, never a loss.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loglynx_config::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};

use super::super::config::{reader_config, LogContext};
use super::super::dedup::{HOLE_PREFIX, SEEN_PREFIX};
use super::super::side::SideProducer;
use super::offsets::MISSING_PREFIX;
use crate::BusError;

/// How often a partition's state is written while its shard commits.
pub(super) const STATE_EVERY: Duration = Duration::from_secs(5);
/// Most records read again, through the dedup state only, when a partition's changelog record
/// is behind the group's committed offset.
pub(super) const REPLAY_MAX: i64 = 100_000;
/// A state record larger than this is not written (Kafka's default `message.max.bytes` is 1 MB);
/// the next owner then reads the records since the last one again.
const MAX_STATE_BYTES: usize = 900_000;
/// How long a synchronous write or a read to the end may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// Version of the record value.
const VERSION: u32 = 1;

/// The changelog topic of `topic` for the consumer group `group` (characters a topic name
/// cannot hold become `_`).
pub fn state_topic(topic: &str, group: &str) -> String {
    let group: String = group.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    format!("{topic}-{group}-state")
}

/// Whether a shard checkpoint key belongs to the state that moves with the partition.
pub(super) fn is_state_key(key: &str) -> bool {
    key.starts_with(SEEN_PREFIX) || key.starts_with(HOLE_PREFIX) || key.starts_with(MISSING_PREFIX)
}

/// A partition's state as of an offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Record format version.
    pub v: u32,
    pub partition: i32,
    /// The next offset: the state holds every record below it.
    pub offset: i64,
    /// Shard checkpoint entries (`seen:`, `hole:`, `missing:`).
    pub state: BTreeMap<String, u64>,
}

impl PartitionState {
    /// The state part of a shard's checkpoint at `offset`.
    pub(super) fn from_checkpoint(partition: i32, offset: i64, cp: &loglynx_core::Checkpoint) -> PartitionState {
        PartitionState {
            v: VERSION,
            partition,
            offset,
            state: cp
                .positions
                .iter()
                .filter(|(k, _)| is_state_key(k))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        }
    }
}

/// The state changelog of one worker process (shared by its consumers).
pub(super) struct Changelog {
    topic: String,
    producer: SideProducer,
    reader: Mutex<Reader>,
    /// Latest record per partition (by offset), as read.
    latest: Mutex<HashMap<i32, PartitionState>>,
    /// States waiting for the writer thread, latest per partition.
    queue: Arc<(Mutex<Queue>, Condvar)>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Queue {
    pending: HashMap<i32, PartitionState>,
    stop: bool,
}

struct Reader {
    consumer: BaseConsumer<LogContext>,
    /// Next offset to read, once assigned.
    position: Option<i64>,
}

impl Changelog {
    /// The changelog of `cfg.topic` (the topic is created by the worker at start).
    pub(super) fn start(cfg: &KafkaConfig) -> Result<Arc<Changelog>, BusError> {
        let mut rc = reader_config(cfg);
        // Only the records of one small topic are prefetched.
        rc.set("queued.max.messages.kbytes", "4096");
        let consumer: BaseConsumer<LogContext> = rc
            .create_with_context(LogContext)
            .map_err(|e| BusError::kafka("state reader", e))?;
        let c = Arc::new(Changelog {
            topic: state_topic(&cfg.topic, &cfg.group),
            producer: SideProducer::new(cfg)?,
            reader: Mutex::new(Reader { consumer, position: None }),
            latest: Mutex::new(HashMap::new()),
            queue: Arc::new((Mutex::new(Queue::default()), Condvar::new())),
            writer: Mutex::new(None),
        });
        let me = Arc::downgrade(&c);
        let queue = c.queue.clone();
        let t = std::thread::Builder::new()
            .name("loglynx-state".into())
            .spawn(move || write_loop(me, queue))
            .map_err(BusError::Thread)?;
        *c.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
        Ok(c)
    }

    /// Queues `state` to be written (the writer thread sends the latest of each partition).
    pub(super) fn offer(&self, state: PartitionState) {
        let (q, cv) = &*self.queue;
        let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
        q.pending.insert(state.partition, state);
        cv.notify_one();
    }

    /// Writes `state` now and waits for the brokers to have it (a revoke, a shutdown).
    pub(super) fn write_now(&self, state: PartitionState) {
        {
            let (q, _) = &*self.queue;
            let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
            if q.pending.get(&state.partition).is_some_and(|s| s.offset <= state.offset) {
                q.pending.remove(&state.partition);
            }
        }
        if let Err(e) = self.send(&[state]) {
            tracing::warn!("partition state not written to the changelog: {e}; its next owner reads the records since the last state again");
        }
    }

    fn send(&self, states: &[PartitionState]) -> Result<(), BusError> {
        let mut records = Vec::with_capacity(states.len());
        for s in states {
            let value = serde_json::to_vec(s).unwrap_or_default();
            if value.len() > MAX_STATE_BYTES {
                tracing::warn!(
                    partition = s.partition,
                    bytes = value.len(),
                    entries = s.state.len(),
                    "partition state too large for the changelog: not written (its next owner reads the records since the last state again)"
                );
                continue;
            }
            records.push((s.partition.to_string(), value));
        }
        self.producer.send(&self.topic, &records, SYNC_TIMEOUT)
    }

    /// Reads the changelog to its current end and returns the latest state of each of
    /// `partitions` (absent: no record). Errors are logged and leave what was read: without a
    /// state, the dedup state is rebuilt from the records before the hand-over, see
    /// [`REPLAY_MAX`].
    pub(super) fn restore(&self, partitions: &[i32]) -> HashMap<i32, PartitionState> {
        let started = Instant::now();
        if let Err(e) = self.catch_up() {
            tracing::warn!("partition states not read from {}: {e}; rebuilding them from the partitions' records", self.topic);
        }
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let out: HashMap<i32, PartitionState> =
            partitions.iter().filter_map(|p| Some((*p, latest.get(p)?.clone()))).collect();
        tracing::info!(
            partitions = ?partitions,
            found = out.len(),
            ms = started.elapsed().as_millis() as u64,
            "partition states read from the changelog"
        );
        out
    }

    fn catch_up(&self) -> Result<(), BusError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let r = &mut *guard;
        let high = match r.consumer.fetch_watermarks(&self.topic, 0, SYNC_TIMEOUT) {
            Ok((_, high)) => high,
            Err(KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition)) => return Ok(()),
            Err(e) => return Err(BusError::kafka(format!("watermarks of {}", self.topic), e)),
        };
        if r.position.is_none() {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&self.topic, 0, Offset::Beginning)
                .map_err(|e| BusError::kafka("assign", e))?;
            r.consumer.assign(&tpl).map_err(|e| BusError::kafka("assign", e))?;
            r.position = Some(0);
        }
        let deadline = Instant::now() + SYNC_TIMEOUT;
        while r.position.unwrap_or(0) < high {
            if Instant::now() >= deadline {
                return Err(BusError::kafka(
                    format!("read {} to its end", self.topic),
                    KafkaError::MessageConsumption(RDKafkaErrorCode::RequestTimedOut),
                ));
            }
            match r.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    r.position = Some(m.offset() + 1);
                    let Some(value) = m.payload() else {
                        // A tombstone (key: the partition) forgets the partition's state: how an
                        // operator who reset the group's offsets backwards lets it count.
                        let key = m.key().and_then(|k| std::str::from_utf8(k).ok()?.parse::<i32>().ok());
                        if let Some(p) = key {
                            self.latest.lock().unwrap_or_else(|p| p.into_inner()).remove(&p);
                        }
                        continue;
                    };
                    match serde_json::from_slice::<PartitionState>(value) {
                        Ok(s) if s.v == VERSION => {
                            let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
                            let newer = latest.get(&s.partition).is_none_or(|old| old.offset <= s.offset);
                            if newer {
                                latest.insert(s.partition, s);
                            }
                        }
                        Ok(s) => tracing::warn!(version = s.v, "a partition state of an unknown version is ignored (written by a newer loglynx?)"),
                        Err(e) => tracing::warn!(offset = m.offset(), "an invalid partition state is ignored: {e}"),
                    }
                }
                // The end, or nothing yet: the loop checks the position and the deadline.
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(e)) => tracing::debug!("state topic read: {e}"),
            }
        }
        Ok(())
    }

    /// Writes what is queued and stops the writer thread.
    pub(super) fn stop(&self) {
        {
            let (q, cv) = &*self.queue;
            q.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
            cv.notify_all();
        }
        if let Some(t) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// The writer thread: sends the latest queued state of each partition, keeps failed ones for
/// the next turn (unless a newer one came), until stopped.
fn write_loop(log: std::sync::Weak<Changelog>, queue: Arc<(Mutex<Queue>, Condvar)>) {
    let (q, cv) = &*queue;
    loop {
        let (batch, stop) = {
            let mut g = q.lock().unwrap_or_else(|p| p.into_inner());
            while g.pending.is_empty() && !g.stop {
                g = cv.wait(g).unwrap_or_else(|p| p.into_inner());
            }
            (std::mem::take(&mut g.pending), g.stop)
        };
        let Some(log) = log.upgrade() else { return };
        if !batch.is_empty() {
            let states: Vec<PartitionState> = batch.into_values().collect();
            if let Err(e) = log.send(&states) {
                tracing::warn!("partition states not written to the changelog: {e}; trying again");
                let mut g = q.lock().unwrap_or_else(|p| p.into_inner());
                for s in states {
                    if !g.pending.contains_key(&s.partition) {
                        g.pending.insert(s.partition, s);
                    }
                }
                drop(g);
                if !stop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        if stop {
            log.producer.flush(SYNC_TIMEOUT);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_has_its_own_changelog() {
        assert_eq!(state_topic("logs", "loglynx"), "logs-loglynx-state");
        assert_ne!(state_topic("logs", "a"), state_topic("logs", "b"));
        assert_eq!(state_topic("logs", "my group/1"), "logs-my_group_1-state");
    }

    #[test]
    fn the_state_is_the_checkpoint_without_the_offset() {
        let mut cp = loglynx_core::Checkpoint::default();
        cp.merge(&[
            ("kafka:logs:1".to_string(), 500),
            ("seen:00000000000000aa".to_string(), 42),
            ("hole:00000000000000aa:2:9".to_string(), 1),
            ("missing:kafka:logs:1".to_string(), 3),
            ("file:1:2:x".to_string(), 7),
        ]);
        let s = PartitionState::from_checkpoint(1, 500, &cp);
        assert_eq!(s.offset, 500);
        assert_eq!(
            s.state.keys().cloned().collect::<Vec<_>>(),
            vec!["hole:00000000000000aa:2:9", "missing:kafka:logs:1", "seen:00000000000000aa"]
        );
        let back: PartitionState = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
