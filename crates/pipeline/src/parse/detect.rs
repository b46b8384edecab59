//! Format detection for hint `Auto`: a cheap look at the first bytes picks the parsers to try,
//! most specific first; each returns `false` without touching the event when its shape is not
//! there, so the next one can try.

use loglynx_core::Event;

use super::record::ParseContext;
use super::{access, apache_error, header, json, logfmt, loghub, syslog};

/// Fills `ev` from `line` when a known format matches; `false` otherwise (event untouched).
pub(crate) fn auto(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    let b = line.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    match first {
        b'<' => syslog::parse(line, ev, ctx),
        b'{' => json::parse_auto(line, ev),
        b'[' => {
            apache_error::parse(line, ev)
                || loghub::proxifier(line, ev, ctx)
                || header::parse(line, ev, ctx)
        }
        b'0'..=b'9' => {
            if b.get(4) == Some(&b'-') {
                loghub::zookeeper(line, ev)
                    || syslog::parse_iso_file(line, ev)
                    || header::parse(line, ev, ctx)
                    || access::parse(line, ev)
            } else if b.get(6) == Some(&b' ') && b.get(13) == Some(&b' ') {
                loghub::hdfs(line, ev)
                    || loghub::hpc(line, ev)
                    || access::parse(line, ev)
                    || header::parse(line, ev, ctx)
            } else {
                loghub::hpc(line, ev) || access::parse(line, ev) || header::parse(line, ev, ctx)
            }
        }
        b'-' => loghub::bgl(line, ev) || header::parse(line, ev, ctx),
        b'A'..=b'Z' => {
            syslog::parse(line, ev, ctx)
                || loghub::bgl(line, ev)
                || logfmt::parse(line, ev)
                || access::parse(line, ev)
                || header::parse(line, ev, ctx)
                || header::logcat_line(line, ev, ctx)
        }
        b'a'..=b'z' | b'_' | b'@' => {
            logfmt::parse(line, ev) || access::parse(line, ev) || header::parse(line, ev, ctx)
        }
        b':' => access::parse(line, ev),
        // A path before the time (`/var/log/app.log:2024-...`, `./app.log 2024-...`).
        b'/' | b'.' => header::parse(line, ev, ctx),
        b' ' | b'\t' => {
            // Leading blanks: detect on the trimmed line (JSON bodies are often indented).
            let t = line.trim_start_matches([' ', '\t']);
            !t.is_empty() && t.len() < line.len() && auto(t, ev, ctx)
        }
        _ => false,
    }
}
