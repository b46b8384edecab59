//! The outbox: notifications queued in the transaction that makes the change they tell of
//! (a new alert, a resolution), so a restart neither loses one nor sends one for a change that
//! was not made; [`crate::notify::Notifier`] sends them.

use redb::{ReadableTable, TableDefinition};

use super::book::{AlertBook, AlertFilter};
use crate::notify::Pending;
use crate::DetectError;

/// Pending notifications: sequence number -> [`crate::notify::Pending`] as JSON. Written in the
/// transaction that creates the alert, so a notification is never lost nor made without its
/// alert.
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

impl AlertBook {
    /// Queues `pending` at the end of the outbox, inside `tx`; returns how many.
    pub(crate) fn queue(&self, tx: &redb::WriteTransaction, pending: impl IntoIterator<Item = Pending>) -> Result<usize, DetectError> {
        let mut outbox = tx.open_table(OUTBOX).map_err(|e| self.err("cannot open the outbox", e))?;
        let mut seq = outbox
            .last()
            .map_err(|e| self.err("cannot read the outbox", e))?
            .map_or(0, |(k, _)| k.value() + 1);
        let mut n = 0;
        for p in pending {
            let bytes = serde_json::to_vec(&p).unwrap_or_default();
            outbox.insert(seq, bytes.as_slice()).map_err(|e| self.err("cannot write the outbox", e))?;
            seq += 1;
            n += 1;
        }
        Ok(n)
    }

    /// Queues a notification for each channel an alert is to be notified on, was not delivered
    /// to and has none queued (what a correlator taking over must send: the alerts topic is the
    /// outbox of the scale-out shape). Only the channels configured here. Returns how many.
    pub fn requeue_pending(&self) -> Result<usize, DetectError> {
        if self.channels.is_empty() {
            return Ok(0);
        }
        let queued: std::collections::HashSet<(String, String)> = crate::notify::Notifier::pending(self)?
            .into_iter()
            .map(|(_, p)| (p.alert.id, p.channel))
            .collect();
        let (_, all) = self.list(&AlertFilter { limit: usize::MAX, ..Default::default() })?;
        let pending = all.iter().flat_map(|a| {
            a.notify
                .iter()
                .filter(|c| self.channels.contains(c) && !a.notified.contains(c))
                .filter(|c| !queued.contains(&(a.id.clone(), (*c).clone())))
                .map(|c| Pending::new(c, a.clone()))
        });
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let n = self.queue(&tx, pending)?;
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(n)
    }
}
