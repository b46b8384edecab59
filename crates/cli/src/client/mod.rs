//! Client commands: `loglynx search`, `loglynx tail`, `loglynx ingest`, `loglynx export`, `loglynx sources`, `loglynx leaves`, talking to a running
//! instance over its HTTP API (blocking reqwest; these commands run outside any runtime).
//!
//! Exit codes: 0 success; 1 the server refused or failed the request (its message is printed),
//! the server cannot be reached, or `ingest` had rejected lines; 2 a local error (bad flags,
//! unreadable file).

mod export;
mod ingest;
mod leaves;
mod patterns;
mod search;
mod sources;
mod tail;

use std::io;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use serde_json::Value;

pub use export::{run_export, ExportArgs};
pub use ingest::{run_ingest, IngestArgs};
pub use leaves::{run_leaves, LeavesArgs};
pub use patterns::{run_patterns, PatternsArgs};
pub use search::{run_search, SearchArgs};
pub use sources::{run_sources, SourcesArgs};
pub use tail::{run_tail, TailArgs};

/// Where the server is and how to authenticate; shared by the client commands.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// URL of the loglynx server.
    #[arg(long, env = "LOGLYNX_SERVER", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// API key (`loglynx keys add`) or auth token of the server (sent as
    /// `Authorization: Bearer`).
    #[arg(long, env = "LOGLYNX_AUTH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust this CA certificate (PEM; may hold several) for an `https://` server, besides the
    /// system's web PKI roots: for a private CA or a self-signed certificate.
    #[arg(long, env = "LOGLYNX_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
}

/// A failed request: the message to print (the server's reason, or why it was unreachable).
#[derive(Debug)]
pub(crate) struct Failure {
    /// HTTP status when the server answered.
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A blocking HTTP client for one server.
pub(crate) struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client with a per-request timeout.
    pub fn new(args: &ServerArgs, timeout: Duration) -> anyhow::Result<Client> {
        let base = args.server.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(anyhow!(
                "invalid --server {base:?}: give a URL such as http://127.0.0.1:7700"
            ));
        }
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("loglynx-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &args.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-cert {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
                format!("--ca-cert {}: not a PEM certificate file", path.display())
            })?;
            if certs.is_empty() {
                return Err(anyhow!(
                    "--ca-cert {}: no certificate in it: give the CA's PEM file",
                    path.display()
                ));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().context("cannot build the HTTP client")?;
        Ok(Client {
            http,
            base,
            token: args.token.clone().filter(|t| !t.is_empty()),
        })
    }

    /// GET `path` with query parameters; the JSON body of a 2xx answer.
    pub fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let rb = self.http.get(format!("{}{path}", self.base)).query(query);
        self.send(rb).map(|(_, v)| v)
    }

    /// POST `path` with query parameters and no body; the JSON body of a 2xx answer.
    pub fn post_query(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let rb = self.http.post(format!("{}{path}", self.base)).query(query);
        self.send(rb).map(|(_, v)| v)
    }

    /// DELETE `path`; the JSON body of a 2xx answer.
    pub fn delete(&self, path: &str) -> Result<Value, Failure> {
        let rb = self.http.delete(format!("{}{path}", self.base));
        self.send(rb).map(|(_, v)| v)
    }

    /// GET `path` and return the 2xx response unread (a streamed body), or the failure.
    pub fn get_stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::blocking::Response, Failure> {
        let rb = self.authorize(self.http.get(format!("{}{path}", self.base)).query(query));
        let resp = rb.send().map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let text = resp.text().unwrap_or_default();
        let json = serde_json::from_str::<Value>(&text).ok();
        Err(server_failure(status, json.as_ref(), &text))
    }

    /// POST a body; the status and JSON body of any answer the server gave as JSON.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Value), Failure> {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        let rb = self.authorize(rb);
        let resp = rb.send().map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| self.unreachable(e))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Ok((status, v)),
            Err(_) => Err(Failure {
                status: Some(status),
                message: format!("server answered {status}: {text}"),
            }),
        }
    }

    fn authorize(
        &self,
        rb: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    fn send(&self, rb: reqwest::blocking::RequestBuilder) -> Result<(u16, Value), Failure> {
        let resp = self.authorize(rb).send().map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| self.unreachable(e))?;
        let json = serde_json::from_str::<Value>(&text);
        if (200..300).contains(&status) {
            return json.map(|v| (status, v)).map_err(|e| Failure {
                status: Some(status),
                message: format!(
                    "the server's answer is not JSON ({e}): is {} a loglynx server?",
                    self.base
                ),
            });
        }
        Err(server_failure(status, json.ok().as_ref(), &text))
    }

    fn unreachable(&self, e: reqwest::Error) -> Failure {
        let what = if e.is_timeout() {
            "timed out"
        } else {
            "failed"
        };
        Failure {
            status: None,
            message: format!(
                "request to {} {what}: {}: is `loglynx run` running there? (set --server or LOGLYNX_SERVER)",
                self.base,
                error_chain(&e)
            ),
        }
    }
}

/// The failure for a non-2xx answer: the server's `error.reason` when it sent one.
pub(crate) fn server_failure(status: u16, json: Option<&Value>, text: &str) -> Failure {
    let reason = json
        .and_then(|v| {
            v["error"]["reason"]
                .as_str()
                .or_else(|| v["error"].as_str())
        })
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().chars().take(500).collect());
    let hint = match status {
        401 => " (pass --token with an API key or set LOGLYNX_AUTH_TOKEN)",
        403 => " (use a key with the scope this needs: `loglynx keys add NAME --scope ...`)",
        _ => "",
    };
    Failure {
        status: Some(status),
        message: format!("server answered {status}: {reason}{hint}"),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Prints a failure the way every client command does and gives its exit code.
pub(crate) fn fail(f: &Failure) -> i32 {
    eprintln!("loglynx: {f}");
    1
}

/// Whether an I/O error is a closed stdout pipe.
pub(crate) fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Reads `--since` / `--until`: a duration back from now (`15m`, `1h`, `2d`) or any time form
/// the server reads (RFC 3339, date, epoch ms, `now-15m`).
pub(crate) fn time_arg(s: &str) -> String {
    let t = s.trim();
    match humantime::parse_duration(t) {
        Ok(d) => format!("now-{}ms", d.as_millis()),
        Err(_) => t.to_string(),
    }
}

/// One event as a line: `TIMESTAMP HOST SERVICE[PID]: MESSAGE`.
pub(crate) fn format_event(e: &Value) -> String {
    let s = |k: &str| e.get(k).and_then(Value::as_str);
    let ts = s("@timestamp").unwrap_or("-");
    let host = s("host.name").unwrap_or("-");
    let service = s("service.name")
        .or_else(|| s("process.name"))
        .unwrap_or("-");
    let pid = e
        .get("process.pid")
        .and_then(Value::as_u64)
        .map(|p| format!("[{p}]"))
        .unwrap_or_default();
    let msg = s("message").unwrap_or("");
    // One event, one line: embedded newlines would break `grep` and friends.
    let msg = msg.replace('\n', "\\n").replace('\r', "\\r");
    format!("{ts} {host} {service}{pid}: {msg}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_print_as_one_line() {
        let e = json!({"@timestamp": "2024-05-01T10:00:00Z", "host.name": "web1", "process.name": "sshd",
            "process.pid": 42, "message": "a\nb"});
        assert_eq!(
            format_event(&e),
            "2024-05-01T10:00:00Z web1 sshd[42]: a\\nb"
        );
        let e = json!({"@timestamp": "2024-05-01T10:00:00Z", "service.name": "api", "process.name": "x", "message": "m"});
        assert_eq!(format_event(&e), "2024-05-01T10:00:00Z - api: m");
    }

    #[test]
    fn since_takes_durations_or_times() {
        assert_eq!(time_arg("1h"), "now-3600000ms");
        assert_eq!(time_arg("15m"), "now-900000ms");
        assert_eq!(time_arg("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00Z");
        assert_eq!(time_arg("now-1d"), "now-1d");
    }

    #[test]
    fn server_failures_use_the_reason() {
        let v =
            json!({"error": {"type": "query_error", "reason": "unknown field `x`"}, "status": 400});
        assert_eq!(
            server_failure(400, Some(&v), "").message,
            "server answered 400: unknown field `x`"
        );
        let f = server_failure(401, None, "nope");
        assert!(f.message.contains("--token"), "{}", f.message);
    }
}
