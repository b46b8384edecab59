//! Sending a request's records into the bounded ingest queue and waiting until they are durable.
//!
//! Room for every batch of the request is reserved first, waiting at most the queue wait, so a
//! [`CollectError::QueueFull`] means nothing of the request was taken: the client resends it
//! whole. Each batch carries an ack; the request is done when every ack fired (the store's
//! commit under `run`, the Kafka delivery or the agent's disk buffer under `agent`). If an ack
//! fails or does not come within the ack timeout the batches acknowledged before are stored, so
//! a retry may store them again (at-least-once for HTTP).

use std::sync::Arc;
use std::time::Duration;

use loglynx_core::{ack_channel, RawBatch, RawRecord};
use tokio::sync::mpsc;

use crate::error::CollectError;

/// Records per batch sent into the pipeline.
pub const BATCH_RECORDS: usize = 16_384;

/// Asked before a request's records are sent: `Some(reason)` refuses the request at once
/// ([`CollectError::Refused`]; the agent: its disk buffer is full while the brokers are away,
/// so a batch sent now would wait for them).
pub type Refuse = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Sends `records` into `queue` and waits for their acks (see the module doc).
pub(crate) async fn submit(
    queue: &mpsc::Sender<RawBatch>,
    records: Vec<RawRecord>,
    queue_wait: Duration,
    ack_timeout: Duration,
    refuse: Option<&Refuse>,
) -> Result<(), CollectError> {
    if records.is_empty() {
        return Ok(());
    }
    let retry_after = queue_wait.as_secs().max(1);
    if let Some(reason) = refuse.and_then(|f| f()) {
        return Err(CollectError::Refused {
            reason,
            retry_after,
        });
    }
    let batches = split(records, queue.max_capacity());
    let permits = match tokio::time::timeout(queue_wait, queue.reserve_many(batches.len())).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(CollectError::Closed),
        Err(_) => return Err(CollectError::QueueFull { retry_after }),
    };
    let mut acks = Vec::with_capacity(batches.len());
    for (permit, chunk) in permits.zip(batches) {
        let (ack, done) = ack_channel();
        permit.send(RawBatch {
            records: chunk,
            checkpoint: Vec::new(),
            ack: Some(ack),
            kafka: None,
        });
        acks.push(done);
    }
    let wait = async {
        for done in acks {
            match done.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(CollectError::NotDurable(e)),
                Err(_) => return Err(CollectError::AckDropped),
            }
        }
        Ok(())
    };
    match tokio::time::timeout(ack_timeout, wait).await {
        Ok(r) => r,
        Err(_) => Err(CollectError::AckTimeout(ack_timeout)),
    }
}

/// Cuts records into batches of [`BATCH_RECORDS`], or bigger ones when that would make more
/// batches than the queue holds (a request must fit in the queue at once).
fn split(records: Vec<RawRecord>, queue_capacity: usize) -> Vec<Vec<RawRecord>> {
    let n = records
        .len()
        .div_ceil(BATCH_RECORDS)
        .clamp(1, queue_capacity.max(1));
    let per = records.len().div_ceil(n).max(1);
    let mut out = Vec::with_capacity(n);
    let mut iter = records.into_iter().peekable();
    while iter.peek().is_some() {
        out.push(iter.by_ref().take(per).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use loglynx_core::{AckError, FormatHint, SourceKind, Timestamp};

    use super::*;
    use crate::http::lines::new_event_id;

    fn record(i: usize) -> RawRecord {
        RawRecord {
            body: i.to_string().into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::Http {
                endpoint: "ingest".into(),
            }),
            host: None,
            received: Timestamp::now(),
            id: new_event_id(),
        }
    }

    fn records(n: usize) -> Vec<RawRecord> {
        (0..n).map(record).collect()
    }

    #[test]
    fn split_never_makes_more_batches_than_the_queue_holds() {
        let sizes = |n: usize, cap: usize| -> Vec<usize> {
            split((0..n).map(record).collect(), cap)
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(3, 16), vec![3]);
        // Three even batches, none over BATCH_RECORDS.
        assert_eq!(
            sizes(BATCH_RECORDS * 2 + 1, 16),
            vec![(BATCH_RECORDS * 2 + 1) / 3; 3]
        );
        assert_eq!(sizes(BATCH_RECORDS * 2 + 1, 1), vec![BATCH_RECORDS * 2 + 1]);
        assert_eq!(
            sizes(BATCH_RECORDS * 3, 2),
            vec![BATCH_RECORDS * 3 / 2, BATCH_RECORDS * 3 / 2]
        );
    }

    const WAIT: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn waits_for_every_ack() {
        let (tx, mut rx) = mpsc::channel::<RawBatch>(4);
        let consumer = tokio::spawn(async move {
            let mut n = 0;
            while let Some(b) = rx.recv().await {
                n += b.records.len();
                let _ = b.ack.unwrap().send(Ok(()));
            }
            n
        });
        submit(&tx, records(BATCH_RECORDS + 1), WAIT, WAIT * 10, None)
            .await
            .unwrap();
        submit(&tx, Vec::new(), WAIT, WAIT, None).await.unwrap();
        drop(tx);
        assert_eq!(consumer.await.unwrap(), BATCH_RECORDS + 1);
    }

    #[tokio::test]
    async fn a_full_queue_takes_nothing() {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(RawBatch::default()).await.unwrap();
        let e = submit(&tx, records(3), WAIT, WAIT, None).await.unwrap_err();
        assert!(
            matches!(e, CollectError::QueueFull { retry_after: 1 }),
            "{e}"
        );
        assert!(e
            .to_string()
            .contains("nothing of this request was accepted"));
        assert!(rx.recv().await.unwrap().records.is_empty());
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn refusal_closed_queue_and_failed_acks_are_told_apart() {
        let (tx, mut rx) = mpsc::channel::<RawBatch>(4);
        let refuse: Refuse = Arc::new(|| Some("the disk buffer is full".into()));
        let e = submit(&tx, records(1), WAIT, WAIT, Some(&refuse))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the disk buffer is full: nothing of this request was accepted, send it again in 1s"
        );
        assert!(rx.try_recv().is_err());

        let acker = tokio::spawn(async move {
            let b = rx.recv().await.unwrap();
            let _ = b.ack.unwrap().send(Err(AckError("disk full".into())));
            drop(rx.recv().await.unwrap()); // dropped without an ack
            let unanswered = rx.recv().await.unwrap(); // kept, never acknowledged
            (rx, unanswered)
        });
        let e = submit(&tx, records(1), WAIT, WAIT * 10, None)
            .await
            .unwrap_err();
        assert!(matches!(e, CollectError::NotDurable(_)), "{e}");
        assert_eq!(
            e.to_string(),
            "the events could not be made durable (disk full): retry the request"
        );
        let e = submit(&tx, records(1), WAIT, WAIT * 10, None)
            .await
            .unwrap_err();
        assert!(matches!(e, CollectError::AckDropped), "{e}");
        let e = submit(&tx, records(1), WAIT, WAIT, None).await.unwrap_err();
        assert!(matches!(e, CollectError::AckTimeout(_)), "{e}");
        drop(acker.await.unwrap());
        let e = submit(&tx, records(1), WAIT, WAIT, None).await.unwrap_err();
        assert!(matches!(e, CollectError::Closed), "{e}");
    }
}
