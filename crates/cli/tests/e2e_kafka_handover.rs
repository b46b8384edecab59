//! Scale-out without a shared disk: workers with data directories of their own hand partitions
//! over by the group's committed offsets (issue 13). A real broker (Tansu), a real agent
//! tailing 8 files of numbered lines into 4 partitions, real workers; each worker its own data
//! directory, never shared.
//!
//! The oracle reads each worker's directory on its own (`loglynx serve --data-dir`, read-only)
//! and looks at every event's `kafka.partition` / `kafka.offset`: the union of the directories
//! holds every line; no directory holds an offset twice; the offsets two directories both hold
//! (a hand-over's overlap) are counted and bounded. The search root (issue 13, item 2) counts
//! such an overlap once by giving each offset range to one generation.
//!
//! Needs tansu (`scripts/tansu.sh install`). `LOGLYNX_TEST_LOG=info` shows the processes' logs.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use support::kafka::{
    expected_numbered, held_partitions, log_level, write_numbered, Writer, SESSION_TIMEOUT_S,
};
use support::{Proc, Server, Tansu};

static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Files the agent tails (8 streams, so the 4 partitions all get some).
const FILES: usize = 8;
const PARTITIONS: usize = 4;

/// Appends lines `from..to` to every file: `handover fF nNNNNNN`.
fn write_lines(dir: &Path, from: usize, to: usize) {
    write_numbered(dir, FILES, "handover", from, to);
}

fn expected(n: usize) -> BTreeSet<String> {
    expected_numbered(FILES, "handover", n)
}

/// The config of worker `host` (its host name: the workers play separate machines).
fn config(dir: &Path, host: &str) -> PathBuf {
    let p = dir.join(format!("{host}.toml"));
    let text = format!(
        "hostname = \"{host}\"\n[store]\ncommit_interval = \"200ms\"\n[kafka]\n\
         session_timeout = \"{SESSION_TIMEOUT_S}s\"\nmax_poll_interval = \"15s\"\nconsume_batch = 200\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn agent(kafka: &Tansu, data: &Path, logs: &Path, topic: &str) -> Proc {
    let glob = format!("{}/*.log", logs.display());
    let level = log_level();
    Proc::start_logged(
        "agent",
        &[
            "agent",
            "--data-dir",
            data.to_str().unwrap(),
            "--brokers",
            &kafka.brokers,
            "--topic",
            topic,
            "--partitions",
            "4",
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
    )
}

/// A worker named `name` (its host name) with one consumer (so one process may hold several
/// partitions) in group `e2e`, its data directory `<dir>/<name>`.
fn worker(kafka: &Tansu, dir: &Path, topic: &str, name: &str) -> Proc {
    let cfg = config(dir, name);
    let data = dir.join(name);
    let level = format!("{},loglynx_bus=info,loglynx_node=info", log_level());
    Proc::start_logged(
        name,
        &[
            "worker",
            "-c",
            cfg.to_str().unwrap(),
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

fn holds(w: &Proc, n: usize) -> bool {
    held_partitions(&w.log_lines()).is_some_and(|p| p.len() == n)
}

fn wait_split(ws: &[(&Proc, usize)], timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while !ws.iter().all(|(w, n)| holds(w, *n)) {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One stored event: its message and place in Kafka.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stored {
    partition: u64,
    offset: u64,
    message: String,
}

/// Every event of one worker's data directory, read by `serve` over that directory alone.
fn read_dir(data: &Path) -> Vec<Stored> {
    let serve = Server::start_serve(data);
    let hits = serve.all_hits("*");
    serve.stop();
    hits.iter()
        .map(|h| Stored {
            partition: h["kafka.partition"]
                .as_u64()
                .unwrap_or_else(|| panic!("no kafka.partition: {h}")),
            offset: h["kafka.offset"]
                .as_u64()
                .unwrap_or_else(|| panic!("no kafka.offset: {h}")),
            message: h["message"].as_str().expect("message").to_string(),
        })
        .collect()
}

/// What the directories hold together.
struct Union {
    /// (partition, offset) -> directories holding it.
    holders: BTreeMap<(u64, u64), usize>,
    messages: BTreeSet<String>,
    /// Events over all directories.
    events: usize,
}

impl Union {
    /// Offsets held by more than one directory.
    fn overlap(&self) -> usize {
        self.holders.values().filter(|n| **n > 1).count()
    }
}

/// Reads each directory; checks that none holds an offset twice and that the offsets of each
/// partition it holds name one message each (the same in every directory).
fn union(dirs: &[&Path]) -> Union {
    let mut holders: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut by_offset: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut messages = BTreeSet::new();
    let mut events = 0;
    for d in dirs {
        let stored = read_dir(d);
        events += stored.len();
        let mut mine = BTreeSet::new();
        for s in stored {
            assert!(
                s.partition < PARTITIONS as u64,
                "partition {} in {}",
                s.partition,
                d.display()
            );
            assert!(
                mine.insert((s.partition, s.offset)),
                "{} holds partition {} offset {} twice",
                d.display(),
                s.partition,
                s.offset
            );
            *holders.entry((s.partition, s.offset)).or_default() += 1;
            let prev = by_offset
                .entry((s.partition, s.offset))
                .or_insert_with(|| s.message.clone());
            assert_eq!(
                *prev, s.message,
                "partition {} offset {} is two messages",
                s.partition, s.offset
            );
            messages.insert(s.message);
        }
    }
    Union {
        holders,
        messages,
        events,
    }
}

fn assert_complete(u: &Union, n: usize) {
    let want = expected(n);
    let missing: Vec<&String> = want.difference(&u.messages).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} lines stored nowhere, e.g. {missing:?}",
        want.difference(&u.messages).count()
    );
    assert_eq!(u.messages.len(), want.len(), "unexpected messages stored");
}

/// Generation directories of a data directory (`<topic>-<p>-g<start>`), by partition.
fn generations(data: &Path, topic: &str) -> BTreeMap<u32, Vec<u64>> {
    let mut out: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for e in std::fs::read_dir(data.join("shards")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(&format!("{topic}-")) else {
            continue;
        };
        if let Some((p, start)) = rest.split_once("-g") {
            out.entry(p.parse().unwrap())
                .or_default()
                .push(start.parse().unwrap());
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

/// Waits until the directories hold `lines` distinct messages together (each read by a
/// `serve` of its own, which follows new commits).
fn wait_stored(dirs: &[&Path], lines: usize) {
    let serves: Vec<Server> = dirs.iter().map(|d| Server::start_serve(d)).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let total: u64 = serves.iter().map(|s| s.total("*")).sum();
        if total as usize >= lines {
            let distinct: BTreeSet<String> = serves
                .iter()
                .flat_map(|s| s.all_hits("*"))
                .map(|h| h["message"].as_str().unwrap_or_default().to_string())
                .collect();
            if distinct.len() >= lines {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "after 90 s the directories hold {total} events, not the {lines} lines"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for s in serves {
        s.stop();
    }
}

/// A worker added takes partitions from the first one, then leaves again (clean stops): the
/// moved partitions overlap by nothing, and the partitions that came back to the first worker
/// start new generations there past the middle stretch the second stored (A -> B -> A).
#[test]
fn partitions_moved_by_clean_hand_overs_are_stored_once_across_directories() {
    let _turn = one_at_a_time();
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (a_dir, b_dir) = (tmp.path().join("host-a"), tmp.path().join("host-b"));
    let topic = "e2e-move";
    write_lines(&logs, 0, 500);
    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, topic);
    let a = worker(&kafka, tmp.path(), topic, "host-a");
    wait_split(
        &[(&a, PARTITIONS)],
        Duration::from_secs(60),
        "worker a holds every partition",
    );

    let writer = Writer::start(write_lines, &logs, 500, 10, Duration::from_millis(50));
    writer.wait_more(600);
    // B joins: partitions move A -> B.
    let b = worker(&kafka, tmp.path(), topic, "host-b");
    wait_split(
        &[(&a, 2), (&b, 2)],
        Duration::from_secs(60),
        "a and b split the partitions",
    );
    writer.wait_more(600);
    // B leaves cleanly: its partitions move back B -> A.
    b.stop();
    wait_split(
        &[(&a, PARTITIONS)],
        Duration::from_secs(60),
        "a holds every partition again",
    );
    writer.wait_more(400);
    let n = writer.stop();
    // Everything written reaches a's shards; then a stops cleanly.
    wait_stored(&[&a_dir, &b_dir], FILES * n);
    a.stop();
    agent.stop();

    let u = union(&[&a_dir, &b_dir]);
    assert_complete(&u, n);
    eprintln!(
        "{} lines, {} events in a and b together, overlap {}",
        FILES * n,
        u.events,
        u.overlap()
    );
    assert_eq!(
        u.overlap(),
        0,
        "clean hand-overs stored offsets in both directories"
    );
    assert_eq!(u.events, FILES * n, "events stored more than once");
    // The partitions that went to b and came back: two generations on a, b's stretch between.
    let on_a = generations(&a_dir, topic);
    let on_b = generations(&b_dir, topic);
    assert_eq!(on_b.len(), 2, "b held two partitions: {on_b:?}");
    // A partition that got no record while b held it comes back to a's generation as it was
    // (the group's offset did not move); the others come back in a new generation.
    let stored_by_b: BTreeSet<u64> = read_dir(&b_dir).iter().map(|s| s.partition).collect();
    assert!(
        !stored_by_b.is_empty(),
        "b stored nothing while it held {on_b:?}"
    );
    for (p, b_starts) in on_b
        .iter()
        .filter(|(p, _)| stored_by_b.contains(&u64::from(**p)))
    {
        let a_starts = &on_a[p];
        assert!(
            a_starts.len() >= 2,
            "partition {p} came back to a without a new generation: {a_starts:?}"
        );
        assert!(
            a_starts.last() > b_starts.first(),
            "a's new generation of {p} starts before b's: {a_starts:?} {b_starts:?}"
        );
    }
}

/// The offset each partition was handed over at to `w`, from its `partition assigned` lines
/// (the last one of each partition): `resume_at=Some(N)`.
fn resumed_at(w: &Proc) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for l in w
        .log_lines()
        .iter()
        .filter(|l| l.contains("partition assigned"))
    {
        let field = |name: &str| -> Option<u64> {
            let v = l
                .split(&format!(" {name}="))
                .nth(1)?
                .split_whitespace()
                .next()?;
            v.trim_start_matches("Some(")
                .trim_end_matches(')')
                .parse()
                .ok()
        };
        if let (Some(p), Some(at)) = (field("partition"), field("resume_at")) {
            out.insert(p, at);
        }
    }
    out
}

/// A worker SIGKILLed mid-ingest: the survivor takes its partitions at the group's committed
/// offset (or the partition's state, written after the store commit), so what both hold is the
/// killed worker's last stretch past that offset; nothing is missing. The killed worker then
/// restarts on its directory and takes partitions again without storing any offset twice there.
#[test]
fn a_killed_worker_is_handed_over_at_the_committed_offset_and_nothing_is_missing() {
    let _turn = one_at_a_time();
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (a_dir, b_dir) = (tmp.path().join("host-a"), tmp.path().join("host-b"));
    let topic = "e2e-kill-handover";
    write_lines(&logs, 0, 500);
    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, topic);
    // a first, so it leads the group: the follower is killed (Tansu 0.6 keeps a dead leader,
    // see e2e_kafka_faults.rs).
    let a = worker(&kafka, tmp.path(), topic, "host-a");
    wait_split(
        &[(&a, PARTITIONS)],
        Duration::from_secs(60),
        "worker a holds every partition",
    );
    let b = worker(&kafka, tmp.path(), topic, "host-b");
    wait_split(
        &[(&a, 2), (&b, 2)],
        Duration::from_secs(60),
        "a and b split the partitions",
    );
    let writer = Writer::start(write_lines, &logs, 500, 10, Duration::from_millis(50));
    writer.wait_more(800);
    let b_held = held_partitions(&b.log_lines()).unwrap();
    // The agent keys each file to one partition (by the file's stream), so with FILES files
    // over PARTITIONS partitions one may get none: only b's partitions that carry records can
    // be searchable again. Which do: those b stored records of (it stores within a commit
    // interval; the writer has written 800 lines a file since b took them).
    let b_view = Server::start_serve(&b_dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    let b_loaded: Vec<_> = loop {
        let loaded: Vec<_> = b_held.iter().copied().filter(|p| b_view.total(&format!("kafka.partition:{p}")) > 0).collect();
        if !loaded.is_empty() || Instant::now() > deadline {
            break loaded;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    b_view.stop();
    assert!(!b_loaded.is_empty(), "b stored nothing of its partitions {b_held:?} in 30 s");
    if b_loaded.len() < b_held.len() {
        eprintln!("b's partitions {b_held:?}: only {b_loaded:?} carry records (no file's key fell on the others)");
    }
    // A search over a's directory, started before the kill: when b's partitions are
    // searchable again (the hand-over time of issue 13's benchmark).
    let a_view = Server::start_serve(&a_dir);
    eprintln!("=== SIGKILL worker b (partitions {b_held:?})");
    let killed = Instant::now();
    b.kill();
    wait_split(
        &[(&a, PARTITIONS)],
        Duration::from_secs(SESSION_TIMEOUT_S + 30),
        "a takes b's partitions",
    );
    let held_after = killed.elapsed();
    let handed = resumed_at(&a);
    // Searchable again: for each of b's partitions, a record past the offset a took it over
    // at is found by a search over a's directory (records keep coming: the writer runs).
    loop {
        let again = b_loaded.iter().all(|p| {
            let at = handed.get(&(*p as u64)).copied().unwrap_or(0);
            a_view.total(&format!("kafka.partition:{p} AND kafka.offset:>={at}")) > 0
        });
        if again {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(SESSION_TIMEOUT_S + 60),
            "b's partitions {b_loaded:?} not searchable on a {:?} after the kill (taken over at {handed:?})",
            killed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "a holds every partition {held_after:?} after the kill; b's partitions searchable again {:?} after it (session timeout {SESSION_TIMEOUT_S} s)",
        killed.elapsed()
    );
    a_view.stop();
    writer.wait_more(400);
    // b comes back on its own directory.
    let b = worker(&kafka, tmp.path(), topic, "host-b");
    wait_split(
        &[(&a, 2), (&b, 2)],
        Duration::from_secs(60),
        "a and b split the partitions again",
    );
    writer.wait_more(400);
    let n = writer.stop();
    wait_stored(&[&a_dir, &b_dir], FILES * n);
    a.stop();
    b.stop();
    agent.stop();

    let u = union(&[&a_dir, &b_dir]);
    assert_complete(&u, n);
    let overlap: Vec<(u64, u64)> = u
        .holders
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    eprintln!(
        "{} lines, {} events in a and b together, {} offsets in both (the killed worker's last commit interval); a took over at {handed:?}",
        FILES * n,
        u.events,
        overlap.len()
    );
    assert_eq!(
        u.events,
        FILES * n + overlap.len(),
        "an event is stored twice other than by offset overlap"
    );
    // What both hold is past the offset a took each partition over at: the stretch b had stored
    // but not yet committed to Kafka when it died.
    for (p, o) in &overlap {
        assert!(
            b_held.contains(&(*p as i32)),
            "partition {p} offset {o} in both, but b never held {p} before the kill"
        );
        let at = handed.get(p).copied().unwrap_or(0);
        assert!(
            *o >= at,
            "partition {p} offset {o} in both directories is below the hand-over offset {at}"
        );
    }
}

/// The agent is SIGKILLed while a partition moves: the restarted agent sends again what it had
/// not checkpointed, at new offsets; whichever worker holds the partition then skips the copies,
/// since the dedup state moved with the partition (`<topic>-state`). Every line is stored once.
#[test]
fn an_agent_killed_during_a_hand_over_stores_every_line_once() {
    let _turn = one_at_a_time();
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (a_dir, b_dir) = (tmp.path().join("host-a"), tmp.path().join("host-b"));
    let agent_dir = tmp.path().join("agent");
    let topic = "e2e-agent-handover";
    write_lines(&logs, 0, 500);
    let first = agent(&kafka, &agent_dir, &logs, topic);
    let a = worker(&kafka, tmp.path(), topic, "host-a");
    wait_split(
        &[(&a, PARTITIONS)],
        Duration::from_secs(60),
        "worker a holds every partition",
    );
    let writer = Writer::start(write_lines, &logs, 500, 10, Duration::from_millis(50));
    writer.wait_more(600);
    // b joins, and the agent dies while the partitions move.
    let b = worker(&kafka, tmp.path(), topic, "host-b");
    first.kill();
    wait_split(
        &[(&a, 2), (&b, 2)],
        Duration::from_secs(60),
        "a and b split the partitions",
    );
    let again = agent(&kafka, &agent_dir, &logs, topic);
    writer.wait_more(600);
    let n = writer.stop();
    wait_stored(&[&a_dir, &b_dir], FILES * n);
    // Let the last copies arrive (they are skipped; a copy stored would show below).
    std::thread::sleep(Duration::from_secs(2));
    again.stop();
    let logs_of_workers = [a.stop_logged(), b.stop_logged()];
    // Records the workers skipped as sent twice (`skipped records already stored ... count=N`).
    let skipped: u64 = logs_of_workers
        .iter()
        .flatten()
        .filter(|l| l.contains("records already stored"))
        .filter_map(|l| {
            l.split("count=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();

    let u = union(&[&a_dir, &b_dir]);
    assert_complete(&u, n);
    eprintln!(
        "{} lines, {} events in a and b together, overlap {}, {skipped} copies sent again by the agent skipped",
        FILES * n,
        u.events,
        u.overlap()
    );
    assert_eq!(
        u.overlap(),
        0,
        "a clean hand-over stored offsets in both directories"
    );
    assert_eq!(
        u.events,
        FILES * n,
        "a line the agent sent again was stored twice"
    );
}
