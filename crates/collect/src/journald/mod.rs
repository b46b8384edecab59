//! The systemd journal as a source, read through libsystemd's `sd-journal` (the `systemd`
//! crate): the same reader `journalctl` uses, so rotation, compression, several files and
//! following new entries behave as there.
//!
//! - [`cursor`]: where an entry is (journal sequence id + sequence number), the checkpoint keys
//!   made from it and where a restart resumes;
//! - [`map`]: an entry's fields -> one JSON object with ECS names (format hint `Json`);
//! - [`source`]: [`JournaldSource`], the reading thread.
//!
//! Exactly once across restarts: each batch carries, per journal sequence id
//! (`journald:<seqnum_id>`), the sequence number after its last entry; the store commits it
//! with the events, and a restart seeks to it and skips what is below it.

pub mod cursor;
pub mod map;
pub mod source;

pub use source::JournaldSource;
