//! pam_unix: authentication failures (`rhost` -> `source.ip` or `source.domain`, `user` ->
//! `user.name`), sessions opened and closed, passwords changed. The messages come as
//! `pam_unix(SERVICE:TYPE): MSG` in any program's log, or bare under a `PROGRAM(pam_unix)` tag.

use loglynx_core::Event;

use super::{name, rfind, set_event, set_source_host, split_str, FAILURE, SUCCESS};

/// `pam_unix(sshd:auth): MSG` -> `MSG`; other text unchanged.
pub(super) fn strip_prefix(msg: &str) -> &str {
    msg.strip_prefix("pam_unix(")
        .and_then(|r| split_str(r, "): "))
        .map_or(msg, |(_, m)| m)
}

pub(super) fn decode(msg: &str, ev: &mut Event) {
    if let Some(kv) = msg.strip_prefix("authentication failure; ") {
        auth_failure(kv, ev);
    } else if let Some(rest) = msg.strip_prefix("session opened for user ") {
        // `NAME by LOGIN(uid=0)`, `NAME by (uid=0)`, `NAME(uid=1000) by (uid=0)`
        if let Some((user, _)) = split_str(rest, " by ") {
            session(user, "session_opened", ev);
        }
    } else if let Some(user) = msg.strip_prefix("session closed for user ") {
        session(user, "session_closed", ev);
    } else if let Some(user) = msg.strip_prefix("password changed for ") {
        if let Some(u) = name(user.trim_end()) {
            ev.user_target_name = Some(u);
            set_event(ev, "password_changed", Some(SUCCESS), "iam");
        }
    }
}

fn session(user: &str, action: &'static str, ev: &mut Event) {
    let user = user.trim_end();
    let user = split_str(user, "(uid=").map_or(user, |(u, _)| u);
    if let Some(u) = name(user) {
        ev.user_name = Some(u);
        set_event(ev, action, Some(SUCCESS), "session");
    }
}

/// `logname= uid=0 euid=0 tty=ssh ruser= rhost=ADDR  user=NAME` (space-separated, values may
/// be empty). The two keys are looked up directly rather than by splitting every pair: this
/// is the commonest line of an exposed host's auth log.
pub(super) fn auth_failure(kv: &str, ev: &mut Event) {
    if let Some(host) = value_of(kv, "rhost=") {
        if !host.is_empty() {
            set_source_host(ev, host);
        }
    }
    if let Some(user) = value_of(kv, "user=") {
        ev.user_name = name(user);
    }
    set_event(ev, "authentication_failure", Some(FAILURE), "authentication");
}

/// The value of `key` (which ends with `=` and holds no other `=`, so two matches never
/// overlap) at the start of `kv` or after a space, up to the next space. Searched from the end:
/// `rhost=` and `user=` are the last pairs of the line.
fn value_of<'a>(kv: &'a str, key: &str) -> Option<&'a str> {
    let mut end = kv.len();
    loop {
        let at = rfind(kv.get(..end)?, key)?;
        // `ruser=` holds `user=`: take only a match at the start or after a space.
        if at == 0 || kv.as_bytes().get(at - 1) == Some(&b' ') {
            let rest = kv.get(at + key.len()..)?;
            return Some(rest.split_once(' ').map_or(rest, |(v, _)| v));
        }
        end = at;
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    #[test]
    fn auth_failures_with_address_or_host_name() {
        let e = ev("sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root");
        assert_eq!(e.action.as_deref(), Some("authentication_failure"));
        assert_eq!(e.outcome.as_deref(), Some("failure"));
        assert_eq!(e.category.as_deref(), Some("authentication"));
        assert_eq!(e.source_ip.as_deref(), Some("218.188.2.4"));
        assert_eq!(e.user_name.as_deref(), Some("root"));

        let e = ev("sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=n219076184117.netvigator.com ");
        assert_eq!(e.source_ip, None);
        assert_eq!(
            e.source_domain.as_deref(),
            Some("n219076184117.netvigator.com")
        );
        assert_eq!(e.user_name, None);

        let e = ev("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root");
        assert_eq!(e.source_ip.as_deref(), Some("112.95.230.3"));
        assert_eq!(e.user_name.as_deref(), Some("root"));

        let e = ev("sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice");
        assert_eq!(e.source_ip, None);
        assert_eq!(e.source_domain, None);
        assert_eq!(e.user_name.as_deref(), Some("alice"));
    }

    #[test]
    fn sessions_and_passwords() {
        let e = ev("su(pam_unix)", "session opened for user news by (uid=0)");
        assert_eq!(
            (e.action.as_deref(), e.user_name.as_deref()),
            (Some("session_opened"), Some("news"))
        );
        assert_eq!(e.category.as_deref(), Some("session"));
        let e = ev(
            "login(pam_unix)",
            "session opened for user root by LOGIN(uid=0)",
        );
        assert_eq!(e.user_name.as_deref(), Some("root"));
        let e = ev(
            "sshd",
            "pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)",
        );
        assert_eq!(e.user_name.as_deref(), Some("bob"));
        let e = ev("su(pam_unix)", "session closed for user cyrus");
        assert_eq!(
            (e.action.as_deref(), e.user_name.as_deref()),
            (Some("session_closed"), Some("cyrus"))
        );
        let e = ev(
            "passwd",
            "pam_unix(passwd:chauthtok): password changed for bob",
        );
        assert_eq!(
            (e.action.as_deref(), e.user_target_name.as_deref()),
            (Some("password_changed"), Some("bob"))
        );
        assert_eq!(e.user_name, None);
    }

    #[test]
    fn keys_are_matched_whole() {
        use super::value_of;
        let kv = "logname= uid=0 euid=0 tty=ssh ruser=eve rhost=10.1.2.3  user=root";
        assert_eq!(value_of(kv, "user="), Some("root"));
        assert_eq!(value_of(kv, "ruser="), Some("eve"));
        assert_eq!(value_of(kv, "rhost="), Some("10.1.2.3"));
        assert_eq!(value_of("ruser=eve rhost=", "user="), None);
        assert_eq!(value_of("ruser=eve rhost=", "rhost="), Some(""));
        assert_eq!(value_of("user=bob", "user="), Some("bob"));
    }

    #[test]
    fn malformed_lines_set_nothing() {
        for msg in [
            "",
            "session opened for user ",
            "session opened for user bob",
            "check pass; user unknown",
            "pam_unix(sshd:auth",
            "password changed for ",
        ] {
            assert!(untouched(&ev("sshd(pam_unix)", msg)), "{msg:?}");
        }
    }
}
