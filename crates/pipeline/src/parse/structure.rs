//! A header structure learned from a source's lines (`crate::learn`): how the time at the start
//! of a line is read, the delimiter between the header's fields, what each field is (level,
//! pid, thread, logger, host, program, another field), and so where the message starts.
//! [`Structure::apply`] reads one line with it; a line that does not fit (no time there, a
//! field that is not what the column holds, a delimiter missing) returns `false` and goes
//! through format detection as usual.
//!
//! Events read with a structure get `event.dataset` `timestamped`, label `log.structure` (the
//! structure, as `loglynx parse` prints it), `log.timestamp_format` when the time has a learned
//! format, and flag `ambiguous_timestamp` when the dates the structure was learned from could be
//! read day-first or month-first (all days and months <= 12).

use loglynx_core::{Event, Timestamp};
use serde::{Deserialize, Serialize};

use super::header::{self, Header};
use super::layout::start_time;
use super::record::ParseContext;
use super::scan::Cursor;

/// What one header field of a structure holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// A level word (`INFO`, `[WARN]`, `E`): `log.level`.
    Level,
    /// Digits, maybe in brackets: `process.pid`.
    Pid,
    /// Digits after a pid: label `process.thread.id`.
    Tid,
    /// `[thread name]` (or any field of a delimited header that reads like a thread name):
    /// label `process.thread.name`.
    Thread,
    /// A logger, class or component (`com.acme.Db`, `Db:`): label `log.logger`.
    Logger,
    /// A host name before a program: `host.name`.
    Host,
    /// `name[pid]:` or `name:`: `process.name`, `service.name`, `process.pid`.
    Program,
    /// A lone separator (`-`, `|`, `:`), skipped.
    Separator,
    /// Another field of a delimited header: label `log.header.N` (N its position from 1).
    Other,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Level => "level",
            Column::Pid => "pid",
            Column::Tid => "tid",
            Column::Thread => "thread",
            Column::Logger => "logger",
            Column::Host => "host",
            Column::Program => "program",
            Column::Separator => "-",
            Column::Other => "field",
        }
    }

    /// Its name before the time, where another field is the line's prefix (label `log.prefix`).
    fn lead_name(self) -> &'static str {
        match self {
            Column::Other => "prefix",
            c => c.name(),
        }
    }
}

/// How the time at the start of a line is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeReading {
    /// The generic header's reader (any known shape).
    Known,
    /// The generic reader with the first two numbers of a `a/b/yyyy` date swapped: day-first.
    DayFirst,
    /// A strftime format (chrono; `%.f` an optional fraction).
    Format(String),
    /// No time: the header starts the line (a syslog or JSON message's own layout behind a
    /// header that had the time). Learned for messages only, never for lines of a file.
    Absent,
}

/// A learned header structure; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structure {
    /// The header's fields before the time, blank-separated (`INFO 2024-...`, `[WARN] [2024-...]`,
    /// Cassandra's `INFO  [main] 2024-...`): a level, a `[thread]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lead: Vec<Column>,
    pub time: TimeReading,
    /// Between the header's fields: `" "` for blanks, else `|`, `;`, a tab or ` - `.
    pub delimiter: String,
    /// The header's fields after the time, in order. `None`: the rest of the header is read
    /// as the generic header reads it (only the time was learned).
    pub columns: Option<Vec<Column>>,
    /// The sample's dates could be read day-first or month-first.
    #[serde(default)]
    pub ambiguous_date: bool,
    /// [`Structure::describe`], made once: every event read with the structure carries it.
    #[serde(skip)]
    pub described: Described,
}

/// What a structure with columns read from a line ([`Structure::read`]), borrowed from it.
pub(crate) struct Reading<'a> {
    /// The time (`None` for a structure without one, [`TimeReading::Absent`]).
    pub(crate) ts: Option<Timestamp>,
    /// Level, pid, tid, thread, logger.
    pub(crate) h: Header<'a>,
    /// A field before the time of no other kind (a file name): label `log.prefix`.
    pub(crate) prefix: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) program: Option<&'a str>,
    /// Other fields: (position from 1, text), label `log.header.N`.
    pub(crate) others: Vec<(usize, &'a str)>,
    /// The message after the header.
    pub(crate) msg: &'a str,
}

/// A structure's description, made at its first use (not part of what the structure is: two
/// structures are equal whether or not theirs was made).
#[derive(Debug, Clone, Default)]
pub struct Described(std::sync::OnceLock<String>);

impl PartialEq for Described {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Described {}

impl Structure {
    /// The structure as a line of text: `time(%d.%m.%Y %H:%M:%S%.f) | level | thread | message`.
    pub fn describe(&self) -> String {
        let time = match &self.time {
            TimeReading::Known => "time".to_string(),
            TimeReading::DayFirst => "time(day-first)".to_string(),
            TimeReading::Format(f) => format!("time({f})"),
            TimeReading::Absent => String::new(),
        };
        let mut parts = Vec::new();
        if !time.is_empty() {
            parts.push(time);
        }
        match &self.columns {
            None => parts.push("header".to_string()),
            Some(cols) => parts.extend(cols.iter().map(|c| c.name().to_string())),
        }
        parts.push("message".to_string());
        let sep = if self.delimiter == " " { " " } else { self.delimiter.as_str() };
        let sep = if sep == "\t" { " \\t " } else { sep };
        let mut s = parts.join(if sep == " " { " " } else { sep });
        // The fields before the time are blank-separated.
        for c in self.lead.iter().rev() {
            s = format!("{} {s}", c.lead_name());
        }
        if self.ambiguous_date {
            s.push_str(" (ambiguous date)");
        }
        s
    }

    /// The header's fields in order, ending with `message`: `["level", "time", "thread",
    /// "logger", "message"]` (`header` for a rest read as the generic header reads it).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.lead.iter().map(|c| c.lead_name()).collect();
        if self.time != TimeReading::Absent {
            out.push("time");
        }
        match &self.columns {
            None => out.push("header"),
            Some(cols) => out.extend(cols.iter().filter(|c| **c != Column::Separator).map(|c| c.name())),
        }
        out.push("message");
        out
    }

    /// `line` cut into the pieces the structure reads, in order, each with the field it is
    /// (`time`, `level`, `thread`, ..., `message`) or `None` for what lies between (blanks,
    /// delimiters, brackets): the pieces joined are the line. `None` when the line does not fit.
    /// For showing a structure (the dashboard's Sources page), not on the ingest path.
    pub fn segments<'a>(&self, line: &'a str, ctx: &ParseContext) -> Option<Vec<(Option<&'static str>, &'a str)>> {
        let mut spans: Vec<(&'static str, &'a str)> = Vec::new();
        let mut cur = line;
        for col in &self.lead {
            let (tok, next) = next_field(cur, " ")?;
            if !fits(*col, tok) {
                return None;
            }
            spans.push((col.lead_name(), tok));
            cur = next.trim_start_matches([' ', '\t']);
        }
        let (ts, rest) = self.read_time(cur, ctx)?;
        let time = cur
            .get(..cur.len().checked_sub(rest.len())?)?
            .trim_start_matches('[')
            .trim_end_matches([' ', '\t', ',', ':', ';', '|', ']']);
        if !time.is_empty() {
            spans.push(("time", time));
        }
        match &self.columns {
            None => {
                ts?;
                let mut ev = Event::default();
                header::after_time(rest, ts, &mut ev, ctx);
                let head = rest.strip_suffix(ev.message.as_str()).unwrap_or(rest);
                let trimmed = head.trim_matches([' ', '\t', ':', '-', '|']);
                if !trimmed.is_empty() {
                    spans.push(("header", trimmed));
                }
                if head.len() < rest.len() && !ev.message.is_empty() {
                    spans.push(("message", &rest[head.len()..]));
                }
            }
            Some(cols) => {
                let mut cur = rest.trim_start_matches([' ', '\t']);
                if self.delimiter != " " {
                    cur = cur.strip_prefix(self.delimiter.trim_matches(' ')).unwrap_or(cur);
                } else if let Some(r) = cur.strip_prefix(": ") {
                    cur = r;
                }
                for col in cols {
                    let (tok, next) = next_field(cur, &self.delimiter)?;
                    cur = next;
                    if !fits(*col, tok) {
                        return None;
                    }
                    if *col != Column::Separator && !tok.is_empty() {
                        spans.push((col.name(), tok));
                    }
                }
                let mut msg = cur.trim_start_matches([' ', '\t']);
                if self.delimiter == " " {
                    for lead in ["- ", ": "] {
                        if let Some(m) = msg.strip_prefix(lead) {
                            msg = m.trim_start_matches(' ');
                            break;
                        }
                    }
                }
                if !msg.is_empty() && msg != "-" && msg != ":" {
                    spans.push(("message", msg));
                }
            }
        }
        // Every span is a slice of `line`: its place is its offset in it.
        let base = line.as_ptr() as usize;
        let mut out = Vec::with_capacity(spans.len() * 2 + 1);
        let mut at = 0;
        for (name, piece) in spans {
            let start = (piece.as_ptr() as usize).checked_sub(base)?;
            let end = start + piece.len();
            if start < at || end > line.len() {
                return None;
            }
            if start > at {
                out.push((None, line.get(at..start)?));
            }
            out.push((Some(name), line.get(start..end)?));
            at = end;
        }
        if at < line.len() {
            out.push((None, line.get(at..)?));
        }
        Some(out)
    }

    /// The strftime format of its time, when it has one.
    pub fn timestamp_format(&self) -> Option<&str> {
        match &self.time {
            TimeReading::Format(f) => Some(f),
            TimeReading::DayFirst | TimeReading::Known | TimeReading::Absent => None,
        }
    }

    /// The time at the start of `line` and the rest; `None` when there is none. The time is
    /// `None` inside when it is out of range.
    pub(crate) fn read_time<'a>(&self, line: &'a str, ctx: &ParseContext) -> Option<(Option<Timestamp>, &'a str)> {
        match &self.time {
            TimeReading::Format(f) => start_time(line, f, ctx),
            TimeReading::Known => known_time(line, ctx),
            TimeReading::Absent => Some((None, line)),
            TimeReading::DayFirst => {
                let swapped = swap_day_month(line)?;
                let (ts, rest) = known_time(&swapped, ctx)?;
                let cut = swapped.len() - rest.len();
                Some((ts, line.get(cut..)?))
            }
        }
    }

    /// The header fields before the time (`lead`), the prefix among them (a field of another
    /// kind: a file name, a collector's label) and the rest of the line; `None` when they do
    /// not fit.
    fn read_lead<'a>(&self, line: &'a str) -> Option<(Header<'a>, Option<&'a str>, &'a str)> {
        let mut h = Header::default();
        let mut prefix = None;
        let mut line = line;
        for col in &self.lead {
            let (tok, next) = next_field(line, " ")?;
            if !fits(*col, tok) {
                return None;
            }
            match col {
                Column::Level => h.level = header::level_word(unwrap(tok).trim_end_matches(':')),
                Column::Thread => h.thread = Some(unwrap(tok)),
                Column::Pid => h.pid = unwrap(tok).parse().ok(),
                Column::Other => prefix = Some(tok),
                _ => {}
            }
            line = next.trim_start_matches([' ', '\t']);
        }
        Some((h, prefix, line))
    }

    /// What a structure with columns reads from `line`, borrowed from it (nothing allocated);
    /// `None` when the line does not fit, or the structure has no columns.
    pub(crate) fn read<'a>(&self, line: &'a str, ctx: &ParseContext) -> Option<Reading<'a>> {
        let cols = self.columns.as_ref()?;
        let (mut h, prefix, line) = self.read_lead(line)?;
        let timeless = self.time == TimeReading::Absent;
        let (ts, rest) = self.read_time(line, ctx)?;
        if ts.is_none() && !timeless {
            // A line whose date the structure cannot read does not fit it (a day-first file
            // read month-first meets day 13): detection reads it, the learner sees the miss.
            return None;
        }
        let mut r = Reading { ts, h: Header::default(), prefix, host: None, program: None, others: Vec::new(), msg: "" };
        let mut cur = rest.trim_start_matches([' ', '\t']);
        if self.delimiter != " " {
            cur = cur.strip_prefix(self.delimiter.trim_matches(' ')).unwrap_or(cur);
        } else if let Some(rest) = cur.strip_prefix(": ") {
            cur = rest;
        }
        for (j, col) in cols.iter().enumerate() {
            let (tok, next) = next_field(cur, &self.delimiter)?;
            cur = next;
            if !fits(*col, tok) {
                return None;
            }
            match col {
                Column::Level => h.level = header::level_word(unwrap(tok).trim_end_matches(':')),
                Column::Pid => h.pid = unwrap(tok).parse().ok(),
                Column::Tid => h.tid = unwrap(tok).parse().ok(),
                Column::Thread => h.thread = Some(unwrap(tok)),
                Column::Logger => h.logger = Some(tok.trim_end_matches(':')),
                Column::Host => r.host = Some(tok),
                Column::Program => {
                    let t = tok.trim_end_matches(':');
                    match t.strip_suffix(']').and_then(|t| t.split_once('[')) {
                        Some((name, pid)) => {
                            r.program = Some(name);
                            h.pid = pid.parse().ok();
                        }
                        None => r.program = Some(t),
                    }
                }
                Column::Separator => {}
                Column::Other => r.others.push((j + 1, tok)),
            }
        }
        let mut msg = cur.trim_start_matches([' ', '\t']);
        if self.delimiter == " " {
            for lead in ["- ", ": "] {
                if let Some(m) = msg.strip_prefix(lead) {
                    msg = m.trim_start_matches(' ');
                    break;
                }
            }
            if msg == "-" || msg == ":" {
                msg = "";
            }
        }
        r.h = h;
        r.msg = msg;
        Some(r)
    }

    /// Fills `ev` when the line fits; `false` (event untouched) otherwise.
    pub(crate) fn apply(&self, line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
        if self.columns.is_none() {
            return self.apply_generic(line, ev, ctx);
        }
        let Some(r) = self.read(line, ctx) else {
            return false;
        };
        let received = ev.timestamp;
        header::fill(ev, r.ts, ctx, &r.h, r.msg);
        if self.time == TimeReading::Absent {
            // No time to read: the event keeps the one it had.
            ev.timestamp = received;
            ev.flags.bad_timestamp = false;
        }
        if let Some(host) = r.host {
            ev.host = Some(host.to_string());
        }
        if let Some(p) = r.program {
            ev.process_name = Some(p.to_string());
            ev.service = Some(p.to_string());
        }
        for (n, v) in r.others {
            ev.labels.insert(format!("log.header.{n}"), v.to_string());
        }
        if let Some(p) = r.prefix {
            ev.labels.insert("log.prefix".to_string(), p.to_string());
        }
        self.label(ev);
        true
    }

    /// [`Structure::apply`] of a structure without columns: the time, then the rest read as
    /// the generic header reader reads it.
    fn apply_generic(&self, line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
        let Some((h, prefix, line)) = self.read_lead(line) else {
            return false;
        };
        let Some((ts, rest)) = self.read_time(line, ctx) else {
            return false;
        };
        if ts.is_none() {
            return false;
        }
        header::after_time(rest, ts, ev, ctx);
        if ev.level.is_none() {
            ev.level = h.level.map(str::to_string);
        }
        if let Some(t) = h.thread {
            ev.labels.entry("process.thread.name".to_string()).or_insert_with(|| t.to_string());
        }
        if let Some(p) = prefix {
            ev.labels.insert("log.prefix".to_string(), p.to_string());
        }
        self.label(ev);
        true
    }

    /// The labels every event read with the structure carries: `(key, value)`, the timestamp
    /// format's only when it has one; and whether its dates' order was a guess.
    pub(crate) fn labels(&self) -> [Option<(&'static str, &str)>; 2] {
        let described = self.described.0.get_or_init(|| self.describe());
        [Some(("log.structure", described.as_str())), self.timestamp_format().map(|f| ("log.timestamp_format", f))]
    }

    fn label(&self, ev: &mut Event) {
        for (k, v) in self.labels().into_iter().flatten() {
            ev.labels.insert(k.to_string(), v.to_string());
        }
        ev.flags.ambiguous_timestamp |= self.ambiguous_date;
    }
}

/// The time at the start of `line` in any known shape (maybe in `[...]`) and the rest.
pub(crate) fn known_time<'a>(line: &'a str, ctx: &ParseContext) -> Option<(Option<Timestamp>, &'a str)> {
    let mut cur = Cursor::new(line);
    let bracketed = cur.eat(b'[');
    let ts = header::read_time_at(&mut cur, ctx)?;
    if bracketed && !cur.eat(b']') {
        return None;
    }
    if !matches!(cur.peek(), None | Some(b' ' | b',' | b'|' | b':' | b'\t' | b';')) {
        return None;
    }
    Some((ts, cur.rest()))
}

/// `a/b/yyyy...` with `a` and `b` swapped (1 or 2 digits each); `None` for another shape.
pub(crate) fn swap_day_month(line: &str) -> Option<String> {
    let (open, body) = match line.strip_prefix('[') {
        Some(b) => ("[", b),
        None => ("", line),
    };
    let (a, rest) = body.split_once('/')?;
    let (b, rest) = rest.split_once('/')?;
    let digits = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) || rest.len() < 4 || !rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(format!("{open}{b}/{a}/{rest}"))
}

/// The next field at `s` and the rest after it (and its delimiter). Blanks: a `[...]` bracket
/// or a word; another delimiter: up to it, trimmed (the delimiter must be there).
pub(crate) fn next_field<'a>(s: &'a str, delim: &str) -> Option<(&'a str, &'a str)> {
    if delim == " " {
        let s = s.trim_start_matches([' ', '\t']);
        if s.is_empty() {
            return None;
        }
        let end = if s.starts_with('[') {
            s.find(']').map_or(s.len(), |i| i + 1)
        } else {
            s.find([' ', '\t']).unwrap_or(s.len())
        };
        // `[thread]` directly followed by more (`[main]:`) keeps the suffix with it.
        let end = if s.starts_with('[') { s[end..].find([' ', '\t']).map_or(s.len(), |i| end + i) } else { end };
        return Some((&s[..end], &s[end..]));
    }
    let (field, rest) = s.split_once(delim)?;
    Some((field.trim_matches([' ', '\t']), rest))
}

/// The inside of `[x]`, `(x)` or `<x>`, else the token itself.
pub(crate) fn unwrap(tok: &str) -> &str {
    let t = tok.trim_end_matches(':');
    for (o, c) in [('[', ']'), ('(', ')'), ('<', '>')] {
        if let Some(inner) = t.strip_prefix(o).and_then(|t| t.strip_suffix(c)) {
            return inner.trim();
        }
    }
    t
}

/// Whether `tok` can be a field of `col`.
pub(crate) fn fits(col: Column, tok: &str) -> bool {
    let inner = unwrap(tok);
    match col {
        Column::Level => header::level_word(inner.trim_end_matches(':')).is_some(),
        Column::Pid | Column::Tid => !inner.is_empty() && inner.len() <= 10 && inner.bytes().all(|b| b.is_ascii_digit()),
        Column::Thread => !inner.is_empty() && inner.len() <= 256,
        Column::Logger => {
            let t = tok.trim_end_matches(':');
            !t.is_empty() && t.len() <= 128 && !t.contains(' ') && t.bytes().any(|b| b.is_ascii_alphabetic())
        }
        Column::Host => is_host(tok),
        Column::Program => is_program(tok),
        Column::Separator => matches!(tok, "-" | "--" | "|" | ":" | "::" | "-->" | "->" | ">"),
        Column::Other => !tok.is_empty() && tok.len() <= 256,
    }
}

/// A host name: letters, digits, `.`, `-`, `_`, with a letter or a dot (an address).
pub(crate) fn is_host(tok: &str) -> bool {
    !tok.is_empty()
        && tok.len() <= 253
        && tok.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && tok.bytes().any(|b| b.is_ascii_alphabetic() || b == b'.')
}

/// `name[pid]:` or `name:` (the colon required), a name of letters, digits, `._-/`.
pub(crate) fn is_program(tok: &str) -> bool {
    let Some(t) = tok.strip_suffix(':') else {
        return false;
    };
    let name = match t.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((n, pid)) => {
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            n
        }
        None => t,
    };
    !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}
