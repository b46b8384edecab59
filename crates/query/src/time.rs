//! Reading times typed by users: RFC 3339, dates, epoch milliseconds and `now-15m` forms.

use chrono::{NaiveDate, NaiveDateTime};
use loglynx_core::Timestamp;
use tantivy::DateTime;

use crate::error::QueryError;

const FORMS: &str =
    "use RFC 3339 (2024-05-01T10:00:00Z), a date (2024-05-01), epoch milliseconds, \
                     `now` or `now-15m` (units s, m, h, d, w)";

/// Reads a time: RFC 3339 (`2024-05-01T10:00:00Z`, offsets allowed), a UTC date or date-time
/// without zone (`2024-05-01`, `2024-05-01T10:00:00`), epoch milliseconds (`1714557600000`),
/// `now`, or `now` plus or minus a duration (`now-15m`, `now-1h`, `now-7d`, `now+1d`; units
/// `ms`, `s`, `m`, `h`, `d`, `w`). Relative forms count from `now`.
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, QueryError> {
    let t = s.trim();
    let bad = |reason: &str| QueryError::BadTime {
        input: s.to_string(),
        reason: reason.to_string(),
    };
    if t.is_empty() {
        return Err(bad(FORMS));
    }
    if let Some(rest) = t.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now);
        }
        let (sign, amount) = match rest.as_bytes()[0] {
            b'-' => (-1i64, &rest[1..]),
            b'+' => (1i64, &rest[1..]),
            _ => return Err(bad(FORMS)),
        };
        let digits = amount.bytes().take_while(u8::is_ascii_digit).count();
        let (num, unit) = amount.split_at(digits);
        let n: i64 = num
            .parse()
            .map_err(|_| bad("put a number after `now-` or `now+`, e.g. `now-15m`"))?;
        let unit_ns: i64 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "w" => 7 * 86_400 * 1_000_000_000,
            _ => return Err(bad("unknown unit: use ms, s, m, h, d or w, e.g. `now-15m`")),
        };
        let delta = n
            .checked_mul(unit_ns)
            .ok_or_else(|| bad("duration out of range"))?;
        return now
            .0
            .checked_add(sign * delta)
            .map(Timestamp)
            .ok_or_else(|| bad("time out of range"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = t
            .parse()
            .map_err(|_| bad("epoch milliseconds out of range"))?;
        return ms
            .checked_mul(1_000_000)
            .map(Timestamp)
            .ok_or_else(|| bad("epoch milliseconds out of range"));
    }
    if let Some(ts) = Timestamp::parse_rfc3339(t) {
        return Ok(ts);
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    match naive {
        Some(n) => Timestamp::from_datetime(&n.and_utc()).ok_or_else(|| bad("time out of range")),
        None => Err(bad(FORMS)),
    }
}

/// The store keeps dates at microsecond precision; queries compare at that precision too.
/// tantivy keeps nanoseconds (it multiplies by 1000 again): the microseconds of a time at the
/// i64 ends (`as_micros` rounds down, so `i64::MIN` ns gives one microsecond too many) are
/// clamped to what it can hold instead of overflowing (found by the histogram_tail fuzz smoke).
pub(crate) fn to_date(ts: Timestamp) -> DateTime {
    const LIMIT: i64 = i64::MAX / 1_000;
    DateTime::from_timestamp_micros(ts.as_micros().clamp(-LIMIT, LIMIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_at_the_i64_ends_are_clamped_not_overflowed() {
        let (min, zero, max) = (to_date(Timestamp(i64::MIN)), to_date(Timestamp(0)), to_date(Timestamp(i64::MAX)));
        assert!(min < zero && zero < max);
        assert_eq!(min.into_timestamp_micros(), -(i64::MAX / 1_000));
        assert_eq!(max.into_timestamp_micros(), i64::MAX / 1_000);
        assert_eq!(to_date(Timestamp(1_500)).into_timestamp_micros(), 1);
    }

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2024-05-01T12:00:00Z").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn absolute_forms() {
        assert_eq!(
            parse_time("2024-05-01T10:00:00Z", now()).unwrap(),
            at("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            parse_time("2024-05-01T12:00:00+02:00", now()).unwrap(),
            at("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            parse_time("2024-05-01", now()).unwrap(),
            at("2024-05-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("2024-05-01T10:00:00.5", now()).unwrap(),
            at("2024-05-01T10:00:00.5Z")
        );
        assert_eq!(
            parse_time("1714557600000", now()).unwrap(),
            at("2024-05-01T10:00:00Z")
        );
        assert_eq!(parse_time(" 0 ", now()).unwrap(), Timestamp(0));
    }

    #[test]
    fn relative_forms() {
        assert_eq!(parse_time("now", now()).unwrap(), now());
        assert_eq!(
            parse_time("now-15m", now()).unwrap(),
            at("2024-05-01T11:45:00Z")
        );
        assert_eq!(
            parse_time("now-1h", now()).unwrap(),
            at("2024-05-01T11:00:00Z")
        );
        assert_eq!(
            parse_time("now-7d", now()).unwrap(),
            at("2024-04-24T12:00:00Z")
        );
        assert_eq!(
            parse_time("now+1d", now()).unwrap(),
            at("2024-05-02T12:00:00Z")
        );
        assert_eq!(
            parse_time("now-2w", now()).unwrap(),
            at("2024-04-17T12:00:00Z")
        );
        assert_eq!(
            parse_time("now-30s", now()).unwrap(),
            at("2024-05-01T11:59:30Z")
        );
        assert_eq!(
            parse_time("now-250ms", now()).unwrap(),
            at("2024-05-01T11:59:59.75Z")
        );
    }

    #[test]
    fn errors_say_what_to_type() {
        for bad in [
            "",
            "yesterday",
            "now-",
            "now-5y",
            "now*2",
            "2024-13-01",
            "now-m",
            "99999999999999999999",
        ] {
            let err = parse_time(bad, now()).unwrap_err();
            assert!(matches!(err, QueryError::BadTime { .. }), "{bad}: {err}");
        }
        let msg = parse_time("now-5y", now()).unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid time `now-5y`: unknown unit: use ms, s, m, h, d or w, e.g. `now-15m`"
        );
        assert!(parse_time("yesterday", now())
            .unwrap_err()
            .to_string()
            .contains("RFC 3339"));
    }

    #[test]
    fn dates_round_to_microseconds() {
        let t = Timestamp(1_700_000_000_123_456_789);
        assert_eq!(to_date(t).into_timestamp_micros(), 1_700_000_000_123_456);
    }
}
