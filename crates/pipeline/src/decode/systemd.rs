//! systemd unit life cycle: starting, started, stopping, stopped, reloading, failed.
//! `systemd.unit` only when the line names the unit (`nginx.service`); older systemd writes
//! only the description (`Started The nginx HTTP server.`), which gets the action alone.

use loglynx_core::Event;

use super::{set_event, split_str, FAILURE, SUCCESS};

const UNIT_SUFFIXES: [&str; 10] = [
    ".service", ".socket", ".timer", ".mount", ".target", ".path", ".scope", ".slice", ".device",
    ".swap",
];

pub(super) fn decode(msg: &str, ev: &mut Event) {
    let msg = msg.trim_end();
    let (action, outcome, unit_text) = if let Some(r) = msg.strip_prefix("Starting ") {
        ("unit_starting", None, r)
    } else if let Some(r) = msg.strip_prefix("Started ") {
        ("unit_started", Some(SUCCESS), r)
    } else if let Some(r) = msg.strip_prefix("Stopping ") {
        ("unit_stopping", None, r)
    } else if let Some(r) = msg.strip_prefix("Stopped ") {
        ("unit_stopped", Some(SUCCESS), r)
    } else if let Some(r) = msg.strip_prefix("Reloading ") {
        ("unit_reloading", None, r)
    } else if let Some(r) = msg.strip_prefix("Reloaded ") {
        ("unit_reloaded", Some(SUCCESS), r)
    } else if let Some(r) = msg.strip_prefix("Failed to start ") {
        ("unit_failed", Some(FAILURE), r)
    } else if let Some((unit, r)) = split_str(msg, ": ") {
        // `nginx.service: Failed with result 'exit-code'.`, `x.service: Deactivated successfully.`
        if !is_unit(unit) {
            return;
        }
        if r.starts_with("Failed with result") {
            ("unit_failed", Some(FAILURE), unit)
        } else if r.starts_with("Deactivated successfully") {
            ("unit_stopped", Some(SUCCESS), unit)
        } else {
            return;
        }
    } else {
        return;
    };
    if unit_text.is_empty() {
        return;
    }
    // `nginx.service - A high performance web server...` / `nginx.service...`
    let first = unit_text.split(' ').next().unwrap_or("");
    let first = first.trim_end_matches("...").trim_end_matches(['.', ':']);
    if is_unit(first) {
        ev.systemd_unit = Some(first.to_string());
    }
    set_event(ev, action, outcome, "process");
}

fn is_unit(s: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|suf| s.len() > suf.len() && s.ends_with(suf))
        && !s
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    #[test]
    fn unit_life_cycle() {
        for (msg, action, unit) in [
            ("Starting nginx.service - A high performance web server and a reverse proxy server...", "unit_starting", Some("nginx.service")),
            ("Started nginx.service - A high performance web server and a reverse proxy server.", "unit_started", Some("nginx.service")),
            ("Stopping ssh.service...", "unit_stopping", Some("ssh.service")),
            ("Stopped ssh.service.", "unit_stopped", Some("ssh.service")),
            ("Failed to start postgresql@15-main.service - PostgreSQL Cluster 15-main.", "unit_failed", Some("postgresql@15-main.service")),
            ("nginx.service: Failed with result 'exit-code'.", "unit_failed", Some("nginx.service")),
            ("apt-daily.timer: Deactivated successfully.", "unit_stopped", Some("apt-daily.timer")),
            ("Started Session 4 of user root.", "unit_started", None),
            ("Started The nginx HTTP and reverse proxy server.", "unit_started", None),
        ] {
            let e = ev("systemd", msg);
            assert_eq!(e.action.as_deref(), Some(action), "{msg}");
            assert_eq!(e.systemd_unit.as_deref(), unit, "{msg}");
        }
        assert_eq!(
            ev("systemd", "nginx.service: Failed with result 'exit-code'.")
                .outcome
                .as_deref(),
            Some("failure")
        );
    }

    #[test]
    fn malformed_lines_set_nothing() {
        for msg in [
            "",
            "Started ",
            "Starting",
            "nginx.service: Main process exited, code=exited, status=1/FAILURE",
            "foo: Failed with result 'x'",
            "Reached target Multi-User System x: y",
        ] {
            assert!(untouched(&ev("systemd", msg)), "{msg:?}");
        }
    }
}
