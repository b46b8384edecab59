//! Tailing files: discovery by glob, identity by device + inode + fingerprint, rotation,
//! truncation, resume from the store's checkpoint.
//!
//! - [`identity`]: source keys and the fingerprint rule;
//! - [`reader`]: the line framer (offsets, long lines, unfinished last line);
//! - [`multiline`]: continuation lines joined into events (stack traces), caps, positions;
//! - [`tailer`]: one followed file;
//! - [`discover`]: glob evaluation;
//! - [`source`]: the [`FileSource`] task tying them together.

pub mod discover;
pub mod identity;
pub mod multiline;
pub mod reader;
pub mod source;
pub mod tailer;

pub use source::{
    FileSource, FileSourceSnapshot, FileSourceState, FileStatus, PARTIAL_LINE_TIMEOUT,
};
