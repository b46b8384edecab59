//! What the configuration says about each file's lines beyond their bytes: the zone of their
//! timestamps that carry none (`files.timezone`, `[[files.zones]]`, applied through
//! [`ParseContext::utc_offset_secs`]) and an explicit layout that wins over format detection
//! (`[[files.layouts]]`, [`Layout`]). The first entry whose globs match a path applies.
//!
//! The parser takes a fixed offset. For a zone with daylight saving, a line is parsed with the
//! offset in force when it was received, and parsed again with the offset in force at the time
//! it names when that one differs (a line written before a change and read after it, or an
//! old file imported). In the hour a clock goes back, a time without a zone is ambiguous; the
//! offset of the second pass (after the change) is taken.
//!
//! Syslog and HTTP records keep UTC for times without a zone, unless a `[[syslog.layouts]]` or
//! `[[http.layouts]]` entry that matches their stream gives one ([`StreamRule`]). Raw text lines
//! over HTTP learn their structure as a file does (per stream: `?stream=` of the request, and
//! host), and syslog messages and JSON documents' `message` learn the application layout behind
//! their header per stream (`crate::learn::message`). A matching entry's layout wins over
//! learning: it reads a text line as a file's layout does, or a message behind its header
//! (`message::apply_configured`); its zone is the one of the header's and the message's times
//! without an offset (the record is parsed again with it once its stream is known: an RFC 3164
//! header has neither a zone nor, before it is read, a known sender).
//!
//! A file without a configured layout whose lines detection does not explain, or reads only as
//! a generic timestamped header, gets a learned structure (`crate::learn`);
//! [`FileRules::parse_batch`] does both.

use std::collections::HashMap;
use std::sync::Arc;

use glob::Pattern;
use loglynx_config::{FilesConfig, StreamLayoutRule, Zone};
use loglynx_core::{Event, FormatHint, RawRecord, SourceKind};

use crate::learn::{generic, message, unexplained, Head, Learner, Outcome};
use crate::parse::{parse_record_with, Layout, ParseContext};

/// Zones and layouts by file path; see the module documentation.
#[derive(Debug)]
pub struct FileRules {
    default_zone: Zone,
    zones: Vec<(Vec<Pattern>, Zone)>,
    layouts: Vec<(Vec<Pattern>, Layout)>,
    /// `[[syslog.layouts]]`, `[[http.layouts]]`.
    syslog: Vec<StreamRule>,
    http: Vec<StreamRule>,
    learner: Learner,
}

/// A compiled `[[syslog.layouts]]` or `[[http.layouts]]` entry.
#[derive(Debug)]
pub(crate) struct StreamRule {
    hosts: Vec<Pattern>,
    programs: Vec<Pattern>,
    streams: Vec<Pattern>,
    /// `None` for UTC.
    zone: Option<Zone>,
    layout: Option<Layout>,
}

impl StreamRule {
    fn new(r: &StreamLayoutRule) -> Self {
        StreamRule {
            hosts: globs(&r.hosts),
            programs: globs(&r.programs),
            streams: globs(&r.streams),
            zone: r.timezone.clone().filter(|z| z.fixed_offset_secs() != Some(0)),
            layout: r.layout().as_ref().and_then(Layout::new),
        }
    }

    /// Empty selectors match anything.
    fn matches(&self, host: &str, program: &str, stream: &str) -> bool {
        let any = |pats: &[Pattern], v: &str| pats.is_empty() || pats.iter().any(|p| p.matches(v));
        any(&self.hosts, host) && any(&self.programs, program) && any(&self.streams, stream)
    }

    /// The context for a time near `at`: the zone's offset then.
    fn ctx(&self, ctx: &ParseContext, at: loglynx_core::Timestamp) -> ParseContext {
        match &self.zone {
            Some(z) => ParseContext { utc_offset_secs: z.offset_secs_at(at.0), ..*ctx },
            None => *ctx,
        }
    }
}

/// The stream an HTTP record was sent to: `?stream=NAME` of `POST /api/v1/ingest` (the
/// endpoint `ingest/NAME`), else `""`.
pub(crate) fn http_stream(endpoint: &str) -> &str {
    endpoint.split_once('/').map_or("", |(_, s)| s)
}

/// What applies to one source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceRules<'a> {
    /// `None` for UTC and for sources other than files.
    pub zone: Option<&'a Zone>,
    pub layout: Option<&'a Layout>,
}

impl Default for FileRules {
    fn default() -> Self {
        FileRules {
            default_zone: Zone::utc(),
            zones: Vec::new(),
            layouts: Vec::new(),
            syslog: Vec::new(),
            http: Vec::new(),
            learner: Learner::default(),
        }
    }
}

/// Globs that do not compile were refused by `Config::validate`; here they match nothing.
fn globs(paths: &[String]) -> Vec<Pattern> {
    paths.iter().filter_map(|g| Pattern::new(g).ok()).collect()
}

impl FileRules {
    /// The zones and layouts of `[files]`.
    pub fn from_files(cfg: &FilesConfig) -> Self {
        FileRules {
            default_zone: cfg.timezone.clone(),
            zones: cfg.zones.iter().map(|r| (globs(&r.paths), r.timezone.clone())).collect(),
            layouts: cfg
                .layouts
                .iter()
                .filter_map(|r| Some((globs(&r.paths), Layout::new(r)?)))
                .collect(),
            syslog: Vec::new(),
            http: Vec::new(),
            learner: Learner::default(),
        }
    }

    /// Adds the `[[syslog.layouts]]` and `[[http.layouts]]` entries.
    pub fn with_stream_layouts(mut self, syslog: &[StreamLayoutRule], http: &[StreamLayoutRule]) -> Self {
        self.syslog = syslog.iter().map(StreamRule::new).collect();
        self.http = http.iter().map(StreamRule::new).collect();
        self
    }

    /// The rules of a whole configuration: `[files]`, `[[syslog.layouts]]`, `[[http.layouts]]`.
    pub fn from_config(cfg: &loglynx_config::Config) -> Self {
        FileRules::from_files(&cfg.files).with_stream_layouts(&cfg.syslog.layouts, &cfg.http.layouts)
    }

    /// The first `[[syslog.layouts]]` entry for a program of a sender.
    pub(crate) fn syslog_rule(&self, sender: &str, program: &str) -> Option<&StreamRule> {
        self.syslog.iter().find(|r| r.matches(sender, program, ""))
    }

    /// The first `[[http.layouts]]` entry for a stream received by `host`.
    pub(crate) fn http_rule(&self, host: &str, stream: &str) -> Option<&StreamRule> {
        self.http.iter().find(|r| r.matches(host, "", stream))
    }

    /// Keeps the structures learned for files in `state_file` (`<data_dir>/parse/learned.json`)
    /// and starts from the ones it holds.
    pub fn with_state_file(mut self, state_file: std::path::PathBuf) -> Self {
        let cap = self.learner.capacity();
        self.learner = Learner::with_state_file(state_file);
        self.learner.set_capacity(cap);
        self
    }

    /// Parses a batch as the stage does: each record with its file's rules, the layout learned
    /// for its file first when it has no configured one; then learns from what detection did
    /// not explain (records of a file that just learned are parsed again).
    pub fn parse_batch(&self, records: &[RawRecord], ctx: &ParseContext) -> Vec<Event> {
        struct Src<'a> {
            rules: SourceRules<'a>,
            /// The learner's key (`host|path`), for files without a configured layout.
            key: Option<String>,
            learned: Option<Arc<Layout>>,
            idx: Vec<usize>,
        }
        // One entry per file and host (a worker's batch holds several agents' records).
        let mut by_src: HashMap<(*const SourceKind, Option<&str>), usize> = HashMap::new();
        let mut srcs: Vec<Src<'_>> = Vec::new();
        let mut events = Vec::with_capacity(records.len());
        // The source of the record before: a batch is mostly runs of one source's records,
        // which then cost no hash each.
        let mut last: Option<((*const SourceKind, Option<&str>), usize)> = None;
        for (i, r) in records.iter().enumerate() {
            let src_key = (Arc::as_ptr(&r.source), r.host.as_deref());
            let k = match last {
                Some((lk, k)) if lk == src_key => k,
                _ => *by_src.entry(src_key).or_insert_with(|| {
                let rules = self.rules_of(r);
                let key = match r.source.as_ref() {
                    SourceKind::File { path } if rules.layout.is_none() => {
                        Some(learner_key(r.host.as_deref(), path))
                    }
                    // Raw text lines over HTTP learn as a file does, per endpoint (with its
                    // stream) and host, unless a configured layout reads them.
                    SourceKind::Http { endpoint } if r.hint == FormatHint::Auto && rules.layout.is_none() => {
                        Some(format!("http|{endpoint}|{}", r.host.as_deref().unwrap_or("")))
                    }
                    _ => None,
                };
                let learned = key.as_deref().and_then(|k| self.learner.layout(k));
                srcs.push(Src { rules, key, learned, idx: Vec::new() });
                srcs.len() - 1
            }),
            };
            last = Some((src_key, k));
            let s = &mut srcs[k];
            if s.key.is_some() {
                s.idx.push(i);
            }
            let layout = s.rules.layout.or(s.learned.as_deref());
            events.push(parse_with(r, ctx, SourceRules { zone: s.rules.zone, layout }));
        }
        for s in &srcs {
            let Some(key) = &s.key else { continue };
            let mut fitted = 0u32;
            let mut sampled = Vec::new();
            for &i in &s.idx {
                let e = &events[i];
                if s.learned.is_some() && e.labels.contains_key("log.structure") {
                    fitted += 1;
                } else if unexplained(e) || generic(e) {
                    sampled.push((first_line(&records[i].body), unexplained(e)));
                }
            }
            let out =
                Outcome { lines: u32::try_from(s.idx.len()).unwrap_or(u32::MAX), fitted, sampled, messages: false };
            let path = match records[s.idx[0]].source.as_ref() {
                SourceKind::File { path } => path.as_str(),
                _ => "",
            };
            let head = || read_head(path, ctx);
            if let Some(layout) = self.learner.observe(key, out, ctx, &head) {
                let rules = SourceRules { zone: s.rules.zone, layout: Some(&*layout) };
                for &i in &s.idx {
                    events[i] = parse_with(&records[i], ctx, rules);
                }
            }
        }
        self.learn_messages(records, &mut events, ctx);
        events
    }

    /// Syslog messages and JSON documents' `message`: read with the structure learned for their
    /// stream, and learned from (`crate::learn::message`).
    fn learn_messages(&self, records: &[RawRecord], events: &mut [Event], ctx: &ParseContext) {
        // Streams in the order they first appear, found by hash only when a record's stream
        // is not the one of the record before (a batch is mostly runs of one stream).
        let mut by_key: HashMap<message::KeyParts<'_>, usize> = HashMap::new();
        let mut streams: Vec<(message::KeyParts<'_>, Vec<usize>)> = Vec::new();
        let mut last: Option<usize> = None;
        // The peer address of the source before: records of one connection share their source.
        let mut peer: Option<(*const SourceKind, &str)> = None;
        for (i, (r, e)) in records.iter().zip(events.iter()).enumerate() {
            let ip = match r.source.as_ref() {
                SourceKind::File { .. } => continue,
                SourceKind::Syslog { peer: p, .. } => match peer {
                    Some((src, ip)) if std::ptr::eq(src, Arc::as_ptr(&r.source)) => ip,
                    _ => {
                        let ip = message::peer_ip(p);
                        peer = Some((Arc::as_ptr(&r.source), ip));
                        ip
                    }
                },
                _ => "",
            };
            let Some(k) = message::stream(r, e, ip) else { continue };
            let at = match last {
                Some(at) if streams[at].0 == k => at,
                _ => *by_key.entry(k).or_insert_with(|| {
                    streams.push((k, Vec::new()));
                    streams.len() - 1
                }),
            };
            streams[at].1.push(i);
            last = Some(at);
        }
        if streams.is_empty() {
            return;
        }
        // A configured entry per stream: its zone and layout instead of UTC and learning.
        let streams: Vec<(String, Option<&StreamRule>, Vec<usize>)> = streams
            .into_iter()
            .map(|(k, v)| (message::key(&k), self.stream_rule(&k), v))
            .collect();
        for (key, rule, idx) in streams {
            if let Some(r) = rule {
                if r.zone.is_some() {
                    // The header's times in the stream's zone (parsed again, now that the
                    // stream is known).
                    for &i in &idx {
                        events[i] = parse_with(&records[i], ctx, SourceRules { zone: r.zone.as_ref(), layout: None });
                    }
                }
            }
            // A message's own time without an offset is in the zone's offset at the header's
            // time (the message's is near it: right across a daylight-saving change).
            let at = |e: &Event| rule.map_or(*ctx, |r| r.ctx(ctx, e.timestamp));
            if let Some(layout) = rule.and_then(|r| r.layout.as_ref()) {
                for &i in &idx {
                    let c = at(&events[i]);
                    message::apply_configured(layout, &mut events[i], &c);
                }
                continue;
            }
            let learned = self.learner.layout(&key);
            let mut fitted = 0u32;
            let mut missed = Vec::new();
            if let Some(l) = &learned {
                for &i in &idx {
                    let c = at(&events[i]);
                    if message::apply(l, &records[i], &mut events[i], &c) {
                        fitted += 1;
                    } else {
                        missed.push(i);
                    }
                }
            } else if self.learner.learning(&key) {
                missed.clone_from(&idx);
            }
            let sampled = missed.iter().map(|&i| (first_line(events[i].message.as_bytes()), false)).collect();
            let out =
                Outcome { lines: u32::try_from(idx.len()).unwrap_or(u32::MAX), fitted, sampled, messages: true };
            if let Some(layout) = self.learner.observe(&key, out, ctx, &no_head) {
                for &i in &missed {
                    let c = at(&events[i]);
                    message::apply(&layout, &records[i], &mut events[i], &c);
                }
            }
        }
    }

    /// The configured entry of a message stream (`message::stream`'s parts), if any.
    fn stream_rule(&self, k: &message::KeyParts<'_>) -> Option<&StreamRule> {
        match k {
            ["syslog", sender, program, _] if !self.syslog.is_empty() => self.syslog_rule(sender, program),
            ["http", endpoint, host, stream] if !self.http.is_empty() => {
                let stream = if stream.is_empty() { http_stream(endpoint) } else { stream };
                self.http_rule(host, stream)
            }
            _ => None,
        }
    }

    /// Keeps learning state for `n` sources at most (`pipeline.learned_sources`).
    pub fn with_learned_sources(self, n: usize) -> Self {
        self.learner.set_capacity(n);
        self
    }

    /// The structure learned for a syslog program of a sender (`host.name`, else the peer
    /// address) that sent from `peer` (`ip:port` or the IP), if any.
    pub fn learned_syslog_structure(&self, peer: &str, sender: &str, program: &str) -> Option<crate::parse::Structure> {
        let ip = message::peer_ip(peer);
        let layout = self.learner.layout(&message::key(&["syslog", sender, program, ip]))?;
        layout.structure().cloned()
    }

    /// The timestamp format learned for a file of `host` (the records' host), if any.
    pub fn learned_format(&self, host: Option<&str>, path: &str) -> Option<String> {
        let layout = self.learner.layout(&learner_key(host, path))?;
        layout.timestamp_format().map(str::to_string)
    }

    /// The structure learned for a file of `host` (the records' host), if any.
    pub fn learned_structure(&self, host: Option<&str>, path: &str) -> Option<crate::parse::Structure> {
        let layout = self.learner.layout(&learner_key(host, path))?;
        layout.structure().cloned()
    }

    /// Parses `rec` with the rules of its source (what the stage does for each record).
    pub fn parse(&self, rec: &RawRecord, ctx: &ParseContext) -> Event {
        parse_with(rec, ctx, self.rules_of(rec))
    }

    /// The rules of a record's source known before it is parsed: its file's, or for a text
    /// line over HTTP its stream's `[[http.layouts]]` entry (a syslog record's sender and
    /// program are known only once its header is read).
    pub fn rules_of(&self, rec: &RawRecord) -> SourceRules<'_> {
        match rec.source.as_ref() {
            SourceKind::Http { endpoint } if rec.hint == FormatHint::Auto => {
                match self.http_rule(rec.host.as_deref().unwrap_or(""), http_stream(endpoint)) {
                    Some(r) => SourceRules { zone: r.zone.as_ref(), layout: r.layout.as_ref() },
                    None => SourceRules::default(),
                }
            }
            source => self.for_source(source),
        }
    }

    /// The rules of a source.
    pub fn for_source(&self, source: &SourceKind) -> SourceRules<'_> {
        let SourceKind::File { path } = source else {
            return SourceRules::default();
        };
        let zone = first_match(&self.zones, path).unwrap_or(&self.default_zone);
        let layout = first_match(&self.layouts, path);
        SourceRules { zone: (zone.fixed_offset_secs() != Some(0)).then_some(zone), layout }
    }
}

/// No head to read: the source is not a file.
fn no_head() -> Option<Head> {
    None
}

/// What the learner keeps a file's state under: the same path on two hosts is two files.
fn learner_key(host: Option<&str>, path: &str) -> String {
    format!("{}|{path}", host.unwrap_or(""))
}

/// Bytes of the head of a file read to top up a first sample.
const HEAD_BYTES: usize = 32 * 1024;

/// The first lines of a local file that format detection reads only as a generic header or not
/// at all, and its modification time; `None` when there is no such file here (the file of
/// another machine's agent, or gone).
fn read_head(path: &str, ctx: &ParseContext) -> Option<Head> {
    use std::io::Read;
    if path.is_empty() {
        return None;
    }
    let f = std::fs::File::open(path).ok()?;
    let mtime = f
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .map(loglynx_core::Timestamp);
    let mut buf = Vec::with_capacity(HEAD_BYTES);
    f.take(HEAD_BYTES as u64).read_to_end(&mut buf).ok()?;
    // Whole lines only (the last one may be cut).
    let end = memchr::memrchr(b'\n', &buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..end]);
    let lines = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
        .filter(|l| {
            let mut ev = Event::default();
            let detected = crate::parse::detect_line(l, &mut ev, ctx);
            !detected || unexplained(&ev) || generic(&ev)
        })
        .take(64)
        .map(str::to_string)
        .collect();
    Some((lines, mtime))
}

/// The first line of a body, as text (invalid UTF-8 lines are not sampled).
fn first_line(body: &[u8]) -> &str {
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    std::str::from_utf8(&body[..end]).unwrap_or("")
}

/// The value of the first entry with a glob that matches `path`.
fn first_match<'a, T>(rules: &'a [(Vec<Pattern>, T)], path: &str) -> Option<&'a T> {
    rules.iter().find(|(pats, _)| pats.iter().any(|p| p.matches(path))).map(|(_, v)| v)
}

/// Parses `rec` with its layout and its zone's offset (see the module documentation).
pub(crate) fn parse_with(rec: &RawRecord, ctx: &ParseContext, rules: SourceRules<'_>) -> Event {
    let parse = |off: i32| parse_record_with(rec, &ParseContext { utc_offset_secs: off, ..*ctx }, rules.layout);
    let Some(zone) = rules.zone else {
        return parse(ctx.utc_offset_secs);
    };
    if let Some(off) = zone.fixed_offset_secs() {
        return parse(off);
    }
    let first = zone.offset_secs_at(rec.received.0);
    let ev = parse(first);
    let at_event = zone.offset_secs_at(ev.timestamp.0);
    if at_event == first {
        return ev;
    }
    parse(at_event)
}

#[cfg(test)]
mod tests {
    use loglynx_config::Config;
    use loglynx_core::{FormatHint, Timestamp};

    use super::*;

    fn rec(path: &str, line: &str, received: Timestamp) -> RawRecord {
        RawRecord {
            body: line.as_bytes().to_vec(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File { path: path.into() }),
            host: None,
            received,
            id: "x".into(),
        }
    }

    fn rules() -> FileRules {
        let c: Config = toml::from_str(
            "[files]\ntimezone = \"+02:00\"\n[[files.zones]]\npaths = [\"/srv/paris/*.log\"]\ntimezone = \"Europe/Paris\"\n[[files.zones]]\npaths = [\"/srv/utc/*\"]\ntimezone = \"UTC\"\n",
        )
        .unwrap();
        FileRules::from_files(&c.files)
    }

    /// 2024-07-15T12:00:00Z
    const JULY: i64 = 1_721_044_800;

    #[test]
    fn the_first_matching_rule_then_the_default() {
        let z = rules();
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let at = |path: &str, line: &str| {
            let r = rec(path, line, ctx.now);
            z.parse(&r, &ctx).timestamp.0 / 1_000_000_000
        };
        // 10:00 in July in Paris is 08:00Z; with the default +02:00 too; UTC stays.
        let naive = "2024-07-15 10:00:00 INFO app: started";
        assert_eq!(at("/srv/paris/a.log", naive), JULY - 4 * 3600);
        assert_eq!(at("/var/log/other.log", naive), JULY - 4 * 3600);
        assert_eq!(at("/srv/utc/a.log", naive), JULY - 2 * 3600);
        // A syslog file line without a year or zone takes the file's zone too.
        assert_eq!(at("/var/log/syslog", "Jul 15 10:00:00 web1 cron[12]: run"), JULY - 4 * 3600);
        // A time with its own offset keeps it.
        assert_eq!(at("/srv/paris/a.log", "2024-07-15T10:00:00Z INFO x"), JULY - 2 * 3600);
        // Not a file: no zone.
        let syslog = Arc::new(SourceKind::Syslog { transport: "udp".into(), peer: "p".into() });
        assert!(z.for_source(&syslog).zone.is_none());
    }

    #[test]
    fn a_layout_applies_to_its_files_only_in_their_zone() {
        let c: Config = toml::from_str(
            "[[files.zones]]\npaths = [\"/srv/paris/*\"]\ntimezone = \"Europe/Paris\"\n[[files.layouts]]\npaths = [\"/srv/paris/billing.log\"]\ntimestamp_format = \"%d.%m.%Y %H:%M\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        let z = FileRules::from_files(&c.files);
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let line = "15.07.2024 10:00 WARN low stock";
        let ev = z.parse(&rec("/srv/paris/billing.log", line, ctx.now), &ctx);
        assert_eq!(ev.dataset.as_deref(), Some("custom"));
        assert_eq!(ev.timestamp.0 / 1_000_000_000, JULY - 4 * 3600);
        assert_eq!(ev.level.as_deref(), Some("warn"));
        // Another file of the same zone: no layout, the line is not a known format.
        let ev = z.parse(&rec("/srv/paris/other.log", line, ctx.now), &ctx);
        assert!(ev.flags.unparsed);
    }

    #[test]
    fn a_line_from_the_other_side_of_a_daylight_saving_change_gets_its_own_offset() {
        let z = rules();
        // Read in July (CEST, +02:00), written in January (CET, +01:00).
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let r = rec("/srv/paris/a.log", "2024-01-15 13:00:00 WARN app: old", ctx.now);
        let ev = z.parse(&r, &ctx);
        // 2024-01-15T12:00:00Z
        assert_eq!(ev.timestamp.0 / 1_000_000_000, 1_705_320_000);
        assert_eq!(ev.level.as_deref(), Some("warn"));
    }

    #[test]
    fn a_file_detection_does_not_explain_learns_its_format_across_batches() {
        let z = FileRules::default();
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let src = Arc::new(SourceKind::File { path: "/srv/eu/app.log".into() });
        let batch = |lines: &[String]| -> Vec<RawRecord> {
            lines
                .iter()
                .map(|l| RawRecord { source: Arc::clone(&src), ..rec("", l, ctx.now) })
                .collect()
        };
        let eu = |i: usize| format!("{:02}.07.2024 10:00:{:02} WARN [w{i}] shop.Cart - line {i}", 1 + i % 28, i % 60);
        // Too few lines yet: stored as detection leaves them.
        let first: Vec<String> = (0..3).map(eu).collect();
        let evs = z.parse_batch(&batch(&first), &ctx);
        assert!(evs.iter().all(|e| e.flags.unparsed));
        // Enough: learned, and this batch is parsed again with it.
        let more: Vec<String> = (3..13).map(eu).collect();
        let evs = z.parse_batch(&batch(&more), &ctx);
        assert!(evs.iter().all(|e| !e.flags.any() && e.level.as_deref() == Some("warn")), "{:?}", evs[0]);
        // 04.07.2024 10:00:03 in UTC.
        assert_eq!(evs[0].timestamp.0 / 1_000_000_000, JULY - 11 * 86_400 - 2 * 3600 + 3);
        assert_eq!(z.learned_format(None, "/srv/eu/app.log").as_deref(), Some("%d.%m.%Y %H:%M:%S%.f"));
        // The next lines use it at once, one at a time too.
        let one = z.parse_batch(&batch(&[eu(20)]), &ctx);
        assert_eq!(one[0].labels.get("log.timestamp_format").map(String::as_str), Some("%d.%m.%Y %H:%M:%S%.f"));
        // The file changes structure: after a window of lines it no longer explains, forgotten.
        let plain: Vec<String> = (0..300).map(|i| format!("plain text {i}")).collect();
        z.parse_batch(&batch(&plain), &ctx);
        assert_eq!(z.learned_format(None, "/srv/eu/app.log"), None);
        // The same path on another host is another file: nothing learned there yet.
        let other_host: Vec<RawRecord> = batch(&[eu(30)])
            .into_iter()
            .map(|r| RawRecord { host: Some("other".into()), ..r })
            .collect();
        assert!(z.parse_batch(&other_host, &ctx)[0].flags.unparsed);
        // Lines detection explains never learn anything.
        let sys = Arc::new(SourceKind::File { path: "/var/log/syslog".into() });
        let lines: Vec<RawRecord> = (0..50)
            .map(|i| RawRecord { source: Arc::clone(&sys), ..rec("", &format!("Jul 15 10:00:{:02} web1 cron[1]: run", i % 60), ctx.now) })
            .collect();
        assert!(z.parse_batch(&lines, &ctx).iter().all(|e| e.dataset.as_deref() == Some("syslog")));
        assert_eq!(z.learned_format(None, "/var/log/syslog"), None);
    }

    #[test]
    fn a_file_of_lines_behind_file_names_learns_the_header_after_them() {
        let z = FileRules::default();
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let src = Arc::new(SourceKind::File { path: "/srv/merged.log".into() });
        let line = |i: usize| {
            let file = ["cart-api.log.1", "cart-worker.log"][i % 2];
            format!("{file} 2024-07-15 09:00:{:02}.125 90{i:02} INFO cart.api.session [req-{i} bob - - -] cart {i} saved", i % 60)
        };
        let recs: Vec<RawRecord> =
            (0..20).map(|i| RawRecord { source: Arc::clone(&src), ..rec("", &line(i), ctx.now) }).collect();
        let evs = z.parse_batch(&recs, &ctx);
        let e = &evs[3];
        assert_eq!(e.timestamp.0, (JULY - 3 * 3600 + 3) * 1_000_000_000 + 125_000_000);
        assert_eq!((e.pid, e.level.as_deref(), e.message.as_str()), (Some(9003), Some("info"), "cart 3 saved"));
        assert_eq!(e.labels.get("log.logger").map(String::as_str), Some("cart.api.session"));
        assert_eq!(e.labels.get("log.prefix").map(String::as_str), Some("cart-worker.log"));
        assert_eq!(z.learned_structure(None, "/srv/merged.log").map(|s| s.describe()).as_deref(), Some("prefix time pid level logger field message"));
    }

    #[test]
    fn a_learned_structure_reads_fields_survives_a_restart_and_bad_input_loses_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("parse/learned.json");
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let src = Arc::new(SourceKind::File { path: "/srv/pipes/app.log".into() });
        let batch = |lines: &[String]| -> Vec<RawRecord> {
            lines.iter().map(|l| RawRecord { source: Arc::clone(&src), ..rec("", l, ctx.now) }).collect()
        };
        let pipe = |i: usize| format!("2024-07-14 10:00:{:02}.125|WARN|worker-{}|shop.Cart|cart {i} abandoned", i % 60, i % 4);
        let z = FileRules::default().with_state_file(state.clone());
        let lines: Vec<String> = (0..10).map(pipe).collect();
        let evs = z.parse_batch(&batch(&lines), &ctx);
        let e = &evs[3];
        assert_eq!(e.message, "cart 3 abandoned");
        assert_eq!(e.level.as_deref(), Some("warn"));
        assert_eq!(e.labels.get("process.thread.name").map(String::as_str), Some("worker-3"));
        assert_eq!(e.labels.get("log.logger").map(String::as_str), Some("shop.Cart"));
        assert_eq!(e.labels.get("log.structure").map(String::as_str), Some("time|level|thread|logger|message"));
        assert!(!e.flags.any());
        // After a restart the first line is read with it at once.
        let z = FileRules::default().with_state_file(state);
        let evs = z.parse_batch(&batch(&[pipe(40)]), &ctx);
        assert_eq!(evs[0].labels.get("log.logger").map(String::as_str), Some("shop.Cart"));
        // Bad input in the middle: no header, a time far ahead or before 1970, another format:
        // every line is an event, flagged for what happened.
        let odd = vec![
            "no header at all".to_string(),
            "2999-01-01 10:00:00.000|WARN|w|shop.Cart|from the future".to_string(),
            "1969-12-31 10:00:00.000|WARN|w|shop.Cart|from the past".to_string(),
            "Jul 14 10:00:00 web1 cron[12]: run".to_string(),
            "{\"message\":\"json line\"}".to_string(),
            pipe(41),
        ];
        let evs = z.parse_batch(&batch(&odd), &ctx);
        assert_eq!(evs.len(), odd.len());
        assert!(evs[0].flags.unparsed && evs[0].message == "no header at all");
        assert!(evs[1].flags.bad_timestamp && evs[1].message.contains("from the future"), "{:?}", evs[1]);
        assert!(evs[2].flags.bad_timestamp && evs[2].message.contains("from the past"), "{:?}", evs[2]);
        assert_eq!(evs[3].dataset.as_deref(), Some("syslog"));
        assert_eq!(evs[4].message, "json line");
        assert_eq!(evs[5].message, "cart 41 abandoned");
        // The structure changes midway: after a window of lines it no longer reads, the file
        // learns the new one.
        let semi = |i: usize| format!("2024-07-14 11:00:{:02};ERROR;billing;invoice {i} failed", i % 60);
        let lines: Vec<String> = (0..300).map(semi).collect();
        z.parse_batch(&batch(&lines), &ctx);
        let evs = z.parse_batch(&batch(&lines[..10]), &ctx);
        assert_eq!(evs[2].message, "invoice 2 failed");
        assert_eq!(evs[2].labels.get("log.structure").map(String::as_str), Some("time;level;logger;message"));
        assert_eq!(z.learned_structure(None, "/srv/pipes/app.log").unwrap().describe(), "time;level;logger;message");
    }
}
