//! Syslog over TCP: bounded accept, one task per connection, framing per [`super::framing`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use loglynx_core::{RawBatch, SourceKind};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::framing::{Frame, FrameDecoder};
use super::{deliver, deliver_now, record, Batcher, Settings};

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
    // the decoder, and one batch (sent on when full).
    let mut idle_until = tokio::time::Instant::now() + settings.idle_timeout;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                deliver_now(&tx, batch.take());
                return;
            }
            _ = tokio::time::sleep_until(batch.deadline()), if !batch.is_empty() => {
                if !deliver(&tx, batch.take(), &stop).await {
                    return;
                }
            }
            _ = tokio::time::sleep_until(idle_until) => {
                // Silent for syslog.idle_timeout: end it as if the client had closed.
                frames.extend(decoder.finish());
                for f in frames.drain(..) {
                    batch.push(record(f.body, f.truncated, &source));
                }
                deliver(&tx, batch.take(), &stop).await;
                tracing::debug!(%peer, "syslog tcp connection idle for syslog.idle_timeout, closed");
                return;
            }
            r = stream.read(&mut buf) => {
                idle_until = tokio::time::Instant::now() + settings.idle_timeout;
                let n = match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "syslog tcp connection failed");
                        0
                    }
                };
                if n == 0 {
                    frames.extend(decoder.finish());
                } else {
                    decoder.decode(&buf[..n], &mut frames);
                }
                for f in frames.drain(..) {
                    batch.push(record(f.body, f.truncated, &source));
                    if batch.is_full() && !deliver(&tx, batch.take(), &stop).await {
                        return;
                    }
                }
                if n == 0 {
                    deliver(&tx, batch.take(), &stop).await;
                    tracing::debug!(%peer, malformed = decoder.malformed(), "syslog tcp connection closed");
                    return;
                }
            }
        }
    }
}
