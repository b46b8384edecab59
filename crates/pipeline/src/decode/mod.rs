//! Decode: after parsing, extract ECS fields from the messages of the services people alert
//! on (who logged in from where, who ran what as whom, which packet the firewall dropped).
//!
//! [`decode`] dispatches on `process.name` (the syslog tag) with a string comparison, so the
//! lines of other programs pay one `match` and one prefix check. One module per service:
//!
//! | module | programs | `event.action` |
//! |---|---|---|
//! | `sshd` | `sshd` | `ssh_login`, `invalid_user`, `connection_closed`, `disconnected`, `max_auth_attempts_exceeded`, `no_identification_string`, `possible_break_in_attempt`, `authentication_failure` |
//! | `pam` | any `X(pam_unix)` tag, any message starting `pam_unix(` | `authentication_failure`, `session_opened`, `session_closed`, `password_changed` |
//! | `sudo` | `sudo` | `sudo_command`, `sudo_incorrect_password`, `sudo_not_in_sudoers`, `sudo_command_not_allowed`, `sudo_denied` |
//! | `su` | `su` | `su` |
//! | `accounts` | `useradd`, `usermod`, `userdel`, `groupadd`, `groupmod`, `groupdel`, `passwd`, `gpasswd`, `chpasswd` | `user_added`, `user_deleted`, `group_added`, `group_deleted`, `user_added_to_group`, `user_removed_from_group`, `password_changed`, `user_locked`, `user_unlocked`, `user_changed` |
//! | `cron` | `CRON`, `cron`, `crond` | `cron_command` |
//! | `systemd` | `systemd` | `unit_starting`, `unit_started`, `unit_stopping`, `unit_stopped`, `unit_reloading`, `unit_reloaded`, `unit_failed` |
//! | `firewall` | `kernel` (UFW and iptables `LOG` lines) | `firewall_block`, `firewall_allow`, `firewall_audit`, `firewall_limit`, `firewall_log` |
//! | `access` | `event.dataset: apache.access` | (moves the access-log labels to the typed `http.*`, `url.original`, `user_agent.original` fields) |
//!
//! A field is set only when the line clearly holds it: addresses must parse as IP addresses
//! (a host name goes to `source.domain`), ports as numbers; a truncated or unknown shape sets
//! nothing.

mod access;
mod accounts;
mod cron;
mod firewall;
mod pam;
mod sshd;
mod su;
mod sudo;
mod systemd;

use std::borrow::Cow;
use std::net::IpAddr;

use loglynx_core::Event;

/// `event.outcome` values.
pub(crate) const SUCCESS: &str = "success";
pub(crate) const FAILURE: &str = "failure";
pub(crate) const UNKNOWN: &str = "unknown";

/// Decodes one parsed event in place. Never panics; sets nothing when the message is not one
/// of the known shapes.
pub fn decode(ev: &mut Event) {
    if ev.dataset.as_deref() == Some("apache.access") {
        access::decode(ev);
        return;
    }
    let Some(program) = ev.process_name.as_deref() else {
        return;
    };
    let (base, pam_tag) = match program.strip_suffix("(pam_unix)") {
        Some(b) => (b, true),
        None => (program, false),
    };
    let service = if pam_tag {
        Service::Pam
    } else if let Some(s) = service_of(base) {
        s
    } else if ev.message.starts_with("pam_unix(") {
        Service::Pam
    } else {
        return;
    };
    let msg = std::mem::take(&mut ev.message);
    let text = msg.as_str();
    match service {
        Service::Pam => pam::decode(pam::strip_prefix(text), ev),
        _ if text.starts_with("pam_unix(") => pam::decode(pam::strip_prefix(text), ev),
        Service::Sshd => sshd::decode(text, ev),
        Service::Sudo => sudo::decode(text, ev),
        Service::Su => su::decode(text, ev),
        Service::Accounts => accounts::decode(text, ev),
        Service::Cron => cron::decode(text, ev),
        Service::Systemd => systemd::decode(text, ev),
        Service::Kernel => firewall::decode(text, ev),
    }
    ev.message = msg;
}

#[derive(Debug, Clone, Copy)]
enum Service {
    Sshd,
    Pam,
    Sudo,
    Su,
    Accounts,
    Cron,
    Systemd,
    Kernel,
}

fn service_of(program: &str) -> Option<Service> {
    Some(match program {
        "sshd" => Service::Sshd,
        "sudo" => Service::Sudo,
        "su" => Service::Su,
        "useradd" | "usermod" | "userdel" | "groupadd" | "groupmod" | "groupdel" | "passwd"
        | "gpasswd" | "chpasswd" => Service::Accounts,
        "CRON" | "cron" | "crond" => Service::Cron,
        "systemd" => Service::Systemd,
        "kernel" => Service::Kernel,
        _ => return None,
    })
}

/// Sets `event.action`, `event.outcome` (when known) and `event.category`.
pub(crate) fn set_event(
    ev: &mut Event,
    action: &'static str,
    outcome: Option<&'static str>,
    category: &'static str,
) {
    ev.action = Some(Cow::Borrowed(action));
    ev.outcome = outcome.map(Cow::Borrowed);
    ev.category = Some(Cow::Borrowed(category));
}

/// `Some` for a non-empty name without spaces or control characters.
pub(crate) fn name(s: &str) -> Option<String> {
    (!s.is_empty()
        && !s
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control()))
    .then(|| s.to_string())
}

/// `Some` for a non-empty name without control characters: for names the line bounds on both
/// sides (`Invalid user NAME from`), where sshd writes what the client sent, spaces included.
pub(crate) fn bounded_name(s: &str) -> Option<String> {
    (!s.is_empty() && !s.bytes().any(|b| b.is_ascii_control())).then(|| s.to_string())
}

/// `source.ip` when `s` is an IP address, else `source.domain` when it looks like a host name;
/// `false` when it is neither (nothing set).
pub(crate) fn set_source_host(ev: &mut Event, s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        ev.source_ip = Some(s.to_string());
        true
    } else if !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        ev.source_domain = Some(s.to_string());
        true
    } else {
        false
    }
}

/// `ADDR[ port N]` at the start of `s`: the address (which must parse as an IP), the port when
/// present, and what follows. `None` when `s` does not start with an IP address.
pub(crate) fn addr_port(s: &str) -> Option<(&str, Option<u16>, &str)> {
    let (ip, rest) = s.split_once(' ').unwrap_or((s, ""));
    ip.parse::<IpAddr>().ok()?;
    if let Some(p) = rest.strip_prefix("port ") {
        let end = p
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(p.len());
        if let Ok(port) = p[..end].parse::<u16>() {
            return Some((ip, Some(port), p[end..].trim_start()));
        }
    }
    Some((ip, None, rest))
}

/// Sets `source.ip` and `source.port` from [`addr_port`]; `false` when there is no address.
pub(crate) fn set_addr_port(ev: &mut Event, s: &str) -> bool {
    match addr_port(s) {
        Some((ip, port, _)) => {
            ev.source_ip = Some(ip.to_string());
            ev.source_port = port;
            true
        }
        None => false,
    }
}

/// The first occurrence of `needle` in `hay`: memchr on its first byte, then a comparison.
/// The decoders' needles are short and their lines too, where `str::find`'s two-way searcher
/// spends more on its set-up than on the search.
pub(crate) fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let first = *n.first()?;
    let mut from = 0;
    while let Some(p) = memchr::memchr(first, h.get(from..)?) {
        let at = from + p;
        if h[at..].starts_with(n) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The last occurrence of `needle` in `hay` (see [`find`]).
pub(crate) fn rfind(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let first = *n.first()?;
    let mut end = h.len();
    while let Some(at) = memchr::memrchr(first, &h[..end]) {
        if h[at..].starts_with(n) {
            return Some(at);
        }
        end = at;
    }
    None
}

/// `str::split_once` with a string pattern, through [`find`].
pub(crate) fn split_str<'a>(s: &'a str, pat: &str) -> Option<(&'a str, &'a str)> {
    let at = find(s, pat)?;
    Some((s.get(..at)?, s.get(at + pat.len()..)?))
}

/// `str::rsplit_once` with a string pattern, through [`rfind`].
pub(crate) fn rsplit_str<'a>(s: &'a str, pat: &str) -> Option<(&'a str, &'a str)> {
    let at = rfind(s, pat)?;
    Some((s.get(..at)?, s.get(at + pat.len()..)?))
}

/// The text between the first pair of single quotes and what follows it.
pub(crate) fn quoted(s: &str) -> Option<(&str, &str)> {
    let (_, rest) = s.split_once('\'')?;
    rest.split_once('\'')
}

#[cfg(test)]
pub(crate) mod test_util {
    use loglynx_core::Event;

    /// An event as the parser leaves it: program and message.
    pub(crate) fn ev(program: &str, message: &str) -> Event {
        let mut e = Event {
            process_name: Some(program.to_string()),
            message: message.to_string(),
            ..Event::default()
        };
        super::decode(&mut e);
        e
    }

    /// `true` when the decoder set none of its fields.
    pub(crate) fn untouched(e: &Event) -> bool {
        e.action.is_none()
            && e.outcome.is_none()
            && e.category.is_none()
            && e.source_ip.is_none()
            && e.source_port.is_none()
            && e.source_domain.is_none()
            && e.user_name.is_none()
            && e.user_effective_name.is_none()
            && e.user_target_name.is_none()
            && e.group_name.is_none()
            && e.command_line.is_none()
            && e.systemd_unit.is_none()
            && e.destination_ip.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{ev, untouched};

    #[test]
    fn string_search_helpers_agree_with_std() {
        use super::{find, rfind, rsplit_str, split_str};
        for (hay, needle) in [
            ("Failed password for root from 1.2.3.4 port 22", " from "),
            ("a from b from c", " from "),
            ("ééé from ü from", " from "),
            ("from", " from "),
            ("", "x"),
            ("aaab", "aab"),
            ("ab", ""),
        ] {
            if needle.is_empty() {
                assert_eq!(find(hay, needle), None);
                continue;
            }
            assert_eq!(find(hay, needle), hay.find(needle), "{hay:?} {needle:?}");
            assert_eq!(rfind(hay, needle), hay.rfind(needle), "{hay:?} {needle:?}");
            assert_eq!(split_str(hay, needle), hay.split_once(needle));
            assert_eq!(rsplit_str(hay, needle), hay.rsplit_once(needle));
        }
    }

    #[test]
    fn other_programs_are_left_alone() {
        let e = ev(
            "nginx",
            "Failed password for root from 1.2.3.4 port 22 ssh2",
        );
        assert!(untouched(&e));
        assert_eq!(
            e.message,
            "Failed password for root from 1.2.3.4 port 22 ssh2"
        );
    }

    #[test]
    fn pam_unix_messages_of_any_program_are_decoded() {
        let e = ev("vsftpd", "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=bob rhost=10.0.0.9  user=bob");
        assert_eq!(e.action.as_deref(), Some("authentication_failure"));
        assert_eq!(e.source_ip.as_deref(), Some("10.0.0.9"));
        assert_eq!(e.user_name.as_deref(), Some("bob"));
    }
}
