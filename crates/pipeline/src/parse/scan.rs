//! A byte cursor over one line: the hand-written scanners every format parser uses.
//!
//! All positions the cursor stops at are next to ASCII delimiters, so slicing the `&str` there
//! is on a char boundary; `str::get` is still used so that no input can make it panic.

/// A read position in a line. Methods that fail leave the position unchanged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes().get(self.pos + ahead).copied()
    }

    /// The unread rest of the line.
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or("")
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.s.len());
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `lit` if it is next.
    pub(crate) fn eat_str(&mut self, lit: &str) -> bool {
        if self.bytes()[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Consumes spaces; returns how many.
    pub(crate) fn skip_spaces(&mut self) -> usize {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Exactly `n` ASCII digits as a number.
    pub(crate) fn digits(&mut self, n: usize) -> Option<u32> {
        let b = self.bytes().get(self.pos..self.pos + n)?;
        let mut v: u32 = 0;
        for &c in b {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.pos += n;
        Some(v)
    }

    /// One or two digits (space-padded days are handled by the caller skipping spaces).
    pub(crate) fn digits_1_2(&mut self) -> Option<u32> {
        let d1 = self.peek().filter(u8::is_ascii_digit)?;
        match self.peek_at(1) {
            Some(d2) if d2.is_ascii_digit() => {
                self.pos += 2;
                Some(u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0'))
            }
            _ => {
                self.pos += 1;
                Some(u32::from(d1 - b'0'))
            }
        }
    }

    /// An unsigned integer of 1 to 19 digits.
    pub(crate) fn uint(&mut self) -> Option<u64> {
        let b = &self.bytes()[self.pos..];
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 19 {
            return None;
        }
        let mut v: u64 = 0;
        for &c in &b[..n] {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        }
        self.pos += n;
        Some(v)
    }

    /// A fraction of a second after `.` or `,` has been consumed: 1 to 9 digits (more are
    /// read and ignored), as nanoseconds.
    pub(crate) fn fraction_nanos(&mut self) -> Option<u32> {
        let b = &self.bytes()[self.pos..];
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut v: u32 = 0;
        for &c in &b[..n.min(9)] {
            v = v * 10 + u32::from(c - b'0');
        }
        for _ in n..9 {
            v *= 10;
        }
        self.pos += n;
        Some(v)
    }

    /// Up to the next space (or the end); the space is not consumed. May be empty.
    pub(crate) fn token(&mut self) -> &'a str {
        let start = self.pos;
        let b = &self.bytes()[start..];
        let n = memchr::memchr(b' ', b).unwrap_or(b.len());
        self.pos += n;
        self.slice(start, start + n)
    }

    /// Up to (not including) the next `delim`, which is consumed; `None` if there is none.
    pub(crate) fn until(&mut self, delim: u8) -> Option<&'a str> {
        let start = self.pos;
        let n = memchr::memchr(delim, &self.bytes()[start..])?;
        self.pos += n + 1;
        Some(self.slice(start, start + n))
    }

    /// Up to (not including) the next occurrence of `pat`, which is consumed.
    pub(crate) fn until_str(&mut self, pat: &str) -> Option<&'a str> {
        let start = self.pos;
        let n = memchr::memmem::find(&self.bytes()[start..], pat.as_bytes())?;
        self.pos += n + pat.len();
        Some(self.slice(start, start + n))
    }
}

/// Parses a decimal `u32` from the whole of `s`.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reads_numbers_tokens_and_fractions() {
        let mut c = Cursor::new("2024 abc 7 .123x");
        assert_eq!(c.digits(4), Some(2024));
        assert!(c.eat(b' '));
        assert_eq!(c.token(), "abc");
        c.skip_spaces();
        assert_eq!(c.digits_1_2(), Some(7));
        c.skip_spaces();
        assert!(c.eat(b'.'));
        assert_eq!(c.fraction_nanos(), Some(123_000_000));
        assert_eq!(c.rest(), "x");
        assert_eq!(c.digits(3), None);
        assert_eq!(c.rest(), "x");
    }

    #[test]
    fn uint_rejects_overflow() {
        assert_eq!(Cursor::new("99999999999999999999").uint(), None);
        assert_eq!(Cursor::new("18446744073709551615").uint(), None); // 20 digits
        assert_eq!(
            Cursor::new("1844674407370955161").uint(),
            Some(1_844_674_407_370_955_161)
        );
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32("42"), Some(42));
    }
}
