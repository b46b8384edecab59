//! The timestamp formats a line header may start with, read without allocation.
//!
//! | shape | example |
//! |---|---|
//! | ISO 8601 / RFC 3339 (`T` or space, `.`/`,` fraction of 1-9 digits, `Z`, `±hh:mm`, `±hhmm`, a zone abbreviation, or none) | `2024-01-01 10:00:00.123 CET` |
//! | `yyyy/MM/dd HH:mm:ss[.f]` (nginx error, Go `log`) | `2009/11/10 23:00:00` |
//! | `yyyy.MM.dd HH:mm:ss` | `2024.01.01 10:00:00` |
//! | `yyyyMMdd-HH:mm:ss:SSS` (parts maybe unpadded: `:SSS` is a count of milliseconds) | `20240101-10:00:00:123`, `20240101-9:5:7:42` |
//! | `yy/MM/dd HH:mm:ss` (log4j, Hadoop, Spark) | `24/01/01 10:00:00` |
//! | `yyMMdd H:mm:ss` (MySQL 5.5 and older, the hour blank-padded) | `240101  9:05:00` |
//! | `M/d/yyyy h:mm:ss AM` (Windows) | `1/2/2024 3:04:05 PM` |
//! | `MM-dd HH:mm:ss.SSS` (logcat, year inferred) | `01-02 15:04:05.123` |
//! | `dd/MMM/yyyy:HH:mm:ss Z` and `dd/MMM/yyyy HH:mm:ss` | `10/Oct/2000:13:55:36 -0700` |
//! | `dd Mmm yyyy HH:mm:ss.SSS` (Redis) | `01 Jan 2024 10:00:00.123` |
//! | `EEE MMM dd HH:mm:ss[.f] yyyy` (ctime) and `MMM dd HH:mm:ss` (RFC 3164, year inferred) | `Mon Jan  1 10:00:00 2024` |
//! | `HH:mm:ss[.f]` alone (logback's default): today in the source's zone, or yesterday when that is more than an hour ahead | `10:00:00.123` |
//! | epoch seconds (10 digits, optional fraction) or milliseconds (13 digits), 2000 .. now + 1 day | `1704103200.5` |
//!
//! A time without a zone is in the context's default offset (UTC unless configured).

use loglynx_core::Timestamp;

use super::super::record::ParseContext;
use super::super::scan::Cursor;
use super::super::timestamp::{from_epoch_int, infer_year, month_from_abbr, read_hms, Civil};

/// 2000-01-01T00:00:00Z: epoch numbers before it are not taken as times.
const EPOCH_FLOOR_SECS: i64 = 946_684_800;

/// Reads a timestamp at the cursor. `None` (cursor unchanged) when no known shape is there;
/// `Some(None)` when the shape is there but a value is out of range (month 13).
pub(crate) fn read(cur: &mut Cursor<'_>, ctx: &ParseContext) -> Option<Option<Timestamp>> {
    let mut k = *cur;
    let first = k.peek()?;
    let ts = if first.is_ascii_digit() {
        numeric(&mut k, ctx)?
    } else if first.is_ascii_alphabetic() {
        named(&mut k, ctx)?
    } else {
        return None;
    };
    *cur = k;
    Some(ts)
}

fn digit_run(k: &Cursor<'_>) -> usize {
    let b = k.bytes();
    b[k.pos().min(b.len())..]
        .iter()
        .take(20)
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// A civil time with or without a year or zone, resolved against the context.
fn resolve(
    mut c: Civil,
    year_known: bool,
    zone_known: bool,
    ctx: &ParseContext,
) -> Option<Timestamp> {
    if !zone_known {
        c.offset_secs = ctx.utc_offset_secs;
    }
    if year_known {
        c.to_timestamp()
    } else {
        infer_year(c, ctx.now)
    }
}

fn numeric(k: &mut Cursor<'_>, ctx: &ParseContext) -> Option<Option<Timestamp>> {
    let n = digit_run(k);
    let after = k.peek_at(n);
    match (n, after) {
        (4, Some(sep @ (b'-' | b'/' | b'.'))) => {
            let mut c = Civil {
                year: i64::from(k.digits(4)?),
                ..Civil::default()
            };
            k.advance(1);
            c.month = k.digits(2)?;
            k.eat(sep).then_some(())?;
            c.day = k.digits(2)?;
            let iso = sep == b'-';
            if !(k.eat(b' ') || (iso && (k.eat(b'T') || k.eat(b't')))) {
                return None;
            }
            read_hms(k, &mut c)?;
            let zone = if iso { zone(k, &mut c) } else { false };
            Some(resolve(c, true, zone, ctx))
        }
        (8, Some(b'-')) => {
            let mut c = Civil {
                year: i64::from(k.digits(4)?),
                month: k.digits(2)?,
                day: k.digits(2)?,
                ..Civil::default()
            };
            // Writers of this shape print each part as a number, without padding
            // (`20240101-9:5:7:42`): hour, minute and second take one or two digits, and the
            // milliseconds after a `:` are a count (`:42` is 42 ms), not a fraction.
            k.advance(1);
            c.hour = k.digits_1_2()?;
            k.eat(b':').then_some(())?;
            c.minute = k.digits_1_2()?;
            k.eat(b':').then_some(())?;
            c.second = k.digits_1_2()?;
            if k.peek_at(1).is_some_and(|d| d.is_ascii_digit()) {
                if k.peek() == Some(b':') {
                    k.advance(1);
                    let n = digit_run(k);
                    if n > 3 {
                        return None;
                    }
                    c.nanos = k.digits(n)? * 1_000_000;
                } else if matches!(k.peek(), Some(b'.' | b',')) {
                    k.advance(1);
                    c.nanos = k.fraction_nanos()?;
                }
            }
            Some(resolve(c, true, false, ctx))
        }
        (6, Some(b' ')) => {
            // `yymmdd HH:mm:ss`, the hour padded with a blank (MySQL 5.5's error log:
            // `140101  9:05:00`). Six digits that are not a date are no time here.
            let mut c = Civil {
                year: 2000 + i64::from(k.digits(2)?),
                month: k.digits(2)?,
                day: k.digits(2)?,
                ..Civil::default()
            };
            if !(1..=12).contains(&c.month) || !(1..=31).contains(&c.day) || !(1..=2).contains(&k.skip_spaces()) {
                return None;
            }
            c.hour = k.digits_1_2()?;
            k.eat(b':').then_some(())?;
            c.minute = k.digits(2)?;
            k.eat(b':').then_some(())?;
            c.second = k.digits(2)?;
            Some(resolve(c, true, false, ctx))
        }
        (1 | 2, Some(b'/')) => slashed(k, n, ctx),
        (2, Some(b':')) => {
            let mut c = Civil::default();
            read_hms(k, &mut c)?;
            Some(time_of_day(c, ctx))
        }
        (2, Some(b'-')) => {
            let mut c = Civil {
                month: k.digits(2)?,
                ..Civil::default()
            };
            k.advance(1);
            c.day = k.digits(2)?;
            k.eat(b' ').then_some(())?;
            read_hms(k, &mut c)?;
            Some(resolve(c, false, false, ctx))
        }
        (1 | 2, Some(b' ')) => {
            // dd Mmm yyyy HH:mm:ss (Redis)
            let mut c = Civil {
                day: k.digits_1_2()?,
                ..Civil::default()
            };
            k.advance(1);
            c.month = month_from_abbr(k.bytes().get(k.pos()..k.pos() + 3)?)?;
            k.advance(3);
            k.eat(b' ').then_some(())?;
            c.year = i64::from(k.digits(4)?);
            k.eat(b' ').then_some(())?;
            read_hms(k, &mut c)?;
            Some(resolve(c, true, false, ctx))
        }
        (10 | 13, None | Some(b' ' | b'.' | b']' | b',' | b'|')) => {
            let v = i64::try_from(k.uint()?).ok()?;
            let mut ts = from_epoch_int(v)?;
            if n == 10 && k.peek() == Some(b'.') && k.peek_at(1).is_some_and(|d| d.is_ascii_digit())
            {
                k.advance(1);
                ts.0 = ts.0.checked_add(i64::from(k.fraction_nanos()?))?;
            }
            let secs = ts.0.div_euclid(1_000_000_000);
            let ceiling = ctx.now.0.div_euclid(1_000_000_000).saturating_add(86_400);
            (EPOCH_FLOOR_SECS..=ceiling)
                .contains(&secs)
                .then_some(Some(ts))
        }
        _ => None,
    }
}

/// A time of day without a date: on the day of `now` in the source's zone, or the day before
/// when that is more than an hour ahead of `now` (a line written just before midnight).
fn time_of_day(c: Civil, ctx: &ParseContext) -> Option<Timestamp> {
    const HOUR: i64 = 3_600 * 1_000_000_000;
    const DAY: i64 = 24 * HOUR;
    if c.hour > 23 || c.minute > 59 || c.second > 60 {
        return None;
    }
    let offset = i64::from(ctx.utc_offset_secs) * 1_000_000_000;
    let local_now = ctx.now.0.checked_add(offset)?;
    let midnight = local_now.div_euclid(DAY) * DAY;
    let of_day =
        (i64::from(c.hour) * 3600 + i64::from(c.minute) * 60 + i64::from(c.second.min(59)))
            * 1_000_000_000
            + i64::from(c.nanos);
    let mut local = midnight + of_day;
    if local > local_now + HOUR {
        local -= DAY;
    }
    Some(Timestamp(local - offset))
}

/// `yy/MM/dd HH:mm:ss`, `M/d/yyyy h:mm:ss[ AM|PM]`, `dd/MMM/yyyy:HH:mm:ss[ ±hhmm]`.
fn slashed(k: &mut Cursor<'_>, n: usize, ctx: &ParseContext) -> Option<Option<Timestamp>> {
    let a = k.digits(n)?;
    k.advance(1);
    if let Some(month) = k
        .bytes()
        .get(k.pos()..k.pos() + 3)
        .and_then(month_from_abbr)
    {
        k.advance(3);
        k.eat(b'/').then_some(())?;
        let mut c = Civil {
            year: i64::from(k.digits(4)?),
            month,
            day: a,
            ..Civil::default()
        };
        if !(k.eat(b':') || k.eat(b' ')) {
            return None;
        }
        read_hms(k, &mut c)?;
        let mut z = *k;
        let zoned = z.eat(b' ') && zone(&mut z, &mut c);
        if zoned {
            *k = z;
        }
        return Some(resolve(c, true, zoned, ctx));
    }
    let b = k.digits_1_2()?;
    k.eat(b'/').then_some(())?;
    let m = digit_run(k);
    let mut c = Civil::default();
    if m == 2 && n == 2 {
        (c.year, c.month, c.day) = (2000 + i64::from(a), b, k.digits(2)?);
        k.eat(b' ').then_some(())?;
        read_hms(k, &mut c)?;
        return Some(resolve(c, true, false, ctx));
    }
    if m != 4 {
        return None;
    }
    (c.year, c.month, c.day) = (i64::from(k.digits(4)?), a, b);
    k.eat(b' ').then_some(())?;
    c.hour = k.digits_1_2()?;
    k.eat(b':').then_some(())?;
    c.minute = k.digits(2)?;
    k.eat(b':').then_some(())?;
    c.second = k.digits(2)?;
    let mut p = *k;
    if p.eat(b' ') {
        let am = p.eat_str("AM") || p.eat_str("am");
        let pm = !am && (p.eat_str("PM") || p.eat_str("pm"));
        if (am || pm) && matches!(p.peek(), None | Some(b' ' | b',')) {
            if c.hour == 0 || c.hour > 12 {
                return Some(None);
            }
            c.hour = c.hour % 12 + if pm { 12 } else { 0 };
            *k = p;
        }
    }
    Some(resolve(c, true, false, ctx))
}

/// `EEE MMM dd HH:mm:ss[.f] yyyy` (ctime) or `MMM dd HH:mm:ss` (year inferred).
fn named(k: &mut Cursor<'_>, ctx: &ParseContext) -> Option<Option<Timestamp>> {
    let b = k.bytes();
    let p = k.pos();
    let word = b.get(p..p + 3)?;
    if b.get(p + 3) != Some(&b' ') {
        return None;
    }
    let month = match month_from_abbr(word) {
        Some(m) => m,
        None => {
            if !word.iter().all(u8::is_ascii_alphabetic) {
                return None;
            }
            k.advance(4);
            let m = month_from_abbr(k.bytes().get(p + 4..p + 7)?)?;
            k.advance(3);
            k.eat(b' ').then_some(())?;
            m
        }
    };
    if k.pos() == p {
        k.advance(4);
    }
    k.skip_spaces();
    let mut c = Civil {
        month,
        day: k.digits_1_2()?,
        ..Civil::default()
    };
    k.eat(b' ').then_some(())?;
    read_hms(k, &mut c)?;
    let mut y = *k;
    if y.eat(b' ') && digit_run(&y) == 4 && matches!(y.peek_at(4), None | Some(b' ' | b']')) {
        c.year = i64::from(y.digits(4)?);
        *k = y;
        return Some(resolve(c, true, false, ctx));
    }
    Some(resolve(c, false, false, ctx))
}

/// An optional zone after a time: `Z`, `±hh:mm`, `±hhmm`, `±hh`, ` ±hhmm`, or ` ABBR` (a known
/// abbreviation). Sets the offset and returns `true` when one was read.
fn zone(k: &mut Cursor<'_>, c: &mut Civil) -> bool {
    match k.peek() {
        Some(b'Z' | b'z') => {
            k.advance(1);
            true
        }
        Some(sign @ (b'+' | b'-')) => {
            let mut o = *k;
            o.advance(1);
            let Some(h) = o.digits(2) else { return false };
            o.eat(b':');
            let m = o.digits(2).unwrap_or(0);
            if h > 23 || m > 59 {
                return false;
            }
            let secs = (h * 3600 + m * 60) as i32;
            c.offset_secs = if sign == b'-' { -secs } else { secs };
            *k = o;
            true
        }
        Some(b' ') => {
            // ` +hhmm` after a blank (Python's `%z`: gunicorn's `[2024-01-01 10:00:00 +0000]`).
            let mut o = *k;
            o.advance(1);
            if let Some(sign @ (b'+' | b'-')) = o.peek() {
                o.advance(1);
                let Some(hm) = o.digits(4) else { return false };
                let (h, m) = (hm / 100, hm % 100);
                if h > 23 || m > 59 || !matches!(o.peek(), None | Some(b' ' | b']')) {
                    return false;
                }
                let secs = (h * 3600 + m * 60) as i32;
                c.offset_secs = if sign == b'-' { -secs } else { secs };
                *k = o;
                return true;
            }
            let b = k.bytes();
            let p = k.pos() + 1;
            let n = b[p.min(b.len())..]
                .iter()
                .take(6)
                .take_while(|c| c.is_ascii_uppercase())
                .count();
            if !matches!(b.get(p + n), None | Some(b' ' | b']' | b',')) {
                return false;
            }
            match b.get(p..p + n).and_then(abbr_offset) {
                Some(off) => {
                    c.offset_secs = off;
                    k.advance(1 + n);
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

/// Offsets of the zone abbreviations PostgreSQL and others print (`log_timezone`). Ambiguous
/// ones (IST, CST as China) follow their most common (US / India-free) reading: CST is US Central.
pub(crate) fn abbr_offset(a: &[u8]) -> Option<i32> {
    let h = 3600;
    Some(match a {
        b"UTC" | b"GMT" | b"UT" | b"Z" | b"WET" => 0,
        b"BST" | b"CET" | b"WEST" | b"MET" => h,
        b"CEST" | b"EET" | b"MEST" | b"SAST" => 2 * h,
        b"EEST" | b"MSK" => 3 * h,
        b"IST" => 5 * h + 1800,
        b"HKT" | b"SGT" | b"AWST" => 8 * h,
        b"JST" | b"KST" => 9 * h,
        b"AEST" => 10 * h,
        b"AEDT" => 11 * h,
        b"NZST" => 12 * h,
        b"NZDT" => 13 * h,
        b"AST" | b"EDT" => -4 * h,
        b"EST" | b"CDT" => -5 * h,
        b"CST" | b"MDT" => -6 * h,
        b"MST" | b"PDT" => -7 * h,
        b"PST" | b"AKDT" => -8 * h,
        b"AKST" => -9 * h,
        b"HST" => -10 * h,
        _ => return None,
    })
}
