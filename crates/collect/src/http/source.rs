//! [`HttpSource`]: the HTTP source's settings and its three steps (frame a line body, frame a
//! bulk body, submit the records and wait until they are durable).

use std::fmt;
use std::time::Duration;

use loglynx_core::{RawBatch, RawRecord};
use tokio::sync::mpsc;

use crate::error::CollectError;
use crate::http::bulk::{frame_bulk, Bulk};
use crate::http::lines::{frame_lines, LineFormat, Lines};
use crate::http::submit::{submit, Refuse};

/// Lines longer than this (text lines) are cut and flagged `truncated`, like file lines.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// How long a request waits for its batches to be durable.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request waits for room in the full ingest queue (the pipeline, store or Kafka
/// producer is behind) before it is refused with [`CollectError::QueueFull`].
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// The limits and waits of the HTTP source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Longest text line kept whole; longer lines are truncated and flagged.
    pub max_line: usize,
    /// How long a request waits for room in a full ingest queue.
    pub queue_wait: Duration,
    /// How long a request waits for the acks of its batches.
    pub ack_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_line: DEFAULT_MAX_LINE,
            queue_wait: DEFAULT_QUEUE_WAIT,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
        }
    }
}

/// The HTTP source, independent of the transport: it takes request bodies (already read and
/// decompressed), frames them into records and sends them into the bounded ingest queue,
/// answering once they are durable. Cheap to clone.
///
/// ```no_run
/// # async fn demo(queue: tokio::sync::mpsc::Sender<loglynx_core::RawBatch>) {
/// use loglynx_collect::http::{HttpSettings, HttpSource, LineFormat};
///
/// let source = HttpSource::new(queue, "myhost".into(), HttpSettings::default(), None);
/// let format = LineFormat::from_content_type(Some("application/x-ndjson")).unwrap();
/// let lines = source.lines(b"{\"message\":\"hello\"}\n[1]\n", format, None);
/// assert_eq!(lines.rejected_count, 1);
/// source.submit(lines.records).await.unwrap(); // durable now
/// # }
/// ```
#[derive(Clone)]
pub struct HttpSource {
    queue: mpsc::Sender<RawBatch>,
    host: String,
    settings: HttpSettings,
    refuse: Option<Refuse>,
}

impl HttpSource {
    /// A source sending into `queue` (each batch carries an ack the request waits for: the
    /// store's commit under `run`, the Kafka delivery under `agent`). `host` is this machine's
    /// name, given to the records as the receiving host. `refuse` is asked before each request's
    /// records are sent.
    pub fn new(
        queue: mpsc::Sender<RawBatch>,
        host: String,
        settings: HttpSettings,
        refuse: Option<Refuse>,
    ) -> HttpSource {
        HttpSource {
            queue,
            host,
            settings,
            refuse,
        }
    }

    /// The receiving host given to this source's records.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Frames a line body (NDJSON or text; see [`LineFormat`]). `stream` names the stream the
    /// lines belong to (`?stream=` of the request; checked by the caller with
    /// [`crate::http::valid_stream`]): its records' endpoint is `ingest/STREAM`, so the parser
    /// learns its structure apart from other streams and `[[http.layouts]]` can name it.
    pub fn lines(&self, body: &[u8], format: LineFormat, stream: Option<&str>) -> Lines {
        frame_lines(body, format, &self.host, self.settings.max_line, stream)
    }

    /// Frames an Elasticsearch `_bulk` body; `path_index` is the index named in the URL path.
    /// A body without a single item is [`CollectError::EmptyBulk`].
    pub fn bulk(&self, body: &[u8], path_index: Option<&str>) -> Result<Bulk, CollectError> {
        frame_bulk(body, path_index, &self.host)
    }

    /// Sends `records` into the ingest queue and waits until they are durable. Errors:
    /// [`CollectError::Refused`] and [`CollectError::QueueFull`] (nothing was taken: send the
    /// request again after `retry_after` seconds), [`CollectError::Closed`],
    /// [`CollectError::NotDurable`], [`CollectError::AckDropped`] and
    /// [`CollectError::AckTimeout`] (retry: the records may be stored twice).
    pub async fn submit(&self, records: Vec<RawRecord>) -> Result<(), CollectError> {
        submit(
            &self.queue,
            records,
            self.settings.queue_wait,
            self.settings.ack_timeout,
            self.refuse.as_ref(),
        )
        .await
    }
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSource")
            .field("host", &self.host)
            .field("settings", &self.settings)
            .field("refuse", &self.refuse.is_some())
            .finish_non_exhaustive()
    }
}
