//! [`JournaldSource`]: reads the journal on a thread of its own (an `sd_journal` handle stays on
//! the thread that opened it) and sends batches into the bounded channel with a blocking send,
//! so a slow store slows the reading down.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use loglynx_config::JournaldConfig;
use loglynx_core::{positioned_id, Checkpoint, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use systemd::journal::{Journal, OpenDirectoryOptions, OpenOptions};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::cursor::{self, Resume};
use super::map;
use crate::CollectError;

/// How long the reader waits for new entries before it checks for shutdown again.
const POLL: Duration = Duration::from_millis(250);
/// `labels.source` of journal events.
pub const SOURCE_NAME: &str = loglynx_core::JOURNALD_SOURCE;

/// The systemd journal as a source: follows it from the store's checkpoint until shutdown.
pub struct JournaldSource {
    cfg: JournaldConfig,
    host: String,
    checkpoint: Checkpoint,
    tx: mpsc::Sender<RawBatch>,
}

impl JournaldSource {
    /// A source reading what `cfg` says, resuming after the positions of `checkpoint`; `host`
    /// names the receiving machine. Fails when `journald.directory` is not a directory.
    pub fn new(
        cfg: JournaldConfig,
        host: String,
        checkpoint: Checkpoint,
        tx: mpsc::Sender<RawBatch>,
    ) -> Result<Self, CollectError> {
        if let Some(dir) = &cfg.directory {
            if !dir.is_dir() {
                return Err(CollectError::Config(format!(
                    "journald.directory {} is not a directory: give the folder that holds the *.journal files",
                    dir.display()
                )));
            }
        }
        Ok(JournaldSource { cfg, host, checkpoint, tx })
    }

    /// Reads until `shutdown` is cancelled or the channel's receiver is gone. Fails when the
    /// journal cannot be opened or read.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), CollectError> {
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("journald".into())
            .spawn(move || {
                // Started from a runtime thread: the kernel's slice, not the short one of
                // threads that answer requests (`loglynx_core::sched`).
                let _ = loglynx_core::sched::set_slice(None);
                let _ = done_tx.send(self.read(&shutdown));
            })
            .map_err(|source| CollectError::Io {
                context: "cannot start the journald reader thread".into(),
                source,
            })?;
        done_rx
            .await
            .map_err(|_| CollectError::Task("the journald reader thread ended without a result".into()))?
    }

    /// The reading loop (on its own thread).
    fn read(self, shutdown: &CancellationToken) -> Result<(), CollectError> {
        let mut j = self.open()?;
        let (at, mut next) = cursor::resume(&self.checkpoint, self.cfg.start_at);
        match &at {
            Resume::Head => j.seek_head().map_err(io("cannot seek to the journal's head"))?,
            Resume::Tail => {
                j.seek_tail().map_err(io("cannot seek to the journal's tail"))?;
                // On the last entry, so that the next one read is the first new one.
                j.previous().map_err(io("cannot read the journal"))?;
            }
            Resume::Cursor(c) => j.seek_cursor(c.as_str()).map_err(io("cannot seek to the stored journal position"))?,
        }
        tracing::info!(resume = ?at, directory = ?self.cfg.directory, "reading the journal");
        let source = Arc::new(SourceKind::Other { name: SOURCE_NAME.into() });
        let max_value = usize::try_from(self.cfg.max_value.0).unwrap_or(usize::MAX);
        let mut bad_cursors = 0u64;
        while !shutdown.is_cancelled() {
            let mut records = Vec::new();
            let mut advanced: HashMap<String, u64> = HashMap::new();
            while records.len() < self.cfg.batch_entries {
                if j.next().map_err(io("cannot read the next journal entry"))? == 0 {
                    break;
                }
                let c = j.cursor().map_err(io("cannot read a journal entry's cursor"))?;
                let Some(pos) = cursor::parse_cursor(&c) else {
                    bad_cursors += 1;
                    if bad_cursors == 1 {
                        tracing::warn!(cursor = %c, "journal entry without a sequence number skipped");
                    }
                    continue;
                };
                if next.get(&pos.seqnum_id).is_some_and(|n| pos.seqnum < *n) {
                    continue; // stored already
                }
                let realtime = j.timestamp_usec().map_err(io("cannot read a journal entry's time"))?;
                let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                j.restart_data();
                while let Some(f) = j.enumerate_data().map_err(io("cannot read a journal entry's fields"))? {
                    fields.push((f.name().to_vec(), f.value().unwrap_or_default().to_vec()));
                }
                let m = map::map_entry(
                    fields.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
                    realtime,
                    max_value,
                );
                let key = pos.key();
                records.push(RawRecord {
                    body: m.body,
                    truncated: m.truncated,
                    hint: FormatHint::Json,
                    source: source.clone(),
                    host: Some(self.host.clone()),
                    received: Timestamp::now(),
                    id: positioned_id(&key, pos.seqnum),
                });
                next.insert(pos.seqnum_id, pos.seqnum + 1);
                advanced.insert(key, pos.seqnum + 1);
            }
            let full = records.len() >= self.cfg.batch_entries;
            if !records.is_empty() {
                let batch = RawBatch {
                    records,
                    checkpoint: advanced.into_iter().collect(),
                    ack: None,
                    kafka: None,
                };
                if self.tx.blocking_send(batch).is_err() {
                    return Ok(()); // the pipeline is gone: shutting down
                }
            }
            if !full {
                j.wait(Some(POLL)).map_err(io("cannot wait for new journal entries"))?;
            }
        }
        Ok(())
    }

    /// Opens the journal of `journald.directory`, else this machine's, with the unit filter.
    fn open(&self) -> Result<Journal, CollectError> {
        let mut j = match &self.cfg.directory {
            Some(dir) => open_directory(dir)?,
            None => {
                let j = OpenOptions::default()
                    .system(true)
                    .current_user(true)
                    .local_only(true)
                    .open()
                    .map_err(io("cannot open the systemd journal"))?;
                let any = j.has_persistent_files().unwrap_or(false) || j.has_runtime_files().unwrap_or(false);
                if !any {
                    tracing::warn!(
                        "no journal files readable: is systemd-journald running here? run loglynx as root or in the systemd-journal group, or set journald.directory"
                    );
                }
                j
            }
        };
        let threshold = usize::try_from(self.cfg.max_value.0).unwrap_or(usize::MAX).saturating_add(256);
        j.set_data_threshold(threshold)
            .map_err(io("cannot set the journal's field size limit"))?;
        for (i, unit) in self.cfg.units.iter().enumerate() {
            if i > 0 {
                j.match_or().map_err(io("cannot filter the journal by unit"))?;
            }
            j.match_add("_SYSTEMD_UNIT", unit.as_str())
                .map_err(io("cannot filter the journal by unit"))?;
        }
        Ok(j)
    }
}

fn open_directory(dir: &Path) -> Result<Journal, CollectError> {
    let path = dir.to_string_lossy().into_owned();
    OpenDirectoryOptions::default()
        .open_directory(path.as_str())
        .map_err(|e| CollectError::Io {
            context: format!("cannot open the journal directory {}", dir.display()),
            source: e.into(),
        })
}

/// Maps a libsystemd error to [`CollectError::Io`] with `context`.
fn io(context: &'static str) -> impl Fn(systemd::Error) -> CollectError {
    move |e| CollectError::Io {
        context: context.into(),
        source: e.into(),
    }
}
