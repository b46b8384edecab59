//! Real log shippers from Debian's packages ship a file each way they can to `loglynx run`,
//! and every line is found exactly once:
//!
//! - rsyslog: `imfile` -> `omfwd` over TCP (RFC 5424, octet-counted) and over UDP (RFC 5424),
//!   and -> `omelasticsearch` (bulk mode) to `/_bulk`;
//! - syslog-ng: `file()` -> `network()` (TCP, BSD syslog), `syslog()` (TCP, RFC 5424 with
//!   octet counting) and `elasticsearch-http()` to `/_bulk`.
//!
//! Each shipper runs with its own configuration, pid file and work directory in the test's
//! temporary directory (never the system service). `scripts/shippers.sh` installs them when
//! missing (rsyslog as a package, syslog-ng unpacked under target/shippers because Debian's
//! two packages conflict); `scripts/test.sh` runs it too. The configurations are the ones
//! docs/SHIPPERS.md shows.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::Server;

/// Lines per file (per transport).
const N: usize = 300;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Installs the shippers when missing.
fn install() {
    let status = Command::new(root().join("scripts/shippers.sh"))
        .status()
        .expect("run scripts/shippers.sh");
    assert!(
        status.success(),
        "scripts/shippers.sh failed: it installs rsyslog and unpacks syslog-ng from Debian's packages (needs root or sudo)"
    );
}

/// Writes `N` lines tagged `tag` into `dir/<tag>.log`; returns the path and the lines.
fn write_lines(dir: &Path, tag: &str) -> (PathBuf, BTreeSet<String>) {
    let lines: BTreeSet<String> = (0..N).map(|i| format!("ship {tag} n{i} order={}", i * 7)).collect();
    let path = dir.join(format!("{tag}.log"));
    let mut text = lines.iter().cloned().collect::<Vec<_>>().join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    (path, lines)
}

/// Waits until the `N` lines of `tag` are stored, then checks that each is there exactly once.
fn check(server: &Server, tag: &str, lines: &BTreeSet<String>) {
    server.wait_total(tag, N as u64, Duration::from_secs(60));
    let messages: Vec<String> = server
        .all_hits(tag)
        .iter()
        .map(|h| h["message"].as_str().expect("message").to_string())
        .collect();
    assert_eq!(messages.len(), N, "{tag}: every line once");
    let found: BTreeSet<String> = messages.into_iter().collect();
    assert_eq!(&found, lines, "{tag}: the lines as written");
}

/// A shipper process, stopped with SIGTERM and reaped when dropped.
struct Shipper(Child);

impl Drop for Shipper {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    let s = Server::start(
        &dir.join("data"),
        &["--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"],
    );
    assert!(s.syslog_udp.is_some() && s.syslog_tcp.is_some());
    s
}

#[test]
fn rsyslog_ships_over_tcp_udp_and_elasticsearch_bulk() {
    install();
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let (tcp, udp) = (server.syslog_tcp.unwrap(), server.syslog_udp.unwrap());
    let files: Vec<_> = ["rsyslogtcp", "rsyslogudp", "rsyslogbulk"]
        .iter()
        .map(|t| (t.to_string(), write_lines(dir.path(), t)))
        .collect();
    let work = dir.path().join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let conf = format!(
        r#"global(workDirectory="{work}")
module(load="imfile" mode="polling" PollingInterval="1")
module(load="omelasticsearch")
template(name="ecs" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host.name" name="hostname" format="jsonf")
  property(outname="process.name" name="programname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
ruleset(name="tcp") {{
  action(type="omfwd" target="{tcp_ip}" port="{tcp_port}" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
}}
ruleset(name="udp") {{
  action(type="omfwd" target="{udp_ip}" port="{udp_port}" protocol="udp"
         template="RSYSLOG_SyslogProtocol23Format")
}}
ruleset(name="bulk") {{
  action(type="omelasticsearch" server="{http_ip}" serverport="{http_port}" template="ecs"
         searchIndex="rsyslog" bulkmode="on" errorFile="{work}/es-errors.json")
}}
input(type="imfile" File="{f0}" Tag="shipper" ruleset="tcp")
input(type="imfile" File="{f1}" Tag="shipper" ruleset="udp")
input(type="imfile" File="{f2}" Tag="shipper" ruleset="bulk")
"#,
        work = work.display(),
        tcp_ip = tcp.ip(),
        tcp_port = tcp.port(),
        udp_ip = udp.ip(),
        udp_port = udp.port(),
        http_ip = server.http.ip(),
        http_port = server.http.port(),
        f0 = files[0].1 .0.display(),
        f1 = files[1].1 .0.display(),
        f2 = files[2].1 .0.display(),
    );
    let conf_path = work.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let _rsyslog = Shipper(
        Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(work.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start rsyslogd"),
    );
    for (tag, (_, lines)) in &files {
        check(&server, tag, lines);
    }
    let errors = std::fs::read_to_string(work.join("es-errors.json")).unwrap_or_default();
    assert!(errors.is_empty(), "omelasticsearch reported errors: {errors}");
    let bulk = server.search("rsyslogbulk", 1, 0, "desc");
    assert_eq!(bulk["hits"][0]["labels.index"], "rsyslog");
    assert_eq!(bulk["hits"][0]["process.name"], "shipper");
    let tcp_hit = server.search("rsyslogtcp", 1, 0, "desc");
    assert_eq!(tcp_hit["hits"][0]["event.dataset"], "syslog");
}

#[test]
fn syslog_ng_ships_over_network_syslog_and_elasticsearch_http() {
    install();
    let sng = root().join("target/shippers/syslog-ng");
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let tcp = server.syslog_tcp.unwrap();
    let files: Vec<_> = ["sngnetwork", "sngsyslog", "sngbulk"]
        .iter()
        .map(|t| (t.to_string(), write_lines(dir.path(), t)))
        .collect();
    let work = dir.path().join("syslog-ng");
    std::fs::create_dir_all(&work).unwrap();
    let conf = format!(
        r#"@version: 3.38
@include "{scl}/elasticsearch/elastic-http.conf"
options {{ stats_freq(0); }};
source s_network {{ file("{f0}" follow-freq(1) flags(no-parse) program-override("shipper")); }};
source s_syslog {{ file("{f1}" follow-freq(1) flags(no-parse) program-override("shipper")); }};
source s_bulk {{ file("{f2}" follow-freq(1) flags(no-parse) program-override("shipper")); }};
destination d_network {{ network("{ip}" port({port}) transport("tcp") persist-name("d_network")); }};
destination d_syslog {{ syslog("{ip}" port({port}) transport("tcp") persist-name("d_syslog")); }};
destination d_bulk {{
  elasticsearch-http(url("http://{http}/_bulk") index("syslog-ng") type("")
    template("$(format-json --scope none @timestamp=$ISODATE host.name=$HOST process.name=$PROGRAM log.level=$LEVEL message=$MESSAGE)"));
}};
log {{ source(s_network); destination(d_network); }};
log {{ source(s_syslog); destination(d_syslog); }};
log {{ source(s_bulk); destination(d_bulk); }};
"#,
        scl = sng.join("usr/share/syslog-ng/include/scl").display(),
        f0 = files[0].1 .0.display(),
        f1 = files[1].1 .0.display(),
        f2 = files[2].1 .0.display(),
        ip = tcp.ip(),
        port = tcp.port(),
        http = server.http,
    );
    let conf_path = work.join("syslog-ng.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let _sng = Shipper(
        Command::new(sng.join("usr/sbin/syslog-ng"))
            .env("LD_LIBRARY_PATH", sng.join("usr/lib/syslog-ng"))
            .arg("-F")
            .arg("--no-caps")
            .arg(format!("--cfgfile={}", conf_path.display()))
            .arg(format!("--persist-file={}", work.join("persist").display()))
            .arg(format!("--pidfile={}", work.join("syslog-ng.pid").display()))
            .arg(format!("--control={}", work.join("syslog-ng.ctl").display()))
            .arg(format!("--module-path={}", sng.join("usr/lib/syslog-ng/3.38").display()))
            .stdout(Stdio::null())
            .spawn()
            .expect("start syslog-ng"),
    );
    for (tag, (_, lines)) in &files {
        check(&server, tag, lines);
    }
    let bulk = server.search("sngbulk", 1, 0, "desc");
    assert_eq!(bulk["hits"][0]["labels.index"], "syslog-ng");
    assert_eq!(bulk["hits"][0]["process.name"], "shipper");
    assert_eq!(bulk["hits"][0]["log.level"], "notice");
}
