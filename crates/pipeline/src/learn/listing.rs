//! The learned structures as `GET /api/v1/sources/learned`, `loglynx sources` and the
//! dashboard's Sources page show them: read from the state file, each with its layout, the zone
//! the configuration gives it, what it read and a sample line cut into its fields.

use loglynx_core::Timestamp;

use super::store::{self, Seen};
use crate::parse::ParseContext;

/// A source's learned structure as `<data_dir>/parse/learned.json` holds it, for
/// `GET /api/v1/sources/learned` and `loglynx sources`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LearnedSource {
    /// `file`, `syslog` (the messages of a sender's program), `http_text` (raw text lines over
    /// HTTP) or `http_json` (JSON documents' `message` over HTTP).
    pub kind: &'static str,
    /// The host: of the file's records, the one a syslog sender names, or of the HTTP records.
    pub host: String,
    /// The file's path, the syslog program, or the HTTP endpoint.
    pub source: String,
    /// The syslog sender's IP address, or the JSON stream (`_bulk` index, `event.dataset` or
    /// `service.name`); empty for the others.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The structure as `loglynx parse` prints it (`time|level|thread|logger|message`).
    pub structure: String,
    /// The strftime format of its time, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// The header's fields in order, ending with `message` (where the message starts).
    pub fields: Vec<&'static str>,
    /// The zone of its timestamps that carry none: the file's `[[files.zones]]` entry or
    /// `files.timezone`; `UTC` for syslog and HTTP sources.
    pub zone: String,
    /// Where the zone comes from: `files.zones` (an entry matches the file), `files.timezone`,
    /// or `fixed` (syslog and HTTP sources: UTC).
    pub zone_from: &'static str,
    /// The day / month order of its dates was a guess (all days and months <= 12).
    pub ambiguous_date: bool,
    /// Lines it read since it was learned, re-learnings, and a line it reads.
    #[serde(flatten)]
    pub seen: Seen,
    /// The sample line cut into the pieces the structure reads (`field` absent between them).
    pub segments: Vec<Segment>,
}

/// A piece of a sample line: a field the structure reads, or what lies between two.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Segment {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

/// The sources with a learned structure in the state file `path` (the most recently used
/// first, at the time the file was last written), each with the zone `files` gives it.
pub fn learned_sources_with(path: &std::path::Path, files: &loglynx_config::FilesConfig) -> Vec<LearnedSource> {
    let mut out = learned_sources(path);
    for s in &mut out {
        if s.kind != "file" {
            continue;
        }
        let rule = files
            .zones
            .iter()
            .find(|z| z.paths.iter().any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(&s.source))));
        (s.zone, s.zone_from) = match rule {
            Some(z) => (z.timezone.name().to_string(), "files.zones"),
            None => (files.timezone.name().to_string(), "files.timezone"),
        };
    }
    out
}

/// The sources with a learned structure in the state file `path`, the most recently used
/// first (at the time the file was last written); empty when there is none or it cannot be
/// read (logged).
pub fn learned_sources(path: &std::path::Path) -> Vec<LearnedSource> {
    let mut out: Vec<LearnedSource> = store::load(path)
        .into_iter()
        .map(|(key, s, seen)| {
            let parts: Vec<&str> = key.split('|').collect();
            let (kind, host, source, detail) = match parts.as_slice() {
                ["syslog", host, program, ip] => ("syslog", *host, *program, *ip),
                ["http", endpoint, host] => ("http_text", *host, *endpoint, ""),
                ["http", endpoint, host, stream] => ("http_json", *host, *endpoint, *stream),
                _ => {
                    let (host, path) = key.split_once('|').unwrap_or(("", key.as_str()));
                    ("file", host, path, "")
                }
            };
            let ctx = ParseContext { now: Timestamp::now(), keep_original: false, utc_offset_secs: 0 };
            let segments = seen
                .sample
                .as_deref()
                .and_then(|l| s.segments(l, &ctx))
                .unwrap_or_default()
                .into_iter()
                .map(|(field, text)| Segment { text: text.to_string(), field })
                .collect();
            let (zone, zone_from) = if kind == "file" { ("UTC", "files.timezone") } else { ("UTC", "fixed") };
            LearnedSource {
                kind,
                host: host.to_string(),
                source: source.to_string(),
                detail: detail.to_string(),
                structure: s.describe(),
                timestamp_format: s.timestamp_format().map(str::to_string),
                fields: s.fields(),
                zone: zone.to_string(),
                zone_from,
                ambiguous_date: s.ambiguous_date,
                segments,
                seen,
            }
        })
        .collect();
    out.reverse();
    out
}

