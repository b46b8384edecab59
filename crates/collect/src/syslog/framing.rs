//! Syslog over TCP framing (RFC 6587): octet counting or newline (LF / NUL) terminated frames.
//!
//! The framing of a connection is decided by its first byte: a digit means octet counting
//! (`<len> <msg>`, as every syslog message starts with `<PRI>`), anything else means
//! terminator framing. Rules:
//! - terminator framing ends a frame at `\n` or `\0`; empty frames are skipped; `\r` is left to
//!   the parser;
//! - octet counting accepts separators (`\n`, `\r`, `\0`, space) between frames, and strips a
//!   trailing `\n` / `\0` inside the counted message;
//! - a malformed count (a non-digit before the space, a leading zero, more than 9 digits, or a
//!   length above [`MAX_OCTET_COUNT`]) logs a warning and switches the connection to terminator
//!   framing from that byte on: the bytes are kept, as lines;
//! - a frame longer than `max_frame` keeps its first `max_frame` bytes, is flagged `truncated`,
//!   and the rest is skipped as it streams by;
//! - at end of stream, an octet-counted frame that is short of its count is emitted flagged
//!   `truncated`; an unterminated line is emitted as is (closing the connection ends it; it is
//!   flagged only when it was over `max_frame`).

use memchr::memchr2;

/// Largest octet count taken as a real length (64 MiB); larger ones are malformed.
pub const MAX_OCTET_COUNT: usize = 64 << 20;
/// Digits of the longest accepted octet count.
const MAX_COUNT_DIGITS: usize = 9;

/// One frame cut from a connection's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message bytes, at most `max_frame`.
    pub body: Vec<u8>,
    /// The message was cut (longer than `max_frame`, or the connection closed inside it).
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    Octet,
    Newline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Start,
    /// Reading the digits of an octet count.
    Count,
    /// Reading an octet-counted message; bytes still expected.
    Body(usize),
    /// Reading a terminated frame.
    Line,
}

/// Streaming frame decoder for one connection; see the module documentation.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame: usize,
    mode: Mode,
    state: State,
    /// The frame being built (at most `max_frame` bytes).
    cur: Vec<u8>,
    /// The frame being built already went past `max_frame`.
    over: bool,
    /// The digits of the count being read.
    count: Vec<u8>,
    /// Who is sending, for warnings.
    peer: String,
    malformed: u64,
    /// Frames ended so far, empty ones included.
    ended: u64,
}

impl FrameDecoder {
    /// A decoder for a new connection from `peer`.
    pub fn new(max_frame: usize, peer: String) -> Self {
        FrameDecoder {
            max_frame: max_frame.max(1),
            mode: Mode::Unknown,
            state: State::Start,
            cur: Vec::new(),
            over: false,
            count: Vec::new(),
            peer,
            malformed: 0,
            ended: 0,
        }
    }

    /// A frame has started (its count or its first byte was read) and has not ended yet.
    pub fn in_frame(&self) -> bool {
        self.state != State::Start
    }

    /// Frames ended so far on this connection, empty ones included: a change across a
    /// [`FrameDecoder::decode`] call means the frame in progress after it (if any) is a new one.
    pub fn frames_ended(&self) -> u64 {
        self.ended
    }

    /// Malformed octet counts seen on this connection.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Consumes `input`, pushing every completed frame to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<Frame>) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Start => {
                    let b = input[i];
                    match self.mode {
                        Mode::Newline => self.state = State::Line,
                        Mode::Unknown | Mode::Octet if b.is_ascii_digit() => {
                            self.mode = Mode::Octet;
                            self.state = State::Count;
                        }
                        Mode::Octet if matches!(b, b'\n' | b'\r' | b'\0' | b' ') => i += 1,
                        Mode::Unknown => {
                            self.mode = Mode::Newline;
                            self.state = State::Line;
                        }
                        Mode::Octet => {
                            self.switch_to_newline("a frame does not start with an octet count");
                            self.state = State::Line;
                        }
                    }
                }
                State::Count => {
                    let b = input[i];
                    if b.is_ascii_digit() && self.count.len() < MAX_COUNT_DIGITS {
                        self.count.push(b);
                        i += 1;
                    } else if b == b' ' {
                        match self.parse_count() {
                            Some(n) => {
                                self.count.clear();
                                self.state = State::Body(n);
                                i += 1;
                            }
                            None => {
                                self.switch_to_newline("invalid octet count");
                                self.state = State::Line;
                            }
                        }
                    } else {
                        self.switch_to_newline("invalid octet count");
                        self.state = State::Line;
                    }
                }
                State::Body(remaining) => {
                    let take = remaining.min(input.len() - i);
                    self.append(&input[i..i + take]);
                    i += take;
                    if take == remaining {
                        let mut f = self.take_frame(false);
                        while matches!(f.body.last(), Some(b'\n' | b'\0')) && !f.truncated {
                            f.body.pop();
                        }
                        if !f.body.is_empty() || f.truncated {
                            out.push(f);
                        }
                        self.state = State::Start;
                        self.ended += 1;
                    } else {
                        self.state = State::Body(remaining - take);
                    }
                }
                State::Line => match memchr2(b'\n', b'\0', &input[i..]) {
                    Some(j) => {
                        self.append(&input[i..i + j]);
                        i += j + 1;
                        let f = self.take_frame(false);
                        if !f.body.is_empty() || f.truncated {
                            out.push(f);
                        }
                        self.state = State::Start;
                        self.ended += 1;
                    }
                    None => {
                        self.append(&input[i..]);
                        i = input.len();
                    }
                },
            }
        }
    }

    /// The connection closed: the frame in progress, if any.
    pub fn finish(&mut self) -> Option<Frame> {
        let f = match self.state {
            State::Start => return None,
            State::Count => {
                let digits = std::mem::take(&mut self.count);
                self.append(&digits);
                self.take_frame(true)
            }
            State::Body(_) => self.take_frame(true),
            State::Line => self.take_frame(false),
        };
        self.state = State::Start;
        self.ended += 1;
        (!f.body.is_empty()).then_some(f)
    }

    /// A bad count: warn, keep its digits as the start of a line, frame by terminator from now.
    fn switch_to_newline(&mut self, what: &str) {
        self.malformed += 1;
        tracing::warn!(peer = %self.peer, digits = %String::from_utf8_lossy(&self.count),
            "{what} in syslog tcp stream, reading it as newline-framed from here");
        let digits = std::mem::take(&mut self.count);
        self.append(&digits);
        self.mode = Mode::Newline;
    }

    fn parse_count(&self) -> Option<usize> {
        if self.count.first() == Some(&b'0') {
            return None;
        }
        let s = std::str::from_utf8(&self.count).ok()?;
        let n: usize = s.parse().ok()?;
        (1..=MAX_OCTET_COUNT).contains(&n).then_some(n)
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = self.max_frame - self.cur.len();
        if bytes.len() > room {
            self.cur.extend_from_slice(&bytes[..room]);
            self.over = true;
        } else {
            self.cur.extend_from_slice(bytes);
        }
    }

    fn take_frame(&mut self, cut: bool) -> Frame {
        let f = Frame {
            body: std::mem::take(&mut self.cur),
            truncated: self.over || cut,
        };
        self.over = false;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(max: usize, chunks: &[&[u8]]) -> (Vec<Frame>, FrameDecoder) {
        let mut d = FrameDecoder::new(max, "test".into());
        let mut out = Vec::new();
        for c in chunks {
            d.decode(c, &mut out);
        }
        if let Some(f) = d.finish() {
            out.push(f);
        }
        (out, d)
    }

    fn ok(s: &str) -> Frame {
        Frame {
            body: s.as_bytes().to_vec(),
            truncated: false,
        }
    }
    fn cut(s: &str) -> Frame {
        Frame {
            body: s.as_bytes().to_vec(),
            truncated: true,
        }
    }

    #[test]
    fn newline_and_nul_terminated_frames() {
        let (f, _) = decode_all(100, &[b"<1>a\n<2>b\0\n<3>c\r\n"]);
        assert_eq!(f, vec![ok("<1>a"), ok("<2>b"), ok("<3>c\r")]);
    }

    #[test]
    fn octet_counted_frames_split_anywhere() {
        let stream: &[u8] = b"4 <1>a5 <2>bc\n3 <3>";
        // Every split point gives the same frames.
        for cut_at in 0..stream.len() {
            let (f, d) = decode_all(100, &[&stream[..cut_at], &stream[cut_at..]]);
            assert_eq!(
                f,
                vec![ok("<1>a"), ok("<2>bc"), ok("<3>")],
                "split at {cut_at}"
            );
            assert_eq!(d.malformed(), 0);
        }
    }

    #[test]
    fn oversized_frames_are_cut_and_the_next_one_is_intact() {
        let (f, _) = decode_all(4, &[b"<1>abcdef\n<2>x\n"]);
        assert_eq!(f, vec![cut("<1>a"), ok("<2>x")]);
        let (f, _) = decode_all(4, &[b"9 <1>abc", b"def4 <2>x"]);
        assert_eq!(f, vec![cut("<1>a"), ok("<2>x")]);
    }

    #[test]
    fn bad_count_falls_back_to_lines_and_keeps_the_bytes() {
        let (f, d) = decode_all(100, &[b"4 <1>a12x garbage\n<2>next\n"]);
        assert_eq!(f, vec![ok("<1>a"), ok("12x garbage"), ok("<2>next")]);
        assert_eq!(d.malformed(), 1);
        let (f, _) = decode_all(100, &[b"99999999999 big\nok\n"]);
        assert_eq!(f, vec![ok("99999999999 big"), ok("ok")]);
        let (f, _) = decode_all(100, &[b"0 zero\n"]);
        assert_eq!(f, vec![ok("0 zero")]);
        let (f, _) = decode_all(100, &[b"3 <1>", b"<2>not counted\n"]);
        assert_eq!(f, vec![ok("<1>"), ok("<2>not counted")]);
    }

    #[test]
    fn close_mid_frame_emits_the_partial_frame() {
        let (f, _) = decode_all(100, &[b"10 <1>abc"]);
        assert_eq!(f, vec![cut("<1>abc")]);
        let (f, _) = decode_all(100, &[b"<1>no newline"]);
        assert_eq!(f, vec![ok("<1>no newline")]);
        let (f, _) = decode_all(100, &[b"4 <1>a\n"]);
        assert_eq!(f, vec![ok("<1>a")]);
    }

    #[test]
    fn a_frame_in_progress_is_told_apart_from_the_next_one() {
        let mut d = FrameDecoder::new(100, "t".into());
        let mut out = Vec::new();
        assert!(!d.in_frame());
        d.decode(b"<1>a", &mut out);
        assert!(d.in_frame());
        assert_eq!(d.frames_ended(), 0);
        d.decode(b"\n\n<2>", &mut out);
        assert!(d.in_frame(), "a new frame started");
        assert_eq!(d.frames_ended(), 2, "the empty line ended a frame too");
        d.decode(b"b\n", &mut out);
        assert!(!d.in_frame());
        assert_eq!(out, vec![ok("<1>a"), ok("<2>b")]);
        // Octet counting: the count is part of the frame, separators are not.
        let mut d = FrameDecoder::new(100, "t".into());
        d.decode(b"4 <1>a \n", &mut out);
        assert!(!d.in_frame());
        d.decode(b"1", &mut out);
        assert!(d.in_frame());
        assert_eq!(d.frames_ended(), 1);
    }

    #[test]
    fn binary_garbage_never_panics() {
        let mut d = FrameDecoder::new(16, "t".into());
        let mut out = Vec::new();
        let mut x: u32 = 12345;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let b = [
                (x & 0xff) as u8,
                (x >> 8 & 0xff) as u8,
                b'0' + (x % 10) as u8,
            ];
            d.decode(&b, &mut out);
        }
        d.finish();
        assert!(out.iter().all(|f| f.body.len() <= 16));
    }
}
