//! `loglynx ingest`: bulk import of files into a running instance.
//!
//! Each file is streamed in chunks of about `--chunk-size` bytes cut at line boundaries; each
//! chunk is one `POST /api/v1/ingest`, answered once durable, before the next is sent (so
//! memory stays at one chunk and the server is never flooded). A 503 or a lost connection is
//! retried with back-off. Rejected lines are reported with their line number in the file.
//! A line longer than a chunk is cut at the chunk size (the server flags it `truncated` in
//! `auto` mode; in `ndjson` mode it is rejected as invalid JSON).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::{fail, Client, Failure, ServerArgs};

/// Attempts per chunk when the server answers 503 or cannot be reached.
const ATTEMPTS: u32 = 5;
/// Rejected lines listed per file in the summary.
const SHOWN_REJECTIONS: usize = 20;

/// How the server should read the lines.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IngestFormat {
    /// Raw log lines; the server detects the format of each (syslog, JSON, logfmt, ...).
    #[default]
    Auto,
    /// One JSON object per line; other lines are rejected and reported.
    Ndjson,
}

impl IngestFormat {
    fn content_type(self) -> &'static str {
        match self {
            IngestFormat::Auto => "text/plain; charset=utf-8",
            IngestFormat::Ndjson => "application/x-ndjson",
        }
    }
}

/// Arguments of `loglynx ingest`.
#[derive(clap::Args, Debug, Clone)]
pub struct IngestArgs {
    /// Files to import, one event per line (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How lines are read: `auto` detects each line's format, `ndjson` requires JSON objects.
    #[arg(long, value_enum, default_value_t = IngestFormat::Auto)]
    pub format: IngestFormat,
    /// Size of one request (cut at line boundaries); must stay below the server's http.max_body.
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub chunk_size: usize,
    #[command(flatten)]
    pub server: ServerArgs,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let b = loglynx_config::ByteSize::parse(s)?;
    let n = usize::try_from(b.0).map_err(|_| format!("{s} is too large"))?;
    if n < 1024 {
        return Err(format!("{s} is too small: give at least 1KiB"));
    }
    Ok(n)
}

/// A piece of a file: whole lines, each ending in `\n`.
#[derive(Debug, PartialEq)]
struct Chunk {
    data: Vec<u8>,
    /// 1-based number, in the file, of the chunk's first line.
    first_line: u64,
    lines: u64,
    /// Bytes of the file this chunk covers (including skipped parts of cut lines).
    consumed: u64,
}

/// Cuts a reader into chunks of about `size` bytes at line boundaries.
struct Chunker<R> {
    reader: BufReader<R>,
    size: usize,
    lines_read: u64,
}

impl<R: Read> Chunker<R> {
    fn new(reader: R, size: usize) -> Self {
        Chunker {
            reader: BufReader::with_capacity(256 << 10, reader),
            size,
            lines_read: 0,
        }
    }

    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut data = Vec::with_capacity(self.size.min(8 << 20));
        let first_line = self.lines_read + 1;
        let mut lines = 0;
        let mut consumed = 0u64;
        while data.len() < self.size {
            let n = (&mut self.reader)
                .take(self.size as u64)
                .read_until(b'\n', &mut data)?;
            if n == 0 {
                break;
            }
            consumed += n as u64;
            lines += 1;
            if data.last() != Some(&b'\n') {
                if n == self.size {
                    consumed += skip_line(&mut self.reader)?;
                }
                data.push(b'\n');
            }
        }
        self.lines_read += lines;
        Ok((lines > 0).then_some(Chunk {
            data,
            first_line,
            lines,
            consumed,
        }))
    }
}

/// Skips to just after the next `\n`; returns the bytes skipped.
fn skip_line(r: &mut impl BufRead) -> io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(skipped + i as u64 + 1);
            }
            None => {
                let len = buf.len();
                r.consume(len);
                skipped += len as u64;
            }
        }
    }
}

/// What happened to one file.
#[derive(Debug, Default)]
struct FileReport {
    lines: u64,
    accepted: u64,
    rejected_count: u64,
    /// (line in the file, reason), the first few.
    rejected: Vec<(u64, String)>,
}

/// Runs `loglynx ingest`; returns the exit code (1 when lines were rejected).
pub fn run_ingest(args: IngestArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.server, Duration::from_secs(180))?;
    let total_bytes: Option<u64> = args
        .files
        .iter()
        .map(|p| {
            if is_stdin(p) {
                None
            } else {
                std::fs::metadata(p).ok().map(|m| m.len())
            }
        })
        .sum();
    let bar = progress_bar(total_bytes);
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut lines_done = 0u64;
    for path in &args.files {
        let name = if is_stdin(path) {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let reader: Box<dyn Read> = if is_stdin(path) {
            Box::new(io::stdin().lock())
        } else {
            Box::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
        };
        let mut chunks = Chunker::new(reader, args.chunk_size);
        let mut report = FileReport::default();
        loop {
            let chunk = chunks
                .next_chunk()
                .with_context(|| format!("cannot read {name}"))?;
            let Some(chunk) = chunk else { break };
            let reply = match send_with_retry(&client, args.format, &chunk.data, &bar) {
                Ok(v) => v,
                Err(f) => {
                    bar.abandon();
                    let at = format!(
                        "{name} lines {}..{}",
                        chunk.first_line,
                        chunk.first_line + chunk.lines - 1
                    );
                    print_summary(&reports, started);
                    eprintln!("loglynx: import stopped at {at}");
                    return Ok(fail(&f));
                }
            };
            report.lines += chunk.lines;
            report.accepted += reply["accepted"].as_u64().unwrap_or(0);
            report.rejected_count += reply["rejected_count"].as_u64().unwrap_or(0);
            for r in reply["rejected"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if report.rejected.len() < SHOWN_REJECTIONS {
                    let line = chunk.first_line + r["line"].as_u64().unwrap_or(1) - 1;
                    report
                        .rejected
                        .push((line, r["error"].as_str().unwrap_or("").to_string()));
                }
            }
            lines_done += chunk.lines;
            bar.inc(chunk.consumed);
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{:.0} lines/s", lines_done as f64 / secs));
        }
        reports.push((name, report));
    }
    bar.finish_and_clear();
    print_summary(&reports, started);
    let rejected: u64 = reports.iter().map(|(_, r)| r.rejected_count).sum();
    Ok(if rejected > 0 { 1 } else { 0 })
}

fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(t) => {
            let bar = ProgressBar::new(t);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} ETA {eta}",
            );
            if let Ok(s) = style {
                bar.set_style(s);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(s) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bytes} {binary_bytes_per_sec} {msg}",
            ) {
                bar.set_style(s);
            }
            bar
        }
    }
}

/// Posts one chunk; retries 503 and lost connections with back-off. A reply with `accepted`
/// (200, or 400 when every line was rejected) is a success.
fn send_with_retry(
    client: &Client,
    format: IngestFormat,
    data: &[u8],
    bar: &ProgressBar,
) -> Result<Value, Failure> {
    let mut delay = Duration::from_secs(1);
    let mut attempt = 1;
    loop {
        let result = client.post("/api/v1/ingest", format.content_type(), data.to_vec());
        let failure = match result {
            Ok((_, v)) if v.get("accepted").is_some() => return Ok(v),
            Ok((status, v)) => {
                let mut f = super::server_failure(status, Some(&v), "");
                if status == 413 {
                    f.message.push_str(" (use a smaller --chunk-size)");
                }
                f
            }
            Err(f) => f,
        };
        let retry = matches!(failure.status, None | Some(503));
        if !retry || attempt >= ATTEMPTS {
            return Err(failure);
        }
        bar.println(format!(
            "loglynx: {failure}; retrying in {}s",
            delay.as_secs()
        ));
        std::thread::sleep(delay);
        delay *= 2;
        attempt += 1;
    }
}

fn print_summary(reports: &[(String, FileReport)], started: Instant) {
    let (mut lines, mut accepted, mut rejected) = (0u64, 0u64, 0u64);
    for (name, r) in reports {
        println!(
            "{name}: {} lines, {} events accepted, {} lines rejected",
            r.lines, r.accepted, r.rejected_count
        );
        for (line, error) in &r.rejected {
            println!("  line {line}: {error}");
        }
        if r.rejected_count > r.rejected.len() as u64 {
            println!(
                "  ... and {} more rejected lines",
                r.rejected_count - r.rejected.len() as u64
            );
        }
        lines += r.lines;
        accepted += r.accepted;
        rejected += r.rejected_count;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "total: {} files, {lines} lines, {accepted} events accepted, {rejected} lines rejected in {secs:.1}s ({:.0} lines/s)",
        reports.len(),
        lines as f64 / secs.max(1e-3)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(input: &[u8], size: usize) -> Vec<Chunk> {
        let mut c = Chunker::new(input, size);
        let mut v = Vec::new();
        while let Some(ch) = c.next_chunk().unwrap() {
            v.push(ch);
        }
        v
    }

    #[test]
    fn chunks_cut_at_line_boundaries_and_count_lines() {
        let v = chunks(b"aaaa\nbb\n\ncc\ndddddd", 6);
        let data: Vec<&[u8]> = v.iter().map(|c| &c.data[..]).collect();
        assert_eq!(data, vec![&b"aaaa\nbb\n"[..], &b"\ncc\ndddddd\n"[..]]);
        assert_eq!((v[0].first_line, v[0].lines), (1, 2));
        assert_eq!((v[1].first_line, v[1].lines), (3, 3));
        assert_eq!(v.iter().map(|c| c.consumed).sum::<u64>(), 18);
    }

    #[test]
    fn a_line_longer_than_a_chunk_is_cut_and_the_rest_skipped() {
        let v = chunks(b"0123456789abc\nok\n", 4);
        let data: Vec<&[u8]> = v.iter().map(|c| &c.data[..]).collect();
        assert_eq!(data, vec![&b"0123\n"[..], &b"ok\n"[..]]);
        assert_eq!((v[1].first_line, v[1].lines), (2, 1));
        assert_eq!(v.iter().map(|c| c.consumed).sum::<u64>(), 17);
    }

    #[test]
    fn empty_input_has_no_chunks() {
        assert!(chunks(b"", 1024).is_empty());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4MiB").unwrap(), 4 << 20);
        assert!(parse_size("10").is_err());
    }
}
