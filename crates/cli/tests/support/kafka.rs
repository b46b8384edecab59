//! Helpers of the Kafka end-to-end tests: files of numbered lines, the agent and worker
//! command lines, the set of stored messages.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Proc, Server, Tansu};

/// Files the agent tails: `f0.log` .. `f3.log`.
pub const FILES: usize = 4;

/// Appends lines `from..to` to each of the files `f0.log` .. `f3.log`.
pub fn write_lines(dir: &Path, from: usize, to: usize) {
    write_numbered(dir, FILES, "kafka e2e", from, to);
}

/// The messages of lines `0..n` of every file.
pub fn expected(n: usize) -> BTreeSet<String> {
    expected_numbered(FILES, "kafka e2e", n)
}

/// Appends lines `from..to` to each of the files `f0.log` .. `f{files-1}.log`:
/// `<prefix> fF nNNNNNN`.
pub fn write_numbered(dir: &Path, files: usize, prefix: &str, from: usize, to: usize) {
    for f in 0..files {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("f{f}.log")))
            .unwrap();
        let mut buf = String::new();
        for i in from..to {
            buf.push_str(&format!("{prefix} f{f} n{i:06}\n"));
        }
        file.write_all(buf.as_bytes()).unwrap();
    }
}

/// The messages of lines `0..n` of every file of [`write_numbered`].
pub fn expected_numbered(files: usize, prefix: &str, n: usize) -> BTreeSet<String> {
    (0..files)
        .flat_map(|f| (0..n).map(move |i| format!("{prefix} f{f} n{i:06}")))
        .collect()
}

/// Appends lines to every file in steps of `step` lines (with `write`, e.g. [`write_lines`])
/// until stopped; says how many lines each file got.
pub struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    pub fn start(
        write: fn(&Path, usize, usize),
        dir: &Path,
        from: usize,
        step: usize,
        every: Duration,
    ) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(from));
        let (s, w, dir) = (stop.clone(), written.clone(), dir.to_path_buf());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                let n = w.load(Ordering::Acquire);
                write(&dir, n, n + step);
                w.store(n + step, Ordering::Release);
                std::thread::sleep(every);
            }
        });
        Writer {
            stop,
            written,
            thread,
        }
    }

    pub fn written(&self) -> usize {
        self.written.load(Ordering::Acquire)
    }

    /// Waits until `lines` more lines per file have been written: a phase of a test measured
    /// in data rather than in time, so a loaded machine (a writer thread scheduled late) still
    /// gives every phase the same records.
    pub fn wait_more(&self, lines: usize) {
        let target = self.written() + lines;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while self.written() < target {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer wrote {} of {target} lines in 120 s",
                self.written()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(self) -> usize {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap();
        self.written.load(Ordering::Acquire)
    }
}

/// Every stored message, checking that none is stored twice.
pub fn stored(serve: &Server) -> BTreeSet<String> {
    let hits = serve.all_hits("*");
    let msgs: Vec<String> = hits
        .iter()
        .map(|h| h["message"].as_str().expect("message").to_string())
        .collect();
    let set: BTreeSet<String> = msgs.iter().cloned().collect();
    if set.len() != msgs.len() {
        let mut seen = BTreeSet::new();
        let twice: Vec<&String> = msgs.iter().filter(|m| !seen.insert(*m)).take(5).collect();
        panic!(
            "{} lines are stored more than once, e.g. {twice:?}",
            msgs.len() - set.len()
        );
    }
    set
}

/// What is missing from `got` compared with `want` (a few examples), for assertion messages.
pub fn missing(want: &BTreeSet<String>, got: &BTreeSet<String>) -> String {
    let gone: Vec<&String> = want.difference(got).collect();
    let extra: Vec<&String> = got.difference(want).collect();
    format!(
        "{} missing (first {:?}, last {:?}), {} unexpected {:?}",
        gone.len(),
        gone.first(),
        gone.last(),
        extra.len(),
        extra.iter().take(3).collect::<Vec<_>>()
    )
}

/// The processes' log filter: warn, or `LOGLYNX_TEST_LOG` to investigate.
pub fn log_level() -> String {
    std::env::var("LOGLYNX_TEST_LOG").unwrap_or_else(|_| "warn".into())
}

/// `loglynx agent` tailing `logs/*.log` into `topic` (2 partitions), with `data` as its data
/// directory. Its log is kept (see [`Proc::wait_log`]).
pub fn agent(kafka: &Tansu, data: &Path, logs: &Path, topic: &str) -> Proc {
    agent_with(kafka, data, logs, topic, None)
}

/// [`agent`] with a config file.
pub fn agent_with(
    kafka: &Tansu,
    data: &Path,
    logs: &Path,
    topic: &str,
    config: Option<&Path>,
) -> Proc {
    let glob = format!("{}/*.log", logs.display());
    let level = log_level();
    let mut args = vec![
        "agent",
        "--data-dir",
        data.to_str().unwrap(),
        "--brokers",
        &kafka.brokers,
        "--topic",
        topic,
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
    ];
    if let Some(c) = config {
        args.extend(["-c", c.to_str().unwrap()]);
    }
    Proc::start_logged("agent", &args, "loglynx agent ready")
}

/// A `loglynx worker` with one consumer in group `e2e`. Its log, with at least the bus's
/// info lines (partition assignments), is kept.
pub fn worker(kafka: &Tansu, config: &Path, data: &Path, topic: &str, name: &str) -> Proc {
    let level = format!("{},loglynx_bus=info", log_level());
    Proc::start_logged(
        name,
        &[
            "worker",
            "-c",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--brokers",
            &kafka.brokers,
            "--topic",
            topic,
            "--group",
            "e2e",
            "--consumers",
            "1",
            "--log",
            &level,
        ],
        "loglynx worker ready",
    )
}

/// Session timeout of the workers started with [`config`].
pub const SESSION_TIMEOUT_S: u64 = 6;
/// `max.poll.interval.ms` (also the rebalance timeout) of the workers started with [`config`].
pub const MAX_POLL_INTERVAL_S: u64 = 15;

/// Fast commits; a short session timeout so a dead worker's partitions move quickly; a short
/// `max.poll.interval.ms`, which is also the rebalance timeout: Tansu (0.6) can hold a JoinGroup
/// until then when a member died in the middle of a rebalance. `LOGLYNX_TEST_RDKAFKA_DEBUG`
/// (e.g. `cgrp,fetch`) turns on librdkafka's debug contexts (shown with
/// `LOGLYNX_TEST_LOG=warn,librdkafka=debug`).
pub fn config(dir: &Path) -> PathBuf {
    let p = dir.join("loglynx.toml");
    let mut text = format!(
        "[store]\ncommit_interval = \"200ms\"\n[kafka]\nsession_timeout = \"{SESSION_TIMEOUT_S}s\"\n\
         max_poll_interval = \"{MAX_POLL_INTERVAL_S}s\"\nconsume_batch = 200\n"
    );
    if let Ok(debug) = std::env::var("LOGLYNX_TEST_RDKAFKA_DEBUG") {
        text.push_str(&format!("[kafka.properties]\ndebug = \"{debug}\"\n"));
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// The partitions of the last `rebalance done` line of a worker's log (`None` before any).
pub fn held_partitions(log: &[String]) -> Option<Vec<i32>> {
    let line = log.iter().rev().find(|l| l.contains("rebalance done"))?;
    let list = line.split("partitions=[").nth(1)?.split(']').next()?;
    Some(
        list.split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect(),
    )
}

/// The `producer` part of the agent's health report in `<agent data dir>/health/`.
pub fn agent_producer(data: &Path) -> Option<serde_json::Value> {
    std::fs::read_dir(data.join("health"))
        .ok()?
        .flatten()
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with("agent-") || !name.ends_with(".json") {
                return None;
            }
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            Some(v["producer"].clone())
        })
}

/// Appends failed sshd logins `from..to` of `source` to `auth0.log` .. `auth<files - 1>.log`
/// in `dir`, one per file in turn (each file one stream, so they spread over the partitions),
/// 3 s apart (inside the built-in `ssh_brute_force` rule's 5 min up to 100 of them; the
/// `i`-th always at the same time).
pub fn write_failed_logins(dir: &Path, files: usize, source: &str, from: usize, to: usize) {
    let mut out: Vec<std::fs::File> = (0..files)
        .map(|i| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("auth{i}.log")))
                .unwrap()
        })
        .collect();
    for i in from..to {
        let (m, s) = (i * 3 / 60, i * 3 % 60);
        writeln!(
            out[i % files],
            "Dec 10 07:{m:02}:{s:02} gate sshd[{}]: Failed password for invalid user admin{i} from {source} port {} ssh2",
            4000 + i,
            40000 + i
        )
        .unwrap();
    }
}
