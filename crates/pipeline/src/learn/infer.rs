//! Structure inference from a sample of a source's lines, in the spirit of Elasticsearch's
//! `find_structure`: find how the time at the start of the lines is read, then the delimiter of
//! the header after it, then what each header field holds across the sample, column by column,
//! until a column whose fields are not all of one kind: there the message starts.
//!
//! 1. Time: the generic header's reader when it reads a plausible time (1970 .. now + 1 day) at
//!    the start of 3 in 4 lines, else the candidate strftime format that does
//!    ([`super::infer_format`]). Dates `a/b/yyyy` are read month-first unless some `a` is over
//!    12 (day-first); when every `a` and `b` is <= 12 the order is ambiguous: the reading under
//!    which the lines are in time order wins, then the one not after the file's modification
//!    time, then month-first; the structure is marked ambiguous (flag `ambiguous_timestamp`).
//! 2. Delimiter: `|`, a tab, `;` or ` - ` when every line has at least one after the time and
//!    the fields before the last one every line has are single words (padded or not); else
//!    blanks, with `[...]` kept whole.
//! 3. Columns: for each position, the first kind that 9 in 10 of the lines' fields there fit:
//!    a lone separator, a level word, digits (pid), `[thread]`, `program[pid]:`, a logger
//!    (`a.b.C`, `Name:`, or before a lone `-`), a host before a program; in a delimited header
//!    also a thread-like name (with digits, `main`), another word (logger, then `log.header.N`).
//!    With blanks, the header ends after a logger or a program, or after a `[...]` that
//!    follows a logger without `:` (a request's context, `log.header.N`).
//! 4. The structure is kept when it fits 3 in 4 sample lines and reads more header fields than
//!    format detection on at least half of them; else the time alone is kept when detection
//!    could not read it (or its order was ambiguous), else nothing: detection is enough.

use loglynx_core::{Event, Timestamp};

use crate::parse::{
    column_fits, detect_line, is_host, known_time, next_field, swap_day_month, unwrap_field, Column, ParseContext,
    Structure, TimeReading,
};

/// Header fields looked at, at most.
const MAX_COLUMNS: usize = 8;
/// Delimiters of a delimited header, tried in this order.
const DELIMITERS: [&str; 4] = ["|", "\t", ";", " - "];
const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

fn plausible(t: Option<Timestamp>, ctx: &ParseContext) -> bool {
    t.is_some_and(|t| t.0 >= 0 && t.0 <= ctx.now.0.saturating_add(DAY_NANOS))
}

/// The structure of a file's `lines` (see the module documentation); `None` when detection
/// reads them as well or nothing fits.
pub fn infer(lines: &[&str], ctx: &ParseContext, mtime: Option<Timestamp>) -> Option<Structure> {
    infer_as(lines, ctx, mtime, false)
}

/// The structure of messages behind a header that had the time (a syslog message, a JSON
/// document's `message`): as [`infer`], but kept whenever it fits (detection does not read
/// messages), and the message's own header may have no time ([`TimeReading::Absent`]: a level,
/// a logger or a `[thread]` at the start of 9 in 10 of them).
pub fn infer_message(lines: &[&str], ctx: &ParseContext) -> Option<Structure> {
    infer_as(lines, ctx, None, true)
}

fn infer_as(lines: &[&str], ctx: &ParseContext, mtime: Option<Timestamp>, message: bool) -> Option<Structure> {
    if lines.is_empty() {
        return None;
    }
    if let Some(s) = infer_timed(lines, lines, &[], ctx, mtime, message) {
        return Some(s);
    }
    // The level (maybe a thread) before the time.
    if let Some((lead, rests)) = lead_columns(lines, ctx) {
        if let Some(s) = infer_timed(lines, &rests, &lead, ctx, mtime, message) {
            return Some(s);
        }
    }
    if message {
        return infer_timeless(lines, ctx);
    }
    None
}

/// `orig` with the `lead` fields cut off are `lines`: the time is read at their start.
fn infer_timed(
    orig: &[&str],
    lines: &[&str],
    lead: &[Column],
    ctx: &ParseContext,
    mtime: Option<Timestamp>,
    message: bool,
) -> Option<Structure> {
    let n = lines.len();
    if n == 0 || n * 4 < orig.len() * 3 {
        return None;
    }
    let known = lines.iter().filter(|l| matches!(known_time(l, ctx), Some((t, _)) if plausible(t, ctx))).count();
    let (time, ambiguous_date) = if known * 4 >= n * 3 {
        day_order(lines, ctx, mtime)
    } else if let Some(f) = day_first_evidence(lines, ctx) {
        (f, false)
    } else {
        (TimeReading::Format(super::infer_format(lines, ctx)?.to_string()), false)
    };
    let time_only =
        Structure { lead: lead.to_vec(), time: time.clone(), delimiter: " ".into(), columns: None, ambiguous_date, described: Default::default() };
    let rests: Vec<&str> = lines
        .iter()
        .filter_map(|l| time_only.read_time(l, ctx).filter(|(t, _)| plausible(*t, ctx)).map(|(_, r)| r))
        .collect();
    if rests.len() * 4 < n * 3 {
        return None;
    }
    let (delimiter, width) = delimiter(&rests);
    let columns = columns(&rests, delimiter, width, lead);
    let full = Structure {
        lead: lead.to_vec(),
        time: time.clone(),
        delimiter: delimiter.to_string(),
        columns: Some(columns),
        ambiguous_date,
        described: Default::default(),
    };
    if message {
        return [full, time_only].into_iter().find(|s| fitting(s, orig, ctx) * 4 >= orig.len() * 3);
    }
    if better_than_detection(&full, orig, ctx) {
        return Some(full);
    }
    (time != TimeReading::Known || ambiguous_date || !lead.is_empty()).then_some(time_only)
}

/// Blank-separated fields before the time that 9 in 10 lines have: a level word (not a single
/// letter), then maybe a `[thread]` (not a bracketed time); or a prefix (a name with a letter
/// or one punctuation character, not a level, followed by a time: a file name, a collector's label),
/// then maybe a level; the lines after them, those that have them.
fn lead_columns<'a>(lines: &[&'a str], ctx: &ParseContext) -> Option<(Vec<Column>, Vec<&'a str>)> {
    let need = (lines.len() * 9).div_ceil(10).max(1);
    let mut lead = Vec::new();
    let mut rests: Vec<&str> = lines.to_vec();
    for _ in 0..2 {
        let toks: Vec<Option<(&str, &str)>> = rests.iter().map(|r| next_field(r, " ")).collect();
        let count = |f: &dyn Fn(&str) -> bool| toks.iter().filter(|t| t.is_some_and(|(t, _)| f(t))).count();
        let level = |t: &str| column_fits(Column::Level, t) && unwrap_field(t).len() > 1;
        let thread = |t: &str| {
            t.starts_with('[') && t.ends_with(']') && column_fits(Column::Thread, t) && known_time(t, ctx).is_none()
        };
        // A prefix: a name that is not a level, right before a time (a file name, a
        // collector's label), label `log.prefix`.
        let prefix = |t: &str| {
            (t.bytes().any(|b| b.is_ascii_alphabetic()) || t.len() == 1 && t.as_bytes()[0].is_ascii_punctuation())
                && !column_fits(Column::Level, t)
                && known_time(t, ctx).is_none()
        };
        // Only where detection does not read the line from its start (klog's `I0102 15:04:05`
        // and Redis's `12:M 01 Jan ...` start with their own header).
        let own_header = |l: &str| {
            let mut ev = Event::default();
            detect_line(l, &mut ev, ctx) && !super::unexplained(&ev) && !ev.labels.contains_key("log.prefix")
        };
        let timed = if lead.is_empty() {
            toks.iter()
                .zip(lines)
                .filter(|(t, l)| {
                    t.is_some_and(|(t, r)| {
                        prefix(t)
                            && matches!(known_time(r.trim_start_matches([' ', '\t']), ctx), Some((ts, _)) if plausible(ts, ctx))
                    }) && !own_header(l)
                })
                .count()
        } else {
            0
        };
        let (col, f): (Column, &dyn Fn(&str) -> bool) = if !lead.contains(&Column::Level) && count(&level) >= need {
            (Column::Level, &level)
        } else if lead.is_empty() && timed >= need {
            (Column::Other, &prefix)
        } else if lead.contains(&Column::Level) && !lead.contains(&Column::Thread) && count(&thread) >= need {
            (Column::Thread, &thread)
        } else {
            break;
        };
        lead.push(col);
        rests = toks
            .iter()
            .filter_map(|t| t.filter(|(t, _)| f(t)).map(|(_, r)| r.trim_start_matches([' ', '\t'])))
            .collect();
    }
    (!lead.is_empty()).then_some((lead, rests))
}

/// A message header without a time: its columns from the start, kept when they read a level,
/// or a thread and a logger, on 3 in 4 lines.
fn infer_timeless(lines: &[&str], ctx: &ParseContext) -> Option<Structure> {
    let (delimiter, width) = delimiter(lines);
    let cols = columns(lines, delimiter, width, &[]);
    let has = |c: Column| cols.contains(&c);
    if !(has(Column::Level) || has(Column::Thread) && has(Column::Logger)) {
        return None;
    }
    let s = Structure {
        lead: Vec::new(),
        time: TimeReading::Absent,
        delimiter: delimiter.to_string(),
        columns: Some(cols),
        ambiguous_date: false,
        described: Default::default(),
    };
    (fitting(&s, lines, ctx) * 4 >= lines.len() * 3).then_some(s)
}

/// How many of `lines` the structure reads.
fn fitting(s: &Structure, lines: &[&str], ctx: &ParseContext) -> usize {
    lines.iter().filter(|l| s.apply(l, &mut Event::default(), ctx)).count()
}

/// Known shapes but day-first: lines the generic reader refuses (month 13+) that read with the
/// numbers swapped, 3 in 4 of them.
fn day_first_evidence(lines: &[&str], ctx: &ParseContext) -> Option<TimeReading> {
    let s = Structure {
        lead: Vec::new(),
        time: TimeReading::DayFirst,
        delimiter: " ".into(),
        columns: None,
        ambiguous_date: false,
        described: Default::default(),
    };
    let ok = lines.iter().filter(|l| matches!(s.read_time(l, ctx), Some((t, _)) if plausible(t, ctx))).count();
    (ok * 4 >= lines.len() * 3).then_some(TimeReading::DayFirst)
}

/// Month-first or day-first for `a/b/yyyy` dates the generic reader takes month-first, and
/// whether that was a guess.
fn day_order(lines: &[&str], ctx: &ParseContext, mtime: Option<Timestamp>) -> (TimeReading, bool) {
    let mut pairs = Vec::new();
    for l in lines {
        let Some(sw) = swap_day_month(l) else { continue };
        let body = l.trim_start_matches('[');
        let mut it = body.split('/');
        let (Some(a), Some(b)) = (it.next(), it.next()) else { continue };
        let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else { continue };
        pairs.push((a, b, l, sw));
    }
    if pairs.len() * 2 < lines.len() {
        return (TimeReading::Known, false);
    }
    if pairs.iter().any(|p| p.0 > 12) {
        return (TimeReading::DayFirst, false);
    }
    if pairs.iter().any(|p| p.1 > 12) || pairs.iter().all(|p| p.0 == p.1) {
        return (TimeReading::Known, false);
    }
    let month_first: Vec<i64> = pairs.iter().filter_map(|p| known_time(p.2, ctx)?.0.map(|t| t.0)).collect();
    let day_first: Vec<i64> = pairs.iter().filter_map(|p| known_time(&p.3, ctx)?.0.map(|t| t.0)).collect();
    let ordered = |v: &[i64]| v.windows(2).filter(|w| w[1] >= w[0]).count();
    let (m, d) = (ordered(&month_first), ordered(&day_first));
    let day = if d != m {
        d > m
    } else if let Some(mt) = mtime {
        let after = |v: &[i64]| v.iter().any(|&t| t > mt.0.saturating_add(60 * 1_000_000_000));
        after(&month_first) && !after(&day_first)
    } else {
        false
    };
    (if day { TimeReading::DayFirst } else { TimeReading::Known }, true)
}

/// The delimiter of the header after the time and how many fields every line has before its
/// message; blanks (and [`MAX_COLUMNS`]) when no other delimiter fits.
fn delimiter(rests: &[&str]) -> (&'static str, usize) {
    for d in DELIMITERS {
        let lead = d.trim_matches(' ');
        // Per line: the single-word fields before the last piece (the message may hold the
        // delimiter too, or a field may be a sentence: the header ends before it).
        let mut widths: Vec<usize> = rests
            .iter()
            .map(|r| {
                let r = r.trim_start_matches([' ', '\t']);
                let r = r.strip_prefix(lead).unwrap_or(r);
                let fields: Vec<&str> = r.split(d).collect();
                fields[..fields.len() - 1]
                    .iter()
                    .take_while(|f| {
                        let f = f.trim_matches([' ', '\t']);
                        !f.is_empty() && !f.contains([' ', '\t'])
                    })
                    .count()
            })
            .collect();
        widths.sort_unstable();
        // What 9 in 10 lines have.
        let width = widths.get(widths.len() / 10).copied().unwrap_or(0);
        if width > 0 {
            return (d, width.min(MAX_COLUMNS));
        }
    }
    (" ", MAX_COLUMNS)
}

/// The fields of each line's header (at most `width`), as [`Structure::apply`] cuts them.
fn fields<'a>(rest: &'a str, delim: &str, width: usize) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut cur = rest.trim_start_matches([' ', '\t']);
    if delim != " " {
        cur = cur.strip_prefix(delim.trim_matches(' ')).unwrap_or(cur);
    }
    while out.len() < width {
        if delim == " " {
            let s = cur.trim_start_matches([' ', '\t']);
            if s.is_empty() {
                break;
            }
            let end = if s.starts_with('[') {
                let close = s.find(']').map_or(s.len(), |i| i + 1);
                s[close..].find([' ', '\t']).map_or(s.len(), |i| close + i)
            } else {
                s.find([' ', '\t']).unwrap_or(s.len())
            };
            out.push(&s[..end]);
            cur = &s[end..];
        } else {
            let Some((f, r)) = cur.split_once(delim) else { break };
            out.push(f.trim_matches([' ', '\t']));
            cur = r;
        }
    }
    out
}

fn thread_like(tok: &str) -> bool {
    let t = unwrap_field(tok);
    t.bytes().any(|b| b.is_ascii_digit()) || t.eq_ignore_ascii_case("main") || tok.starts_with('[')
}

fn dotted(tok: &str) -> bool {
    let t = tok.trim_end_matches(':');
    t.len() > 2 && (t.contains('.') || t.contains('$') || t.contains("::") || t.contains('\\')) && !t.ends_with('.')
        && t.bytes().any(|b| b.is_ascii_alphabetic())
        && !t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Decides the columns; see the module documentation.
fn columns(rests: &[&str], delim: &str, width: usize, lead: &[Column]) -> Vec<Column> {
    let rows: Vec<Vec<&str>> = rests.iter().map(|r| fields(r, delim, width)).collect();
    let n = rows.len();
    let need = (n * 9).div_ceil(10).max(1);
    let blanks = delim == " ";
    let at = |j: usize| rows.iter().map(move |r| r.get(j).copied());
    let count = |j: usize, f: &dyn Fn(&str) -> bool| at(j).filter(|t| t.is_some_and(f)).count();
    let mut cols = Vec::new();
    let (mut level, mut pid, mut tid, mut thread, mut logger) =
        (lead.contains(&Column::Level), false, false, lead.contains(&Column::Thread), false);
    // With blanks, after a logger that does not end with `:` only a level may still come
    // (Airflow's `{file.py:12} INFO - msg`).
    let mut closing = false;
    for j in 0..width {
        let all = |f: &dyn Fn(&str) -> bool| count(j, f) >= need;
        let levelish = |t: &str| column_fits(Column::Level, t) && (t.len() > 1 || !blanks || j == 0 || cols.last() == Some(&Column::Pid));
        // A bare number in a blank-separated header is a pid only before more header
        // (a level, a bracket, another number), not a message's first word (Squid's elapsed ms).
        let header_next = |t: &str| {
            column_fits(Column::Level, t) && t.len() > 1 || t.starts_with('[') || column_fits(Column::Tid, t)
        };
        let col = if all(&|t| column_fits(Column::Separator, t)) {
            Column::Separator
        } else if !level && all(&levelish) {
            level = true;
            Column::Level
        } else if closing {
            break;
        } else if !pid
            && all(&|t| column_fits(Column::Pid, t))
            && (!blanks || all(&|t| t.starts_with(['[', '('])) || count(j + 1, &header_next) >= need)
        {
            pid = true;
            Column::Pid
        } else if pid && !tid && all(&|t| column_fits(Column::Tid, t)) {
            tid = true;
            Column::Tid
        } else if blanks
            && !thread
            && all(&|t| t.starts_with('[') && column_fits(Column::Thread, t))
            && (!level || count(j + 1, &|t| t == "-" || (column_fits(Column::Logger, t) && (dotted(t) || t.ends_with(':')))) >= need)
        {
            // After a level, a bracket is the thread only before a logger or `-` (log4j's
            // `%p [%t] %c - %m`); else it starts the message (MySQL's `[MY-010000]`).
            thread = true;
            Column::Thread
        } else if blanks && (!level || cols.last() == Some(&Column::Host)) && all(&is_program_tok) {
            cols.push(Column::Program);
            break;
        } else if blanks && all(&is_host) && j + 1 < width && count(j + 1, &is_program_tok) >= need {
            Column::Host
        } else if blanks
            && !logger
            && all(&|t| column_fits(Column::Logger, t) && (dotted(t) || t.ends_with(':')))
        {
            logger = true;
            let colon = count(j, &|t| t.ends_with(':')) >= need;
            if level || colon {
                cols.push(Column::Logger);
                // A bracket after a logger without `:` closes the header (OpenStack's
                // `nova.api [req-1 user project - - -] msg`, the request's context): another field.
                if !colon && count(j + 1, &|t| t.len() > 2 && t.starts_with('[') && t.ends_with(']')) >= need {
                    cols.push(Column::Other);
                }
                break;
            }
            closing = true;
            Column::Logger
        } else if blanks && !logger && all(&|t| column_fits(Column::Logger, t)) && count(j + 1, &|t| t == "-") >= need {
            logger = true;
            Column::Logger
        } else if !blanks && !thread && count(j, &thread_like) * 2 >= n && all(&|t| column_fits(Column::Thread, t)) {
            thread = true;
            Column::Thread
        } else if !blanks && !logger && all(&|t| column_fits(Column::Logger, t)) {
            logger = true;
            Column::Logger
        } else if !blanks && all(&|t| column_fits(Column::Other, t)) {
            Column::Other
        } else {
            break;
        };
        cols.push(col);
        if closing && level {
            break;
        }
    }
    // A logger without `:` that no level followed was a guess (java.util.logging's
    // `com.acme.Main run` is a source and method): the message starts there.
    if closing && !level && cols.last() == Some(&Column::Logger) {
        cols.pop();
    }
    // Blanks: trailing separators belong to the message's lead (` - msg`).
    while blanks && cols.last() == Some(&Column::Separator) {
        cols.pop();
    }
    cols
}

fn is_program_tok(t: &str) -> bool {
    column_fits(Column::Program, t)
}

/// Header fields an event got beyond its time and message.
fn header_fields(ev: &Event) -> usize {
    usize::from(ev.level.is_some())
        + usize::from(ev.pid.is_some())
        + usize::from(ev.process_name.is_some())
        + ev
            .labels
            .keys()
            .filter(|k| {
                matches!(k.as_str(), "process.thread.name" | "process.thread.id" | "log.logger") || k.starts_with("log.header.")
            })
            .count()
        + usize::from(ev.host.is_some())
}

/// The structure fits 3 in 4 lines and reads more than detection on half of them.
fn better_than_detection(s: &Structure, lines: &[&str], ctx: &ParseContext) -> bool {
    let (mut fit, mut better) = (0, 0);
    for l in lines {
        let mut with = Event::default();
        if !s.apply(l, &mut with, ctx) {
            continue;
        }
        fit += 1;
        let mut without = Event::default();
        let detected = detect_line(l, &mut without, ctx) && !without.flags.bad_timestamp;
        if !detected || header_fields(&with) > header_fields(&without) {
            better += 1;
        }
    }
    fit * 4 >= lines.len() * 3 && better * 2 >= lines.len()
}
