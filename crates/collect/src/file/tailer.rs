//! One followed file: an open descriptor, its identity, and the lines read from it.
//!
//! A [`Tailer`] is plain blocking code (positioned reads with `pread`, no seek state); the
//! source runs each [`Tailer::step`] on tokio's blocking pool, so one step (at most
//! `batch_lines` lines, a few 256 KiB reads) is the longest a file read keeps a thread.
//!
//! Lifecycle: *pending* (no key until the fingerprint window is complete, see
//! [`super::identity`]) -> *identified* (the source picks the start offset with
//! [`Tailer::start_at`]) -> *reading*. A truncation (size below what was read) or a rewrite
//! (the first bytes changed) sends it back to pending at offset 0 under a new key, after the
//! unfinished line of the old content was flushed. When the new content has the same first
//! line, the new key is the next generation of the old one (see [`super::identity`]).
//!
//! Lines go through the [`Joiner`] (multi-line events): the checkpoint position is the end of
//! the last complete event, never inside the event being held ([`Tailer::committed`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_core::{positioned_id, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};

use super::identity::{fingerprint, fingerprint_window, generation_key, source_key, FileId};
use super::multiline::{Joined, Joiner, MultilineSettings};
use super::reader::LineFramer;

/// Size of one read.
pub const CHUNK: usize = 256 << 10;

/// Settings shared by all tailers of a source.
#[derive(Debug, Clone)]
pub struct TailerSettings {
    /// Longest line kept, see `files.max_line`.
    pub max_line: usize,
    /// See `files.fingerprint_bytes`.
    pub fingerprint_bytes: usize,
    /// An unfinished last line is emitted once the file has not grown for this long.
    pub partial_line_timeout: Duration,
    /// The host name given to records.
    pub host: String,
    /// `files.multiline*`: how lines are joined into events.
    pub multiline: MultilineSettings,
    /// A held multi-line event is emitted once the file has not grown for this long.
    pub multiline_timeout: Duration,
}

/// What one [`Tailer::step`] did.
#[derive(Debug)]
pub enum Step {
    /// Nothing to read now: pending fingerprint, or at end of file.
    Idle,
    /// The key was just computed: call [`Tailer::start_at`] before the next step.
    Identified,
    /// Lines were read. `more` when the line limit stopped the step before end of file.
    Batch {
        /// Records and the position after the last one.
        batch: RawBatch,
        /// Step again soon.
        more: bool,
    },
}

/// One followed file; see the module documentation.
#[derive(Debug)]
pub struct Tailer {
    id: FileId,
    path: PathBuf,
    source: Arc<SourceKind>,
    file: File,
    settings: Arc<TailerSettings>,
    key: Option<String>,
    /// The key without generation (device, inode, fingerprint), once identified.
    base: Option<String>,
    /// Generation of the key, see [`super::identity`].
    generation: u32,
    /// Plain key and generation before the last truncation, until the next identification.
    truncated_from: Option<(String, u32)>,
    /// Bytes covered by the fingerprint, and its value, once identified.
    fp_window: usize,
    fp: u64,
    /// The file was found by the first scan (`start_at` applies) rather than later.
    seen_at_start: bool,
    framer: LineFramer,
    joiner: Joiner,
    buf: Vec<u8>,
    buf_pos: usize,
    buf_len: usize,
    /// File offset just after the bytes in `buf`.
    read_pos: u64,
    /// Size at the last step.
    size: u64,
    nlink: u64,
    at_eof: bool,
    last_growth: Instant,
    lines_read: u64,
}

impl Tailer {
    /// Follows an open file found at `path`. `id` must be the descriptor's own (fstat).
    pub fn new(
        file: File,
        id: FileId,
        path: PathBuf,
        seen_at_start: bool,
        settings: Arc<TailerSettings>,
    ) -> Tailer {
        let source = Arc::new(SourceKind::File {
            path: path.to_string_lossy().into_owned(),
        });
        let framer = LineFramer::new(settings.max_line, 0);
        let joiner = Joiner::new(settings.multiline);
        Tailer {
            id,
            path,
            source,
            file,
            settings,
            key: None,
            base: None,
            generation: 0,
            truncated_from: None,
            fp_window: 0,
            fp: 0,
            seen_at_start,
            framer,
            joiner,
            buf: Vec::new(),
            buf_pos: 0,
            buf_len: 0,
            read_pos: 0,
            size: 0,
            nlink: 1,
            at_eof: false,
            last_growth: Instant::now(),
            lines_read: 0,
        }
    }

    /// Device and inode.
    pub fn id(&self) -> FileId {
        self.id
    }
    /// Where the file was last seen.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The checkpoint key, once identified.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    /// The key without its generation suffix, once identified.
    pub fn base_key(&self) -> Option<&str> {
        self.base.as_deref()
    }
    /// Generation of the key: above 0 after a truncation to the same first line.
    pub fn generation(&self) -> u32 {
        self.generation
    }
    /// Gives the identified file generation `generation` of its plain key (the source knows
    /// later generations from the checkpoint). Call before [`Tailer::start_at`].
    pub fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
        if let Some(base) = &self.base {
            self.key = Some(generation_key(base, generation));
        }
    }
    /// Offset after the last emitted event: the start of the held multi-line event, if one is
    /// held, else the end of the last emitted line.
    pub fn committed(&self) -> u64 {
        self.joiner.held_start().unwrap_or_else(|| self.framer.committed())
    }
    /// Offset up to which the file was read (includes a held unfinished line).
    pub fn read_offset(&self) -> u64 {
        self.read_pos
    }
    /// Size seen at the last step.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Hard links seen at the last step (0: deleted).
    pub fn nlink(&self) -> u64 {
        self.nlink
    }
    /// The last step reached the end of the file.
    pub fn at_eof(&self) -> bool {
        self.at_eof
    }
    /// Found by the first scan.
    pub fn seen_at_start(&self) -> bool {
        self.seen_at_start
    }
    /// Records (events: one line, or several joined) emitted so far.
    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }
    /// Time since the file last grew.
    pub fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_growth)
    }

    /// The file is now known under another matching path (renamed to a name the globs match).
    pub fn set_path(&mut self, path: PathBuf) {
        if path != self.path {
            self.source = Arc::new(SourceKind::File {
                path: path.to_string_lossy().into_owned(),
            });
            self.path = path;
        }
    }

    /// Starts reading at `offset` (a checkpoint, 0 or the end). Call after [`Step::Identified`].
    pub fn start_at(&mut self, offset: u64) {
        self.framer = LineFramer::new(self.settings.max_line, offset);
        self.joiner = Joiner::new(self.settings.multiline);
        self.read_pos = offset;
        self.buf_pos = 0;
        self.buf_len = 0;
        self.at_eof = false;
        self.last_growth = Instant::now();
    }

    /// Reads up to `limit` lines; see [`Step`]. Blocking.
    pub fn step(&mut self, limit: usize) -> io::Result<Step> {
        let now = Instant::now();
        let meta = self.file.metadata()?;
        let size = meta.len();
        self.nlink = meta.nlink();
        if self.key.is_none() {
            self.size = size;
            return Ok(if self.identify()? {
                Step::Identified
            } else {
                Step::Idle
            });
        }
        if size < self.read_pos || (size != self.size && !self.same_fingerprint()?) {
            return Ok(self.restart_truncated(size));
        }
        self.size = size;
        let key = self.key.clone().unwrap_or_default();
        let received = Timestamp::now();
        let mut records = Vec::new();
        let before = self.committed();
        self.at_eof = false;
        while records.len() < limit {
            if self.buf_pos == self.buf_len {
                if self.buf.len() != CHUNK {
                    self.buf.resize(CHUNK, 0);
                }
                let n = read_at(&self.file, &mut self.buf, self.read_pos)?;
                if n == 0 {
                    self.at_eof = true;
                    break;
                }
                self.read_pos += n as u64;
                self.buf_pos = 0;
                self.buf_len = n;
                self.last_growth = now;
            }
            let want = limit - records.len();
            let chunk = &self.buf[self.buf_pos..self.buf_len];
            let (settings, source, joiner) = (&self.settings, &self.source, &mut self.joiner);
            let used = self.framer.feed(chunk, want, |line| {
                joiner.push(line, |ev| records.push(make_record(ev, &key, source, settings, received)));
            });
            self.buf_pos += used;
        }
        if self.at_eof {
            let idle = self.idle_for(now);
            if idle >= self.settings.partial_line_timeout {
                self.flush_partial(&key, received, &mut records);
            }
            if idle >= self.settings.multiline_timeout {
                if let Some(ev) = self.joiner.flush() {
                    records.push(make_record(ev, &key, &self.source, &self.settings, received));
                }
            }
        }
        self.lines_read += records.len() as u64;
        if records.is_empty() && self.committed() == before {
            return Ok(Step::Idle);
        }
        let checkpoint = vec![(key, self.committed())];
        Ok(Step::Batch {
            batch: RawBatch {
                records,
                checkpoint,
                ack: None,
                kafka: None,
            },
            more: !self.at_eof,
        })
    }

    /// Flushes the unfinished line and the held event before the tailer is dropped (close,
    /// rotation drained).
    pub fn close(mut self) -> Option<RawBatch> {
        let key = self.key.clone()?;
        let records = self.flush_all(&key, Timestamp::now());
        if records.is_empty() {
            return None;
        }
        self.lines_read += records.len() as u64;
        Some(RawBatch {
            records,
            checkpoint: vec![(key, self.committed())],
            ack: None,
            kafka: None,
        })
    }

    /// The unfinished last line, as a line of the held event or an event of its own.
    fn flush_partial(&mut self, key: &str, received: Timestamp, records: &mut Vec<RawRecord>) {
        if let Some(line) = self.framer.flush() {
            let (settings, source) = (&self.settings, &self.source);
            self.joiner.push(line, |ev| records.push(make_record(ev, key, source, settings, received)));
        }
    }

    /// Everything held: the unfinished line and the held event.
    fn flush_all(&mut self, key: &str, received: Timestamp) -> Vec<RawRecord> {
        let mut records = Vec::new();
        self.flush_partial(key, received, &mut records);
        if let Some(ev) = self.joiner.flush() {
            records.push(make_record(ev, key, &self.source, &self.settings, received));
        }
        records
    }

    /// Computes the key when the fingerprint window is complete.
    fn identify(&mut self) -> io::Result<bool> {
        let mut head = vec![0; self.settings.fingerprint_bytes];
        let n = read_full_at(&self.file, &mut head, 0)?;
        let Some(window) = fingerprint_window(&head[..n], self.settings.fingerprint_bytes) else {
            return Ok(false);
        };
        self.fp_window = window;
        self.fp = fingerprint(&head[..window]);
        let base = source_key(self.id, self.fp);
        // Same first line as before the truncation: the next generation, so the new content's
        // positions never mix with the old content's.
        self.generation = match self.truncated_from.take() {
            Some((old, g)) if old == base => g + 1,
            _ => 0,
        };
        self.key = Some(generation_key(&base, self.generation));
        self.base = Some(base);
        Ok(true)
    }

    /// The first bytes are still those the key was computed from.
    fn same_fingerprint(&self) -> io::Result<bool> {
        let mut head = vec![0; self.fp_window];
        let n = read_full_at(&self.file, &mut head, 0)?;
        Ok(n == self.fp_window && fingerprint(&head) == self.fp)
    }

    /// Copytruncate or rewrite in place: flush what was held, start over at 0 under a new key.
    fn restart_truncated(&mut self, size: u64) -> Step {
        let old_key = self.key.take().unwrap_or_default();
        self.truncated_from = self.base.take().map(|b| (b, self.generation));
        tracing::info!(
            path = %self.path.display(),
            key = %old_key,
            read = self.read_pos,
            size,
            "file truncated or rewritten (copytruncate?), reading it again from the start"
        );
        let records = self.flush_all(&old_key, Timestamp::now());
        self.lines_read += records.len() as u64;
        let committed = self.committed();
        self.start_at(0);
        self.size = size;
        // What comes now was written after we first saw the file: `start_at = end` no longer
        // applies.
        self.seen_at_start = false;
        Step::Batch {
            batch: RawBatch {
                records,
                checkpoint: vec![(old_key, committed)],
                ack: None,
                kafka: None,
            },
            more: true,
        }
    }
}

fn make_record(
    line: Joined,
    key: &str,
    source: &Arc<SourceKind>,
    settings: &TailerSettings,
    received: Timestamp,
) -> RawRecord {
    RawRecord {
        id: positioned_id(key, line.start),
        body: line.body,
        truncated: line.truncated,
        hint: FormatHint::Auto,
        source: Arc::clone(source),
        host: Some(settings.host.clone()),
        received,
    }
}

/// One `pread`, retried on EINTR.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Reads until `buf` is full or end of file; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let got = read_at(file, &mut buf[n..], offset + n as u64)?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(n)
}
