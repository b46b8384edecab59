//! End to end on the real binary: every source in, every event found through the API, with
//! exact counts.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use serde_json::json;
use support::Server;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn file_syslog_ndjson_and_bulk_are_all_searchable_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let glob = format!("{}/*.log", logs.display());
    let server = Server::start(
        &dir.path().join("data"),
        &["--tail", &glob, "--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"],
    );

    // 1. A file, appended to in two steps, the last line without a newline at first.
    let path = logs.join("app.log");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..1000 {
        writeln!(f, "2024-05-01T10:00:00Z web1 app[42]: filemark request {i} done").unwrap();
    }
    f.write_all(b"2024-05-01T10:00:01Z web1 app[42]: filemark request 1000 done").unwrap();
    f.flush().unwrap();
    server.wait_total("filemark", 1001, WAIT);
    for i in 1001..1500 {
        writeln!(f, "\n2024-05-01T10:00:02Z web1 app[42]: filemark request {i} done").unwrap();
    }
    f.flush().unwrap();
    server.wait_total("filemark", 1500, WAIT);

    // 2. Syslog over UDP (RFC 3164 and 5424).
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.syslog_udp.expect("udp address printed");
    for i in 0..100 {
        let msg = if i % 2 == 0 {
            format!("<34>Oct 11 22:14:15 mymachine su[77]: udpmark {i}")
        } else {
            format!("<165>1 2024-10-11T22:14:15.003Z host2 app 1234 ID47 - udpmark {i}")
        };
        udp.send_to(msg.as_bytes(), target).unwrap();
        if i % 20 == 0 {
            std::thread::sleep(Duration::from_millis(5)); // keep well under the socket buffer
        }
    }
    server.wait_total("udpmark", 100, WAIT);

    // 3. Syslog over TCP: newline framing on one connection, octet counting on another.
    let mut a = TcpStream::connect(server.syslog_tcp.expect("tcp address printed")).unwrap();
    for i in 0..100 {
        write!(a, "<13>Oct 11 22:14:15 web3 cron[9]: tcpmark newline {i}\n").unwrap();
    }
    let mut b = TcpStream::connect(server.syslog_tcp.unwrap()).unwrap();
    for i in 0..100 {
        let m = format!("<13>1 2024-10-11T22:14:15Z web4 cron 9 - - tcpmark octet {i}");
        write!(b, "{} {}", m.len(), m).unwrap();
    }
    drop(a);
    drop(b);
    server.wait_total("tcpmark", 200, WAIT);
    assert_eq!(server.total("tcpmark AND octet"), 100);
    assert_eq!(server.total("host.name:web3"), 100);

    // 4. NDJSON over HTTP, with two bad lines reported by number.
    let mut body = String::new();
    for i in 0..50 {
        body.push_str(&json!({"@timestamp": "2024-05-01T11:00:00Z", "message": format!("ndjsonmark {i}"), "host.name": "api1", "log.level": "warn"}).to_string());
        body.push('\n');
        if i == 10 {
            body.push_str("{not json\n");
        }
        if i == 20 {
            body.push_str("[1,2,3]\n");
        }
    }
    let v = server.ingest_ndjson(body);
    assert_eq!(v["accepted"], 50, "{v}");
    let bad: Vec<u64> = v["rejected"].as_array().unwrap().iter().map(|x| x["line"].as_u64().unwrap()).collect();
    assert_eq!(bad, vec![12, 23], "{v}");
    // Durable when answered: searchable at once, no waiting.
    assert_eq!(server.total("ndjsonmark"), 50);
    assert_eq!(server.total("ndjsonmark AND log.level:warn AND host.name:api1"), 50);

    // 5. Elasticsearch _bulk.
    let mut bulk = String::new();
    for i in 0..20 {
        bulk.push_str(&json!({"index": {"_index": "shop", "_id": format!("bulk-{i}")}}).to_string());
        bulk.push('\n');
        bulk.push_str(&json!({"@timestamp": "2024-05-01T12:00:00Z", "message": format!("bulkmark {i}")}).to_string());
        bulk.push('\n');
    }
    let r = server
        .client()
        .post(server.url("/_bulk"))
        .header("content-type", "application/x-ndjson")
        .body(bulk)
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["errors"], false, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 20);
    assert_eq!(v["items"][0]["index"]["status"], 201);
    assert_eq!(server.total("bulkmark"), 20);

    // Every event exactly once: totals add up and ids are distinct.
    let all = server.all_hits("*");
    assert_eq!(all.len(), 1500 + 100 + 200 + 50 + 20);
    let ids: HashSet<&str> = all.iter().map(|h| h["event.id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "duplicate event ids");
    let file_msgs: HashSet<String> = server
        .all_hits("filemark")
        .iter()
        .map(|h| h["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(file_msgs.len(), 1500);
    assert!(file_msgs.contains("filemark request 1000 done"), "the line first written without newline is whole");

    // Pipeline health reports the same numbers.
    let stats: serde_json::Value = server.client().get(server.url("/api/v1/stats")).send().unwrap().json().unwrap();
    assert_eq!(stats["pipeline"]["events"], 1870, "{stats}");
    assert_eq!(stats["pipeline"]["flagged"], 0, "{stats}");
    let metrics = server.client().get(server.url("/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.lines().any(|l| l == "loglynx_pipeline_events_total 1870"), "{metrics}");

    server.stop();
}
