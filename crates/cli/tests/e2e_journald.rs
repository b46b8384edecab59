//! The systemd journal as a source: a journal written in the test by `systemd-journal-remote`
//! (from journal export format, into a private directory: no running journald needed) is read
//! by `loglynx run --journald-directory`, SIGKILLed in the middle, appended to while it is down
//! and again while it runs after a restart: every entry is stored exactly once, with its fields
//! mapped to ECS.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::Server;

/// Debian's path of the journal writer (package systemd-journal-remote).
const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";
/// `__REALTIME_TIMESTAMP` of entry 0 (µs): 2025-11-24T16:00:00Z.
const T0_US: u64 = 1_764_000_000_000_000;

/// Appends entries `from..to` to `dir/remote-test.journal` through systemd-journal-remote
/// (journal export format on a file, one entry per blank-line-separated block).
fn write_entries(dir: &Path, from: usize, to: usize) {
    assert!(
        Path::new(JOURNAL_REMOTE).exists(),
        "{JOURNAL_REMOTE} is missing: apt-get install systemd-journal-remote (scripts/test.sh does)"
    );
    let export = dir.with_extension(format!("{from}.export"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&export).unwrap());
    for i in from..to {
        write!(
            w,
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n\
             MESSAGE=jmark {i} payload {:08x}\nPRIORITY={}\nSYSLOG_FACILITY=3\n_HOSTNAME=web{}\n\
             SYSLOG_IDENTIFIER=shop\n_COMM=shop-bin\n_PID={}\n_SYSTEMD_UNIT=shop.service\n\
             _TRANSPORT=journal\nORDER_ID=o{i}\n\n",
            T0_US + i as u64 * 1000,
            i + 1,
            (i as u64).wrapping_mul(2_654_435_761) % (1 << 32),
            i % 8,
            i % 3,
            1000 + i % 50,
        )
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let out = Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", dir.join("remote-test.journal").display()))
        .arg(&export)
        .output()
        .expect("run systemd-journal-remote");
    assert!(
        out.status.success(),
        "systemd-journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&export).unwrap();
}

#[test]
fn journal_read_exactly_once_across_a_sigkill_and_followed_after_restart() {
    const N1: usize = 100_000; // before the first start
    const N2: usize = 2_000; // while loglynx is down
    const N3: usize = 3_000; // while the second one runs
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    write_entries(&journal, 0, N1);
    let data = dir.path().join("data");
    let jdir = journal.to_str().unwrap();
    let args = ["--journald-directory", jdir, "--syslog-udp", "off", "--syslog-tcp", "off"];

    let first = Server::start(&data, &args);
    let mut seen = 0;
    first.wait_for(Duration::from_secs(120), "the first committed journal entries", || {
        seen = first.total("event.dataset:journald");
        seen > 0
    });
    first.kill();
    assert!(
        seen < N1 as u64,
        "the whole journal was stored before the kill ({seen} events): the test needs more entries"
    );

    write_entries(&journal, N1, N1 + N2);
    let second = Server::start(&data, &args);
    second.wait_total("event.dataset:journald", (N1 + N2) as u64, Duration::from_secs(300));
    // Followed live: written while the reader waits for new entries.
    write_entries(&journal, N1 + N2, N1 + N2 + N3);
    let n = N1 + N2 + N3;
    second.wait_total("event.dataset:journald", n as u64, Duration::from_secs(120));

    let hits = second.all_hits("event.dataset:journald");
    assert_eq!(hits.len(), n);
    let marks: HashSet<u64> = hits
        .iter()
        .map(|h| {
            let m = h["message"].as_str().unwrap();
            m.split_whitespace().nth(1).unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(marks.len(), n, "some entry is missing or stored twice");
    assert_eq!(marks.iter().max(), Some(&(n as u64 - 1)));
    let ids: HashSet<&str> = hits.iter().map(|h| h["event.id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), n, "event ids are unique");

    // Entry 4242: its fields as a user searches them.
    let r = second.search("\"jmark 4242 payload\"", 5, 0, "desc");
    assert_eq!(r["total"], 1, "{r}");
    let e = &r["hits"][0];
    assert_eq!(e["log.level"], "crit", "PRIORITY 4242 % 8 = 2: {e}");
    assert_eq!(e["log.syslog.severity.code"], 2, "{e}");
    assert_eq!(e["log.syslog.facility.code"], 3, "{e}");
    assert_eq!(e["host.name"], "web0", "{e}");
    assert_eq!(e["process.name"], "shop", "SYSLOG_IDENTIFIER: {e}");
    assert_eq!(e["service.name"], "shop", "{e}");
    assert_eq!(e["process.pid"], 1000 + 4242 % 50, "{e}");
    assert_eq!(e["systemd.unit"], "shop.service", "{e}");
    assert_eq!(e["@timestamp"], "2025-11-24T16:00:04.242Z", "__REALTIME_TIMESTAMP: {e}");
    assert_eq!(e["labels.journald.order_id"], "o4242", "{e}");
    assert_eq!(e["labels.journald.transport"], "journal", "{e}");
    assert_eq!(e["labels.journald.boot_id"], "0123456789abcdef0123456789abcdef", "{e}");
    // The fields are searchable like any other source's.
    assert_eq!(
        second.total("systemd.unit:shop.service AND log.level:error AND host.name:web1"),
        hits.iter()
            .filter(|h| h["log.level"] == "error" && h["host.name"] == "web1")
            .count() as u64
    );
    assert_eq!(second.total("labels.journald.order_id:o104999"), 1);
    second.stop();
}

/// `loglynx agent --journald-directory` into Kafka (Tansu), a worker storing the topic: the
/// agent is SIGKILLed once the first entries are stored, the journal grows while it is down,
/// and after its restart every entry is stored exactly once (entries it sends again are
/// skipped by the worker).
#[test]
fn agent_ships_the_journal_once_across_a_sigkill() {
    use support::kafka::{config, log_level, worker};
    use support::{Proc, Tansu};
    const N1: usize = 20_000;
    const N2: usize = 1_000;
    const TOPIC: &str = "e2e-agent-journald";
    let kafka = Tansu::start();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    write_entries(&journal, 0, N1);
    let (agent_dir, data) = (dir.path().join("agent"), dir.path().join("data"));
    let level = log_level();
    let agent = || {
        Proc::start_logged(
            "agent",
            &[
                "agent", "--data-dir", agent_dir.to_str().unwrap(), "--brokers", &kafka.brokers, "--topic", TOPIC,
                "--partitions", "2", "--journald-directory", journal.to_str().unwrap(), "--syslog-udp", "off",
                "--syslog-tcp", "off", "--http", "off", "--log", &level,
            ],
            "loglynx agent ready",
        )
    };
    let first = agent();
    let cfg = config(dir.path());
    let w = worker(&kafka, &cfg, &data, TOPIC, "worker");
    let serve = Server::start_serve(&data);
    serve.wait_for(Duration::from_secs(120), "the first journal entries stored", || {
        serve.total("event.dataset:journald") > 0
    });
    first.kill();
    write_entries(&journal, N1, N1 + N2);
    let second = agent();
    let n = N1 + N2;
    serve.wait_total("event.dataset:journald", n as u64, Duration::from_secs(300));
    let hits = serve.all_hits("event.dataset:journald");
    let marks: HashSet<u64> = hits
        .iter()
        .map(|h| h["message"].as_str().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!((hits.len(), marks.len()), (n, n), "some entry is missing or stored twice");
    assert_eq!(serve.total("labels.journald.order_id:o20999 AND host.name:web2"), 1);
    second.stop();
    w.stop();
}
