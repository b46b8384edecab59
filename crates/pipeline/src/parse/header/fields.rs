//! The parts of a header after its timestamp: level, pid / thread, logger; where the message
//! starts.

use super::super::level;
use super::super::scan::Cursor;

/// The longest `[...]` the header scan takes as a field (a thread name, a level).
const MAX_BRACKET: usize = 256;

/// What the header scan found (borrowed from the line).
#[derive(Debug, Default)]
pub(crate) struct Header<'a> {
    pub(crate) level: Option<&'static str>,
    pub(crate) pid: Option<u32>,
    pub(crate) tid: Option<u64>,
    pub(crate) thread: Option<&'a str>,
    pub(crate) logger: Option<&'a str>,
}

/// A level word as a header writes it: the words of [`level::normalize`], plus `LOG` and
/// `NOTE` / `SYSTEM` (PostgreSQL, MySQL: `info`), `DEBUG1`..`DEBUG5` and MongoDB's `D1`..`D5`
/// (`debug`), `V` (`trace`), `F` (`crit`), `C` (`crit`) and `N` (`notice`) as single letters.
pub(crate) fn level_word(w: &str) -> Option<&'static str> {
    if let Some(l) = level::normalize(w) {
        return Some(l);
    }
    let b = w.as_bytes();
    match b {
        [b'V' | b'v'] => Some("trace"),
        [b'F' | b'f' | b'C' | b'c'] => Some("crit"),
        [b'N'] => Some("notice"),
        [b'D', b'1'..=b'5'] => Some("debug"),
        _ if w.eq_ignore_ascii_case("log")
            || w.eq_ignore_ascii_case("note")
            || w.eq_ignore_ascii_case("system") =>
        {
            Some("info")
        }
        _ if b.len() == 6
            && b[..5].eq_ignore_ascii_case(b"debug")
            && (b'1'..=b'5').contains(&b[5]) =>
        {
            Some("debug")
        }
        _ => None,
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'$' | b'_' | b'-' | b'/' | b'#')
        })
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Separators between header parts: blanks, `,`, and a lone `-`, `--`, `---` or `|`.
fn skip_seps(cur: &mut Cursor<'_>) -> usize {
    let start = cur.pos();
    loop {
        cur.skip_spaces();
        let mut k = *cur;
        if k.eat(b',') || k.eat(b'|') {
            *cur = k;
            continue;
        }
        let dashes = (0..3).take_while(|&i| k.peek_at(i) == Some(b'-')).count();
        if dashes > 0 && matches!(k.peek_at(dashes), None | Some(b' ')) {
            cur.advance(dashes);
            continue;
        }
        break;
    }
    cur.pos() - start
}

/// The next token (up to a space), without moving the cursor.
fn next_token<'a>(cur: &Cursor<'a>) -> &'a str {
    let mut k = *cur;
    k.token()
}

/// Scans the header after the timestamp; leaves the cursor at the message.
pub(crate) fn scan<'a>(cur: &mut Cursor<'a>) -> Header<'a> {
    let mut h = Header::default();
    let mut numbers: [Option<u64>; 2] = [None, None];
    let mut letter_after_numbers = false;
    // Where the first part read before any level (a number, `[pid]`, `[thread]`) started:
    // without a level after it, it was the start of the message.
    let mut pre_level_at: Option<Cursor<'a>> = None;
    // MongoDB's component came after the level: a `[thread]` follows it.
    let mut component = false;
    for _ in 0..8 {
        let gap = skip_seps(cur);
        let save = *cur;
        if cur.is_empty() {
            break;
        }
        if cur.peek() == Some(b'[') {
            let mut k = *cur;
            k.advance(1);
            // Up to 256 bytes: Java names threads after their work (`DataStreamer for file
            // /tmp/... block BP-...:blk_...`).
            let Some(inner) = k.until(b']').filter(|s| s.len() <= MAX_BRACKET && !s.is_empty()) else {
                break;
            };
            let lv = level_word(inner).filter(|_| inner.len() > 1);
            if h.level.is_none() && lv.is_none() && pre_level_at.is_none() {
                pre_level_at = Some(save);
            }
            if h.level.is_none() && lv.is_some() {
                h.level = lv;
            } else if all_digits(inner) && h.pid.is_none() && h.level.is_none() {
                h.pid = inner.parse().ok();
            } else if h.thread.is_none()
                && numbers[0].is_none()
                && !inner.trim().is_empty()
                && (h.level.is_none() || component || thread_then_logger(&k))
            {
                h.thread = Some(inner.trim());
            } else {
                *cur = save;
                break;
            }
            *cur = k;
            continue;
        }
        let tok = next_token(cur);
        let bare = tok.trim_end_matches(':');
        let colon = bare.len() < tok.len();
        if h.level.is_none() {
            if all_digits(tok) {
                pre_level_at.get_or_insert(save);
                match numbers {
                    [None, _] => numbers[0] = tok.parse().ok(),
                    [Some(_), None] => numbers[1] = tok.parse().ok(),
                    _ => break,
                }
                cur.advance(tok.len());
                continue;
            }
            let single = bare.len() == 1;
            let lv = level_word(bare)
                .filter(|_| !single || numbers[0].is_some() || next_is_component(cur, tok.len()));
            if let Some(l) = lv {
                h.level = Some(l);
                letter_after_numbers = single && numbers[0].is_some();
                cur.advance(tok.len());
                if colon {
                    skip_seps(cur);
                    break;
                }
                if bare.len() <= 2 && numbers[0].is_none() {
                    // MongoDB: `I NETWORK  [conn1] msg`: the component is the logger.
                    let mut k = *cur;
                    k.skip_spaces();
                    let comp = next_token(&k);
                    if comp.len() >= 2 && comp.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                    {
                        k.advance(comp.len());
                        h.logger = Some(comp);
                        component = true;
                        *cur = k;
                    }
                }
                continue;
            }
            // `logger - LEVEL - msg` (Python logging's common format).
            if is_ident(tok) {
                let mut k = *cur;
                k.advance(tok.len());
                if k.eat_str(" - ")
                    && level_word(next_token(&k)).is_some_and(|_| next_token(&k).len() > 1)
                {
                    h.logger = Some(tok);
                    *cur = k;
                    continue;
                }
            }
            *cur = save;
            break;
        }
        // After the level.
        if all_digits(tok) && h.pid.is_none() && h.logger.is_none() {
            h.pid = tok.parse().ok();
            cur.advance(tok.len());
            continue;
        }
        // nginx: `1234#5678: *9 msg`.
        if let Some((p, t)) = tok.strip_suffix(':').and_then(|t| t.split_once('#')) {
            if h.pid.is_none() && all_digits(p) && all_digits(t) {
                h.pid = p.parse().ok();
                h.tid = t.parse().ok();
                cur.advance(tok.len());
                cur.skip_spaces();
                break;
            }
        }
        if h.logger.is_none() {
            if let Some(after) = logger_at(cur, letter_after_numbers, gap) {
                h.logger = Some(after.0);
                *cur = after.1;
                break;
            }
        }
        cur.skip_spaces();
        break;
    }
    if let (None, Some(at)) = (h.level, pre_level_at) {
        *cur = at;
        return Header::default();
    }
    match numbers {
        [Some(p), Some(t)] => {
            h.pid = u32::try_from(p).ok();
            h.tid = Some(t);
        }
        [Some(t), None] => h.tid = Some(t),
        _ => {}
    }
    h
}

/// A run of brackets with no blank between them after a bracketed time (Elasticsearch's
/// `[time][INFO ][o.e.n.Node     ] msg`, Envoy's `[time][12][info][upstream] msg`): each
/// bracket is one header field, padded or not, and the message starts after the run. The
/// first level word is the level; digits are the pid; another field is the thread before the
/// level and the logger after it (a second one of either ends the header). `None` (cursor
/// unchanged) when the run holds no level or is not followed by a blank or the end.
pub(crate) fn bracket_run<'a>(cur: &mut Cursor<'a>) -> Option<Header<'a>> {
    let mut k = *cur;
    let mut h = Header::default();
    for _ in 0..8 {
        if !k.eat(b'[') {
            break;
        }
        let inner = k.until(b']')?.trim();
        if inner.is_empty() || inner.len() > 128 {
            return None;
        }
        if let Some(l) = level_word(inner).filter(|_| h.level.is_none()) {
            h.level = Some(l);
        } else if all_digits(inner) && h.pid.is_none() {
            h.pid = inner.parse().ok();
        } else if h.level.is_none() && h.thread.is_none() {
            h.thread = Some(inner);
        } else if h.level.is_some() && h.logger.is_none() && is_ident(inner) {
            h.logger = Some(inner);
        } else {
            return None;
        }
    }
    h.level?;
    if !matches!(k.peek(), None | Some(b' ' | b'\t')) {
        return None;
    }
    while matches!(k.peek(), Some(b' ' | b'\t')) {
        k.advance(1);
    }
    *cur = k;
    Some(h)
}

/// After `[thread]` that follows a level: a logger or ` - ` comes next (log4j's
/// `%p [%t] %c - %m`), so the bracket is the thread and not the start of the message.
fn thread_then_logger(k: &Cursor<'_>) -> bool {
    let mut k = *k;
    if k.skip_spaces() == 0 {
        return false;
    }
    k.peek() == Some(b'-') && k.peek_at(1) == Some(b' ') || logger_at(&k, false, 1).is_some()
}

/// After a level: the next token is a component or upper-case word (MongoDB `I NETWORK`), or a
/// bracket: a single letter there is a level, not the start of a sentence.
fn next_is_component(cur: &Cursor<'_>, len: usize) -> bool {
    let mut k = *cur;
    k.advance(len);
    if k.skip_spaces() == 0 {
        return false;
    }
    if k.peek() == Some(b'[') {
        return true;
    }
    let t = next_token(&k);
    t.len() >= 2 && t.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// A Java (or Kotlin, Scala) throwable class name: its last segment is a capitalised name
/// ending with `Exception`, `Error` or `Throwable`, the convention `Throwable.toString` prints
/// before `: message`.
fn throwable(name: &str) -> bool {
    let last = name.rsplit(['.', '$']).next().unwrap_or(name);
    last.len() > 5
        && last.as_bytes()[0].is_ascii_uppercase()
        && ["Exception", "Error", "Throwable"].iter().any(|s| last.ends_with(s))
}

/// A logger at the cursor: `a.b.C: msg`, `a.b.C - msg`, loguru's `name:function:line - msg`,
/// `Tag: msg` after a logcat letter, or a column (`CBS    msg`, two or more blanks before and
/// after). Returns it and the cursor at the
/// message.
fn logger_at<'a>(cur: &Cursor<'a>, logcat: bool, gap: usize) -> Option<(&'a str, Cursor<'a>)> {
    let mut k = *cur;
    if logcat {
        // Tags may be padded before the colon: `Tag     : msg`.
        let mut t = k;
        let tag = t.until(b':')?;
        let tag = tag.trim_end();
        if tag.is_empty() || tag.len() > 64 || tag.contains("  ") {
            return None;
        }
        t.skip_spaces();
        return Some((tag, t));
    }
    let tok = next_token(&k);
    let bare = tok.trim_end_matches(':');
    if !is_ident(bare) {
        // Loguru's `name:function:line - msg` (`shop.cart:save:42`, `__main__:<module>:7`).
        let part = |p: &str| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$' | b'-' | b'<' | b'>'))
        };
        if bare.len() == tok.len() && bare.len() <= 128 && bare.contains(':') && bare.split(':').all(part) {
            k.advance(tok.len());
            if k.eat_str(" - ") {
                k.skip_spaces();
                return Some((bare, k));
            }
        }
        return None;
    }
    k.advance(tok.len());
    let dotted = bare.contains('.') || bare.contains('$');
    if dotted && bare.len() < tok.len() && throwable(bare) {
        // `java.net.ConnectException: refused` is how an exception prints: the message.
        return None;
    }
    if dotted && bare.len() < tok.len() {
        k.skip_spaces();
        return Some((bare, k));
    }
    let blanks = k.skip_spaces();
    if dotted
        && (k.eat_str(": ")
            || k.eat_str("- ")
            || (k.peek() == Some(b':') && k.peek_at(1).is_none()))
    {
        k.eat(b':');
        k.skip_spaces();
        return Some((bare, k));
    }
    if gap >= 2 && blanks >= 2 && bare.len() <= 24 && bare == tok && !k.is_empty() {
        return Some((bare, k));
    }
    None
}
