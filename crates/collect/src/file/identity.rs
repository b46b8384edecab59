//! Telling files apart: device, inode and a fingerprint of the first bytes.
//!
//! The source key of a file is `file:<dev>:<inode>:<fingerprint hex>` (see
//! [`loglynx_core::checkpoint`]). Device and inode alone are not enough: once a file is deleted
//! its inode can be given to a new file, which must then be read from its start, not from the
//! old file's offset.
//!
//! # Which bytes the fingerprint covers
//!
//! The fingerprint is the xxh3-64 hash of the file's first line **including its `\n`**, cut at
//! `fingerprint_bytes` when the first line is longer. Both ends of that window are fixed as soon
//! as they are written (a log file is only appended to), so the key of a file never changes while
//! it grows, and a restart computes the same key again.
//!
//! A file whose first `fingerprint_bytes` hold no newline and that is still shorter than
//! `fingerprint_bytes` has no key yet: it is *pending* and is not read until its first line is
//! complete or it reaches `fingerprint_bytes`. In practice a log file gets a key with its first
//! line. The price: a file that only ever holds one short unterminated line is never read.
//!
//! # Generations
//!
//! A file truncated in place (copytruncate) whose new content starts with the same first line
//! has the same device, inode and fingerprint. Its key then gets a generation suffix,
//! `<key>~<n>` ([`generation_key`]), one more than the last generation known for it: the new
//! content's positions (and event ids, and what a Kafka worker remembers of the stream) never
//! mix with the old content's. The generation goes up when the tailer sees the truncation, and
//! at start when the checkpoint of the last generation is beyond the file's size.
//!
//! Known limit: a file replaced (or truncated) while loglynx was not running, with the same
//! device, inode **and** first line (a fixed banner or CSV header), and already longer than the
//! checkpoint, cannot be told from the old file: it is resumed at the old file's offset.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// Device and inode of a file: what stays the same across renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    /// The device the file lives on.
    pub dev: u64,
    /// The inode number on that device.
    pub ino: u64,
}

impl FileId {
    /// The id of the file behind `meta` (from `stat` or `fstat`).
    pub fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// How many leading bytes the fingerprint covers, given the first bytes of the file (`head`,
/// read up to `fingerprint_bytes`). `None` while the file is too short to tell (pending).
pub fn fingerprint_window(head: &[u8], fingerprint_bytes: usize) -> Option<usize> {
    let head = &head[..head.len().min(fingerprint_bytes)];
    match memchr::memchr(b'\n', head) {
        Some(i) => Some(i + 1),
        None if head.len() >= fingerprint_bytes => Some(fingerprint_bytes),
        None => None,
    }
}

/// The fingerprint of the bytes of a window found by [`fingerprint_window`].
pub fn fingerprint(window: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(window)
}

/// The checkpoint key of a file.
pub fn source_key(id: FileId, fingerprint: u64) -> String {
    format!("file:{}:{}:{fingerprint:016x}", id.dev, id.ino)
}

/// The key of generation `generation` of the file whose plain key is `base` (generation 0 is
/// the plain key).
pub fn generation_key(base: &str, generation: u32) -> String {
    if generation == 0 {
        base.to_string()
    } else {
        format!("{base}~{generation}")
    }
}

/// The generation `key` names if it is a key of the file whose plain key is `base`.
pub fn generation_of(key: &str, base: &str) -> Option<u32> {
    let rest = key.strip_prefix(base)?;
    if rest.is_empty() {
        return Some(0);
    }
    rest.strip_prefix('~')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_keys_round_trip() {
        let base = source_key(FileId { dev: 8, ino: 42 }, fingerprint(b"first\n"));
        assert_eq!(generation_key(&base, 0), base);
        assert_eq!(generation_key(&base, 3), format!("{base}~3"));
        for g in [0, 1, 17] {
            assert_eq!(generation_of(&generation_key(&base, g), &base), Some(g));
        }
        let other = source_key(FileId { dev: 8, ino: 43 }, fingerprint(b"first\n"));
        assert_eq!(generation_of(&other, &base), None);
        assert_eq!(generation_of(&format!("{base}x"), &base), None);
    }

    #[test]
    fn window_ends_after_the_first_newline() {
        assert_eq!(fingerprint_window(b"abc\ndef", 256), Some(4));
        assert_eq!(fingerprint_window(b"\n", 256), Some(1));
    }

    #[test]
    fn window_is_capped_at_fingerprint_bytes() {
        let long = vec![b'x'; 300];
        assert_eq!(fingerprint_window(&long, 256), Some(256));
        // A newline after the cap does not count.
        let mut l = vec![b'x'; 256];
        l.push(b'\n');
        assert_eq!(fingerprint_window(&l, 256), Some(256));
    }

    #[test]
    fn short_file_without_newline_is_pending() {
        assert_eq!(fingerprint_window(b"abc", 256), None);
        assert_eq!(fingerprint_window(b"", 256), None);
    }

    #[test]
    fn keys_differ_by_inode_and_by_content() {
        let id = FileId { dev: 8, ino: 42 };
        let a = source_key(id, fingerprint(b"first\n"));
        assert!(a.starts_with("file:8:42:"), "{a}");
        assert_eq!(a.len(), "file:8:42:".len() + 16);
        assert_ne!(a, source_key(id, fingerprint(b"other\n")));
        assert_ne!(
            a,
            source_key(FileId { dev: 8, ino: 43 }, fingerprint(b"first\n"))
        );
    }
}
