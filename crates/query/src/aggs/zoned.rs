//! Histogram buckets cut in a time zone with daylight saving time (`Europe/Berlin`), as
//! Elasticsearch's `date_histogram` with a named `time_zone` cuts them.
//!
//! Bucket keys are local times: `align + k * width` milliseconds of the local clock since
//! 1970-01-01T00:00 local (so a `1d` width gives local midnights, `1h` local hours). Each key
//! starts a bucket at every instant the local clock shows it: twice when the clocks go back
//! (two `02:00` in October in Berlin, so hourly buckets stay one hour long), and at the
//! transition when the clocks go forward past it (`02:00` never shows in March; `03:00` is
//! the same instant). A bucket ends where the next one starts, so a local day is 23 or 25
//! hours long across a change, while hourly buckets in a whole-hour zone stay UTC hours.
//!
//! A zone whose offset never changes (UTC, `+05:30`) needs none of this: the engine cuts
//! fixed-width buckets shifted by the offset (`histogram.rs`).

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;
use loglynx_config::Zone;

use crate::error::QueryError;

/// Reads a histogram's `time_zone`: an IANA name (`Europe/Berlin`, from the system's tzdb),
/// `UTC` or a fixed offset (`+05:30`).
pub(crate) fn parse(name: &str) -> Result<Zone, QueryError> {
    Zone::parse(name.trim()).map_err(QueryError::BadRequest)
}

/// The instants (UTC ms) at which `tz`'s clock shows `local_ms` (local ms since 1970-01-01T00:00
/// local): one; two in a fold (earlier first); in a gap, the transition that skips it.
fn instants(tz: &TimeZone, local_ms: i64) -> Result<Vec<i64>, QueryError> {
    let out_of_range = || QueryError::BadRequest("histogram range is outside the years -9999..9999: narrow start and end".into());
    let civil: DateTime = Timestamp::from_millisecond(local_ms).map_err(|_| out_of_range())?.to_zoned(TimeZone::UTC).datetime();
    let at = |off: Offset| local_ms - i64::from(off.seconds()) * 1_000;
    Ok(match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => vec![at(offset)],
        AmbiguousOffset::Fold { before, after } => vec![at(before), at(after)],
        AmbiguousOffset::Gap { before, .. } => {
            // Read with the offset before the gap, the local time is at or after the
            // transition: the last transition before that instant (plus 1 ms) is the one.
            let probe = Timestamp::from_millisecond(at(before) + 1).map_err(|_| out_of_range())?;
            match tz.preceding(probe).next() {
                Some(t) => vec![t.timestamp().as_millisecond()],
                None => vec![at(before)],
            }
        }
    })
}

/// The bucket starts (UTC ms) covering `[start_ms, end_ms)` in `tz` with local keys
/// `align_ms + k * width_ms`: `e[0] <= start_ms < e[1] < ... < e[n]` with `e[n] >= end_ms`,
/// so bucket `i` is `[e[i], e[i+1])`. More than `max` buckets is an error.
pub(crate) fn edges(
    tz: &TimeZone,
    width_ms: i64,
    align_ms: i64,
    start_ms: i64,
    end_ms: i64,
    max: usize,
) -> Result<Vec<i64>, QueryError> {
    let width = width_ms.max(1);
    let start_ts = Timestamp::from_millisecond(start_ms)
        .map_err(|_| QueryError::BadRequest("histogram start is outside the years -9999..9999".into()))?;
    let local_start = start_ms + i64::from(tz.to_offset(start_ts).seconds()) * 1_000;
    let align = align_ms.rem_euclid(width);
    let mut key = (local_start - align).div_euclid(width) * width + align;
    let mut all = Vec::new();
    loop {
        let at = instants(tz, key)?;
        let done = at.iter().all(|t| *t >= end_ms);
        all.extend(at);
        if done {
            break;
        }
        // Two instants per key at most; the keys before `start_ms` are dropped below.
        if all.len() > 2 * (max + 2) {
            return Err(QueryError::TooLarge { what: "bucket count (widen the interval)", value: all.len() / 2, max });
        }
        key = key
            .checked_add(width)
            .ok_or_else(|| QueryError::BadRequest("histogram range is too far in the future: narrow end".into()))?;
    }
    all.sort_unstable();
    all.dedup();
    let first = all.partition_point(|t| *t <= start_ms).saturating_sub(1);
    let last = all.partition_point(|t| *t < end_ms);
    let edges: Vec<i64> = all[first..=last.min(all.len() - 1)].to_vec();
    if edges.len().saturating_sub(1) > max {
        return Err(QueryError::TooLarge { what: "bucket count (widen the interval)", value: edges.len() - 1, max });
    }
    Ok(edges)
}

/// The bucket starts (UTC ms) a histogram of `interval_ms` in `time_zone` (None: UTC), its
/// local keys shifted by `offset_ms`, has over `[start_ms, end_ms)`: `e[0] <= start_ms <
/// e[1] < ... < e[n]`, `e[n] >= end_ms`, bucket `i` being `[e[i], e[i+1])`, as
/// [`QueryEngine::histogram_offset`](crate::QueryEngine::histogram_offset) cuts them. For
/// padding a histogram to bounds and for the end of a bucket; more than
/// [`MAX_BUCKETS`](crate::MAX_BUCKETS) is an error.
pub fn bucket_edges(
    time_zone: Option<&str>,
    interval_ms: u64,
    offset_ms: i64,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<i64>, QueryError> {
    let max = super::MAX_BUCKETS;
    let width = i64::try_from(interval_ms).unwrap_or(i64::MAX).max(1);
    let zone = time_zone.map(parse).transpose()?;
    let too_far = || QueryError::BadRequest("histogram bounds are out of range: give them as epoch milliseconds or dates".into());
    match zone.as_ref().map_or(Some(0), |z| z.fixed_offset_secs()) {
        Some(east) => {
            let align = offset_ms.saturating_sub(i64::from(east) * 1_000).rem_euclid(width);
            let first = start_ms
                .checked_sub(align)
                .and_then(|t| t.div_euclid(width).checked_mul(width))
                .and_then(|t| t.checked_add(align))
                .ok_or_else(too_far)?;
            let n = end_ms.saturating_sub(first).max(1).saturating_add(width - 1) / width;
            if usize::try_from(n).map_or(true, |n| n > max) {
                return Err(QueryError::TooLarge { what: "bucket count (widen the interval)", value: usize::try_from(n).unwrap_or(usize::MAX), max });
            }
            (0..=n).map(|i| first.checked_add(i * width).ok_or_else(too_far)).collect()
        }
        None => {
            let zone = zone.as_ref().expect("a zone with rules");
            edges(zone.time_zone(), width, offset_ms, start_ms, end_ms.max(start_ms + 1), max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn lengths(e: &[i64]) -> Vec<i64> {
        e.windows(2).map(|w| (w[1] - w[0]) / H).collect()
    }

    /// 31 March 2024 in Berlin: 02:00 CET became 03:00 CEST (01:00Z). Local days start at
    /// 23:00Z before and at 22:00Z after; that day is 23 hours long.
    #[test]
    fn a_local_day_is_23_hours_when_the_clocks_go_forward() {
        let e = edges(&berlin(), D, 0, ms("2024-03-30T12:00:00Z"), ms("2024-04-01T12:00:00Z"), 100).unwrap();
        assert_eq!(e, vec![ms("2024-03-29T23:00:00Z"), ms("2024-03-30T23:00:00Z"), ms("2024-03-31T22:00:00Z"), ms("2024-04-01T22:00:00Z")]);
        assert_eq!(lengths(&e), vec![24, 23, 24]);
    }

    /// 27 October 2024 in Berlin: 03:00 CEST became 02:00 CET (01:00Z); that day is 25 hours.
    #[test]
    fn a_local_day_is_25_hours_when_the_clocks_go_back() {
        let e = edges(&berlin(), D, 0, ms("2024-10-26T12:00:00Z"), ms("2024-10-28T12:00:00Z"), 100).unwrap();
        assert_eq!(e, vec![ms("2024-10-25T22:00:00Z"), ms("2024-10-26T22:00:00Z"), ms("2024-10-27T23:00:00Z"), ms("2024-10-28T23:00:00Z")]);
        assert_eq!(lengths(&e), vec![24, 25, 24]);
    }

    /// Hourly buckets in a whole-hour zone are UTC hours across both changes: the skipped
    /// 02:00 is the transition (= 03:00), the repeated 02:00 starts two buckets.
    #[test]
    fn hours_stay_one_hour_long_across_both_changes() {
        for (from, to) in [("2024-03-30T22:00:00Z", "2024-03-31T04:00:00Z"), ("2024-10-26T22:00:00Z", "2024-10-27T04:00:00Z")] {
            let e = edges(&berlin(), H, 0, ms(from), ms(to), 100).unwrap();
            let utc: Vec<i64> = (0..=6).map(|i| ms(from) + i * H).collect();
            assert_eq!(e, utc, "{from}");
        }
        // In New York (2024-03-10 02:00 EST -> 03:00 EDT at 07:00Z; 2024-11-03 02:00 EDT -> 01:00 EST at 06:00Z).
        let ny = TimeZone::get("America/New_York").unwrap();
        let e = edges(&ny, H, 0, ms("2024-11-03T03:30:00Z"), ms("2024-11-03T08:00:00Z"), 100).unwrap();
        assert_eq!(e, (0..=5).map(|i| ms("2024-11-03T03:00:00Z") + i * H).collect::<Vec<_>>());
    }

    /// A 12h fixed interval is cut at local 00:00 and 12:00: the morning of the spring
    /// change is 11 hours, the autumn one 13 (as Elasticsearch documents).
    #[test]
    fn twelve_hour_buckets_follow_the_local_clock() {
        let e = edges(&berlin(), 12 * H, 0, ms("2024-03-31T00:00:00Z"), ms("2024-03-31T12:00:00Z"), 100).unwrap();
        assert_eq!(e, vec![ms("2024-03-30T23:00:00Z"), ms("2024-03-31T10:00:00Z"), ms("2024-03-31T22:00:00Z")]);
        let e = edges(&berlin(), 12 * H, 0, ms("2024-10-27T00:00:00Z"), ms("2024-10-27T11:00:00Z"), 100).unwrap();
        assert_eq!(lengths(&e), vec![13]);
    }

    /// The start falls in the second pass of a repeated hour: its bucket is the second one.
    #[test]
    fn a_start_in_the_repeated_hour_begins_at_the_second_pass() {
        let e = edges(&berlin(), H, 0, ms("2024-10-27T01:30:00Z"), ms("2024-10-27T02:00:00Z"), 100).unwrap();
        assert_eq!(e, vec![ms("2024-10-27T01:00:00Z"), ms("2024-10-27T02:00:00Z")]);
    }

    /// The same edges through the public helper, for a named zone, a fixed offset and UTC.
    #[test]
    fn bucket_edges_in_every_kind_of_zone() {
        let e = bucket_edges(Some("Europe/Berlin"), D as u64, 0, ms("2024-10-27T12:00:00Z"), ms("2024-10-27T12:00:00Z") + 1).unwrap();
        assert_eq!(e, vec![ms("2024-10-26T22:00:00Z"), ms("2024-10-27T23:00:00Z")]);
        let e = bucket_edges(Some("+05:30"), D as u64, 0, ms("2024-05-01T00:00:00Z"), ms("2024-05-02T00:00:00Z")).unwrap();
        assert_eq!(e, vec![ms("2024-04-30T18:30:00Z"), ms("2024-05-01T18:30:00Z"), ms("2024-05-02T18:30:00Z")]);
        let e = bucket_edges(None, H as u64, 15 * 60_000, ms("2024-05-01T00:00:00Z"), ms("2024-05-01T01:00:00Z")).unwrap();
        assert_eq!(e, vec![ms("2024-04-30T23:15:00Z"), ms("2024-05-01T00:15:00Z"), ms("2024-05-01T01:15:00Z")]);
        assert!(bucket_edges(None, 1, 0, 0, 1_000_000).is_err());
    }

    #[test]
    fn too_many_buckets_and_unknown_zones_are_errors() {
        assert!(matches!(edges(&berlin(), 1_000, 0, 0, 365 * D, 10_000), Err(QueryError::TooLarge { .. })));
        let e = parse("Mars/Olympus").unwrap_err().to_string();
        assert!(e.contains("unknown") && e.contains("Europe/Paris"), "{e}");
        assert_eq!(parse("+05:30").unwrap().fixed_offset_secs(), Some(19_800));
        assert_eq!(parse("Europe/Berlin").unwrap().fixed_offset_secs(), None);
    }
}
