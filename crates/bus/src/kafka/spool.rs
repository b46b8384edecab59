//! [`Spool`]: the agent's bounded on-disk buffer for broker outages, in
//! `<data_dir>/agent/spool/`.
//!
//! ```text
//! 00000000000000000003.spool  "LLXSPOOL" u32 version | frame | frame | ...
//! 00000000000000000004.spool  (the segment being written)
//! cursor                      "<segment> <offset>": the first frame not yet delivered
//! frame   = u32 payload length | u32 crc32(payload) | payload          (little endian)
//! payload = u32 records | u32 positions | (u32 len, key, u64 position)* | (u32 len, key, u32 len, value)*
//! ```
//!
//! - [`Spool::append`] writes several batches and fsyncs once (group commit); a batch is
//!   acknowledged only after that, so a frame cut by a crash was never acknowledged: on open a
//!   torn or corrupt tail is truncated (with a warning).
//! - [`Spool::read_next`] hands frames out in order; [`Spool::delivered`] takes them back in
//!   the same order once every record is in Kafka, moves the cursor and deletes the segments
//!   left behind. When everything is delivered every file but the cursor is deleted.
//! - Segments rotate at [`SEGMENT_BYTES`] (less for a small spool). The cursor file is written
//!   atomically (write, fsync, rename) at most every 200 ms and before any segment is deleted:
//!   after a crash at most the frames of the last 200 ms are sent again (at-least-once).
//! - A write that fails (disk full, I/O error) is undone: the segment is cut back to its last
//!   good length (segments created by it are deleted), so the caller can try again later.
//! - A frame larger than [`MAX_FRAME`] is written as several frames (the positions in the last).
//! - Blocking I/O: call it from `spawn_blocking` in async code.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::BusError;

const MAGIC: &[u8; 8] = b"LLXSPOOL";
const VERSION: u32 = 1;
/// Bytes of a segment header (magic + version).
const HEADER: u64 = 12;
/// Bytes of a frame header (length + crc).
const FRAME_HEAD: u64 = 8;
/// Largest frame payload (a larger length read is corruption; a larger batch is split).
pub const MAX_FRAME: u64 = 1 << 30;
/// Largest segment file; a smaller spool uses a quarter of its capacity.
pub const SEGMENT_BYTES: u64 = 64 << 20;
const CURSOR_SAVE_EVERY: Duration = Duration::from_millis(200);
const CURSOR: &str = "cursor";
const CURSOR_TMP: &str = "cursor.tmp";

/// One batch as stored in a frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolBatch {
    /// The records' message keys and values, in order, as the codec encodes them.
    pub records: Vec<(String, Vec<u8>)>,
    /// Source positions this batch advanced to that were safe to save when it was written
    /// (no earlier record of the same source still waiting elsewhere).
    pub positions: Vec<(String, u64)>,
}

impl SpoolBatch {
    /// Bytes the batch takes on disk.
    pub fn disk_bytes(&self) -> u64 {
        let recs: usize = self
            .records
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum();
        let pos: usize = self.positions.iter().map(|(k, _)| 12 + k.len()).sum();
        (FRAME_HEAD as usize + 8 + recs + pos) as u64
    }
}

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

#[derive(Debug)]
struct Segment {
    seq: u64,
    len: u64,
}

/// The on-disk buffer. See the module documentation for the format.
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
    /// Tests: the write of this frame (counted over the spool's life) fails.
    #[cfg(test)]
    fail_frame: Option<u64>,
    #[cfg(test)]
    frames_written: u64,
}

/// What [`Spool::append`] restores when a write fails.
struct Mark {
    segments: usize,
    last: Option<(u64, u64)>,
    bytes: u64,
    records: u64,
}

fn seg_name(seq: u64) -> String {
    format!("{seq:020}.spool")
}

impl Spool {
    /// Opens (or creates) the spool in `dir` with a capacity of `max_bytes`. Deletes segments
    /// the cursor says were delivered, truncates a torn tail (warning) and counts the records
    /// still to send. Fails, naming the directory, when it cannot be created or written.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, BusError> {
        let err = |path: &Path, reason: String| BusError::Spool {
            path: path.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| {
            err(
                dir,
                format!("cannot create the directory ({e}): check the path and its permissions or pass another --data-dir"),
            )
        })?;
        let probe = dir.join(".probe");
        File::create(&probe)
            .and_then(|mut f| f.write_all(b"x"))
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| {
                err(
                    dir,
                    format!("the directory is not writable ({e}): fix its permissions or pass another --data-dir"),
                )
            })?;
        let _ = std::fs::remove_file(dir.join(CURSOR_TMP));
        let cursor = read_cursor(dir)?;

        let mut seqs = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| err(dir, format!("cannot list ({e})")))?;
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
            std::fs::remove_file(&path)
                .map_err(|e| err(&path, format!("cannot delete a delivered segment ({e})")))?;
        }
        seqs.retain(|&s| s >= cur_seq);

        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 4).clamp(4096, SEGMENT_BYTES),
            segments: VecDeque::new(),
            writer: None,
            reader: None,
            read: (cur_seq, HEADER),
            done: (cur_seq, HEADER),
            next_seq: cur_seq,
            bytes: 0,
            records: 0,
            cursor_dirty: false,
            cursor_saved: Instant::now(),
            max_frame: MAX_FRAME,
            skipped: 0,
            #[cfg(test)]
            fail_frame: None,
            #[cfg(test)]
            frames_written: 0,
        };
        let last = seqs.last().copied();
        for (i, &seq) in seqs.iter().enumerate() {
            let start = if i == 0 && seq == cur_seq {
                cur_off
            } else {
                HEADER
            };
            if i == 0 {
                spool.read = (seq, start);
                spool.done = (seq, start);
            }
            let (len, records) = spool.scan(seq, start, Some(seq) == last)?;
            if i == 0 {
                spool.read.1 = spool.read.1.min(len);
                spool.done.1 = spool.done.1.min(len);
            }
            spool.bytes += len;
            spool.records += records;
            spool.segments.push_back(Segment { seq, len });
            spool.next_seq = seq + 1;
        }
        if let Some(seg) = spool.segments.back() {
            let path = dir.join(seg_name(seg.seq));
            let f = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| err(&path, format!("cannot open for writing ({e})")))?;
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
    fn with_max_frame(mut self, bytes: u64) -> Spool {
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
            return Err(BusError::Spool {
                path: self.dir.clone(),
                reason: format!(
                    "full ({} of {} bytes): wait for the brokers or raise kafka.spool_size",
                    self.bytes, self.max_bytes
                ),
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
            w.sync_data().map_err(|e| {
                io_err(
                    &self.dir.join(seg_name(seg.seq)),
                    format!("cannot fsync ({e}): check free disk space"),
                )
            })?;
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
            return Err(io_err(
                &self.dir,
                format!("a record of {n} bytes is larger than a frame allows: lower the sources' maximum line length"),
            ));
        }
        let rotate = match self.segments.back() {
            None => true,
            Some(s) => self.writer.is_none() || (s.len > HEADER && s.len + n > self.segment_bytes),
        };
        if rotate {
            self.start_segment()?;
        }
        let (Some(w), Some(seg)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(io_err(&self.dir, "no segment to write to".into()));
        };
        let path = self.dir.join(seg_name(seg.seq));
        #[cfg(test)]
        {
            self.frames_written += 1;
            if self.fail_frame == Some(self.frames_written) {
                // Half the frame reaches the file, as a full disk would leave it.
                let _ = w.write_all(&buf[..buf.len() / 2]);
                return Err(io_err(
                    &path,
                    "cannot write (test: no space left on device): check free disk space".into(),
                ));
            }
        }
        w.write_all(buf)
            .map_err(|e| io_err(&path, format!("cannot write ({e}): check free disk space")))?;
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
            let (seq, off, seg_len) = (seg.seq, self.read.1, seg.len);
            let path = self.dir.join(seg_name(seq));
            if self.reader.as_ref().map(|(s, _)| *s) != Some(seq) {
                let f =
                    File::open(&path).map_err(|e| io_err(&path, format!("cannot open ({e})")))?;
                self.reader = Some((seq, f));
            }
            let Some((_, f)) = self.reader.as_ref() else {
                return Ok(None);
            };
            let corrupt = |what: &str| {
                io_err(
                    &path,
                    format!("{what} at offset {off}: the disk buffer is damaged; move the file away to skip it (its records are lost)"),
                )
            };
            let payload = match read_frame(f, off, seg_len) {
                Ok(Some(p)) => p,
                Ok(None) => return Err(corrupt("corrupt frame")),
                Err(e) => return Err(io_err(&path, format!("cannot read ({e})"))),
            };
            let end = off + FRAME_HEAD + payload.len() as u64;
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
            return Ok(Some((id, batch)));
        }
    }

    /// Marks the frame `id` delivered (frames must come back in the order they were handed
    /// out): moves the cursor, deletes segments wholly delivered, and every file once the
    /// spool is empty.
    pub fn delivered(&mut self, id: FrameId) -> Result<(), BusError> {
        self.done = (id.segment, id.end);
        self.records = self.records.saturating_sub(id.records);
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
                    res = Err(io_err(
                        &path,
                        format!("cannot delete a delivered segment ({e})"),
                    ));
                }
            }
        }
        res
    }

    fn start_segment(&mut self) -> Result<(), BusError> {
        if let (Some(w), Some(seg)) = (self.writer.as_ref(), self.segments.back()) {
            w.sync_data().map_err(|e| {
                io_err(
                    &self.dir.join(seg_name(seg.seq)),
                    format!("cannot fsync ({e})"),
                )
            })?;
        }
        let seq = self.next_seq;
        let path = self.dir.join(seg_name(seq));
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                io_err(
                    &path,
                    format!("cannot create ({e}): check free disk space and permissions"),
                )
            })?;
        let mut head = Vec::with_capacity(HEADER as usize);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        f.write_all(&head)
            .map_err(|e| io_err(&path, format!("cannot write ({e}): check free disk space")))?;
        self.writer = Some(f);
        self.segments.push_back(Segment { seq, len: HEADER });
        self.bytes += HEADER;
        self.next_seq = seq + 1;
        Ok(())
    }

    /// Validates segment `seq` from `start`, truncating at the first bad frame. Returns the
    /// file length after that and the records after `start`.
    fn scan(&self, seq: u64, start: u64, last: bool) -> Result<(u64, u64), BusError> {
        let path = self.dir.join(seg_name(seq));
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, format!("cannot open ({e})")))?;
        let len = f
            .metadata()
            .map_err(|e| io_err(&path, format!("cannot read its size ({e})")))?
            .len();
        let mut head = [0u8; HEADER as usize];
        let head_ok = len >= HEADER
            && f.read_exact_at(&mut head, 0).is_ok()
            && &head[..8] == MAGIC
            && head[8..12] == VERSION.to_le_bytes();
        if !head_ok && last && len >= HEADER && head == [0u8; HEADER as usize] {
            // A power loss before the first fsync of a new segment: the header reads as
            // zeros. Nothing in it was acknowledged before its frames (checked below) were.
            tracing::warn!(file = %path.display(), "disk buffer: zeroed segment header (power loss?): rewritten");
            let mut h = Vec::with_capacity(HEADER as usize);
            h.extend_from_slice(MAGIC);
            h.extend_from_slice(&VERSION.to_le_bytes());
            f.write_all_at(&h, 0)
                .and_then(|()| f.sync_data())
                .map_err(|e| io_err(&path, format!("cannot repair the header ({e})")))?;
        } else if !head_ok {
            if len < HEADER && last {
                // Created but its header not yet on disk: nothing was acknowledged in it.
                rewrite_header(&f, &path)?;
                return Ok((HEADER, 0));
            }
            return Err(io_err(
                &path,
                "not a loglynx spool segment (bad header): move it out of the spool directory"
                    .into(),
            ));
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
                Err(e) => return Err(io_err(&path, format!("cannot read ({e})"))),
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
                .map_err(|e| io_err(&path, format!("cannot truncate ({e})")))?;
        }
        Ok((off, records))
    }

    fn save_cursor(&mut self) -> Result<(), BusError> {
        let tmp = self.dir.join(CURSOR_TMP);
        let path = self.dir.join(CURSOR);
        let text = format!("{} {}\n", self.done.0, self.done.1);
        File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| io_err(&path, format!("cannot write ({e}): check free disk space")))?;
        sync_dir(&self.dir);
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

fn io_err(path: &Path, reason: String) -> BusError {
    BusError::Spool {
        path: path.to_path_buf(),
        reason,
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn rewrite_header(f: &File, path: &Path) -> Result<(), BusError> {
    let mut head = Vec::with_capacity(HEADER as usize);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&VERSION.to_le_bytes());
    f.set_len(0)
        .and_then(|()| f.write_all_at(&head, 0))
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err(path, format!("cannot repair the header ({e})")))
}

fn read_cursor(dir: &Path) -> Result<Option<(u64, u64)>, BusError> {
    let path = dir.join(CURSOR);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path, format!("cannot read ({e})"))),
    };
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(seq)), Some(Ok(off)), None) => Ok(Some((seq, off.max(HEADER)))),
        _ => Err(io_err(
            &path,
            "invalid content: delete it to send the whole disk buffer again (records may be duplicated)".into(),
        )),
    }
}

/// Reads the frame at `off` of a file of `len` bytes: `Ok(None)` when it is torn or corrupt.
fn read_frame(f: &File, off: u64, len: u64) -> std::io::Result<Option<Vec<u8>>> {
    if len < off + FRAME_HEAD {
        return Ok(None);
    }
    let mut head = [0u8; FRAME_HEAD as usize];
    f.read_exact_at(&mut head, off)?;
    let n = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(8..=MAX_FRAME).contains(&n) || off + FRAME_HEAD + n > len {
        return Ok(None);
    }
    let mut payload = vec![0u8; n as usize];
    f.read_exact_at(&mut payload, off + FRAME_HEAD)?;
    if crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    Ok(Some(payload))
}

/// `b` as batches whose frames stay under `max_frame` bytes (a record alone may not): the
/// positions go with the last one.
fn split_batch(b: &SpoolBatch, max_frame: u64) -> Vec<std::borrow::Cow<'_, SpoolBatch>> {
    if b.disk_bytes() <= max_frame {
        return vec![std::borrow::Cow::Borrowed(b)];
    }
    let mut parts = Vec::new();
    let mut cur = SpoolBatch::default();
    let mut size = FRAME_HEAD + 8;
    for (k, v) in &b.records {
        let n = (8 + k.len() + v.len()) as u64;
        if !cur.records.is_empty() && size + n > max_frame {
            parts.push(std::borrow::Cow::Owned(std::mem::take(&mut cur)));
            size = FRAME_HEAD + 8;
        }
        cur.records.push((k.clone(), v.clone()));
        size += n;
    }
    cur.positions = b.positions.clone();
    parts.push(std::borrow::Cow::Owned(cur));
    parts
}

fn encode_frame(b: &SpoolBatch, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0u8; FRAME_HEAD as usize]);
    out.extend_from_slice(&(b.records.len() as u32).to_le_bytes());
    out.extend_from_slice(&(b.positions.len() as u32).to_le_bytes());
    for (k, p) in &b.positions {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&p.to_le_bytes());
    }
    for (k, v) in &b.records {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    let payload_len = (out.len() - FRAME_HEAD as usize) as u32;
    let crc = crc32fast::hash(&out[FRAME_HEAD as usize..]);
    out[0..4].copy_from_slice(&payload_len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
}

fn payload_records(p: &[u8]) -> u64 {
    p.get(0..4).map_or(0, |b| {
        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    })
}

/// Decodes a payload; `None` when it is malformed.
fn decode_payload(p: &[u8]) -> Option<SpoolBatch> {
    struct Rd<'a>(&'a [u8]);
    impl<'a> Rd<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Some(a)
        }
        fn u32(&mut self) -> Option<usize> {
            let b = self.take(4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        fn u64(&mut self) -> Option<u64> {
            let b = self.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Some(u64::from_le_bytes(a))
        }
        fn string(&mut self) -> Option<String> {
            let n = self.u32()?;
            String::from_utf8(self.take(n)?.to_vec()).ok()
        }
    }
    let mut r = Rd(p);
    let nrec = r.u32()?;
    let npos = r.u32()?;
    // Every entry takes at least 8 bytes: a count larger than the payload is corruption.
    if nrec.saturating_add(npos) > p.len() / 8 {
        return None;
    }
    let mut positions = Vec::with_capacity(npos);
    for _ in 0..npos {
        let k = r.string()?;
        positions.push((k, r.u64()?));
    }
    let mut records = Vec::with_capacity(nrec);
    for _ in 0..nrec {
        let k = r.string()?;
        let n = r.u32()?;
        records.push((k, r.take(n)?.to_vec()));
    }
    if !r.0.is_empty() {
        return None;
    }
    Some(SpoolBatch { records, positions })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(i: u64) -> SpoolBatch {
        SpoolBatch {
            records: vec![
                ("h|file:a".to_string(), format!("line {i} a").into_bytes()),
                ("h|file:b".to_string(), vec![0xff, i as u8, 0]),
            ],
            positions: vec![("file:a".into(), i * 10)],
        }
    }

    fn segment_files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".spool")
            })
            .count()
    }

    fn read_all(s: &mut Spool) -> Vec<(FrameId, SpoolBatch)> {
        let mut out = Vec::new();
        while let Some(f) = s.read_next().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn frames_come_back_in_write_order_across_segments() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20)
            .unwrap()
            .with_segment_bytes(100);
        s.append(&[batch(0), batch(1)]).unwrap();
        s.append(&[SpoolBatch::default(), batch(2)]).unwrap();
        assert_eq!(s.records(), 6);
        let got = read_all(&mut s);
        assert_eq!(
            got.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
            vec![batch(0), batch(1), batch(2)]
        );
        assert_eq!(segment_files(tmp.path()), 3);
        assert_eq!(
            s.bytes(),
            std::fs::read_dir(tmp.path())
                .unwrap()
                .filter_map(|e| {
                    let e = e.unwrap();
                    e.file_name()
                        .to_string_lossy()
                        .ends_with(".spool")
                        .then(|| e.metadata().unwrap().len())
                })
                .sum::<u64>()
        );
        s.append(&[batch(3)]).unwrap();
        let more = read_all(&mut s);
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].1, batch(3));
    }

    #[test]
    fn delivered_segments_are_deleted_and_an_empty_spool_leaves_no_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20)
            .unwrap()
            .with_segment_bytes(100);
        s.append(&[batch(0), batch(1), batch(2)]).unwrap();
        let frames = read_all(&mut s);
        assert_eq!(segment_files(tmp.path()), 3);
        s.delivered(frames[0].0).unwrap();
        assert_eq!(segment_files(tmp.path()), 2);
        assert_eq!(s.records(), 4);
        s.delivered(frames[1].0).unwrap();
        assert_eq!(segment_files(tmp.path()), 1);
        s.delivered(frames[2].0).unwrap();
        assert_eq!(segment_files(tmp.path()), 0);
        assert!(s.is_empty());
        assert_eq!(s.bytes(), 0);
        // Reopening an empty spool finds nothing to send; new frames are numbered after the old.
        drop(s);
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!((s.records(), s.bytes()), (0, 0));
        assert!(s.read_next().unwrap().is_none());
        s.append(&[batch(7)]).unwrap();
        assert!(tmp.path().join(seg_name(3)).exists());
        assert_eq!(read_all(&mut s)[0].1, batch(7));
    }

    #[test]
    fn a_reopen_resumes_at_the_cursor_and_truncates_a_torn_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        s.append(&[batch(0), batch(1), batch(2), batch(3)]).unwrap();
        let frames = read_all(&mut s);
        s.delivered(frames[0].0).unwrap();
        s.delivered(frames[1].0).unwrap();
        drop(s); // writes the cursor
                 // A crash in the middle of the next write: half a frame at the end.
        let seg = tmp.path().join(seg_name(0));
        let good_len = std::fs::metadata(&seg).unwrap().len();
        let mut torn = Vec::new();
        encode_frame(&batch(4), &mut torn);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(f);

        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), good_len);
        assert_eq!(s.records(), 4);
        let rest: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(rest, vec![batch(2), batch(3)]);
        s.append(&[batch(5)]).unwrap();
        assert_eq!(read_all(&mut s)[0].1, batch(5));
    }

    #[test]
    fn a_corrupt_last_frame_is_dropped_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        s.append(&[batch(0), batch(1)]).unwrap();
        drop(s);
        let seg = tmp.path().join(seg_name(0));
        let mut bytes = std::fs::read(&seg).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x55;
        std::fs::write(&seg, &bytes).unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 2);
        let rest: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(rest, vec![batch(0)]);
    }

    #[test]
    fn a_full_spool_refuses_until_frames_are_delivered() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 300)
            .unwrap()
            .with_segment_bytes(100);
        let mut appended = 0;
        while !s.is_full() {
            s.append(&[batch(appended)]).unwrap();
            appended += 1;
        }
        assert!(appended >= 3, "{appended}");
        let e = s.append(&[batch(99)]).unwrap_err().to_string();
        assert!(e.contains("full") && e.contains("kafka.spool_size"), "{e}");
        let frames = read_all(&mut s);
        assert_eq!(frames.len() as u64, appended);
        s.delivered(frames[0].0).unwrap();
        assert!(!s.is_full());
        s.append(&[batch(99)]).unwrap();
    }

    #[test]
    fn an_unusable_directory_is_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let e = Spool::open(&file.join("spool"), 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not-a-dir/spool") && e.contains("--data-dir"),
            "{e}"
        );
        std::fs::create_dir_all(tmp.path().join("s")).unwrap();
        std::fs::write(
            tmp.path().join("s").join(seg_name(0)),
            b"something else entirely",
        )
        .unwrap();
        let e = Spool::open(&tmp.path().join("s"), 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad header") && e.contains("move it"), "{e}");
    }

    #[test]
    fn malformed_payloads_are_refused_not_panicked_on() {
        assert!(decode_payload(&[]).is_none());
        assert!(decode_payload(&[255, 255, 255, 255, 0, 0, 0, 0]).is_none());
        let mut f = Vec::new();
        encode_frame(&batch(1), &mut f);
        let p = &f[FRAME_HEAD as usize..];
        assert_eq!(decode_payload(p), Some(batch(1)));
        for cut in 0..p.len() {
            assert!(decode_payload(&p[..cut]).is_none(), "cut at {cut}");
        }
    }

    fn file_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let e = e.unwrap();
                e.file_name()
                    .to_string_lossy()
                    .ends_with(".spool")
                    .then(|| e.metadata().unwrap().len())
            })
            .sum()
    }

    #[test]
    fn a_failed_write_is_undone_and_can_be_done_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        s.append(&[batch(0)]).unwrap();
        // The second frame of the next write fails half-written (same segment).
        s.fail_frame = Some(s.frames_written + 2);
        let e = s.append(&[batch(1), batch(2)]).unwrap_err().to_string();
        assert!(e.contains("free disk space"), "{e}");
        assert_eq!((s.records(), s.bytes()), (2, file_bytes(tmp.path())));
        s.append(&[batch(1), batch(2)]).unwrap();
        let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, vec![batch(0), batch(1), batch(2)]);
        drop(s);
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 6);
        let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, vec![batch(0), batch(1), batch(2)]);

        // Across segments: the segments the failed write created are deleted.
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20)
            .unwrap()
            .with_segment_bytes(100);
        s.append(&[batch(0)]).unwrap();
        s.fail_frame = Some(s.frames_written + 3);
        assert!(s.append(&[batch(1), batch(2), batch(3)]).is_err());
        assert_eq!(segment_files(tmp.path()), 1);
        assert_eq!((s.records(), s.bytes()), (2, file_bytes(tmp.path())));
        s.append(&[batch(1)]).unwrap();
        let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, vec![batch(0), batch(1)]);
    }

    #[test]
    fn a_zeroed_header_of_the_last_segment_is_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20)
            .unwrap()
            .with_segment_bytes(100);
        s.append(&[batch(0), batch(1)]).unwrap();
        drop(s);
        // Power loss: the last segment's blocks read as zeros.
        let last = tmp.path().join(seg_name(1));
        let n = std::fs::metadata(&last).unwrap().len() as usize;
        std::fs::write(&last, vec![0u8; n]).unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 2);
        assert_eq!(std::fs::metadata(&last).unwrap().len(), HEADER);
        s.append(&[batch(2)]).unwrap();
        let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, vec![batch(0), batch(2)]);
    }

    #[test]
    fn an_undecodable_frame_is_skipped_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        s.append(&[batch(0)]).unwrap();
        drop(s);
        // A frame with a valid checksum around a payload that does not decode (3 records).
        let payload = [
            3u8, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
        ];
        let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        let seg = tmp.path().join(seg_name(0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&frame).unwrap();
        drop(f);
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 5);
        s.append(&[batch(1)]).unwrap();
        let frames = read_all(&mut s);
        let got: Vec<_> = frames.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(got, vec![batch(0), SpoolBatch::default(), batch(1)]);
        assert_eq!(s.skipped_frames(), 1);
        for (id, _) in frames {
            s.delivered(id).unwrap();
        }
        assert!(s.is_empty());
        assert_eq!(segment_files(tmp.path()), 0);
    }

    #[test]
    fn a_batch_larger_than_a_frame_is_split_with_its_positions_last() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap().with_max_frame(60);
        let big = SpoolBatch {
            records: (0..3)
                .map(|i| (format!("k{i}"), vec![i as u8; 20]))
                .collect(),
            positions: vec![("file:a".into(), 7)],
        };
        s.append(std::slice::from_ref(&big)).unwrap();
        let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got.len(), 3);
        assert!(got[..2].iter().all(|b| b.positions.is_empty()));
        assert_eq!(got[2].positions, big.positions);
        let records: Vec<_> = got.into_iter().flat_map(|b| b.records).collect();
        assert_eq!(records, big.records);
    }
}
