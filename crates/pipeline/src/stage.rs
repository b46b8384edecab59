//! The pipeline loop: RawBatch in, EventBatch out, order preserved.
//!
//! Parsing runs on tokio's blocking pool, up to `threads` batches at once; `buffered` yields the
//! results in input order, so the positions of one source always reach the store in the order
//! they were read (a later position is never committed before the events before it). Both
//! channels are bounded: when the store is slow, `send` waits, this loop stops pulling, and the
//! sources' own `send` waits in turn.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use loglynx_core::{Event, EventBatch, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::decode::decode;
use crate::error::PipelineError;
use crate::file_rules::{parse_with, FileRules, SourceRules};
use crate::labels::LabelGuard;
use crate::parse::ParseContext;

/// Counters of the pipeline stage, read by the health page and `/metrics`.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    /// Events that carry at least one flag (unparsed, truncated, invalid UTF-8, ...).
    pub flagged: AtomicU64,
    /// Records whose parse or decode panicked (a bug): stored raw, flagged `parse_panic`.
    pub parse_panics: AtomicU64,
    /// The `labels.*` caps and what they dropped.
    pub labels: LabelGuard,
}

impl PipelineStats {
    /// Counters from zero, with the label caps of `[pipeline]`.
    pub fn new(cfg: &loglynx_config::PipelineConfig) -> PipelineStats {
        PipelineStats {
            labels: LabelGuard::new(cfg.max_labels, cfg.max_label_keys),
            ..PipelineStats::default()
        }
    }

    /// [`PipelineStats::new`] with the admitted label keys kept under `data_dir`
    /// (`parse/label_keys.jsonl`), so a restart keeps `max_label_keys`.
    pub fn persisted(cfg: &loglynx_config::PipelineConfig, data_dir: &std::path::Path) -> Result<PipelineStats, PipelineError> {
        let path = data_dir.join("parse").join("label_keys.jsonl");
        Ok(PipelineStats {
            labels: LabelGuard::persisted(cfg.max_labels, cfg.max_label_keys, &path)?,
            ..PipelineStats::default()
        })
    }

    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
            self.flagged.load(Ordering::Relaxed),
        )
    }

    /// Records stored raw because their parse or decode panicked, since start.
    pub fn parse_panics(&self) -> u64 {
        self.parse_panics.load(Ordering::Relaxed)
    }
}

/// Parses and decodes one record: the function the stage runs per record (a parameter so the
/// tests can give it one that panics).
type ParseFn = fn(&RawRecord, &ParseContext, SourceRules<'_>) -> Event;

/// Parses and decodes a batch at once (the fast path, where files learn their timestamp
/// format across lines); a parameter so the tests can give it one that panics.
type BatchFn = fn(&FileRules, &[RawRecord], &ParseContext) -> Vec<Event>;

fn parse_and_decode_batch(rules: &FileRules, records: &[RawRecord], ctx: &ParseContext) -> Vec<Event> {
    let mut events = rules.parse_batch(records, ctx);
    for (e, r) in events.iter_mut().zip(records) {
        // A serialised loglynx event was decoded where it was made.
        if r.hint != FormatHint::Event {
            decode(e);
        }
    }
    events
}

fn parse_and_decode(r: &RawRecord, ctx: &ParseContext, rules: SourceRules<'_>) -> Event {
    let mut e = parse_with(r, ctx, rules);
    // A serialised loglynx event was decoded where it was made.
    if r.hint != FormatHint::Event {
        decode(&mut e);
    }
    e
}

/// The event of a record whose parse panicked: the whole line as the message, the fields every
/// event gets from its record, flagged `parse_panic` and `unparsed`.
fn raw_event(r: &RawRecord, ctx: &ParseContext) -> Event {
    let text = String::from_utf8_lossy(&r.body);
    let line = text.strip_suffix('\r').unwrap_or(&text);
    let mut e = Event::new(line, r.received, r.received, r.id.clone());
    e.host.clone_from(&r.host);
    if let SourceKind::File { path } = r.source.as_ref() {
        e.file_path = Some(path.clone());
    }
    e.flags.parse_panic = true;
    e.flags.unparsed = true;
    e.flags.truncated = r.truncated;
    e.flags.invalid_utf8 = matches!(text, Cow::Owned(_));
    if ctx.keep_original {
        e.original = Some(line.to_string());
    }
    e
}

/// One record, isolated: a panic in `parse` costs this record its fields, never its batch
/// (dropping a batch while later ones advance the source position would lose it for good).
fn parse_isolated(
    r: &RawRecord,
    ctx: &ParseContext,
    rules: SourceRules<'_>,
    parse: ParseFn,
    stats: &PipelineStats,
) -> Event {
    match catch_unwind(AssertUnwindSafe(|| parse(r, ctx, rules))) {
        Ok(e) => e,
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            stats.parse_panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                event_id = %r.id,
                panic = %why,
                "parser panicked on a record: stored raw and flagged parse_panic (a bug, please report the line)"
            );
            raw_event(r, ctx)
        }
    }
}

/// Runs on each parsed batch on the parse threads, in parallel with other batches: patterns give
/// each event its `pattern.id` (and may append new-pattern events), detection tags the events
/// with the rules they match (the stateless half of detection).
pub type BatchHook = Arc<dyn Fn(&mut Vec<Event>) + Send + Sync>;

fn parse_batch(
    batch: RawBatch,
    keep_original: bool,
    rules: &FileRules,
    (batch_fn, parse): (BatchFn, ParseFn),
    stats: &PipelineStats,
    hook: Option<&BatchHook>,
) -> EventBatch {
    let ctx = ParseContext { now: Timestamp::now(), keep_original, utc_offset_secs: 0 };
    // The batch at once (files learn their timestamp format across lines); if that panics
    // (a bug), again record by record so only the record that panics is stored raw.
    let mut events = match catch_unwind(AssertUnwindSafe(|| batch_fn(rules, &batch.records, &ctx))) {
        Ok(events) => events,
        Err(_) => {
            batch
                .records
                .iter()
                .map(|r| parse_isolated(r, &ctx, rules.rules_of(r), parse, stats))
                .collect()
        }
    };
    // Field explosion: before the hook, which may append events of its own.
    for (e, r) in events.iter_mut().zip(&batch.records) {
        stats.labels.apply(e, r);
    }
    if let Some(origin) = &batch.kafka {
        origin.stamp(&mut events);
    }
    if let Some(hook) = hook {
        // A panic in the hook (rule matching) costs the batch its tags, never its events.
        if catch_unwind(AssertUnwindSafe(|| hook(&mut events))).is_err() {
            stats.parse_panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!("rule matching panicked on a batch: its events are stored without rule tags (a bug, please report it)");
            for e in &mut events {
                e.rule_ids.clear();
                e.rule_names.clear();
            }
        }
    }
    let flagged = events.iter().filter(|e| e.flags.any()).count() as u64;
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.events.fetch_add(events.len() as u64, Ordering::Relaxed);
    stats.flagged.fetch_add(flagged, Ordering::Relaxed);
    EventBatch { events, checkpoint: batch.checkpoint, ack: batch.ack }
}

/// Starts the pipeline stage. It ends when `rx` is closed and drained, dropping `tx` so the
/// store writer sees the end of input too; or early, with [`PipelineError::DownstreamClosed`],
/// when the store writer stops taking batches.
pub fn spawn_pipeline(
    rx: mpsc::Receiver<RawBatch>,
    tx: mpsc::Sender<EventBatch>,
    threads: usize,
    keep_original: bool,
    rules: Arc<FileRules>,
    stats: Arc<PipelineStats>,
    hook: Option<BatchHook>,
) -> JoinHandle<Result<(), PipelineError>> {
    spawn_stage(rx, tx, threads, keep_original, rules, (parse_and_decode_batch, parse_and_decode), stats, hook)
}

// The stage's parts, each given once by its two callers.
#[allow(clippy::too_many_arguments)]
fn spawn_stage(
    mut rx: mpsc::Receiver<RawBatch>,
    tx: mpsc::Sender<EventBatch>,
    threads: usize,
    keep_original: bool,
    rules: Arc<FileRules>,
    parse: (BatchFn, ParseFn),
    stats: Arc<PipelineStats>,
    hook: Option<BatchHook>,
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
                let hook = hook.clone();
                let rules = rules.clone();
                // The blocking pool's threads have the short slice that lets a waking search
                // preempt; parsing, hundreds of µs to ms of CPU a batch, takes the kernel's.
                tokio::task::spawn_blocking(move || {
                    loglynx_core::sched::with_default_slice(|| {
                        parse_batch(batch, keep_original, &rules, parse, &stats, hook.as_ref())
                    })
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
                // Panics are caught per record, so only a cancelled task (the runtime shutting
                // down) gets here. Passing on later batches would advance their sources'
                // positions past this one's records: stop instead, so they are read again.
                Err(source) => {
                    let e = PipelineError::ParseTask { source };
                    tracing::error!("{e}");
                    return Err(e);
                }
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
            kafka: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn regression_issue_11_label_keys_are_capped_per_event_and_overall() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, mut out_rx) = mpsc::channel(4);
        let cfg: loglynx_config::PipelineConfig =
            toml::from_str("max_labels = 3\nmax_label_keys = 4\n").unwrap();
        let stats = Arc::new(PipelineStats::new(&cfg));
        let h = spawn_pipeline(in_rx, out_tx, 2, false, Default::default(), stats.clone(), None);
        let src = Arc::new(SourceKind::Http { endpoint: "ingest".into() });
        let record = |i: usize, body: String| RawRecord {
            body: body.into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: src.clone(),
            host: None,
            received: Timestamp::now(),
            id: format!("id{i}"),
        };
        // Five made-up keys in one event, then new keys in each of ten events.
        let mut records = vec![record(0, r#"{"message":"m","k1":"1","k2":"2","k3":"3","k4":"4","k5":"5"}"#.into())];
        records.extend((1..=10).map(|i| record(i, format!(r#"{{"message":"n","fresh{i}":"x"}}"#))));
        in_tx.send(RawBatch { records, checkpoint: vec![], ack: None, kafka: None }).await.unwrap();
        drop(in_tx);
        let b = out_rx.recv().await.unwrap();
        h.await.unwrap().unwrap();
        let first = &b.events[0];
        assert_eq!(first.labels.keys().collect::<Vec<_>>(), ["k1", "k2", "k3"]);
        assert!(first.flags.labels_capped);
        assert!(first.original.as_deref().unwrap().contains("\"k5\":\"5\""), "the raw line keeps them");
        // k1..k3 and fresh1 fill the four keys; fresh2.. are dropped.
        assert_eq!(b.events[1].labels.len(), 1);
        assert!(!b.events[1].flags.labels_capped);
        for e in &b.events[2..] {
            assert!(e.labels.is_empty() && e.flags.labels_capped, "{e:?}");
        }
        assert_eq!(stats.labels.dropped.load(Ordering::Relaxed), 2 + 9);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn regression_issue_11_label_key_cap_survives_a_restart() {
        let data = tempfile::tempdir().unwrap();
        let cfg: loglynx_config::PipelineConfig =
            toml::from_str("max_labels = 10\nmax_label_keys = 4\n").unwrap();
        let src = Arc::new(SourceKind::Http {
            endpoint: "ingest".into(),
        });
        // one pipeline's life: the batch's events out, and its counters
        let run = |bodies: Vec<String>| {
            let stats = Arc::new(PipelineStats::persisted(&cfg, data.path()).unwrap());
            let src = src.clone();
            async move {
                let (in_tx, in_rx) = mpsc::channel(4);
                let (out_tx, mut out_rx) = mpsc::channel(4);
                let h = spawn_pipeline(
                    in_rx,
                    out_tx,
                    2,
                    false,
                    Default::default(),
                    stats.clone(),
                    None,
                );
                let records = bodies
                    .into_iter()
                    .enumerate()
                    .map(|(i, body)| RawRecord {
                        body: body.into_bytes(),
                        truncated: false,
                        hint: FormatHint::Auto,
                        source: src.clone(),
                        host: None,
                        received: Timestamp::now(),
                        id: format!("id{i}"),
                    })
                    .collect();
                in_tx
                    .send(RawBatch {
                        records,
                        checkpoint: vec![],
                        ack: None,
                        kafka: None,
                    })
                    .await
                    .unwrap();
                drop(in_tx);
                let b = out_rx.recv().await.unwrap();
                h.await.unwrap().unwrap();
                (b.events, stats.labels.dropped.load(Ordering::Relaxed))
            }
        };
        // up to the cap
        let (events, dropped) = run((1..=4)
            .map(|i| format!(r#"{{"message":"m","key{i}":"v"}}"#))
            .collect())
        .await;
        assert!(events
            .iter()
            .all(|e| e.labels.len() == 1 && !e.flags.labels_capped));
        assert_eq!(dropped, 0);
        // the restart: new keys stay in the raw event and are counted; known keys still index
        let (events, dropped) = run(vec![
            r#"{"message":"n","other1":"x","key2":"y"}"#.into(),
            r#"{"message":"n","other2":"x"}"#.into(),
        ])
        .await;
        assert_eq!(events[0].labels.keys().collect::<Vec<_>>(), ["key2"]);
        assert!(events[0].flags.labels_capped);
        assert!(events[0]
            .original
            .as_deref()
            .unwrap()
            .contains(r#""other1":"x""#));
        assert!(events[1].labels.is_empty() && events[1].flags.labels_capped);
        assert!(events[1]
            .original
            .as_deref()
            .unwrap()
            .contains(r#""other2":"x""#));
        assert_eq!(dropped, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_come_out_in_order_with_their_positions() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, mut out_rx) = mpsc::channel(4);
        let stats = Arc::new(PipelineStats::default());
        let h = spawn_pipeline(in_rx, out_tx, 4, false, Default::default(), stats.clone(), None);
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

    #[test]
    fn events_of_a_kafka_batch_carry_their_partition_and_offset() {
        let mut b = batch(3, 0);
        b.kafka = Some(loglynx_core::KafkaOrigin { partition: 2, offsets: vec![40, 41, 43] });
        let rules = FileRules::default();
        let stats = PipelineStats::default();
        let hook: BatchHook = Arc::new(|events: &mut Vec<Event>| {
            // An event the pipeline adds (a new pattern) comes from no record.
            events.push(Event::new("derived", Timestamp(1), Timestamp(1), "p".into()));
        });
        let out = parse_batch(
            b,
            false,
            &rules,
            (parse_and_decode_batch, parse_and_decode),
            &stats,
            Some(&hook),
        );
        let at: Vec<_> = out.events.iter().map(|e| (e.kafka_partition, e.kafka_offset)).collect();
        assert_eq!(at, vec![(Some(2), Some(40)), (Some(2), Some(41)), (Some(2), Some(43)), (None, None)]);
        // Other sources: none.
        let out = parse_batch(batch(1, 0), false, &rules, (parse_and_decode_batch, parse_and_decode), &stats, None);
        assert_eq!(out.events[0].kafka_offset, None);
    }

    /// The real parser, except that a line containing `boom` panics, as a parser bug would.
    fn panicking_parser(r: &RawRecord, ctx: &ParseContext, rules: SourceRules<'_>) -> Event {
        if r.body.windows(4).any(|w| w == b"boom") {
            panic!("injected parser bug");
        }
        parse_and_decode(r, ctx, rules)
    }

    /// The batch path with the same bug: it panics on the batch, so the stage parses the
    /// batch again record by record.
    fn panicking_batch(rules: &FileRules, records: &[RawRecord], ctx: &ParseContext) -> Vec<Event> {
        if records.iter().any(|r| r.body.windows(4).any(|w| w == b"boom")) {
            panic!("injected parser bug");
        }
        parse_and_decode_batch(rules, records, ctx)
    }

    /// Issue 11: a panic in the parser dropped its whole batch while the batches after it
    /// advanced the source position past it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn regression_issue_11_a_parser_panic_costs_one_records_fields_never_its_batch() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, mut out_rx) = mpsc::channel(4);
        let stats = Arc::new(PipelineStats::default());
        let h = spawn_stage(
            in_rx,
            out_tx,
            2,
            false,
            Default::default(),
            (panicking_batch, panicking_parser),
            stats.clone(),
            None,
        );
        let feeder = tokio::spawn(async move {
            for i in 0..6u64 {
                let mut b = batch(5, i * 100);
                if i % 2 == 1 {
                    // Records 1 and 3 of every other batch hit the bug.
                    for j in [1, 3] {
                        b.records[j].body = format!("<13>Oct 11 22:14:15 web1 app[7]: boom {}\r", i * 100 + j as u64)
                            .into_bytes();
                    }
                }
                in_tx.send(b).await.unwrap();
            }
        });
        let mut positions = Vec::new();
        let mut events = Vec::new();
        while let Some(b) = out_rx.recv().await {
            positions.push(b.checkpoint[0].1);
            events.extend(b.events);
        }
        feeder.await.unwrap();
        h.await.unwrap().unwrap();

        assert_eq!(positions, vec![5, 105, 205, 305, 405, 505], "every batch, in order");
        let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
        let want: Vec<_> = (0..6u64).flat_map(|i| (0..5).map(move |j| format!("id{}", i * 100 + j))).collect();
        assert_eq!(ids, want, "every record of every batch, in order");
        for (n, e) in events.iter().enumerate() {
            let (i, j) = ((n / 5) as u64, n % 5);
            if i % 2 == 1 && (j == 1 || j == 3) {
                assert_eq!(e.message, format!("<13>Oct 11 22:14:15 web1 app[7]: boom {}", i * 100 + j as u64));
                assert_eq!(e.flags.names(), vec!["unparsed", "parse_panic"]);
                assert_eq!(e.host.as_deref(), Some("h"));
                assert_eq!(e.file_path.as_deref(), Some("/var/log/x.log"));
            } else {
                assert!(!e.flags.any(), "{e:?}");
                assert_eq!(e.process_name.as_deref(), Some("app"), "parsed as usual");
            }
        }
        assert_eq!(stats.parse_panics(), 6);
        assert_eq!(stats.snapshot(), (6, 30, 6));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_writer_ends_the_stage_with_an_error_not_silently() {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, out_rx) = mpsc::channel(1);
        drop(out_rx);
        let h = spawn_pipeline(in_rx, out_tx, 2, false, Default::default(), Arc::new(PipelineStats::default()), None);
        in_tx.send(batch(3, 0)).await.unwrap();
        drop(in_tx);
        let e = h.await.unwrap().unwrap_err();
        assert!(matches!(e, PipelineError::DownstreamClosed), "{e}");
        assert!(e.to_string().contains("store writer"), "{e}");
    }
}
