//! Kafka SASL/SCRAM-SHA-512 end to end against Tansu, which checks SCRAM credentials when
//! started with `--authentication`: a user is made with `tansu user create` on the broker's
//! persistent storage (started without authentication), then the broker is restarted with it.
//! An agent with a wrong password delivers nothing and says why; an agent and a worker with the
//! right one store every line once; no log holds either password. Once over plaintext
//! (`sasl_plaintext`), once over TLS (`sasl_ssl`) through the TLS proxy of `support::tls_proxy`
//! (Tansu speaks no TLS), which the broker advertises.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::kafka::{expected_numbered, missing, stored, write_numbered};
use support::tls_proxy::{certificates, tls_proxy};
use support::{Proc, Server, Tansu};

const USER: &str = "loglynx";
const PASSWORD: &str = "pw-5c1d9e0b7a2f4e63";
const WRONG: &str = "pw-wrong-0f8e7d6c5b4a";
const FILES: usize = 2;
const LINES: usize = 100;

/// `tansu broker` on 127.0.0.1:`port` advertising 127.0.0.1:`advertised`, keeping its data in
/// `storage/tansu.db` (so the user made before a restart is still there), with
/// `--authentication` when `auth`; killed when dropped.
struct Broker(Child);

impl Broker {
    fn start(storage: &Path, port: u16, advertised: u16, auth: bool) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised = format!("tcp://127.0.0.1:{advertised}");
        let mut cmd = Command::new(Tansu::bin());
        cmd.current_dir(storage)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if auth {
            cmd.arg("--authentication");
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start the Kafka test broker {} ({e}): run scripts/tansu.sh install",
                Tansu::bin().display()
            )
        });
        let broker = Broker(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A config with SASL/SCRAM-SHA-512 as `USER` with `password`: over TLS trusting the CA
/// `ca` (`sasl_ssl`) when given, over plaintext (`sasl_plaintext`) otherwise.
fn config(dir: &Path, name: &str, password: &str, ca: Option<&Path>) -> String {
    let p = dir.join(name);
    let (protocol, ca) = match ca {
        Some(ca) => ("sasl_ssl", format!("\"ssl.ca.location\" = {ca:?}\n")),
        None => ("sasl_plaintext", String::new()),
    };
    fs::write(
        &p,
        format!(
            "[store]\ncommit_interval = \"200ms\"\n[kafka]\nsecurity_protocol = \"{protocol}\"\n\
             session_timeout = \"6s\"\nmax_poll_interval = \"15s\"\n[kafka.properties]\n\
             \"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\"sasl.username\" = \"{USER}\"\n\
             \"sasl.password\" = \"{password}\"\n{ca}"
        ),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

fn agent(cfg: &str, data: &Path, logs: &Path, brokers: &str) -> Proc {
    let glob = format!("{}/*.log", logs.display());
    Proc::start_logged(
        "agent",
        &[
            "agent",
            "-c",
            cfg,
            "--data-dir",
            data.to_str().unwrap(),
            "--brokers",
            brokers,
            "--topic",
            "scram",
            "--partitions",
            "1",
            "--tail",
            &glob,
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
            "--http",
            "off",
            "--log",
            "info",
        ],
        "loglynx agent ready",
    )
}

fn assert_no_password(what: &str, log: &[String]) {
    for l in log {
        assert!(
            !l.contains(PASSWORD) && !l.contains(WRONG),
            "{what} logged a password: {l}"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn scram_with_the_right_password_stores_every_line_and_a_wrong_one_delivers_nothing() {
    scram_end_to_end(false);
}

#[test]
fn scram_over_tls_stores_every_line_and_a_wrong_password_delivers_nothing() {
    scram_end_to_end(true);
}

/// The whole check, the clients reaching the broker through the TLS proxy when `tls`.
fn scram_end_to_end(tls: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("broker");
    let port = free_port();
    let open_broker = format!("127.0.0.1:{port}");

    // The user, made on the broker's storage while it takes unauthenticated clients.
    fs::create_dir_all(&storage).unwrap();
    {
        let _open = Broker::start(&storage, port, port, false);
        let out = Command::new(Tansu::bin())
            .args([
                "user",
                "create",
                "--broker",
                &format!("tcp://{open_broker}"),
                "--mechanism",
                "scram512",
                USER,
                PASSWORD,
            ])
            .output()
            .expect("run tansu user create");
        assert!(
            out.status.success(),
            "tansu user create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // With TLS the clients know only the proxy's address: the broker advertises it.
    let (client_port, proxy, ca) = if tls {
        let (cert, key) = certificates(tmp.path());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_port = listener.local_addr().unwrap().port();
        let proxy = tls_proxy(listener, port, &cert, &key);
        (proxy_port, Some(proxy), Some(tmp.path().join("ca.pem")))
    } else {
        (port, None, None)
    };
    let _kafka = Broker::start(&storage, port, client_port, true);
    let brokers = format!("127.0.0.1:{client_port}");

    // A wrong password: the agent starts (its records wait in its disk buffer) and says why
    // nothing is delivered.
    let right_cfg = config(tmp.path(), "right.toml", PASSWORD, ca.as_deref());
    let wrong_cfg = config(tmp.path(), "wrong.toml", WRONG, ca.as_deref());
    let wrong_logs = tmp.path().join("wrong-logs");
    fs::create_dir_all(&wrong_logs).unwrap();
    write_numbered(&wrong_logs, FILES, "wrong password", 0, LINES);
    let wrong = agent(
        &wrong_cfg,
        &tmp.path().join("wrong-agent"),
        &wrong_logs,
        &brokers,
    );
    wrong.wait_log(Duration::from_secs(60), "the SCRAM refusal", |log| {
        log.iter()
            .any(|l| l.contains("SASL SCRAM authentication failed"))
    });
    let wrong_log = wrong.stop_logged();

    // The right password: an agent and a worker store every line of its files once. The worker
    // reads the topic's only partition from its start, so anything the wrong agent had
    // delivered would be stored too.
    let logs = tmp.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    write_numbered(&logs, FILES, "right password", 0, LINES);
    let agent = agent(&right_cfg, &tmp.path().join("agent"), &logs, &brokers);
    let data = tmp.path().join("data");
    let worker = Proc::start_logged(
        "worker",
        &[
            "worker",
            "-c",
            &right_cfg,
            "--data-dir",
            data.to_str().unwrap(),
            "--brokers",
            &brokers,
            "--topic",
            "scram",
            "--group",
            "e2e",
            "--consumers",
            "1",
            "--log",
            "info",
        ],
        "loglynx worker ready",
    );
    let serve = Server::start_serve(&data);
    let want = expected_numbered(FILES, "right password", LINES);
    serve.wait_for(Duration::from_secs(90), "every line stored", || {
        serve.total("*") >= want.len() as u64
    });
    let got = stored(&serve);
    assert_eq!(got, want, "{}", missing(&want, &got));
    if let Some(proxy) = proxy {
        // The wrong agent, the agent and the worker: at least one handshake each.
        assert!(
            proxy.count() >= 3,
            "the clients did not go through the TLS proxy ({} handshakes)",
            proxy.count()
        );
    }

    assert_no_password("the agent with the wrong password", &wrong_log);
    assert_no_password("the agent", &agent.stop_logged());
    assert_no_password("the worker", &worker.stop_logged());
}
