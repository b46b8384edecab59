//! Drives the real `loglynx` binary: start, wait for readiness, query, kill.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod kafka;
pub mod metrics;
pub mod receiver;
pub mod tls_proxy;

pub const BIN: &str = env!("CARGO_BIN_EXE_loglynx");

/// `loglynx keys ARGS...` (add, list, revoke), which must succeed: its standard output.
pub fn keys(args: &[&str]) -> String {
    let out = Command::new(BIN).arg("keys").args(args).output().expect("run loglynx keys");
    assert!(out.status.success(), "keys {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A new key `name` with `scope` in the key file of `data_dir`, as `loglynx keys add` prints it
/// once (and says so on stderr).
pub fn add_key(data_dir: &str, name: &str, scope: &str) -> String {
    let out = Command::new(BIN)
        .args(["keys", "add", name, "--scope", scope, "--data-dir", data_dir])
        .output()
        .expect("run loglynx keys add");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "keys add failed: {err}");
    assert!(err.contains("not shown again"), "{err}");
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(key.starts_with("llx_") && key.len() > 50, "{key:?}");
    key
}

/// A running `loglynx run`; SIGKILLed when dropped.
pub struct Server {
    pub child: Child,
    pub http: SocketAddr,
    pub syslog_udp: Option<SocketAddr>,
    pub syslog_tcp: Option<SocketAddr>,
    pub data_dir: PathBuf,
    client: reqwest::blocking::Client,
    /// Lines printed on stdout before the ready line (e.g. `tcp states: mode ...`).
    pub startup: Vec<String>,
}

impl Server {
    /// Starts `loglynx run --data-dir DIR --http 127.0.0.1:0 ARGS...` and waits until it prints
    /// its address (it prints it once the store is open and every source is listening).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_with(Command::new(BIN), data_dir, extra)
    }

    /// [`Server::start`] with another command line before `run` (e.g. `setpriv ... BIN`).
    pub fn start_with(mut cmd: Command, data_dir: &Path, extra: &[&str]) -> Server {
        cmd.arg("run")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http", "127.0.0.1:0", "--log", "warn"])
            .args(extra);
        let (child, rx) = spawn_lines(cmd);
        Self::when_ready(child, rx, data_dir, "loglynx", |a| a)
    }

    /// Starts `cmd` as it is (e.g. `scripts/quickstart.sh` with its flags; it must end in
    /// `loglynx run` printing its start-up lines on stdout) and waits until it is ready.
    pub fn start_command(cmd: Command, data_dir: &Path) -> Server {
        let (child, rx) = spawn_lines(cmd);
        Self::when_ready(child, rx, data_dir, "loglynx", |a| a)
    }

    /// Reads the start-up lines (`syslog udp: ADDR`, `syslog tcp: ADDR`, others kept in
    /// `startup`) until `loglynx ready: dashboard http://ADDR/ui/`, then waits for health.
    /// `reach` maps the printed address to one the test can connect to (e.g. a forwarder into a
    /// network namespace).
    fn when_ready(
        mut child: Child,
        rx: mpsc::Receiver<String>,
        data_dir: &Path,
        what: &str,
        reach: impl FnOnce(SocketAddr) -> SocketAddr,
    ) -> Server {
        let (mut http, mut udp, mut tcp) = (None, None, None);
        let mut startup = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.is_none() {
            let line = next_line(&mut child, &rx, deadline, what);
            if let Some(a) = line.strip_prefix("syslog udp: ") {
                udp = a.trim().parse().ok();
            } else if let Some(a) = line.strip_prefix("syslog tcp: ") {
                tcp = a.trim().parse().ok();
            } else if let Some(rest) = line.strip_prefix("loglynx ready: dashboard http://") {
                http = rest.trim_end_matches("/ui/").parse().ok();
            } else {
                startup.push(line);
            }
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let s = Server {
            child,
            http: reach(http.unwrap()),
            syslog_udp: udp,
            syslog_tcp: tcp,
            data_dir: data_dir.into(),
            client,
            startup,
        };
        s.wait_for(Duration::from_secs(30), "health", || {
            s.client
                .get(s.url("/api/v1/health"))
                .send()
                // 401: up, and API keys are required (e2e_auth).
                .map(|r| r.status().is_success() || r.status() == 401)
                .unwrap_or(false)
        });
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// Posts NDJSON lines to `/api/v1/ingest` and asserts a 2xx; the JSON reply (accepted,
    /// rejected lines).
    pub fn ingest_ndjson(&self, body: impl Into<String>) -> Value {
        let r = self
            .client()
            .post(self.url("/api/v1/ingest"))
            .header("content-type", "application/x-ndjson")
            .body(body.into())
            .send()
            .unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "ingest answered {status}: {text}");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("ingest reply is not JSON ({e}): {text}"))
    }

    /// GET /api/v1/search and returns the JSON body (panics on a non-2xx answer).
    pub fn search(&self, q: &str, limit: usize, offset: usize, sort: &str) -> Value {
        let r = self
            .client
            .get(self.url("/api/v1/search"))
            .query(&[
                ("q", q),
                ("limit", &limit.to_string()),
                ("offset", &offset.to_string()),
                ("sort", sort),
            ])
            .send()
            .expect("search request");
        let status = r.status();
        let body: Value = r.json().expect("search json");
        assert!(status.is_success(), "search {q:?} failed: {status} {body}");
        body
    }

    pub fn total(&self, q: &str) -> u64 {
        self.search(q, 1, 0, "desc")["total"]
            .as_u64()
            .expect("total")
    }

    /// Every event matching `q`, in ingest order, read with the tail cursor from the start
    /// (search pagination stops at 100,000 hits, like Elasticsearch's result window; the
    /// cursor `0_` means "before every event", see crates/api/src/routes/tail.rs).
    pub fn all_hits(&self, q: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = "0_".to_string();
        loop {
            let r = self
                .client
                .get(self.url("/api/v1/tail"))
                .query(&[("q", q), ("cursor", cursor.as_str()), ("limit", "10000")])
                .send()
                .expect("tail request");
            let status = r.status();
            let body: Value = r.json().expect("tail json");
            assert!(status.is_success(), "tail {q:?} failed: {status} {body}");
            let events = body["events"].as_array().expect("events");
            if events.is_empty() {
                return out;
            }
            out.extend(events.iter().cloned());
            cursor = body["cursor"].as_str().expect("cursor").to_string();
        }
    }

    /// Polls `cond` until it holds; panics with `what` after `timeout`.
    pub fn wait_for(&self, timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `q` matches exactly `n` events (and no more appear within the wait).
    pub fn wait_total(&self, q: &str, n: u64, timeout: Duration) {
        let mut last = 0;
        self.wait_for(timeout, &format!("{n} events matching {q:?}"), || {
            last = self.total(q);
            assert!(
                last <= n,
                "{q:?} matched {last} events, more than the {n} sent"
            );
            last == n
        });
    }

    /// SIGKILL, no chance to commit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit (SIGKILL and panic after [`STOP_DEADLINE`]).
    pub fn stop(mut self) {
        stop_child(&mut self.child, "loglynx");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a process may take to exit after SIGTERM. A clean stop commits and flushes within a
/// few seconds; a process still running after this is hung, and the test says so instead of
/// waiting until CI's time limit.
pub const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// SIGTERM, then waits up to [`STOP_DEADLINE`] for a successful exit. A process that does not exit
/// in time is SIGKILLed (so it does not outlive the test) and the test fails naming it.
fn stop_child(child: &mut Child, name: &str) {
    signal(child.id(), "TERM");
    let deadline = Instant::now() + STOP_DEADLINE;
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{name} did not exit within {STOP_DEADLINE:?} of SIGTERM (hung); SIGKILLed it"
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(
        status.success(),
        "{name} exited with {status} after SIGTERM"
    );
}

/// Sends signal `name` (`TERM`, `STOP`, `CONT`...) to `pid` with the `kill` command; panics when
/// it cannot be sent.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed: {status}");
}

/// A Tansu broker (Kafka-compatible) on a free 127.0.0.1 port, in memory; killed when dropped.
/// Panics with what to do when tansu is not installed.
pub struct Tansu {
    child: Child,
    pub brokers: String,
}

/// Tansu's storage in memory (gone with the process).
const MEMORY: &str = "memory://tansu/";

impl Tansu {
    pub fn start() -> Tansu {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Tansu::start_on(port)
    }

    /// A broker on `port` (e.g. one an agent was told to use before the broker was up).
    pub fn start_on(port: u16) -> Tansu {
        Tansu::start_advertising(port, port)
    }

    /// A broker on `port` that tells clients to reach it at `advertised` (e.g. a TLS proxy in
    /// front of it, e2e_kafka_tls).
    pub fn start_advertising(port: u16, advertised: u16) -> Tansu {
        let bin = Tansu::bin();
        let t = Tansu::spawn(
            Command::new(&bin),
            &bin,
            "127.0.0.1",
            port,
            advertised,
            MEMORY,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }

    /// The tansu program: `LOGLYNX_TANSU`, else `~/.cargo/bin/tansu`, else `tansu` on the PATH.
    pub fn bin() -> PathBuf {
        std::env::var("LOGLYNX_TANSU")
            .ok()
            .map(PathBuf::from)
            .or_else(|| {
                let home = std::env::var("HOME").ok()?;
                let p = Path::new(&home).join(".cargo/bin/tansu");
                p.exists().then_some(p)
            })
            .unwrap_or_else(|| PathBuf::from("tansu"))
    }

    /// A broker started by `cmd` (tansu itself, or e.g. `ip netns exec NS tansu`) listening on
    /// `host:port`; does not wait for it to listen (the caller checks from where it can).
    pub fn start_in(cmd: Command, host: &str, port: u16) -> Tansu {
        Tansu::spawn(cmd, &Tansu::bin(), host, port, port, MEMORY)
    }

    /// [`Tansu::start_in`] with persistent storage: the broker keeps its topics and groups in
    /// the SQLite file `tansu.db` in `dir` (Tansu's libsql engine, which reads the path relative
    /// to its working directory), so they outlive the process as a real broker's log does.
    pub fn start_persistent_in(mut cmd: Command, host: &str, port: u16, dir: &Path) -> Tansu {
        std::fs::create_dir_all(dir).expect("create the broker's storage directory");
        cmd.current_dir(dir);
        Tansu::spawn(cmd, &Tansu::bin(), host, port, port, "sqlite://tansu.db")
    }

    fn spawn(
        mut cmd: Command,
        bin: &Path,
        host: &str,
        port: u16,
        advertised: u16,
        storage: &str,
    ) -> Tansu {
        let url = format!("tcp://{host}:{port}");
        let advertised_url = format!("tcp://{host}:{advertised}");
        // LOGLYNX_TANSU_LOG=DIR keeps the broker's own log (RUST_LOG applies) in DIR.
        let log = std::env::var_os("LOGLYNX_TANSU_LOG").map(|d| {
            let p = Path::new(&d).join(format!("tansu-{port}.log"));
            eprintln!("tansu log: {}", p.display());
            std::fs::File::create(p).expect("create the tansu log")
        });
        let (out, err) = match &log {
            Some(f) => (
                Stdio::from(f.try_clone().unwrap()),
                Stdio::from(f.try_clone().unwrap()),
            ),
            None => (Stdio::null(), Stdio::null()),
        };
        let child = cmd
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised_url,
            ])
            .args(["--storage-engine", storage])
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the Kafka test broker {} ({e}): run scripts/tansu.sh install",
                    bin.display()
                )
            });
        Tansu {
            child,
            brokers: format!("{host}:{port}"),
        }
    }
}

impl Tansu {
    /// The broker's process id (to SIGSTOP / SIGCONT it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `loglynx agent` or `loglynx worker`; SIGKILLed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
    /// Its stderr lines (ANSI colours removed) when started with [`Proc::start_logged`].
    log: Option<Arc<Mutex<Vec<String>>>>,
    /// The thread reading its stderr into `log` (ends when the process has exited).
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Proc {
    /// Starts `loglynx ARGS...` and waits until it prints a line starting with `ready`.
    pub fn start(name: &str, args: &[&str], ready: &str) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        let (mut child, rx) = spawn_lines(cmd);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !next_line(&mut child, &rx, deadline, name).starts_with(ready) {}
        Proc {
            child,
            name: name.into(),
            log: None,
            reader: None,
        }
    }

    /// [`Proc::start`], also keeping its stderr (the log) for [`Proc::wait_log`]; every line is
    /// still echoed to the test's stderr, prefixed with `name`.
    pub fn start_logged(name: &str, args: &[&str], ready: &str) -> Proc {
        Self::start_logged_in(Command::new(BIN), name, args, ready)
    }

    /// [`Proc::start_logged`] with `cmd` running loglynx (e.g. `ip netns exec NS loglynx`).
    pub fn start_logged_in(mut cmd: Command, name: &str, args: &[&str], ready: &str) -> Proc {
        cmd.args(args).stderr(Stdio::piped());
        let (mut child, rx) = spawn_lines(cmd);
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let log = log.clone();
            let name = name.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let line = strip_ansi(&line);
                    eprintln!("[{name}] {line}");
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            })
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !next_line(&mut child, &rx, deadline, name).starts_with(ready) {}
        Proc {
            child,
            name: name.into(),
            log: Some(log),
            reader: Some(reader),
        }
    }

    /// Log lines so far (empty unless started with [`Proc::start_logged`]).
    pub fn log_lines(&self) -> Vec<String> {
        match &self.log {
            Some(l) => l.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            None => Vec::new(),
        }
    }

    /// Waits until `cond` holds for the log lines; panics after `timeout` naming `what`.
    pub fn wait_log(&self, timeout: Duration, what: &str, mut cond: impl FnMut(&[String]) -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond(&self.log_lines()) {
            assert!(
                Instant::now() < deadline,
                "{}: timed out after {timeout:?} waiting for {what}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, no chance to commit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit (SIGKILL and panic after [`STOP_DEADLINE`]).
    pub fn stop(mut self) {
        let name = self.name.clone();
        stop_child(&mut self.child, &name);
    }

    /// [`Proc::stop`], then its log lines, including those written while it stopped.
    pub fn stop_logged(mut self) -> Vec<String> {
        let name = self.name.clone();
        stop_child(&mut self.child, &name);
        // The reader thread takes the last lines and ends once the pipe is closed.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log_lines()
    }
}

/// `line` without ANSI colour sequences (`ESC [ ... m`).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `loglynx serve --data-dir DIR --http 127.0.0.1:0` and waits until it answers.
    pub fn start_serve(data_dir: &Path) -> Server {
        Self::start_serve_with(data_dir, &[])
    }

    /// [`Server::start_serve`] with more arguments (e.g. `--brokers`, `--topic`).
    pub fn start_serve_with(data_dir: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http", "127.0.0.1:0", "--log", "warn"])
            .args(extra);
        let (child, rx) = spawn_lines(cmd);
        Self::when_ready(child, rx, data_dir, "loglynx serve", |a| a)
    }

    /// `loglynx serve` started by `cmd` (e.g. `ip netns exec NS loglynx`) with `--http http`
    /// and `extra`; `reach` maps its address to one the test can connect to.
    pub fn start_serve_in(
        mut cmd: Command,
        data_dir: &Path,
        http: &str,
        extra: &[&str],
        reach: impl FnOnce(SocketAddr) -> SocketAddr,
    ) -> Server {
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http", http, "--log", "warn"])
            .args(extra);
        let (child, rx) = spawn_lines(cmd);
        Self::when_ready(child, rx, data_dir, "loglynx serve", reach)
    }
}

/// Spawns `cmd` with stdout piped (stderr inherited unless `cmd` says otherwise) and a thread that sends each stdout line.
fn spawn_lines(mut cmd: Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start loglynx");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The python of the virtual environment with the third-party clients the tests drive
/// (`target/pyenv`), created by `scripts/pyenv.sh` when missing.
pub fn pyenv_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(root.join("scripts/pyenv.sh"))
        .status()
        .expect("run scripts/pyenv.sh");
    assert!(
        status.success(),
        "scripts/pyenv.sh failed: it installs the tests' Python clients from PyPI into target/pyenv"
    );
    root.join("target/pyenv/bin/python")
}

/// Runs the Python OpenTelemetry SDK sender (`support/otel_send.py`): three log records inside
/// a span, through its OTLP `mode` exporter (`http` or `grpc`) to `endpoint`, labelled `run`.
/// Checks that every export was accepted; returns the span's trace and span ids.
pub fn otel_send(python: &Path, mode: &str, endpoint: &str, run: &str) -> (String, String) {
    let out = otel_sender(python, mode, endpoint, run, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode} sender failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let ids: Value = serde_json::from_str(lines.next().expect("ids line")).expect("ids json");
    assert_eq!(
        lines.next(),
        Some("exported SUCCESS SUCCESS SUCCESS"),
        "{mode}: every export accepted\n{stdout}"
    );
    (
        ids["trace_id"].as_str().unwrap().to_string(),
        ids["span_id"].as_str().unwrap().to_string(),
    )
}

/// Runs the OpenTelemetry SDK sender like [`otel_send`], with `authorization` as the
/// exporter's `authorization` header (gRPC metadata), without checking the outcome. Returns the
/// results line (`exported SUCCESS FAILURE ...`, one result per record's export) and the
/// sender's stderr, where the exporter logs why an export failed (gRPC:
/// `error code: StatusCode.UNAUTHENTICATED`).
pub fn otel_send_with(
    python: &Path,
    mode: &str,
    endpoint: &str,
    run: &str,
    authorization: Option<&str>,
) -> (String, String) {
    let out = otel_sender(python, mode, endpoint, run, authorization);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{mode} sender failed: {stdout}\n{stderr}"
    );
    let results = stdout
        .lines()
        .find(|l| l.starts_with("exported"))
        .unwrap_or_else(|| panic!("no results line: {stdout}\n{stderr}"))
        .to_string();
    (results, stderr)
}

fn otel_sender(
    python: &Path,
    mode: &str,
    endpoint: &str,
    run: &str,
    authorization: Option<&str>,
) -> std::process::Output {
    Command::new(python)
        .args(["-c", include_str!("otel_send.py"), mode, endpoint, run])
        .arg(authorization.unwrap_or(""))
        .output()
        .expect("run the OpenTelemetry sender")
}

/// [`start_proc_with_ready_line`], with the lines printed before the ready line (the source
/// addresses: `otlp grpc: ADDR`, ...).
pub fn start_proc_with_startup(
    name: &str,
    args: &[&str],
    ready: &str,
) -> (Proc, String, Vec<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    let (mut child, rx) = spawn_lines(cmd);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut before = Vec::new();
    loop {
        let line = next_line(&mut child, &rx, deadline, name);
        if line.starts_with(ready) {
            return (
                Proc {
                    child,
                    name: name.into(),
                    log: None,
                    reader: None,
                },
                line,
                before,
            );
        }
        before.push(line);
    }
}

/// The next stdout line before `deadline`; kills the child and panics naming `what` otherwise.
fn next_line(
    child: &mut Child,
    rx: &mpsc::Receiver<String>,
    deadline: Instant,
    what: &str,
) -> String {
    let left = deadline.saturating_duration_since(Instant::now());
    rx.recv_timeout(left).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("{what} did not become ready within 60 s")
    })
}

/// Starts `loglynx ARGS...` like [`Proc::start`] and also returns its ready line (the agent's
/// `loglynx agent ready: topic T http ADDR` names the address it bound).
pub fn start_proc_with_ready_line(name: &str, args: &[&str], ready: &str) -> (Proc, String) {
    start_proc_with_ready_line_in(Command::new(BIN), name, args, ready)
}

/// [`start_proc_with_ready_line`] with `cmd` running loglynx (e.g. `ip netns exec NS loglynx`).
pub fn start_proc_with_ready_line_in(
    mut cmd: Command,
    name: &str,
    args: &[&str],
    ready: &str,
) -> (Proc, String) {
    cmd.args(args);
    let (mut child, rx) = spawn_lines(cmd);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = next_line(&mut child, &rx, deadline, name);
        if line.starts_with(ready) {
            let p = Proc {
                child,
                name: name.into(),
                log: None,
                reader: None,
            };
            return (p, line);
        }
    }
}
