//! Alerts: raised from rule matches and correlation firings, kept in an embedded transactional
//! store (redb, `<data>/alerts/alerts.redb`), with a lifecycle (`open` -> `acknowledged` ->
//! `closed`, who, when, a comment).
//!
//! Why redb and not the index: an alert changes (its count grows, someone acknowledges it), the
//! index is append-only and eventually consistent (a second per commit); the alerts of a
//! process are few (thousands, not billions), and a change must be durable when the API answers.
//! Every new alert is also written to the index as an event (`event.dataset: loglynx.alert`, see
//! [`Alert::to_event`]) so it can be searched and charted with the logs.
//!
//! Idempotence: a rule match or correlation firing for (rule, group) folds into the alert of
//! that (rule, group) while its event time is within `suppress` of the alert's events; the
//! evidence is a set of event ids (event ids are stable across replays), so events read again
//! after a crash add nothing, and a new alert's id is derived from rule + group + the event
//! time its window started. A replay therefore raises nothing twice.
//!
//! The modules, one concept each:
//! - [`model`]: an alert, its rule, status and history, and the event it becomes in the index;
//! - [`book`]: the store ([`AlertBook`], its redb tables), reads, lists and lifecycle changes;
//! - [`fold`]: rule matches and correlation firings folded into alerts ([`AlertBook::apply`]);
//! - [`merge`]: copies written by other processes (the scale-out shape) made one;
//! - [`outbox`]: notifications queued in the transaction of the change they tell of.
//!
//! Resolution (`resolved`, rules tagged `loglynx.resolve`) is [`crate::resolve`].

mod book;
mod fold;
mod merge;
mod model;
mod outbox;

pub use book::{AlertBook, AlertFilter};
pub(crate) use book::ALERTS;
pub use fold::{Applied, Signal};
pub use merge::merged;
pub use model::{Alert, AlertRule, AlertStatus, Change, ALERT_DATASET};
pub(crate) use outbox::OUTBOX;

#[cfg(test)]
mod tests;
