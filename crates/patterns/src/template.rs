//! A template: its positions, how a line is scored against it, how it learns from a line, and
//! its id.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::classes::is_space;
use crate::token::{
    covers, has_shape, is_all_value, is_pure_value, is_unit, key_at, key_of, mask, merge, same_field, same_token, shape, token_class, Piece, Span, ANY_KEY,
    MAX_WORD_LEN, VALUE_KEY,
};

/// A template id: a hash of the template's text, so miners that never talked to each other
/// (shards, restarts) give the same template the same id.
pub type TemplateId = u64;

/// The id of a template text (xxh3, 64 bits; the algorithm is fixed: ids are stored in events).
pub fn template_id(text: &str) -> TemplateId {
    xxh3_64(text.as_bytes())
}

/// The id as stored in events (`pattern.id`): 16 lowercase hex digits.
pub fn format_id(id: TemplateId) -> String {
    format!("{id:016x}")
}

/// The id back from its text form, `None` when it is not 16 hex digits.
pub fn parse_id(s: &str) -> Option<TemplateId> {
    (s.len() == 16).then(|| u64::from_str_radix(s, 16).ok()).flatten()
}

/// What one position of a template holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum Slot {
    /// A word every line had here, or the shape every line's value had here (`uid=<*>`, see
    /// [`crate::token::shape_into`]; state version 2).
    Word(Box<str>),
    /// Variable-like tokens (numbers, addresses, ...) every line had here.
    Value,
    /// Lines had different words here: anything matches, nothing scores.
    Any,
}

/// One position: what it holds, the raw token while every line had the same one, and how it
/// renders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Position {
    pub slot: Slot,
    /// The whitespace before the token (of the first line).
    pub sep: Box<str>,
    /// The token while all lines had the same one here.
    pub same: Option<Box<str>>,
    /// The rendering: a literal, or masked values (`blk_<*>`, `<*>`).
    pub render: Box<str>,
}

/// A mined template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Template {
    pub positions: Vec<Position>,
    /// Where in its service's buckets it lives (from its first line).
    pub bucket: u64,
    pub id: TemplateId,
    pub text: String,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The first line, cut to [`EXAMPLE_MAX`] bytes.
    pub example: String,
    /// Ids this template had before it was refined (the newest last, at most [`MAX_FORMER`]).
    pub former: Vec<TemplateId>,
    /// Per position, the key a line's token must have to count as the same (see
    /// [`crate::token::key_of`]): the word's, [`VALUE_KEY`] or [`ANY_KEY`]. Derived from the
    /// slots (not persisted; [`Template::sync_keys`] after loading).
    #[serde(skip)]
    pub keys: Vec<u64>,
    /// Per position, whether it holds a literal word (a [`Slot::Word`] that is the token
    /// every line had, not a shape): derived with the keys.
    #[serde(skip)]
    literal: Vec<bool>,
}

fn literal_of(p: &Position) -> bool {
    matches!(&p.slot, Slot::Word(w) if p.same.as_deref() == Some(&**w))
}

/// Most bytes of a template's example line kept.
pub(crate) const EXAMPLE_MAX: usize = 512;
/// Most former ids a template remembers. A template merged from many variants takes all their
/// former ids: at 64 a proxy's access lines (servers, methods, paths as words) lost ids that
/// stored events carry (`tests/ids.rs`); 1024 (8 KiB) keeps them and still bounds a template.
pub(crate) const MAX_FORMER: usize = 1024;

fn render_first(tok: &str, var: bool) -> Box<str> {
    if !var {
        return tok.into();
    }
    let m = mask(tok);
    if tok.len() > MAX_WORD_LEN || is_pure_value(&m) {
        m.into()
    } else {
        tok.into()
    }
}

impl Template {
    pub fn new(line: &str, spans: &[Span], bucket: u64, now: i64) -> Template {
        let positions = spans
            .iter()
            .map(|s| {
                let tok = s.text(line);
                let long = tok.len() > MAX_WORD_LEN;
                let sep = s.sep(line).into();
                if s.shaped() {
                    // a keyed value: its shape is what lines must share here; it renders
                    // as the token while every line has the same one (a long one as its shape)
                    let shape: Box<str> = shape(tok).expect("a shaped token has a shape").into();
                    let (same, render) = if long { (None, shape.clone()) } else { (Some(tok.into()), tok.into()) };
                    return Position { slot: Slot::Word(shape), sep, same, render };
                }
                Position {
                    slot: if s.var() { Slot::Value } else { Slot::Word(tok.into()) },
                    sep,
                    same: (!long).then(|| tok.into()),
                    render: render_first(tok, s.var()),
                }
            })
            .collect();
        let mut cut = line.len().min(EXAMPLE_MAX);
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut t = Template {
            positions,
            bucket,
            id: 0,
            text: String::new(),
            count: 1,
            first_seen: now,
            last_seen: now,
            example: line[..cut].to_string(),
            former: Vec::new(),
            keys: spans.iter().map(|s| s.key).collect(),
            literal: Vec::new(),
        };
        t.literal = t.positions.iter().map(literal_of).collect();
        t.rename();
        t
    }

    /// Recomputes the text and id from the positions; the old id becomes a former one.
    fn rename(&mut self) {
        let mut text = String::new();
        for (i, p) in self.positions.iter().enumerate() {
            if i > 0 {
                text.push_str(if p.sep.is_empty() { " " } else { &p.sep });
            }
            text.push_str(&p.render);
        }
        let id = template_id(&text);
        if self.id != 0 && self.id != id {
            if self.former.len() == MAX_FORMER {
                self.former.remove(0);
            }
            self.former.push(self.id);
        }
        self.id = id;
        self.text = text;
    }

    /// Derives [`Template::keys`] from the slots.
    pub fn sync_keys(&mut self) {
        self.keys = self.positions.iter().map(|p| slot_key(&p.slot)).collect();
        self.literal = self.positions.iter().map(literal_of).collect();
    }

    /// How well the line fits, as (positions that fit, positions that are `Any`): words equal
    /// (by key: a long word's hash may rarely say equal when it is not; only the choice among
    /// templates rests on it, never what a template learns) and values facing values. `None`
    /// when lengths differ.
    #[inline]
    pub fn score(&self, spans: &[Span]) -> Option<(usize, usize)> {
        if spans.len() != self.keys.len() {
            return None;
        }
        let mut same = 0usize;
        let mut any = 0usize;
        for (&k, s) in self.keys.iter().zip(spans) {
            same += (k == s.key) as usize;
            any += (k == ANY_KEY) as usize;
        }
        Some((same, any))
    }

    /// Whether `line` fits this template exactly as it stands, read straight from its bytes
    /// (no tokens made): as many tokens as positions, the same word where the template has a
    /// word (a literal byte for byte, a shape by the token's shape), a value where it has
    /// values, and nothing the template would learn from (every value already covered by its
    /// rendering, no keyed value other than the one it renders). Then [`Template::score`] would
    /// give all positions but the `Any` ones, and [`Template::absorb`] would change nothing but
    /// the counts. A unit after a value is read with it, as the tokenizer reads it. False
    /// whenever the tokenizer might read the line otherwise (a measurement in parentheses is
    /// left out; a line of `max_tokens` or more tokens is cut): the caller then takes the full
    /// path. Whether the miner would choose this template is the caller's part. `toks`:
    /// the line's whitespace-separated pieces ([`split`]).
    pub fn fits_unchanged(&self, line: &str, toks: &[Piece]) -> bool {
        let bytes = line.as_bytes();
        let n = self.positions.len();
        if toks.len() < n || self.keys.len() != n || self.literal.len() != n {
            return false;
        }
        // the next piece of the line
        let mut j = 0;
        for (at, ((p, &k), &literal)) in self.positions.iter().zip(&self.keys).zip(&self.literal).enumerate() {
            let Some(&(start, end, notable)) = toks.get(j) else { return false };
            j += 1;
            let (start, end) = (start as usize, end as usize);
            // `start` follows ASCII whitespace (or is 0), `end` is whitespace or the end
            let piece = &line[start..end];
            if let (true, Slot::Word(w)) = (literal, &p.slot) {
                // a literal word (the slot's word is the token every line had): equal bytes,
                // so the same key, and the same class as when the template was made (a literal
                // stays one: a position that is no longer the same word becomes `Any`); a
                // word is not a value, so no unit joins it
                if piece.len() != w.len() || (if piece.len() <= 7 { key_at(bytes, start, end) != k } else { piece != &**w }) {
                    return false;
                }
                continue;
            }
            // whether the piece is a value (`None`: not worked out yet)
            let mut var = None;
            match &p.slot {
                // a shape (`uid=<*>`): the token's shape, and the token itself while the
                // template renders the one every line had
                Slot::Word(w) => {
                    if piece == &**w && at > 0 {
                        // the shape's text as a word: its key is the shape's (not first: a
                        // word would bucket the line by itself), and it is no value
                        continue;
                    }
                    let (v, may_shape) = token_class(piece, notable);
                    if !(v && may_shape && has_shape(piece, w)) {
                        return false;
                    }
                    var = Some(true);
                }
                Slot::Value | Slot::Any => {
                    // the first piece of the token every line had here so far: its class is
                    // the first line's, a value's (a template holds values where its first line
                    // had one)
                    let first_piece = |v: &str| {
                        v.as_bytes().starts_with(piece.as_bytes()) && v.as_bytes().get(piece.len()).is_none_or(|&c| is_space(c))
                    };
                    if matches!(p.slot, Slot::Value) && p.same.as_deref().is_some_and(first_piece) {
                        var = Some(true);
                    } else if matches!(p.slot, Slot::Value) || at == 0 {
                        // a value, not a keyed one (that is compared by its shape); a first
                        // `Any` holds values or words with digits (the lines' bucket)
                        let (v, may_shape) = token_class(piece, notable);
                        let fits = if matches!(p.slot, Slot::Value) {
                            v && !may_shape
                        } else {
                            v || piece.bytes().any(|b| b.is_ascii_digit())
                        };
                        if !fits {
                            return false;
                        }
                        var = Some(v);
                    }
                }
            }
            // a unit after a value joins it (`5 ms`), as the tokenizer joins them; a
            // measurement in parentheses (`(1.2 KB)`), which it leaves out, goes the full way
            let mut tok = piece;
            if let Some(&(us, ue, _)) = toks.get(j) {
                let unit = &line[us as usize..ue as usize];
                if is_unit(unit) && var.unwrap_or_else(|| token_class(piece, notable).0) && is_all_value(piece) {
                    if piece.starts_with('(') && unit.ends_with(')') {
                        return false;
                    }
                    tok = &line[start..ue as usize];
                    j += 1;
                    // (a second unit would join the first when it is all value too)
                    if let Some(&(vs, ve, _)) = toks.get(j) {
                        if is_unit(&line[vs as usize..ve as usize]) && is_all_value(tok) {
                            return false;
                        }
                    }
                }
            }
            let learns = match (&p.same, &p.slot) {
                (Some(v), _) => **v != *tok,
                // (a shape learns nothing more once its tokens differed: it renders as itself)
                (None, Slot::Word(_)) => false,
                (None, _) => !covers(&p.render, tok),
            };
            if learns {
                return false;
            }
        }
        j == toks.len()
    }

    /// The positions where the template has a word and the line another word.
    pub fn word_mismatches(&self, line: &str, spans: &[Span], out: &mut Vec<usize>) {
        out.clear();
        for (i, ((&k, p), s)) in self.keys.iter().zip(&self.positions).zip(spans).enumerate() {
            if k == VALUE_KEY || k == ANY_KEY || s.key == VALUE_KEY {
                continue;
            }
            let Slot::Word(w) = &p.slot else { continue };
            if (k != s.key || !same_token(k, w, s, line)) && !same_field(w, s, line) {
                out.push(i);
            }
        }
    }

    /// Whether the line has another word where the template has one (the places in `at`).
    pub fn has_word_mismatch(&self, line: &str, spans: &[Span], at: &mut Vec<usize>) -> bool {
        self.word_mismatches(line, spans, at);
        !at.is_empty()
    }

    /// Whether `other` is this template but for (some of) the words at `at`: the same length,
    /// the same slots elsewhere, and words at `at`.
    pub fn sibling_of(&self, other: &Template, at: &[usize]) -> bool {
        self.positions.len() == other.positions.len()
            && self.positions.iter().zip(&other.positions).enumerate().all(|(i, (a, b))| {
                if at.contains(&i) {
                    matches!(b.slot, Slot::Word(_))
                } else {
                    a.slot == b.slot
                }
            })
    }

    /// Takes a sibling in: its lines, times and ids; the positions `at` become variables.
    pub fn swallow(&mut self, other: Template, at: &[usize]) {
        self.count += other.count;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        for f in other.former.into_iter().chain([other.id]) {
            if self.former.len() == MAX_FORMER {
                self.former.remove(0);
            }
            self.former.push(f);
        }
        for &i in at {
            let (p, o) = (&mut self.positions[i], &other.positions[i]);
            p.slot = Slot::Any;
            self.keys[i] = ANY_KEY;
            self.literal[i] = false;
            let mine = p.same.take().map(|v| mask(&v)).unwrap_or_else(|| p.render.to_string());
            let theirs = o.same.as_deref().map(mask).unwrap_or_else(|| o.render.to_string());
            p.render = merge(&mine, &theirs).into();
        }
        self.rename();
    }

    /// Learns from a line that joined the template. `words_checked`: the caller found the
    /// line's word equal to the template's wherever the template has one
    /// ([`Template::has_word_mismatch`] said no), so equal keys need no compare.
    pub fn absorb(&mut self, line: &str, spans: &[Span], now: i64, words_checked: bool) -> Learned {
        self.count += 1;
        self.first_seen = self.first_seen.min(now);
        self.last_seen = self.last_seen.max(now);
        let mut changed = false;
        let mut reshaped = false;
        for (((p, k), literal), s) in self.positions.iter_mut().zip(self.keys.iter_mut()).zip(self.literal.iter_mut()).zip(spans) {
            match &p.slot {
                Slot::Word(w) if *k == s.key && (words_checked || same_token(*k, w, s, line)) => {
                    // a shape renders as the line's token while every line had the same one,
                    // then as the shape (without `same`, it already does)
                    if s.shaped() && p.same.as_deref().is_some_and(|v| v != s.text(line)) {
                        p.same = None;
                        p.render = w.clone();
                        changed = true;
                    }
                    continue;
                }
                Slot::Any => {}
                Slot::Value if s.var() => {}
                Slot::Word(_) | Slot::Value => {
                    p.slot = Slot::Any;
                    *k = ANY_KEY;
                    *literal = false;
                    reshaped = true;
                }
            }
            // (the token sliced out only here: most positions are words, settled above)
            let tok = s.text(line);
            if let Some(v) = &p.same {
                if **v == *tok {
                    continue;
                }
                // the first time this position differs: from the first value's masked form
                let first = mask(v);
                p.same = None;
                let merged: Box<str> = merge(&first, &mask(tok)).into();
                if merged != p.render {
                    p.render = merged;
                    changed = true;
                }
                continue;
            }
            if covers(&p.render, tok) {
                continue;
            }
            let merged: Box<str> = merge(&p.render, &mask(tok)).into();
            if merged != p.render {
                p.render = merged;
                changed = true;
            }
        }
        if changed {
            self.rename();
        }
        Learned { renamed: changed, reshaped }
    }
}

/// What a template learnt from a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Learned {
    /// Its text (so its id) changed.
    pub renamed: bool,
    /// A position became `Any` (lines now fit it differently).
    pub reshaped: bool,
}

/// The key of a slot (see [`Template::keys`]).
fn slot_key(slot: &Slot) -> u64 {
    match slot {
        Slot::Word(w) => key_of(w.as_bytes()),
        Slot::Value => VALUE_KEY,
        Slot::Any => ANY_KEY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tokenize;

    fn tpl(lines: &[&str]) -> Template {
        let mut spans = Vec::new();
        tokenize(lines[0], 64, &mut spans);
        let mut t = Template::new(lines[0], &spans, 0, 0);
        for l in &lines[1..] {
            tokenize(l, 64, &mut spans);
            t.absorb(l, &spans, 1, false);
        }
        t
    }

    #[test]
    fn a_template_renders_values_and_learns_variables() {
        let t = tpl(&["Accepted password for root from 10.0.0.1 port 22 ssh2"]);
        assert_eq!(t.text, "Accepted password for root from <*> port <*> ssh2");
        let t = tpl(&[
            "Accepted password for root from 10.0.0.1 port 22 ssh2",
            "Accepted password for bob from 10.0.0.2 port 4022 ssh2",
        ]);
        assert_eq!(t.text, "Accepted password for <*> from <*> port <*> ssh2");
        assert_eq!(t.former.len(), 1);
        assert_eq!(t.id, template_id(&t.text));
        let t = tpl(&["PacketResponder 1 for block blk_-38 terminating", "PacketResponder 2 for block blk_77 terminating"]);
        assert_eq!(t.text, "PacketResponder <*> for block blk_<*> terminating");
        let t = tpl(&["boot  (command 2)", "boot  (command 3)"]);
        assert_eq!(t.text, "boot  (command <*>)");
    }

    #[test]
    fn ids_round_trip_as_text() {
        let id = template_id("a <*> b");
        assert_eq!(parse_id(&format_id(id)), Some(id));
        assert_eq!(parse_id("xyz"), None);
    }
}
