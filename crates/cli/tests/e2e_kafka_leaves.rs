//! Search across machines (on one machine): two workers, each with its own data directory and
//! its leaf search API, and `loglynx serve --leaves` as the root, over a 4-partition topic of
//! sequence-numbered lines. The workers are in two consumer groups, so each holds a full copy
//! of every partition: the generations overlap completely, and the root must still count each
//! line once (its exact total and a terms aggregation on the sequence label are the oracle,
//! the leaves' local counts show the overlap it removed). Two fake leaves, one answering
//! garbage and one that never answers, must make the answer partial: it names the partitions
//! and offsets that are missing and stays exact for the rest. A real leaf killed for good
//! costs nothing: the root asks the other leaf, which holds a copy, for its pieces. Points in
//! time work through the root too (its own API and Elasticsearch's), and so do patterns (the
//! template texts from the leaves' miners) and the network folds.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use support::kafka::{config, log_level};
use support::{start_proc_with_ready_line, Proc, Server, Tansu};

const TOPIC: &str = "e2e-leaves";
const FILES: usize = 4;

/// Appends lines with sequence numbers `from..to` of each file: `seq=<file * 1e6 + i>`.
fn write_seq(dir: &Path, from: usize, to: usize) {
    write_seq_files(dir, 0..FILES, from, to);
}

/// [`write_seq`] for the files `files` (`s<f>.log`).
fn write_seq_files(dir: &Path, files: std::ops::Range<usize>, from: usize, to: usize) {
    for f in files {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("s{f}.log"))).unwrap();
        let mut buf = String::new();
        for i in from..to {
            buf.push_str(&format!("seq={} src=s{f} msg=\"leaf e2e\"\n", f * 1_000_000 + i));
        }
        file.write_all(buf.as_bytes()).unwrap();
    }
}

/// A worker with its own data directory, group and leaf API; returns it and the leaf address.
fn leaf_worker(kafka: &Tansu, cfg: &Path, data: &Path, group: &str, name: &str) -> (Proc, String) {
    topic_worker(kafka, cfg, data, TOPIC, group, name)
}

/// [`leaf_worker`] on `topic`.
fn topic_worker(kafka: &Tansu, cfg: &Path, data: &Path, topic: &str, group: &str, name: &str) -> (Proc, String) {
    let level = log_level();
    let (p, line) = start_proc_with_ready_line(
        name,
        &[
            "worker", "-c", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "--brokers", &kafka.brokers,
            "--topic", topic, "--group", group, "--consumers", "1", "--search-listen", "127.0.0.1:0", "--log", &level,
        ],
        "loglynx worker ready",
    );
    let addr = line.rsplit("search ").next().unwrap().trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    (p, addr)
}

/// A fake leaf: it lists a generation of `partition` and answers every query with `garbage`,
/// or never (`None`).
fn fake_leaf(partition: i32, garbage: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let reply = if first.contains("/generations") {
                    json!({"worker": "fake", "generations": [{
                        "partition": partition, "id": "fake", "from": 0, "to": 100, "docs": 100, "live": true
                    }]})
                    .to_string()
                } else {
                    match garbage {
                        Some(g) => g.to_string(),
                        None => {
                            std::thread::sleep(Duration::from_secs(3600));
                            return;
                        }
                    }
                };
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}", reply.len());
            });
        }
    });
    addr
}

fn get(serve: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    let r = serve.client().get(serve.url(path)).query(query).send().unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// A leaf's own count of everything it holds (no offset filter).
fn leaf_count(addr: &str) -> u64 {
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{addr}/internal/v1/count"))
        .json(&json!({"request": {"query": ""}, "offsets": null}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "leaf count: {}", r.status());
    r.json().unwrap()
}

/// The partitions named in an answer's `missing`, with the leaves named.
fn missing(body: &Value) -> BTreeMap<i64, String> {
    body["missing"]
        .as_array()
        .map(|a| a.iter().map(|m| (m["partition"].as_i64().unwrap(), m["leaf"].as_str().unwrap().to_string())).collect())
        .unwrap_or_default()
}

#[test]
fn the_root_counts_overlapping_generations_once_and_names_what_it_could_not_read() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let n = 400;
    write_seq(&logs, 0, n);
    let glob = format!("{}/*.log", logs.display());
    let level = log_level();
    let agent_dir = tmp.path().join("agent");
    let agent = Proc::start_logged(
        "agent",
        &[
            "agent", "--data-dir", agent_dir.to_str().unwrap(), "--brokers", &kafka.brokers, "--topic", TOPIC,
            "--partitions", "4", "--tail", &glob, "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off",
            "--log", &level,
        ],
        "loglynx agent ready",
    );
    // Two groups: each worker consumes every partition into its own directory.
    let (a, a_addr) = leaf_worker(&kafka, &cfg, &tmp.path().join("a"), "leaves-a", "worker a");
    let (b, b_addr) = leaf_worker(&kafka, &cfg, &tmp.path().join("b"), "leaves-b", "worker b");
    let garbage = fake_leaf(8, Some("{\"total\": \"not a number\""));
    let hanging = fake_leaf(9, None);
    let serve_cfg = tmp.path().join("serve.toml");
    std::fs::write(&serve_cfg, "[serve]\nleaf_timeout = \"2s\"\n").unwrap();
    let leaves = [a_addr.as_str(), b_addr.as_str(), garbage.as_str(), hanging.as_str()].join(",");
    let serve = Server::start_serve_with(
        &tmp.path().join("root"),
        &["-c", serve_cfg.to_str().unwrap(), "--leaves", &leaves],
    );

    let lines = (FILES * n) as u64;
    serve.wait_total("*", lines, Duration::from_secs(180));
    // Both leaves hold every line: the root counted the overlap once.
    let wait_leaf = |addr: &str| {
        serve.wait_for(Duration::from_secs(60), "a leaf's full copy", || leaf_count(addr) == lines);
    };
    wait_leaf(&a_addr);
    wait_leaf(&b_addr);
    assert!(leaf_count(&a_addr) + leaf_count(&b_addr) > lines);

    // The sequence label: every number once, nothing else.
    let terms = get(&serve, "/api/v1/terms", &[("field", "labels.seq"), ("size", "10000")]);
    let seqs: BTreeSet<String> = terms["buckets"].as_array().unwrap().iter().map(|b| {
        assert_eq!(b["count"], 1, "{b}");
        b["value"].as_str().unwrap().to_string()
    }).collect();
    let want: BTreeSet<String> = (0..FILES).flat_map(|f| (0..n).map(move |i| (f * 1_000_000 + i).to_string())).collect();
    assert_eq!(seqs, want);
    assert_eq!(terms["other"], 0);
    assert!(terms.get("approximate").is_none_or(|a| a == &serde_json::json!(false)), "terms are exact here: {}", terms["approximate"]);
    // The fake leaves' partitions are named, with why.
    let search = serve.search("*", 10, 0, "desc");
    let gone = missing(&search);
    assert_eq!(gone.get(&8), Some(&garbage), "{search}");
    assert_eq!(gone.get(&9), Some(&hanging), "{search}");
    assert_eq!(gone.len(), 2, "{search}");
    let reasons: Vec<&str> = search["missing"].as_array().unwrap().iter().map(|m| m["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("unreadable")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("no answer within")), "{reasons:?}");
    // Histogram counts add up to the total too.
    let h = get(&serve, "/api/v1/histogram", &[("q", "*")]);
    assert_eq!(h["total"].as_u64(), Some(lines), "{h}");
    // Patterns through the root: counts per id merged over the leaves (each line once), the
    // template text from the leaves' miners, the fake leaves' partitions missing.
    let p = get(&serve, "/api/v1/patterns", &[("start", "now-7d")]);
    assert_eq!(p["total"].as_u64(), Some(lines), "{p}");
    let rows = p["patterns"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["count"].as_u64().unwrap()).sum::<u64>(), lines, "{p}");
    for r in rows {
        // the message of every line (logfmt's msg) is the same
        assert_eq!(r["template"], "leaf e2e", "a template without its text through the root: {r}");
        assert_eq!(r["example"], "leaf e2e", "{r}");
        assert_eq!(r["series"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), r["count"].as_u64().unwrap(), "{r}");
    }
    assert_eq!(missing(&p).keys().copied().collect::<Vec<_>>(), vec![8, 9], "{p}");
    // The folds over events go through the leaves too (e2e_kafka_leaf_routes checks their
    // sums): the fake leaves' partitions are named.
    let t = get(&serve, "/api/v1/network/talkers", &[]);
    assert_eq!(t["connections"], 0, "{t}");
    assert_eq!(missing(&t).keys().copied().collect::<Vec<_>>(), vec![8, 9], "{t}");

    // Per partition, before a leaf dies.
    let per_partition: BTreeMap<i64, u64> = get(&serve, "/api/v1/terms", &[("field", "kafka.partition"), ("size", "100")])["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["value"].as_str().unwrap().parse().unwrap(), b["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(per_partition.values().sum::<u64>(), lines);
    // Which leaf answers which partition (the copies are spread over both when the lines
    // landed in more than one partition; the keys of the four files decide that).
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
    let (a_parts, b_parts) = (parts_of(&a_addr), parts_of(&b_addr));
    assert!(a_parts.is_disjoint(&b_parts), "{status}");
    assert_eq!(a_parts.union(&b_parts).count(), per_partition.len(), "{status}");
    if per_partition.len() > 1 {
        assert!(!a_parts.is_empty() && !b_parts.is_empty(), "copies not spread: {status}");
    }
    // A leaf dies for good: its pieces are asked again of the other leaf, which holds a full
    // copy, so the answer stays complete and exact; only the fake leaves' partitions, which
    // nobody else holds, are missing.
    let (victim, victim_parts, survivor) = match b_parts.is_empty() {
        false => (b, b_parts, a),
        true => (a, a_parts, b),
    };
    assert!(!victim_parts.is_empty());
    victim.kill();
    let search = serve.search("*", 10, 0, "desc");
    let gone = missing(&search);
    assert_eq!(gone.keys().copied().collect::<Vec<_>>(), vec![8, 9], "{search}");
    assert_eq!(search["total"].as_u64(), Some(lines), "{search}");
    let terms = get(&serve, "/api/v1/terms", &[("field", "labels.seq"), ("size", "10000")]);
    assert_eq!(terms["buckets"].as_array().unwrap().len() as u64, lines, "{terms}");
    assert!(terms["buckets"].as_array().unwrap().iter().all(|b| b["count"] == 1), "{terms}");

    // A point in time through the root (one per leaf; the dead leaf's pieces on the survivor's
    // copy): a walk gives every line once, in time order, none that came in after it opened,
    // the same total on every page and the fake leaves' partitions as missing.
    let client = serve.client();
    let pit: Value = client.post(serve.url("/api/v1/pit")).query(&[("keep_alive", "1m")]).send().unwrap().json().unwrap();
    let pit_id = pit["pit_id"].as_str().unwrap_or_else(|| panic!("no pit_id: {pit}")).to_string();
    let more = 5;
    write_seq(&logs, n, n + more);
    serve.wait_total("*", lines + (FILES * more) as u64, Duration::from_secs(120));
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    let mut last_ts = i64::MIN;
    loop {
        let mut q = vec![("q", "*".to_string()), ("pit", pit_id.clone()), ("limit", "97".into()), ("sort", "asc".into())];
        if let Some(a) = &after {
            q.push(("search_after", a.clone()));
        }
        let page = get(&serve, "/api/v1/search", &q.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
        assert_eq!(page["total"].as_u64(), Some(lines), "{page}");
        assert_eq!(missing(&page).keys().copied().collect::<Vec<_>>(), vec![8, 9], "{page}");
        let hits = page["hits"].as_array().unwrap();
        if hits.is_empty() {
            assert!(page["search_after"].is_null(), "{page}");
            break;
        }
        for h in hits {
            let ts = chrono::DateTime::parse_from_rfc3339(h["@timestamp"].as_str().unwrap()).unwrap().timestamp_micros();
            assert!(ts >= last_ts, "{h} after {last_ts}: out of order");
            last_ts = ts;
            walked.push(h["labels.seq"].as_str().unwrap().to_string());
        }
        after = Some(page["search_after"].as_str().unwrap().to_string());
    }
    let walked_set: BTreeSet<String> = walked.iter().cloned().collect();
    assert_eq!(walked.len(), walked_set.len(), "a line twice in the walk");
    assert_eq!(walked_set, want, "the walk through the root");

    // The same through the Elasticsearch API, newest first, now with the new lines.
    let es = |body: Value| -> (u16, Value) {
        let r = client.post(serve.url("/_search")).json(&body).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    };
    let opened: Value = client.post(serve.url("/logs/_pit")).query(&[("keep_alive", "1m")]).send().unwrap().json().unwrap();
    let es_pit = opened["id"].as_str().unwrap_or_else(|| panic!("no id: {opened}")).to_string();
    let mut seen = BTreeSet::new();
    let mut sort_after: Option<Value> = None;
    loop {
        let mut body = json!({"size": 500, "pit": {"id": es_pit, "keep_alive": "1m"}, "track_total_hits": true,
            "sort": [{"@timestamp": "desc"}, {"_shard_doc": "asc"}]});
        if let Some(a) = &sort_after {
            body["search_after"] = a.clone();
        }
        let (status, r) = es(body);
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["hits"]["total"]["value"].as_u64(), Some(lines + (FILES * more) as u64), "{r}");
        assert_eq!(r["_shards"]["failed"], 2, "{r}");
        let hits = r["hits"]["hits"].as_array().unwrap();
        let Some(last) = hits.last() else { break };
        for h in hits {
            assert!(seen.insert(h["_source"]["labels.seq"].as_str().unwrap().to_string()), "{h} twice");
        }
        sort_after = Some(last["sort"].clone());
    }
    assert_eq!(seen.len() as u64, lines + (FILES * more) as u64);
    let closed: Value = client.delete(serve.url("/_pit")).json(&json!({"id": es_pit})).send().unwrap().json().unwrap();
    assert_eq!(closed["num_freed"], 1, "{closed}");
    let (status, r) = es(json!({"pit": {"id": es_pit}, "sort": [{"@timestamp": "desc"}]}));
    assert_eq!((status, r["error"]["type"].as_str()), (404, Some("search_context_missing_exception")), "{r}");
    agent.stop();
    survivor.stop();
}

/// `serve --catalog` finds a worker through `<topic>-catalog`, counts exactly, follows a live
/// tail through per-partition offset cursors (each new line once); a generation of the worker
/// that became redundant (its partition moved, another group's worker holds a copy) is
/// deleted from its disk after `orphan_grace`, every line still counted once; the worker is
/// dropped at once when it exits cleanly (its tombstone), without waiting for the record's TTL.
#[test]
fn serve_finds_leaves_in_the_catalog_and_tails_by_offsets() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    // a short orphan_grace: a redundant generation is deleted within the test
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[search]\norphan_grace = \"2s\"\n");
    std::fs::write(&cfg, text).unwrap();
    let n = 100;
    write_seq(&logs, 0, n);
    let glob = format!("{}/*.log", logs.display());
    let level = log_level();
    let agent_dir = tmp.path().join("agent");
    let topic = "e2e-catalog";
    let agent = Proc::start_logged(
        "agent",
        &[
            "agent", "--data-dir", agent_dir.to_str().unwrap(), "--brokers", &kafka.brokers, "--topic", topic,
            "--partitions", "4", "--tail", &glob, "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off",
            "--log", &level,
        ],
        "loglynx agent ready",
    );
    let w_data = tmp.path().join("w");
    let (w, addr) = topic_worker(&kafka, &cfg, &w_data, topic, "catalog", "worker");
    let serve = Server::start_serve_with(
        &tmp.path().join("root"),
        &["--brokers", &kafka.brokers, "--topic", topic, "--catalog"],
    );
    // Until the worker's first record is read, serve knows no leaf (503, says what to do).
    serve.wait_for(Duration::from_secs(60), "the worker in the catalog", || {
        !get(&serve, "/api/v1/leaves", &[])["leaves"].as_array().unwrap().is_empty()
    });
    let lines = (FILES * n) as u64;
    serve.wait_total("*", lines, Duration::from_secs(180));
    let status = get(&serve, "/api/v1/leaves", &[]);
    assert_eq!(status["leaves"][0]["addr"], addr.as_str(), "{status}");
    assert_eq!(status["leaves"][0]["version"], 1, "{status}");
    // The pipeline page comes from the leaves' health reports, not from a shared folder.
    serve.wait_for(Duration::from_secs(30), "the worker on the pipeline page", || {
        let p = get(&serve, "/api/v1/pipeline", &[]);
        p["totals"]["workers"] == 1 && p["partitions"].as_array().is_some_and(|a| a.len() == 4)
    });

    // Live tail: the newest events and a cursor per partition; then exactly the new lines.
    let first = get(&serve, "/api/v1/tail", &[("limit", "10")]);
    assert_eq!(first["events"].as_array().unwrap().len(), 10, "{first}");
    let mut cursor = first["cursor"].as_str().unwrap().to_string();
    assert!(cursor.starts_with('k'), "{cursor}");
    write_seq(&logs, n, n + 30);
    let mut seen = BTreeSet::new();
    serve.wait_for(Duration::from_secs(120), "the 120 new lines in the tail", || {
        let r = get(&serve, "/api/v1/tail", &[("cursor", cursor.as_str()), ("limit", "50")]);
        for e in r["events"].as_array().unwrap() {
            let seq = e["labels.seq"].as_str().unwrap().to_string();
            assert!(seen.insert(seq.clone()), "{seq} twice in the tail");
        }
        cursor = r["cursor"].as_str().unwrap().to_string();
        seen.len() == FILES * 30
    });
    let want: BTreeSet<String> = (0..FILES).flat_map(|f| (n..n + 30).map(move |i| (f * 1_000_000 + i).to_string())).collect();
    assert_eq!(seen, want);

    // Orphans deleted on disk. Lines in 12 more files, so that every partition holds some
    // whatever the files' keys hash to; a second group keeps a full copy (worker `copy`);
    // then worker `w3` joins w's group and takes some of w's partitions. w's generations of
    // those are no longer written, lie below the group's commit, and the copy answers each of
    // their offsets: w deletes them from its disk after orphan_grace, and the root still
    // counts every line once.
    let extra = FILES..FILES * 4;
    write_seq_files(&logs, extra.clone(), 0, 20);
    let lines = (FILES * (n + 30) + extra.len() * 20) as u64;
    serve.wait_total("*", lines, Duration::from_secs(120));
    let (copy, copy_addr) = topic_worker(&kafka, &cfg, &tmp.path().join("copy"), topic, "catalog-copy", "worker copy");
    let mut held = 0;
    let started = std::time::Instant::now();
    while held != lines {
        held = leaf_count(&copy_addr);
        assert!(started.elapsed() < Duration::from_secs(120), "the copy holds {held} of {lines} lines");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (w3, _) = topic_worker(&kafka, &cfg, &tmp.path().join("w3"), topic, "catalog", "worker 3");
    // w's generations no longer written (their partitions moved to w3, which has no shard of
    // them until a new line comes), with records.
    let leaves_of = |status: &Value, a: &str| -> Vec<Value> {
        status["leaves"].as_array().unwrap().iter().filter(|l| l["addr"] == a).flat_map(|l| l["generations"].as_array().unwrap().clone()).collect()
    };
    let mut moved: Vec<String> = Vec::new();
    serve.wait_for(Duration::from_secs(120), "w's partitions split with w3", || {
        let status = get(&serve, "/api/v1/leaves", &[]);
        moved = leaves_of(&status, &addr)
            .iter()
            .filter(|g| g["live"] == false && g["docs"].as_u64() > Some(0))
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect();
        !moved.is_empty()
    });
    for id in &moved {
        assert!(w_data.join("shards").join(id).is_dir(), "{id} is not a shard directory of w");
    }
    serve.wait_for(Duration::from_secs(60), "w's redundant generations deleted from its disk", || {
        moved.iter().all(|id| !w_data.join("shards").join(id).exists())
    });
    // Every line once; the deleted generations are neither listed nor missing.
    write_seq(&logs, n + 30, n + 40);
    let lines = lines + (FILES * 10) as u64;
    serve.wait_total("*", lines, Duration::from_secs(120));
    let terms = get(&serve, "/api/v1/terms", &[("field", "labels.seq"), ("size", "10000")]);
    let buckets = terms["buckets"].as_array().unwrap();
    assert_eq!(buckets.len() as u64, lines, "{terms}");
    assert!(buckets.iter().all(|b| b["count"] == 1), "{terms}");
    serve.wait_for(Duration::from_secs(30), "the deleted generations out of w's record", || {
        let status = get(&serve, "/api/v1/leaves", &[]);
        leaves_of(&status, &addr).iter().all(|g| !moved.iter().any(|m| g["id"] == m.as_str()))
    });
    assert!(missing(&serve.search("*", 1, 0, "desc")).is_empty());
    assert!(leaf_count(&addr) < lines, "w holds less than everything now");

    // A clean exit: the tombstone removes the leaf (the TTL is 30 s; this is much sooner).
    w.stop();
    serve.wait_for(Duration::from_secs(20), "the leaf gone from the catalog", || {
        !get(&serve, "/api/v1/leaves", &[])["leaves"].as_array().unwrap().iter().any(|l| l["addr"] == addr.as_str())
    });
    agent.stop();
    copy.stop();
    w3.stop();
}
