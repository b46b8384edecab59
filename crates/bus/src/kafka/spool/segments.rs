//! [`Spool`]: the segment files, written in frames, read back in order, deleted once
//! delivered (the format is in `frame.rs`, the cursor in `cursor.rs`, what `open` does with
//! an earlier run's files in `recovery.rs`).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cursor::write_cursor;
use loglynx_telemetry::internal_events::{SpoolDamageSkipped, SpoolLoss};
use loglynx_telemetry::InternalEvent;

use super::frame::{
    decode_payload, encode_frame, next_good_frame, payload_records, read_frame, segment_header,
    split_batch, SpoolBatch, FRAME_HEAD, HEADER, MAX_FRAME, VERSION, VERSION_1,
};
use super::recovery::recover;
use crate::{BusError, SpoolDamage};

/// Largest segment file; a smaller spool uses a quarter of its capacity.
pub const SEGMENT_BYTES: u64 = 64 << 20;
const CURSOR_SAVE_EVERY: Duration = Duration::from_millis(200);
/// The hint of write errors.
pub(super) const DISK: &str = ": check free disk space";

/// A frame handed out by [`Spool::read_next`]; give it back to [`Spool::delivered`] once
/// every record of it is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameId {
    segment: u64,
    end: u64,
    records: u64,
}

impl FrameId {
    /// Records in the frame.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// A segment file: its number, length and format, and the damaged stretches recovery found
/// in it.
#[derive(Debug)]
pub(super) struct Segment {
    pub(super) seq: u64,
    pub(super) len: u64,
    pub(super) version: u32,
    /// `(start, end)` of damaged stretches, each followed by a good frame: skipped.
    pub(super) holes: Vec<(u64, u64)>,
}

impl Segment {
    pub(super) fn new(seq: u64, len: u64, version: u32) -> Segment {
        Segment { seq, len, version, holes: Vec::new() }
    }
}

/// The on-disk buffer. See `spool/mod.rs` for the format.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last one is written to.
    segments: VecDeque<Segment>,
    writer: Option<File>,
    reader: Option<(u64, File)>,
    /// Next frame to hand out: (segment, offset).
    read: (u64, u64),
    /// First frame not delivered (what the cursor file holds).
    done: (u64, u64),
    next_seq: u64,
    bytes: u64,
    records: u64,
    cursor_dirty: bool,
    cursor_saved: Instant,
    /// Largest frame payload written ([`MAX_FRAME`]; smaller in tests).
    max_frame: u64,
    /// Frames skipped because they could not be decoded.
    skipped: u64,
    /// Damaged frames skipped (at open and while reading).
    loss: SpoolLoss,
    /// Records of the frames handed out by [`Spool::read_next`] and not yet delivered.
    in_flight: u64,
    /// Tests: the write of this frame (counted over the spool's life) fails.
    #[cfg(test)]
    pub(super) fail_frame: Option<u64>,
    #[cfg(test)]
    pub(super) frames_written: u64,
}

/// What [`Spool::append`] restores when a write fails.
struct Mark {
    segments: usize,
    last: Option<(u64, u64)>,
    bytes: u64,
    records: u64,
}

/// The file name of segment `seq`.
pub(super) fn seg_name(seq: u64) -> String {
    format!("{seq:020}.spool")
}

impl Spool {
    /// Opens (or creates) the spool in `dir` with a capacity of `max_bytes`. Deletes segments
    /// the cursor says were delivered, truncates a torn tail (warning), skips damaged frames
    /// (error, counted in [`Spool::lost_frames`]) and counts the records still to send. Fails, naming the directory, when it cannot be created or written.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, BusError> {
        let found = recover(dir)?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 4).clamp(4096, SEGMENT_BYTES),
            bytes: found.segments.iter().map(|s| s.len).sum(),
            segments: found.segments.into(),
            writer: None,
            reader: None,
            read: found.resume,
            done: found.resume,
            next_seq: found.next_seq,
            records: found.records,
            cursor_dirty: false,
            cursor_saved: Instant::now(),
            max_frame: MAX_FRAME,
            skipped: 0,
            loss: found.loss,
            in_flight: 0,
            #[cfg(test)]
            fail_frame: None,
            #[cfg(test)]
            frames_written: 0,
        };
        // An older format's last segment is read, never appended to: writing starts a new one.
        if let Some(seg) = spool.segments.back().filter(|s| s.version == VERSION) {
            let path = dir.join(seg_name(seg.seq));
            let f = OpenOptions::new().append(true).open(&path).map_err(io_err(
                &path,
                "open for writing",
                "",
            ))?;
            spool.writer = Some(f);
        }
        if spool.records > 0 {
            tracing::info!(
                dir = %dir.display(),
                records = spool.records,
                bytes = spool.bytes,
                "disk buffer holds records from a previous run: sending them first"
            );
        } else if !spool.segments.is_empty() {
            spool.clear()?;
        }
        Ok(spool)
    }

    /// Uses segments of at most `bytes` (tests use small ones to see rotation).
    pub fn with_segment_bytes(mut self, bytes: u64) -> Spool {
        self.segment_bytes = bytes.max(HEADER + FRAME_HEAD + 1);
        self
    }

    #[cfg(test)]
    pub(super) fn with_max_frame(mut self, bytes: u64) -> Spool {
        self.max_frame = bytes;
        self
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of the segment files.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The capacity.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Records written and not yet delivered.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Frames skipped by [`Spool::read_next`] because they could not be decoded.
    pub fn skipped_frames(&self) -> u64 {
        self.skipped
    }

    /// Damaged frames skipped since open (about: the frame markers in the damaged stretches);
    /// their records are lost.
    pub fn lost_frames(&self) -> u64 {
        self.loss.frames.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of the damaged stretches skipped since open.
    pub fn lost_bytes(&self) -> u64 {
        self.loss.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// True when every record written was delivered.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// True when the segment files reached the capacity: [`Spool::append`] refuses.
    pub fn is_full(&self) -> bool {
        self.bytes >= self.max_bytes
    }

    /// Appends `batches` (batches without records are skipped) as frames and fsyncs once.
    /// Refuses when [`Spool::is_full`]; the batches of one call may go over the capacity. On
    /// a write error nothing of the call stays (the segment is cut back to its length before)
    /// and the error says what to do.
    pub fn append(&mut self, batches: &[SpoolBatch]) -> Result<(), BusError> {
        if self.is_full() {
            return Err(BusError::SpoolFull {
                path: self.dir.clone(),
                bytes: self.bytes,
                max_bytes: self.max_bytes,
            });
        }
        let mark = Mark {
            segments: self.segments.len(),
            last: self.segments.back().map(|s| (s.seq, s.len)),
            bytes: self.bytes,
            records: self.records,
        };
        let res = self.append_frames(batches);
        if res.is_err() {
            self.rollback(mark);
        }
        res
    }

    fn append_frames(&mut self, batches: &[SpoolBatch]) -> Result<(), BusError> {
        let mut buf = Vec::new();
        let mut created = false;
        for batch in batches.iter().filter(|b| !b.records.is_empty()) {
            for part in split_batch(batch, self.max_frame) {
                buf.clear();
                encode_frame(&part, &mut buf);
                created |= self.write_frame(&buf, part.records.len() as u64)?;
            }
        }
        if let (Some(w), Some(seg)) = (self.writer.as_ref(), self.segments.back()) {
            w.sync_data()
                .map_err(io_err(&self.dir.join(seg_name(seg.seq)), "fsync", DISK))?;
        }
        if created {
            sync_dir(&self.dir);
        }
        Ok(())
    }

    /// Writes one encoded frame, starting a segment when needed (returns whether it did).
    fn write_frame(&mut self, buf: &[u8], records: u64) -> Result<bool, BusError> {
        let n = buf.len() as u64;
        if n - FRAME_HEAD > u64::from(u32::MAX) || n - FRAME_HEAD > MAX_FRAME {
            return Err(BusError::SpoolRecordTooLarge {
                path: self.dir.clone(),
                bytes: n,
            });
        }
        let rotate = match self.segments.back() {
            None => true,
            Some(s) => self.writer.is_none() || (s.len > HEADER && s.len + n > self.segment_bytes),
        };
        if rotate {
            self.start_segment()?;
        }
        let (Some(w), Some(seg)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(BusError::SpoolDamaged {
                path: self.dir.clone(),
                problem: SpoolDamage::NoSegment,
            });
        };
        let path = self.dir.join(seg_name(seg.seq));
        #[cfg(test)]
        {
            self.frames_written += 1;
            if self.fail_frame == Some(self.frames_written) {
                // Half the frame reaches the file, as a full disk would leave it.
                let _ = w.write_all(&buf[..buf.len() / 2]);
                return Err(io_err(&path, "write", DISK)(std::io::Error::other(
                    "test: no space left on device",
                )));
            }
        }
        w.write_all(buf).map_err(io_err(&path, "write", DISK))?;
        seg.len += n;
        self.bytes += n;
        self.records += records;
        Ok(rotate)
    }

    /// Undoes a failed [`Spool::append`]: deletes the segments it created and cuts the one it
    /// wrote to back to its former length. When that cut fails the next write starts a new
    /// segment (the bytes left behind were never acknowledged; the reopen truncates them).
    fn rollback(&mut self, m: Mark) {
        while self.segments.len() > m.segments {
            let Some(seg) = self.segments.pop_back() else {
                break;
            };
            if self.reader.as_ref().is_some_and(|(s, _)| *s == seg.seq) {
                self.reader = None;
            }
            let _ = std::fs::remove_file(self.dir.join(seg_name(seg.seq)));
        }
        self.writer = None;
        self.bytes = m.bytes;
        self.records = m.records;
        let Some((seq, len)) = m.last else {
            return;
        };
        let Some(seg) = self.segments.back_mut() else {
            return;
        };
        seg.len = len;
        let path = self.dir.join(seg_name(seq));
        let cut = OpenOptions::new().append(true).open(&path).and_then(|f| {
            f.set_len(len)?;
            f.sync_data()?;
            Ok(f)
        });
        match cut {
            Ok(f) => self.writer = Some(f),
            Err(e) => tracing::warn!(
                file = %path.display(),
                "disk buffer: cannot cut a failed write back ({e}): the next write starts a new segment"
            ),
        }
    }

    /// The next frame not yet handed out, in write order; `None` when every frame written so
    /// far was handed out.
    pub fn read_next(&mut self) -> Result<Option<(FrameId, SpoolBatch)>, BusError> {
        loop {
            let Some(idx) = self.segments.iter().position(|s| s.seq >= self.read.0) else {
                return Ok(None);
            };
            let seg = &self.segments[idx];
            if seg.seq > self.read.0 {
                self.read = (seg.seq, HEADER);
            }
            if self.read.1 >= seg.len {
                if idx + 1 == self.segments.len() {
                    return Ok(None);
                }
                self.read = (self.segments[idx + 1].seq, HEADER);
                continue;
            }
            if let Some(&(_, end)) = seg.holes.iter().find(|(start, _)| *start == self.read.1) {
                // Damaged, counted at open.
                self.read.1 = end;
                continue;
            }
            let (seq, off, seg_len, version) = (seg.seq, self.read.1, seg.len, seg.version);
            let path = self.dir.join(seg_name(seq));
            if self.reader.as_ref().map(|(s, _)| *s) != Some(seq) {
                let f = File::open(&path).map_err(io_err(&path, "open", ""))?;
                self.reader = Some((seq, f));
            }
            let Some((_, f)) = self.reader.as_ref() else {
                return Ok(None);
            };
            let (payload, end) = match read_frame(f, off, seg_len, version) {
                Ok(Some(p)) => p,
                Ok(None) if version == VERSION_1 => {
                    return Err(BusError::SpoolDamaged {
                        path,
                        problem: SpoolDamage::CorruptFrame(off),
                    })
                }
                Ok(None) => {
                    // Damaged since open: skip to the next good frame, or to the segment's end.
                    let (next, frames) = next_good_frame(f, off, seg_len).map_err(io_err(&path, "read", ""))?;
                    let end = next.unwrap_or(seg_len);
                    SpoolDamageSkipped { file: &path, offset: off, bytes: end - off, frames, resumed: next.is_some() }
                        .emit(&self.loss);
                    self.read.1 = end;
                    // The damaged frames' records will never be delivered: count again what
                    // can be, so the spool still empties.
                    self.records = self.in_flight + self.count_from_read()?;
                    continue;
                }
                Err(e) => return Err(io_err(&path, "read", "")(e)),
            };
            let batch = decode_payload(&payload).unwrap_or_else(|| {
                self.skipped += 1;
                tracing::error!(
                    file = %path.display(),
                    offset = off,
                    records = payload_records(&payload),
                    "disk buffer: a frame with a valid checksum cannot be decoded (written by another version?): its records are skipped"
                );
                SpoolBatch::default()
            });
            self.read = (seq, end);
            let id = FrameId {
                segment: seq,
                end,
                records: payload_records(&payload),
            };
            self.in_flight += id.records;
            return Ok(Some((id, batch)));
        }
    }

    /// Records in the good frames from the read position to the end of the spool (damaged
    /// stretches are skipped; they are reported when reading reaches them).
    fn count_from_read(&self) -> Result<u64, BusError> {
        let mut records = 0;
        for seg in self.segments.iter().filter(|s| s.seq >= self.read.0) {
            let path = self.dir.join(seg_name(seg.seq));
            let f = File::open(&path).map_err(io_err(&path, "open", ""))?;
            let mut off = if seg.seq == self.read.0 { self.read.1 } else { HEADER };
            while off < seg.len {
                if let Some(&(_, end)) = seg.holes.iter().find(|(start, _)| *start == off) {
                    off = end;
                    continue;
                }
                match read_frame(&f, off, seg.len, seg.version).map_err(io_err(&path, "read", ""))? {
                    Some((payload, next)) => {
                        records += payload_records(&payload);
                        off = next;
                    }
                    None if seg.version == VERSION_1 => break,
                    None => match next_good_frame(&f, off, seg.len).map_err(io_err(&path, "read", ""))? {
                        (Some(next), _) => off = next,
                        (None, _) => break,
                    },
                }
            }
        }
        Ok(records)
    }

    /// Marks the frame `id` delivered (frames must come back in the order they were handed
    /// out): moves the cursor, deletes segments wholly delivered, and every file once the
    /// spool is empty.
    pub fn delivered(&mut self, id: FrameId) -> Result<(), BusError> {
        self.done = (id.segment, id.end);
        self.records = self.records.saturating_sub(id.records);
        self.in_flight = self.in_flight.saturating_sub(id.records);
        self.cursor_dirty = true;
        let at_end = self
            .segments
            .back()
            .is_none_or(|s| self.done.0 > s.seq || (self.done.0 == s.seq && self.done.1 >= s.len));
        if at_end {
            return self.clear();
        }
        let mut gone = 0;
        for (i, s) in self.segments.iter().enumerate() {
            let behind = s.seq < self.done.0 || (s.seq == self.done.0 && self.done.1 >= s.len);
            if !behind || i + 1 == self.segments.len() {
                break;
            }
            gone += 1;
        }
        if gone > 0 {
            let first_kept = self.segments[gone].seq;
            if self.done.0 < first_kept {
                self.done = (first_kept, HEADER);
            }
            self.save_cursor()?;
            let gone: Vec<Segment> = self.segments.drain(..gone).collect();
            self.delete_segments(gone)?;
        } else if self.cursor_saved.elapsed() >= CURSOR_SAVE_EVERY {
            self.save_cursor()?;
        }
        Ok(())
    }

    /// Writes the cursor file if it changed since the last write (at shutdown).
    pub fn sync_cursor(&mut self) -> Result<(), BusError> {
        if self.cursor_dirty {
            self.save_cursor()?;
        }
        Ok(())
    }

    /// Every frame is delivered: the cursor moves to a fresh segment number, then every
    /// segment file is deleted.
    fn clear(&mut self) -> Result<(), BusError> {
        let next = self
            .segments
            .back()
            .map_or(self.next_seq, |s| s.seq + 1)
            .max(self.next_seq);
        self.next_seq = next;
        self.done = (next, HEADER);
        self.read = (next, HEADER);
        self.save_cursor()?;
        self.writer = None;
        self.reader = None;
        self.records = 0;
        self.in_flight = 0;
        let gone: Vec<Segment> = self.segments.drain(..).collect();
        self.delete_segments(gone)
    }

    /// Deletes delivered segments (already out of `segments`), keeping `bytes` right when a
    /// deletion fails (the first error is returned; the cursor is already past them).
    fn delete_segments(&mut self, gone: Vec<Segment>) -> Result<(), BusError> {
        let mut res = Ok(());
        for s in gone {
            self.bytes = self.bytes.saturating_sub(s.len);
            let path = self.dir.join(seg_name(s.seq));
            if let Err(e) = std::fs::remove_file(&path) {
                if res.is_ok() {
                    res = Err(io_err(&path, "delete a delivered segment", "")(e));
                }
            }
        }
        res
    }

    fn start_segment(&mut self) -> Result<(), BusError> {
        if let (Some(w), Some(seg)) = (self.writer.as_ref(), self.segments.back()) {
            w.sync_data()
                .map_err(io_err(&self.dir.join(seg_name(seg.seq)), "fsync", ""))?;
        }
        let seq = self.next_seq;
        let path = self.dir.join(seg_name(seq));
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(io_err(
                &path,
                "create",
                ": check free disk space and permissions",
            ))?;
        f.write_all(&segment_header())
            .map_err(io_err(&path, "write", DISK))?;
        self.writer = Some(f);
        self.segments.push_back(Segment::new(seq, HEADER, VERSION));
        self.bytes += HEADER;
        self.next_seq = seq + 1;
        Ok(())
    }

    fn save_cursor(&mut self) -> Result<(), BusError> {
        write_cursor(&self.dir, self.done)?;
        self.cursor_dirty = false;
        self.cursor_saved = Instant::now();
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = self.sync_cursor() {
            tracing::warn!("{e}");
        }
    }
}

/// Turns the I/O error of `action` on `path` into a [`BusError::Spool`] with `hint`.
pub(super) fn io_err(
    path: &Path,
    action: &'static str,
    hint: &'static str,
) -> impl FnOnce(std::io::Error) -> BusError {
    let path = path.to_path_buf();
    move |source| BusError::Spool {
        path,
        action,
        hint,
        source,
    }
}

/// Fsyncs the directory `dir` (a created, renamed or deleted entry), best effort.
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
