//! Drives the real `loglynx` binary: start, wait for readiness, query, kill.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_loglynx");

/// A running `loglynx run`; SIGKILLed when dropped.
pub struct Server {
    pub child: Child,
    pub http: SocketAddr,
    pub syslog_udp: Option<SocketAddr>,
    pub syslog_tcp: Option<SocketAddr>,
    pub data_dir: PathBuf,
    client: reqwest::blocking::Client,
}

impl Server {
    /// Starts `loglynx run --data-dir DIR --http 127.0.0.1:0 ARGS...` and waits until it prints
    /// its address (it prints it once the store is open and every source is listening).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("run")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http", "127.0.0.1:0", "--log", "warn"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start loglynx");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut http, mut udp, mut tcp) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("loglynx did not become ready within 60 s")
            });
            if let Some(a) = line.strip_prefix("syslog udp: ") {
                udp = a.trim().parse().ok();
            } else if let Some(a) = line.strip_prefix("syslog tcp: ") {
                tcp = a.trim().parse().ok();
            } else if let Some(rest) = line.strip_prefix("loglynx ready: dashboard http://") {
                http = rest.trim_end_matches("/ui/").parse().ok();
            }
        }
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let s = Server { child, http: http.unwrap(), syslog_udp: udp, syslog_tcp: tcp, data_dir: data_dir.into(), client };
        s.wait_for(Duration::from_secs(30), "health", || {
            s.client.get(s.url("/api/v1/health")).send().map(|r| r.status().is_success()).unwrap_or(false)
        });
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// GET /api/v1/search and returns the JSON body (panics on a non-2xx answer).
    pub fn search(&self, q: &str, limit: usize, offset: usize, sort: &str) -> Value {
        let r = self
            .client
            .get(self.url("/api/v1/search"))
            .query(&[("q", q), ("limit", &limit.to_string()), ("offset", &offset.to_string()), ("sort", sort)])
            .send()
            .expect("search request");
        let status = r.status();
        let body: Value = r.json().expect("search json");
        assert!(status.is_success(), "search {q:?} failed: {status} {body}");
        body
    }

    pub fn total(&self, q: &str) -> u64 {
        self.search(q, 1, 0, "desc")["total"].as_u64().expect("total")
    }

    /// Every hit of `q`, oldest first, fetched page by page.
    pub fn all_hits(&self, q: &str) -> Vec<Value> {
        let total = self.total(q) as usize;
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            let page = self.search(q, 10_000, out.len(), "asc");
            let hits = page["hits"].as_array().expect("hits").clone();
            if hits.is_empty() {
                break;
            }
            out.extend(hits);
        }
        out
    }

    /// Polls `cond` until it holds; panics with `what` after `timeout`.
    pub fn wait_for(&self, timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `q` matches exactly `n` events (and no more appear within the wait).
    pub fn wait_total(&self, q: &str, n: u64, timeout: Duration) {
        let mut last = 0;
        self.wait_for(timeout, &format!("{n} events matching {q:?}"), || {
            last = self.total(q);
            assert!(last <= n, "{q:?} matched {last} events, more than the {n} sent");
            last == n
        });
    }

    /// SIGKILL, no chance to commit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        unsafe_sigterm(self.child.id());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "loglynx exited with {status} after SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}
