//! `Host` and `Origin` checks, against DNS rebinding and cross-site requests.
//!
//! DNS rebinding: a page on `evil.example` makes its name resolve to 127.0.0.1 and then reads
//! a loopback-only loglynx as if same-origin; its requests carry `Host: evil.example`. So on a
//! loopback listener only `localhost`, `*.localhost`, loopback addresses and
//! `http.allowed_hosts` are answered. Off loopback any host is answered unless
//! `http.allowed_hosts` is set (then only those names and loopback ones).
//!
//! Cross-site requests: a browser sends `Origin` on cross-origin requests and on same-origin
//! `POST`s; when it is there it must be the origin of the `Host` asked for, so a page on
//! another site (or on another port of localhost) cannot make the browser send requests to
//! loglynx. Clients that are not browsers send no `Origin` and are not affected.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};

/// Which hosts the server answers to.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostPolicy {
    /// Enforce the host list (loopback listener, or `allowed_hosts` set).
    pub enforce: bool,
    /// `http.allowed_hosts`, lowercase.
    pub allowed: Vec<String>,
}

impl HostPolicy {
    pub fn new(loopback: bool, allowed: &[String]) -> HostPolicy {
        HostPolicy {
            enforce: loopback || !allowed.is_empty(),
            allowed: allowed.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
        }
    }

    /// `Err(reason)` when the request must be refused (403).
    pub fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if self.enforce {
            // HTTP/1.0 clients may send no Host: nothing for a rebinding page to abuse.
            if let Some(h) = host {
                if !self.allows(name_of(h)) {
                    return Err(format!(
                        "host {h:?} is not allowed: this server answers localhost, loopback addresses and http.allowed_hosts (DNS rebinding protection); add the name to http.allowed_hosts"
                    ));
                }
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let same = host.is_some_and(|h| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest.trim_end_matches('/').eq_ignore_ascii_case(h))
            });
            if !same {
                return Err(format!(
                    "cross-origin request from {origin:?} refused: use the dashboard served by this server, or a client that sends no Origin"
                ));
            }
        }
        Ok(())
    }

    fn allows(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            if ip.is_loopback() {
                return true;
            }
        }
        self.allowed.iter().any(|a| a == name)
    }
}

/// The host name of a `Host` value (without the port; IPv6 keeps its brackets).
fn name_of(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn loopback_answers_loopback_names_only() {
        let p = HostPolicy::new(true, &["logs.example.com".into()]);
        for ok in ["127.0.0.1:7700", "localhost:7700", "LOCALHOST", "[::1]:7700", "127.0.0.2", "app.localhost:1", "logs.example.com"] {
            assert!(p.check(&headers(ok, None)).is_ok(), "{ok}");
        }
        for bad in ["evil.example:7700", "10.0.0.1:7700", "[2001:db8::1]:7700", "localhost.evil.example"] {
            let e = p.check(&headers(bad, None)).unwrap_err();
            assert!(e.contains("allowed_hosts"), "{bad}: {e}");
        }
        let open = HostPolicy::new(false, &[]);
        assert!(open.check(&headers("evil.example", None)).is_ok());
    }

    #[test]
    fn origin_must_be_the_host_asked_for() {
        let p = HostPolicy::new(true, &[]);
        assert!(p.check(&headers("127.0.0.1:7700", Some("http://127.0.0.1:7700"))).is_ok());
        assert!(p.check(&headers("127.0.0.1:7700", Some("https://127.0.0.1:7700"))).is_ok());
        assert!(p.check(&headers("127.0.0.1:7700", Some("http://localhost:3000"))).is_err());
        assert!(p.check(&headers("127.0.0.1:7700", Some("https://evil.example"))).is_err());
        assert!(p.check(&headers("127.0.0.1:7700", Some("null"))).is_err());
    }
}
