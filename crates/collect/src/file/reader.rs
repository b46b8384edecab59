//! Cutting a byte stream into lines, with file offsets, a length cap and no copying of the
//! rest of an oversized line.
//!
//! [`LineFramer`] knows nothing about files: the tailer feeds it the chunks it reads and gets
//! back [`FramedLine`]s. Its [`LineFramer::committed`] offset is always at a line boundary (the
//! start of the line not yet emitted), which is what a checkpoint may record: never half a line.
//!
//! Rules:
//! - a line ends at `\n`; the `\n` is not part of the body; `\r` is left to the parser;
//! - empty lines are skipped (their bytes still count towards the offset);
//! - a line longer than `max_line` keeps its first `max_line` bytes, is flagged `truncated`,
//!   and the rest of it is skipped as it streams by (memory stays at `max_line`); it is emitted
//!   when its `\n` arrives, so the checkpoint never points inside it;
//! - an unfinished last line is held until [`LineFramer::flush`] (the tailer calls it when the
//!   file has been idle, or at close).

use memchr::memchr;

/// One line cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedLine {
    /// Offset of the line's first byte in the file.
    pub start: u64,
    /// The line without its `\n`, at most `max_line` bytes.
    pub body: Vec<u8>,
    /// The line was longer than `max_line` and was cut.
    pub truncated: bool,
}

/// Streaming line splitter; see the module documentation.
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// Bytes of the unfinished line, at most `max_line`.
    partial: Vec<u8>,
    /// The unfinished line already went past `max_line`.
    overflow: bool,
    /// Offset where the unfinished line starts: everything before it was emitted.
    line_start: u64,
    /// Offset of the next byte to be fed.
    next: u64,
}

impl LineFramer {
    /// A framer whose next fed byte is at `offset` in the file.
    pub fn new(max_line: usize, offset: u64) -> Self {
        LineFramer {
            max_line: max_line.max(1),
            partial: Vec::new(),
            overflow: false,
            line_start: offset,
            next: offset,
        }
    }

    /// Offset after the last emitted line: where a restart may resume.
    pub fn committed(&self) -> u64 {
        self.line_start
    }

    /// Offset of the next byte expected.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Bytes of an unfinished line are held (or being skipped).
    pub fn has_partial(&self) -> bool {
        self.next > self.line_start
    }

    /// Feeds `data` (the bytes at [`LineFramer::next_offset`]) and calls `out` for each complete
    /// non-empty line, stopping after `limit` lines. Returns how many bytes of `data` were
    /// consumed: all of them unless the limit was reached; feed the rest again later.
    pub fn feed(&mut self, data: &[u8], limit: usize, mut out: impl FnMut(FramedLine)) -> usize {
        let mut pos = 0;
        let mut emitted = 0;
        while emitted < limit && pos < data.len() {
            let rest = &data[pos..];
            match memchr(b'\n', rest) {
                Some(i) => {
                    if let Some(line) = self.end_line(&rest[..i], i as u64 + 1) {
                        out(line);
                        emitted += 1;
                    }
                    pos += i + 1;
                }
                None => {
                    self.append(rest);
                    self.next += rest.len() as u64;
                    pos = data.len();
                }
            }
        }
        pos
    }

    /// Emits the unfinished line as it is (idle file, rotation, close). `None` when nothing is
    /// held or only an empty line was.
    pub fn flush(&mut self) -> Option<FramedLine> {
        if !self.has_partial() {
            return None;
        }
        let line = FramedLine {
            start: self.line_start,
            body: std::mem::take(&mut self.partial),
            truncated: self.overflow,
        };
        self.overflow = false;
        self.line_start = self.next;
        (!line.body.is_empty() || line.truncated).then_some(line)
    }

    /// Ends the current line with `piece` (its last bytes) and a `\n`; `consumed` counts both.
    fn end_line(&mut self, piece: &[u8], consumed: u64) -> Option<FramedLine> {
        let start = self.line_start;
        let (body, truncated) = if self.partial.is_empty() && !self.overflow {
            // Fast path: the whole line is in this chunk, copy it once.
            if piece.len() > self.max_line {
                (piece[..self.max_line].to_vec(), true)
            } else {
                (piece.to_vec(), false)
            }
        } else {
            self.append(piece);
            (std::mem::take(&mut self.partial), self.overflow)
        };
        self.overflow = false;
        self.next += consumed;
        self.line_start = self.next;
        (!body.is_empty() || truncated).then_some(FramedLine {
            start,
            body,
            truncated,
        })
    }

    /// Adds bytes of the unfinished line, keeping at most `max_line`.
    fn append(&mut self, bytes: &[u8]) {
        let room = self.max_line - self.partial.len();
        if bytes.len() > room {
            self.partial.extend_from_slice(&bytes[..room]);
            self.overflow = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(f: &mut LineFramer, data: &[u8]) -> Vec<FramedLine> {
        let mut out = Vec::new();
        let n = f.feed(data, usize::MAX, |l| out.push(l));
        assert_eq!(n, data.len());
        out
    }

    fn line(start: u64, body: &str, truncated: bool) -> FramedLine {
        FramedLine {
            start,
            body: body.as_bytes().to_vec(),
            truncated,
        }
    }

    #[test]
    fn lines_carry_their_start_offsets() {
        let mut f = LineFramer::new(100, 10);
        let out = feed_all(&mut f, b"ab\ncde\n\nf");
        assert_eq!(out, vec![line(10, "ab", false), line(13, "cde", false)]);
        // The empty line is skipped but its byte counted; "f" is held.
        assert_eq!(f.committed(), 18);
        assert_eq!(f.next_offset(), 19);
        assert!(f.has_partial());
    }

    #[test]
    fn a_line_split_across_chunks_is_joined() {
        let mut f = LineFramer::new(100, 0);
        assert!(feed_all(&mut f, b"hel").is_empty());
        assert!(feed_all(&mut f, b"lo wo").is_empty());
        assert_eq!(
            feed_all(&mut f, b"rld\nx\n"),
            vec![line(0, "hello world", false), line(12, "x", false)]
        );
        assert_eq!(f.committed(), 14);
    }

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let mut f = LineFramer::new(4, 0);
        assert_eq!(
            feed_all(&mut f, b"abcdefgh\nok\n"),
            vec![line(0, "abcd", true), line(9, "ok", false)]
        );
        // Same across chunks: the partial buffer never grows past max_line.
        let mut f = LineFramer::new(4, 0);
        assert!(feed_all(&mut f, b"abc").is_empty());
        assert!(feed_all(&mut f, b"defghijkl").is_empty());
        assert_eq!(f.partial.len(), 4);
        assert_eq!(f.committed(), 0);
        assert_eq!(
            feed_all(&mut f, b"mn\nok\n"),
            vec![line(0, "abcd", true), line(15, "ok", false)]
        );
    }

    #[test]
    fn a_line_of_exactly_max_line_is_not_truncated() {
        let mut f = LineFramer::new(4, 0);
        assert_eq!(feed_all(&mut f, b"abcd\n"), vec![line(0, "abcd", false)]);
        let mut f = LineFramer::new(4, 0);
        feed_all(&mut f, b"ab");
        assert_eq!(feed_all(&mut f, b"cd\n"), vec![line(0, "abcd", false)]);
    }

    #[test]
    fn limit_stops_and_leaves_the_rest_unconsumed() {
        let mut f = LineFramer::new(100, 0);
        let mut out = Vec::new();
        let n = f.feed(b"a\nb\nc\n", 2, |l| out.push(l));
        assert_eq!(n, 4);
        assert_eq!(out.len(), 2);
        assert_eq!(f.committed(), 4);
        let n = f.feed(&b"a\nb\nc\n"[n..], 2, |l| out.push(l));
        assert_eq!(n, 2);
        assert_eq!(out[2], line(4, "c", false));
    }

    #[test]
    fn flush_emits_the_unfinished_line_once() {
        let mut f = LineFramer::new(100, 0);
        feed_all(&mut f, b"a\npartial");
        assert_eq!(f.flush(), Some(line(2, "partial", false)));
        assert_eq!(f.committed(), 9);
        assert_eq!(f.flush(), None);
        // What follows starts a new line.
        assert_eq!(feed_all(&mut f, b" rest\n"), vec![line(9, " rest", false)]);
    }

    #[test]
    fn invalid_utf8_passes_through() {
        let mut f = LineFramer::new(100, 0);
        assert_eq!(
            feed_all(&mut f, b"\xff\xfe\x00x\n")[0].body,
            b"\xff\xfe\x00x".to_vec()
        );
    }
}
