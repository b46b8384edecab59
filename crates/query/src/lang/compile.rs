//! [`Node`] -> tantivy query, field by field according to how the store indexes it.

use std::ops::Bound;

use loglynx_core::{fields as f, Timestamp};
use loglynx_store::{FieldKind, StoreSchema};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, Occur, PhraseQuery, Query, RangeQuery,
    RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Term};
use tantivy::tokenizer::{TextAnalyzer, TokenizerManager};

use super::ast::{push_escaped, Clause, Node, Value, Word};
use crate::error::QueryError;
use crate::time::{parse_time, to_date};

/// Keys of JSON and logfmt records that were labels under their own names and are now stored
/// as ECS labels when their value is one word (the parse stage's `parse/keys.rs`): a query on
/// the old label also matches the new one, so a saved search or rule on `labels.logger:billing`
/// keeps finding those events.
const RENAMED_LABELS: [(&str, &str); 7] = [
    ("logger", "log.logger"),
    ("logger_name", "log.logger"),
    ("component", "log.logger"),
    ("c", "log.logger"),
    ("thread", "process.thread.name"),
    ("thread_name", "process.thread.name"),
    ("ctx", "process.thread.name"),
];

/// Turns parsed queries into tantivy queries for one schema.
#[derive(Clone)]
pub(crate) struct Compiler {
    schema: StoreSchema,
    /// The analyzer `message` is indexed with (tantivy's `default`: split, lowercase).
    text: TextAnalyzer,
}

impl Compiler {
    pub fn new(schema: StoreSchema) -> Self {
        let text = TokenizerManager::default()
            .get("default")
            .unwrap_or_default();
        Compiler { schema, text }
    }

    /// Compiles `node`; relative times (`now-1h`) count from `now`.
    pub fn compile(&self, node: &Node, now: Timestamp) -> Result<Box<dyn Query>, QueryError> {
        let mut run = Run {
            schema: &self.schema,
            text: self.text.clone(),
            now,
        };
        run.node(node)
    }

    /// `@timestamp` in `[start, end)`, or None when both are open.
    pub fn time_range(
        &self,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Option<Box<dyn Query>> {
        date_range(
            self.schema.timestamp,
            start.map_or(Bound::Unbounded, Bound::Included),
            end.map_or(Bound::Unbounded, Bound::Excluded),
        )
    }

    /// `event.ingested` within the bounds.
    pub fn ingested_range(
        &self,
        lower: Bound<Timestamp>,
        upper: Bound<Timestamp>,
    ) -> Option<Box<dyn Query>> {
        date_range(self.schema.ingested, lower, upper)
    }
}

fn date_range(
    field: Field,
    lower: Bound<Timestamp>,
    upper: Bound<Timestamp>,
) -> Option<Box<dyn Query>> {
    if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        return None;
    }
    let term = |t: &Timestamp| Term::from_field_date(field, to_date(*t));
    Some(Box::new(RangeQuery::new(
        map_bound(&lower, term),
        map_bound(&upper, term),
    )))
}

fn map_bound<T, U>(b: &Bound<T>, f: impl Fn(&T) -> U) -> Bound<U> {
    match b {
        Bound::Included(v) => Bound::Included(f(v)),
        Bound::Excluded(v) => Bound::Excluded(f(v)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn try_map_bound<T, U, E>(b: &Bound<T>, f: impl Fn(&T) -> Result<U, E>) -> Result<Bound<U>, E> {
    Ok(match b {
        Bound::Included(v) => Bound::Included(f(v)?),
        Bound::Excluded(v) => Bound::Excluded(f(v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// Matches everything except `inner`.
fn negate(inner: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, inner),
    ]))
}

struct Run<'a> {
    schema: &'a StoreSchema,
    text: TextAnalyzer,
    now: Timestamp,
}

impl Run<'_> {
    fn node(&mut self, node: &Node) -> Result<Box<dyn Query>, QueryError> {
        match node {
            Node::All => Ok(Box::new(AllQuery)),
            Node::Not(inner) => Ok(negate(self.node(inner)?)),
            Node::Or(items) => {
                let clauses = items
                    .iter()
                    .map(|n| Ok((Occur::Should, self.node(n)?)))
                    .collect::<Result<_, QueryError>>()?;
                Ok(Box::new(BooleanQuery::new(clauses)))
            }
            Node::And(items) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(items.len() + 1);
                for item in items {
                    match item {
                        Node::Not(inner) => clauses.push((Occur::MustNot, self.node(inner)?)),
                        other => clauses.push((Occur::Must, self.node(other)?)),
                    }
                }
                if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Ok(Box::new(BooleanQuery::new(clauses)))
            }
            Node::Clause(c) => self.clause(c),
        }
    }

    fn clause(&mut self, c: &Clause) -> Result<Box<dyn Query>, QueryError> {
        let name = c.field.as_deref().unwrap_or(f::MESSAGE);
        let Some(kind) = self.schema.kind(name) else {
            let mut known: Vec<&str> = self.schema.field_names();
            known.push("labels.<key>");
            return Err(QueryError::UnknownField {
                field: name.to_string(),
                known: known.join(", "),
            });
        };
        match kind {
            FieldKind::Text => self.text_clause(name, &c.value),
            FieldKind::Keyword => self.keyword_clause(name, &c.value),
            FieldKind::Numeric => self.numeric_clause(name, &c.value),
            FieldKind::Date => self.date_clause(name, &c.value),
            FieldKind::Labels => self.labels_clause(name, &c.value),
        }
    }

    fn field(&self, name: &str) -> Result<Field, QueryError> {
        self.schema
            .field(name)
            .ok_or_else(|| QueryError::UnknownField {
                field: name.to_string(),
                known: self.schema.field_names().join(", "),
            })
    }

    fn text_clause(&mut self, name: &str, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let field = self.field(name)?;
        match value {
            Value::Word(w) if w.is_star() => Ok(Box::new(AllQuery)),
            Value::Word(w) if w.is_wildcard() => {
                check_wildcards(name, w)?;
                let pattern = w.to_regex(|c| c.to_lowercase().next().unwrap_or(c));
                regex(name, &w.text(), &pattern, field)
            }
            Value::Word(w) => Ok(self.text_terms(field, &w.text())),
            Value::Phrase(p) => Ok(self.text_terms(field, p)),
            Value::Range { .. } => Err(QueryError::bad_value(
                name,
                &value_text(value),
                "ranges work on keyword, numeric and date fields, not on full-text `message`",
            )),
        }
    }

    /// Tokenizes like the index: one token is a term query, several a phrase.
    fn text_terms(&mut self, field: Field, text: &str) -> Box<dyn Query> {
        let mut terms = Vec::new();
        let mut stream = self.text.token_stream(text);
        while let Some(tok) = stream.next() {
            terms.push(Term::from_field_text(field, &tok.text));
        }
        match terms.len() {
            0 => Box::new(EmptyQuery),
            1 => Box::new(TermQuery::new(terms.remove(0), IndexRecordOption::Basic)),
            _ => Box::new(PhraseQuery::new(terms)),
        }
    }

    fn keyword_clause(&mut self, name: &str, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let field = self.field(name)?;
        let fast = self.schema.schema.get_field_entry(field).is_fast();
        match value {
            Value::Word(w) if w.is_star() => Ok(exists(name, fast)),
            Value::Word(w) if w.is_wildcard() => {
                check_wildcards(name, w)?;
                regex(name, &w.text(), &w.to_regex(|c| c), field)
            }
            Value::Word(w) => Ok(Box::new(TermQuery::new(
                Term::from_field_text(field, &w.text()),
                IndexRecordOption::Basic,
            ))),
            Value::Phrase(p) => Ok(Box::new(TermQuery::new(
                Term::from_field_text(field, p),
                IndexRecordOption::Basic,
            ))),
            Value::Range { lower, upper } => {
                if matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded)) {
                    return Ok(exists(name, fast));
                }
                let term = |s: &String| Term::from_field_text(field, s);
                Ok(Box::new(RangeQuery::new(
                    map_bound(lower, term),
                    map_bound(upper, term),
                )))
            }
        }
    }

    fn numeric_clause(&mut self, name: &str, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let field = self.field(name)?;
        let number = |s: &String| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| QueryError::bad_value(name, s, "expected a whole number like 200"))
        };
        match value {
            Value::Word(w) if w.is_star() => Ok(exists(name, true)),
            Value::Word(w) if w.is_wildcard() => Err(QueryError::bad_value(
                name,
                &w.text(),
                "wildcards work on text and keyword fields; use a range like [100 TO 199]",
            )),
            // Numeric fields are columns without a term index (see loglynx_store::schema): an
            // exact value is the range [n, n], answered from the column.
            Value::Word(w) => {
                let n = Term::from_field_u64(field, number(&w.text())?);
                Ok(Box::new(RangeQuery::new(Bound::Included(n.clone()), Bound::Included(n))))
            }
            Value::Phrase(p) => {
                let n = Term::from_field_u64(field, number(p)?);
                Ok(Box::new(RangeQuery::new(Bound::Included(n.clone()), Bound::Included(n))))
            }
            Value::Range { lower, upper } => {
                if matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded)) {
                    return Ok(exists(name, true));
                }
                let lower =
                    try_map_bound(lower, |s| number(s).map(|n| Term::from_field_u64(field, n)))?;
                let upper =
                    try_map_bound(upper, |s| number(s).map(|n| Term::from_field_u64(field, n)))?;
                Ok(Box::new(RangeQuery::new(lower, upper)))
            }
        }
    }

    fn date_clause(&mut self, name: &str, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let field = self.field(name)?;
        let time = |s: &String| parse_time(s, self.now);
        let (lower, upper) = match value {
            Value::Word(w) if w.is_star() => return Ok(Box::new(AllQuery)),
            Value::Word(w) if w.is_wildcard() => {
                return Err(QueryError::bad_value(
                    name,
                    &w.text(),
                    "wildcards do not apply to dates; use a range like [now-1h TO now]",
                ))
            }
            Value::Word(w) => {
                let t = time(&w.text())?;
                (Bound::Included(t), Bound::Included(t))
            }
            Value::Phrase(p) => {
                let t = time(p)?;
                (Bound::Included(t), Bound::Included(t))
            }
            Value::Range { lower, upper } => {
                (try_map_bound(lower, time)?, try_map_bound(upper, time)?)
            }
        };
        Ok(date_range(field, lower, upper).unwrap_or_else(|| Box::new(AllQuery)))
    }

    fn labels_clause(&mut self, name: &str, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let key = name.strip_prefix(f::LABELS_PREFIX).unwrap_or_default();
        if let Some((_, now)) = RENAMED_LABELS.iter().find(|(old, _)| *old == key) {
            let old = self.label_clause(name, key, value)?;
            let new = self.label_clause(&format!("{}{now}", f::LABELS_PREFIX), now, value)?;
            return Ok(Box::new(BooleanQuery::new(vec![(Occur::Should, old), (Occur::Should, new)])));
        }
        self.label_clause(name, key, value)
    }

    /// The clause on the label `key` (`name` is `labels.<key>`, for messages).
    fn label_clause(&mut self, name: &str, key: &str, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        if key.is_empty() {
            return Err(QueryError::bad_value(
                name,
                &value_text(value),
                "name the label, e.g. `labels.env:prod`",
            ));
        }
        // The store does not expand dots in label keys: `labels.k8s.pod` is the key "k8s.pod".
        let path = key.replace('.', "\\.");
        let field = self.schema.labels;
        let term = |v: &str| {
            let mut t = Term::from_field_json_path(field, &path, false);
            t.append_type_and_str(v);
            t
        };
        match value {
            Value::Word(w) if w.is_star() => Ok(Box::new(ExistsQuery::new(
                format!("{}{path}", f::LABELS_PREFIX),
                false,
            ))),
            Value::Word(w) if w.is_wildcard() => {
                check_wildcards(name, w)?;
                // Terms of a JSON field are `<path> 0x00 <type code> <value>`: match the whole key.
                let prefix = Term::from_field_json_path(field, &path, false);
                let mut pattern = String::new();
                for c in String::from_utf8_lossy(prefix.serialized_value_bytes()).chars() {
                    push_escaped(&mut pattern, c);
                }
                pattern.push('s');
                pattern.push_str(&w.to_regex(|c| c));
                regex(name, &w.text(), &pattern, field)
            }
            Value::Word(w) => Ok(Box::new(TermQuery::new(
                term(&w.text()),
                IndexRecordOption::Basic,
            ))),
            Value::Phrase(p) => Ok(Box::new(TermQuery::new(term(p), IndexRecordOption::Basic))),
            Value::Range { lower, upper } => {
                if matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded)) {
                    return Ok(Box::new(ExistsQuery::new(
                        format!("{}{path}", f::LABELS_PREFIX),
                        false,
                    )));
                }
                Ok(Box::new(RangeQuery::new(
                    map_bound(lower, |s| term(s)),
                    map_bound(upper, |s| term(s)),
                )))
            }
        }
    }
}

/// `field:*`: fields with a fast column can answer exactly; others are on every event.
fn exists(name: &str, fast: bool) -> Box<dyn Query> {
    if fast {
        Box::new(ExistsQuery::new(name.to_string(), false))
    } else {
        Box::new(AllQuery)
    }
}

/// Most `*` and `?` in one wildcard term (a run of `*` counts once). Building the automaton
/// grows with them: AFL's `query_parser` found 60-byte terms of ~20 wildcards between
/// multi-byte characters that took a second each to refuse; 10 take well under 0.1 s.
pub(crate) const MAX_WILDCARD_PIECES: usize = 10;

/// Most characters after the first `*` or `?` of a wildcard term (a run of `*` counts once).
/// The automaton has a state per place of that tail, each with transitions for any character:
/// AFL's `histogram_tail` found terms of a `*` and ~200 letters that took 25 ms each to compile
/// (debug build), up to seconds for a query of several; 64 take a few milliseconds. A prefix
/// before the first wildcard costs nothing like it and is not capped.
pub(crate) const MAX_WILDCARD_TAIL: usize = 64;

fn check_wildcards(name: &str, w: &Word) -> Result<(), QueryError> {
    if w.wildcard_pieces() > MAX_WILDCARD_PIECES {
        return Err(QueryError::bad_value(
            name,
            &w.text(),
            format!("at most {MAX_WILDCARD_PIECES} `*` and `?` in one term; make it more specific"),
        ));
    }
    if w.wildcard_tail() > MAX_WILDCARD_TAIL {
        return Err(QueryError::bad_value(
            name,
            &w.text(),
            format!("at most {MAX_WILDCARD_TAIL} characters after the first `*` or `?` of a term; make it shorter"),
        ));
    }
    Ok(())
}

fn regex(
    name: &str,
    typed: &str,
    pattern: &str,
    field: Field,
) -> Result<Box<dyn Query>, QueryError> {
    RegexQuery::from_pattern(pattern, field)
        .map(|q| Box::new(q) as Box<dyn Query>)
        .map_err(|_| {
            QueryError::bad_value(
                name,
                typed,
                "this wildcard pattern is too complex; make it more specific",
            )
        })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Word(w) => w.text(),
        Value::Phrase(p) => format!("\"{p}\""),
        Value::Range { lower, upper } => {
            let (l, lo) = match lower {
                Bound::Included(s) => ('[', s.as_str()),
                Bound::Excluded(s) => ('{', s.as_str()),
                Bound::Unbounded => ('[', "*"),
            };
            let (u, hi) = match upper {
                Bound::Included(s) => (']', s.as_str()),
                Bound::Excluded(s) => ('}', s.as_str()),
                Bound::Unbounded => (']', "*"),
            };
            format!("{l}{lo} TO {hi}{u}")
        }
    }
}
