//! The spool's on-disk format: segment header, frame (length + CRC32 + payload) and payload
//! (a [`SpoolBatch`]). Pure functions; the files are handled in `segments.rs`.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;

pub(super) const MAGIC: &[u8; 8] = b"LLXSPOOL";
pub(super) const VERSION: u32 = 1;
/// Bytes of a segment header (magic + version).
pub(super) const HEADER: u64 = 12;
/// Bytes of a frame header (length + crc).
pub(super) const FRAME_HEAD: u64 = 8;
/// Largest frame payload (a larger length read is corruption; a larger batch is split).
pub const MAX_FRAME: u64 = 1 << 30;

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

/// Reads the frame at `off` of a file of `len` bytes: `Ok(None)` when it is torn or corrupt.
pub(super) fn read_frame(f: &File, off: u64, len: u64) -> std::io::Result<Option<Vec<u8>>> {
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
