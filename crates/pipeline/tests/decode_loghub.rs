//! The decoders over the Loghub OpenSSH and Linux samples: for every shape, the lines that
//! hold it are found with plain string checks on the raw text, and the decoded fields are
//! compared with values cut from the raw line (not with hard-coded figures). Per action, the
//! number of decoded events must equal the number of raw lines of that shape, both ways.
//!
//! The samples live outside the repository (`../shared/data/loghub`, see loglynx-testkit);
//! absent, the test says so and passes, unless `LOGLYNX_REQUIRE_SHARED` is set.

use std::collections::BTreeMap;
use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::decode::decode;
use loglynx_pipeline::parse::{parse_record, ParseContext};

/// Raw lines (CR stripped) and their parsed + decoded events.
fn load(name: &str) -> Option<(Vec<String>, Vec<Event>)> {
    let dir = loglynx_testkit::shared_data("loghub")?.join(name);
    let raw = std::fs::read_to_string(dir.join(format!("{name}_2k.log"))).unwrap();
    let lines: Vec<String> = raw.lines().map(|l| l.trim_end_matches('\r').to_string()).collect();
    let source = Arc::new(SourceKind::File { path: "loghub".into() });
    let ctx = ParseContext { now: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(), keep_original: false, utc_offset_secs: 0 };
    let events = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.as_bytes().to_vec(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: ctx.now,
                id: i.to_string(),
            };
            let mut e = parse_record(&rec, &ctx);
            decode(&mut e);
            e
        })
        .collect();
    Some((lines, events))
}

/// The token after the first occurrence of `marker`, cut at a space, `]` or trailing `:`.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = line.split_once(marker)?.1;
    let tok = rest.split([' ', ']']).next()?;
    Some(tok.trim_end_matches(':'))
}

/// The user name between `for ` (after `invalid user ` when present) and ` from `.
fn user_before_from(line: &str) -> Option<&str> {
    let rest = line.split_once(" for ")?.1;
    let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
    let user = rest.rsplit_once(" from ")?.0;
    (!user.is_empty()).then_some(user)
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Counts of decoded actions, and of the raw lines per expected action.
#[derive(Default)]
struct Tally {
    decoded: BTreeMap<String, usize>,
    expected: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn new(events: &[Event]) -> Tally {
        let mut t = Tally::default();
        for e in events {
            if let Some(a) = e.action.as_deref() {
                *t.decoded.entry(a.to_string()).or_default() += 1;
            }
        }
        t
    }
    fn expect(&mut self, action: &'static str) {
        *self.expected.entry(action).or_default() += 1;
    }
    fn check(&self, name: &str) {
        for (a, n) in &self.expected {
            println!("{name}: {a}: {n} lines of the shape, {} decoded", self.decoded.get(*a).copied().unwrap_or(0));
        }
        let decoded: BTreeMap<&str, usize> = self.decoded.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(decoded, self.expected, "{name}: decoded actions differ from the raw lines' shapes");
    }
}

#[test]
fn openssh_shapes_are_all_decoded() {
    let Some((lines, events)) = load("OpenSSH") else { return };
    let mut t = Tally::new(&events);
    for (i, (line, e)) in lines.iter().zip(&events).enumerate() {
        let n = i + 1;
        let what = |field: &str| format!("OpenSSH line {n} {field}: {line}");
        let action = e.action.as_deref();
        if line.contains("Failed password for") || line.contains("Failed none for") || line.contains("Accepted password for") {
            let ok = line.contains("Accepted");
            t.expect("ssh_login");
            assert_eq!(action, Some("ssh_login"), "{}", what("action"));
            assert_eq!(e.outcome.as_deref(), Some(if ok { "success" } else { "failure" }), "{}", what("outcome"));
            assert_eq!(e.source_ip.as_deref(), after(line, " from "), "{}", what("source.ip"));
            assert_eq!(e.source_port.map(|p| p.to_string()).as_deref(), after(line, " port "), "{}", what("source.port"));
            assert_eq!(e.user_name.as_deref(), user_before_from(line), "{}", what("user.name"));
        } else if line.contains("Invalid user ") {
            t.expect("invalid_user");
            assert_eq!(action, Some("invalid_user"), "{}", what("action"));
            assert_eq!(e.source_ip.as_deref(), after(line, " from "), "{}", what("source.ip"));
            let user = line.split_once("Invalid user ").unwrap().1.rsplit_once(" from ").unwrap().0;
            assert_eq!(e.user_name.as_deref(), (!user.is_empty()).then_some(user), "{}", what("user.name"));
        } else if line.contains("input_userauth_request: invalid user ") {
            t.expect("invalid_user");
            assert_eq!(action, Some("invalid_user"), "{}", what("action"));
            let user = line.split_once("invalid user ").unwrap().1.trim_end_matches(" [preauth]");
            assert_eq!(e.user_name.as_deref(), (!user.is_empty()).then_some(user), "{}", what("user.name"));
        } else if line.contains("Received disconnect from ") {
            t.expect("disconnected");
            assert_eq!(action, Some("disconnected"), "{}", what("action"));
            assert_eq!(e.source_ip.as_deref(), after(line, "Received disconnect from "), "{}", what("source.ip"));
        } else if line.contains("Connection closed by ") {
            t.expect("connection_closed");
            assert_eq!(action, Some("connection_closed"), "{}", what("action"));
            assert_eq!(e.source_ip.as_deref(), after(line, "Connection closed by "), "{}", what("source.ip"));
        } else if line.contains("POSSIBLE BREAK-IN ATTEMPT") {
            t.expect("possible_break_in_attempt");
            assert_eq!(action, Some("possible_break_in_attempt"), "{}", what("action"));
            assert_eq!(e.source_ip.as_deref(), after(line, " ["), "{}", what("source.ip"));
            assert_eq!(e.source_domain.as_deref(), after(line, "getaddrinfo for "), "{}", what("source.domain"));
        } else if line.contains("Too many authentication failures for ") {
            t.expect("max_auth_attempts_exceeded");
            assert_eq!(action, Some("max_auth_attempts_exceeded"), "{}", what("action"));
            assert_eq!(e.user_name.as_deref(), after(line, "failures for "), "{}", what("user.name"));
        } else if line.contains("Did not receive identification string from ") {
            t.expect("no_identification_string");
            assert_eq!(e.source_ip.as_deref(), after(line, " from "), "{}", what("source.ip"));
        } else if line.contains("authentication failure;") || line.contains("authentication failures;") {
            t.expect("authentication_failure");
            assert_eq!(action, Some("authentication_failure"), "{}", what("action"));
            let rhost = after(line, "rhost=").filter(|h| !h.is_empty());
            assert_eq!(e.source_ip.as_deref(), rhost.filter(|h| is_ip(h)), "{}", what("source.ip"));
            assert_eq!(e.source_domain.as_deref(), rhost.filter(|h| !is_ip(h)), "{}", what("source.domain"));
            assert_eq!(e.user_name.as_deref(), after(line, " user="), "{}", what("user.name"));
        } else if line.contains("session opened for user ") {
            t.expect("session_opened");
            assert_eq!(e.user_name.as_deref(), after(line, "for user "), "{}", what("user.name"));
        } else if line.contains("session closed for user ") {
            t.expect("session_closed");
            assert_eq!(e.user_name.as_deref(), after(line, "for user "), "{}", what("user.name"));
        } else {
            assert_eq!(action, None, "{}", what("no action expected"));
            assert_eq!(e.source_ip, None, "{}", what("no source.ip expected"));
        }
        if e.action.is_some() {
            assert!(e.category.is_some(), "{}", what("event.category"));
        }
    }
    t.check("OpenSSH");
}

#[test]
fn openssh_top_failed_login_sources_match_the_raw_lines() {
    let Some((lines, events)) = load("OpenSSH") else { return };
    let mut raw: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &lines {
        if l.contains("Failed password for") || l.contains("Failed none for") {
            *raw.entry(after(l, " from ").unwrap()).or_default() += 1;
        }
    }
    let mut decoded: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        if e.action.as_deref() == Some("ssh_login") && e.outcome.as_deref() == Some("failure") {
            *decoded.entry(e.source_ip.as_deref().unwrap()).or_default() += 1;
        }
    }
    let top = |m: &BTreeMap<&str, usize>| {
        let mut v: Vec<(usize, String)> = m.iter().map(|(k, n)| (*n, k.to_string())).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.truncate(5);
        v
    };
    println!("top failed-login sources (raw lines): {:?}", top(&raw));
    assert!(top(&raw).len() == 5 && top(&raw)[0].0 > 1, "the sample has repeated failed logins");
    assert_eq!(top(&decoded), top(&raw));
    assert_eq!(decoded, raw);
}

#[test]
fn linux_pam_shapes_are_all_decoded() {
    let Some((lines, events)) = load("Linux") else { return };
    let mut t = Tally::new(&events);
    for (i, (line, e)) in lines.iter().zip(&events).enumerate() {
        let n = i + 1;
        let what = |field: &str| format!("Linux line {n} {field}: {line}");
        let pam = line.contains("(pam_unix)[");
        if pam && line.contains("authentication failure;") {
            t.expect("authentication_failure");
            assert_eq!(e.action.as_deref(), Some("authentication_failure"), "{}", what("action"));
            assert_eq!(e.outcome.as_deref(), Some("failure"), "{}", what("outcome"));
            assert_eq!(e.category.as_deref(), Some("authentication"), "{}", what("category"));
            let rhost = after(line, "rhost=").filter(|h| !h.is_empty());
            assert_eq!(e.source_ip.as_deref(), rhost.filter(|h| is_ip(h)), "{}", what("source.ip"));
            assert_eq!(e.source_domain.as_deref(), rhost.filter(|h| !is_ip(h)), "{}", what("source.domain"));
            assert_eq!(e.user_name.as_deref(), after(line, " user="), "{}", what("user.name"));
        } else if pam && line.contains("session opened for user ") {
            t.expect("session_opened");
            assert_eq!(e.user_name.as_deref(), after(line, "for user "), "{}", what("user.name"));
        } else if pam && line.contains("session closed for user ") {
            t.expect("session_closed");
            assert_eq!(e.user_name.as_deref(), after(line, "for user "), "{}", what("user.name"));
        } else {
            assert_eq!(e.action, None, "{}", what("no action expected"));
            assert_eq!(e.source_ip, None, "{}", what("no source.ip expected"));
            assert_eq!(e.user_name, None, "{}", what("no user.name expected"));
        }
    }
    t.check("Linux");
}
