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
//! Files only: syslog and HTTP records keep UTC for times without a zone, and no layout.

use std::sync::Arc;

use glob::Pattern;
use loglynx_config::{FilesConfig, Zone};
use loglynx_core::{Event, RawRecord, SourceKind};

use crate::parse::{parse_record_with, Layout, ParseContext};

/// Zones and layouts by file path; see the module documentation.
#[derive(Debug, Clone)]
pub struct FileRules {
    default_zone: Zone,
    zones: Vec<(Vec<Pattern>, Zone)>,
    layouts: Vec<(Vec<Pattern>, Layout)>,
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
        FileRules { default_zone: Zone::utc(), zones: Vec::new(), layouts: Vec::new() }
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
        }
    }

    /// Parses `rec` with the rules of its source (what the stage does for each record).
    pub fn parse(&self, rec: &RawRecord, ctx: &ParseContext) -> Event {
        parse_with(rec, ctx, self.for_source(&rec.source))
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

/// The rules of each record of a batch, looked up once per source (the records of a batch share
/// their `Arc<SourceKind>`).
pub(crate) struct RulesCache<'a> {
    rules: &'a FileRules,
    last: Option<(Arc<SourceKind>, SourceRules<'a>)>,
}

impl<'a> RulesCache<'a> {
    pub(crate) fn new(rules: &'a FileRules) -> Self {
        RulesCache { rules, last: None }
    }

    pub(crate) fn get(&mut self, source: &Arc<SourceKind>) -> SourceRules<'a> {
        match &self.last {
            Some((s, r)) if Arc::ptr_eq(s, source) => *r,
            _ => {
                let r = self.rules.for_source(source);
                self.last = Some((Arc::clone(source), r));
                r
            }
        }
    }
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
}
