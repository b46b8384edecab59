//! File source against real files in temp dirs: appends, discovery, rotation, truncation,
//! inode reuse, unfinished lines, resume, long lines, raw bytes, multi-line events.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use loglynx_collect::{FileSource, FileSourceState};
use loglynx_config::{ByteSize, FilesConfig, StartAt};
use loglynx_core::{positioned_id, Checkpoint, FormatHint, RawBatch, RawRecord, SourceKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

fn config(dir: &Path) -> FilesConfig {
    FilesConfig {
        include: vec![format!("{}/*.log", dir.display())],
        poll_interval: Duration::from_millis(20),
        close_inactive: Duration::from_secs(2),
        ..Default::default()
    }
}

struct Running {
    rx: mpsc::Receiver<RawBatch>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), loglynx_collect::CollectError>>,
    state: FileSourceState,
    /// Every checkpoint position seen, in order.
    checkpoints: Vec<(String, u64)>,
}

fn start(cfg: FilesConfig, checkpoint: Checkpoint) -> Running {
    start_with(cfg, checkpoint, Duration::from_millis(300))
}

fn start_with(cfg: FilesConfig, checkpoint: Checkpoint, partial: Duration) -> Running {
    let (tx, rx) = mpsc::channel(4);
    let src = FileSource::new(cfg, "testhost".into(), checkpoint, tx)
        .unwrap()
        .with_partial_line_timeout(partial);
    let state = src.state();
    let stop = CancellationToken::new();
    let task = tokio::spawn(src.run(stop.clone()));
    Running {
        rx,
        stop,
        task,
        state,
        checkpoints: Vec::new(),
    }
}

impl Running {
    /// Receives until `n` records arrived; fails with what came when the deadline passes.
    async fn records(&mut self, n: usize) -> Vec<RawRecord> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while got.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(b)) => {
                    self.checkpoints.extend(b.checkpoint.iter().cloned());
                    got.extend(b.records);
                }
                Ok(None) => panic!("source stopped after {} of {n} records", got.len()),
                Err(_) => panic!(
                    "timed out after {} of {n} records: {:?}",
                    got.len(),
                    bodies(&got)
                ),
            }
        }
        assert_eq!(
            got.len(),
            n,
            "more records than expected: {:?}",
            bodies(&got)
        );
        got
    }

    /// Receives until a record with body `marker` arrived; returns everything before it.
    async fn until(&mut self, marker: &str) -> Vec<RawRecord> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(b)) => {
                    self.checkpoints.extend(b.checkpoint.iter().cloned());
                    for r in b.records {
                        if r.body == marker.as_bytes() {
                            return got;
                        }
                        got.push(r);
                    }
                }
                Ok(None) => panic!("source stopped before {marker:?}"),
                Err(_) => panic!("timed out waiting for {marker:?}; got {:?}", bodies(&got)),
            }
        }
    }

    /// Waits until the source's state satisfies `cond`.
    async fn wait_state(
        &self,
        what: &str,
        cond: impl Fn(&loglynx_collect::FileSourceSnapshot) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.state.snapshot();
            if cond(&s) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        let r = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("source stops on cancel");
        r.unwrap().unwrap();
    }
}

fn bodies(rs: &[RawRecord]) -> Vec<String> {
    rs.iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

fn append(path: &Path, text: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text).unwrap();
}

fn lines(prefix: &str, range: std::ops::RangeInclusive<usize>) -> String {
    range.map(|i| format!("{prefix} line {i}\n")).collect()
}

/// The key the source must give `path`: dev, inode, xxh3 of the first line.
fn key_of(path: &Path) -> String {
    let meta = std::fs::metadata(path).unwrap();
    let data = std::fs::read(path).unwrap();
    let end = data
        .iter()
        .position(|&b| b == b'\n')
        .map_or(256, |i| (i + 1).min(256));
    let fp = xxhash_rust::xxh3::xxh3_64(&data[..end]);
    format!("file:{}:{}:{fp:016x}", meta.dev(), meta.ino())
}

fn expect_each_once(got: &[RawRecord], expected: &[String]) {
    let mut g = bodies(got);
    g.sort();
    let mut e = expected.to_vec();
    e.sort();
    assert_eq!(g, e);
}

fn numbered(prefix: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} line {i}")).collect()
}

#[tokio::test]
async fn appended_lines_arrive_in_order_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"one\ntwo\n");
    let mut cfg = config(dir.path());
    cfg.batch_lines = 10;
    let mut src = start(cfg, Checkpoint::default());
    let got = src.records(2).await;
    let key = key_of(&path);
    assert_eq!(bodies(&got), ["one", "two"]);
    assert_eq!(got[0].id, positioned_id(&key, 0));
    assert_eq!(got[1].id, positioned_id(&key, 4));
    assert_eq!(got[0].hint, FormatHint::Auto);
    assert_eq!(got[0].host.as_deref(), Some("testhost"));
    assert!(!got[0].truncated);
    assert_eq!(
        *got[0].source,
        SourceKind::File {
            path: path.to_string_lossy().into_owned()
        }
    );
    assert!(
        std::sync::Arc::ptr_eq(&got[0].source, &got[1].source),
        "one Arc per file"
    );

    // 25 more lines: batches of at most 10, positions only at line ends, last = file size.
    append(&path, lines("more", 1..=25).as_bytes());
    let got = src.records(25).await;
    assert_eq!(bodies(&got), numbered("more", 1..=25));
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(src.checkpoints.last(), Some(&(key.clone(), size)));
    assert!(src.checkpoints.iter().all(|(k, _)| *k == key));
    assert!(src.checkpoints.windows(2).all(|w| w[0].1 < w[1].1));
    let first_more = 8u64; // "one\ntwo\n"
    assert_eq!(got[0].id, positioned_id(&key, first_more));
    let s = src.state.snapshot();
    assert_eq!(s.files.len(), 1);
    assert_eq!(s.files[0].key.as_deref(), Some(key.as_str()));
    assert_eq!(s.files[0].offset, size);
    assert_eq!(s.lines_read, 27);
    assert_eq!(s.bytes_read, size);
    src.stop().await;
}

#[tokio::test]
async fn a_new_file_matching_the_glob_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = start(config(dir.path()), Checkpoint::default());
    append(&dir.path().join("skip.txt"), b"not matched\n");
    append(&dir.path().join("old.log.gz"), b"excluded\n");
    append(&dir.path().join("late.log"), b"hello\nworld\n");
    let got = src.records(2).await;
    assert_eq!(bodies(&got), ["hello", "world"]);
    src.stop().await;
}

#[tokio::test]
async fn rename_and_create_rotation_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines("a", 1..=100).as_bytes());
    let mut src = start(config(dir.path()), Checkpoint::default());
    let mut got = src.records(100).await;
    // The writer keeps its descriptor across the rename, as a logger does until it reopens.
    let mut old = OpenOptions::new().append(true).open(&path).unwrap();
    std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    old.write_all(lines("a", 101..=110).as_bytes()).unwrap();
    append(&path, lines("b", 1..=20).as_bytes());
    old.write_all(lines("a", 111..=115).as_bytes()).unwrap();
    append(&path, b"END\n");
    got.extend(src.until("END").await);
    let mut expected = numbered("a", 1..=115);
    expected.extend(numbered("b", 1..=20));
    // Lines written to the old file after END was read may still be on their way: wait for them.
    let missing = expected.len().saturating_sub(got.len());
    got.extend(src.records(missing).await);
    expect_each_once(&got, &expected);
    // Each file in its own order.
    let a: Vec<String> = bodies(&got)
        .into_iter()
        .filter(|b| b.starts_with("a "))
        .collect();
    assert_eq!(a, numbered("a", 1..=115));
    src.stop().await;
}

#[tokio::test]
async fn copytruncate_restarts_from_zero_without_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines("old", 1..=50).as_bytes());
    let mut src = start(config(dir.path()), Checkpoint::default());
    let got = src.records(50).await;
    assert_eq!(bodies(&got), numbered("old", 1..=50));
    let old_key = key_of(&path);
    // logrotate copytruncate: copy, then truncate in place; the writer appends at 0.
    std::fs::copy(&path, dir.path().join("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&path, lines("new", 1..=10).as_bytes());
    append(&path, b"END\n");
    let got = src.until("END").await;
    assert_eq!(bodies(&got), numbered("new", 1..=10));
    let new_key = key_of(&path);
    assert_ne!(new_key, old_key);
    assert_eq!(got[0].id, positioned_id(&new_key, 0));
    src.stop().await;
}

/// copytruncate where the new content starts with the old first line (a banner): same device,
/// inode and fingerprint, so the new content gets the next generation of the key; its ids and
/// positions never collide with the old content's (a Kafka worker would take them for re-sent
/// records otherwise).
#[tokio::test]
async fn copytruncate_to_the_same_first_line_starts_a_new_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"banner\n");
    append(&path, lines("old", 1..=50).as_bytes());
    let mut src = start(config(dir.path()), Checkpoint::default());
    src.records(51).await;
    let key = key_of(&path);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&path, b"banner\n");
    append(&path, lines("new", 1..=3).as_bytes());
    append(&path, b"END\n");
    assert_eq!(key_of(&path), key);
    let got = src.until("END").await;
    let mut want = vec!["banner".to_string()];
    want.extend(numbered("new", 1..=3));
    assert_eq!(bodies(&got), want);
    let next = format!("{key}~1");
    assert_eq!(got[0].id, positioned_id(&next, 0));
    assert_eq!(got[1].id, positioned_id(&next, 7));
    assert!(
        src.checkpoints.iter().any(|(k, p)| *k == next && *p > 0),
        "{:?}",
        src.checkpoints
    );
    // A second truncation to the same first line: generation 2.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&path, b"banner\nEND2\n");
    let got = src.until("END2").await;
    assert_eq!(bodies(&got), vec!["banner".to_string()]);
    assert_eq!(got[0].id, positioned_id(&format!("{key}~2"), 0));
    src.stop().await;
}

/// Restart after a copytruncate to the same first line: the checkpoint of the key is beyond
/// the end of the file, so the file is read from 0 as the next generation; a checkpoint of a
/// later generation is resumed under that generation.
#[tokio::test]
async fn restart_picks_the_last_generation_of_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let text = format!("banner\n{}", lines("l", 1..=5));
    append(&path, text.as_bytes());
    let key = key_of(&path);

    let mut ck = Checkpoint::default();
    ck.advance(&key, 10_000);
    let mut src = start(config(dir.path()), ck);
    let got = src.records(6).await;
    assert_eq!(got[0].id, positioned_id(&format!("{key}~1"), 0));
    src.stop().await;

    let offset = text.find("l line 4\n").unwrap() as u64;
    let mut ck = Checkpoint::default();
    ck.advance(&key, 10_000);
    ck.advance(&format!("{key}~1"), 20_000);
    ck.advance(&format!("{key}~2"), offset);
    let mut src = start(config(dir.path()), ck);
    append(&path, b"END\n");
    let got = src.until("END").await;
    assert_eq!(bodies(&got), numbered("l", 4..=5));
    assert_eq!(got[0].id, positioned_id(&format!("{key}~2"), offset));
    src.stop().await;
}

#[tokio::test]
async fn a_new_file_on_a_reused_inode_is_read_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines("first file", 1..=20).as_bytes());
    let old_ino = std::fs::metadata(&path).unwrap().ino();
    let mut src = start_with(
        config(dir.path()),
        Checkpoint::default(),
        Duration::from_millis(50),
    );
    src.records(20).await;
    std::fs::remove_file(&path).unwrap();
    // Deleted: drained, then closed, so the inode is free for the next file.
    src.wait_state("the deleted file to be closed", |s| s.files.is_empty())
        .await;
    append(&path, lines("second", 1..=3).as_bytes());
    let new_ino = std::fs::metadata(&path).unwrap().ino();
    let got = src.records(3).await;
    assert_eq!(bodies(&got), numbered("second", 1..=3));
    assert_eq!(got[0].id, positioned_id(&key_of(&path), 0));
    eprintln!("inode reused: {}", old_ino == new_ino);
    src.stop().await;
}

#[tokio::test]
async fn a_reused_inode_with_another_fingerprint_ignores_the_old_checkpoint() {
    // Restart case: the checkpoint names this device and inode, but other first bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines("fresh", 1..=5).as_bytes());
    let meta = std::fs::metadata(&path).unwrap();
    let mut ck = Checkpoint::default();
    ck.advance(
        &format!("file:{}:{}:{:016x}", meta.dev(), meta.ino(), 0x1234u64),
        30,
    );
    let mut src = start(config(dir.path()), ck);
    assert_eq!(bodies(&src.records(5).await), numbered("fresh", 1..=5));
    src.stop().await;
}

#[tokio::test]
async fn an_unfinished_last_line_is_sent_once_the_file_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"a\nb\nlast without newline");
    let mut src = start(config(dir.path()), Checkpoint::default());
    let got = src.records(3).await;
    assert_eq!(bodies(&got), ["a", "b", "last without newline"]);
    let key = key_of(&path);
    assert_eq!(src.checkpoints.last(), Some(&(key.clone(), 24)));
    // What follows starts a new record; the flushed line is not sent again.
    append(&path, b"\nnext\n");
    let got = src.records(1).await;
    assert_eq!(bodies(&got), ["next"]);
    assert_eq!(got[0].id, positioned_id(&key, 25));
    src.stop().await;
}

#[tokio::test]
async fn resume_from_a_checkpoint_gives_exactly_the_lines_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let text = lines("l", 1..=10);
    append(&path, text.as_bytes());
    let key = key_of(&path);
    let offset = text.find("l line 4\n").unwrap() as u64;
    let mut ck = Checkpoint::default();
    ck.advance(&key, offset);
    let mut src = start(config(dir.path()), ck);
    append(&path, b"END\n");
    let got = src.until("END").await;
    assert_eq!(bodies(&got), numbered("l", 4..=10));
    assert_eq!(got[0].id, positioned_id(&key, offset));
    src.stop().await;
}

#[tokio::test]
async fn start_at_end_skips_existing_lines_of_files_found_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines("before", 1..=5).as_bytes());
    let mut cfg = config(dir.path());
    cfg.start_at = StartAt::End;
    let mut src = start(cfg, Checkpoint::default());
    let size = std::fs::metadata(&path).unwrap().len();
    src.wait_state("the file to be positioned at its end", |s| {
        s.files.len() == 1 && s.files[0].offset == size
    })
    .await;
    append(&path, b"after\n");
    // A file created while running is read from its start.
    append(&dir.path().join("new.log"), b"new file\n");
    let got = src.records(2).await;
    expect_each_once(&got, &["after".to_string(), "new file".to_string()]);
    src.stop().await;
}

#[tokio::test]
async fn a_10mb_line_is_cut_and_the_next_line_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut f = File::create(&path).unwrap();
    f.write_all(b"before\n").unwrap();
    f.write_all(&vec![b'x'; 10 << 20]).unwrap();
    f.write_all(b"\nafter\n").unwrap();
    drop(f);
    let mut cfg = config(dir.path());
    cfg.max_line = ByteSize(1 << 20);
    let mut src = start(cfg, Checkpoint::default());
    let got = src.records(3).await;
    assert_eq!(got[0].body, b"before");
    assert_eq!(got[1].body.len(), 1 << 20);
    assert!(got[1].body.iter().all(|&b| b == b'x'));
    assert!(got[1].truncated);
    assert_eq!(got[2].body, b"after");
    assert!(!got[2].truncated);
    let key = key_of(&path);
    assert_eq!(got[2].id, positioned_id(&key, 7 + (10 << 20) + 1));
    src.stop().await;
}

const JAVA: &str = "\
2024-05-31 10:00:00,001 INFO  [main] com.acme.Server - started
2024-05-31 10:00:01,002 ERROR [http-1] com.acme.Handler - request failed
java.lang.IllegalStateException: no session
\tat com.acme.Handler.handle(Handler.java:42)
\tat com.acme.Server.run(Server.java:7)
Caused by: java.io.IOException: closed
\tat com.acme.Io.read(Io.java:3)
\t... 2 more
2024-05-31 10:00:02,003 WARN  [main] com.acme.Server - slow
";

const PYTHON: &str = "\
2024-05-31 10:00:00,001 ERROR app.db: query failed
Traceback (most recent call last):
  File \"/srv/app/db.py\", line 12, in run
    cur.execute(sql)
psycopg2.OperationalError: connection lost
2024-05-31 10:00:01,002 INFO app.db: reconnected
";

/// The events of `text`: lines joined where a line does not start with `2024-`.
fn events_of(text: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = Vec::new();
    let mut pos = 0u64;
    for l in text.split_inclusive('\n') {
        let body = l.trim_end_matches('\n');
        match out.last_mut() {
            Some((_, ev)) if !body.starts_with("2024-") => {
                ev.push('\n');
                ev.push_str(body);
            }
            _ => out.push((pos, body.to_string())),
        }
        pos += l.len() as u64;
    }
    out
}

#[tokio::test]
async fn a_java_stack_trace_and_a_python_traceback_are_one_event_each() {
    for (name, text) in [("java.log", JAVA), ("python.log", PYTHON)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        append(&path, text.as_bytes());
        let expected = events_of(text);
        let mut src = start(config(dir.path()), Checkpoint::default());
        // The last event is held until the file is idle for the timeout.
        let got = src.records(expected.len()).await;
        let key = key_of(&path);
        let want: Vec<String> = expected.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(bodies(&got), want, "{name}");
        for (r, (start, _)) in got.iter().zip(&expected) {
            assert_eq!(r.id, positioned_id(&key, *start), "{name}: ids from the first line's offset");
            assert!(!r.truncated);
        }
        assert!(got.iter().any(|r| r.body.iter().filter(|&&b| b == b'\n').count() >= 4));
        // Checkpoints stop only at event boundaries, the last at the end of the file.
        let starts: Vec<u64> = expected.iter().map(|(s, _)| *s).collect();
        let size = text.len() as u64;
        assert!(
            src.checkpoints.iter().all(|(_, p)| starts.contains(p) || *p == size),
            "{name}: {:?} not at event starts {starts:?}",
            src.checkpoints
        );
        assert_eq!(src.checkpoints.last(), Some(&(key, size)));
        src.stop().await;
    }
}

#[tokio::test]
async fn an_event_that_never_ends_is_cut_at_the_cap_and_no_line_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut text = String::from("2024-05-31 10:00:00 ERROR dump follows\n");
    for i in 1..=1200 {
        text.push_str(&format!("    frame {i}\n"));
    }
    append(&path, text.as_bytes());
    let mut cfg = config(dir.path());
    cfg.multiline_max_lines = 500;
    let mut src = start(cfg, Checkpoint::default());
    let got = src.records(3).await;
    let lines_of = |r: &RawRecord| r.body.split(|&b| b == b'\n').count();
    assert_eq!(got.iter().map(lines_of).collect::<Vec<_>>(), [500, 500, 201]);
    assert_eq!(got.iter().map(|r| r.truncated).collect::<Vec<_>>(), [true, true, false]);
    // Every line exactly once, in order.
    assert_eq!(bodies(&got).join("\n"), text.trim_end());
    assert_eq!(src.checkpoints.last().map(|c| c.1), Some(text.len() as u64));

    // The byte cap too: an event of 3 x 700 bytes with a 1 KiB cap.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let long = "x".repeat(700);
    let text = format!("2024-05-31 10:00:00 ERROR {long}\n {long}\n {long}\n");
    append(&path, text.as_bytes());
    let mut cfg = config(dir.path());
    cfg.multiline_max_bytes = ByteSize(1024);
    let mut src = start(cfg, Checkpoint::default());
    let got = src.records(3).await;
    assert!(got[0].truncated && got.iter().all(|r| r.body.len() <= 1024));
    assert_eq!(bodies(&got).join("\n"), text.trim_end());
    src.stop().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_an_event_reads_the_whole_event_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let (head, tail) = JAVA.split_at(JAVA.find("Caused by:").unwrap());
    append(&path, head.as_bytes());
    let mut cfg = config(dir.path());
    // Long enough that the held event is not emitted before the "crash".
    cfg.multiline_timeout = Duration::from_secs(60);
    let mut src = start_with(cfg.clone(), Checkpoint::default(), Duration::from_secs(60));
    let got = src.records(1).await;
    assert_eq!(bodies(&got), ["2024-05-31 10:00:00,001 INFO  [main] com.acme.Server - started"]);
    let key = key_of(&path);
    let held_start = JAVA.find("2024-05-31 10:00:01").unwrap() as u64;
    // The position is the end of the last complete event, not the end of what was read.
    src.wait_state("read to the end", |s| s.files.first().is_some_and(|f| f.read == head.len() as u64))
        .await;
    assert_eq!(src.checkpoints.last(), Some(&(key.clone(), held_start)));
    assert_eq!(src.state.snapshot().files[0].offset, held_start);
    // Stopped like a crash: the held event is not sent.
    src.stop().await;
    append(&path, tail.as_bytes());

    let mut ck = Checkpoint::default();
    ck.advance(&key, held_start);
    let mut src = start(cfg, ck);
    let got = src.records(2).await;
    let expected = events_of(JAVA);
    assert_eq!(bodies(&got), [expected[1].1.clone(), expected[2].1.clone()]);
    assert_eq!(got[0].id, positioned_id(&key, held_start));
    src.stop().await;
}

#[tokio::test]
async fn invalid_utf8_bytes_pass_through_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let raw: &[u8] = b"ok \xff\xfe \xc3\x28 tail\r";
    let mut data = b"first\n".to_vec();
    data.extend_from_slice(raw);
    data.push(b'\n');
    append(&path, &data);
    let mut src = start(config(dir.path()), Checkpoint::default());
    let got = src.records(2).await;
    assert_eq!(got[1].body, raw);
    src.stop().await;
}

#[tokio::test]
async fn a_slow_receiver_slows_the_source_without_losing_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines("bp", 1..=5000).as_bytes());
    let mut cfg = config(dir.path());
    cfg.batch_lines = 100;
    let mut src = start(cfg, Checkpoint::default());
    // The channel holds 4 batches: the source must wait for us rather than drop.
    src.wait_state("the source to block on the full channel", |s| {
        s.lines_read >= 400
    })
    .await;
    assert!(
        src.state.snapshot().lines_read <= 600,
        "the source ran ahead of a full channel"
    );
    let got = src.records(5000).await;
    assert_eq!(bodies(&got), numbered("bp", 1..=5000));
    src.stop().await;
}

#[test]
fn bad_globs_are_refused_at_construction() {
    let (tx, _rx) = mpsc::channel(1);
    let cfg = FilesConfig {
        include: vec!["/var/log/[.log".into()],
        ..Default::default()
    };
    let e = FileSource::new(cfg, "h".into(), Checkpoint::default(), tx)
        .err()
        .unwrap();
    assert!(e.to_string().contains("files.include"), "{e}");
}
