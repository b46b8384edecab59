//! `loglynx run` tailing application logs with stack traces: one event per trace, in the file's
//! configured zone, searchable by its flag; killed and restarted in the middle of an event, each
//! event is stored once and whole.

mod support;

use std::io::Write;
use std::time::Duration;

use support::Server;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn stack_traces_are_stored_as_one_event_in_the_files_zone_once_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = dir.path().join("loglynx.toml");
    std::fs::write(&cfg, "[files]\ntimezone = \"Europe/Paris\"\nmultiline_timeout = \"3s\"\n").unwrap();
    let glob = format!("{}/*.log", logs.display());
    let args = ["--config", cfg.to_str().unwrap(), "--tail", &glob, "--syslog-udp", "off", "--syslog-tcp", "off"];
    let data = dir.path().join("data");
    let server = Server::start(&data, &args);

    let path = logs.join("app.log");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "2024-05-31 10:00:00,001 INFO  [main] com.acme.Server - tracemark started\n\
         2024-05-31 10:00:01,002 ERROR [http-1] com.acme.Handler - tracemark request failed\n\
         java.lang.IllegalStateException: no session\n\
         \tat com.acme.Handler.handle(Handler.java:42)\n\
         Caused by: java.io.IOException: closed\n\
         \t... 2 more\n"
    )
    .unwrap();
    f.flush().unwrap();
    server.wait_total("tracemark", 2, WAIT);
    let hits = server.all_hits("tracemark AND log.flags:multiline");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let e = &hits[0];
    assert_eq!(e["@timestamp"], "2024-05-31T08:00:01.002Z", "10:00 in Paris in May is 08:00Z");
    assert_eq!(e["log.level"], "error");
    assert!(e["message"].as_str().unwrap().ends_with("Caused by: java.io.IOException: closed\n\t... 2 more"), "{e}");

    // A Python traceback whose last line is not written yet when the process is killed.
    write!(
        f,
        "2024-05-31 10:00:02,003 ERROR app.db: tracemark query failed\n\
         Traceback (most recent call last):\n  File \"db.py\", line 3, in run\n"
    )
    .unwrap();
    f.flush().unwrap();
    // Killed while the event is held (its timeout is 3 s): its start is the checkpoint.
    std::thread::sleep(Duration::from_millis(100));
    server.kill();
    writeln!(f, "ValueError: bad row\n2024-05-31 10:00:03,004 INFO app.db: tracemark reconnected").unwrap();
    f.flush().unwrap();

    let server = Server::start(&data, &args);
    server.wait_total("tracemark", 4, WAIT);
    let hits = server.all_hits("tracemark AND query");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let msg = hits[0]["message"].as_str().unwrap();
    assert!(msg.starts_with("tracemark query failed\nTraceback"), "{msg}");
    assert!(msg.ends_with("in run\nValueError: bad row"), "{msg}");
    assert_eq!(server.total("ValueError"), 1);
    server.stop();
}
