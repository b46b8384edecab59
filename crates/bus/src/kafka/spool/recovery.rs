//! What [`Spool::open`](super::Spool::open) finds in a spool directory left by an earlier
//! run: segments the cursor says were delivered are deleted, the others are validated frame
//! by frame; a torn or corrupt tail is truncated (it was never acknowledged) and a zeroed
//! header of the last segment (power loss before its first fsync) is rewritten.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::cursor::{read_cursor, remove_tmp};
use super::frame::{payload_records, read_frame, segment_header, FRAME_HEAD, HEADER};
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
    };
    let last = seqs.last().copied();
    for (i, &seq) in seqs.iter().enumerate() {
        let start = if i == 0 && seq == cur_seq {
            cur_off
        } else {
            HEADER
        };
        let (len, records) = scan(dir, seq, start, Some(seq) == last)?;
        if i == 0 {
            found.resume = (seq, start.min(len));
        }
        found.records += records;
        found.segments.push(Segment { seq, len });
        found.next_seq = seq + 1;
    }
    Ok(found)
}

/// Validates segment `seq` from `start`, truncating at the first bad frame. Returns the
/// file length after that and the records after `start`.
fn scan(dir: &Path, seq: u64, start: u64, last: bool) -> Result<(u64, u64), BusError> {
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
    let head_ok =
        len >= HEADER && f.read_exact_at(&mut head, 0).is_ok() && head[..] == segment_header()[..];
    if !head_ok && last && len >= HEADER && head == [0u8; HEADER as usize] {
        // A power loss before the first fsync of a new segment: the header reads as
        // zeros. Nothing in it was acknowledged before its frames (checked below) were.
        tracing::warn!(file = %path.display(), "disk buffer: zeroed segment header (power loss?): rewritten");
        f.write_all_at(&segment_header(), 0)
            .and_then(|()| f.sync_data())
            .map_err(io_err(&path, "repair the header", ""))?;
    } else if !head_ok {
        if len < HEADER && last {
            // Created but its header not yet on disk: nothing was acknowledged in it.
            rewrite_header(&f, &path)?;
            return Ok((HEADER, 0));
        }
        return Err(BusError::SpoolDamaged {
            path,
            problem: SpoolDamage::BadHeader,
        });
    }
    let mut off = start.clamp(HEADER, len);
    let mut records = 0;
    while off < len {
        match read_frame(&f, off, len) {
            Ok(Some(payload)) => {
                records += payload_records(&payload);
                off += FRAME_HEAD + payload.len() as u64;
            }
            Ok(None) => break,
            Err(e) => return Err(io_err(&path, "read", "")(e)),
        }
    }
    if off < len {
        if last {
            tracing::warn!(
                file = %path.display(),
                offset = off,
                bytes = len - off,
                "disk buffer: torn frame at the end (written during a crash, never acknowledged): truncated"
            );
        } else {
            tracing::error!(
                file = %path.display(),
                offset = off,
                bytes = len - off,
                "disk buffer: corrupt frame in the middle of a segment: the rest of this segment is lost"
            );
        }
        f.set_len(off)
            .and_then(|()| f.sync_all())
            .map_err(io_err(&path, "truncate", ""))?;
    }
    Ok((off, records))
}

/// Replaces a segment shorter than its header by an empty segment.
fn rewrite_header(f: &File, path: &Path) -> Result<(), BusError> {
    f.set_len(0)
        .and_then(|()| f.write_all_at(&segment_header(), 0))
        .and_then(|()| f.sync_all())
        .map_err(io_err(path, "repair the header", ""))
}
