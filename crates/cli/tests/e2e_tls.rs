//! HTTPS end to end: a CA and a server certificate made here (rcgen), `loglynx run --tls-cert
//! --tls-key`, the CLI clients over `https://` with `--ca-cert`, refused without it, the
//! session cookie marked `Secure`, and a clear error for an unreadable key.

mod support;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use support::{start_proc_with_ready_line, BIN};

fn loglynx(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run loglynx");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes ca.pem, cert.pem (for 127.0.0.1 and localhost, signed by the CA) and key.pem.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "loglynx test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&paths.0, ca.pem()).unwrap();
    fs::write(&paths.1, cert.pem()).unwrap();
    fs::write(&paths.2, key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

#[test]
fn https_server_cli_clients_with_ca_cert_and_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let api_key = support::add_key(data_s, "ops", "admin");

    let (_server, ready) = start_proc_with_ready_line(
        "loglynx run (tls)",
        &[
            "run", "--data-dir", data_s, "--http", "127.0.0.1:0", "--log", "warn",
            "--syslog-udp", "off", "--syslog-tcp", "off",
            "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap(),
        ],
        "loglynx ready:",
    );
    let addr = ready
        .strip_prefix("loglynx ready: dashboard https://")
        .and_then(|r| r.strip_suffix("/ui/"))
        .unwrap_or_else(|| panic!("not an https ready line: {ready}"));
    let url = format!("https://{addr}");
    let ca_s = ca.to_str().unwrap();

    // The CLI clients over https with the CA.
    let file = dir.path().join("import.log");
    let mut f = fs::File::create(&file).unwrap();
    for i in 0..100 {
        writeln!(f, "tlsmark line {i}").unwrap();
    }
    drop(f);
    let (code, out, err) = loglynx(&[
        "ingest", file.to_str().unwrap(), "--server", &url, "--ca-cert", ca_s, "--token", &api_key,
    ]);
    assert_eq!(code, 0, "ingest over https failed: {err}");
    assert!(out.contains("100 events accepted"), "{out}");
    let (code, out, err) = loglynx(&[
        "search", "tlsmark", "--server", &url, "--ca-cert", ca_s, "--token", &api_key, "--count",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "100");

    // Without the CA the certificate is not trusted; plain HTTP gets no answer.
    let (code, _, err) = loglynx(&["search", "tlsmark", "--server", &url, "--token", &api_key]);
    assert_eq!(code, 1);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let (code, _, _) = loglynx(&["search", "tlsmark", "--server", &format!("http://{addr}"), "--token", &api_key]);
    assert_eq!(code, 1);

    // Over TLS the session cookie is marked Secure.
    let pem = fs::read(&ca).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = client
        .post(format!("{url}/api/v1/session"))
        .json(&serde_json::json!({"key": api_key}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies.iter().find(|c| c.starts_with("loglynx_session=")).expect("session cookie");
    assert!(session.contains("; Secure") && session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
}

#[test]
fn an_unreadable_key_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, _) = certificates(dir.path());
    let missing = dir.path().join("nope.pem");
    let (code, _, err) = loglynx(&[
        "run", "--data-dir", dir.path().join("data").to_str().unwrap(), "--http", "127.0.0.1:0",
        "--syslog-udp", "off", "--syslog-tcp", "off",
        "--tls-cert", cert.to_str().unwrap(), "--tls-key", missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TLS key") && err.contains("nope.pem"), "{err}");
    let (code, _, err) = loglynx(&["run", "--tls-cert", cert.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--tls-key"), "{err}");
}
