//! Faults on the real binaries with a real Kafka-protocol broker (Tansu): a worker SIGKILLed
//! mid-ingest, the broker SIGSTOPped for 30 s, the agent restarted (SIGTERM and SIGKILL). In
//! each case the final store holds every line exactly once (the set of messages, no duplicate).
//!
//! The tests take turns (one broker and its processes at a time on a small machine: the
//! timing assertions measure the system, not the scheduler). Needs tansu
//! (`scripts/tansu.sh install`). `LOGLYNX_TEST_LOG=info` shows the processes' logs,
//! `LOGLYNX_TANSU_LOG=DIR` keeps the broker's.

mod support;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use support::kafka::{
    agent, config, expected, held_partitions, missing, stored, worker, write_lines, Writer,
    SESSION_TIMEOUT_S,
};
use support::{signal, Proc, Server, Tansu};

static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits until the store holds exactly the lines `0..n` of every file, then checks the set.
fn assert_exactly(serve: &Server, n: usize, timeout: Duration) {
    let want = expected(n);
    let deadline = Instant::now() + timeout;
    loop {
        let total = serve.total("*");
        assert!(total <= want.len() as u64, "{total} events stored, more than the {} lines", want.len());
        if total == want.len() as u64 {
            break;
        }
        if Instant::now() >= deadline {
            let got = stored(serve);
            panic!("timed out after {timeout:?}: {total} of {} lines stored; {}", want.len(), missing(&want, &got));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = stored(serve);
    assert!(got == want, "{}", missing(&want, &got));
}

/// Sum of `skipped N records already stored` counts in a worker's log.
fn duplicates_skipped(w: &Proc) -> u64 {
    w.log_lines()
        .iter()
        .filter(|l| l.contains("records already stored"))
        .filter_map(|l| l.split("count=").nth(1)?.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Lines of `logs/f*.log` below the positions of the agent's checkpoint file
/// (`<agent data dir>/agent/checkpoint.json`): the lines a restarted agent does not send again.
/// Every line of [`write_lines`] is 21 bytes (`kafka e2e fF nNNNNNN\n`).
fn checkpointed_lines(agent_dir: &Path) -> u64 {
    let text = std::fs::read_to_string(agent_dir.join("agent/checkpoint.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let bytes: u64 = v["positions"]
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.starts_with("file:")).filter_map(|(_, p)| p.as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(bytes % 21, 0, "checkpoint positions not at line ends: {text}");
    bytes / 21
}

/// Lines of a process's log that are warnings or errors (the processes log at `warn` unless
/// `LOGLYNX_TEST_LOG` says otherwise).
fn warnings(log: &[String]) -> Vec<String> {
    log.iter().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).cloned().collect()
}

/// Waits until the workers' shards have committed every record of the topic, then checks that
/// the records are the `lines` stored plus the `dups()` skipped as sent twice (plus offsets
/// given up as missing, which should be none): every record an agent sent again was skipped
/// and counted once. Returns (records in the topic, missing).
fn assert_records_accounted(serve: &Server, lines: u64, dups: impl Fn() -> u64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = serve
            .client()
            .get(serve.url("/api/v1/pipeline"))
            .send()
            .and_then(|r| r.json::<serde_json::Value>())
            .unwrap_or_default();
        let parts = p["partitions"].as_array().cloned().unwrap_or_default();
        let committed: u64 = parts.iter().filter_map(|x| x["committed"].as_u64()).sum();
        let missing: u64 = parts.iter().filter_map(|x| x["missing"].as_u64()).sum();
        let d = dups();
        if parts.len() == 2 && committed == lines + d + missing {
            return (committed, missing);
        }
        assert!(
            Instant::now() < deadline,
            "after 30 s the partitions' committed offsets sum to {committed} ({} partitions), not \
             the {lines} lines stored + {d} records skipped as sent twice + {missing} missing: {p}",
            parts.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The worker SIGKILLed is the group's follower, not its leader: Tansu 0.6 keeps a dead
/// leader as the leader of the next generation (its `Inner<Formed>::heartbeat` drops the
/// expired member but not `state.leader`, and `Formed::join` carries that leader into the
/// forming group), so the survivor's SyncGroup fails with REBALANCE_IN_PROGRESS until some
/// concurrent group request makes Tansu reload the group from storage (which drops a leader
/// that is no longer a member). That race is why an earlier version of this test, which
/// killed the first worker (the leader), passed only about 3 runs in 4. Apache Kafka elects
/// a new leader among the members that rejoin; see the report of issue 3.
#[test]
fn a_killed_worker_loses_its_partitions_to_the_survivor_and_nothing_is_stored_twice() {
    let _turn = one_at_a_time();
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    write_lines(&logs, 0, 1000);

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, "e2e-kill");
    // Worker 1 joins alone (so it leads the group and holds both partitions), then worker 2.
    let w1 = worker(&kafka, &cfg, &data, "e2e-kill", "worker 1");
    w1.wait_log(Duration::from_secs(60), "both partitions", |log| {
        held_partitions(log).is_some_and(|p| p.len() == 2)
    });
    let w2 = worker(&kafka, &cfg, &data, "e2e-kill", "worker 2");
    let serve = Server::start_serve(&data);
    let split = |w: &Proc| held_partitions(&w.log_lines()).is_some_and(|p| p.len() == 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(split(&w1) && split(&w2)) {
        assert!(Instant::now() < deadline, "the two workers did not split the partitions within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    serve.wait_for(Duration::from_secs(60), "the first events", || serve.total("*") > 0);

    // Mid-ingest: lines keep arriving while worker 2 dies without committing.
    let writer = Writer::start(write_lines, &logs, 1000, 10, Duration::from_millis(50));
    serve.wait_for(Duration::from_secs(60), "ingest under way", || serve.total("*") > 4400);
    eprintln!("=== SIGKILL worker 2 (pid {})", w2.pid());
    let killed = Instant::now();
    w2.kill();
    // The survivor takes both partitions once the session timeout has passed and one
    // rebalance is done.
    let bound = Duration::from_secs(SESSION_TIMEOUT_S + 6);
    w1.wait_log(bound, "both partitions after the kill", |log| {
        held_partitions(log).is_some_and(|p| p.len() == 2)
    });
    eprintln!("survivor took both partitions {:?} after the kill", killed.elapsed());
    let n = writer.stop();
    assert_exactly(&serve, n, Duration::from_secs(90));

    // The restarted worker rejoins and takes a partition back; later lines are stored once.
    let w2 = worker(&kafka, &cfg, &data, "e2e-kill", "worker 2 again");
    w2.wait_log(Duration::from_secs(60), "a partition", |log| {
        held_partitions(log).is_some_and(|p| p.len() == 1)
    });
    write_lines(&logs, n, n + 500);
    assert_exactly(&serve, n + 500, Duration::from_secs(60));

    agent.stop();
    w1.stop();
    w2.stop();
}

#[test]
fn a_broker_stopped_for_30_s_mid_ingest_loses_and_repeats_nothing() {
    let _turn = one_at_a_time();
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    write_lines(&logs, 0, 1000);

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, "e2e-stop");
    let w1 = worker(&kafka, &cfg, &data, "e2e-stop", "worker 1");
    let w2 = worker(&kafka, &cfg, &data, "e2e-stop", "worker 2");
    let serve = Server::start_serve(&data);
    let writer = Writer::start(write_lines, &logs, 1000, 5, Duration::from_millis(50));
    serve.wait_for(Duration::from_secs(60), "ingest under way", || serve.total("*") > 4400);

    let agent_dir = tmp.path().join("agent");
    signal(kafka.pid(), "STOP");
    let stopped = Instant::now();
    let before = writer.written();
    // The sources keep reading while the broker is frozen: after `spool_after` (5 s) the agent
    // buffers to disk and says so in its health report.
    let mut spooled = 0;
    while stopped.elapsed() < Duration::from_secs(30) {
        if let Some(p) = support::kafka::agent_producer(&agent_dir) {
            if p["state"] == "spooling" {
                spooled = spooled.max(p["spool_records"].as_u64().unwrap_or(0));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    signal(kafka.pid(), "CONT");
    assert!(writer.written() > before, "the writer stalled");
    assert!(spooled > 0, "the agent never reported spooling to disk while the broker was stopped");
    let n = writer.stop();
    assert_exactly(&serve, n, Duration::from_secs(90));
    // Drained: back to direct, nothing left on disk.
    serve.wait_for(Duration::from_secs(30), "the spool drained", || {
        support::kafka::agent_producer(&agent_dir)
            .is_some_and(|p| p["state"] == "direct" && p["spool_records"] == 0)
    });
    let segments = std::fs::read_dir(agent_dir.join("agent/spool"))
        .map(|d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "spool")).count())
        .unwrap_or(0);
    assert_eq!(segments, 0, "spool segments left after draining");

    agent.stop();
    w1.stop();
    w2.stop();
}

/// The agent is restarted mid-ingest with `sig` (`TERM`: clean stop; `KILL`: no chance to
/// write its checkpoint, so it sends again what was delivered since its last write).
fn agent_restart(sig: &str, topic: &str) {
    let _turn = one_at_a_time();
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    let agent_dir = tmp.path().join("agent");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    write_lines(&logs, 0, 1000);

    let a = agent(&kafka, &agent_dir, &logs, topic);
    let w1 = worker(&kafka, &cfg, &data, topic, "worker 1");
    let w2 = worker(&kafka, &cfg, &data, topic, "worker 2");
    let serve = Server::start_serve(&data);
    const STEP: usize = 10;
    let writer = Writer::start(write_lines, &logs, 1000, STEP, Duration::from_millis(50));
    serve.wait_for(Duration::from_secs(60), "ingest under way", || serve.total("*") > 4400);

    let first_log = match sig {
        "KILL" => {
            let log = a.log_lines();
            a.kill();
            log
        }
        _ => a.stop_logged(),
    };
    // What the stopped agent had written to its checkpoint: the restarted one sends the lines
    // from there on, so only lines past it and already in the files can be sent twice.
    let checkpointed = checkpointed_lines(&agent_dir);
    // At most: a step may be under way when `written` is read.
    let in_files = (support::kafka::FILES * (writer.written() + STEP)) as u64;
    let a = agent(&kafka, &agent_dir, &logs, topic);
    let n = writer.stop();
    assert_exactly(&serve, n, Duration::from_secs(90));
    let dups_now = || duplicates_skipped(&w1) + duplicates_skipped(&w2);
    let lines = (support::kafka::FILES * n) as u64;
    let (records, missing) = assert_records_accounted(&serve, lines, dups_now);
    let dups = dups_now();
    eprintln!(
        "agent restarted with SIG{sig}: {n} lines per file, {dups} re-sent records skipped by the workers \
         ({records} records in the topic, {missing} missing; the stopped agent had checkpointed \
         {checkpointed} of the at most {in_files} lines then in the files)"
    );
    assert!(checkpointed <= in_files, "checkpoint past the end of the files: {checkpointed} > {in_files}");
    // Bounds that hold when the agents had no trouble delivering: a warning (delivery retried,
    // records copied to the disk buffer, batches not confirmed at stop) can mean records in
    // Kafka twice without a restart.
    let restarted_log = a.stop_logged();
    let trouble: Vec<String> = warnings(&first_log).into_iter().chain(warnings(&restarted_log)).collect();
    if trouble.is_empty() {
        if sig == "KILL" {
            // Only the lines the killed agent had read past its checkpoint can be sent twice.
            assert!(
                dups <= in_files - checkpointed,
                "{dups} records skipped as sent twice, but only {} lines were past the killed agent's checkpoint",
                in_files - checkpointed
            );
        } else {
            // A clean stop writes the checkpoint after the last delivery report: nothing is sent twice.
            assert_eq!(dups, 0, "records sent twice after a clean stop (SIGTERM)");
        }
    } else {
        eprintln!("agent warnings, bounds on the re-sent records not checked: {trouble:?}");
    }

    w1.stop();
    w2.stop();
}

#[test]
fn an_agent_stopped_and_restarted_mid_ingest_loses_and_repeats_nothing() {
    agent_restart("TERM", "e2e-agent-term");
}

#[test]
fn an_agent_killed_and_restarted_mid_ingest_loses_and_repeats_nothing() {
    agent_restart("KILL", "e2e-agent-kill");
}
