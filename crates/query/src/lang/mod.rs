//! The query language: a Lucene-style query string -> a tantivy query.
//!
//! ```text
//! error disk                      bare words search `message`; adjacent clauses are ANDed
//! "disk full"                     phrase in `message`
//! host.name:web1                  keyword fields match exactly (case-sensitive)
//! host.name:"my host"             quoted keyword value (spaces allowed)
//! host.name:(web1 OR web2)        a group applied to one field
//! process.pid:[100 TO 200]        inclusive range; `{100 TO 200}` exclusive; `*` open end
//! process.pid:>=100  pid:<5       comparison forms (`>`, `>=`, `<`, `<=`)
//! @timestamp:>=2024-01-01         dates: RFC 3339, dates, epoch ms, `now-15m`
//! service.name:ngin*  fail?d      wildcards `*` (any run) and `?` (one char), `\` escapes
//! host.name:*                     the field exists
//! labels.env:prod                 free labels
//! a AND b, a OR b, NOT a, -a, +a  NOT > AND > OR; `&&`, `||`, `!` also work
//! ```
//!
//! Bare words default to AND (like Kibana and Graylog users expect), not Lucene's OR.
//! `message` is full text: words are lowercased and split like the index does, so `ERROR`
//! finds `error` and `disk-full` is the phrase "disk full". Empty or `*` matches everything.

mod ast;
mod compile;
mod parse;

pub(crate) use ast::Node;
pub(crate) use compile::Compiler;
pub(crate) use parse::{differs_under_default_or, parse};
