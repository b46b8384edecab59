//! loglynx query: query strings, search, aggregations and live tail over the store's windows.

mod request;

pub use request::*;
