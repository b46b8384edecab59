//! cron: `(USER) CMD (COMMAND)` -> `user.name`, `process.command_line`.

use loglynx_core::Event;

use super::{name, set_event, split_str};

pub(super) fn decode(msg: &str, ev: &mut Event) {
    let Some(rest) = msg.strip_prefix('(') else {
        return;
    };
    let Some((user, rest)) = split_str(rest, ") CMD (") else {
        return;
    };
    // The command may hold parentheses itself: it ends at the last `)`.
    let Some(end) = rest.rfind(')') else { return };
    let Some(user) = name(user) else { return };
    let command = rest[..end].trim();
    if command.is_empty() {
        return;
    }
    ev.user_name = Some(user);
    ev.command_line = Some(command.to_string());
    set_event(ev, "cron_command", None, "process");
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    #[test]
    fn cron_commands() {
        let e = ev(
            "CRON",
            "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
        );
        assert_eq!(e.user_name.as_deref(), Some("root"));
        assert_eq!(
            e.command_line.as_deref(),
            Some("cd / && run-parts --report /etc/cron.hourly")
        );
        assert_eq!(e.action.as_deref(), Some("cron_command"));
        assert_eq!(e.outcome, None);
        let e = ev(
            "crond",
            "(www-data) CMD ([ -x /usr/lib/php/sessionclean ] && if (true); then echo ok; fi)",
        );
        assert_eq!(
            e.command_line.as_deref(),
            Some("[ -x /usr/lib/php/sessionclean ] && if (true); then echo ok; fi")
        );
    }

    #[test]
    fn malformed_lines_set_nothing() {
        for msg in [
            "",
            "(root) CMD (",
            "(root) CMD ()",
            "(root CMD (ls)",
            "(CRON) info (No MTA installed, discarding output)",
            "(a b) CMD (ls)",
        ] {
            assert!(untouched(&ev("CRON", msg)), "{msg:?}");
        }
    }
}
