//! Web access logs: the access-log parser keeps the request's parts as labels; here they move
//! to the typed fields `http.request.method`, `url.original`, `http.response.status_code` and
//! `user_agent.original` (`source.ip` is set by the parser), with `event.category: web`.

use loglynx_core::Event;

pub(super) fn decode(ev: &mut Event) {
    if let Some(m) = ev.labels.remove("http.request.method") {
        ev.http_method = Some(m);
    }
    if let Some(u) = ev.labels.remove("url.original") {
        ev.url_original = Some(u);
    }
    if let Some(code) = ev
        .labels
        .get("http.response.status_code")
        .and_then(|s| s.parse::<u16>().ok())
    {
        ev.labels.remove("http.response.status_code");
        ev.http_status = Some(code);
    }
    if let Some(a) = ev.labels.remove("user_agent.original") {
        ev.user_agent = Some(a);
    }
    if ev.http_method.is_some() || ev.http_status.is_some() {
        ev.category = Some("web".into());
    }
}

#[cfg(test)]
mod tests {
    use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
    use std::sync::Arc;

    use crate::parse::{parse_record, ParseContext};

    fn parsed(line: &str) -> Event {
        let rec = RawRecord {
            body: line.as_bytes().to_vec(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File {
                path: "/var/log/nginx/access.log".into(),
            }),
            host: None,
            received: Timestamp::from_secs(1_700_000_000),
            id: "1".into(),
        };
        let mut e = parse_record(&rec, &ParseContext::now());
        crate::decode::decode(&mut e);
        e
    }

    #[test]
    fn combined_line_gets_typed_http_fields() {
        let e = parsed(
            r#"203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "POST /wp-login.php HTTP/1.1" 401 512 "-" "python-requests/2.31""#,
        );
        assert_eq!(e.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(e.http_method.as_deref(), Some("POST"));
        assert_eq!(e.url_original.as_deref(), Some("/wp-login.php"));
        assert_eq!(e.http_status, Some(401));
        assert_eq!(e.user_agent.as_deref(), Some("python-requests/2.31"));
        assert_eq!(e.category.as_deref(), Some("web"));
        assert!(
            !e.labels.contains_key("http.request.method"),
            "moved, not copied"
        );
        assert_eq!(
            e.labels.get("http.version").map(String::as_str),
            Some("1.1")
        );
    }

    #[test]
    fn a_request_line_without_method_sets_no_method() {
        let e =
            parsed(r#"203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "\x16\x03\x01" 400 0 "-" "-""#);
        assert_eq!(e.http_method, None);
        assert_eq!(e.url_original, None);
        assert_eq!(e.user_agent, None);
        assert_eq!(e.http_status, Some(400));
    }
}
