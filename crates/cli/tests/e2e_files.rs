//! Files loglynx writes are private, and tailing does not follow symlinks out of its globs:
//! `loglynx run` and an agent spooling to disk (no broker) started under umask 022 leave only
//! 0700 directories and 0600 files in their data directories (store, alerts, checkpoint, spool,
//! health reports); a link in the tailed directory to a file outside the globs is not read
//! (and a warning says so).

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Proc, Server, BIN};

/// Every directory and file under `dir` (and `dir`) with a mode open to group or others.
fn open_modes(dir: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            open.push(format!("{} {mode:o}", p.display()));
        }
        if meta.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    open
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            n += 1;
        }
    }
    n
}

fn wait(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn data_directories_are_private_and_symlinks_out_of_the_globs_are_not_followed() {
    // SAFETY: sets the test process's file-mode mask (inherited by the children), as a shell would.
    unsafe {
        libc::umask(0o022);
    }
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let secret = tmp.path().join("secret");
    fs::create_dir_all(&logs).unwrap();
    fs::create_dir_all(&secret).unwrap();
    fs::write(logs.join("app.log"), "filesmark one\nfilesmark two\n").unwrap();
    fs::write(secret.join("shadow"), "secretmark root:$6$hash\n").unwrap();
    std::os::unix::fs::symlink(secret.join("shadow"), logs.join("evil.log")).unwrap();
    let glob = format!("{}/*.log", logs.display());

    let data = tmp.path().join("data");
    let log_path = tmp.path().join("run.log");
    let mut cmd = Command::new(BIN);
    cmd.stderr(fs::File::create(&log_path).unwrap());
    let server = Server::start_with(
        cmd,
        &data,
        &["--tail", &glob, "--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    server.wait_total("filesmark", 2, Duration::from_secs(30));
    wait(Duration::from_secs(30), "the symlink warning", || {
        fs::read_to_string(&log_path).unwrap_or_default().contains("not following a symlink out of files.include")
    });
    assert_eq!(server.total("secretmark"), 0, "the file behind the link was read");
    server.stop();
    assert!(count_files(&data) > 5, "the store wrote files");
    assert_eq!(open_modes(&data), Vec::<String>::new(), "open modes under the data directory");

    // The agent's disk buffer (no broker at that port), checkpoint and health files.
    let agent_dir = tmp.path().join("agent");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = tmp.path().join("agent.toml");
    fs::write(&cfg, "[kafka]\nspool_after = \"1s\"\n").unwrap();
    let agent = Proc::start(
        "agent",
        &[
            "agent", "-c", cfg.to_str().unwrap(), "--data-dir", agent_dir.to_str().unwrap(),
            "--brokers", &format!("127.0.0.1:{port}"), "--topic", "files", "--tail", &glob,
            "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off", "--log", "warn",
        ],
        "loglynx agent ready",
    );
    let spool = agent_dir.join("agent/spool");
    wait(Duration::from_secs(60), "spool segment files", || {
        spool.is_dir() && fs::read_dir(&spool).unwrap().count() > 0
    });
    wait(Duration::from_secs(30), "the agent's checkpoint", || agent_dir.join("agent/checkpoint.json").exists());
    agent.kill();
    assert_eq!(open_modes(&agent_dir), Vec::<String>::new(), "open modes under the agent's data directory");
}
