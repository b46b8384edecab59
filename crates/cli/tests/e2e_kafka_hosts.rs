//! Scale-out across separate hosts, on one machine: every process in its own network
//! namespace on a private LAN (crates/testkit/src/netns_hosts.rs) — Tansu on 10.78.0.1 with
//! persistent storage (`Tansu::start_persistent_in`: its libsql engine, a file on disk), the
//! agent on .2, two workers on .3 and .4 (a third on .6 where a test needs it) each with its own
//! data directory and leaf API (key required: not loopback), `loglynx serve` on .5 with an empty
//! data directory, finding the leaves through `<topic>-catalog`. The test reaches `serve` only through a forwarder into its
//! namespace (its API listens on that host's loopback). Lines carry sequence numbers (`seq=`); the root's exact total, a terms
//! aggregation on the sequence label (each value once) and one on `kafka.offset` per partition
//! (each offset once) are the oracle, and after clean hand-overs the documents the leaves hold
//! (their catalog records) add up to the lines exactly. The first test runs the leaf API over HTTPS (a private
//! CA made here, `[search] tls_cert` / `tls_key`, `[serve] leaf_tls` / `leaf_ca`).
//!
//! Needs root (namespaces) and tansu (`scripts/tansu.sh install`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use loglynx_testkit::netns_hosts::Hosts;
use serde_json::Value;

use support::kafka::{config, held_partitions, log_level, write_failed_logins, Writer};
use support::{Proc, Server, Tansu, BIN};

/// Files the agent tails (8 streams, so the 4 partitions all get some).
const FILES: usize = 8;
const KEY: &str = "e2e-hosts-leaf-key";
const TANSU: usize = 0;
const AGENT: usize = 1;
const SERVE: usize = 4;
/// The hosts of the two workers.
const WORKERS: [usize; 2] = [2, 3];
/// The host of a third worker.
const THIRD: usize = 5;

/// Appends lines with sequence numbers `from..to` of each file: `seq=<file * 1e6 + i>`, and
/// `phase=<from>` naming the batch.
fn write_seq(dir: &Path, from: usize, to: usize) {
    for f in 0..FILES {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("s{f}.log")))
            .unwrap();
        let mut buf = String::new();
        for i in from..to {
            buf.push_str(&format!(
                "seq={} phase={from} src=s{f} msg=\"hosts e2e\"\n",
                f * 1_000_000 + i
            ));
        }
        file.write_all(buf.as_bytes()).unwrap();
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests of this file run one at a time (each is a whole deployment).
fn one_at_a_time() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every sequence number of lines `0..n`.
fn want_seqs(n: usize) -> BTreeSet<String> {
    (0..FILES)
        .flat_map(|f| (0..n).map(move |i| (f * 1_000_000 + i).to_string()))
        .collect()
}

/// The deployment: hosts, broker, agent; workers and the root are started by the tests. (The
/// broker is stopped before the hosts are deleted: fields drop in this order.)
struct Cluster {
    kafka: Tansu,
    hosts: Hosts,
    tmp: tempfile::TempDir,
    logs: std::path::PathBuf,
    topic: String,
    agent: Option<Proc>,
    /// The CA the leaves' certificates are signed by (HTTPS leaf API), if any.
    ca: Option<(std::path::PathBuf, rcgen::Issuer<'static, rcgen::KeyPair>)>,
}

impl Cluster {
    fn start(topic: &str, n: usize, tls: bool) -> Cluster {
        let hosts = Hosts::new(6);
        let tmp = tempfile::tempdir().unwrap();
        // The broker keeps its log on disk (a SQLite file in its own directory).
        let kafka = Tansu::start_persistent_in(
            hosts.command(TANSU, Tansu::bin().to_str().unwrap()),
            &hosts.addr(TANSU),
            9092,
            &tmp.path().join("broker"),
        );
        hosts.wait_reachable(AGENT, &kafka.brokers, Duration::from_secs(30));
        let logs = tmp.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        config(tmp.path());
        write_seq(&logs, 0, n);
        let agent = start_agent(&hosts, &kafka, tmp.path(), &logs, topic);
        let ca = tls.then(|| {
            use rcgen::{
                BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
            };
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, "loglynx hosts test CA");
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let cert = params.self_signed(&key).unwrap();
            let path = tmp.path().join("ca.pem");
            std::fs::write(&path, cert.pem()).unwrap();
            (path, Issuer::new(params, key))
        });
        let db = tmp.path().join("broker").join("tansu.db");
        assert!(
            db.metadata().is_ok_and(|m| m.len() > 0),
            "the broker keeps nothing on disk: {}",
            db.display()
        );
        Cluster {
            kafka,
            hosts,
            tmp,
            logs,
            topic: topic.into(),
            agent: Some(agent),
            ca,
        }
    }

    /// SIGKILLs the agent and starts it again on its data directory (it sends again what it
    /// had not checkpointed).
    fn restart_agent_killed(&mut self) {
        self.agent.take().unwrap().kill();
        self.agent = Some(start_agent(
            &self.hosts,
            &self.kafka,
            self.tmp.path(),
            &self.logs,
            &self.topic,
        ));
    }

    /// The leaf address of the worker on `host`.
    fn leaf(&self, host: usize) -> String {
        format!("{}:7000", self.hosts.addr(host))
    }

    /// The worker on `host` (group `hosts`), with its own data directory `w<host>`.
    fn worker(&self, host: usize) -> Proc {
        let level = format!("{},loglynx_bus=info", log_level());
        let data = self.tmp.path().join(format!("w{host}"));
        // Catalog records every second: serve's short catalog_ttl (see `serve`) is then
        // several refreshes long.
        let mut search = "[search]\npublish_every = \"1s\"\n".to_string();
        if let Some((_, issuer)) = &self.ca {
            // A certificate for the host's address, signed by the CA.
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec![self.hosts.addr(host)])
                .unwrap()
                .signed_by(&key, issuer)
                .unwrap();
            let (c, k) = (
                self.tmp.path().join(format!("leaf{host}.pem")),
                self.tmp.path().join(format!("leaf{host}.key")),
            );
            std::fs::write(&c, cert.pem()).unwrap();
            std::fs::write(&k, key.serialize_pem()).unwrap();
            search.push_str(&format!(
                "tls_cert = {:?}\ntls_key = {:?}\n",
                c.to_str().unwrap(),
                k.to_str().unwrap()
            ));
        }
        let base = std::fs::read_to_string(self.tmp.path().join("loglynx.toml")).unwrap();
        let cfg = self.tmp.path().join(format!("loglynx-{host}.toml"));
        std::fs::write(&cfg, format!("{base}{search}")).unwrap();
        let mut cmd = self.hosts.command(host, BIN);
        cmd.env("LOGLYNX_SEARCH_KEY", KEY);
        Proc::start_logged_in(
            cmd,
            &format!("worker {host}"),
            &[
                "worker",
                "-c",
                cfg.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "--brokers",
                &self.kafka.brokers,
                "--topic",
                &self.topic,
                "--group",
                "hosts",
                "--consumers",
                "1",
                "--search-listen",
                &self.leaf(host),
                "--log",
                &level,
            ],
            "loglynx worker ready",
        )
    }

    /// `serve` on its host, leaves from the catalog, reached through a forwarder. Its
    /// catalog_ttl is short (8 s), so a killed worker's record expires within the test.
    fn serve(&self) -> Server {
        let cfg = self.tmp.path().join("serve.toml");
        let mut text = "[serve]\nleaf_timeout = \"3s\"\ncatalog_ttl = \"8s\"\n".to_string();
        if let Some((ca, _)) = &self.ca {
            text.push_str(&format!(
                "leaf_tls = true\nleaf_ca = {:?}\n",
                ca.to_str().unwrap()
            ));
        }
        std::fs::write(&cfg, text).unwrap();
        let mut cmd = self.hosts.command(SERVE, BIN);
        cmd.env("LOGLYNX_SEARCH_KEY", KEY);
        // Its dashboard on the host's own loopback (open to the network it would need an API
        // key); the test reaches it through the forwarder, which connects from inside the host.
        let http = "127.0.0.1:8080";
        Server::start_serve_in(
            cmd,
            &self.tmp.path().join("root"),
            http,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "--brokers",
                &self.kafka.brokers,
                "--topic",
                &self.topic,
                "--catalog",
            ],
            |a| self.hosts.forward(SERVE, a),
        )
    }
}

/// The agent on its host, tailing the files of `logs` into `topic` (4 partitions), its data
/// directory `<dir>/agent`.
fn start_agent(hosts: &Hosts, kafka: &Tansu, dir: &Path, logs: &Path, topic: &str) -> Proc {
    let glob = format!("{}/*.log", logs.display());
    let agent_dir = dir.join("agent");
    let level = log_level();
    Proc::start_logged_in(
        hosts.command(AGENT, BIN),
        "agent",
        &[
            "agent",
            "--data-dir",
            agent_dir.to_str().unwrap(),
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

fn get(serve: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    let r = serve
        .client()
        .get(serve.url(path))
        .query(query)
        .send()
        .unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// The partitions named in an answer's `missing`, with the leaves named.
fn missing(body: &Value) -> BTreeMap<i64, String> {
    body["missing"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["partition"].as_i64().unwrap(),
                        m["leaf"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The root's complete answer: no `missing`, the exact total, every sequence number once, the
/// histogram adding up, and per partition every Kafka offset once.
fn assert_complete(serve: &Server, n: usize) {
    let lines = (FILES * n) as u64;
    let search = serve.search("*", 10, 0, "desc");
    assert!(missing(&search).is_empty(), "{search}");
    assert_eq!(search["total"].as_u64(), Some(lines), "{search}");
    let terms = get(
        serve,
        "/api/v1/terms",
        &[("field", "labels.seq"), ("size", "10000")],
    );
    let seqs: BTreeSet<String> = terms["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["count"], 1, "{b}");
            b["value"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(seqs, want_seqs(n));
    assert_eq!(terms["other"], 0, "{terms}");
    let h = get(serve, "/api/v1/histogram", &[("q", "*")]);
    assert_eq!(h["total"].as_u64(), Some(lines), "{h}");
    let parts = get(
        serve,
        "/api/v1/terms",
        &[("field", "kafka.partition"), ("size", "100")],
    );
    let mut sum = 0;
    for b in parts["buckets"].as_array().unwrap() {
        let p = b["value"].as_str().unwrap();
        let count = b["count"].as_u64().unwrap();
        sum += count;
        let q = format!("kafka.partition:{p}");
        let offsets = get(
            serve,
            "/api/v1/terms",
            &[
                ("q", q.as_str()),
                ("field", "kafka.offset"),
                ("size", "10000"),
            ],
        );
        let buckets = offsets["buckets"].as_array().unwrap();
        for o in buckets {
            assert_eq!(o["count"], 1, "partition {p}: offset stored twice: {o}");
        }
        assert_eq!(buckets.len() as u64, count, "partition {p}: {offsets}");
    }
    assert_eq!(sum, lines, "{parts}");
}

/// The documents the live leaves hold together, by their catalog records' generations.
fn leaf_docs(serve: &Server) -> u64 {
    get(serve, "/api/v1/leaves", &[])["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["generations"].as_array().unwrap().iter())
        .map(|g| g["docs"].as_u64().unwrap())
        .sum()
}

/// After clean hand-overs only (a worker added, none killed): the leaves together hold each
/// of the `lines` once, no offset stored on two disks (the records are published every
/// second, so their counts are waited for; more than `lines` is an overlap).
fn assert_no_overlap(serve: &Server, lines: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let held = leaf_docs(serve);
        assert!(
            held <= lines,
            "the leaves hold {held} documents for {lines} lines: {}",
            get(serve, "/api/v1/leaves", &[])
        );
        if held == lines {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leaves hold {held} documents for {lines} lines"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `GET /api/v1/export`: its status, `X-Total-Count` and NDJSON lines.
fn export(serve: &Server) -> (u16, Option<u64>, Vec<Value>) {
    let r = serve
        .client()
        .get(serve.url("/api/v1/export"))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let total = r
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let text = r.text().unwrap();
    let lines = match status {
        200 => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        _ => vec![serde_json::json!({"error": text})],
    };
    (status, total, lines)
}

/// The Elasticsearch `_search` API: total hits and a terms aggregation on the partition.
fn es_search(serve: &Server) -> Value {
    let body = serde_json::json!({"size": 0, "track_total_hits": true,
        "aggs": {"p": {"terms": {"field": "kafka.partition", "size": 10}}}});
    let r = serve
        .client()
        .post(serve.url("/loglynx/_search"))
        .json(&body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "_search: {}", r.status());
    r.json().unwrap()
}

/// Waits until the worker's last rebalance gave it `n` partitions; returns them.
fn wait_holding(w: &Proc, n: usize) -> Vec<i32> {
    w.wait_log(
        Duration::from_secs(120),
        &format!("{n} partitions"),
        |log| held_partitions(log).is_some_and(|p| p.len() == n),
    );
    held_partitions(&w.log_lines()).unwrap()
}

/// Waits until `workers` hold disjoint shares of the 4 partitions, each at least one (their
/// last rebalances); returns them.
fn wait_split(workers: &[&Proc]) -> Vec<Vec<i32>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let held: Vec<Vec<i32>> = workers
            .iter()
            .map(|w| held_partitions(&w.log_lines()).unwrap_or_default())
            .collect();
        let all: BTreeSet<i32> = held.iter().flatten().copied().collect();
        if held.iter().all(|p| !p.is_empty())
            && all.len() == 4
            && held.iter().map(Vec::len).sum::<usize>() == 4
        {
            return held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the workers did not split the partitions: {held:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Failed sshd logins of one source spread over three hosts raise exactly one alert: three
/// workers on their own hosts split the 4 partitions, the failures (in 32 files, so every
/// partition gets some) land on all three, each worker sends its matches to the signals topic,
/// one correlates them and the root (`serve`) lists one `ssh_brute_force` alert counting every
/// failure, indexed once as an event.
#[test]
fn failed_logins_of_one_source_over_three_hosts_raise_exactly_one_alert() {
    if !loglynx_testkit::require_root("network namespaces for separate hosts") {
        return;
    }
    let _turn = one_at_a_time();
    const SOURCE: &str = "203.0.113.78";
    const AUTH_FILES: usize = 32;
    let failures = 64;
    // No numbered lines: every record of the topic comes after the split.
    let c = Cluster::start("e2e-hosts-alert", 0, false);
    // The first one leads the group (Tansu 0.6 keeps a dead leader; nobody dies here).
    let a = c.worker(WORKERS[0]);
    wait_holding(&a, 4);
    let b = c.worker(WORKERS[1]);
    let d = c.worker(THIRD);
    let held = wait_split(&[&a, &b, &d]);
    let serve = c.serve();
    serve.wait_for(
        Duration::from_secs(60),
        "three workers in the catalog",
        || {
            get(&serve, "/api/v1/leaves", &[])["leaves"]
                .as_array()
                .unwrap()
                .len()
                == 3
        },
    );
    write_failed_logins(&c.logs, AUTH_FILES, SOURCE, 0, failures);
    serve.wait_total(
        "rule.name:ssh_failed_login",
        failures as u64,
        Duration::from_secs(180),
    );
    // Each worker's partitions carried failures, and each leaf answers some.
    let by_partition: BTreeMap<i32, u64> = get(
        &serve,
        "/api/v1/terms",
        &[
            ("q", "rule.name:ssh_failed_login"),
            ("field", "kafka.partition"),
            ("size", "10"),
        ],
    )["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["value"].as_str().unwrap().parse().unwrap(),
                b["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        held,
        wait_split(&[&a, &b, &d]),
        "a rebalance after the split"
    );
    for (w, parts) in held.iter().enumerate() {
        let n: u64 = parts
            .iter()
            .map(|p| by_partition.get(p).copied().unwrap_or(0))
            .sum();
        assert!(
            n > 0,
            "worker {w} (partitions {parts:?}) got no failure: {by_partition:?}"
        );
    }
    let status = get(&serve, "/api/v1/leaves", &[]);
    for host in [WORKERS[0], WORKERS[1], THIRD] {
        let addr = c.leaf(host);
        assert!(
            status["cover"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["leaf"] == addr.as_str()),
            "{addr} answers nothing: {status}"
        );
    }
    eprintln!(
        "alert over three hosts: partitions {held:?}, failures per partition {by_partition:?}"
    );

    let alerts = || -> Value {
        let r = serve
            .client()
            .get(serve.url("/api/v1/alerts"))
            .query(&[("rule", "ssh_brute_force"), ("limit", "100")])
            .send()
            .unwrap();
        assert!(r.status().is_success(), "alerts: {}", r.status());
        r.json().unwrap()
    };
    serve.wait_for(
        Duration::from_secs(90),
        "the brute-force alert counting every failure",
        || alerts()["alerts"][0]["count"].as_u64() == Some(failures as u64),
    );
    let listed = alerts();
    assert_eq!(listed["total"], 1, "{listed}");
    let alert = &listed["alerts"][0];
    assert_eq!(alert["count"].as_u64(), Some(failures as u64), "{alert}");
    assert_eq!(
        alert["group"],
        serde_json::json!({ "source.ip": SOURCE }),
        "{alert}"
    );
    assert_eq!(alert["rule"]["name"], "ssh_brute_force", "{alert}");
    // The alert is an event too, indexed once, found through the root.
    let id = alert["id"].as_str().unwrap().to_string();
    serve.wait_total(&format!("alert.id:{id}"), 1, Duration::from_secs(60));
    assert_eq!(
        serve.total("event.dataset:loglynx.alert AND rule.name:ssh_brute_force"),
        1
    );
    drop(serve);
    let mut c = c;
    c.agent.take().unwrap().stop();
    d.stop();
    b.stop();
    a.stop();
}

/// Two hosts' workers behind a root on a third: the root finds both in the catalog and answers
/// search, histogram and terms over both; one worker SIGKILLed: its partitions move to the
/// other, and until it is back the answer names the offsets only its disk holds; restarted on
/// the same disk, the answer is complete again, each line once. Then it stops cleanly: a
/// restarted serve still names its offsets missing (its record from before the SIGKILL gone at
/// once, not after catalog_ttl), until `loglynx leaves forget` accepts the loss (kept across
/// another restart of serve); a worker back at that address clears the loss.
#[test]
fn workers_on_separate_hosts_behind_a_root_survive_a_killed_host() {
    if !loglynx_testkit::require_root("network namespaces for separate hosts") {
        return;
    }
    let _turn = one_at_a_time();
    let first = 100;
    let c = Cluster::start("e2e-hosts", first, true);
    // a first, so it leads the group: b is the one killed (Tansu 0.6 keeps a dead leader, see
    // e2e_kafka_faults.rs).
    let a = c.worker(WORKERS[0]);
    wait_holding(&a, 4);
    let b = c.worker(WORKERS[1]);
    let serve = c.serve();
    serve.wait_for(
        Duration::from_secs(60),
        "both workers in the catalog",
        || {
            get(&serve, "/api/v1/leaves", &[])["leaves"]
                .as_array()
                .unwrap()
                .len()
                == 2
        },
    );
    wait_holding(&a, 2);
    wait_holding(&b, 2);
    // Lines after the split: b stores its share.
    let n = first + 50;
    write_seq(&c.logs, first, n);
    serve.wait_total("*", (FILES * n) as u64, Duration::from_secs(180));
    assert_complete(&serve, n);
    // b was added to a (which held every partition): the moved partitions overlap by nothing.
    assert_no_overlap(&serve, (FILES * n) as u64);
    // Both leaves answer a share of the partitions.
    let status = get(&serve, "/api/v1/leaves", &[]);
    let parts_of = |addr: &str| -> BTreeSet<i64> {
        status["cover"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["leaf"] == addr)
            .map(|p| p["partition"].as_i64().unwrap())
            .collect()
    };
    let b_parts = parts_of(&c.leaf(WORKERS[1]));
    assert!(
        !parts_of(&c.leaf(WORKERS[0])).is_empty() && !b_parts.is_empty(),
        "{status}"
    );
    // Export, the Elasticsearch API and the field list work through the root too.
    let lines = (FILES * n) as u64;
    let (status, total, events) = export(&serve);
    assert_eq!((status, total), (200, Some(lines)), "{events:?}");
    let exported: BTreeSet<String> = events
        .iter()
        .map(|e| e["labels.seq"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(events.len() as u64, lines);
    assert_eq!(exported, want_seqs(n));
    let es = es_search(&serve);
    assert_eq!(es["hits"]["total"]["value"].as_u64(), Some(lines), "{es}");
    assert_eq!(es["_shards"]["failed"], 0, "{es}");
    let by_partition: u64 = es["aggregations"]["p"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(by_partition, lines, "{es}");
    let fields = get(&serve, "/api/v1/fields", &[]);
    assert!(
        fields
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "kafka.offset"),
        "{fields}"
    );

    // The partitions of which b's disk holds records.
    let b_addr = c.leaf(WORKERS[1]);
    let held_by_b = partitions_with_docs(&serve, &b_addr);

    // Host b dies: its partitions go to a; what only b's disk holds is named as missing.
    b.kill();
    let search = serve.search("*", 10, 0, "desc");
    let gone = missing(&search);
    for p in &b_parts {
        assert_eq!(gone.get(p), Some(&b_addr), "{search}");
    }
    assert!(gone.values().all(|l| l == &b_addr), "{search}");
    assert!(
        search["total"].as_u64().unwrap() < (FILES * n) as u64,
        "{search}"
    );
    // A partial export is refused, naming what is missing; `_search` reports failed shards.
    let (status, _, body) = export(&serve);
    assert_eq!(status, 503, "{body:?}");
    assert!(
        body[0]["error"].as_str().unwrap().contains(&b_addr),
        "{body:?}"
    );
    let es = es_search(&serve);
    assert!(es["_shards"]["failed"].as_u64().unwrap() > 0, "{es}");
    wait_holding(&a, 4);
    // b's catalog record expires (catalog_ttl), but what only its disk holds is still named,
    // with b's address, in closed offset ranges: the answer plus the offsets it names missing
    // account for every line (at least: a range may hold offsets with no record).
    let expired = std::time::Instant::now();
    loop {
        let status = get(&serve, "/api/v1/leaves", &[]);
        let s = serve.search("*", 1, 0, "desc");
        let gone_now = status["leaves"].as_array().unwrap().len() == 1
            && status["gone"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["addr"] == b_addr.as_str());
        let named: Option<u64> = s["missing"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| Some(m["to"].as_u64()? - m["from"].as_u64()?))
                    .sum()
            })
            .unwrap_or(Some(0));
        let total = s["total"].as_u64().unwrap();
        if gone_now && named.is_some_and(|k| k > 0 && total + k >= lines) && total < lines {
            break;
        }
        assert!(
            expired.elapsed() < Duration::from_secs(60),
            "b's record did not expire with its offsets named: {status} {s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Per partition, b is named; the last offsets b stored after its last catalog record
    // (up to the group's commit) are named with no leaf.
    let search = serve.search("*", 10, 0, "desc");
    let mut named: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for m in search["missing"].as_array().unwrap() {
        named
            .entry(m["partition"].as_i64().unwrap())
            .or_default()
            .insert(m["leaf"].as_str().unwrap().to_string());
    }
    assert_eq!(
        named.keys().copied().collect::<BTreeSet<i64>>(),
        held_by_b,
        "{search}"
    );
    for leaves in named.values() {
        assert!(
            leaves.contains(&b_addr) && leaves.iter().all(|l| l == &b_addr || l.is_empty()),
            "{search}"
        );
    }
    let (status, _, body) = export(&serve);
    assert_eq!(status, 503, "{body:?}");
    let m = n + 50;
    write_seq(&c.logs, n, m);
    // The new lines, b's partitions' too, are on a; b's old ranges are still named missing.
    let phase = format!("labels.phase:{n}");
    serve.wait_for(Duration::from_secs(120), "the new lines on a", || {
        let s = serve.search(&phase, 1, 0, "desc");
        !missing(&s).is_empty() && s["total"].as_u64() == Some((FILES * (m - n)) as u64)
    });
    // Host b is back, same disk: complete, each line once.
    let b = c.worker(WORKERS[1]);
    serve.wait_for(Duration::from_secs(120), "a complete answer", || {
        let s = serve.search("*", 1, 0, "desc");
        missing(&s).is_empty() && s["total"].as_u64() == Some((FILES * m) as u64)
    });
    assert_complete(&serve, m);

    // Host b stops cleanly: its last catalog record (`left`) makes it gone at once, and a
    // serve started later still names what only b's disk holds as missing.
    b.stop();
    wait_holding(&a, 4);
    let names_b = |s: &Value| {
        s["missing"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["leaf"] == b_addr.as_str()))
    };
    serve.wait_for(
        Duration::from_secs(60),
        "b's offsets named missing after its clean stop",
        || names_b(&serve.search("*", 1, 0, "desc")),
    );
    drop(serve);
    let serve = c.serve();
    let s = serve.search("*", 1, 0, "desc");
    assert!(
        names_b(&s),
        "a restarted serve forgot the stopped worker: {s}"
    );
    // b's record from before its SIGKILL (another worker id) is dated by its own publish
    // time when serve reads the topic's backlog: gone at once, not after catalog_ttl (8 s);
    // the last, `left`, one too (issue 13).
    let status = get(&serve, "/api/v1/leaves", &[]);
    assert_eq!(
        status["leaves"].as_array().unwrap().len(),
        1,
        "b's old record counted live after a serve restart: {status}"
    );
    assert!(
        status["gone"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["addr"] == b_addr.as_str() && g["left"] == true),
        "{status}"
    );
    assert!(
        status["gone"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["addr"] == b_addr.as_str() && g["left"] != true),
        "{status}"
    );
    assert!(names_b(&serve.search("*", 1, 0, "desc")));

    // b's disk is declared dead: the operator accepts the loss. A live leaf cannot be forgotten.
    let leaves_cli = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .arg("leaves")
            .args(args)
            .args(["--server", &serve.url("")])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, _, err) = leaves_cli(&["forget", &c.leaf(WORKERS[0])]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("live leaf"), "{err}");
    let (code, out, err) = leaves_cli(&["forget", &b_addr]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(
        out.contains("loss accepted for") && out.contains(&b_addr),
        "{out}"
    );
    // Answers no longer name b's offsets, the total is what is left, and every root that
    // starts later agrees (the record is in the catalog topic).
    let check_lost = |serve: &Server| {
        serve.wait_for(Duration::from_secs(60), "nothing missing", || {
            missing(&serve.search("*", 1, 0, "desc")).is_empty()
        });
        let s = serve.search("*", 1, 0, "desc");
        let status = get(serve, "/api/v1/leaves", &[]);
        let lost = status["lost"].as_array().unwrap();
        assert_eq!(lost.len(), 1, "{status}");
        assert_eq!(lost[0]["addr"], b_addr.as_str(), "{status}");
        let lost_offsets: u64 = lost[0]["ranges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["to"].as_u64().unwrap() - r["from"].as_u64().unwrap())
            .sum();
        let total = s["total"].as_u64().unwrap();
        assert!(
            lost_offsets > 0 && total < lines_now(m) && total + lost_offsets >= lines_now(m),
            "{s} {status}"
        );
        assert!(
            !status["gone"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["addr"] == b_addr.as_str()),
            "{status}"
        );
    };
    check_lost(&serve);
    let (code, out, _) = leaves_cli(&["list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.lines()
            .any(|l| l.starts_with("lost") && l.contains(&b_addr)),
        "{out}"
    );
    drop(serve);
    let serve = c.serve();
    check_lost(&serve);
    // A worker runs at b's address again (here on b's disk): its record clears the loss, and
    // the answer is complete again, each line once (issue 13).
    let b = c.worker(WORKERS[1]);
    serve.wait_for(
        Duration::from_secs(60),
        "the loss cleared by b's new record",
        || {
            get(&serve, "/api/v1/leaves", &[])["lost"]
                .as_array()
                .unwrap()
                .is_empty()
        },
    );
    serve.wait_for(
        Duration::from_secs(120),
        "a complete answer with b back",
        || {
            let s = serve.search("*", 1, 0, "desc");
            missing(&s).is_empty() && s["total"].as_u64() == Some(lines_now(m))
        },
    );
    assert_complete(&serve, m);
    drop(serve);
    let mut c = c;
    c.agent.take().unwrap().stop();
    b.stop();
    a.stop();
}

/// The agent SIGKILLed during a hand-over, on separate hosts: a worker joins the group while
/// lines keep coming, and the agent is SIGKILLed and restarted on its disk three times,
/// sending again what it had not checkpointed (at new offsets). Whichever worker
/// holds a partition then skips the copies, the dedup state having moved with the partition:
/// through the root every line is counted once and the two leaves hold exactly the lines
/// (nothing stored twice, the moved partitions overlapping by nothing).
#[test]
fn an_agent_killed_while_a_worker_joins_stores_every_line_once() {
    if !loglynx_testkit::require_root("network namespaces for separate hosts") {
        return;
    }
    let _turn = one_at_a_time();
    let n = 100;
    let mut c = Cluster::start("e2e-hosts-agent-kill", n, false);
    // A first, so it leads the group (Tansu 0.6 keeps a dead leader; no worker dies here).
    let a = c.worker(WORKERS[0]);
    wait_holding(&a, 4);
    let serve = c.serve();
    serve.wait_for(Duration::from_secs(60), "a in the catalog", || {
        get(&serve, "/api/v1/leaves", &[])["leaves"]
            .as_array()
            .unwrap()
            .len()
            == 1
    });
    serve.wait_total("*", lines_now(n), Duration::from_secs(120));
    // Lines keep coming (5 per file every 50 ms) while B joins and the agent is killed, so
    // the agent dies with records delivered but not checkpointed. At most 10,000 lines in all:
    // the oracle's terms aggregation lists that many values.
    let writer = Writer::start(write_seq, &c.logs, n, 5, Duration::from_millis(50));
    writer.wait_more(100);
    let b = c.worker(WORKERS[1]);
    // Killed three times while the partitions move, each time with records delivered but
    // maybe not checkpointed.
    for _ in 0..3 {
        c.restart_agent_killed();
        writer.wait_more(30);
    }
    let mut n = writer.stop();
    wait_holding(&a, 2);
    wait_holding(&b, 2);
    // More lines after the split, from the restarted agent.
    write_seq(&c.logs, n, n + 100);
    n += 100;
    assert!(lines_now(n) <= 10_000, "{n} lines per file");
    serve.wait_total("*", lines_now(n), Duration::from_secs(180));
    // Let the last copies arrive (they are skipped; one stored would show below), and the
    // catalog records catch up with the group's committed offsets.
    std::thread::sleep(Duration::from_secs(2));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = serve.search("*", 1, 0, "desc");
        if missing(&s).is_empty() && s["total"].as_u64() == Some(lines_now(n)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no complete answer of {} lines: total {}, missing {}; leaves {}",
            lines_now(n),
            s["total"],
            s["missing"],
            get(&serve, "/api/v1/leaves", &[])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_complete(&serve, n);
    assert_no_overlap(&serve, lines_now(n));
    // Records the workers skipped as sent twice (`records already stored ... count=N`).
    let skipped: u64 = [&a, &b]
        .iter()
        .flat_map(|w| w.log_lines())
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
    eprintln!("agent killed during a hand-over: {} lines, each once; {skipped} copies sent again by the agent skipped", lines_now(n));
    drop(serve);
    c.agent.take().unwrap().stop();
    b.stop();
    wait_holding(&a, 4);
    a.stop();
}

/// Lines `0..n` of every file.
/// The partitions of which leaf `addr` holds documents, by the catalog. Its counts are the
/// leaf's as it last published them (`search.publish_every`), which may be before its records
/// were searchable: read until some show (at most 60 s; none then fails).
fn partitions_with_docs(serve: &Server, addr: &str) -> BTreeSet<i64> {
    let read = || -> BTreeSet<i64> {
        get(serve, "/api/v1/leaves", &[])["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["addr"] == addr)
            .flat_map(|l| l["generations"].as_array().unwrap().iter())
            .filter(|g| g["docs"].as_u64() > Some(0))
            .map(|g| g["partition"].as_i64().unwrap())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let held = read();
        if !held.is_empty() {
            return held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the catalog shows no documents of leaf {addr} in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lines_now(n: usize) -> u64 {
    (FILES * n) as u64
}

/// Crash A -> B -> A: a partition held by worker A moves to B when A is SIGKILLed, and back to
/// A when B leaves; with lines written at every step, and B back to serve its middle
/// generations, the root counts every record once (total, sequence label, and each Kafka offset
/// of each partition once), reading A's two generations and B's middle one.
#[test]
fn a_partition_moving_a_to_b_to_a_after_a_crash_is_stored_once() {
    if !loglynx_testkit::require_root("network namespaces for separate hosts") {
        return;
    }
    let _turn = one_at_a_time();
    let mut n = 100;
    let c = Cluster::start("e2e-hosts-aba", n, false);
    // B first, so it leads the group and A, the follower, is the one that crashes (Tansu 0.6
    // keeps a dead leader).
    let b = c.worker(WORKERS[1]);
    wait_holding(&b, 4);
    let a = c.worker(WORKERS[0]);
    let a_first = wait_holding(&a, 2);
    wait_holding(&b, 2);
    // Lines after the split: A stores its partitions' share, only on its disk.
    write_seq(&c.logs, n, n + 50);
    n += 50;
    let serve = c.serve();
    serve.wait_total("*", (FILES * n) as u64, Duration::from_secs(180));

    // A crashes: B takes A's partitions and stores the new lines of them too; the root names
    // A's old ranges missing meanwhile.
    a.kill();
    wait_holding(&b, 4);
    write_seq(&c.logs, n, n + 50);
    let phase = format!("labels.phase:{n}");
    n += 50;
    serve.wait_for(Duration::from_secs(120), "the new lines on B", || {
        let s = serve.search(&phase, 1, 0, "desc");
        !missing(&s).is_empty() && s["total"].as_u64() == Some((FILES * 50) as u64)
    });
    // A is back on its disk; then B leaves: A's first partitions are back on A.
    let a = c.worker(WORKERS[0]);
    wait_holding(&a, 2);
    b.stop();
    let held = wait_holding(&a, 4);
    assert!(
        a_first.iter().all(|p| held.contains(p)),
        "{a_first:?} {held:?}"
    );
    write_seq(&c.logs, n, n + 50);
    n += 50;
    // B is back on its disk for its middle generations; the answer is complete and exact.
    let b = c.worker(WORKERS[1]);
    serve.wait_for(Duration::from_secs(180), "a complete answer", || {
        let s = serve.search("*", 1, 0, "desc");
        missing(&s).is_empty() && s["total"].as_u64() == Some((FILES * n) as u64)
    });
    assert_complete(&serve, n);
    // The cover of A's first partitions reads both disks: A's generations and B's middle one.
    let status = get(&serve, "/api/v1/leaves", &[]);
    let both = [c.leaf(WORKERS[0]), c.leaf(WORKERS[1])];
    let mut checked = 0;
    for p in &a_first {
        // The files' keys need not hash to every partition: one that never held a record has
        // no cover on any leaf.
        if serve.search(&format!("kafka.partition:{p}"), 1, 0, "desc")["total"].as_u64() == Some(0)
        {
            continue;
        }
        checked += 1;
        let leaves: BTreeSet<&str> = status["cover"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["partition"].as_i64() == Some(*p as i64))
            .map(|r| r["leaf"].as_str().unwrap())
            .collect();
        let want: BTreeSet<&str> = both.iter().map(|s| s.as_str()).collect();
        assert_eq!(leaves, want, "partition {p}: {status}");
    }
    assert!(
        checked > 0,
        "none of A's first partitions {a_first:?} held records: {status}"
    );
    drop(serve);
    let mut c = c;
    c.agent.take().unwrap().stop();
    a.stop();
    b.stop();
}

/// Cuts host `host` from the address `to` only, or heals the cut: a blackhole route to `to` in
/// the host's namespace (its packets there go nowhere, so no connection either way; the rest of
/// the LAN still reaches it).
fn cut_route(hosts: &Hosts, host: usize, to: &str, cut: bool) {
    let route = format!("{to}/32");
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            hosts.name(host),
            "route",
            if cut { "add" } else { "del" },
            "blackhole",
            &route,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip route: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the root answers now, checked for double counts whatever is still arriving: each
/// sequence number at most once, each Kafka offset of each partition at most once. Returns the
/// search's total and `missing`.
fn assert_counted_once(serve: &Server) -> (u64, Value) {
    let search = serve.search("*", 1, 0, "desc");
    let terms = get(
        serve,
        "/api/v1/terms",
        &[("field", "labels.seq"), ("size", "10000")],
    );
    for b in terms["buckets"].as_array().unwrap() {
        assert_eq!(
            b["count"], 1,
            "a sequence number counted twice: {b} {}",
            search["missing"]
        );
    }
    assert_eq!(terms["other"], 0, "{terms}");
    let parts = get(
        serve,
        "/api/v1/terms",
        &[("field", "kafka.partition"), ("size", "100")],
    );
    for b in parts["buckets"].as_array().unwrap() {
        let q = format!("kafka.partition:{}", b["value"].as_str().unwrap());
        let offsets = get(
            serve,
            "/api/v1/terms",
            &[
                ("q", q.as_str()),
                ("field", "kafka.offset"),
                ("size", "10000"),
            ],
        );
        for o in offsets["buckets"].as_array().unwrap() {
            assert_eq!(o["count"], 1, "{q}: offset counted twice: {o}");
        }
    }
    (search["total"].as_u64().unwrap(), search["missing"].clone())
}

/// A zombie: worker B's host is cut from the broker while the root still reaches its leaf,
/// with lines being written. B's partitions move to A after the session timeout; meanwhile
/// and after, no answer of the root counts a line twice (B's copy of offsets A now also holds
/// is not added), and what the root does not answer is named in `missing` with B's address,
/// never a short total given as complete. Once B's catalog record has expired (it cannot publish
/// it) the root still asks B, whose leaf answers: the answer stays complete and exact. Then the
/// root loses B too: what only B's disk holds is named missing with B's address. The cuts
/// healed, B rejoins and the answer is complete and exact.
#[test]
fn a_zombie_host_cut_from_the_broker_is_counted_once_then_heals() {
    if !loglynx_testkit::require_root("network namespaces for separate hosts") {
        return;
    }
    let _turn = one_at_a_time();
    let started = std::time::Instant::now();
    let mut n = 100;
    let c = Cluster::start("e2e-hosts-zombie", n, false);
    // A first, so it leads the group (Tansu 0.6 keeps a dead leader): B is the zombie.
    let a = c.worker(WORKERS[0]);
    wait_holding(&a, 4);
    let b = c.worker(WORKERS[1]);
    let serve = c.serve();
    serve.wait_for(
        Duration::from_secs(60),
        "both workers in the catalog",
        || {
            get(&serve, "/api/v1/leaves", &[])["leaves"]
                .as_array()
                .unwrap()
                .len()
                == 2
        },
    );
    wait_holding(&a, 2);
    let b_parts = wait_holding(&b, 2);
    write_seq(&c.logs, n, n + 50);
    n += 50;
    serve.wait_total("*", lines_now(n), Duration::from_secs(120));
    assert_complete(&serve, n);
    let b_addr = c.leaf(WORKERS[1]);
    // The partitions of which only B's disk holds records (A gave them up at the split).
    let held_by_b = partitions_with_docs(&serve, &b_addr);
    eprintln!("zombie: steady state at {:?}", started.elapsed());

    // Lines are being written when B's host loses the broker; the root still reaches B.
    write_seq(&c.logs, n, n + 50);
    n += 50;
    std::thread::sleep(Duration::from_millis(300));
    let broker = c.hosts.addr(TANSU);
    cut_route(&c.hosts, WORKERS[1], &broker, true);
    let cut = std::time::Instant::now();
    assert!(
        !c.hosts.reachable(WORKERS[1], &c.kafka.brokers),
        "B still reaches the broker"
    );
    assert!(
        c.hosts.reachable(SERVE, &b_addr),
        "the root no longer reaches B"
    );
    write_seq(&c.logs, n, n + 50);
    let during = n;
    n += 50;
    // B's partitions move to A after the session timeout; every answer meanwhile counts each
    // line at most once.
    let mut polls = 0;
    loop {
        assert_counted_once(&serve);
        polls += 1;
        if held_partitions(&a.log_lines()).is_some_and(|p| p.len() == 4) {
            break;
        }
        assert!(
            cut.elapsed() < Duration::from_secs(60),
            "B's partitions did not move to A"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let moved = cut.elapsed();
    let held = held_partitions(&a.log_lines()).unwrap();
    assert!(
        b_parts.iter().all(|p| held.contains(p)),
        "{b_parts:?} {held:?}"
    );
    eprintln!(
        "zombie: B's partitions {b_parts:?} on A {moved:?} after the cut ({polls} checked answers)"
    );
    // The lines written during the cut, B's partitions' too, are all answered (by A), once;
    // whatever the root does not answer is named missing, with B's address or none.
    let phase = format!("labels.phase:{during}");
    serve.wait_for(
        Duration::from_secs(60),
        "the lines of the cut answered",
        || {
            assert_counted_once(&serve);
            serve.search(&phase, 1, 0, "desc")["total"].as_u64() == Some((FILES * 50) as u64)
        },
    );
    let answered = cut.elapsed();
    // B publishes no catalog record, but its leaf answers: once its record has expired
    // (catalog_ttl, 8 s by serve's clock, which reads it within a second of its publish time:
    // same machine) the root still asks B (the same worker answers), so the answer is complete
    // and exact, B's copy of what A read again counted once.
    let b_record = |status: &Value| {
        status["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["addr"] == b_addr.as_str())
            .cloned()
    };
    let published = b_record(&get(&serve, "/api/v1/leaves", &[]))
        .expect("B no longer searched before its record expired")["updated_ms"]
        .as_u64()
        .unwrap();
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    // Past the ttl by a margin (the read delay, a probe period of 2 s).
    while now_ms() < published + 8_000 + 4_000 {
        assert_counted_once(&serve);
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = get(&serve, "/api/v1/leaves", &[]);
    let rec = b_record(&status)
        .unwrap_or_else(|| panic!("B not searched after its record expired: {status}"));
    assert_eq!(
        rec["updated_ms"].as_u64(),
        Some(published),
        "B published a record while cut: {rec}"
    );
    assert!(
        !status["gone"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["addr"] == b_addr.as_str()),
        "{status}"
    );
    assert_complete(&serve, n);
    let expired_answered = cut.elapsed();
    eprintln!(
        "zombie: B's record {} ms old, B still answers: complete",
        now_ms() - published
    );

    // The root loses B too: after catalog_ttl without an answer B is gone, and what only B's
    // disk holds is named missing, with B's address; the total and the offsets named account
    // for every line.
    let b_host = c.hosts.addr(WORKERS[1]);
    cut_route(&c.hosts, SERVE, &b_host, true);
    assert!(
        !c.hosts.reachable(SERVE, &b_addr),
        "the root still reaches B"
    );
    serve.wait_for(Duration::from_secs(40), "B gone from the catalog", || {
        let status = get(&serve, "/api/v1/leaves", &[]);
        status["leaves"].as_array().unwrap().len() == 1
            && status["gone"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["addr"] == b_addr.as_str())
    });
    let (total, gone) = assert_counted_once(&serve);
    let named: u64 = gone
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["to"].as_u64().unwrap() - m["from"].as_u64().unwrap())
                .sum()
        })
        .unwrap_or(0);
    assert!(
        named > 0 && total < lines_now(n) && total + named >= lines_now(n),
        "total {total}: {gone}"
    );
    let mut named_parts = BTreeSet::new();
    for m in gone.as_array().unwrap() {
        let leaf = m["leaf"].as_str().unwrap();
        assert!(leaf == b_addr || leaf.is_empty(), "{gone}");
        named_parts.insert(m["partition"].as_i64().unwrap());
    }
    assert_eq!(named_parts, held_by_b, "{gone}");
    eprintln!(
        "zombie: during the cut total {total} of {}, {named} offsets named missing: {gone}",
        lines_now(n)
    );

    // The cut heals: B rejoins the group and the catalog; the answer is complete and exact.
    let rebalances = b
        .log_lines()
        .iter()
        .filter(|l| l.contains("rebalance done"))
        .count();
    cut_route(&c.hosts, WORKERS[1], &broker, false);
    cut_route(&c.hosts, SERVE, &b_host, false);
    let healed = std::time::Instant::now();
    b.wait_log(
        Duration::from_secs(60),
        "B rejoined with partitions",
        |log| {
            log.iter().filter(|l| l.contains("rebalance done")).count() > rebalances
                && held_partitions(log).is_some_and(|p| !p.is_empty())
        },
    );
    write_seq(&c.logs, n, n + 50);
    n += 50;
    serve.wait_for(
        Duration::from_secs(60),
        "a complete answer after the heal",
        || {
            let (total, gone) = assert_counted_once(&serve);
            gone.as_array().is_none_or(|a| a.is_empty()) && total == lines_now(n)
        },
    );
    assert_complete(&serve, n);
    // Both leaves answer again; the leaves together hold more than the total when B's zombie
    // copy overlaps A's generations (the cover counted it once).
    let status = get(&serve, "/api/v1/leaves", &[]);
    assert_eq!(status["leaves"].as_array().unwrap().len(), 2, "{status}");
    let held_docs: u64 = status["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["generations"].as_array().unwrap().iter())
        .map(|g| g["docs"].as_u64().unwrap())
        .sum();
    assert!(held_docs >= lines_now(n), "{status}");
    for l in status["leaves"].as_array().unwrap() {
        let gens: Vec<String> = l["generations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                format!(
                    "p{} {}..{} ({} docs, live {})",
                    g["partition"], g["from"], g["to"], g["docs"], g["live"]
                )
            })
            .collect();
        eprintln!("zombie: leaf {}: {}", l["addr"], gens.join(", "));
    }
    eprintln!("zombie: cover {}", status["cover"]);
    eprintln!(
        "zombie: complete {:?} after the heal; leaves hold {held_docs} documents for {} lines; whole test {:?}",
        healed.elapsed(),
        lines_now(n),
        started.elapsed()
    );
    eprintln!("zombie: the lines of the cut answered {answered:?} after it; B answering with its record expired checked {expired_answered:?} after it");
    drop(serve);
    let mut c = c;
    c.agent.take().unwrap().stop();
    // A stopped while the group hands it B's partitions waits 3 x 10 s for the committed
    // offsets before it exits: let that rebalance end first.
    b.stop();
    wait_holding(&a, 4);
    a.stop();
}
