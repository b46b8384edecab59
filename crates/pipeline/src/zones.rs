//! The zone of each source's timestamps that carry none (`files.timezone`,
//! `[[files.zones]]`), applied through [`ParseContext::utc_offset_secs`].
//!
//! The parser takes a fixed offset. For a zone with daylight saving, a line is parsed with the
//! offset in force when it was received, and parsed again with the offset in force at the time
//! it names when that one differs (a line written before a change and read after it, or an
//! old file imported). In the hour a clock goes back, a time without a zone is ambiguous; the
//! offset of the second pass (after the change) is taken.
//!
//! Files only: syslog and HTTP records keep UTC for times without a zone.

use std::sync::Arc;

use glob::Pattern;
use loglynx_config::{FilesConfig, Zone};
use loglynx_core::{Event, RawRecord, SourceKind};

use crate::parse::{parse_record, ParseContext};

/// Zones by file path; see the module documentation.
#[derive(Debug, Clone)]
pub struct SourceZones {
    default: Zone,
    rules: Vec<(Vec<Pattern>, Zone)>,
}

impl Default for SourceZones {
    fn default() -> Self {
        SourceZones { default: Zone::utc(), rules: Vec::new() }
    }
}

impl SourceZones {
    /// The zones of `[files]`. Globs that do not compile were refused by
    /// `Config::validate`; here they match nothing.
    pub fn from_files(cfg: &FilesConfig) -> Self {
        SourceZones {
            default: cfg.timezone.clone(),
            rules: cfg
                .zones
                .iter()
                .map(|r| {
                    let pats = r.paths.iter().filter_map(|g| Pattern::new(g).ok()).collect();
                    (pats, r.timezone.clone())
                })
                .collect(),
        }
    }

    /// Parses `rec` in the zone of its source (what the stage does for each record).
    pub fn parse(&self, rec: &RawRecord, ctx: &ParseContext) -> Event {
        parse_in_zone(rec, ctx, self.zone_for(&rec.source))
    }

    /// The zone of a file source's path; `None` for other sources and for UTC.
    pub fn zone_for(&self, source: &SourceKind) -> Option<&Zone> {
        let SourceKind::File { path } = source else {
            return None;
        };
        let zone = self
            .rules
            .iter()
            .find(|(pats, _)| pats.iter().any(|p| p.matches(path)))
            .map_or(&self.default, |(_, z)| z);
        (zone.fixed_offset_secs() != Some(0)).then_some(zone)
    }
}

/// Parses `rec` with its zone's offset (see the module documentation).
pub(crate) fn parse_in_zone(rec: &RawRecord, ctx: &ParseContext, zone: Option<&Zone>) -> Event {
    let Some(zone) = zone else {
        return parse_record(rec, ctx);
    };
    if let Some(off) = zone.fixed_offset_secs() {
        return parse_record(rec, &ParseContext { utc_offset_secs: off, ..*ctx });
    }
    let first = zone.offset_secs_at(rec.received.0);
    let ev = parse_record(rec, &ParseContext { utc_offset_secs: first, ..*ctx });
    let at_event = zone.offset_secs_at(ev.timestamp.0);
    if at_event == first {
        return ev;
    }
    parse_record(rec, &ParseContext { utc_offset_secs: at_event, ..*ctx })
}

/// The zone of each record of a batch, looked up once per source (the records of a batch share
/// their `Arc<SourceKind>`).
pub(crate) struct ZoneCache<'a> {
    zones: &'a SourceZones,
    last: Option<(Arc<SourceKind>, Option<&'a Zone>)>,
}

impl<'a> ZoneCache<'a> {
    pub(crate) fn new(zones: &'a SourceZones) -> Self {
        ZoneCache { zones, last: None }
    }

    pub(crate) fn get(&mut self, source: &Arc<SourceKind>) -> Option<&'a Zone> {
        match &self.last {
            Some((s, z)) if Arc::ptr_eq(s, source) => *z,
            _ => {
                let z = self.zones.zone_for(source);
                self.last = Some((Arc::clone(source), z));
                z
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

    fn zones() -> SourceZones {
        let c: Config = toml::from_str(
            "[files]\ntimezone = \"+02:00\"\n[[files.zones]]\npaths = [\"/srv/paris/*.log\"]\ntimezone = \"Europe/Paris\"\n[[files.zones]]\npaths = [\"/srv/utc/*\"]\ntimezone = \"UTC\"\n",
        )
        .unwrap();
        SourceZones::from_files(&c.files)
    }

    /// 2024-07-15T12:00:00Z
    const JULY: i64 = 1_721_044_800;

    #[test]
    fn the_first_matching_rule_then_the_default() {
        let z = zones();
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let at = |path: &str, line: &str| {
            let r = rec(path, line, ctx.now);
            let zone = z.zone_for(&r.source);
            parse_in_zone(&r, &ctx, zone).timestamp.0 / 1_000_000_000
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
        assert!(z.zone_for(&syslog).is_none());
    }

    #[test]
    fn a_line_from_the_other_side_of_a_daylight_saving_change_gets_its_own_offset() {
        let z = zones();
        // Read in July (CEST, +02:00), written in January (CET, +01:00).
        let ctx = ParseContext { now: Timestamp(JULY * 1_000_000_000), keep_original: false, utc_offset_secs: 0 };
        let r = rec("/srv/paris/a.log", "2024-01-15 13:00:00 WARN app: old", ctx.now);
        let ev = parse_in_zone(&r, &ctx, z.zone_for(&r.source));
        // 2024-01-15T12:00:00Z
        assert_eq!(ev.timestamp.0 / 1_000_000_000, 1_705_320_000);
        assert_eq!(ev.level.as_deref(), Some("warn"));
    }
}
