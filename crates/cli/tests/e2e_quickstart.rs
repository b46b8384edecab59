//! The first five minutes: `scripts/quickstart.sh` (with `LOGLYNX_BIN`, the test's build,
//! instead of building a release) run as root on this machine starts the eBPF network monitor,
//! follows the machine's own log files under /var/log, and shows both at once: a line written
//! to a file in /var/log and the connections the test makes are found by search, and the
//! monitor's series are on /metrics. At the default log level nothing of third-party crates'
//! chatter (tantivy's per-commit INFO lines) reaches the output.

mod support;

use std::fs::File;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::metrics::{dashboard, metric_names, targets, Scrape};
use support::{pyenv_python, Server, BIN};

const WAIT: Duration = Duration::from_secs(60);

/// A file of this test in /var/log (where the quickstart looks), removed when dropped.
struct VarLogFile(PathBuf);

impl Drop for VarLogFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Lines tantivy logs at INFO around every commit, merge and garbage collection.
const TANTIVY_INFO: &[&str] = &[
    "Preparing commit",
    "Prepared commit",
    "committing ",
    "save metas",
    "Running garbage collection",
    "Garbage collect",
    "Deleted \"",
    "Starting merge",
    "Meta file",
];

#[test]
fn quickstart_as_root_shows_the_machines_logs_and_connections_without_library_noise() {
    if !loglynx_testkit::require_root("the quickstart starts the eBPF network monitor as root") {
        return;
    }
    let python = pyenv_python();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = format!("quickstartmark{}", std::process::id());
    let own = VarLogFile(PathBuf::from(format!(
        "/var/log/loglynx-e2e-quickstart-{}.log",
        std::process::id()
    )));
    std::fs::write(
        &own.0,
        format!("2024-05-01T10:00:00Z testhost app[1]: {token} hello\n"),
    )
    .unwrap();

    let stderr = dir.path().join("stderr");
    let mut cmd = Command::new(root.join("scripts/quickstart.sh"));
    cmd.args([
        "--data-dir",
        data.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
    ])
    .args(["--syslog-udp", "off", "--syslog-tcp", "off"])
    .env("LOGLYNX_BIN", BIN)
    .env_remove("RUST_LOG")
    .env_remove("LOGLYNX_LOG")
    .stderr(File::create(&stderr).unwrap());
    let server = Server::start_command(cmd, &data);
    assert!(
        server
            .startup
            .iter()
            .any(|l| l.starts_with("tcp states: mode bpf")),
        "the network monitor runs with eBPF: {:?}",
        server.startup
    );

    // The machine's own logs: the line of the test's file in /var/log.
    server.wait_total(&token, 1, WAIT);
    // Its connections: a few the test opens and closes, reported when they finish.
    server.wait_for(WAIT, "network.connection events", || {
        for _ in 0..3 {
            drop(TcpStream::connect(server.http).unwrap());
        }
        server.total("event.dataset:network.connection") > 0
    });
    // More commits for tantivy to talk about.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&own.0)
        .unwrap();
    for i in 0..3 {
        writeln!(f, "2024-05-01T10:00:01Z testhost app[1]: {token} again {i}").unwrap();
        f.flush().unwrap();
        server.wait_total(&token, 2 + i, WAIT);
    }

    let scrape = Scrape::of(&server, &python);
    assert_eq!(
        scrape.value("loglynx_netmon_mode", &[("mode", "bpf")]),
        Some(1.0)
    );
    assert!(
        scrape
            .value("loglynx_netmon_connections_total", &[])
            .unwrap()
            > 0.0
    );
    assert!(scrape.value("loglynx_netmon_sockets", &[]).unwrap() > 0.0);
    let served = scrape.sample_names();
    for (_, t) in targets(&dashboard()) {
        for name in metric_names(t["expr"].as_str().unwrap_or_default()) {
            if name.starts_with("loglynx_netmon_") {
                assert!(
                    served.contains(&name),
                    "the dashboard queries {name}, not served with the monitor on"
                );
            }
        }
    }
    server.stop();

    let out = std::fs::read_to_string(&stderr).unwrap();
    assert!(out.contains("network monitor: on (eBPF)"), "{out}");
    assert!(out.contains("logs: /var/log/*.log"), "{out}");
    // loglynx's own INFO lines are there (the default level is info for loglynx)...
    assert!(out.contains("loglynx ready"), "{out}");
    // ...tantivy's are not.
    for noise in TANTIVY_INFO {
        assert!(
            !out.contains(noise),
            "third-party noise {noise:?} in the quickstart's output:\n{out}"
        );
    }
}
