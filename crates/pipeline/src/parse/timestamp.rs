//! Timestamp readers for the formats loglynx knows, without allocation or chrono on the hot path.
//!
//! Timezone rule: a timestamp that carries no offset (RFC 3164, Loghub headers, ISO text
//! without `Z`) is taken as **UTC**. Formats without a year (RFC 3164, Proxifier) get one from
//! [`infer_year`].

use loglynx_core::Timestamp;

use super::scan::Cursor;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// What a format's timestamp field yielded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsField {
    /// The field was read.
    Ok(Timestamp),
    /// The field is there but could not be read: `flags.bad_timestamp`, `@timestamp` = received.
    Bad,
    /// The format carries no timestamp here (syslog NILVALUE, a JSON object without one).
    Absent,
}

/// A calendar date and time of day with an offset from UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Civil {
    /// Proleptic Gregorian year.
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=60 (a leap second reads as 59).
    pub second: u32,
    /// Fraction of the second, 0..1e9.
    pub nanos: u32,
    /// Seconds east of UTC.
    pub offset_secs: i32,
}

impl Civil {
    /// The instant, or `None` when a part is out of range (month 13, Feb 30, hour 24...) or
    /// the year is outside what [`Timestamp`] can hold. A leap second (`:60`) reads as `:59`.
    pub fn to_timestamp(&self) -> Option<Timestamp> {
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
            || self.nanos >= 1_000_000_000
            || !(1678..=2261).contains(&self.year)
        {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * SECS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second.min(59))
            - i64::from(self.offset_secs);
        Some(Timestamp(secs * NANOS_PER_SEC + i64::from(self.nanos)))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC calendar year of an instant.
pub fn year_of(ts: Timestamp) -> i64 {
    let z = ts.0.div_euclid(NANOS_PER_SEC * SECS_PER_DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

/// Gives a year to a date that has none: the year of `now`, unless that puts the event more
/// than a day in the future, then the year before (a `Dec 31` line read on `Jan 1`). A date
/// that does not exist in that year (`Feb 29`) is looked for up to 7 years back.
pub fn infer_year(mut c: Civil, now: Timestamp) -> Option<Timestamp> {
    let limit = now.0.saturating_add(SECS_PER_DAY * NANOS_PER_SEC);
    let year = year_of(now);
    for y in (year - 7..=year).rev() {
        c.year = y;
        if let Some(ts) = c.to_timestamp() {
            if ts.0 <= limit {
                return Some(ts);
            }
        }
    }
    None
}

/// `Jan`..`Dec` (any case) as 1..12.
pub fn month_from_abbr(b: &[u8]) -> Option<u32> {
    if b.len() != 3 {
        return None;
    }
    let key = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    Some(match &key {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Reads `HH:MM:SS` with an optional `.fff`/`,fff` fraction into `c`.
pub(crate) fn read_hms(cur: &mut Cursor<'_>, c: &mut Civil) -> Option<()> {
    c.hour = cur.digits(2)?;
    cur.eat(b':').then_some(())?;
    c.minute = cur.digits(2)?;
    cur.eat(b':').then_some(())?;
    c.second = cur.digits(2)?;
    if matches!(cur.peek(), Some(b'.' | b',')) && cur.peek_at(1).is_some_and(|d| d.is_ascii_digit())
    {
        cur.advance(1);
        c.nanos = cur.fraction_nanos()?;
    }
    Some(())
}

/// Reads an ISO 8601 / RFC 3339 date-time at the cursor: `YYYY-MM-DD`, then `T`, `t` or one
/// space, `HH:MM:SS`, an optional fraction (`.` or `,`), an optional `Z` or `±HH:MM` / `±HHMM`.
/// No offset means UTC. `None` (cursor unchanged) when the text does not have that shape;
/// `Some(None)` when it has the shape but a value is out of range.
pub(crate) fn read_iso(cur: &mut Cursor<'_>) -> Option<Option<Timestamp>> {
    let mut k = *cur;
    let mut c = Civil {
        year: i64::from(k.digits(4)?),
        ..Civil::default()
    };
    k.eat(b'-').then_some(())?;
    c.month = k.digits(2)?;
    k.eat(b'-').then_some(())?;
    c.day = k.digits(2)?;
    if !(k.eat(b'T') || k.eat(b't') || k.eat(b' ')) {
        return None;
    }
    read_hms(&mut k, &mut c)?;
    match k.peek() {
        Some(b'Z' | b'z') => k.advance(1),
        Some(sign @ (b'+' | b'-')) => {
            let mut o = k;
            o.advance(1);
            if let Some(h) = o.digits(2) {
                o.eat(b':');
                if let Some(m) = o.digits(2) {
                    let secs = (h * 3600 + m * 60) as i32;
                    c.offset_secs = if sign == b'-' { -secs } else { secs };
                    k = o;
                }
            }
        }
        _ => {}
    }
    *cur = k;
    Some(c.to_timestamp())
}

/// A whole field that should be a timestamp: RFC 3339 / ISO text, or epoch seconds,
/// milliseconds, microseconds or nanoseconds written as digits (see [`from_epoch_f64`]).
pub fn parse_text(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let mut cur = Cursor::new(s);
    if let Some(ts) = read_iso(&mut cur) {
        return if cur.is_empty() { ts } else { None };
    }
    if let Ok(n) = s.parse::<i64>() {
        return from_epoch_int(n);
    }
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return s.parse::<f64>().ok().and_then(from_epoch_f64);
    }
    None
}

/// An epoch number; the unit is guessed from the magnitude: below 1e11 seconds, below 1e14
/// milliseconds, below 1e17 microseconds, else nanoseconds (so dates 1973..5138 in seconds).
pub fn from_epoch_f64(n: f64) -> Option<Timestamp> {
    if !n.is_finite() {
        return None;
    }
    let a = n.abs();
    let nanos = if a < 1e11 {
        n * 1e9
    } else if a < 1e14 {
        n * 1e6
    } else if a < 1e17 {
        n * 1e3
    } else {
        n
    };
    if nanos.abs() >= 9.2e18 {
        return None;
    }
    Some(Timestamp(nanos.round() as i64))
}

/// An integer epoch, unit guessed as in [`from_epoch_f64`], computed exactly.
pub fn from_epoch_int(n: i64) -> Option<Timestamp> {
    let a = n.unsigned_abs();
    let nanos = if a < 100_000_000_000 {
        n.checked_mul(1_000_000_000)?
    } else if a < 100_000_000_000_000 {
        n.checked_mul(1_000_000)?
    } else if a < 100_000_000_000_000_000 {
        n.checked_mul(1_000)?
    } else {
        n
    };
    Some(Timestamp(nanos))
}

/// Epoch seconds (plus nanoseconds), range-checked.
pub fn from_epoch_secs(secs: u64, nanos: u32) -> Option<Timestamp> {
    let secs = i64::try_from(secs).ok()?;
    secs.checked_mul(NANOS_PER_SEC)?
        .checked_add(i64::from(nanos))
        .map(Timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn civil_round_trip_matches_chrono() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2024-12-31T12:00:00Z",
            "1999-03-01T00:00:00Z",
        ] {
            let t = ts(s);
            assert_eq!(parse_text(s), Some(t), "{s}");
            assert_eq!(year_of(t), s[..4].parse::<i64>().unwrap());
        }
    }

    #[test]
    fn iso_variants() {
        assert_eq!(
            parse_text("2003-10-11T22:14:15.003Z"),
            Some(ts("2003-10-11T22:14:15.003Z"))
        );
        assert_eq!(
            parse_text("2003-08-24T05:14:15.000003-07:00"),
            Some(ts("2003-08-24T12:14:15.000003Z"))
        );
        assert_eq!(
            parse_text("2003-08-24 05:14:15+0200"),
            Some(ts("2003-08-24T03:14:15Z"))
        );
        assert_eq!(
            parse_text("2015-07-29 17:41:44,747"),
            Some(ts("2015-07-29T17:41:44.747Z"))
        );
        assert_eq!(parse_text("2003-02-30T00:00:00Z"), None);
        assert_eq!(parse_text("2003-10-11T22:14:15Zjunk"), None);
        assert_eq!(parse_text("yesterday"), None);
    }

    #[test]
    fn epoch_units_are_guessed() {
        let want = Timestamp::from_secs(1_700_000_000);
        assert_eq!(parse_text("1700000000"), Some(want));
        assert_eq!(parse_text("1700000000000"), Some(want));
        assert_eq!(parse_text("1700000000000000"), Some(want));
        assert_eq!(parse_text("1700000000000000000"), Some(want));
        assert_eq!(
            from_epoch_f64(1_700_000_000.5),
            Some(Timestamp(1_700_000_000_500_000_000))
        );
        assert_eq!(
            from_epoch_int(1_700_000_000_123),
            Some(Timestamp(1_700_000_000_123_000_000))
        );
        assert_eq!(from_epoch_int(i64::MIN), Some(Timestamp(i64::MIN)));
        assert_eq!(from_epoch_int(99_999_999_999_999_999), None);
        assert_eq!(from_epoch_f64(f64::NAN), None);
        assert_eq!(from_epoch_f64(1e30), None);
    }

    #[test]
    fn year_inference_across_new_year() {
        let dec31 = Civil {
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 58,
            ..Civil::default()
        };
        let now = ts("2025-01-01T00:00:05Z");
        assert_eq!(infer_year(dec31, now), Some(ts("2024-12-31T23:59:58Z")));
        // Up to a day ahead (clock skew, timezones) stays in this year.
        let jan1_late = Civil {
            month: 1,
            day: 1,
            hour: 20,
            ..Civil::default()
        };
        assert_eq!(infer_year(jan1_late, now), Some(ts("2025-01-01T20:00:00Z")));
        // Feb 29 in a common year goes back to the last leap year.
        let feb29 = Civil {
            month: 2,
            day: 29,
            ..Civil::default()
        };
        assert_eq!(
            infer_year(feb29, ts("2025-06-01T00:00:00Z")),
            Some(ts("2024-02-29T00:00:00Z"))
        );
        assert_eq!(
            infer_year(
                Civil {
                    month: 13,
                    day: 1,
                    ..Civil::default()
                },
                now
            ),
            None
        );
    }
}
