//! Test support shared by the loglynx test suites (a dev-dependency only, never published).
//!
//! Some tests need what a developer's machine may lack: root (eBPF, dropping to another user)
//! or the sample data kept next to the repository (`../shared/data`). On a laptop such a test
//! prints `skipping: ...` and passes; in CI it must not pass without checking anything, so
//! `.ci/run` sets:
//!
//! - `LOGLYNX_REQUIRE_ROOT=1`: [`require_root`] panics instead of skipping when not root;
//! - `LOGLYNX_REQUIRE_SHARED=1`: [`shared_data`] panics instead of skipping when the data is
//!   absent.
//!
//! Any value other than empty or `0` counts as set.
//!
//! ```no_run
//! #[test]
//! fn loads_ebpf() {
//!     if !loglynx_testkit::require_root("loads eBPF programs") {
//!         return; // skipped (the message is printed)
//!     }
//!     // ...
//! }
//! ```

use std::fmt::Display;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// Makes [`require_root`] fail instead of skip.
pub const REQUIRE_ROOT: &str = "LOGLYNX_REQUIRE_ROOT";
/// Makes [`shared_data`] fail instead of skip.
pub const REQUIRE_SHARED: &str = "LOGLYNX_REQUIRE_SHARED";

pub mod netns;
pub mod netns_hosts;
pub mod oracle;
pub mod tmpfs;

/// True when running as root (effective uid 0). When not, prints `skipping: needs root (why)`
/// and returns false, or panics when `LOGLYNX_REQUIRE_ROOT` is set.
pub fn require_root(why: &str) -> bool {
    decide_root(is_root(), why, required(REQUIRE_ROOT))
}

/// `../shared/data/<rel>` from the repository root (where the project keeps its sample data
/// outside the repository), when it exists. When absent, prints `skipping: ...` and returns
/// None, or panics when `LOGLYNX_REQUIRE_SHARED` is set.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = shared_root().join(rel);
    let exists = path.exists();
    decide_shared(path, exists, required(REQUIRE_SHARED))
}

/// `../shared/data` from the repository root (the workspace of this crate).
pub fn shared_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Whether the environment variable `var` asks for the requirement (set, not empty, not `0`).
pub fn required(var: &str) -> bool {
    flag(std::env::var_os(var).as_deref().and_then(|v| v.to_str()))
}

/// The effective uid is 0.
pub fn is_root() -> bool {
    // From /proc (Linux) rather than libc: this crate has no dependencies. `Uid:` holds the
    // real, effective, saved and filesystem uids.
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// A 127.0.0.1 TCP port that was free a moment ago (bound, then released), e.g. to filter a
/// monitor on it before the server that will listen there exists.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The lines of `out` (a child's piped stdout or stderr) on a channel, read by a thread of
/// their own until the pipe closes or the receiver goes away.
pub fn line_channel(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `python3 -c <script> <args>...` with stdin and stdout piped (the test's scripts wait
/// on stdin to hold their sockets); its stdout lines arrive on the returned channel.
pub fn python(script: &str, args: &[&dyn Display]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args.iter().map(|a| a.to_string()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test");
    let rx = line_channel(child.stdout.take().expect("piped stdout"));
    (child, rx)
}

fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty() && v.trim() != "0")
}

fn decide_root(root: bool, why: &str, required: bool) -> bool {
    if root {
        return true;
    }
    if required {
        panic!(
            "needs root ({why}) and {REQUIRE_ROOT} is set: run the tests as root (CI does), \
             or unset {REQUIRE_ROOT} to skip this test"
        );
    }
    eprintln!("skipping: needs root ({why}); set {REQUIRE_ROOT}=1 to make this a failure");
    false
}

fn decide_shared(path: PathBuf, exists: bool, required: bool) -> Option<PathBuf> {
    if exists {
        return Some(path);
    }
    if required {
        panic!(
            "{} not found and {REQUIRE_SHARED} is set: put the shared sample data there, \
             or unset {REQUIRE_SHARED} to skip this test",
            path.display()
        );
    }
    eprintln!(
        "skipping: {} not found (shared sample data); set {REQUIRE_SHARED}=1 to make this a failure",
        path.display()
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_count_as_set_unless_empty_or_zero() {
        assert!(!flag(None));
        assert!(!flag(Some("")));
        assert!(!flag(Some(" ")));
        assert!(!flag(Some("0")));
        assert!(flag(Some("1")));
        assert!(flag(Some("yes")));
        assert!(flag(Some("true")));
    }

    #[test]
    fn root_runs_whatever_the_variable() {
        assert!(decide_root(true, "x", false));
        assert!(decide_root(true, "x", true));
    }

    #[test]
    fn not_root_skips_without_the_variable() {
        assert!(!decide_root(false, "x", false));
    }

    #[test]
    #[should_panic(expected = "needs root (loads eBPF) and LOGLYNX_REQUIRE_ROOT is set")]
    fn not_root_fails_with_the_variable() {
        decide_root(false, "loads eBPF", true);
    }

    #[test]
    fn present_data_is_returned_whatever_the_variable() {
        let p = PathBuf::from("/somewhere/loghub");
        assert_eq!(decide_shared(p.clone(), true, false), Some(p.clone()));
        assert_eq!(decide_shared(p.clone(), true, true), Some(p));
    }

    #[test]
    fn absent_data_skips_without_the_variable() {
        assert_eq!(decide_shared(PathBuf::from("/nowhere/loghub"), false, false), None);
    }

    #[test]
    #[should_panic(expected = "/nowhere/loghub not found and LOGLYNX_REQUIRE_SHARED is set")]
    fn absent_data_fails_with_the_variable() {
        decide_shared(PathBuf::from("/nowhere/loghub"), false, true);
    }

    #[test]
    fn the_public_checks_follow_the_environment() {
        // The only test here that reads the real variables and machine; it sets neither, so
        // it holds under CI's settings too as long as the requirement is met there.
        let root = is_root();
        if root || !required(REQUIRE_ROOT) {
            assert_eq!(require_root("test"), root);
        }
        let data = shared_root().join("loghub");
        if data.exists() || !required(REQUIRE_SHARED) {
            assert_eq!(shared_data("loghub"), data.exists().then_some(data));
        }
    }

    #[test]
    fn python_lines_arrive_on_the_channel() {
        let (mut child, rx) = python(
            "import sys\nprint(sys.argv[1], sys.argv[2], flush=True)\nsys.stdin.read()",
            &[&7u16, &"x"],
        );
        let line = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(line, "7 x");
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let p = free_port();
        assert_ne!(p, 0);
        TcpListener::bind(("127.0.0.1", p)).unwrap();
    }

    #[test]
    fn shared_root_is_next_to_the_repository() {
        // crates/testkit -> repository root -> its parent.
        let root = shared_root();
        assert!(root.ends_with("../../../shared/data"), "{}", root.display());
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert!(repo.join("Cargo.toml").is_file());
    }
}
