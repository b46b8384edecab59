//! Kafka over TLS end to end. Tansu speaks no TLS, so the test puts a TLS proxy (rustls, a CA
//! and a certificate made here with rcgen) in front of it and has Tansu advertise the proxy:
//! the agent and the worker reach the broker only through TLS (`kafka.security_protocol =
//! "ssl"`, `ssl.ca.location`), and every line arrives in the store once.

mod support;

use std::fs;
use std::time::{Duration, Instant};

use support::kafka::{expected, log_level, missing, stored, write_lines, FILES};
use support::tls_proxy::{certificates, tls_proxy};
use support::{Proc, Server, Tansu};

fn wait(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn agent_and_worker_reach_the_broker_only_through_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificates(tmp.path());
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let tansu_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
            "agent",
            "-c",
            cfg.to_str().unwrap(),
            "--data-dir",
            agent_dir.to_str().unwrap(),
            "--brokers",
            &brokers,
            "--topic",
            "tls",
            "--partitions",
            "2",
            "--tail",
            &glob,
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
            "--http",
            "off",
            "--log",
            &level,
        ],
        "loglynx agent ready",
    );
    let _worker = Proc::start_logged(
        "worker",
        &[
            "worker",
            "-c",
            cfg.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--brokers",
            &brokers,
            "--topic",
            "tls",
            "--group",
            "e2e",
            "--consumers",
            "1",
            "--log",
            &level,
        ],
        "loglynx worker ready",
    );
    let serve = Server::start_serve(&data);
    let want = expected(n);
    wait(Duration::from_secs(90), "every line stored", || {
        serve.total("*") >= (FILES * n) as u64
    });
    let got = stored(&serve);
    assert_eq!(got, want, "{}", missing(&want, &got));
    assert!(
        handshakes.count() >= 2,
        "the clients did not use the TLS proxy"
    );
}
