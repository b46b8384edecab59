//! Query string -> [`Node`]: a small recursive-descent parser over characters.
//!
//! ```text
//! query   := or?
//! or      := and (("OR" | "||") and)*
//! and     := unary (("AND" | "&&")? unary)*          adjacent clauses are ANDed
//! unary   := ("NOT" | "!") unary | "-" primary | "+" primary | primary
//! primary := "(" or ")" | field ":" value | value
//! value   := "(" or ")" | phrase | range | (">" | ">=" | "<" | "<=") word | word
//! range   := ("[" | "{") bound "TO" bound ("]" | "}")
//! ```
//!
//! The parser is scannerless because what ends a word depends on where it is: after
//! `field:` a value may hold `:` (`source.ip:::1`, `@timestamp:>=2024-01-01T10:00:00Z`).

use std::ops::Bound;

use super::ast::{Clause, Node, Piece, Value, Word};
use crate::error::QueryError;

/// Deepest nesting of parentheses and NOTs accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 64;

/// Parses a query string. Empty or `*` is [`Node::All`]. At most the current budget's
/// `query.max_clauses` clauses, `query.max_wildcards` of them wildcards (see
/// [`crate::budget`]; without a budget their defaults).
pub(crate) fn parse(input: &str) -> Result<Node, QueryError> {
    let mut p = Parser {
        chars: input.chars().collect(),
        pos: 0,
        depth: 0,
        or_differs: false,
    };
    p.skip_ws();
    if p.at_end() {
        return Ok(Node::All);
    }
    let node = p.or(None)?;
    p.skip_ws();
    match p.peek() {
        None => within_caps(node),
        Some(')') => Err(QueryError::syntax(
            p.pos,
            "unexpected `)`: remove it or add the matching `(`",
        )),
        Some(c) => Err(QueryError::syntax(p.pos, format!("unexpected `{c}`"))),
    }
}

/// `node` when it has at most the budget's cap of clauses and of wildcards.
fn within_caps(node: Node) -> Result<Node, QueryError> {
    fn count(n: &Node, clauses: &mut usize, wildcards: &mut usize) {
        match n {
            Node::All => {}
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| count(n, clauses, wildcards)),
            Node::Not(n) => count(n, clauses, wildcards),
            Node::Clause(c) => {
                *clauses += 1;
                if matches!(&c.value, Value::Word(w) if w.is_wildcard()) {
                    *wildcards += 1;
                }
            }
        }
    }
    let (mut clauses, mut wildcards) = (0, 0);
    count(&node, &mut clauses, &mut wildcards);
    let (max_clauses, max_wildcards) = crate::budget::query_caps();
    if clauses > max_clauses {
        return Err(QueryError::BadRequest(format!(
            "the query has {clauses} clauses, more than query.max_clauses ({max_clauses}): split it into several queries, or use a range or a wildcard instead of a long OR list"
        )));
    }
    if wildcards > max_wildcards {
        return Err(QueryError::BadRequest(format!(
            "the query has {wildcards} wildcard terms, more than query.max_wildcards ({max_wildcards}): make it more specific (fewer `*` / `?` terms)"
        )));
    }
    Ok(node)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    /// Whether some clauses joined without an operator would match differently under
    /// Lucene's default OR ([`differs_under_default_or`]).
    or_differs: bool,
}

/// How a clause of an `and` group is marked, as Lucene's classic parser reads it.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    /// No prefix: optional (SHOULD) under the default OR.
    Plain,
    /// `+x`, or joined by an explicit `AND`: required.
    Required,
    /// `-x`, `!x`, `NOT x`: prohibited.
    Prohibited,
}

/// Whether `input` parses and would match other events if clauses written side by side were
/// ORed (Lucene's and Elasticsearch's `default_operator: OR`) instead of ANDed as loglynx does:
/// true when a group has an unmarked clause beside another unmarked or a required one
/// (`a b`, `+a b`, `a AND b c`); `a -b`, `+a +b`, `a AND b -c` match the same either way.
pub(crate) fn differs_under_default_or(input: &str) -> Result<bool, QueryError> {
    let mut p = Parser { chars: input.chars().collect(), pos: 0, depth: 0, or_differs: false };
    p.skip_ws();
    if p.at_end() {
        return Ok(false);
    }
    p.or(None)?;
    Ok(p.or_differs)
}

/// Characters a field name is made of (`host.name`, `@timestamp`, `labels.k8s-app`).
fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether an operator word (`AND`, `OR`, `NOT`, `TO`) or symbol (`&&`, `||`) starts here,
    /// standing alone (followed by a space, a parenthesis or the end).
    fn at_operator(&self, op: &str) -> bool {
        let n = op.chars().count();
        let matches = op
            .chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c));
        let boundary = match self.peek_at(n) {
            None => true,
            Some(c) => c.is_whitespace() || c == '(' || c == ')' || op.starts_with(['&', '|']),
        };
        matches && boundary
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::syntax(
                self.pos,
                "the query nests too deep: remove some parentheses or NOTs",
            ));
        }
        Ok(())
    }

    fn or(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let mut items = vec![self.and(field)?];
        loop {
            self.skip_ws();
            if !self.at_operator("OR") && !self.at_operator("||") {
                break;
            }
            let at = self.pos;
            self.pos += 2;
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                return Err(QueryError::syntax(at, "`OR` needs a term on both sides"));
            }
            items.push(self.and(field)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    /// The mark of the clause starting here (after blanks).
    fn mark_here(&mut self) -> Mark {
        self.skip_ws();
        let next_solid = self.peek_at(1).is_some_and(|c| !c.is_whitespace() && c != ')');
        match self.peek() {
            Some('+') if next_solid => Mark::Required,
            Some('-') | Some('!') if next_solid => Mark::Prohibited,
            _ if self.at_operator("NOT") => Mark::Prohibited,
            _ => Mark::Plain,
        }
    }

    fn and(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let mut marks = vec![self.mark_here()];
        let mut items = vec![self.unary(field)?];
        let mut implicit = false;
        loop {
            self.skip_ws();
            if self.at_end()
                || self.peek() == Some(')')
                || self.at_operator("OR")
                || self.at_operator("||")
            {
                break;
            }
            let at = self.pos;
            if self.at_operator("AND") {
                self.pos += 3;
            } else if self.at_operator("&&") {
                self.pos += 2;
            }
            self.skip_ws();
            if self.pos != at
                && (self.at_end()
                    || self.peek() == Some(')')
                    || self.at_operator("OR")
                    || self.at_operator("||"))
            {
                return Err(QueryError::syntax(at, "`AND` needs a term on both sides"));
            }
            let explicit = self.pos != at;
            let mut mark = self.mark_here();
            if explicit {
                // `a AND b`: both sides required (unless prohibited).
                if let Some(last) = marks.last_mut() {
                    if *last == Mark::Plain {
                        *last = Mark::Required;
                    }
                }
                if mark == Mark::Plain {
                    mark = Mark::Required;
                }
            } else {
                implicit = true;
            }
            marks.push(mark);
            items.push(self.unary(field)?);
        }
        if implicit {
            let plain = marks.iter().filter(|m| **m == Mark::Plain).count();
            let required = marks.iter().filter(|m| **m == Mark::Required).count();
            if plain >= 2 || (plain >= 1 && required >= 1) {
                self.or_differs = true;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    fn unary(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        self.skip_ws();
        let at = self.pos;
        let negation = if self.at_operator("NOT") {
            Some(3)
        } else if self.peek() == Some('!') && self.peek_at(1).is_some_and(|c| !c.is_whitespace()) {
            Some(1)
        } else {
            None
        };
        if let Some(len) = negation {
            self.pos += len;
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                return Err(QueryError::syntax(at, "`NOT` needs a term after it"));
            }
            self.enter()?;
            let inner = self.unary(field)?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        match (self.peek(), self.peek_at(1)) {
            (Some('-'), Some(c)) if !c.is_whitespace() && c != ')' => {
                self.pos += 1;
                Ok(Node::Not(Box::new(self.primary(field)?)))
            }
            (Some('+'), Some(c)) if !c.is_whitespace() && c != ')' => {
                self.pos += 1;
                self.primary(field)
            }
            _ => self.primary(field),
        }
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            None => Err(QueryError::syntax(
                at,
                "the query ends where a term was expected",
            )),
            Some('(') => self.group(field),
            Some(')') => Err(QueryError::syntax(
                at,
                "unexpected `)`: put a term before it or remove it",
            )),
            Some('"') => {
                let text = self.phrase()?;
                Ok(clause(field, Value::Phrase(text), at))
            }
            Some(_) => {
                if field.is_none() {
                    if let Some(name) = self.field_name() {
                        return self.field_value(&name, at);
                    }
                }
                let word = self.word(at, false)?;
                if field.is_none() && word.is_star() {
                    return Ok(Node::All);
                }
                Ok(clause(field, Value::Word(word), at))
            }
        }
    }

    fn group(&mut self, field: Option<&str>) -> Result<Node, QueryError> {
        let open = self.pos;
        self.pos += 1;
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(QueryError::syntax(
                open,
                "empty parentheses: put a term inside",
            ));
        }
        if self.at_end() {
            return Err(QueryError::syntax(
                open,
                "missing `)`: close the group opened here",
            ));
        }
        let node = self.or(field)?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(QueryError::syntax(
                open,
                "missing `)`: close the group opened here",
            ));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(node)
    }

    /// A field name directly followed by `:`; consumes both. None (nothing consumed) otherwise.
    fn field_name(&mut self) -> Option<String> {
        let len = self.chars[self.pos..]
            .iter()
            .take_while(|c| is_field_char(**c))
            .count();
        if len == 0 || self.peek_at(len) != Some(':') {
            return None;
        }
        let name: String = self.chars[self.pos..self.pos + len].iter().collect();
        self.pos += len + 1;
        Some(name)
    }

    fn field_value(&mut self, field: &str, at: usize) -> Result<Node, QueryError> {
        let value_at = self.pos;
        match self.peek() {
            None => Err(QueryError::syntax(
                at,
                format!("`{field}:` needs a value after the colon"),
            )),
            Some(c) if c.is_whitespace() => Err(QueryError::syntax(
                at,
                format!("`{field}:` needs a value right after the colon (no space)"),
            )),
            Some('(') => self.group(Some(field)),
            Some('"') => {
                let text = self.phrase()?;
                Ok(clause(Some(field), Value::Phrase(text), at))
            }
            Some('[') | Some('{') => {
                let value = self.range(field)?;
                Ok(clause(Some(field), value, at))
            }
            Some('>') | Some('<') => {
                let op_gt = self.peek() == Some('>');
                self.pos += 1;
                let inclusive = self.peek() == Some('=');
                if inclusive {
                    self.pos += 1;
                }
                self.skip_ws();
                if self.at_end() || self.peek() == Some(')') {
                    return Err(QueryError::syntax(
                        value_at,
                        format!("`{field}:` comparison needs a value, e.g. `{field}:>=100`"),
                    ));
                }
                let bound_at = self.pos;
                let text = self.bound_text(bound_at, false)?;
                let b = if inclusive {
                    Bound::Included(text)
                } else {
                    Bound::Excluded(text)
                };
                let value = if op_gt {
                    Value::Range {
                        lower: b,
                        upper: Bound::Unbounded,
                    }
                } else {
                    Value::Range {
                        lower: Bound::Unbounded,
                        upper: b,
                    }
                };
                Ok(clause(Some(field), value, at))
            }
            Some(_) => {
                let word = self.word(value_at, true)?;
                Ok(clause(Some(field), Value::Word(word), at))
            }
        }
    }

    /// A double-quoted string (the opening quote is at `pos`), `\` escapes resolved.
    fn phrase(&mut self) -> Result<String, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(QueryError::syntax(
                        open,
                        "unterminated phrase: add the closing `\"`",
                    ))
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => text.push(c),
                        None => {
                            return Err(QueryError::syntax(
                                open,
                                "unterminated phrase: add the closing `\"`",
                            ))
                        }
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A word up to whitespace, parentheses or a quote. Inside a field value (`in_value`) `:`
    /// belongs to the word.
    fn word(&mut self, at: usize, in_value: bool) -> Result<Word, QueryError> {
        let mut word = Word::default();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '(' || c == ')' || c == '"' || (!in_value && c == ':') {
                break;
            }
            self.pos += 1;
            match c {
                '\\' => match self.peek() {
                    Some(e) => {
                        word.pieces.push(Piece::Char(e));
                        self.pos += 1;
                    }
                    None => {
                        return Err(QueryError::syntax(
                            self.pos - 1,
                            "a `\\` at the end escapes nothing: remove it or double it",
                        ))
                    }
                },
                '*' => word.pieces.push(Piece::Any),
                '?' => word.pieces.push(Piece::One),
                c => word.pieces.push(Piece::Char(c)),
            }
        }
        if word.pieces.is_empty() {
            return match self.peek() {
                Some(':') => Err(QueryError::syntax(self.pos, "a `:` needs a field name before it, e.g. `host.name:web1`; escape it as `\\:` to search it")),
                Some(c) => Err(QueryError::syntax(self.pos, format!("unexpected `{c}`"))),
                None => Err(QueryError::syntax(at, "the query ends where a term was expected")),
            };
        }
        Ok(word)
    }

    /// `[a TO b]`, `{a TO b}` or mixed; the opening bracket is at `pos`.
    fn range(&mut self, field: &str) -> Result<Value, QueryError> {
        let open = self.pos;
        let lower_inclusive = self.peek() == Some('[');
        self.pos += 1;
        let example = format!("e.g. `{field}:[100 TO 200]`");
        self.skip_ws();
        let lower = self.bound_text(open, true)?;
        self.skip_ws();
        if !self.at_operator("TO") {
            return Err(QueryError::syntax(
                self.pos,
                format!("a range needs `TO` between its bounds, {example}"),
            ));
        }
        self.pos += 2;
        self.skip_ws();
        let upper = self.bound_text(open, true)?;
        self.skip_ws();
        let upper_inclusive = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => {
                return Err(QueryError::syntax(
                    open,
                    format!("unterminated range: close it with `]` or `}}`, {example}"),
                ))
            }
        };
        self.pos += 1;
        let bound = |text: String, inclusive: bool| match (text.as_str(), inclusive) {
            ("*", _) => Bound::Unbounded,
            (_, true) => Bound::Included(text),
            (_, false) => Bound::Excluded(text),
        };
        Ok(Value::Range {
            lower: bound(lower, lower_inclusive),
            upper: bound(upper, upper_inclusive),
        })
    }

    /// One range or comparison bound: quoted, or up to whitespace / a closing bracket.
    fn bound_text(&mut self, open: usize, in_range: bool) -> Result<String, QueryError> {
        if self.peek() == Some('"') {
            return self.phrase();
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ')' || (in_range && (c == ']' || c == '}')) {
                break;
            }
            self.pos += 1;
            if c == '\\' {
                if let Some(e) = self.peek() {
                    text.push(e);
                    self.pos += 1;
                }
            } else {
                text.push(c);
            }
        }
        if text.is_empty() {
            return Err(QueryError::syntax(
                open,
                "a range bound is missing: use `*` for an open end",
            ));
        }
        Ok(text)
    }
}

fn clause(field: Option<&str>, value: Value, position: usize) -> Node {
    Node::Clause(Clause {
        field: field.map(str::to_string),
        value,
        position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Value {
        Value::Word(Word {
            pieces: s.chars().map(Piece::Char).collect(),
        })
    }

    fn c(field: Option<&str>, value: Value, position: usize) -> Node {
        clause(field, value, position)
    }

    #[test]
    fn empty_and_star_match_all() {
        assert_eq!(parse("").unwrap(), Node::All);
        assert_eq!(parse("   ").unwrap(), Node::All);
        assert_eq!(parse("*").unwrap(), Node::All);
    }

    #[test]
    fn precedence_not_and_or() {
        // a b OR c AND NOT d  ==  (a AND b) OR (c AND (NOT d))
        let n = parse("a b OR c AND NOT d").unwrap();
        assert_eq!(
            n,
            Node::Or(vec![
                Node::And(vec![c(None, w("a"), 0), c(None, w("b"), 2)]),
                Node::And(vec![
                    c(None, w("c"), 7),
                    Node::Not(Box::new(c(None, w("d"), 17)))
                ]),
            ])
        );
    }

    #[test]
    fn field_values_keep_colons_and_dots() {
        assert_eq!(
            parse("source.ip:::1").unwrap(),
            c(Some("source.ip"), w("::1"), 0)
        );
        assert_eq!(
            parse("@timestamp:>=2024-01-01T10:00:00Z").unwrap(),
            c(
                Some("@timestamp"),
                Value::Range {
                    lower: Bound::Included("2024-01-01T10:00:00Z".into()),
                    upper: Bound::Unbounded
                },
                0
            )
        );
    }

    #[test]
    fn ranges_and_comparisons() {
        assert_eq!(
            parse("process.pid:{100 TO *]").unwrap(),
            c(
                Some("process.pid"),
                Value::Range {
                    lower: Bound::Excluded("100".into()),
                    upper: Bound::Unbounded
                },
                0
            )
        );
        assert_eq!(
            parse("process.pid:<5").unwrap(),
            c(
                Some("process.pid"),
                Value::Range {
                    lower: Bound::Unbounded,
                    upper: Bound::Excluded("5".into())
                },
                0
            )
        );
    }

    #[test]
    fn clause_and_wildcard_caps() {
        let words = |n: usize, suffix: &str| {
            (0..n).map(|i| format!("w{i}{suffix}")).collect::<Vec<_>>().join(" OR ")
        };
        use crate::budget::{Budget, DEFAULT_MAX_CLAUSES, DEFAULT_MAX_WILDCARDS};
        // Without a budget: the defaults.
        assert!(parse(&words(DEFAULT_MAX_CLAUSES, "")).is_ok());
        let e = parse(&words(DEFAULT_MAX_CLAUSES + 1, "")).unwrap_err().to_string();
        assert!(e.contains("query.max_clauses (1024)"), "{e}");
        assert!(parse(&words(DEFAULT_MAX_WILDCARDS, "*")).is_ok());
        let e = parse(&words(DEFAULT_MAX_WILDCARDS + 1, "*")).unwrap_err().to_string();
        assert!(e.contains("query.max_wildcards (64)") && e.contains("wildcard"), "{e}");
        // Within a budget: its caps.
        let b = || Budget::new(std::time::Duration::from_secs(60), 10).with_query_caps(3, 1);
        assert!(b().run(|| parse("a b c")).is_ok());
        let e = b().run(|| parse("a b c d")).unwrap_err().to_string();
        assert!(e.contains("4 clauses") && e.contains("query.max_clauses (3)"), "{e}");
        assert!(b().run(|| parse("a* b")).is_ok());
        let e = b().run(|| parse("a* b?")).unwrap_err().to_string();
        assert!(e.contains("query.max_wildcards (1)"), "{e}");
        let none = || Budget::new(std::time::Duration::from_secs(60), 10).with_query_caps(3, 0);
        assert!(none().run(|| parse("host.name:*")).is_err(), "0 refuses every wildcard");
    }

    #[test]
    fn escapes_and_wildcards() {
        let Node::Clause(cl) = parse(r"message:fail\*ed?").unwrap() else {
            panic!("not a clause")
        };
        let Value::Word(word) = cl.value else {
            panic!("not a word")
        };
        assert_eq!(
            word.pieces,
            vec![
                Piece::Char('f'),
                Piece::Char('a'),
                Piece::Char('i'),
                Piece::Char('l'),
                Piece::Char('*'),
                Piece::Char('e'),
                Piece::Char('d'),
                Piece::One
            ]
        );
        assert_eq!(word.to_regex(|c| c), r"fail\*ed.");
    }

    #[test]
    fn field_groups_apply_the_field() {
        assert_eq!(
            parse("host.name:(web1 OR web2)").unwrap(),
            Node::Or(vec![
                c(Some("host.name"), w("web1"), 11),
                c(Some("host.name"), w("web2"), 19)
            ])
        );
    }

    #[test]
    fn operator_words_need_boundaries() {
        // ANDROID and ORACLE are words, lowercase and/or/not are words too.
        assert_eq!(
            parse("ANDROID ORACLE and").unwrap(),
            Node::And(vec![
                c(None, w("ANDROID"), 0),
                c(None, w("ORACLE"), 8),
                c(None, w("and"), 15)
            ])
        );
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let cases = [
            ("\"disk full", 0, "unterminated phrase: add the closing `\"`"),
            ("(a OR b", 0, "missing `)`: close the group opened here"),
            ("a OR b)", 6, "unexpected `)`: remove it or add the matching `(`"),
            ("a OR", 2, "`OR` needs a term on both sides"),
            ("a AND", 2, "`AND` needs a term on both sides"),
            ("NOT", 0, "`NOT` needs a term after it"),
            ("host.name:", 0, "`host.name:` needs a value after the colon"),
            ("host.name: web1", 0, "`host.name:` needs a value right after the colon (no space)"),
            ("process.pid:[1 200]", 15, "a range needs `TO` between its bounds, e.g. `process.pid:[100 TO 200]`"),
            ("process.pid:[1 TO 200", 12, "unterminated range: close it with `]` or `}`, e.g. `process.pid:[100 TO 200]`"),
            ("()", 0, "empty parentheses: put a term inside"),
            (":x", 0, "a `:` needs a field name before it, e.g. `host.name:web1`; escape it as `\\:` to search it"),
        ];
        for (q, pos, msg) in cases {
            match parse(q) {
                Err(QueryError::Syntax { position, message }) => {
                    assert_eq!((position, message.as_str()), (pos, msg), "query {q:?}");
                }
                other => panic!("query {q:?}: expected a syntax error, got {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let q = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(parse(&q), Err(QueryError::Syntax { .. })));
        let q = format!("{}a", "NOT ".repeat(10_000));
        assert!(matches!(parse(&q), Err(QueryError::Syntax { .. })));
    }

    #[test]
    fn side_by_side_clauses_that_an_or_default_would_read_otherwise_are_found() {
        for q in ["error timeout", "+error timeout", "error AND disk timeout", "host.name:(a b)", "x (a b)", "a OR (b c)"] {
            assert!(differs_under_default_or(q).unwrap(), "{q}");
        }
        for q in ["", "*", "error", "error AND timeout", "a OR b", "+a +b", "a -b", "a NOT b", "a !b", "a AND b -c", "host.name:(a OR b)", "\"disk full\""] {
            assert!(!differs_under_default_or(q).unwrap(), "{q}");
        }
        assert!(differs_under_default_or("a AND").is_err());
    }
}
