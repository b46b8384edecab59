//! sshd (OpenSSH): logins accepted and failed, invalid users, disconnects, pre-auth errors.
//! Every shape gets `event.category: authentication`.

use loglynx_core::Event;

use super::{
    addr_port, bounded_name, find, name, rsplit_str, set_addr_port, set_event, set_source_host,
    split_str, FAILURE, SUCCESS, UNKNOWN,
};

const AUTH: &str = "authentication";

pub(super) fn decode(msg: &str, ev: &mut Event) {
    let msg = unwrap_repeated(msg);
    let msg = msg.trim_end();
    let msg = msg.strip_suffix("[preauth]").map_or(msg, str::trim_end);
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("Accepted ") {
        login(rest, SUCCESS, ev);
    } else if let Some(rest) = msg.strip_prefix("Failed ") {
        login(rest, FAILURE, ev);
    } else if let Some(rest) = msg.strip_prefix("Invalid user ") {
        // `Invalid user NAME from ADDR[ port N]`; the name may be empty.
        if let Some((user, addr)) =
            rsplit_str(rest, " from ").or_else(|| rest.strip_prefix("from ").map(|a| ("", a)))
        {
            if set_addr_port(ev, addr) {
                ev.user_name = bounded_name(user);
                set_event(ev, "invalid_user", Some(FAILURE), AUTH);
            }
        }
    } else if let Some(user) = msg.strip_prefix("input_userauth_request: invalid user ") {
        if let Some(u) = bounded_name(user) {
            ev.user_name = Some(u);
            set_event(ev, "invalid_user", Some(FAILURE), AUTH);
        }
    } else if let Some(rest) = msg.strip_prefix("Connection closed by ") {
        if user_then_addr(rest, ev) {
            set_event(ev, "connection_closed", Some(UNKNOWN), AUTH);
        }
    } else if let Some(rest) = msg.strip_prefix("Disconnected from ") {
        if user_then_addr(rest, ev) {
            set_event(ev, "disconnected", Some(UNKNOWN), AUTH);
        }
    } else if let Some(rest) = msg.strip_prefix("Received disconnect from ") {
        received_disconnect(rest, ev);
    } else if let Some(rest) = msg.strip_prefix("reverse mapping checking getaddrinfo for ") {
        // `HOST [ADDR] failed - POSSIBLE BREAK-IN ATTEMPT!`
        let Some((host, tail)) = split_str(rest, " [") else {
            return;
        };
        let Some((ip, tail)) = tail.split_once(']') else {
            return;
        };
        if find(tail, "POSSIBLE BREAK-IN ATTEMPT").is_some() && set_addr_port(ev, ip) {
            if let Some(h) = name(host) {
                ev.source_domain = Some(h);
            }
            set_event(ev, "possible_break_in_attempt", Some(UNKNOWN), AUTH);
        }
    } else if let Some(rest) = msg.strip_prefix("Address ") {
        // `Address ADDR maps to HOST, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!`
        if find(rest, "POSSIBLE BREAK-IN ATTEMPT").is_some()
            && set_addr_port(ev, rest.split(' ').next().unwrap_or(""))
        {
            ev.source_port = None;
            set_event(ev, "possible_break_in_attempt", Some(UNKNOWN), AUTH);
        }
    } else if let Some(rest) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        // `[invalid user ]NAME from ADDR port N ssh2`
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        if let Some((user, addr)) = rsplit_str(rest, " from ") {
            if set_addr_port(ev, addr) {
                ev.user_name = bounded_name(user);
                set_event(ev, "max_auth_attempts_exceeded", Some(FAILURE), AUTH);
            }
        }
    } else if let Some(rest) = msg.strip_prefix("Disconnecting") {
        too_many_failures(rest, ev);
    } else if let Some(rest) = msg.strip_prefix("Did not receive identification string from ") {
        if set_addr_port(ev, rest) {
            set_event(ev, "no_identification_string", Some(UNKNOWN), AUTH);
        }
    } else if let Some(rest) = msg.strip_prefix("PAM ") {
        // `PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=ADDR  user=root`
        let Some((n, tail)) = rest.split_once(' ') else {
            return;
        };
        if n.bytes().all(|b| b.is_ascii_digit()) && tail.starts_with("more authentication failure")
        {
            if let Some((_, kv)) = split_str(tail, "; ") {
                super::pam::auth_failure(kv, ev);
            }
        }
    }
}

/// `message repeated N times: [ INNER]` -> `INNER` (syslog's de-duplication wrapper).
fn unwrap_repeated(msg: &str) -> &str {
    msg.strip_prefix("message repeated ")
        .and_then(|r| split_str(r, " times: [ "))
        .and_then(|(n, inner)| {
            n.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| inner.strip_suffix(']').unwrap_or(inner))
        })
        .unwrap_or(msg)
}

/// After `Accepted ` / `Failed `: `METHOD for [invalid user ]NAME from ADDR port N ssh2[: ...]`.
fn login(rest: &str, outcome: &'static str, ev: &mut Event) {
    let Some((method, rest)) = split_str(rest, " for ") else {
        return;
    };
    if name(method).is_none() {
        return;
    }
    let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
    let Some((user, addr)) = rsplit_str(rest, " from ") else {
        return;
    };
    let Some((ip, port, _)) = addr_port(addr) else {
        return;
    };
    ev.source_ip = Some(ip.to_string());
    ev.source_port = port;
    ev.user_name = bounded_name(user);
    set_event(ev, "ssh_login", Some(outcome), AUTH);
}

/// `[authenticating user NAME |invalid user NAME |user NAME ]ADDR[ port N]`.
fn user_then_addr(rest: &str, ev: &mut Event) -> bool {
    let mut rest = rest;
    let mut user = None;
    for p in ["authenticating user ", "invalid user ", "user "] {
        if let Some(r) = rest.strip_prefix(p) {
            let Some((u, r)) = r.split_once(' ') else {
                return false;
            };
            user = name(u);
            rest = r;
            break;
        }
    }
    if !set_addr_port(ev, rest) {
        return false;
    }
    ev.user_name = user;
    true
}

/// `ADDR[ port N]: CODE: TEXT`, or the older `ADDR: CODE: TEXT`.
fn received_disconnect(rest: &str, ev: &mut Event) {
    let (head, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let ip = head.strip_suffix(':').unwrap_or(head);
    let mut port = None;
    if !head.ends_with(':') {
        if let Some(p) = tail.strip_prefix("port ") {
            let end = p
                .bytes()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(p.len());
            port = p[..end].parse::<u16>().ok();
        }
    }
    if ip.parse::<std::net::IpAddr>().is_ok() && set_source_host(ev, ip) {
        ev.source_port = port;
        set_event(ev, "disconnected", Some(UNKNOWN), AUTH);
    }
}

/// After `Disconnecting`: `: Too many authentication failures[ for NAME]` or
/// ` authenticating user NAME ADDR port N: Too many authentication failures`.
fn too_many_failures(rest: &str, ev: &mut Event) {
    if let Some(r) = rest.strip_prefix(": Too many authentication failures") {
        if let Some(u) = r.strip_prefix(" for ") {
            ev.user_name = name(u.strip_prefix("invalid user ").unwrap_or(u));
        }
        set_event(ev, "max_auth_attempts_exceeded", Some(FAILURE), AUTH);
    } else if let Some((who, _)) = split_str(rest, ": Too many authentication failures") {
        if user_then_addr(who.trim_start(), ev) {
            set_event(ev, "max_auth_attempts_exceeded", Some(FAILURE), AUTH);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    fn check(
        msg: &str,
        action: &str,
        outcome: &str,
        ip: Option<&str>,
        port: Option<u16>,
        user: Option<&str>,
    ) {
        let e = ev("sshd", msg);
        assert_eq!(e.action.as_deref(), Some(action), "{msg}");
        assert_eq!(e.outcome.as_deref(), Some(outcome), "{msg}");
        assert_eq!(e.category.as_deref(), Some("authentication"), "{msg}");
        assert_eq!(e.source_ip.as_deref(), ip, "{msg}");
        assert_eq!(e.source_port, port, "{msg}");
        assert_eq!(e.user_name.as_deref(), user, "{msg}");
        assert_eq!(e.message, msg, "the message is kept");
    }

    #[test]
    fn logins() {
        check(
            "Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
            "ssh_login",
            "success",
            Some("119.137.62.142"),
            Some(49116),
            Some("fztu"),
        );
        check(
            "Accepted publickey for deploy from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:abc",
            "ssh_login",
            "success",
            Some("2001:db8::7"),
            Some(50022),
            Some("deploy"),
        );
        check(
            "Failed password for root from 183.62.140.253 port 53236 ssh2",
            "ssh_login",
            "failure",
            Some("183.62.140.253"),
            Some(53236),
            Some("root"),
        );
        check(
            "Failed password for invalid user webmaster from 173.234.31.186 port 39257 ssh2",
            "ssh_login",
            "failure",
            Some("173.234.31.186"),
            Some(39257),
            Some("webmaster"),
        );
        check(
            "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
            "ssh_login",
            "failure",
            Some("5.36.59.76"),
            Some(42393),
            Some("root"),
        );
    }

    #[test]
    fn invalid_users_and_preauth() {
        // sshd writes the name the client sent, spaces included.
        check(
            "Invalid user  0101 from 5.188.10.180",
            "invalid_user",
            "failure",
            Some("5.188.10.180"),
            None,
            Some(" 0101"),
        );
        check(
            "Invalid user admin from 52.80.34.196",
            "invalid_user",
            "failure",
            Some("52.80.34.196"),
            None,
            Some("admin"),
        );
        check(
            "Invalid user pi from 10.1.1.1 port 4242",
            "invalid_user",
            "failure",
            Some("10.1.1.1"),
            Some(4242),
            Some("pi"),
        );
        check(
            "input_userauth_request: invalid user test9 [preauth]",
            "invalid_user",
            "failure",
            None,
            None,
            Some("test9"),
        );
        check(
            "Connection closed by 212.47.254.145 [preauth]",
            "connection_closed",
            "unknown",
            Some("212.47.254.145"),
            None,
            None,
        );
        check(
            "Connection closed by authenticating user root 10.0.0.5 port 40022 [preauth]",
            "connection_closed",
            "unknown",
            Some("10.0.0.5"),
            Some(40022),
            Some("root"),
        );
        check(
            "Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]",
            "disconnected",
            "unknown",
            Some("139.59.209.18"),
            None,
            None,
        );
        check("error: Received disconnect from 103.99.0.122: 14: No more user authentication methods available. [preauth]", "disconnected", "unknown", Some("103.99.0.122"), None, None);
        check(
            "Received disconnect from 10.0.0.5 port 40022:11: disconnected by user",
            "disconnected",
            "unknown",
            Some("10.0.0.5"),
            Some(40022),
            None,
        );
        check(
            "Disconnected from user bob 10.0.0.5 port 40022",
            "disconnected",
            "unknown",
            Some("10.0.0.5"),
            Some(40022),
            Some("bob"),
        );
        check(
            "Did not receive identification string from 123.235.32.19",
            "no_identification_string",
            "unknown",
            Some("123.235.32.19"),
            None,
            None,
        );
        check(
            "Disconnecting: Too many authentication failures for admin [preauth]",
            "max_auth_attempts_exceeded",
            "failure",
            None,
            None,
            Some("admin"),
        );
        check("error: maximum authentication attempts exceeded for invalid user oracle from 10.9.8.7 port 5555 ssh2 [preauth]", "max_auth_attempts_exceeded", "failure", Some("10.9.8.7"), Some(5555), Some("oracle"));
        check("PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root", "authentication_failure", "failure", Some("112.95.230.3"), None, Some("root"));
    }

    #[test]
    fn reverse_mapping() {
        let msg = "reverse mapping checking getaddrinfo for 195-154-37-122.rev.poneytelecom.eu [195.154.37.122] failed - POSSIBLE BREAK-IN ATTEMPT!";
        check(
            msg,
            "possible_break_in_attempt",
            "unknown",
            Some("195.154.37.122"),
            None,
            None,
        );
        assert_eq!(
            ev("sshd", msg).source_domain.as_deref(),
            Some("195-154-37-122.rev.poneytelecom.eu")
        );
    }

    #[test]
    fn malformed_or_truncated_lines_set_nothing() {
        for msg in [
            "",
            "Failed password for root from",
            "Failed password for root from 183.62.",
            "Failed password for root from not-an-ip port 22 ssh2",
            "Accepted password for",
            "Invalid user admin from ",
            "Connection closed by",
            "Connection closed by authenticating user",
            "Received disconnect from ",
            "reverse mapping checking getaddrinfo for host [1.2.3.4",
            "Failed password for root from 1.2.3.4 port 99999999 ssh2x",
            "PAM 2 more",
            "message repeated 3 times: [ ",
            "fatal: Write failed: Connection reset by peer [preauth]",
            "Server listening on 0.0.0.0 port 22.",
            "é Failed ü for ",
        ] {
            let e = ev("sshd", msg);
            let ok = untouched(&e) || (msg.contains("99999999") && e.source_port.is_none());
            assert!(ok, "{msg:?} -> {e:?}");
        }
    }
}
