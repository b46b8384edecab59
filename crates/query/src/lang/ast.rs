//! The parsed form of a query string.

use std::ops::Bound;

/// A query expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Matches every event (`*` or an empty query).
    All,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Clause(Clause),
}

/// One `field:value` test (or a bare value on `message`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    /// None: the default field (`message`).
    pub field: Option<String>,
    pub value: Value,
    /// Character offset of the clause, for errors.
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Word(Word),
    /// Text between double quotes, escapes resolved.
    Phrase(String),
    /// Bounds as typed; `*` becomes Unbounded.
    Range {
        lower: Bound<String>,
        upper: Bound<String>,
    },
}

/// A word as typed, keeping track of which `*` / `?` are wildcards (not escaped).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Word {
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Piece {
    Char(char),
    /// `*`: any run of characters.
    Any,
    /// `?`: exactly one character.
    One,
}

impl Word {
    /// The text with wildcards written back as `*` / `?`.
    pub fn text(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Char(c) => *c,
                Piece::Any => '*',
                Piece::One => '?',
            })
            .collect()
    }

    pub fn is_wildcard(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Char(_)))
    }

    /// Just `*`: "anything" / "field exists".
    pub fn is_star(&self) -> bool {
        self.pieces == [Piece::Any]
    }

    /// A regex matching the whole word; `map` transforms literal characters (e.g. lowercase).
    pub fn to_regex(&self, map: impl Fn(char) -> char) -> String {
        let mut re = String::new();
        let mut after_any = false;
        for p in &self.pieces {
            match p {
                Piece::Char(c) => push_escaped(&mut re, map(*c)),
                // `**` matches what `*` does: one `.*` (each one more makes the automaton larger)
                Piece::Any if after_any => {}
                Piece::Any => re.push_str(".*"),
                Piece::One => re.push('.'),
            }
            after_any = matches!(p, Piece::Any);
        }
        re
    }

    /// The length after the word's first `*` or `?`: the UTF-8 bytes of its characters and one
    /// per wildcard (a run of `*` counted once). The automaton (over bytes) must follow every
    /// place the tail may start, so its size, and the time to build it, grow with that length.
    /// 0 without a wildcard.
    pub fn wildcard_tail(&self) -> usize {
        let Some(first) = self.pieces.iter().position(|p| !matches!(p, Piece::Char(_))) else {
            return 0;
        };
        let mut n = 0;
        let mut prev = self.pieces[first];
        for p in &self.pieces[first + 1..] {
            n += match p {
                Piece::Any if prev == Piece::Any => 0,
                Piece::Char(c) => c.len_utf8(),
                _ => 1,
            };
            prev = *p;
        }
        n
    }

    /// The `*` and `?` of the word, a run of `*` counted once: what makes its automaton large.
    pub fn wildcard_pieces(&self) -> usize {
        let mut n = 0;
        let mut after_any = false;
        for p in &self.pieces {
            n += match p {
                Piece::Any if after_any => 0,
                Piece::Any | Piece::One => 1,
                Piece::Char(_) => 0,
            };
            after_any = matches!(p, Piece::Any);
        }
        n
    }
}

/// Appends `c` to a regex so that it matches itself only.
pub(crate) fn push_escaped(re: &mut String, c: char) {
    if c.is_control() {
        re.push_str(&format!("\\x{{{:x}}}", c as u32));
    } else {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            re.push('\\');
        }
        re.push(c);
    }
}
