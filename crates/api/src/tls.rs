//! TLS for the HTTP server (rustls): the certificate and key from PEM files, and a listener
//! that does the handshakes off the accept loop.
//!
//! [`TlsListener`] accepts TCP connections in a task and runs each handshake in its own task
//! (at most [`MAX_HANDSHAKES`] at once, each given [`HANDSHAKE_TIMEOUT`]), so a client that
//! connects and sends nothing does not hold up the others. Finished handshakes go through a
//! bounded channel to axum's serve loop. rustls offers TLS 1.3 and 1.2 with its safe defaults
//! (ring provider) and HTTP/1.1 by ALPN.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Handshakes in progress at most; further connections wait to be accepted.
pub const MAX_HANDSHAKES: usize = 256;
/// A client that has not finished its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read the TLS {what} {}: {reason}: give a PEM file (http.tls_cert / http.tls_key, --tls-cert / --tls-key)", path.display())]
    Pem {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the certificate and key (e.g. they do not match).
    #[error("the TLS certificate and key cannot be used together: {0}: check that the key is the certificate's")]
    Config(#[source] rustls::Error),
}

/// The server side of TLS: certificate chain and key, ready to accept connections.
#[derive(Clone)]
pub struct TlsConfig(Arc<rustls::ServerConfig>);

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig")
    }
}

impl TlsConfig {
    /// Reads the certificate chain (`cert`, PEM, leaf first) and its private key (`key`, PEM:
    /// PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
        let pem_err = |what, path: &Path, reason: String| TlsError::Pem {
            what,
            path: path.to_path_buf(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_err("certificate", cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_err("certificate", cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(pem_err("certificate", cert, "no CERTIFICATE block".into()));
        }
        let key_der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| pem_err("key", key, e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(TlsError::Config)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig(Arc::new(cfg)))
    }
}

/// A listener whose connections are TLS streams (see the module's comment).
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::AbortHandle,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `tls` (must be called within a tokio runtime).
    pub fn new(tcp: TcpListener, tls: &TlsConfig) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(tls.0.clone());
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!("tls accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "tls handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                    }
                });
            }
        })
        .abort_handle();
        Ok(TlsListener {
            ready,
            local,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task ended (it only does when aborted): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_empty_pem_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let e = TlsConfig::from_pem_files(&missing, &missing).unwrap_err().to_string();
        assert!(e.contains("certificate") && e.contains("none.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = TlsConfig::from_pem_files(&empty, &empty).unwrap_err().to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }
}
