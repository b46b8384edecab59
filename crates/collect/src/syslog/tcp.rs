//! Syslog over TCP: bounded accept, one task per connection, framing per [`super::framing`].

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use loglynx_core::{RawBatch, SourceKind};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::framing::{Frame, FrameDecoder};
use super::{add, deliver, deliver_now, record, Batcher, Settings};

/// Bytes read from a connection at once.
const READ_BUF: usize = 64 << 10;

/// Accepts connections until `stop`, at most `max_connections` at once (further ones wait in
/// the listen backlog), then waits for the open connections to end.
pub(super) async fn serve(
    listener: TcpListener,
    settings: Settings,
    tx: mpsc::Sender<RawBatch>,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(settings.max_connections));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = Arc::clone(&limit).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                conns.spawn(connection(
                    stream,
                    peer,
                    settings.clone(),
                    tx.clone(),
                    stop.clone(),
                    permit,
                ));
            }
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "cannot accept syslog tcp connection, retrying");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

/// Reads one connection to its end.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    settings: Settings,
    tx: mpsc::Sender<RawBatch>,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    tracing::debug!(%peer, "syslog tcp connection opened");
    let source = Arc::new(SourceKind::Syslog {
        transport: "tcp".into(),
        peer: peer.to_string(),
    });
    let mut decoder = FrameDecoder::new(settings.max_frame, peer.to_string());
    let mut buf = vec![0u8; READ_BUF];
    let mut frames: Vec<Frame> = Vec::new();
    let mut batch = Batcher::new(settings.linger);
    // Memory per connection is bounded: the read buffer, one frame of at most `max_frame` in
    // the decoder, and one batch of at most MAX_BATCH_BYTES (sent on when full, waiting for
    // room in the pipeline: the socket is not read meanwhile).
    // Deadlines: no message bytes for idle_timeout, or a frame started and not ended within
    // read_timeout. Time spent waiting for the pipeline does not count against the client.
    let mut idle_until = Instant::now() + settings.idle_timeout;
    let mut frame_until: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                deliver_now(&tx, batch.take());
                return;
            }
            _ = tokio::time::sleep_until(batch.deadline()), if !batch.is_empty() => {
                let waiting = Instant::now();
                if !deliver(&tx, batch.take(), &stop).await {
                    return;
                }
                let waited = waiting.elapsed();
                idle_until += waited;
                frame_until = frame_until.map(|d| d + waited);
            }
            _ = tokio::time::sleep_until(frame_until.unwrap_or(idle_until)), if frame_until.is_some() => {
                // A frame started syslog.read_timeout ago and has not ended: a client this
                // slow (or one dripping bytes to hold its slot) is cut off. The frame is kept,
                // flagged, after the ones before it.
                let cut = decoder.finish().map(|f| Frame { truncated: true, ..f });
                close(cut, &mut batch, &source, &tx, &stop).await;
                settings.stats.tcp_read_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, read_timeout = ?settings.read_timeout,
                    "syslog tcp message not completed within syslog.read_timeout, connection closed");
                return;
            }
            _ = tokio::time::sleep_until(idle_until) => {
                // No message bytes for syslog.idle_timeout: end it as if the client had closed.
                close(decoder.finish(), &mut batch, &source, &tx, &stop).await;
                settings.stats.tcp_idle_closes.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "syslog tcp connection idle for syslog.idle_timeout, closed");
                return;
            }
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "syslog tcp connection failed");
                        0
                    }
                };
                if n == 0 {
                    close(decoder.finish(), &mut batch, &source, &tx, &stop).await;
                    tracing::debug!(%peer, malformed = decoder.malformed(), "syslog tcp connection closed");
                    return;
                }
                let ended = decoder.frames_ended();
                decoder.decode(&buf[..n], &mut frames);
                // Separators and empty lines alone are not activity: they keep no deadline
                // away.
                let active = !frames.is_empty() || decoder.in_frame();
                for f in frames.drain(..) {
                    if !add(&mut batch, record(f.body, f.truncated, &source), &tx, &stop).await {
                        return;
                    }
                }
                let now = Instant::now();
                if active {
                    idle_until = now + settings.idle_timeout;
                }
                frame_until = match frame_until {
                    _ if !decoder.in_frame() => None,
                    Some(d) if decoder.frames_ended() == ended => Some(d),
                    _ => Some(now + settings.read_timeout),
                };
            }
        }
    }
}

/// The connection ends: its last frame (if any) joins the batch, which is sent on.
async fn close(
    last: Option<Frame>,
    batch: &mut Batcher,
    source: &Arc<SourceKind>,
    tx: &mpsc::Sender<RawBatch>,
    stop: &CancellationToken,
) {
    if let Some(f) = last {
        if !add(batch, record(f.body, f.truncated, source), tx, stop).await {
            return;
        }
    }
    deliver(tx, batch.take(), stop).await;
}
