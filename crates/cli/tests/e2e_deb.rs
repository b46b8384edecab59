//! The Debian package: built by `scripts/deb.sh` with cargo-deb from the debug binary the tests
//! already built (`--profile dev --no-build`: a release build of the workspace only for this
//! test would cost CI many minutes), installed with `dpkg -i`, checked as an administrator
//! would (files, conffile, the loglynx user and its groups, `systemd-analyze verify` on the
//! units, the packaged binary running as that user with the packaged configuration), then
//! removed and purged. Needs root; CI runs it (LOGLYNX_REQUIRE_ROOT).

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::Server;

const UNITS: [&str; 4] = ["loglynx", "loglynx-agent", "loglynx-worker", "loglynx-serve"];
const CONFIG: &str = "/etc/loglynx/loglynx.toml";
const STATE: &str = "/var/lib/loglynx";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// dpkg with `args`, waiting while another dpkg or apt holds the package database lock.
fn dpkg(args: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let out = run("dpkg", args);
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return;
        }
        if err.contains("lock") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(2));
            continue;
        }
        panic!("dpkg {args:?} failed ({}): {err}", out.status);
    }
}

#[test]
fn debian_package_installs_runs_as_its_user_and_removes_cleanly() {
    if !loglynx_testkit::require_root("installs a Debian package and creates the loglynx user") {
        return;
    }
    // Not installed already (a previous run that failed half way): start from nothing.
    if run("dpkg-query", &["-W", "-f=${Status}", "loglynx"]).stdout.starts_with(b"install ok") {
        dpkg(&["--purge", "loglynx"]);
    }

    let root = repo();
    let built = Command::new(root.join("scripts/deb.sh"))
        .args(["--profile", "dev", "--no-build"])
        .current_dir(&root)
        .output()
        .expect("run scripts/deb.sh");
    assert!(
        built.status.success(),
        "scripts/deb.sh failed: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    let deb = std::fs::read_dir(root.join("target/debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(&format!("loglynx_{version}-")) && n.ends_with(".deb")
        })
        .expect("target/debian/loglynx_<version>-*.deb");
    let fields = ok("dpkg-deb", &["-f", deb.to_str().unwrap(), "Package", "Depends"]);
    assert!(fields.contains("Package: loglynx"), "{fields}");
    assert!(fields.contains("libsystemd0") && fields.contains("adduser"), "{fields}");

    dpkg(&["-i", deb.to_str().unwrap()]);

    // The binary and what it generated for the package.
    let v = ok("/usr/bin/loglynx", &["--version"]);
    assert!(v.contains(version), "{v}");
    let man = ok("sh", &["-c", "zcat /usr/share/man/man1/loglynx.1.gz /usr/share/man/man1/loglynx-run.1.gz"]);
    assert!(man.contains(".TH loglynx ") && man.contains(".TH loglynx-run "), "manual pages");
    assert!(man.contains("journald"), "loglynx-run(1) documents --journald");
    let bash = std::fs::read_to_string("/usr/share/bash-completion/completions/loglynx").unwrap();
    assert!(bash.contains("complete ") && bash.contains("--journald-directory"), "bash completion");
    assert!(Path::new("/usr/share/zsh/vendor-completions/_loglynx").exists());
    assert!(Path::new("/usr/share/fish/vendor_completions.d/loglynx.fish").exists());
    assert!(Path::new("/usr/share/doc/loglynx/loglynx.example.toml").exists());

    // The configuration: a conffile, private to root and the loglynx group.
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "loglynx"]);
    assert!(conffiles.contains(CONFIG), "conffiles: {conffiles}");
    let uid: u32 = ok("id", &["-u", "loglynx"]).trim().parse().unwrap();
    let gid: u32 = ok("id", &["-g", "loglynx"]).trim().parse().unwrap();
    let c = std::fs::metadata(CONFIG).unwrap();
    assert_eq!((c.uid(), c.gid(), c.permissions().mode() & 0o777), (0, gid, 0o640));

    // The system user, its groups, its data directory.
    let pw = ok("getent", &["passwd", "loglynx"]);
    let pw: Vec<&str> = pw.trim().split(':').collect();
    assert_eq!(pw[5], STATE, "home");
    assert!(pw[6].ends_with("nologin"), "no login shell: {pw:?}");
    assert!(uid < 1000, "a system user: {uid}");
    let groups = ok("id", &["-nG", "loglynx"]);
    for g in ["adm", "systemd-journal"] {
        assert!(groups.split_whitespace().any(|x| x == g), "loglynx in {g}: {groups}");
    }
    let s = std::fs::metadata(STATE).unwrap();
    assert_eq!((s.uid(), s.permissions().mode() & 0o777), (uid, 0o700));

    // The units: installed, valid, hardened, none enabled by the package.
    let paths: Vec<String> = UNITS
        .iter()
        .map(|u| format!("/usr/lib/systemd/system/{u}.service"))
        .collect();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        for line in ["User=loglynx", "StateDirectory=loglynx", "ProtectSystem=strict", "NoNewPrivileges=yes"] {
            assert!(text.lines().any(|l| l == line), "{p} lacks {line}");
        }
        let caps = text.lines().find(|l| l.starts_with("CapabilityBoundingSet=")).unwrap();
        if p.ends_with("/loglynx.service") {
            assert_eq!(caps, "CapabilityBoundingSet=CAP_BPF CAP_PERFMON", "run: the network monitor's");
        } else {
            assert_eq!(caps, "CapabilityBoundingSet=", "{p}: no capabilities");
        }
    }
    let mut verify = vec!["verify"];
    verify.extend(paths.iter().map(String::as_str));
    let out = run("systemd-analyze", &verify);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    assert!(!said.contains("loglynx"), "systemd-analyze verify warns about our units: {said}");
    for u in UNITS {
        let e = run("systemctl", &["is-enabled", &format!("{u}.service")]);
        assert_ne!(String::from_utf8_lossy(&e.stdout).trim(), "enabled", "{u} enabled by the package");
    }

    // The packaged binary, as the loglynx user, with the packaged configuration: it starts,
    // takes a line and finds it.
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=loglynx", "--regid=loglynx", "--init-groups", "/usr/bin/loglynx"]);
    let server = Server::start_with(
        cmd,
        Path::new(STATE),
        &["--config", CONFIG, "--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    let r = server
        .client()
        .post(server.url("/api/v1/ingest"))
        .header("content-type", "text/plain")
        .body("debcheck packaged binary line")
        .send()
        .unwrap();
    assert!(r.status().is_success(), "ingest: {}", r.status());
    server.wait_total("debcheck", 1, Duration::from_secs(60));
    server.stop();
    let owner = std::fs::metadata(Path::new(STATE).join("store")).unwrap().uid();
    assert_eq!(owner, uid, "the store belongs to loglynx");

    // Remove: the program goes, the configuration and the data stay; purge takes them too.
    dpkg(&["-r", "loglynx"]);
    assert!(!Path::new("/usr/bin/loglynx").exists());
    assert!(!Path::new(&paths[0]).exists());
    assert!(Path::new(CONFIG).exists(), "remove keeps the conffile");
    assert!(Path::new(STATE).exists(), "remove keeps the data");
    dpkg(&["--purge", "loglynx"]);
    assert!(!Path::new(CONFIG).exists(), "purge removes the conffile");
    assert!(!Path::new(STATE).exists(), "purge removes the data");
}
