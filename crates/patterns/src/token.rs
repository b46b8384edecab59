//! Lines into tokens, and which tokens are variables.
//!
//! A line is split on whitespace; each token keeps the whitespace before it so a template
//! renders with the line's own spacing. A token is *variable-like* when its shape says it is
//! a value rather than a word of the message: it holds a number (digits not inside a word), is very long, holds binary
//! junk, or looks like a path, a host name or a dotted identifier. Variable-like tokens match
//! each other when lines are grouped; words must be equal. A *keyed value* (a key, then `=`,
//! `:`, `[` or `(`, before its first number: `uid=0`, `index:3,`, `a=1,b=x`, `taskID[47]`) is
//! variable-like but compared by its shape, its values masked (`uid=<*>`), as words are
//! ([`shape_into`]).
//!
//! [`mask`] renders the values inside one token as `<*>` while keeping its punctuation and
//! words (`blk_-123` -> `blk_<*>`, `10.0.0.1:5070` -> `<*>:<*>`, `(HWID=42)` -> `(HWID=<*>)`):
//! numbers (with a sign when the sign is not glued to a word), dotted numbers (addresses,
//! versions, decimals) as one value, `0x` hex and long hex strings.

use crate::classes::{block, is_space, Scan};

/// The placeholder of a variable in a template.
pub const WILDCARD: &str = "<*>";

/// Longer tokens are variable-like whatever they hold (a 100 KB token is a value).
pub(crate) const MAX_WORD_LEN: usize = 64;

/// Longest token given a shape ([`shape_into`]): a packed list of `key=value` pairs is longer
/// than a word, and its keys are still its structure.
pub(crate) const MAX_SHAPE_LEN: usize = 4 * MAX_WORD_LEN;

/// One token of a line, as byte offsets into it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    /// Start of the whitespace before the token.
    pub sep: u32,
    /// Start of the token.
    pub start: u32,
    /// End of the token (exclusive).
    pub end: u32,
    /// What a template position compares with ([`key_of`]; [`VALUE_KEY`] for a variable-like
    /// token without a shape).
    pub key: u64,
    /// Where a shaped token's shape is in the shapes of its line ([`tokenize`] keeps them for
    /// the line it tokenized last on this thread): start and length (0 for other tokens).
    /// 24 bytes a span: whether a token is variable-like is said by its key and shape.
    pub shape: (u16, u16),
}

impl Span {
    pub fn text<'a>(&self, line: &'a str) -> &'a str {
        &line[self.start as usize..self.end as usize]
    }
    pub fn sep<'a>(&self, line: &'a str) -> &'a str {
        &line[self.sep as usize..self.start as usize]
    }
    /// Whether the token is variable-like.
    #[inline]
    pub fn var(&self) -> bool {
        self.key == VALUE_KEY || self.shape.1 != 0
    }
    /// Whether the token is a keyed value, compared by its shape ([`shape_into`]).
    #[inline]
    pub fn shaped(&self) -> bool {
        self.shape.1 != 0
    }
}

/// The key of a variable-like token, and of a template position that holds values.
pub(crate) const VALUE_KEY: u64 = 0;
/// The key of a template position where lines had different words.
pub(crate) const ANY_KEY: u64 = 1;

/// The key of a word, compared before its text is: a word of up to 7 bytes is its own key (its
/// bytes and its length, so equal keys are equal words); a longer one gets a hash with the top
/// byte set (equal keys then need the words compared). Neither collides with [`VALUE_KEY`] or
/// [`ANY_KEY`] (top byte 0).
pub(crate) fn key_of(word: &[u8]) -> u64 {
    let n = word.len();
    if n <= 7 {
        // byte by byte: a copy into an 8-byte buffer was a call, and reading it back stalled
        let mut w = 0u64;
        for (i, &b) in word.iter().enumerate() {
            w |= (b as u64) << (8 * i);
        }
        return w | (n as u64) << 56;
    }
    // FxHash-style over 8-byte chunks: fast, and only a first test (long words are compared)
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = n as u64;
    let mut chunks = word.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(26) ^ u64::from_le_bytes(c.try_into().expect("8 bytes"))).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = 0u64;
        for (i, &b) in rest.iter().enumerate() {
            w |= (b as u64) << (8 * i);
        }
        h = (h.rotate_left(26) ^ w).wrapping_mul(K);
    }
    (h >> 8) | (0xff << 56)
}

/// [`key_of`] the bytes `start..end` of `line`: a short word read as one 8-byte load of the
/// line around it when the line is long enough.
#[inline]
pub(crate) fn key_at(line: &[u8], start: usize, end: usize) -> u64 {
    let n = end - start;
    if n <= 7 {
        let w = if let Some(b) = line.get(start..start + 8) {
            u64::from_le_bytes(b.try_into().expect("8 bytes")) & ((1u64 << (8 * n)) - 1)
        } else if let Some(b) = end.checked_sub(8).and_then(|s| line.get(s..end)) {
            // the 8 bytes ending with the word: the word is their top `n` bytes
            if n == 0 {
                0
            } else {
                u64::from_le_bytes(b.try_into().expect("8 bytes")) >> (8 * (8 - n))
            }
        } else {
            return key_of(&line[start..end]);
        };
        return w | (n as u64) << 56;
    }
    key_of(&line[start..end])
}

/// Whether two words with equal keys ([`key_of`]) are equal: a short word's key is the word.
#[inline]
pub(crate) fn same_word(key: u64, a: &str, b: &str) -> bool {
    key >> 56 != 0xff || a == b
}

/// Whether a template's word `w` and a line's token with the same key are the same: the word,
/// or for a shaped token ([`Span::shaped`]) its shape.
#[inline]
pub(crate) fn same_token(key: u64, w: &str, s: &Span, line: &str) -> bool {
    // a short word's key is the word (and the token is not sliced out of the line)
    if key >> 56 != 0xff {
        return true;
    }
    if s.shaped() {
        // the shape [`tokenize`] kept for the line
        let (at, n) = (s.shape.0 as usize, s.shape.1 as usize);
        return SCRATCH.with_borrow(|sc| sc.line.get(at..at + n) == Some(w));
    }
    same_word(key, w, s.text(line))
}

/// Splits `line` into at most `max_tokens` tokens (the rest of a longer line becomes one last
/// variable token), into `out` (cleared first). Lines longer than 4 GiB are cut at 4 GiB.
///
/// One pass over the bytes, 64 at a time by their classes ([`crate::classes`]): a token without
/// a notable byte (most words) is a value only when it is very long or a month or weekday
/// name; the others get the full test ([`classify`]).
pub(crate) fn tokenize(line: &str, max_tokens: usize, out: &mut Vec<Span>) {
    SCRATCH.with_borrow_mut(|sc| tokenize_with(line, max_tokens, out, sc))
}

fn tokenize_with(line: &str, max_tokens: usize, out: &mut Vec<Span>, sc: &mut Scratch) {
    out.clear();
    sc.line.clear();
    let bytes = line.as_bytes();
    let len = bytes.len().min(u32::MAX as usize);
    let mut scan = Scan::new(bytes, len);
    let mut i = 0;
    while i < len {
        let sep = i;
        i = scan.skip_space(i);
        if i >= len {
            break;
        }
        let start = i;
        if out.len() + 1 == max_tokens {
            // the rest of the line, trailing whitespace dropped, as one value
            let mut end = len;
            while end > start && is_space(bytes[end - 1]) {
                end -= 1;
            }
            let end = floor_char_boundary(line, end);
            out.push(Span { sep: sep as u32, start: start as u32, end: end as u32, key: VALUE_KEY, shape: (0, 0) });
            return;
        }
        let (stop, notable) = scan.token_end(start);
        // whitespace is ASCII, so only a cut at 4 GiB can land inside a character
        let end = if stop == len { floor_char_boundary(line, stop) } else { stop };
        if end <= start {
            // a cut at 4 GiB inside this token's first character: nothing more to read
            break;
        }
        // `start` follows ASCII whitespace (or is 0) and `end` is a char boundary: the checked
        // slice cannot fail, and its checks cost ~3% of a line's instructions (callgrind), which
        // is not worth an `unsafe` block in a parser of untrusted input.
        let text = &line[start..end];
        i = end.max(start + 1);
        // a unit after a number is part of the value (`5 ms`, `<1 sec`, `(1.2 KB)`)
        if let Some(prev) = out.last_mut().filter(|p| p.var() && is_unit(text)) {
            let prev_text = &line[prev.start as usize..prev.end as usize];
            if all_value(prev_text, sc) {
                prev.end = end as u32;
                // a measurement in parentheses is an aside some lines have and others not:
                // left out so that both kinds group together
                if prev_text.starts_with('(') && text.ends_with(')') {
                    out.pop();
                }
                continue;
            }
        }
        let (var, may_shape) = token_class(text, notable);
        // a keyed value (`uid=0`, `index:3,`) is compared by its shape
        let mut shape = (0, 0);
        let key = if may_shape
            && sc.shape(text)
            && sc.line.len() + sc.out.len() <= u16::MAX as usize
        {
            shape = (sc.line.len() as u16, sc.out.len() as u16);
            sc.line.push_str(&sc.out);
            key_of(sc.out.as_bytes())
        } else if var {
            VALUE_KEY
        } else {
            key_at(bytes, start, end)
        };
        out.push(Span { sep: sep as u32, start: start as u32, end: end as u32, key, shape });
    }
}

/// A whitespace-separated piece of a line: start, end, whether it holds a notable byte.
pub(crate) type Piece = (u32, u32, bool);

/// Splits `line` on whitespace into `out` (cleared first), as [`tokenize`] would before it
/// joins units to values and cuts long lines: false (and `out` not to be used) when the line
/// has `max` pieces or more, or is longer than 4 GiB.
pub(crate) fn split(line: &str, max: usize, out: &mut Vec<Piece>) -> bool {
    out.clear();
    let bytes = line.as_bytes();
    let len = bytes.len();
    if len > u32::MAX as usize {
        return false;
    }
    /// Bits `a..b` of a word (`a <= b <= 64`).
    #[inline]
    fn bits(a: u32, b: u32) -> u64 {
        let upto = if b >= 64 { u64::MAX } else { (1u64 << b) - 1 };
        upto & !((1u64 << a) - 1)
    }
    // the class changes between bytes (whitespace to not, or back) found 64 bytes at a time
    let (mut open, mut start, mut from, mut notable) = (false, 0usize, 0u32, false);
    let mut base = 0;
    while base < len {
        // bytes past the end count as spaces: a token open at the end closes there
        let (space, nt) = block(bytes, base);
        let before = if open { 0 } else { 1 };
        let mut turns = space ^ ((space << 1) | before);
        while turns != 0 {
            let k = turns.trailing_zeros();
            turns &= turns - 1;
            if open {
                notable |= nt & bits(from, k) != 0;
                if out.len() + 1 >= max {
                    return false;
                }
                out.push((start as u32, (base + k as usize) as u32, notable));
                open = false;
            } else {
                (open, start, from, notable) = (true, base + k as usize, k, false);
            }
        }
        if open {
            notable |= nt & bits(from, 64) != 0;
            from = 0;
        }
        base += 64;
    }
    if open {
        if out.len() + 1 >= max {
            return false;
        }
        out.push((start as u32, len as u32, notable));
    }
    true
}

/// Whether a token is variable-like and whether it may have a shape ([`classify`]), given
/// whether it holds a notable byte ([`crate::classes`]): a token without one (most words) is
/// a value only when it is very long or a month or weekday name.
#[inline]
pub(crate) fn token_class(text: &str, notable: bool) -> (bool, bool) {
    if !notable {
        // (most words are not capitalised: no call for them)
        (text.len() > MAX_WORD_LEN || (text.as_bytes()[0].is_ascii_uppercase() && is_calendar_word(text)), false)
    } else if text.len() > MAX_SHAPE_LEN {
        (true, false)
    } else {
        classify(text)
    }
}

/// Units of time and size that follow numbers.
#[inline]
pub(crate) fn is_unit(tok: &str) -> bool {
    if tok.len() > 8 || !matches!(tok.as_bytes()[0], b'n' | b'u' | 0xc2 | b'm' | b's' | b'h' | b'd' | b'B' | b'K' | b'M' | b'G' | b'T' | b'k') {
        return false;
    }
    matches!(
        tok.trim_end_matches([')', ',', ';', ']']),
        "ns" | "us" | "µs" | "ms" | "s" | "sec" | "secs" | "second" | "seconds" | "min" | "mins" | "minute"
            | "minutes" | "h" | "hour" | "hours" | "day" | "days" | "B" | "KB" | "MB" | "GB" | "TB" | "KiB" | "MiB"
            | "GiB" | "TiB" | "kB"
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Whether a token's shape says it is a value (see the module documentation).
#[cfg(test)]
pub(crate) fn is_variable(tok: &str) -> bool {
    classify(tok).0
}

/// Whether a token's shape says it is a value ([`is_variable`]), and whether it may have a
/// shape ([`shape_into`]): a value with a key before its first number (a letter, then `=` or
/// `:` after a letter, digit, `)` or `]`, or `[` or `(` after a letter or digit: `uid=0`,
/// `index:3`, `taskID[47]`, `Open(0)`, not `blk_-38` or `12:00:01`: an
/// identifier with numbers is one value), no control byte or `@`, and not a path or a dotted
/// name (two slashes, two dots next to a letter) unless it holds `key=value` pairs. One pass,
/// stopping at the first number of a token without a key.
fn classify(tok: &str) -> (bool, bool) {
    let b = tok.as_bytes();
    let (mut digit, mut control, mut at, mut letter, mut eq) = (false, false, false, false, false);
    // a key before `=` or `:` (`uid=0`, `index:3`, `getTopPadding():0`)
    let mut keyed = false;
    let (mut slashes, mut inner_dots, mut word_dots) = (0, 0, 0);
    for (i, &c) in b.iter().enumerate() {
        match c {
            // a run of letters and digits that starts with a digit (`42`, `0x1f`, `3ms`); digits
            // inside a word (`ssh2`, `SOCKS5`, `x86_64`) leave it a word
            b'0'..=b'9' if !digit && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) => {
                // a value; a keyed one has its key before its first number, and a place
                // before it (`host.example.com:80`, `/a/b:1`) is no key
                if !keyed || at || (!eq && (slashes >= 2 || word_dots >= 2)) {
                    return (true, false);
                }
                digit = true;
            }
            b'a'..=b'z' | b'A'..=b'Z' => letter = true,
            b'/' | b'\\' => slashes += 1,
            b'.' if i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_alphanumeric() && b[i + 1].is_ascii_alphanumeric() => {
                inner_dots += 1;
                word_dots += (b[i - 1].is_ascii_alphabetic() || b[i + 1].is_ascii_alphabetic()) as u32;
            }
            b'@' if i > 0 && i + 1 < b.len() => at = true,
            b'=' | b':' => {
                eq |= c == b'=';
                keyed |= letter && i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b')' | b']'));
            }
            // an indexed or called name (`taskID[3]`, `PollerOpen(0)`)
            b'[' | b'(' => keyed |= letter && i > 0 && b[i - 1].is_ascii_alphanumeric(),
            0..=0x1f | 0x7f => control = true,
            _ => {}
        }
    }
    let var = tok.len() > MAX_WORD_LEN
        || digit
        || control
        || at
        || slashes >= 2
        || (inner_dots >= 2 && !names_a_constant(tok))
        || is_calendar_word(tok)
        // U+FFFD (lossy decoding) and other non-ASCII junk: replacement characters are values
        || (!tok.is_ascii() && tok.contains('\u{fffd}'));
    let may_shape = var && keyed && !control && !at && tok.len() <= MAX_SHAPE_LEN && (eq || (slashes < 2 && word_dots < 2));
    (var, may_shape)
}

/// Whether a dotted name ends in a constant's name in capitals (`android.intent.action.SCREEN_ON`,
/// `State.RUNNING`): a kind, not a value, like a word in capitals.
fn names_a_constant(tok: &str) -> bool {
    let b = tok.as_bytes();
    // most dotted names end in lower case: one byte says so
    if !b.last().is_some_and(|c| c.is_ascii_uppercase() || *c == b'_') {
        return false;
    }
    let last = &b[b.iter().rposition(|&c| c == b'.').map_or(0, |p| p + 1)..];
    last.len() >= 2 && last.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') && last.iter().filter(|c| c.is_ascii_uppercase()).count() >= 2
}

/// Month and weekday names (`Jun`, `June`, `Fri`): parts of dates written into messages.
#[inline]
fn is_calendar_word(tok: &str) -> bool {
    let b = tok.as_bytes();
    // every name starts with its three-letter abbreviation: most capitalised words stop there
    b.len() >= 3
        && b.len() <= 10
        && b[0].is_ascii_uppercase()
        && matches!(
            [b[0], b[1], b[2]],
            [b'J', b'a', b'n'] | [b'F', b'e', b'b'] | [b'M', b'a', b'r'] | [b'A', b'p', b'r'] | [b'M', b'a', b'y']
                | [b'J', b'u', b'n'] | [b'J', b'u', b'l'] | [b'A', b'u', b'g'] | [b'S', b'e', b'p'] | [b'O', b'c', b't']
                | [b'N', b'o', b'v'] | [b'D', b'e', b'c'] | [b'M', b'o', b'n'] | [b'T', b'u', b'e'] | [b'W', b'e', b'd']
                | [b'T', b'h', b'u'] | [b'F', b'r', b'i'] | [b'S', b'a', b't'] | [b'S', b'u', b'n']
        )
        && is_calendar_name(tok)
}

fn is_calendar_name(tok: &str) -> bool {
    matches!(
        tok.trim_end_matches([',', '.']),
        "Jan" | "Feb" | "Mar" | "Apr" | "May" | "Jun" | "Jul" | "Aug" | "Sep" | "Oct" | "Nov" | "Dec" | "Mon" | "Tue"
            | "Wed" | "Thu" | "Fri" | "Sat" | "Sun" | "January" | "February" | "March" | "April" | "June" | "July"
            | "August" | "September" | "October" | "November" | "December" | "Monday" | "Tuesday" | "Wednesday"
            | "Thursday" | "Friday" | "Saturday" | "Sunday"
    )
}

/// The token with its values masked as [`WILDCARD`] (see the module documentation).
pub fn mask(tok: &str) -> String {
    if tok.len() > MAX_WORD_LEN || tok.chars().any(|c| c.is_control() || c == '\u{fffd}') {
        return WILDCARD.to_string();
    }
    let mut out = String::with_capacity(tok.len());
    mask_into(tok, &mut out);
    out
}

/// Whether a keyed value ([`classify`] says which tokens may be one) holds values among words,
/// and its *shape* into `out` (cleared first): the token with its values masked ([`mask`]) and
/// the value of each `key=value` pair masked whatever it holds (`uid=0` -> `uid=<*>`,
/// `index:3,` -> `index:<*>,`, `ready=true,policy=2` -> `ready=<*>,policy=<*>`,
/// `tag="Lock",` -> `tag="<*>",`). Such a token is a value, but its key says which field:
/// lines compare it by its shape, as they compare words. False for a token that is all value
/// (a number, an address, `[<*>]`), one where nothing is masked, one whose words are a place
/// (a path, a dotted name) and binary junk.
pub(crate) fn shape_into(tok: &str, out: &mut String, pairs: &mut String) -> bool {
    out.clear();
    if one_pair(tok, out) {
        return true;
    }
    let m = if tok.as_bytes().contains(&b'=') {
        pairs.clear();
        mask_pairs(tok, pairs);
        mask_into(pairs, out)
    } else {
        mask_into(tok, out)
    };
    // values and words, the words not themselves a value: a path (two slashes), a dotted name
    // (two dots inside words: a host, a package) or an address with `@` (`proxy.example.com:<*>`,
    // `news.<*>.com:<*>`, `/v2/<*>/servers`)
    m.wildcard && m.letter && !m.control && !m.at && m.slashes < 2 && m.dots < 2
}

/// The shape of the commonest keyed value, one pair (`uid=0`, `(uid=0)`, `rhost=10.0.0.1,`),
/// without the general masking: a key without digits, one `=`, a value without quotes or
/// brackets, then only punctuation. What [`shape_into`] would give; false (and `out` left
/// empty) for other tokens.
fn one_pair(tok: &str, out: &mut String) -> bool {
    let b = tok.as_bytes();
    let Some(e) = b.iter().position(|&c| c == b'=') else { return false };
    let (head, rest) = (&b[..e], &b[e + 1..]);
    let class = |c: u8| PAIR_CLASS[c as usize];
    let key_start = head.iter().rposition(|&c| class(c) & KEY_CHAR == 0).map_or(0, |p| p + 1);
    // before the key: nothing, or a name without digits that opens a bracket (`(uid=0)`,
    // `root(uid=0)`): masking would leave it as it is
    let before = &head[..key_start];
    if !(key_start < e
        && head[key_start].is_ascii_alphabetic()
        && before.last().is_none_or(|c| matches!(c, b'(' | b'[' | b'{'))
        && before.iter().all(|&c| c.is_ascii_alphabetic() || matches!(c, b'_' | b'-' | b'(' | b'[' | b'{')))
    {
        return false;
    }
    // the value: quoted (`exe="/usr/sbin/sshd"`, the quotes kept) or up to a closer
    let (from, to) = match rest.first() {
        Some(&q @ (b'"' | b'\'')) => match rest[1..].iter().position(|&c| c == q) {
            Some(n) => (1, 1 + n),
            None => return false,
        },
        _ => {
            let end = rest.iter().position(|&c| class(c) & CLOSER != 0).unwrap_or(rest.len());
            if !rest[..end].iter().all(|&c| class(c) & NOT_IN_VALUE == 0) {
                return false;
            }
            (0, end)
        }
    };
    if from == to || !rest[to..].iter().skip(from).all(|&c| class(c) & TAIL == TAIL) {
        return false;
    }
    out.push_str(&tok[..e + 1 + from]);
    out.push_str(WILDCARD);
    out.push_str(&tok[e + 1 + to..]);
    true
}

/// Byte classes of [`one_pair`], a table look-up a byte.
const KEY_CHAR: u8 = 1;
const CLOSER: u8 = 2;
const NOT_IN_VALUE: u8 = 4;
const TAIL: u8 = 8;
static PAIR_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_alphabetic() || b == b'_' || b == b'.' || b == b'-' {
            k |= KEY_CHAR;
        }
        if matches!(b, b',' | b';' | b'&' | b'|' | b')' | b']' | b'}' | b'>') {
            k |= CLOSER;
        }
        if matches!(b, b'=' | b'"' | b'\'' | b'(' | b'[' | b'{' | b'<') || !b.is_ascii_graphic() {
            k |= NOT_IN_VALUE;
        }
        // punctuation after the value, not a bracket of a wildcard, not another pair
        if b.is_ascii_punctuation() && !matches!(b, b'<' | b'>' | b'=') {
            k |= TAIL;
        }
        t[c] = k;
        c += 1;
    }
    t
};

/// Whether a template's word `w` and a line's token that differ are one field all the same:
/// the same `key=` and a value on one side at least (`mask=1` beside `mask=ffffffff`, the
/// shape `uid=<*>` beside `uid=none`): the line joins the template and the place becomes a
/// variable, rather than a kind of line per value. Two words (`user=root` / `user=guest`) are
/// not: they are left to the variants rule.
pub(crate) fn same_field(w: &str, s: &Span, line: &str) -> bool {
    let value_in_w = w.contains(WILDCARD);
    if !s.shaped() && !value_in_w {
        return false;
    }
    let Some(e) = w.find('=') else { return false };
    let key = &w.as_bytes()[..=e];
    if !key[..e].iter().any(u8::is_ascii_alphabetic) {
        return false;
    }
    if s.shaped() {
        let (at, n) = (s.shape.0 as usize, s.shape.1 as usize);
        SCRATCH.with_borrow(|sc| sc.line.as_bytes().get(at..at + n).is_some_and(|t| t.starts_with(key)))
    } else {
        s.text(line).as_bytes().starts_with(key)
    }
}

/// Whether a token is nothing but values and punctuation ([`all_value`]): a unit after it
/// joins it.
pub(crate) fn is_all_value(tok: &str) -> bool {
    SCRATCH.with_borrow_mut(|sc| all_value(tok, sc))
}

/// `is_pure_value(&mask(tok))` without a new string: whether a token is nothing but values and
/// punctuation.
fn all_value(tok: &str, sc: &mut Scratch) -> bool {
    if tok.len() > MAX_WORD_LEN || tok.chars().any(|c| c.is_control() || c == '\u{fffd}') {
        return true;
    }
    sc.out.clear();
    let m = mask_into(tok, &mut sc.out);
    // an alphabetic byte of the masked token comes from a word kept whole
    m.wildcard && !m.letter
}

/// Buffers for shapes made while lines are tokenized and compared (no allocation per token).
#[derive(Default)]
struct Scratch {
    out: String,
    pairs: String,
    /// The shapes of the line tokenized last, one after the other ([`Span::shape`]).
    line: String,
}

impl Scratch {
    fn shape(&mut self, tok: &str) -> bool {
        shape_into(tok, &mut self.out, &mut self.pairs)
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Whether `tok`, a token that may have a shape ([`token_class`]), has the shape `w` (without
/// touching the shapes kept for the line tokenized last).
pub(crate) fn has_shape(tok: &str, w: &str) -> bool {
    SCRATCH.with_borrow_mut(|sc| sc.shape(tok) && sc.out == w)
}

/// The shape of a token, if it has one: what [`tokenize`] compares it by.
pub(crate) fn shape(tok: &str) -> Option<String> {
    let mut out = String::new();
    (classify(tok).1 && shape_into(tok, &mut out, &mut String::new())).then_some(out)
}

/// `tok` with the value of each `key=value` pair as [`WILDCARD`]: a key is a run of letters,
/// digits and `_.-` with a letter; its value runs to the next `,`, `;`, `&`, `|` or closing
/// bracket (a quoted value to its closing quote, kept); an empty value stays empty, and a value
/// that opens a bracket is left to its own pairs (`info={a=1,b=2}`).
fn mask_pairs(tok: &str, out: &mut String) {
    let b = tok.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'=' || i == 0 {
            i += 1;
            continue;
        }
        let mut k = i;
        while k > 0 && (b[k - 1].is_ascii_alphanumeric() || matches!(b[k - 1], b'_' | b'.' | b'-')) {
            k -= 1;
        }
        let key = &b[k..i];
        i += 1;
        if !key.iter().any(u8::is_ascii_alphabetic) || i >= b.len() {
            continue;
        }
        let (from, to) = match b[i] {
            q @ (b'"' | b'\'') => match b[i + 1..].iter().position(|&c| c == q) {
                Some(n) => (i + 1, i + 1 + n),
                None => continue,
            },
            b'(' | b'[' | b'{' | b'<' => continue,
            _ => (i, i + b[i..].iter().position(|c| matches!(c, b',' | b';' | b'&' | b'|' | b')' | b']' | b'}' | b'>')).unwrap_or(b.len() - i)),
        };
        if from < to {
            out.push_str(&tok[copied..from]);
            out.push_str(WILDCARD);
            copied = to;
        }
        i = to.max(i);
    }
    out.push_str(&tok[copied..]);
}

/// [`mask`] without the checks for long and binary tokens, into `out`.
fn mask_into(tok: &str, out: &mut String) -> Masked {
    // bytes, not chars, are pushed (whole characters of `tok` are copied, so it stays UTF-8)
    let mut o = std::mem::take(out).into_bytes();
    o.reserve(tok.len() + 2 * WILDCARD.len());
    let b = tok.as_bytes();
    let mut m = Masked::default();
    let mut i = 0;
    // whether `out` ends with a wildcard that a following `.<value>` may extend
    let mut after_value = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let run = &tok[start..i];
            if is_value_run(run) {
                if !after_value {
                    // a sign not glued to a word belongs to the number
                    if start > 0 && b[start - 1] == b'-' && (start == 1 || !b[start - 2].is_ascii_alphanumeric()) && o.last() == Some(&b'-') {
                        o.pop();
                    }
                    if !ends_with_wildcard(&o) {
                        o.extend_from_slice(WILDCARD.as_bytes());
                    }
                }
                m.wildcard = true;
                after_value = true;
            } else {
                // not all digits: it has a letter
                o.extend_from_slice(run.as_bytes());
                m.letter = true;
                after_value = false;
            }
            continue;
        }
        // a dot between two values is part of one value (addresses, versions, decimals)
        if c == b'.' && after_value && i + 1 < b.len() && b[i + 1].is_ascii_alphanumeric() {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_alphanumeric() {
                j += 1;
            }
            if is_value_run(&tok[i + 1..j]) {
                i = j;
                continue;
            }
        }
        if c < 0x80 {
            match c {
                // a wildcard already there (a `key=value` pair's value) stays one
                b'<' if b[i..].starts_with(WILDCARD.as_bytes()) => {
                    if !ends_with_wildcard(&o) {
                        o.extend_from_slice(WILDCARD.as_bytes());
                    }
                    m.wildcard = true;
                    after_value = true;
                    i += WILDCARD.len();
                    continue;
                }
                b'/' | b'\\' => m.slashes += 1,
                b'.' if o.last().is_some_and(|&p| p.is_ascii_alphanumeric() || p == b'>')
                    && b.get(i + 1).is_some_and(|&n| n.is_ascii_alphanumeric() || n == b'<') =>
                {
                    m.dots += 1
                }
                b'@' if i > 0 && i + 1 < b.len() => m.at = true,
                0..=0x1f | 0x7f => m.control = true,
                _ => {}
            }
            o.push(c);
            i += 1;
        } else {
            let ch = tok[i..].chars().next().unwrap_or(' ');
            m.control |= ch.is_control() || ch == '\u{fffd}';
            o.extend_from_slice(&b[i..i + ch.len_utf8()]);
            i += ch.len_utf8();
        }
        after_value = false;
    }
    *out = String::from_utf8(o).expect("whole characters copied");
    m
}

#[inline]
fn ends_with_wildcard(b: &[u8]) -> bool {
    b.len() >= 3 && b[b.len() - 3] == b'<' && b[b.len() - 2] == b'*' && b[b.len() - 1] == b'>'
}

/// What masking a token found (see [`shape_into`]).
#[derive(Default)]
struct Masked {
    /// A value was masked.
    wildcard: bool,
    /// A word was kept.
    letter: bool,
    slashes: u32,
    /// Dots inside words (a wildcard counting as a word: `news.<*>.com`).
    dots: u32,
    /// An `@` inside.
    at: bool,
    /// A control character or U+FFFD.
    control: bool,
}

/// Whether a run of ASCII letters and digits is a value: a number, `0x` hex, or a hex string of
/// eight or more characters holding a digit.
fn is_value_run(run: &str) -> bool {
    let b = run.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if b.len() > 2 && (run.starts_with("0x") || run.starts_with("0X")) && b[2..].iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit)
}

/// Whether a masked token is all value: nothing but wildcards and punctuation (an address, a
/// number, `[<*>]`), so it renders masked even when every line had the same value there.
pub(crate) fn is_pure_value(masked: &str) -> bool {
    // the wildcard has no letter: no need to take it out first
    masked.contains(WILDCARD) && !masked.bytes().any(|c| c.is_ascii_alphabetic())
}

/// The two renderings of one template position merged: their common start and end kept where
/// they end (start with) punctuation, a wildcard between (`blk_<*>` and `blk_7` -> `blk_<*>`,
/// `rhost=` and `rhost=<*>` -> `rhost=<*>`, `root` and `admin` -> `<*>`).
pub(crate) fn merge(a: &str, b: &str) -> String {
    if a == b {
        return a.to_string();
    }
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let max = ab.len().min(bb.len());
    let mut p = 0;
    while p < max && ab[p] == bb[p] {
        p += 1;
    }
    // cut back to just after punctuation that is not part of a wildcard
    while p > 0 && !(is_cut(ab[p - 1]) && a.is_char_boundary(p) && b.is_char_boundary(p)) {
        p -= 1;
    }
    let mut s = 0;
    while s < max - p && ab[ab.len() - 1 - s] == bb[bb.len() - 1 - s] {
        s += 1;
    }
    while s > 0 && !(is_cut(ab[ab.len() - s]) && a.is_char_boundary(ab.len() - s) && b.is_char_boundary(bb.len() - s)) {
        s -= 1;
    }
    let mut out = String::with_capacity(p + s + 3);
    out.push_str(&a[..p]);
    out.push_str(WILDCARD);
    out.push_str(&a[a.len() - s..]);
    while out.contains("<*><*>") {
        out = out.replace("<*><*>", WILDCARD);
    }
    out
}

fn is_cut(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && !matches!(c, b'<' | b'*' | b'>' | b'.') && c < 0x80
}

/// Whether a rendering `r` (`blk_<*>`, `<*>:<*>`, a literal) already stands for `tok`: a
/// literal equal to it, or its literal parts found in the token in order (a glob match).
#[inline]
pub(crate) fn covers(r: &str, tok: &str) -> bool {
    // most renderings of values are a bare wildcard: no call for them
    let rb = r.as_bytes();
    (rb.len() == 3 && rb[0] == b'<' && rb[1] == b'*' && rb[2] == b'>') || covers_glob(r, tok)
}

fn covers_glob(r: &str, tok: &str) -> bool {
    if r == tok {
        return true;
    }
    // by hand rather than `split` / `find`: renderings and tokens are short, and the standard
    // searchers' set-up cost more than the search (this runs for every value of every line)
    let (r, tok) = (r.as_bytes(), tok.as_bytes());
    let w = WILDCARD.as_bytes();
    let Some(i) = find(r, w) else { return false };
    let (first, mut parts) = (&r[..i], &r[i + w.len()..]);
    let Some(mut rest) = tok.strip_prefix(first) else { return false };
    loop {
        match find(parts, w) {
            None => return rest.len() >= parts.len() && rest.ends_with(parts),
            Some(j) => {
                let part = &parts[..j];
                parts = &parts[j + w.len()..];
                match find(rest, part) {
                    Some(k) => rest = &rest[k + part.len()..],
                    None => return false,
                }
            }
        }
    }
}

/// Where `needle` first occurs in `hay` (0 for an empty needle).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, tail)) = needle.split_first() else { return Some(0) };
    let last = hay.len().checked_sub(needle.len())?;
    (0..=last).find(|&i| hay[i] == first && hay[i + 1..i + needle.len()].iter().zip(tail).all(|(a, b)| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_the_whitespace_tokens() {
        let long = format!("{}ab.c{}  z\t", " ".repeat(62), "x".repeat(70));
        for line in ["", "   ", "a", " a b  c ", "x=1 10.0.0.1 word\tend", &long, &"ab ".repeat(50), &"7".repeat(128)] {
            let mut pieces = Vec::new();
            assert!(split(line, 1000, &mut pieces));
            let want: Vec<(u32, u32, bool)> = line
                .split(|c: char| c.is_ascii() && is_space(c as u8))
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let start = t.as_ptr() as usize - line.as_ptr() as usize;
                    (start as u32, (start + t.len()) as u32, t.bytes().any(crate::classes::is_notable))
                })
                .collect();
            assert_eq!(pieces, want, "{line:?}");
        }
        let mut pieces = Vec::new();
        assert!(!split("a b c", 3, &mut pieces));
        assert!(split("a b c", 4, &mut pieces));
    }

    #[test]
    fn a_word_read_in_place_has_the_key_of_the_word() {
        let line = b"a bc defghij klmnopqrstu v";
        for start in 0..line.len() {
            for end in start..=line.len() {
                assert_eq!(key_at(line, start, end), key_of(&line[start..end]), "{start}..{end}");
            }
        }
        assert_eq!(key_at(b"ab", 0, 2), key_of(b"ab"));
    }

    fn toks(line: &str, max: usize) -> Vec<(String, String, bool)> {
        let mut v = Vec::new();
        tokenize(line, max, &mut v);
        v.iter().map(|s| (s.sep(line).to_string(), s.text(line).to_string(), s.var())).collect()
    }

    #[test]
    fn tokens_keep_their_spacing_and_variables_are_recognised() {
        let t = toks("Failed password for root from 10.0.0.1  port 22", 64);
        let words: Vec<_> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(words, ["Failed", "password", "for", "root", "from", "10.0.0.1", "port", "22"]);
        assert_eq!(t[6].0, "  ");
        let vars: Vec<_> = t.iter().filter(|x| x.2).map(|x| x.1.as_str()).collect();
        assert_eq!(vars, ["10.0.0.1", "22"]);
        assert!(is_variable("/var/log/messages"));
        assert!(!is_variable("SOCKS5") && !is_variable("ssh2") && is_variable("uid=0") && is_variable("blk_-12"));
        assert!(is_variable("ns.example.com"));
        assert!(!is_variable("connection."));
        assert!(is_variable(&"a".repeat(100_000)));
        assert!(is_variable("x\u{fffd}y"));
        assert!(is_variable("Jun") && is_variable("Fri,") && !is_variable("Junk"));
        // a dotted name ending in a constant's name is a kind (issue 12, HealthApp)
        assert!(!is_variable("action:android.intent.action.SCREEN_ON") && !is_variable("a.State.RUNNING"));
        assert!(is_variable("android.intent.action.main") && is_variable("com.example.A"));
    }

    #[test]
    fn the_one_pass_tokenizer_classifies_as_the_full_test_does() {
        // tokens without a digit, `/`, `\\`, `.`, `@`, control or non-ASCII byte skip the full test
        let line = "Jun Junk 42 ssh2 SOCKS5 a/b/c a/b x.y.z a.b user@host @x x@ \u{1}y naïve x\u{fffd}y Fri, \\\\srv\\share blk_-12 0x1f";
        let mut spans = Vec::new();
        tokenize(line, 64, &mut spans);
        assert_eq!(spans.len(), line.split_whitespace().count());
        for s in &spans {
            let t = s.text(line);
            assert_eq!(s.var(), is_variable(t), "{t:?}");
            let key = match shape(t) {
                Some(sh) if s.var() => key_of(sh.as_bytes()),
                _ if s.var() => VALUE_KEY,
                _ => key_of(t.as_bytes()),
            };
            assert_eq!(s.key, key, "{t:?}");
        }
    }

    #[test]
    fn tokens_across_64_byte_blocks_are_the_whitespace_split() {
        // words of every length from 1 to 90 bytes, some with digits or non-ASCII, separated by
        // runs of 1 to 3 kinds of whitespace, so token ends fall everywhere in and across blocks
        let pieces = ["ab", "x9", "naïve", "a/b/c", "Jun", "Q"];
        let mut line = String::new();
        for n in 1..=90usize {
            let p = pieces[n % pieces.len()];
            let word: String = p.chars().cycle().take(n).collect();
            line.push_str(&word);
            line.push_str(["\t", "  ", " \r "][n % 3]);
        }
        let mut spans = Vec::new();
        tokenize(&line, 1000, &mut spans);
        let texts: Vec<&str> = spans.iter().map(|s| s.text(&line)).collect();
        assert_eq!(texts, line.split_ascii_whitespace().collect::<Vec<_>>());
        for s in &spans {
            assert_eq!(s.var(), is_variable(s.text(&line)), "{:?}", s.text(&line));
        }
    }

    #[test]
    fn word_keys_tell_words_apart() {
        let k = |w: &str| key_of(w.as_bytes());
        assert_eq!(k("user"), k("user"));
        assert_ne!(k("user"), k("users"));
        assert_ne!(k("a"), k("a\0"));
        assert_eq!(k("PacketResponder"), k("PacketResponder"));
        assert_ne!(k("PacketResponder"), k("PacketResponded"));
        for w in ["a", "abcdefg", "abcdefgh", "PacketResponder"] {
            assert!(k(w) != VALUE_KEY && k(w) != ANY_KEY);
        }
        // a short word's key is the word: equal keys need no compare; a long one's does
        assert!(same_word(k("abc"), "abc", "abc"));
        assert!(!same_word(k("abcdefgh"), "abcdefgh", "abcdefgx"));
    }

    #[test]
    fn units_join_their_numbers_and_measurements_in_parentheses_are_asides() {
        let words = |l: &str| toks(l, 64).into_iter().map(|t| t.1).collect::<Vec<_>>();
        assert_eq!(words("took 5 ms total"), ["took", "5 ms", "total"]);
        assert_eq!(words("lifetime <1 sec"), ["lifetime", "<1 sec"]);
        assert_eq!(words("100 bytes (1.2 KB) sent"), ["100", "bytes", "sent"]);
        assert_eq!(words("seconds 5 and (12)"), ["seconds", "5", "and", "(12)"]);
    }

    #[test]
    fn the_rest_of_a_long_line_is_one_value() {
        let line = (0..100).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let t = toks(&line, 8);
        assert_eq!(t.len(), 8);
        assert!(t[7].1.starts_with("w7 w8") && t[7].1.ends_with("w99"));
        assert!(t[7].2);
        assert!(toks("", 8).is_empty());
        assert!(toks("   ", 8).is_empty());
    }

    #[test]
    fn masking_keeps_punctuation_and_words() {
        assert_eq!(mask("blk_-1234567"), "blk_<*>");
        assert_eq!(mask("10.250.19.102:54106"), "<*>:<*>");
        assert_eq!(mask("/10.250.19.102:54106"), "/<*>:<*>");
        assert_eq!(mask("(HWID=1973)"), "(HWID=<*>)");
        assert_eq!(mask("[173.234.31.186]"), "[<*>]");
        assert_eq!(mask("0x1f2e"), "<*>");
        assert_eq!(mask("ssh2"), "ssh2");
        assert_eq!(mask("node-246"), "node-<*>");
        assert_eq!(mask("-42"), "<*>");
        assert_eq!(mask("deadbeef12345678"), "<*>");
        assert_eq!(mask("naïve"), "naïve");
        assert!(is_pure_value("<*>:<*>"));
        let mut sc = Scratch::default();
        for t in ["5", "<1", "(1.2", "10.0.0.1:80", "0x1f", "3ms", "uid=0", "(x", "naïve1", "\u{1}", "<*>", "a.5"] {
            assert_eq!(all_value(t, &mut sc), is_pure_value(&mask(t)), "{t:?}");
        }
        assert!(!is_pure_value("uid=<*>"));
    }

    #[test]
    fn values_among_words_have_shapes() {
        assert_eq!(shape("uid=0").as_deref(), Some("uid=<*>"));
        assert_eq!(shape("(uid=0)").as_deref(), Some("(uid=<*>)"));
        assert_eq!(shape("index:3,").as_deref(), Some("index:<*>,"));
        assert_eq!(shape("getTopPadding():0").as_deref(), Some("getTopPadding():<*>"));
        // an indexed or called name (issue 12, Mac)
        assert_eq!(shape("FA||Url||taskID[47]").as_deref(), Some("FA||Url||taskID[<*>]"));
        assert_eq!(shape("IOHibernatePollerOpen(0)").as_deref(), Some("IOHibernatePollerOpen(<*>)"));
        // in a token with a number, every `key=value` pair's value is masked
        assert_eq!(shape("ready=true,policy=3,name=\"a b\",x=").as_deref(), Some("ready=<*>,policy=<*>,name=\"<*>\",x="));
        assert_eq!(shape("info={a=1,b=ok}").as_deref(), Some("info={a=<*>,b=<*>}"));
        // all value, nothing masked, or words that are themselves a value: no shape
        // an identifier with numbers has no key: a value as a whole (`blk_-38`, `rdd_2_3`)
        for v in ["42", "10.0.0.1:80", "[1.2.3.4]", "0x1f", "3ms", "a/b/c", "proxy.example.com:5070", "news.163.com:80", "/v2/abc/servers/0", "x@1", "blk_-38", "rdd_2_3", "12:00:01"] {
            assert_eq!(shape(v), None, "{v}");
        }
        assert!(shape("trello.com:443").is_some(), "one dot: a word and a value, like `index:3`");
        // the one-pair shortcut gives what the general masking gives
        for t in ["uid=0", "(uid=0)", "root(uid=1000)", "LOGIN(uid=0)", "a-b[(k=5)]", "rhost=10.0.0.1,", "(HWID=1973)", "a=1);", "[k=v5]", "x.y=0x1f", "k=1,", "e-mail=12", "exe=\"/usr/sbin/sshd\"", "tag=\"View Lock 2\",", "k='v1'"] {
            let (mut fast, mut slow, mut pairs) = (String::new(), String::new(), String::new());
            assert!(one_pair(t, &mut fast), "{t}");
            mask_pairs(t, &mut pairs);
            let m = mask_into(&pairs, &mut slow);
            assert!(m.wildcard && m.letter, "{t}");
            assert_eq!(fast, slow, "{t}");
        }
        for t in ["a=1,b=2", "k=\"v\"x", "k=\"\"", "k=\"v", "2x=1", "k=", "k=1)x", "k=(1)"] {
            assert!(!one_pair(t, &mut String::new()), "{t}");
        }
        let mut spans = Vec::new();
        tokenize("set uid=0 euid=7 from 10.0.0.1", 64, &mut spans);
        let shaped: Vec<bool> = spans.iter().map(Span::shaped).collect();
        assert_eq!(shaped, [false, true, true, false, false]);
        assert_ne!(spans[1].key, spans[2].key);
        let mut other = Vec::new();
        tokenize("set uid=12 euid=0 from 10.0.0.9", 64, &mut other);
        assert!(spans.iter().zip(&other).all(|(a, b)| a.key == b.key));
    }

    #[test]
    fn merging_keeps_common_punctuated_ends() {
        assert_eq!(merge("blk_<*>", "blk_<*>"), "blk_<*>");
        assert_eq!(merge("root", "admin"), "<*>");
        assert_eq!(merge("rhost=", "rhost=<*>"), "rhost=<*>");
        assert_eq!(merge("proxy.a.com:<*>", "www.b.org:<*>"), "<*>:<*>");
        assert_eq!(merge("ssh2", "ssh3"), "<*>");
        assert_eq!(merge("<*>ms", "<*>s"), "<*>");
        assert_eq!(merge("é:1", "è:1"), "<*>:1");
        assert!(covers("blk_<*>", "blk_-9"));
        assert!(covers("<*>", "anything"));
        assert!(!covers("blk_<*>", "xblk"));
        assert!(!covers("a<*>a", "a"));
        assert!(covers("<*>:<*>", "10.0.0.1:80") && !covers("<*>:<*>", "host"));
        assert!(covers("(<*>) at <*>", "(x) at 5") && !covers("(<*>) at <*>", "(x) on 5"));
    }
}
