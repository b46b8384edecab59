//! [`Replays`]: recognises records an agent sent twice, so a worker stores them once.
//!
//! An agent advances its checkpoint only on delivery and writes it every 200 ms, so after a
//! crash (SIGKILL, power loss) it sends again the lines delivered since its last write: the
//! same records at new Kafka offsets. The Kafka offset cannot tell them apart; the record can.
//! A record of a positioned source (file tail, journal) names its stream (host and file or
//! journal key) and its span in it ([`RawRecord::stream_span`], from its id and host); a stream's records are
//! produced in position order and, keyed `host|stream`, stay in order on one partition. So a shard remembers, per stream, the
//! end of the last record it took (start + body length); a record ending at or below that is
//! a re-sent copy and is skipped.
//!
//! These positions are written in the shard's store checkpoint, in the same commit as the
//! events (keys `seen:<stream hash>`, next to `kafka:<topic>:<partition>`), so they survive
//! the worker and move with the shard to the next owner of the partition. A truncated file
//! whose new content starts with the same line is a new stream (its key gets a generation,
//! see loglynx_collect), so its records are never taken for old ones.
//!
//! Late records: a record the agent sends again after later records of its stream were
//! delivered (its first delivery failed, and the retry or the restart came after them) ends
//! below what the shard took, yet was never stored. So when a stream jumps forward, past room
//! for at least one line, the shard remembers the skipped range as a hole (keys
//! `hole:<stream hash>:<from>:<to>`, committed with the events like `seen:`); a record that
//! fits in a hole is taken and the hole shrinks around it, so a second copy of it is skipped.
//! Gaps after a truncated line (its rest was never sent) make no hole; at most [`MAX_HOLES`]
//! per stream are kept (the oldest goes, with a warning), and they are forgotten with their
//! stream.
//!
//! A stream that took no record for [`SEEN_TTL`] is forgotten (its key is removed from the
//! checkpoint with [`loglynx_core::FORGET`]), so memory and the checkpoint written at every commit
//! hold only the streams of the last week, not every file generation ever read. Forgetting can
//! only let a copy through (a duplicate, if an agent comes back after more than a week and sends
//! again its last unconfirmed lines), never drop a record.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use loglynx_core::{RawRecord, FORGET};
use loglynx_telemetry::health::now_ms;

/// Prefix of the checkpoint keys of [`Replays`].
pub const SEEN_PREFIX: &str = "seen:";

/// Prefix of the checkpoint keys of the holes of [`Replays`].
pub const HOLE_PREFIX: &str = "hole:";

/// Most holes remembered per stream.
pub const MAX_HOLES: usize = 16;

/// A stream that took no record for this long is forgotten.
pub const SEEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often [`Replays::take_checkpoint`] looks for streams to forget.
const PRUNE_EVERY_MS: u64 = 60_000;

const DAY_MS: u64 = 86_400_000;
/// A `seen:` value holds the stream's end in its low 48 bits (256 TiB) and the day it last
/// advanced (days since 1970) in the 16 above, so the age survives restarts and hand-overs.
/// Both only grow within a stream, so the packed value only grows too, as checkpoint
/// positions must. The day is capped below 0xFFFF: a value is never [`FORGET`].
const END_BITS: u32 = 48;
const END_MAX: u64 = (1 << END_BITS) - 1;
const DAY_MAX: u64 = 0xFFFE;

fn pack(end: u64, now_ms: u64) -> u64 {
    ((now_ms / DAY_MS).min(DAY_MAX) << END_BITS) | end.min(END_MAX)
}

/// The end and the time (start of its day) of a `seen:` value; `None` for the time of a value
/// written before days were stored.
fn unpack(v: u64) -> (u64, Option<u64>) {
    let day = v >> END_BITS;
    (v & END_MAX, (day > 0).then_some(day * DAY_MS))
}

/// Ids of records without a position (HTTP, syslog) remembered per shard. When the broker
/// stalls, the agent copies its unconfirmed batches into its disk buffer (to keep order across
/// a restart); if the originals are delivered too, both copies reach the partition, the copy
/// at most the agent's in-flight records (`max_in_flight` batches) after the original. A
/// window of this many ids catches them (~1.5 MiB per shard).
pub const RECENT_IDS: usize = 65_536;

/// Per shard: stream -> end of the last record taken (its start + body length; stored or on
/// its way to the store).
///
/// Ends, not starts: a partial last line sent after the idle timeout (`abc` at S) and read
/// again complete after an agent crash (`abcdef` at S) has a larger end, so it is taken (a
/// partial duplicate) rather than lost. Within a stream ends strictly increase (each line
/// starts after the previous one's end and its newline).
#[derive(Debug, Default)]
pub struct Replays {
    next: HashMap<u64, Seen>,
    /// Per stream: ranges skipped when the stream jumped forward, oldest first.
    holes: HashMap<u64, Vec<Hole>>,
    /// Hole keys opened (a value) or closed ([`FORGET`]) since the last
    /// [`Replays::take_checkpoint`].
    hole_changes: Vec<(String, u64)>,
    /// Streams advanced since the last [`Replays::take_checkpoint`].
    touched: BTreeSet<u64>,
    /// When streams were last looked at for [`SEEN_TTL`].
    pruned_ms: u64,
    /// Holes forgotten beyond [`MAX_HOLES`] since the last warning, and when that was: one
    /// warning a minute at most (a journal read with a unit filter skips sequence numbers
    /// on every entry, which would otherwise warn per record).
    holes_forgotten: u64,
    hole_warned_ms: u64,
    /// Hashes of the ids of the last [`RECENT_IDS`] records without a position, oldest first,
    /// and how many times each is in the window.
    recent: VecDeque<u64>,
    recent_set: HashMap<u64, u32>,
}

/// One stream: the end of the last record taken, and when.
#[derive(Debug, Clone, Copy)]
struct Seen {
    end: u64,
    touched_ms: u64,
    /// The last record taken was cut: the gap after it is its rest, not missing records.
    truncated: bool,
}

/// A range of a stream no record was taken from although later ones were: a record with
/// `from <= start` and `end <= to` is a late first copy (its newline at `to` at the latest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hole {
    from: u64,
    to: u64,
}

impl Hole {
    /// The hole between a record ending at `end` and the next one taken, starting at `start`,
    /// if there is room in it for a line (one byte and its newline).
    fn between(end: u64, start: u64) -> Option<Hole> {
        let h = Hole { from: end + 1, to: start.checked_sub(1)? };
        (h.to > h.from).then_some(h)
    }
}

impl Replays {
    /// The positions a shard's store holds (its whole checkpoint; other keys are ignored),
    /// with the day each stream last advanced (a value without one counts as touched now).
    pub fn load<'a>(checkpoint: impl IntoIterator<Item = (&'a String, &'a u64)>) -> Replays {
        Self::load_at(checkpoint, now_ms())
    }

    fn load_at<'a>(
        checkpoint: impl IntoIterator<Item = (&'a String, &'a u64)>,
        now: u64,
    ) -> Replays {
        let mut next = HashMap::new();
        let mut holes: HashMap<u64, Vec<Hole>> = HashMap::new();
        for (k, v) in checkpoint {
            if let Some(hash) = k.strip_prefix(SEEN_PREFIX) {
                let (end, at) = unpack(*v);
                let seen = Seen {
                    end,
                    touched_ms: at.unwrap_or(now),
                    truncated: false,
                };
                if let Ok(stream) = u64::from_str_radix(hash, 16) {
                    next.insert(stream, seen);
                }
            } else if let Some((stream, hole)) = parse_hole_key(k) {
                holes.entry(stream).or_default().push(hole);
            }
        }
        for list in holes.values_mut() {
            list.sort_by_key(|h| h.from);
        }
        Replays {
            next,
            holes,
            pruned_ms: now,
            ..Replays::default()
        }
    }

    /// Whether `record` is new (then it is remembered) rather than a re-sent copy of one
    /// already taken. Records without a stream position are always new.
    pub fn admit(&mut self, record: &RawRecord) -> bool {
        let Some((stream, start, end)) = record.stream_span() else {
            return self.admit_unpositioned(record);
        };
        if end > END_MAX {
            // Beyond what a `seen:` value holds (no real file; a malformed id): taken, never
            // compared, so it cannot hide the records after it.
            return true;
        }
        match self.next.get_mut(&stream) {
            Some(s) if end <= s.end => return self.fill_hole(stream, start, end),
            Some(s) => {
                let opened = if s.truncated { None } else { Hole::between(s.end, start) };
                s.end = end;
                s.truncated = record.truncated;
                if let Some(h) = opened {
                    self.open_hole(stream, h);
                }
            }
            None => {
                // Its time is set by the next take_checkpoint (one clock read per batch).
                self.next.insert(stream, Seen { end, touched_ms: 0, truncated: record.truncated });
            }
        }
        self.touched.insert(stream);
        true
    }

    /// Remembers that `stream` skipped `h`, dropping its oldest hole beyond [`MAX_HOLES`].
    fn open_hole(&mut self, stream: u64, h: Hole) {
        let list = self.holes.entry(stream).or_default();
        list.push(h);
        self.hole_changes.push((hole_key(stream, h), 1));
        if list.len() > MAX_HOLES {
            let old = list.remove(0);
            self.hole_changes.push((hole_key(stream, old), FORGET));
            self.holes_forgotten += 1;
            let now = now_ms();
            if now.saturating_sub(self.hole_warned_ms) >= PRUNE_EVERY_MS {
                tracing::warn!(
                    stream = %format!("{stream:016x}"),
                    from = old.from,
                    to = old.to,
                    forgotten = self.holes_forgotten,
                    "more than {MAX_HOLES} gaps in one stream: the oldest are forgotten (a record of them arriving late would be skipped; a journal read with a unit filter has gaps by design)"
                );
                self.hole_warned_ms = now;
                self.holes_forgotten = 0;
            }
        }
    }

    /// Takes a record of `stream` that ends at or below what was taken if it fits in one of
    /// its holes (a late first copy), shrinking the hole around it.
    fn fill_hole(&mut self, stream: u64, start: u64, end: u64) -> bool {
        let Some(list) = self.holes.get_mut(&stream) else {
            return false;
        };
        let Some(i) = list.iter().position(|h| h.from <= start && end <= h.to) else {
            return false;
        };
        let h = list.remove(i);
        self.hole_changes.push((hole_key(stream, h), FORGET));
        let left = Hole { from: h.from, to: start.saturating_sub(1) };
        let right = Hole { from: end + 1, to: h.to };
        for part in [left, right] {
            if part.to > part.from {
                list.push(part);
                self.hole_changes.push((hole_key(stream, part), 1));
            }
        }
        list.sort_by_key(|h| h.from);
        if list.is_empty() {
            self.holes.remove(&stream);
        }
        tracing::info!(
            stream = %format!("{stream:016x}"),
            start,
            "a line sent again after later lines of its file (its first delivery failed) is taken"
        );
        self.touched.insert(stream);
        true
    }

    /// A record without a position is new unless its id was among the last [`RECENT_IDS`]
    /// such records of this shard (a copy from the agent's disk buffer). Not persisted: a
    /// worker restart between an original and its copy lets the copy through (a duplicate,
    /// never a loss).
    fn admit_unpositioned(&mut self, record: &RawRecord) -> bool {
        if record.id.is_empty() {
            return true;
        }
        let h = xxhash_rust::xxh3::xxh3_64(record.id.as_bytes());
        if self.recent_set.contains_key(&h) {
            return false;
        }
        self.recent.push_back(h);
        *self.recent_set.entry(h).or_insert(0) += 1;
        if self.recent.len() > RECENT_IDS {
            if let Some(old) = self.recent.pop_front() {
                if let Some(c) = self.recent_set.get_mut(&old) {
                    *c -= 1;
                    if *c == 0 {
                        self.recent_set.remove(&old);
                    }
                }
            }
        }
        true
    }

    /// Checkpoint entries of the streams advanced since the last call, to commit with the
    /// records taken since, and (once a minute) [`FORGET`] entries of the streams idle for
    /// [`SEEN_TTL`].
    pub fn take_checkpoint(&mut self) -> Vec<(String, u64)> {
        self.take_checkpoint_at(now_ms())
    }

    fn take_checkpoint_at(&mut self, now: u64) -> Vec<(String, u64)> {
        let touched = std::mem::take(&mut self.touched);
        let mut out: Vec<(String, u64)> = touched
            .into_iter()
            .filter_map(|s| {
                let seen = self.next.get_mut(&s)?;
                seen.touched_ms = now;
                Some((key(s), pack(seen.end, now)))
            })
            .collect();
        out.append(&mut self.hole_changes);
        if now.saturating_sub(self.pruned_ms) >= PRUNE_EVERY_MS {
            self.pruned_ms = now;
            let ttl = SEEN_TTL.as_millis() as u64;
            let before = self.next.len();
            let holes = &mut self.holes;
            self.next.retain(|s, seen| {
                let keep = now.saturating_sub(seen.touched_ms) < ttl;
                if !keep {
                    out.push((key(*s), FORGET));
                    for h in holes.remove(s).unwrap_or_default() {
                        out.push((hole_key(*s, h), FORGET));
                    }
                }
                keep
            });
            if self.next.len() < before {
                tracing::info!(
                    forgotten = before - self.next.len(),
                    streams = self.next.len(),
                    "forgot file streams idle for {} days",
                    SEEN_TTL.as_secs() / 86_400
                );
            }
        }
        out
    }

    /// Streams known.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// True when no stream is known.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

fn key(stream: u64) -> String {
    format!("{SEEN_PREFIX}{stream:016x}")
}

fn hole_key(stream: u64, h: Hole) -> String {
    format!("{HOLE_PREFIX}{stream:016x}:{:x}:{:x}", h.from, h.to)
}

fn parse_hole_key(k: &str) -> Option<(u64, Hole)> {
    let mut it = k.strip_prefix(HOLE_PREFIX)?.split(':');
    let mut num = || u64::from_str_radix(it.next()?, 16).ok();
    let (stream, from, to) = (num()?, num()?, num()?);
    Some((stream, Hole { from, to }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use loglynx_core::{positioned_id, FormatHint, SourceKind, Timestamp};

    use super::*;

    fn line(key: &str, start: u64) -> RawRecord {
        RawRecord {
            body: format!("{key} at {start}").into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File {
                path: "/var/log/a.log".into(),
            }),
            host: Some("h".into()),
            received: Timestamp(1),
            id: positioned_id(key, start),
        }
    }

    fn admitted(r: &mut Replays, recs: &[RawRecord]) -> Vec<String> {
        recs.iter()
            .filter(|x| r.admit(x))
            .map(|x| String::from_utf8_lossy(&x.body).into_owned())
            .collect()
    }

    #[test]
    fn a_resent_run_of_lines_is_skipped_and_the_rest_is_taken() {
        let mut r = Replays::default();
        let first: Vec<RawRecord> = [0, 10, 20, 30]
            .iter()
            .map(|p| line("file:1:2:a", *p))
            .collect();
        assert_eq!(admitted(&mut r, &first).len(), 4);
        // The agent crashed after 10 and sends 20.. again, then new lines.
        let again: Vec<RawRecord> = [20, 30, 40, 50]
            .iter()
            .map(|p| line("file:1:2:a", *p))
            .collect();
        assert_eq!(
            admitted(&mut r, &again),
            vec!["file:1:2:a at 40", "file:1:2:a at 50"]
        );
        // The very first line again too.
        assert!(!r.admit(&line("file:1:2:a", 0)));
    }

    #[test]
    fn a_partial_line_read_again_complete_is_taken_not_lost() {
        let mut r = Replays::default();
        let mut partial = line("file:1:2:a", 100);
        partial.body = b"abc".to_vec();
        assert!(r.admit(&partial));
        // After an agent crash the line is read again, now complete: a longer body.
        let mut whole = line("file:1:2:a", 100);
        whole.body = b"abcdef".to_vec();
        assert!(r.admit(&whole), "the completed line must be stored");
        assert!(!r.admit(&whole), "but only once");
        // Empty lines still advance: each starts after the previous newline.
        let mut empty = line("file:1:2:a", 107);
        empty.body.clear();
        assert!(r.admit(&empty));
        assert!(!r.admit(&empty));
        let mut next_empty = line("file:1:2:a", 108);
        next_empty.body.clear();
        assert!(r.admit(&next_empty));
    }

    #[test]
    fn streams_are_independent() {
        let mut r = Replays::default();
        assert!(r.admit(&line("file:1:2:a", 100)));
        assert!(r.admit(&line("file:1:3:a", 0)));
        // A new generation of a truncated file starts at 0 again.
        assert!(r.admit(&line("file:1:2:a~1", 0)));
        assert!(!r.admit(&line("file:1:2:a", 100)));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn the_same_file_key_on_two_hosts_is_two_streams() {
        let mut r = Replays::default();
        let a = line("file:1:2:a", 100);
        let mut b = line("file:1:2:a", 50);
        b.host = Some("other".into());
        assert!(r.admit(&a));
        assert!(r.admit(&b), "another host's file is not a re-sent copy");
    }

    #[test]
    fn records_without_position_are_taken_once_within_the_window() {
        let mut r = Replays::default();
        let mut rec = line("file:1:2:a", 5);
        rec.source = Arc::new(SourceKind::Syslog {
            transport: "udp".into(),
            peer: "1.2.3.4".into(),
        });
        rec.id = "0190c1a2-7b3e-7c4d-9e8f-0a1b2c3d4e5f".into();
        assert!(r.admit(&rec));
        // The copy the agent's disk buffer sent after the original.
        assert!(!r.admit(&rec));
        let mut odd = line("file:1:2:a", 5);
        odd.id = "not-a-positioned-id".into();
        assert!(r.admit(&odd));
        assert!(!r.admit(&odd));
        assert_eq!(r.len(), 0, "no stream positions for these");
        // Beyond the window an id is forgotten (bounded memory).
        for i in 0..RECENT_IDS {
            let mut other = rec.clone();
            other.id = format!("other-{i}");
            assert!(r.admit(&other));
        }
        assert_eq!(r.recent.len(), RECENT_IDS);
        assert!(r.admit(&rec), "forgotten after RECENT_IDS newer ids");
        let mut no_id = rec.clone();
        no_id.id.clear();
        assert!(r.admit(&no_id));
        assert!(r.admit(&no_id));
    }

    /// A journal entry as the journald source sends it: positioned by its sequence number.
    fn entry(seqnum: u64) -> RawRecord {
        RawRecord {
            body: format!("{{\"MESSAGE\":\"entry {seqnum}\"}}").into_bytes(),
            truncated: false,
            hint: FormatHint::Json,
            source: Arc::new(SourceKind::Other { name: loglynx_core::JOURNALD_SOURCE.into() }),
            host: Some("h".into()),
            received: Timestamp(1),
            id: positioned_id("journald:0123456789abcdef", seqnum),
        }
    }

    #[test]
    fn journal_entries_sent_again_are_skipped_and_late_ones_taken_across_owners() {
        let mut r = Replays::default();
        for n in 1..=5 {
            assert!(r.admit(&entry(n)), "entry {n} is new");
        }
        // The agent crashed before writing its checkpoint: 3..=5 come again, then new ones.
        for n in 3..=5 {
            assert!(!r.admit(&entry(n)), "entry {n} again is a copy");
        }
        assert!(r.admit(&entry(6)));
        // Entry 7's first delivery failed; 8 arrived first. 7 is late, not old.
        assert!(r.admit(&entry(8)));
        // The partition moves: the next owner loads the checkpoint committed with the events.
        let store: BTreeMap<String, u64> = r.take_checkpoint().into_iter().collect();
        let mut next = Replays::load(&store);
        assert!(!next.admit(&entry(8)), "8 again after the move is a copy");
        assert!(!next.admit(&entry(2)), "2 again after the move is a copy");
        assert!(next.admit(&entry(7)), "the late first copy of 7 is taken");
        assert!(!next.admit(&entry(7)), "and its second copy skipped");
        assert!(next.admit(&entry(9)));
        // Another journal (another seqnum id) is another stream.
        let mut other = entry(1);
        other.id = positioned_id("journald:fedcba9876543210", 1);
        assert!(next.admit(&other));
    }

    #[test]
    fn the_checkpoint_round_trips_and_names_only_touched_streams() {
        let mut r = Replays::default();
        r.admit(&line("file:1:2:a", 0));
        r.admit(&line("file:1:2:a", 40));
        r.admit(&line("file:9:9:b", 7));
        let ck = r.take_checkpoint();
        // Two streams, and the gap of `a` between its line at 0 and the one at 40.
        assert_eq!(ck.len(), 3);
        let (a, _) = line("file:1:2:a", 0).stream_position().unwrap();
        assert!(ck.contains(&(format!("hole:{a:016x}:10:27"), 1)), "{ck:?}");
        assert!(ck
            .iter()
            .filter(|(k, _)| !k.starts_with(HOLE_PREFIX))
            .all(|(k, _)| k.starts_with(SEEN_PREFIX) && k.len() == 5 + 16));
        assert!(ck.iter().any(|(_, p)| unpack(*p).0 == 40 + "file:1:2:a at 40".len() as u64));
        assert!(r.take_checkpoint().is_empty(), "nothing new since");
        r.admit(&line("file:9:9:b", 8));
        assert_eq!(r.take_checkpoint().len(), 1);

        // What the store holds, with the partition's own key: a new owner skips the same.
        let mut store: BTreeMap<String, u64> = ck.into_iter().collect();
        store.insert("kafka:logs:0".into(), 12);
        store.insert("seen:zz".into(), 3);
        let mut back = Replays::load(&store);
        assert_eq!(back.len(), 2);
        assert!(!back.admit(&line("file:1:2:a", 40)));
        assert!(back.admit(&line("file:1:2:a", 41)));
        assert!(back.admit(&line("file:9:9:b", 8)));
    }

    #[test]
    fn streams_idle_for_the_ttl_are_forgotten_in_the_checkpoint() {
        let day = DAY_MS;
        let ttl = SEEN_TTL.as_millis() as u64;
        // A real clock: some day in 2026.
        let t0 = 20_400 * day;
        let mut store: BTreeMap<String, u64> = BTreeMap::new();
        let mut r = Replays::load_at(&store, t0);
        r.admit(&line("file:1:2:old", 0));
        r.admit(&line("file:1:2:live", 0));
        store.extend(r.take_checkpoint_at(t0));
        assert_eq!(store.len(), 2);
        let apply = |store: &mut BTreeMap<String, u64>, ck: &[(String, u64)]| {
            for (k, p) in ck {
                if *p == FORGET {
                    store.remove(k);
                } else {
                    store.insert(k.clone(), *p);
                }
            }
        };
        // Only `live` takes records afterwards.
        for d in 1..=8 {
            r.admit(&line("file:1:2:live", d * 100));
            let ck = r.take_checkpoint_at(t0 + d * day);
            apply(&mut store, &ck);
            let forgets = ck.iter().filter(|(_, p)| *p == FORGET).count();
            // `old` was last touched at t0: forgotten at the first look past the TTL.
            assert_eq!(forgets, usize::from(d * day >= ttl && d * day < ttl + day), "day {d}");
        }
        assert_eq!(r.len(), 1, "only the live stream is remembered");
        assert_eq!(store.keys().filter(|k| k.starts_with(SEEN_PREFIX)).count(), 1);
        // Forgetting lets a re-sent copy through (a duplicate), it never drops a new record.
        assert!(r.admit(&line("file:1:2:old", 0)));
        assert!(!r.admit(&line("file:1:2:live", 800)));

        // Looks happen at most once a minute (not a scan of every stream per batch).
        let mut q = Replays::load_at(&BTreeMap::new(), t0);
        q.admit(&line("file:1:2:x", 0));
        q.take_checkpoint_at(t0);
        assert!(q.take_checkpoint_at(t0 + ttl - 1).is_empty(), "not idle for the TTL yet");
        assert!(q.take_checkpoint_at(t0 + ttl + 10).is_empty(), "idle, but looked 11 ms ago");
        assert_eq!(
            q.take_checkpoint_at(t0 + ttl - 1 + 60_000),
            vec![(key_of("file:1:2:x"), FORGET)]
        );
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn the_age_of_a_stream_survives_a_reload_and_old_values_count_as_new() {
        let day = DAY_MS;
        let t0 = 20_400 * day;
        let mut r = Replays::load_at(&BTreeMap::new(), t0);
        r.admit(&line("file:1:2:a", 0));
        let mut store: BTreeMap<String, u64> = r.take_checkpoint_at(t0).into_iter().collect();
        // The value still only grows with the end, and decodes to it.
        let (k, v) = store.iter().next().map(|(k, v)| (k.clone(), *v)).unwrap();
        assert_eq!(unpack(v), ("file:1:2:a at 0".len() as u64, Some(t0)));
        assert!(pack(16, t0) > v && pack(0, t0 + day) > v && v != FORGET);
        // A value written before days were stored (a bare end).
        store.insert(key_of("file:1:2:legacy"), 40);
        // Another worker (or a restart) loads the shard 8 days later: `a` is 8 days old and is
        // forgotten at the first look; the legacy stream counts from the load.
        let later = t0 + 8 * day;
        let mut back = Replays::load_at(&store, later);
        assert!(!back.admit(&line("file:1:2:legacy", 10)), "its end (40) is still known");
        let ck = back.take_checkpoint_at(later + PRUNE_EVERY_MS);
        assert_eq!(ck, vec![(k, FORGET)]);
        assert_eq!(back.len(), 1);
    }

    #[test]
    fn a_position_beyond_what_a_value_holds_is_taken_and_hides_nothing() {
        let mut r = Replays::default();
        let huge = line("file:1:2:a", END_MAX);
        assert!(r.admit(&huge));
        assert!(r.admit(&huge), "not compared: a copy is kept rather than a record lost");
        assert!(r.admit(&line("file:1:2:a", 10)));
        assert_eq!(r.len(), 1);
    }

    fn key_of(file_key: &str) -> String {
        let (stream, _) = line(file_key, 0).stream_position().expect("positioned");
        key(stream)
    }

    /// Issue 11: a line whose first delivery failed, sent again after later lines of its file
    /// were delivered, was skipped as an old copy.
    #[test]
    fn regression_issue_11_a_late_first_copy_fills_its_hole_once() {
        let mut r = Replays::default();
        // Lines of 9 bytes + newline: 0, 10, 20, ... Lines 20 and 30 fail and come late.
        let l = |start: u64| {
            let mut x = line("file:1:2:a", start);
            x.body = format!("line {start:04}").into_bytes();
            x
        };
        assert_eq!(admitted(&mut r, &[l(0), l(10), l(40), l(50)]).len(), 4);
        assert!(r.admit(&l(30)), "late, in the hole 20..39");
        assert!(!r.admit(&l(30)), "its copy is skipped");
        assert!(!r.admit(&l(10)), "an old copy outside any hole is skipped");
        assert!(!r.admit(&l(50)));
        // The hole survives a hand-over: the next owner takes line 20 too, once.
        let store: BTreeMap<String, u64> = r.take_checkpoint().into_iter().fold(BTreeMap::new(), |mut m, (k, v)| {
            if v == FORGET {
                m.remove(&k);
            } else {
                m.insert(k, v);
            }
            m
        });
        assert_eq!(store.keys().filter(|k| k.starts_with(HOLE_PREFIX)).count(), 1, "{store:?}");
        let mut back = Replays::load(&store);
        assert!(back.admit(&l(20)));
        assert!(!back.admit(&l(20)));
        assert!(!back.admit(&l(30)));
        let ck = back.take_checkpoint();
        assert!(ck.iter().any(|(k, v)| k.starts_with(HOLE_PREFIX) && *v == FORGET), "{ck:?}");
        assert!(!ck.iter().any(|(k, v)| k.starts_with(HOLE_PREFIX) && *v != FORGET), "filled: {ck:?}");
    }

    #[test]
    fn gaps_that_hold_no_line_make_no_hole() {
        let mut r = Replays::default();
        let l = |start: u64, body: &str, truncated: bool| {
            let mut x = line("file:1:2:a", start);
            x.body = body.as_bytes().to_vec();
            x.truncated = truncated;
            x
        };
        assert!(r.admit(&l(0, "abc", false)));
        // An empty line (skipped by the tail) between two lines: no room for a line.
        assert!(r.admit(&l(5, "def", false)));
        // A line cut at 3 bytes whose rest (90 bytes) was never sent.
        assert!(r.admit(&l(9, "ghi", true)));
        assert!(r.admit(&l(103, "jkl", false)));
        assert!(r.holes.is_empty(), "{:?}", r.holes);
        assert!(r.take_checkpoint().iter().all(|(k, _)| k.starts_with(SEEN_PREFIX)));
    }

    #[test]
    fn a_stream_keeps_its_newest_holes() {
        let mut r = Replays::default();
        for i in 0..=(MAX_HOLES as u64 + 1) {
            assert!(r.admit(&line("file:1:2:a", i * 100)));
        }
        let (a, _) = line("file:1:2:a", 0).stream_position().unwrap();
        assert_eq!(r.holes[&a].len(), MAX_HOLES);
        assert!(!r.admit(&line("file:1:2:a", 50)), "the oldest hole was forgotten");
        assert!(r.admit(&line("file:1:2:a", 250)));
    }
}
