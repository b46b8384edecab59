//! The pipeline loop: RawBatch in, EventBatch out, order preserved.
//!
//! Parsing runs on tokio's blocking pool, up to `threads` batches at once; `buffered` yields the
//! results in input order, so the positions of one source always reach the store in the order
//! they were read (a later position is never committed before the events before it). Both
//! channels are bounded: when the store is slow, `send` waits, this loop stops pulling, and the
//! sources' own `send` waits in turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use loglynx_core::{EventBatch, FormatHint, RawBatch, Timestamp};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::decode::decode;
use crate::error::PipelineError;
use crate::parse::ParseContext;
use crate::file_rules::FileRules;

/// Counters of the pipeline stage, read by the health page and `/metrics`.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    /// Events that carry at least one flag (unparsed, truncated, invalid UTF-8, ...).
    pub flagged: AtomicU64,
}

impl PipelineStats {
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
            self.flagged.load(Ordering::Relaxed),
        )
    }
}

fn parse_batch(
    batch: RawBatch,
    keep_original: bool,
    rules: &FileRules,
    stats: &PipelineStats,
) -> EventBatch {
    let ctx = ParseContext { now: Timestamp::now(), keep_original, utc_offset_secs: 0 };
    let mut events = rules.parse_batch(&batch.records, &ctx);
    for (e, r) in events.iter_mut().zip(&batch.records) {
        // A serialised loglynx event was decoded where it was made.
        if r.hint != FormatHint::Event {
            decode(e);
        }
    }
    let flagged = events.iter().filter(|e| e.flags.any()).count() as u64;
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.events.fetch_add(events.len() as u64, Ordering::Relaxed);
    stats.flagged.fetch_add(flagged, Ordering::Relaxed);
    EventBatch { events, checkpoint: batch.checkpoint, ack: batch.ack }
}

/// Starts the pipeline stage; `rules` gives file sources' zones and layouts (`[files]`). It
/// ends when `rx` is closed and drained, dropping `tx` so the
/// store writer sees the end of input too; or early, with [`PipelineError::DownstreamClosed`],
/// when the store writer stops taking batches.
pub fn spawn_pipeline(
    mut rx: mpsc::Receiver<RawBatch>,
    tx: mpsc::Sender<EventBatch>,
    threads: usize,
    keep_original: bool,
    rules: Arc<FileRules>,
    stats: Arc<PipelineStats>,
) -> JoinHandle<Result<(), PipelineError>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
    } else {
        threads
    };
    tokio::spawn(async move {
        let input = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut parsed = input
            .map(|batch| {
                let stats = stats.clone();
                let rules = rules.clone();
                tokio::task::spawn_blocking(move || {
                    parse_batch(batch, keep_original, &rules, &stats)
                })
            })
            .buffered(threads);
        while let Some(res) = parsed.next().await {
            match res {
                Ok(batch) => {
                    if tx.send(batch).await.is_err() {
                        // This batch and the ones still being parsed are not delivered: their
                        // positions and acks never advance, so they are read or sent again.
                        let e = PipelineError::DownstreamClosed;
                        tracing::error!("{e}");
                        return Err(e);
                    }
                }
                // A panic in the parser is a bug; the batch's ack is dropped, so an HTTP client
                // gets an error instead of a false success, and the file position is not advanced.
                Err(e) => tracing::error!(error = %e, "parser task failed: batch dropped"),
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use loglynx_core::{FormatHint, RawRecord, SourceKind};

    use super::*;

    fn batch(n: usize, first: u64) -> RawBatch {
        let src = Arc::new(SourceKind::File { path: "/var/log/x.log".into() });
        RawBatch {
            records: (0..n)
                .map(|i| RawRecord {
                    body: format!("<13>Oct 11 22:14:15 web1 app[7]: line {}", first + i as u64).into_bytes(),
                    truncated: false,
                    hint: FormatHint::Auto,
                    source: src.clone(),
                    host: Some("h".into()),
                    received: Timestamp::now(),
                    id: format!("id{}", first + i as u64),
                })
                .collect(),
            checkpoint: vec![("file:1:1:0".into(), first + n as u64)],
            ack: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_come_out_in_order_with_their_positions() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, mut out_rx) = mpsc::channel(4);
        let stats = Arc::new(PipelineStats::default());
        let h = spawn_pipeline(in_rx, out_tx, 4, false, Default::default(), stats.clone());
        let feeder = tokio::spawn(async move {
            for i in 0..50u64 {
                in_tx.send(batch(10 + (i as usize % 7), i * 100)).await.unwrap();
            }
        });
        let mut last = 0;
        let mut n = 0;
        while let Some(b) = out_rx.recv().await {
            let pos = b.checkpoint[0].1;
            assert!(pos > last, "positions must arrive in order");
            last = pos;
            assert_eq!(b.events[0].id, format!("id{}", (n as u64) * 100));
            n += 1;
        }
        feeder.await.unwrap();
        h.await.unwrap().unwrap();
        assert_eq!(n, 50);
        assert_eq!(stats.snapshot().0, 50);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_writer_ends_the_stage_with_an_error_not_silently() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, out_rx) = mpsc::channel(1);
        drop(out_rx);
        let h = spawn_pipeline(in_rx, out_tx, 2, false, Default::default(), Arc::new(PipelineStats::default()));
        in_tx.send(batch(3, 0)).await.unwrap();
        drop(in_tx);
        let e = h.await.unwrap().unwrap_err();
        assert!(matches!(e, PipelineError::DownstreamClosed), "{e}");
        assert!(e.to_string().contains("store writer"), "{e}");
    }
}
