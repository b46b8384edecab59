//! Multi-line events: continuation lines join the event they belong to (`files.multiline`).
//!
//! The [`Joiner`] sits between the [`LineFramer`](super::reader::LineFramer) and the records.
//! It holds the event being built (its first line and the lines that continued it) until a line
//! that starts another event arrives, a cap is reached, or the file is idle for
//! `files.multiline_timeout`. A line *continues* the held event when
//! - it starts with a blank (space or tab: stack frames, wrapped text), or
//! - it starts with `at `, `Caused by:`, `Suppressed:`, `... N more` (Java), `Traceback (`,
//!   `During handling of the above exception` or `The above exception was` (Python), or
//! - the event's first line starts with a header (a timestamp, a syslog `<PRI>`, a JSON `{`,
//!   see [`looks_like_header`]) and this line does not: an exception line, a pretty-printed
//!   JSON's closing brace. The rule looks only at the event's own first line, so the same
//!   bytes are always cut into the same events, whatever was read before (restarts).
//!
//! Positions: the checkpoint may only record the end of the last *complete* event, so a
//! restart reads the held event again from its first line ([`Joiner::held_start`]).
//!
//! Caps: an event stops at `multiline_max_lines` lines or `multiline_max_bytes` bytes; it is
//! emitted `truncated` (the parser then adds `multiline_truncated`) and the line that did not fit
//! starts the next event, so no line is lost. Lines are joined with `\n` (a `\r` before it is
//! dropped, the event's last `\r` is left to the parser); empty lines are skipped by the framer.

use super::reader::FramedLine;

/// How lines become events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultilineSettings {
    /// Join continuation lines; `false`: one line, one event.
    pub enabled: bool,
    /// Most lines in one event.
    pub max_lines: usize,
    /// Most bytes in one event (its lines and the `\n` between them).
    pub max_bytes: usize,
}

/// One event: its first line's offset, its bytes, where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Offset of the first line.
    pub start: u64,
    /// The lines, joined with `\n`.
    pub body: Vec<u8>,
    /// A line of it was cut at `max_line`, or the event at a cap.
    pub truncated: bool,
    /// Lines in the event.
    pub lines: usize,
}

#[derive(Debug)]
struct Held {
    ev: Joined,
    /// The first line starts with a header: lines without one continue it.
    headed: bool,
    /// A Python traceback is open: its exception line (not indented) continues it once.
    traceback: bool,
}

/// Joins continuation lines; see the module documentation.
#[derive(Debug)]
pub struct Joiner {
    settings: MultilineSettings,
    held: Option<Held>,
}

impl Joiner {
    pub fn new(settings: MultilineSettings) -> Self {
        Joiner { settings, held: None }
    }

    /// Offset of the first line of the held event, if one is held: a checkpoint must not go
    /// past it.
    pub fn held_start(&self) -> Option<u64> {
        self.held.as_ref().map(|h| h.ev.start)
    }

    /// Takes one line; calls `out` for the event it completes, if any.
    pub fn push(&mut self, line: FramedLine, mut out: impl FnMut(Joined)) {
        if !self.settings.enabled {
            out(Joined { start: line.start, body: line.body, truncated: line.truncated, lines: 1 });
            return;
        }
        let body = line.body;
        if let Some(h) = &mut self.held {
            if continues(h, &body) {
                let fits = h.ev.lines < self.settings.max_lines
                    && h.ev.body.len() + 1 + body.len() <= self.settings.max_bytes;
                if fits {
                    if is_traceback_start(&body) {
                        h.traceback = true;
                    } else if h.traceback && !starts_blank(&body) {
                        // The exception line closes the traceback.
                        h.traceback = false;
                    }
                    // A `\r` before a `\n` is the line end of the line before; the last one is
                    // left to the parser, as for a single line.
                    if h.ev.body.last() == Some(&b'\r') {
                        h.ev.body.pop();
                    }
                    h.ev.body.push(b'\n');
                    h.ev.body.extend_from_slice(&body);
                    h.ev.truncated |= line.truncated;
                    h.ev.lines += 1;
                    return;
                }
                // The cap: this event is cut, the line starts the next one.
                h.ev.truncated = true;
            }
        }
        if let Some(h) = self.held.take() {
            out(h.ev);
        }
        let mut ev = Joined { start: line.start, body, truncated: line.truncated, lines: 1 };
        if ev.body.len() > self.settings.max_bytes {
            ev.body.truncate(self.settings.max_bytes);
            ev.truncated = true;
        }
        let headed = looks_like_header(&ev.body);
        let traceback = is_traceback_start(&ev.body);
        self.held = Some(Held { ev, headed, traceback });
    }

    /// Emits the held event (idle file, close, truncation).
    pub fn flush(&mut self) -> Option<Joined> {
        self.held.take().map(|h| h.ev)
    }
}

/// Cuts the first lines of a file (`data`, from offset 0) into events as the file source does:
/// lines of at most `max_line` bytes, joined per `settings`, up to `max_lines` lines. What is
/// held at the end (an unfinished line, the last event) is emitted, as at an idle file.
pub fn split_events(
    data: &[u8],
    max_line: usize,
    settings: MultilineSettings,
    max_lines: usize,
) -> Vec<Joined> {
    let mut framer = super::reader::LineFramer::new(max_line, 0);
    let mut joiner = Joiner::new(settings);
    let mut out = Vec::new();
    let used = framer.feed(data, max_lines, |l| joiner.push(l, |e| out.push(e)));
    if used == data.len() {
        if let Some(l) = framer.flush() {
            joiner.push(l, |e| out.push(e));
        }
    }
    out.extend(joiner.flush());
    out
}

fn starts_blank(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

fn is_traceback_start(line: &[u8]) -> bool {
    line.starts_with(b"Traceback (")
}

/// Whether `line` continues the held event `h`.
fn continues(h: &Held, line: &[u8]) -> bool {
    if starts_blank(line) {
        return true;
    }
    const MARKS: [&[u8]; 6] = [
        b"at ",
        b"Caused by:",
        b"Suppressed:",
        b"Traceback (",
        b"During handling of the above exception",
        b"The above exception was",
    ];
    if MARKS.iter().any(|m| line.starts_with(m)) || is_more(line) {
        return true;
    }
    // `ValueError: x` after the frames of a traceback.
    if h.traceback && !looks_like_header(line) {
        return true;
    }
    h.headed && !looks_like_header(line)
}

/// `... 12 more` (Java's elided frames).
fn is_more(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"... ") else {
        return false;
    };
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    n > 0 && rest[n..].starts_with(b" more")
}

/// Whether a line starts the way log lines with a header do: a timestamp (a digit, a month or
/// weekday name, maybe in `[...]`), a syslog `<PRI>`, a JSON object, a klog `I0102 ` or a
/// Ruby `I, [` prefix. A shape test, not a parse: sources frame records, the pipeline parses
/// them.
pub fn looks_like_header(line: &[u8]) -> bool {
    let b = match line.first() {
        Some(b'[' | b'<') => &line[1..],
        Some(b'{') => return true,
        _ => line,
    };
    let Some(&c) = b.first() else {
        return false;
    };
    if c.is_ascii_digit() {
        return true;
    }
    if !c.is_ascii_uppercase() {
        return false;
    }
    // klog `I0102 15:04:05` and Ruby's `I, [2024-...`.
    if b"IWEFDA".contains(&c) {
        let digits = b[1..].iter().take(4).filter(|d| d.is_ascii_digit()).count();
        if digits == 4 && b.get(5) == Some(&b' ') {
            return true;
        }
        if b[1..].starts_with(b", [") {
            return true;
        }
    }
    const NAMES: [&[u8]; 19] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun",
    ];
    matches!(b.get(3), Some(b' ' | b','))
        && b.get(..3).is_some_and(|w| NAMES.iter().any(|n| n.eq_ignore_ascii_case(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MultilineSettings {
        MultilineSettings { enabled: true, max_lines: 5, max_bytes: 200 }
    }

    /// Feeds `text` line by line (offsets as in the file) and flushes at the end.
    fn join(s: MultilineSettings, text: &str) -> Vec<Joined> {
        let mut j = Joiner::new(s);
        let mut out = Vec::new();
        let mut pos = 0u64;
        for l in text.split_inclusive('\n') {
            let body = l.trim_end_matches('\n');
            if !body.is_empty() {
                j.push(FramedLine { start: pos, body: body.as_bytes().to_vec(), truncated: false }, |e| out.push(e));
            }
            pos += l.len() as u64;
        }
        out.extend(j.flush());
        out
    }

    fn bodies(v: &[Joined]) -> Vec<String> {
        v.iter().map(|e| String::from_utf8_lossy(&e.body).into_owned()).collect()
    }

    #[test]
    fn a_java_trace_joins_its_header_line() {
        let text = "2024-01-01 10:00:00 ERROR Main - failed\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\nCaused by: java.io.IOException: x\n\t... 3 more\n2024-01-01 10:00:01 INFO Main - next\n";
        let v = join(MultilineSettings { max_lines: 100, ..settings() }, text);
        assert_eq!(v.len(), 2, "{:?}", bodies(&v));
        assert_eq!(v[0].lines, 5);
        assert!(bodies(&v)[0].ends_with("\n\t... 3 more"));
        assert_eq!(v[1].start, text.find("2024-01-01 10:00:01").unwrap() as u64);
        assert!(!v[0].truncated);
    }

    #[test]
    fn lines_without_headers_stay_apart_unless_indented() {
        let v = join(settings(), "plain one\nplain two\n  indented\nat x.y(Z.java)\n");
        assert_eq!(bodies(&v), ["plain one", "plain two\n  indented\nat x.y(Z.java)"]);
        // A bare traceback: the exception line closes it, the next line is another event.
        let v = join(settings(), "Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: x\nnext line\n");
        assert_eq!(bodies(&v), ["Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: x", "next line"]);
    }

    #[test]
    fn the_caps_cut_and_the_rest_starts_the_next_event() {
        let text = "Jan  1 10:00:00 h app: start\n a\n b\n c\n d\n e\n f\n";
        let v = join(settings(), text);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].lines, v[0].truncated), (5, true));
        assert_eq!(bodies(&v)[1], " e\n f");
        // Every line is in exactly one event.
        assert_eq!(bodies(&v).join("\n"), text.trim_end());
        let v = join(MultilineSettings { max_bytes: 30, ..settings() }, text);
        assert!(v[0].truncated && v[0].body.len() <= 30, "{:?}", bodies(&v));
        assert_eq!(bodies(&v).join("\n"), text.trim_end());
    }

    #[test]
    fn off_keeps_one_line_per_event_and_crlf_is_trimmed_when_joining() {
        let v = join(MultilineSettings { enabled: false, ..settings() }, "a\n  b\n");
        assert_eq!(bodies(&v), ["a", "  b"]);
        let v = join(settings(), "2024-01-01 x\r\n  y\r\nplain\r\n");
        assert_eq!(bodies(&v), ["2024-01-01 x\n  y\nplain\r"]);
    }

    #[test]
    fn split_events_stops_at_the_line_limit_and_flushes() {
        let data = b"2024-01-01 a\n  b\n2024-01-01 c\n2024-01-01 d\nno newline";
        let v = split_events(data, 100, settings(), 3);
        assert_eq!(bodies(&v), ["2024-01-01 a\n  b", "2024-01-01 c"]);
        let v = split_events(data, 100, settings(), 100);
        assert_eq!(bodies(&v), ["2024-01-01 a\n  b", "2024-01-01 c", "2024-01-01 d\nno newline"]);
    }

    #[test]
    fn header_shapes() {
        for yes in ["2024-01-01", "[2024-01-01", "<13>Oct", "{\"a\":1}", "Jan  1", "Mon Jan", "I0102 15:04:05", "E, [2024", "[Sun Dec 04", "10.0.0.1 - -"] {
            assert!(looks_like_header(yes.as_bytes()), "{yes}");
        }
        for no in ["java.lang.X: y", "ValueError: x", "}", "Exception in thread", "", "Janitor ran", "level=info"] {
            assert!(!looks_like_header(no.as_bytes()), "{no}");
        }
    }
}
