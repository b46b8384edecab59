//! Syslog over UDP: one datagram is one message.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use loglynx_core::{RawBatch, SourceKind};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{add, deliver, deliver_now, record, Batcher, Settings};

/// Largest datagram read (UDP's own limit).
pub const MAX_DATAGRAM: usize = 64 << 10;
/// Peers whose source description is kept for reuse before the cache is emptied.
const PEER_CACHE: usize = 4096;

/// Receives datagrams until `stop`.
pub(super) async fn serve(
    sock: UdpSocket,
    settings: Settings,
    tx: mpsc::Sender<RawBatch>,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut batch = Batcher::new(settings.linger);
    let mut peers: HashMap<SocketAddr, Arc<SourceKind>> = HashMap::new();
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
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, peer)) => {
                    let Some((body, truncated)) = message(&buf[..n], settings.max_frame) else {
                        continue;
                    };
                    if peers.len() >= PEER_CACHE {
                        peers.clear();
                    }
                    let source = peers.entry(peer).or_insert_with(|| {
                        Arc::new(SourceKind::Syslog { transport: "udp".into(), peer: peer.to_string() })
                    });
                    if !add(&mut batch, record(body, truncated, source), &tx, &stop).await {
                        return;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "syslog udp receive failed"),
            },
        }
    }
}

/// The message of a datagram: trailing `\n`, `\r\n` and `\0` removed, cut at `max_frame`.
/// `None` for an empty message.
fn message(datagram: &[u8], max_frame: usize) -> Option<(Vec<u8>, bool)> {
    let mut end = datagram.len();
    while end > 0 && matches!(datagram[end - 1], b'\n' | b'\0') {
        end -= 1;
        if end > 0 && datagram[end - 1] == b'\r' {
            end -= 1;
        }
    }
    if end == 0 {
        return None;
    }
    let truncated = end > max_frame;
    Some((datagram[..end.min(max_frame)].to_vec(), truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_terminators_are_stripped() {
        assert_eq!(message(b"<1>a\n", 100), Some((b"<1>a".to_vec(), false)));
        assert_eq!(message(b"<1>a\r\n\0", 100), Some((b"<1>a".to_vec(), false)));
        assert_eq!(message(b"<1>a\nb", 100), Some((b"<1>a\nb".to_vec(), false)));
        assert_eq!(message(b"\n\0", 100), None);
        assert_eq!(message(b"<1>abcdef", 4), Some((b"<1>a".to_vec(), true)));
    }
}
