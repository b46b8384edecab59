//! What [`Spool::open`](super::Spool::open) finds in a spool directory left by an earlier
//! run: segments the cursor says were delivered are deleted, the others are validated frame
//! by frame; a damaged frame followed by a good one is skipped (a hole, counted as lost), a
//! torn or corrupt tail is truncated (at the end of the last segment it was never
//! acknowledged; elsewhere it is counted as lost) and a zeroed header of the last segment
//! (power loss before its first fsync) is rewritten.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::cursor::{read_cursor, remove_tmp};
use loglynx_telemetry::internal_events::{SpoolDamageSkipped, SpoolLoss};
use loglynx_telemetry::InternalEvent;

use super::frame::{
    header_version, next_good_frame, payload_records, read_frame, segment_header, HEADER, VERSION,
    VERSION_1,
};
use super::segments::{io_err, seg_name, Segment};
use crate::{BusError, SpoolDamage};

/// The hint of errors about the spool directory itself.
const DIR: &str = ": check the path and its permissions or pass another --data-dir";

/// The state of a spool directory after recovery.
pub(super) struct Recovered {
    /// The segments still to send, oldest first, with their validated lengths.
    pub segments: Vec<Segment>,
    /// Records in them after the cursor.
    pub records: u64,
    /// Where reading (and the cursor) resumes: `(segment, offset)`.
    pub resume: (u64, u64),
    /// The number of the next segment to create.
    pub next_seq: u64,
    /// What damaged frames cost.
    pub loss: SpoolLoss,
}

/// Creates `dir` if needed, checks that it is writable, deletes delivered segments and
/// validates the others (see the module documentation).
pub(super) fn recover(dir: &Path) -> Result<Recovered, BusError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir, "create the directory", DIR))?;
    let probe = dir.join(".probe");
    File::create(&probe)
        .and_then(|mut f| f.write_all(b"x"))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(io_err(dir, "write in the directory", DIR))?;
    remove_tmp(dir);
    let cursor = read_cursor(dir)?;

    let mut seqs = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(io_err(dir, "list", ""))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(seq) = name
            .strip_suffix(".spool")
            .and_then(|s| s.parse::<u64>().ok())
        {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    let (cur_seq, cur_off) = cursor.unwrap_or((0, HEADER));
    for &seq in seqs.iter().filter(|&&s| s < cur_seq) {
        let path = dir.join(seg_name(seq));
        std::fs::remove_file(&path).map_err(io_err(&path, "delete a delivered segment", ""))?;
    }
    seqs.retain(|&s| s >= cur_seq);

    let mut found = Recovered {
        segments: Vec::with_capacity(seqs.len()),
        records: 0,
        resume: (cur_seq, HEADER),
        next_seq: cur_seq,
        loss: SpoolLoss::default(),
    };
    let last = seqs.last().copied();
    for (i, &seq) in seqs.iter().enumerate() {
        let start = if i == 0 && seq == cur_seq {
            cur_off
        } else {
            HEADER
        };
        let seg = scan(dir, seq, start, Some(seq) == last, &found.loss)?;
        if i == 0 {
            found.resume = (seq, start.min(seg.segment.len));
        }
        found.records += seg.records;
        found.segments.push(seg.segment);
        found.next_seq = seq + 1;
    }
    Ok(found)
}

/// A segment as [`scan`] found it.
struct Scanned {
    segment: Segment,
    /// Records in good frames after the start.
    records: u64,
}

/// Validates segment `seq` from `start`: skips damaged stretches followed by a good frame
/// (holes), truncates a damaged tail (counted in `loss` unless it is the torn end of the last
/// segment, never acknowledged).
fn scan(dir: &Path, seq: u64, start: u64, last: bool, loss: &SpoolLoss) -> Result<Scanned, BusError> {
    let path = dir.join(seg_name(seq));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err(&path, "open", ""))?;
    let len = f
        .metadata()
        .map_err(io_err(&path, "read its size", ""))?
        .len();
    let mut head = [0u8; HEADER as usize];
    let read_head = len >= HEADER && f.read_exact_at(&mut head, 0).is_ok();
    let version = if read_head { header_version(&head) } else { None };
    let version = match version {
        Some(v @ (VERSION_1 | VERSION)) => v,
        Some(v) => {
            return Err(BusError::SpoolDamaged {
                path,
                problem: SpoolDamage::UnknownVersion(v),
            })
        }
        None if last && read_head && head == [0u8; HEADER as usize] => {
            // A power loss before the first fsync of a new segment: the header reads as
            // zeros. Nothing in it was acknowledged before its frames (checked below) were.
            tracing::warn!(file = %path.display(), "disk buffer: zeroed segment header (power loss?): rewritten");
            f.write_all_at(&segment_header(), 0)
                .and_then(|()| f.sync_data())
                .map_err(io_err(&path, "repair the header", ""))?;
            VERSION
        }
        None if len < HEADER && last => {
            // Created but its header not yet on disk: nothing was acknowledged in it.
            rewrite_header(&f, &path)?;
            return Ok(Scanned { segment: Segment::new(seq, HEADER, VERSION), records: 0 });
        }
        None => {
            return Err(BusError::SpoolDamaged {
                path,
                problem: SpoolDamage::BadHeader,
            })
        }
    };
    let mut segment = Segment::new(seq, len, version);
    let mut off = start.clamp(HEADER, len);
    let mut records = 0;
    while off < len {
        match read_frame(&f, off, len, version) {
            Ok(Some((payload, next))) => {
                records += payload_records(&payload);
                off = next;
                continue;
            }
            Ok(None) => {}
            Err(e) => return Err(io_err(&path, "read", "")(e)),
        }
        if version == VERSION_1 {
            // No marker to find the next frame by.
            break;
        }
        let (next, frames) = next_good_frame(&f, off, len).map_err(io_err(&path, "read", ""))?;
        let Some(next) = next else {
            if !last {
                SpoolDamageSkipped { file: &path, offset: off, bytes: len - off, frames, resumed: false }.emit(loss);
            }
            break;
        };
        SpoolDamageSkipped { file: &path, offset: off, bytes: next - off, frames, resumed: true }.emit(loss);
        segment.holes.push((off, next));
        off = next;
    }
    if off < len {
        if last {
            tracing::warn!(
                file = %path.display(),
                offset = off,
                bytes = len - off,
                "disk buffer: torn frame at the end (written during a crash, never acknowledged): truncated"
            );
        } else if version == VERSION_1 {
            SpoolDamageSkipped { file: &path, offset: off, bytes: len - off, frames: 1, resumed: false }.emit(loss);
        }
        f.set_len(off)
            .and_then(|()| f.sync_all())
            .map_err(io_err(&path, "truncate", ""))?;
        segment.len = off;
    }
    Ok(Scanned { segment, records })
}

/// Replaces a segment shorter than its header by an empty segment.
fn rewrite_header(f: &File, path: &Path) -> Result<(), BusError> {
    f.set_len(0)
        .and_then(|()| f.write_all_at(&segment_header(), 0))
        .and_then(|()| f.sync_all())
        .map_err(io_err(path, "repair the header", ""))
}
