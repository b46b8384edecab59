//! [`Spool`]: the agent's bounded on-disk buffer for broker outages, in
//! `<data_dir>/agent/spool/`.
//!
//! ```text
//! 00000000000000000003.spool  "LLXSPOOL" u32 version | frame | frame | ...
//! 00000000000000000004.spool  (the segment being written)
//! cursor                      "<segment> <offset>": the first frame not yet delivered
//! frame   = F7 'L' 'X' F7 | u32 payload length | u32 crc32(length, payload) | payload   (little endian)
//! payload = u32 records | u32 positions | (u32 len, key, u64 position)* | (u32 len, key, u32 len, value)*
//! ```
//!
//! - [`Spool::append`] writes several batches and fsyncs once (group commit); a batch is
//!   acknowledged only after that, so a frame cut by a crash was never acknowledged: on open a
//!   torn or corrupt tail of the last segment is truncated (with a warning).
//! - A damaged frame anywhere else is skipped up to the next marker whose frame checks out
//!   (on open, or while reading if the damage came later), logged and counted
//!   ([`Spool::lost_frames`], [`Spool::lost_bytes`]): it costs its own records, not the rest
//!   of its segment. Version 1 segments (no marker; the first release) are read as before and
//!   never appended to.
//! - [`Spool::read_next`] hands frames out in order; [`Spool::delivered`] takes them back in
//!   the same order once every record is in Kafka, moves the cursor and deletes the segments
//!   left behind. When everything is delivered every file but the cursor is deleted.
//! - Segments rotate at [`SEGMENT_BYTES`] (less for a small spool). The cursor file is written
//!   atomically (write, fsync, rename) at most every 200 ms and before any segment is deleted:
//!   after a crash at most the frames of the last 200 ms are sent again (at-least-once).
//! - A write that fails (disk full, I/O error) is undone: the segment is cut back to its last
//!   good length (segments created by it are deleted), so the caller can try again later.
//! - A frame larger than `MAX_FRAME` (`frame.rs`) is written as several frames (the positions in the last).
//! - Blocking I/O: call it from `spawn_blocking` in async code.
//!
//! - `frame.rs`: the format ([`SpoolBatch`], frames, payloads).
//! - `segments.rs`: [`Spool`], the segment files (append, read in order, delivered).
//! - `cursor.rs`: the cursor file.
//! - `recovery.rs`: what opening finds of an earlier run (delivered, torn, zeroed).

mod cursor;
mod frame;
mod recovery;
mod segments;
#[cfg(test)]
mod tests;

pub use frame::SpoolBatch;
pub use segments::{FrameId, Spool, SEGMENT_BYTES};
