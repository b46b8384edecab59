//! Kafka over TLS end to end. Tansu speaks no TLS, so the test puts a TLS proxy (rustls, a CA
//! and a certificate made here with rcgen) in front of it and has Tansu advertise the proxy:
//! the agent and the worker reach the broker only through TLS (`kafka.security_protocol =
//! "ssl"`, `ssl.ca.location`), and every line arrives in the store once.

mod support;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::kafka::{expected, log_level, missing, stored, write_lines, FILES};
use support::{Proc, Server, Tansu};

/// ca.pem, and a server certificate and key for 127.0.0.1 (PEM strings).
fn certificates(dir: &Path) -> (String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "loglynx kafka test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Accepts TLS on `listener` and relays each connection to 127.0.0.1:`upstream`; counts the
/// handshakes that completed. Runs until the test process ends.
fn tls_proxy(listener: std::net::TcpListener, upstream: u16, cert: &str, key: &str) -> Arc<AtomicUsize> {
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let count = handshakes.clone();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    count.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut broker) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                });
            }
        });
    });
    handshakes
}

fn wait(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn agent_and_worker_reach_the_broker_only_through_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificates(tmp.path());
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let tansu_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _kafka = Tansu::start_advertising(tansu_port, proxy_port);
    let handshakes = tls_proxy(proxy, tansu_port, &cert, &key);

    let cfg = tmp.path().join("loglynx.toml");
    fs::write(
        &cfg,
        format!(
            "[store]\ncommit_interval = \"200ms\"\n[kafka]\nsecurity_protocol = \"ssl\"\nsession_timeout = \"6s\"\n\
             max_poll_interval = \"15s\"\n[kafka.properties]\n\"ssl.ca.location\" = {:?}\n",
            tmp.path().join("ca.pem")
        ),
    )
    .unwrap();
    let logs = tmp.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let n = 200;
    write_lines(&logs, 0, n);
    let brokers = format!("127.0.0.1:{proxy_port}");
    let glob = format!("{}/*.log", logs.display());
    let level = log_level();
    let agent_dir = tmp.path().join("agent");
    let data = tmp.path().join("data");
    let _agent = Proc::start_logged(
        "agent",
        &[
            "agent", "-c", cfg.to_str().unwrap(), "--data-dir", agent_dir.to_str().unwrap(),
            "--brokers", &brokers, "--topic", "tls", "--partitions", "2", "--tail", &glob,
            "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off", "--log", &level,
        ],
        "loglynx agent ready",
    );
    let _worker = Proc::start_logged(
        "worker",
        &[
            "worker", "-c", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(),
            "--brokers", &brokers, "--topic", "tls", "--group", "e2e", "--consumers", "1", "--log", &level,
        ],
        "loglynx worker ready",
    );
    let serve = Server::start_serve(&data);
    let want = expected(n);
    wait(Duration::from_secs(90), "every line stored", || serve.total("*") >= (FILES * n) as u64);
    let got = stored(&serve);
    assert_eq!(got, want, "{}", missing(&want, &got));
    assert!(handshakes.load(Ordering::SeqCst) >= 2, "the clients did not use the TLS proxy");
}
