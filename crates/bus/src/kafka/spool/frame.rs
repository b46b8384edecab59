//! The spool's on-disk format: segment header, frame (sync marker + length + CRC32 + payload)
//! and payload (a [`SpoolBatch`]). Pure functions; the files are handled in `segments.rs`.
//!
//! Version 2 frames start with [`SYNC`], and their checksum covers the length too, so after a
//! damaged frame reading resumes at the next good one ([`next_good_frame`]) instead of losing
//! the rest of the segment. Version 1 segments (no marker) are still read; a damaged frame in
//! one ends it, as it always did.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;

pub(super) const MAGIC: &[u8; 8] = b"LLXSPOOL";
/// The format new segments are written in.
pub(super) const VERSION: u32 = 2;
/// The first format (no sync marker): read, never written.
pub(super) const VERSION_1: u32 = 1;
/// Bytes of a segment header (magic + version).
pub(super) const HEADER: u64 = 12;
/// What every version 2 frame starts with. 0xF7 never occurs in UTF-8 text, so the marker is
/// not found in keys or JSON values; where it occurs by chance (in a length or a position),
/// the frame's checksum refuses it.
pub(super) const SYNC: [u8; 4] = [0xF7, b'L', b'X', 0xF7];
/// Bytes of a frame header (sync + length + crc).
pub(super) const FRAME_HEAD: u64 = 12;
/// Bytes of a version 1 frame header (length + crc).
const FRAME_HEAD_V1: u64 = 8;
/// Largest frame payload (a larger length read is corruption; a larger batch is split).
pub const MAX_FRAME: u64 = 1 << 30;
/// How much [`next_good_frame`] reads at a time.
const SCAN_CHUNK: u64 = 1 << 20;

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

/// The header every segment file starts with.
pub(super) fn segment_header() -> Vec<u8> {
    let mut head = Vec::with_capacity(HEADER as usize);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&VERSION.to_le_bytes());
    head
}

/// The format version of a segment header: `None` when it is not a spool segment header.
pub(super) fn header_version(head: &[u8]) -> Option<u32> {
    let (magic, version) = (head.get(..8)?, head.get(8..12)?);
    (magic == MAGIC).then(|| u32::from_le_bytes([version[0], version[1], version[2], version[3]]))
}

/// Reads the frame at `off` of a segment of format `version` and `len` bytes: its payload and
/// where the next frame starts, or `Ok(None)` when it is torn or corrupt.
pub(super) fn read_frame(f: &File, off: u64, len: u64, version: u32) -> std::io::Result<Option<(Vec<u8>, u64)>> {
    let head_len = if version == VERSION_1 { FRAME_HEAD_V1 } else { FRAME_HEAD };
    if len < off + head_len {
        return Ok(None);
    }
    let mut head = [0u8; FRAME_HEAD as usize];
    let head = &mut head[..head_len as usize];
    f.read_exact_at(head, off)?;
    let head: &[u8] = if version == VERSION_1 {
        head
    } else {
        if head[..4] != SYNC {
            return Ok(None);
        }
        &head[4..]
    };
    let n = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(8..=MAX_FRAME).contains(&n) || off + head_len + n > len {
        return Ok(None);
    }
    let mut payload = vec![0u8; n as usize];
    f.read_exact_at(&mut payload, off + head_len)?;
    let sum = if version == VERSION_1 {
        crc32fast::hash(&payload)
    } else {
        frame_crc(&head[..4], &payload)
    };
    if sum != crc {
        return Ok(None);
    }
    Ok(Some((payload, off + head_len + n)))
}

/// The checksum of a version 2 frame: over its length field and its payload.
fn frame_crc(len: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(payload);
    h.finalize()
}

/// The offset of the first good version 2 frame that starts after `from` (a damaged frame),
/// and how many frame markers the damaged stretch before it holds (at least 1: about how many
/// frames it held). `None` for the offset when no good frame follows in the segment. Reads
/// [`SCAN_CHUNK`] bytes at a time.
pub(super) fn next_good_frame(f: &File, from: u64, len: u64) -> std::io::Result<(Option<u64>, u64)> {
    let finder = memchr::memmem::Finder::new(&SYNC);
    let mut markers = 1;
    let mut pos = from + 1;
    let mut buf = vec![0u8; SCAN_CHUNK as usize];
    while pos + SYNC.len() as u64 <= len {
        let n = (len - pos).min(SCAN_CHUNK) as usize;
        f.read_exact_at(&mut buf[..n], pos)?;
        for i in finder.find_iter(&buf[..n]) {
            let at = pos + i as u64;
            if read_frame(f, at, len, VERSION)?.is_some() {
                return Ok((Some(at), markers));
            }
            markers += 1;
        }
        if n < SCAN_CHUNK as usize {
            break;
        }
        // Overlap by a marker's length less one, so a marker across chunks is found.
        pos += n as u64 - (SYNC.len() as u64 - 1);
    }
    Ok((None, markers))
}

/// `b` as batches whose frames stay under `max_frame` bytes (a record alone may not): the
/// positions go with the last one.
pub(super) fn split_batch(b: &SpoolBatch, max_frame: u64) -> Vec<Cow<'_, SpoolBatch>> {
    if b.disk_bytes() <= max_frame {
        return vec![Cow::Borrowed(b)];
    }
    let mut parts = Vec::new();
    let mut cur = SpoolBatch::default();
    let mut size = FRAME_HEAD + 8;
    for (k, v) in &b.records {
        let n = (8 + k.len() + v.len()) as u64;
        if !cur.records.is_empty() && size + n > max_frame {
            parts.push(Cow::Owned(std::mem::take(&mut cur)));
            size = FRAME_HEAD + 8;
        }
        cur.records.push((k.clone(), v.clone()));
        size += n;
    }
    cur.positions = b.positions.clone();
    parts.push(Cow::Owned(cur));
    parts
}

/// Appends `b` to `out` as a frame (header, then payload).
pub(super) fn encode_frame(b: &SpoolBatch, out: &mut Vec<u8>) {
    let start = out.len();
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
    seal(&mut out[start..]);
}

/// Fills the header of the frame `frame` (header room, then payload).
pub(super) fn seal(frame: &mut [u8]) {
    let head = FRAME_HEAD as usize;
    let len = ((frame.len() - head) as u32).to_le_bytes();
    let crc = frame_crc(&len, &frame[head..]);
    frame[0..4].copy_from_slice(&SYNC);
    frame[4..8].copy_from_slice(&len);
    frame[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// The record count a payload starts with (0 when it is too short).
pub(super) fn payload_records(p: &[u8]) -> u64 {
    p.get(0..4).map_or(0, |b| {
        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    })
}

/// Decodes a payload; `None` when it is malformed.
pub(super) fn decode_payload(p: &[u8]) -> Option<SpoolBatch> {
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
    use crate::kafka::spool::tests::batch;

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
}
