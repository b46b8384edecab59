//! Parse and normalise: one [`RawRecord`](loglynx_core::RawRecord) becomes one
//! [`Event`](loglynx_core::Event) with ECS fields, whatever the bytes.
//!
//! [`parse_record`] is the entry point. With hint `Auto` the format is detected
//! (module `detect`); the formats, one module each:
//!
//! | module | `event.dataset` |
//! |---|---|
//! | `syslog` | `syslog` (RFC 5424, RFC 3164 with or without PRI; Loghub Linux, OpenSSH) |
//! | `json` | `json` (or the object's own `event.dataset`) |
//! | `logfmt` | `logfmt` |
//! | `access` | `apache.access` (Apache / Nginx common and combined) |
//! | `apache_error` | `apache.error` |
//! | `loghub` | `loghub.bgl`, `loghub.hdfs`, `loghub.hpc`, `loghub.proxifier`, `loghub.zookeeper` |
//! | `header` | `timestamped`: any other line starting with a timestamp in a common format (ISO, ctime, `yy/MM/dd`, logcat, klog, Rails, Redis, PostgreSQL, Windows, epoch...), with its level, pid, thread and logger |
//!
//! Anything else is kept whole in `message` with `flags.unparsed` and `@timestamp` = received.
//! A source with an explicit [`Layout`] (`[[files.layouts]]`, `event.dataset` `custom`) or a
//! learned one (a [`Structure`], `structure`: time reading, delimiter, header columns) has its
//! lines read with it first ([`parse_record_with`]).
//! Timestamps without an offset are UTC, except in `header` and RFC 3164 `syslog` lines, which
//! take [`ParseContext::utc_offset_secs`] (the file's zone, `files.timezone`, set by the stage);
//! formats without a year get one from
//! [`timestamp::infer_year`]. Levels are normalised by [`level::normalize`].

mod access;
mod apache_error;
mod detect;
mod header;
mod json;
mod keys;
mod layout;
pub mod level;
mod logfmt;
mod loghub;
mod record;
mod scan;
mod structure;
mod syslog;
pub mod timestamp;

pub use header::leading_timestamp;
pub(crate) use header::in_range as header_time_in_range;
pub use json::{apply_object, parse_json_object};
pub use layout::Layout;
pub use structure::{Column, Structure, TimeReading};
pub(crate) use structure::{fits as column_fits, is_host, known_time, next_field, swap_day_month, unwrap as unwrap_field};
pub(crate) use layout::start_time as layout_start_time;
pub use record::{parse_record, parse_record_with, ParseContext};

/// Format detection alone on one line (what a line gets without a layout); `false` when no
/// format matched.
pub(crate) fn detect_line(line: &str, ev: &mut loglynx_core::Event, ctx: &ParseContext) -> bool {
    detect::auto(line, ev, ctx)
}

#[cfg(test)]
mod tests;
