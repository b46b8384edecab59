//! Offsets: what to do with a message given the shard's next offset (gaps are fetched again),
//! and what a batch commits with its records (the next offset, the partition's missing count
//! and the file positions taken). Pure functions, tested here.

use super::super::dedup::Replays;

/// How far before a gap the consumer fetches again. A partition is assigned exactly at its
/// start offset, which costs nothing with Kafka (it answers a fetch with the whole record batch
/// holding the requested offset and the client drops what precedes it). Tansu 0.6 answers with
/// the batches *starting* at or after it (`offsets.split_off(&offset)` in tansu-storage's
/// dynostore `fetch`), which silently drops the rest of a batch when the start falls inside
/// one: the first message then comes past the start, which [`step`] sees as a gap and fetches
/// again from this far back (a producer batch holds at most `batch.num.messages` records,
/// librdkafka's default: 10,000), skipping by offset what precedes the start. So the re-read
/// happens only on the broker that needs it, and only when the start fell inside a batch.
pub(super) const REWIND: i64 = 10_000;
/// Re-fetches of one gap before it is accepted as offsets that are really gone.
pub(super) const GAP_RETRIES: u32 = 3;

/// What to do with a message, given the shard's next offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Below the next offset: already handed over.
    Skip,
    /// The next offset, or past it where a gap is expected or accepted.
    Take,
    /// Past the next offset: the broker skipped records. Fetch again from this offset.
    Refetch(i64),
}

/// Offsets of a partition are contiguous (no compaction, no transactions on loglynx topics),
/// so a message past the next offset means the broker's answer skipped records: Tansu 0.6
/// serves a fetch from an offset inside a record batch with the *next* batch, which was seen to
/// drop 554 of 1,000,000 records of a partition in a benchmark. The consumer then fetches again
/// from [`REWIND`] offsets before the gap; after [`GAP_RETRIES`] tries the gap is accepted
/// (offsets deleted by retention), loudly.
pub(super) fn step(next: i64, offset: i64, contiguous: bool, retries: u32) -> Step {
    if offset < next {
        Step::Skip
    } else if offset == next || !contiguous || retries >= GAP_RETRIES {
        Step::Take
    } else {
        Step::Refetch((next - REWIND).max(0))
    }
}

/// Prefix of the shard checkpoint key that counts the offsets of its partition given up as
/// missing (`missing:kafka:<topic>:<partition>`), committed with the records after the gap, so
/// the count survives restarts and moves with the shard. Only grows, like a position.
pub(super) const MISSING_PREFIX: &str = "missing:";

/// The key of the missing count of the partition whose offset key is `offset_key`.
pub(super) fn missing_key(offset_key: &str) -> String {
    format!("{MISSING_PREFIX}{offset_key}")
}

/// What a batch handed to a shard commits with its records: the partition's missing count when
/// it changed, the next offset, and the file positions taken (see [`Replays`]).
pub(super) fn batch_checkpoint(
    offset_key: String,
    next: i64,
    missing: Option<u64>,
    replays: &mut Replays,
) -> Vec<(String, u64)> {
    let mut checkpoint = Vec::with_capacity(2);
    if let Some(m) = missing {
        checkpoint.push((missing_key(&offset_key), m));
    }
    checkpoint.push((offset_key, next as u64));
    checkpoint.extend(replays.take_checkpoint());
    checkpoint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_in_offsets_is_fetched_again_then_accepted() {
        assert_eq!(step(10, 9, true, 0), Step::Skip);
        assert_eq!(step(10, 10, true, 0), Step::Take);
        // The broker skipped 10..15: fetch again from before the gap.
        assert_eq!(step(10, 15, true, 0), Step::Refetch(0));
        assert_eq!(step(20_010, 20_015, true, 2), Step::Refetch(10_010));
        // After GAP_RETRIES tries, the gap is taken as real.
        assert_eq!(step(20_010, 20_015, true, GAP_RETRIES), Step::Take);
        // Right after an assignment from the beginning the first offset may be anything.
        assert_eq!(step(0, 500, false, 0), Step::Take);
    }

    #[test]
    fn the_missing_count_is_committed_with_the_batch_after_a_gap_and_read_back() {
        let mut replays = Replays::default();
        // No gap: the offset only.
        assert_eq!(
            batch_checkpoint("kafka:logs:1".into(), 42, None, &mut replays),
            vec![("kafka:logs:1".to_string(), 42)]
        );
        // After a gap of 5 on top of 7 from an earlier owner: the count goes with the offset.
        let ck = batch_checkpoint("kafka:logs:1".into(), 60, Some(12), &mut replays);
        assert_eq!(
            ck,
            vec![
                ("missing:kafka:logs:1".to_string(), 12),
                ("kafka:logs:1".to_string(), 60)
            ]
        );
        // What the next owner of the shard reads back.
        let mut stored = loglynx_core::Checkpoint::default();
        stored.merge(&ck);
        assert_eq!(stored.get(&missing_key("kafka:logs:1")), Some(12));
        assert_eq!(stored.get(&missing_key("kafka:logs:0")), None);
    }
}
