//! logfmt: `ts=2024-05-01T10:00:00Z level=info msg="user logged in" user=bob dur=3ms`.
//!
//! Detected when the first token is `key=value` and every token is a pair or a bare key, with
//! at least two pairs. Keys map like JSON keys (see [`super::keys`]); a bare key is the label
//! value `true`; quoted values unescape `\"`, `\\`, `\n`, `\t`, `\r`. Without `msg`/`message`
//! the whole line is the message.

use std::borrow::Cow;

use loglynx_core::Event;

use super::keys::{Collected, Val};
use super::scan::Cursor;

/// `false` (event untouched) when the line is not logfmt.
pub(crate) fn parse(line: &str, ev: &mut Event) -> bool {
    let Some(pairs) = split_pairs(line) else {
        return false;
    };
    let mut c = Collected::default();
    for (k, v) in &pairs {
        match v {
            Some(v) => c.set(k, Val::Text(v), ev),
            None => c.set(k, Val::Text("true"), ev),
        }
    }
    c.finish(ev, line);
    ev.dataset = Some("logfmt".to_string());
    true
}

type Pair<'a> = (&'a str, Option<Cow<'a, str>>);

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@' | b'/')
}

/// The pairs, or `None` when the line is not logfmt.
fn split_pairs(line: &str) -> Option<Vec<Pair<'_>>> {
    let b = line.as_bytes();
    if !b
        .first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'@')
    {
        return None;
    }
    let mut cur = Cursor::new(line);
    let mut pairs = Vec::new();
    let mut with_value = 0usize;
    loop {
        cur.skip_spaces();
        if cur.is_empty() {
            break;
        }
        let start = cur.pos();
        while cur.peek().is_some_and(is_key_byte) {
            cur.advance(1);
        }
        let key = cur.slice(start, cur.pos());
        if key.is_empty() {
            return None;
        }
        if cur.eat(b'=') {
            let value = if cur.eat(b'"') {
                read_quoted(&mut cur)?
            } else {
                Cow::Borrowed(cur.token())
            };
            with_value += 1;
            pairs.push((key, Some(value)));
        } else if matches!(cur.peek(), None | Some(b' ')) && with_value > 0 {
            pairs.push((key, None));
        } else {
            return None;
        }
        if !matches!(cur.peek(), None | Some(b' ')) {
            return None;
        }
    }
    (with_value >= 2).then_some(pairs)
}

/// A quoted value after the opening quote, up to the closing one.
fn read_quoted<'a>(cur: &mut Cursor<'a>) -> Option<Cow<'a, str>> {
    let b = cur.bytes();
    let start = cur.pos();
    let rel_end = memchr::memchr2(b'"', b'\\', &b[start..])?;
    if b[start + rel_end] == b'"' {
        cur.advance(rel_end + 1);
        return Some(Cow::Borrowed(cur.slice(start, start + rel_end)));
    }
    // Escapes present: unescape into an owned string.
    let mut out = String::with_capacity(rel_end + 16);
    let mut i = start;
    let mut seg = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                out.push_str(cur.slice(seg, i));
                cur.advance(i + 1 - start);
                return Some(Cow::Owned(out));
            }
            b'\\' if i + 1 < b.len() => {
                out.push_str(cur.slice(seg, i));
                let unescaped = match b[i + 1] {
                    b'n' => Some('\n'),
                    b't' => Some('\t'),
                    b'r' => Some('\r'),
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    _ => None,
                };
                match unescaped {
                    Some(ch) => {
                        out.push(ch);
                        i += 2;
                    }
                    None => {
                        // Unknown escape: keep the backslash; the next char starts a segment.
                        out.push('\\');
                        i += 1;
                    }
                }
                seg = i;
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_quotes() {
        let p = split_pairs(r#"ts=1 level=info msg="a \"b\" c\n" empty= flag"#).unwrap();
        let got: Vec<(&str, Option<&str>)> = p.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("ts", Some("1")),
                ("level", Some("info")),
                ("msg", Some("a \"b\" c\n")),
                ("empty", Some("")),
                ("flag", None)
            ]
        );
    }

    #[test]
    fn plain_text_is_not_logfmt() {
        assert!(split_pairs("hello world").is_none());
        assert!(split_pairs("a=1 only one pair then words").is_none());
        assert!(split_pairs("a=1").is_none());
        assert!(split_pairs(r#"a=1 b="unterminated"#).is_none());
        assert!(split_pairs("=1 b=2").is_none());
    }

    #[test]
    fn backslash_before_multibyte_char_does_not_panic() {
        let p = split_pairs("a=1 b=\"x\\é\"").unwrap();
        assert_eq!(p[1].1.as_deref(), Some("x\\é"));
    }
}
