//! Parse throughput per format, one core: `cargo bench -p loglynx-pipeline --bench parse`.
//! Each iteration parses and decodes a batch of 1,000 lines, as the pipeline stage does;
//! criterion reports elements (lines) per second. The syslog cases are an su and a pam_unix
//! line (decoded: fields extracted) and an RFC 5424 line of another program (decode skips it);
//! `sshd_failed` is the commonest line of an exposed host's auth log.
//!
//! Group `stage`: the same batches from a file source through [`FileRules::parse_batch`] (the
//! stage's path: the file's rules looked up once per batch, the learning bookkeeping), and a
//! file with day-first dates read with the timestamp format learned for it (`learned_dayfirst`),
//! a file with the level before the time (`level_first`, learned), and records of a syslog
//! source (`syslog_rfc3164`: plain messages; `syslog_app_layout`: an app layout behind the
//! header, learned per sender and program); each beside `<case>_parse_record`, the stage's loop before (`parse_record` per record).
//!
//! Group `corpus`: the formats x 300 lines of `tests/formats.rs` through the stage's path
//! (structures learned on a first pass), lines per second over all of it.
//!
//! Group `long_lines`: one line in each of the shapes that make a parser scan far (a huge
//! message, an unterminated bracket or quote, a run of one byte), at 1 MiB and 8 MiB, in bytes
//! per second: a parser linear in the line's length has the same rate at both sizes (a
//! quadratic scan is 8x slower at 8 MiB). `ten_megabyte_lines_parse_into_one_event_each` in
//! `src/parse/tests.rs` checks the same shapes are parsed whole.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::decode::decode;
use loglynx_pipeline::parse::{parse_record, ParseContext};
use loglynx_pipeline::FileRules;

#[allow(dead_code, unused_imports)]
#[path = "../tests/formats.rs"]
mod formats;

const BATCH: usize = 1000;

fn records(lines: &[&str], hint: FormatHint) -> Vec<RawRecord> {
    let source = Arc::new(SourceKind::Syslog {
        transport: "udp".into(),
        peer: "127.0.0.1:514".into(),
    });
    records_from(source, lines, hint)
}

fn file_records(path: &str, lines: &[&str]) -> Vec<RawRecord> {
    records_from(Arc::new(SourceKind::File { path: path.into() }), lines, FormatHint::Auto)
}

fn records_from(source: Arc<SourceKind>, lines: &[&str], hint: FormatHint) -> Vec<RawRecord> {
    (0..BATCH)
        .map(|i| RawRecord {
            body: lines[i % lines.len()]
                .replace("{i}", &i.to_string())
                .into_bytes(),
            truncated: false,
            hint,
            source: source.clone(),
            host: Some("receiver".into()),
            received: Timestamp::from_secs(1_717_200_000),
            id: format!("id-{i}"),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ctx = ParseContext {
        now: Timestamp::from_secs(1_717_200_000),
        keep_original: false,
        utc_offset_secs: 0,
    };
    let cases: [(&str, Vec<RawRecord>); 8] = [
        (
            "rfc3164",
            records(&["<34>Oct 11 22:14:15 mymachine su[{i}]: 'su root' failed for lonvick on /dev/pts/8"], FormatHint::Auto),
        ),
        (
            "rfc3164_nopri",
            records(&["Jun 14 15:16:01 combo sshd(pam_unix)[{i}]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4"], FormatHint::Auto),
        ),
        (
            "rfc5424",
            records(&[r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog {i} ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry"#], FormatHint::Auto),
        ),
        (
            "json",
            records(&[r#"{"@timestamp":"2024-05-01T10:00:00.123Z","log.level":"info","message":"request served","host":{"name":"web1"},"service.name":"api","http.status":200,"duration_ms":{i}}"#], FormatHint::Auto),
        ),
        (
            "loghub_hdfs",
            records(&["081109 203615 {i} INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating"], FormatHint::Auto),
        ),
        (
            "header_log4j",
            records(&["2024-05-01 10:00:00,123 INFO  [main] com.example.OrderService - order {i} accepted"], FormatHint::Auto),
        ),
        (
            // One line of each of ten application formats of tests/formats.rs, in turn.
            "header_mixed",
            records(&[
                "2024-05-01T10:00:00.123+01:00  INFO 1234 --- [           main] o.s.b.w.e.tomcat.TomcatWebServer         : Tomcat started on port {i}",
                "24/05/01 10:00:00 INFO storage.BlockManagerMaster: Registered BlockManager {i}",
                "05-01 10:00:00.123  1234  5678 E ActivityManager: ANR in com.example.app{i}",
                "2024-05-01 10:00:00.123 CET [1234] LOG:  checkpoint {i} complete",
                "2024-05-01T10:00:00.123456Z 0 [System] [MY-010116] [Server] mysqld starting as process {i}",
                "1234:M 01 May 2024 10:00:00.123 * Ready to accept connections {i}",
                "I0501 10:00:00.123456    1234 controller.go:123] Starting controller {i}",
                "I, [2024-05-01T10:00:00.123456 #1234]  INFO -- : Started GET \"/items/{i}\" for 127.0.0.1",
                "2024/05/01 10:00:00 [error] 1234#0: *{i} open() \"/x\" failed (2: No such file or directory)",
                "2024-05-01 10:00:00, Info                  CBS    Loaded Servicing Stack v10.0.{i}",
            ], FormatHint::Auto),
        ),
        (
            "sshd_failed",
            records(&["Dec 10 09:32:20 LabSZ sshd[{i}]: Failed password for invalid user admin from 5.36.59.76 port 42393 ssh2"], FormatHint::Auto),
        ),
    ];
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, recs) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                for r in recs {
                    let mut e = parse_record(black_box(r), &ctx);
                    decode(&mut e);
                    black_box(e);
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(BATCH as u64));
    let rules = FileRules::default();
    let stage_cases = [
        ("rfc3164", file_records("/var/log/a.log", &["<34>Oct 11 22:14:15 mymachine su[{i}]: 'su root' failed for lonvick on /dev/pts/8"])),
        ("json", file_records("/var/log/b.log", &[r#"{"@timestamp":"2024-05-01T10:00:00.123Z","log.level":"info","message":"request served","host":{"name":"web1"},"service.name":"api","http.status":200,"duration_ms":{i}}"#])),
        ("header_log4j", file_records("/var/log/c.log", &["2024-05-01 10:00:00,123 INFO  [main] com.example.OrderService - order {i} accepted"])),
        ("learned_dayfirst", file_records("/var/log/d.log", &["31/05/2024 10:00:00.123 INFO [main] com.example.OrderService - order {i} accepted"])),
        // From a syslog source: plain messages (the sender's program settles, nothing learned),
        // and messages carrying an app layout behind the header (learned per sender + program).
        ("syslog_rfc3164", records(&["<34>Oct 11 22:14:15 mymachine su[{i}]: 'su root' failed for lonvick on /dev/pts/8"], FormatHint::Syslog)),
        ("syslog_app_layout", records(&["<14>Oct 11 22:14:15 web8 api[77]: ERROR [worker-3] com.acme.Api: request {i} failed"], FormatHint::Syslog)),
        ("level_first", file_records("/var/log/e.log", &["INFO 2024-05-31 10:00:00,123 [main] com.example.OrderService: order {i} accepted"])),
    ];
    for (name, recs) in &stage_cases {
        // The stage's loop before `FileRules` (parse_record per record, collected), for an A/B
        // in one binary.
        g.bench_function(format!("{name}_parse_record"), |b| {
            b.iter(|| {
                let evs: Vec<_> = black_box(recs)
                    .iter()
                    .map(|r| {
                        let mut e = parse_record(r, &ctx);
                        decode(&mut e);
                        e
                    })
                    .collect();
                black_box(evs);
            })
        });
        // The learned case learns on its first batch; every later one uses the format.
        black_box(rules.parse_batch(recs, &ctx));
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut evs = rules.parse_batch(black_box(recs), &ctx);
                for e in &mut evs {
                    decode(e);
                }
                black_box(evs);
            })
        });
    }
    g.finish();

    // The formats corpus of tests/formats.rs (42 formats x 300 lines, 12,600 lines), each
    // format's lines one batch of one file through the stage's path, structures learned on the
    // first pass: the rate over all of it.
    let corpus: Vec<Vec<RawRecord>> = formats::corpus()
        .into_iter()
        .map(|(name, _, lines)| {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let source = Arc::new(SourceKind::File { path: format!("corpus/{name}.log") });
            refs.iter()
                .enumerate()
                .map(|(i, l)| RawRecord {
                    body: l.as_bytes().to_vec(),
                    truncated: false,
                    hint: FormatHint::Auto,
                    source: source.clone(),
                    host: Some("receiver".into()),
                    received: Timestamp::from_secs(1_735_603_200),
                    id: format!("id-{i}"),
                })
                .collect()
        })
        .collect();
    let total: usize = corpus.iter().map(Vec::len).sum();
    let corpus_ctx = ParseContext { now: Timestamp::from_secs(1_735_603_200), ..ctx };
    let rules = FileRules::default();
    for recs in &corpus {
        black_box(rules.parse_batch(recs, &corpus_ctx));
    }
    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Elements(total as u64));
    g.sample_size(20);
    g.bench_function("formats", |b| {
        b.iter(|| {
            for recs in &corpus {
                let mut evs = rules.parse_batch(black_box(recs), &corpus_ctx);
                for e in &mut evs {
                    decode(e);
                }
                black_box(evs);
            }
        })
    });
    g.finish();
}

/// The shapes of `long_lines`, `n` bytes of filler each (the same as the unit test's).
fn long_line_shapes(n: usize) -> Vec<(&'static str, String)> {
    let big = "x".repeat(n);
    vec![
        ("rfc3164", format!("<34>Oct 11 22:14:15 host app[1]: {big}")),
        ("rfc5424_open_sd", format!("<165>1 2003-10-11T22:14:15Z h a - - [{big}")),
        ("json", format!("{{\"message\":\"{big}\"}}")),
        ("logfmt_open_quote", format!("a=1 b=\"{big}")),
        ("access_open_bracket", format!("1.2.3.4 - - [{big}")),
        ("two_words", format!("{big} {big}")),
        ("logfmt_pairs", "a=b ".repeat(n / 4)),
        ("brackets", "[".repeat(n)),
        ("angles", "<".repeat(n)),
    ]
}

fn long_lines(c: &mut Criterion) {
    let ctx = ParseContext {
        now: Timestamp::from_secs(1_717_200_000),
        keep_original: false,
        utc_offset_secs: 0,
    };
    let mut g = c.benchmark_group("long_lines");
    g.sample_size(10);
    for mib in [1usize, 8] {
        for (name, line) in long_line_shapes(mib << 20) {
            let rec = RawRecord {
                body: line.into_bytes(),
                truncated: false,
                hint: FormatHint::Auto,
                source: Arc::new(SourceKind::File { path: "/var/log/long.log".into() }),
                host: None,
                received: ctx.now,
                id: "long".into(),
            };
            g.throughput(Throughput::Bytes(rec.body.len() as u64));
            g.bench_function(format!("{name}/{mib}MiB"), |b| {
                b.iter(|| black_box(parse_record(black_box(&rec), &ctx)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench, long_lines);
criterion_main!(benches);
