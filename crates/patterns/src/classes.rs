//! The tokenizer's byte classes, 64 bytes at a time: which bytes are whitespace and which are
//! *notable* (a digit, `/`, `\`, `.`, `@`, a control byte or a non-ASCII byte: a token holding
//! one gets the full value test). One bit per byte, so the tokenizer finds a token's ends with
//! `trailing_zeros` instead of a test per byte. SSE2 (every x86_64) classifies 16 bytes an
//! instruction; elsewhere a table does it a byte at a time, with the same result
//! (`the_vector_and_table_classes_agree`).

/// The bytes that end a token: space, tab, newline, carriage return, vertical tab, form feed.
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    b == b' ' || (0x09..=0x0d).contains(&b)
}

/// Whether a byte is notable (see the module documentation).
#[inline]
pub(crate) fn is_notable(b: u8) -> bool {
    matches!(b, b'.' | b'/' | b'0'..=b'9' | b'@' | b'\\') || !(0x20..0x7f).contains(&b)
}

/// Classes of the 64 bytes from `base` (bit `k` for byte `base + k`), bytes past the end
/// counted as spaces: (spaces, notable bytes).
#[inline]
pub(crate) fn block(bytes: &[u8], base: usize) -> (u64, u64) {
    let rest = &bytes[base.min(bytes.len())..];
    if rest.len() >= 64 {
        let chunk: &[u8; 64] = rest[..64].try_into().expect("64 bytes");
        return block_of(chunk);
    }
    let mut padded = [b' '; 64];
    padded[..rest.len()].copy_from_slice(rest);
    block_of(&padded)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn block_of(chunk: &[u8; 64]) -> (u64, u64) {
    // SAFETY: SSE2 is part of every x86_64 processor (the target's baseline)
    unsafe { block_sse2(chunk) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn block_sse2(chunk: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };
    /// `lo <= v <= hi` per byte, unsigned.
    #[target_feature(enable = "sse2")]
    fn within(v: __m128i, lo: u8, hi: u8) -> __m128i {
        let ge = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(lo as i8)), v);
        let le = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(hi as i8)), v);
        _mm_and_si128(ge, le)
    }
    #[target_feature(enable = "sse2")]
    fn eq(v: __m128i, c: u8) -> __m128i {
        _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))
    }
    let (mut space, mut notable) = (0u64, 0u64);
    for k in 0..4 {
        // SAFETY: `_mm_loadu_si128` reads 16 bytes, unaligned, from `chunk[16 * k..16 * k + 16]`,
        // inside the 64-byte array
        let v = unsafe { _mm_loadu_si128(chunk.as_ptr().add(16 * k).cast::<__m128i>()) };
        let sp = _mm_or_si128(eq(v, b' '), within(v, 0x09, 0x0d));
        let nt = _mm_or_si128(
            _mm_or_si128(within(v, b'.', b'9'), _mm_or_si128(eq(v, b'@'), eq(v, b'\\'))),
            _mm_or_si128(within(v, 0x00, 0x1f), within(v, 0x7f, 0xff)),
        );
        space |= (_mm_movemask_epi8(sp) as u32 as u64 & 0xffff) << (16 * k);
        notable |= (_mm_movemask_epi8(nt) as u32 as u64 & 0xffff) << (16 * k);
    }
    (space, notable)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_of(chunk: &[u8; 64]) -> (u64, u64) {
    block_by_table(chunk)
}

/// [`block_of`] a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn block_by_table(chunk: &[u8; 64]) -> (u64, u64) {
    let (mut space, mut notable) = (0u64, 0u64);
    for (k, &b) in chunk.iter().enumerate() {
        space |= (is_space(b) as u64) << k;
        notable |= (is_notable(b) as u64) << k;
    }
    (space, notable)
}

/// A forward walk over a line's tokens by their byte classes, loading a block of 64 bytes when
/// the walk enters it.
pub(crate) struct Scan<'a> {
    bytes: &'a [u8],
    len: usize,
    /// Start of the block loaded (a multiple of 64; `usize::MAX` before the first).
    base: usize,
    space: u64,
    notable: u64,
}

impl<'a> Scan<'a> {
    /// A walk over the first `len` bytes of `bytes`.
    pub fn new(bytes: &'a [u8], len: usize) -> Scan<'a> {
        Scan { bytes: &bytes[..len], len, base: usize::MAX, space: 0, notable: 0 }
    }

    #[inline]
    fn load(&mut self, i: usize) {
        let base = i & !63;
        if base != self.base {
            (self.space, self.notable) = block(self.bytes, base);
            self.base = base;
        }
    }

    /// The first byte at or after `i` that is not a space (`len` when none is).
    #[inline]
    pub fn skip_space(&mut self, mut i: usize) -> usize {
        while i < self.len {
            self.load(i);
            let w = !self.space >> (i & 63);
            if w != 0 {
                return (i + w.trailing_zeros() as usize).min(self.len);
            }
            i = self.base + 64;
        }
        self.len
    }

    /// The end of the token starting at `i` (the first space after it, or `len`), and whether
    /// it holds a notable byte.
    #[inline]
    pub fn token_end(&mut self, mut i: usize) -> (usize, bool) {
        let mut notable = false;
        while i < self.len {
            self.load(i);
            let off = i & 63;
            let w = self.space >> off;
            let n = if w != 0 { w.trailing_zeros() as usize } else { 64 - off };
            // the notable bits of bytes off..off + n
            let m = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
            notable |= (self.notable >> off) & m != 0;
            if w != 0 {
                return ((i + n).min(self.len), notable);
            }
            i = self.base + 64;
        }
        (self.len, notable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_and_table_classes_agree() {
        // every byte value at every place of a block
        for shift in 0..64 {
            let mut chunk = [0u8; 64];
            for (k, c) in chunk.iter_mut().enumerate() {
                *c = ((k + shift * 4) % 256) as u8;
            }
            assert_eq!(block_of(&chunk), block_by_table(&chunk), "shift {shift}");
        }
        for b in 0..=255u8 {
            let chunk = [b; 64];
            assert_eq!(block_of(&chunk), block_by_table(&chunk), "byte {b:#x}");
        }
    }

    #[test]
    fn a_scan_finds_tokens_across_blocks() {
        let line = format!("{}ab.c{}  z", " ".repeat(62), "x".repeat(70));
        let mut s = Scan::new(line.as_bytes(), line.len());
        let start = s.skip_space(0);
        assert_eq!(start, 62);
        assert_eq!(s.token_end(start), (62 + 74, true));
        let next = s.skip_space(62 + 74);
        assert_eq!(next, line.len() - 1);
        assert_eq!(s.token_end(next), (line.len(), false));
        assert_eq!(s.skip_space(line.len()), line.len());
        let mut s = Scan::new(b"   ", 3);
        assert_eq!(s.skip_space(0), 3);
    }
}
