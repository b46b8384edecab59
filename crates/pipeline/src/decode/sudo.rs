//! sudo: `CALLER : [REASON ; ]TTY=.. ; PWD=.. ; USER=TARGET ; COMMAND=CMD`. A line with a
//! reason (`3 incorrect password attempts`, `user NOT in sudoers`, `command not allowed`) is a
//! failure; without one, the command ran.

use loglynx_core::Event;

use super::{find, name, set_event, split_str, FAILURE, SUCCESS};

pub(super) fn decode(msg: &str, ev: &mut Event) {
    let Some((caller, rest)) = split_str(msg.trim_start(), " : ") else {
        return;
    };
    let Some(caller) = name(caller.trim_end()) else {
        return;
    };
    let (head, command) = match split_str(rest, "COMMAND=") {
        Some((h, c)) => (h, Some(c.trim_end())),
        None => (rest, None),
    };
    let mut target = None;
    let mut reason = None;
    for item in head.split(" ; ") {
        let item = item.trim();
        if let Some(u) = item.strip_prefix("USER=") {
            target = name(u);
        } else if !item.is_empty() && !item.contains('=') && reason.is_none() {
            reason = Some(item);
        }
    }
    if command.is_none() && target.is_none() {
        return;
    }
    let (action, outcome, category) = match reason {
        None => ("sudo_command", SUCCESS, "process"),
        Some(r) if find(r, "incorrect password attempt").is_some() => {
            ("sudo_incorrect_password", FAILURE, "authentication")
        }
        Some(r) if find(r, "NOT in sudoers").is_some() => {
            ("sudo_not_in_sudoers", FAILURE, "authentication")
        }
        Some(r) if find(r, "command not allowed").is_some() => {
            ("sudo_command_not_allowed", FAILURE, "authentication")
        }
        Some(_) => ("sudo_denied", FAILURE, "authentication"),
    };
    ev.user_name = Some(caller);
    ev.user_effective_name = target;
    ev.command_line = command.filter(|c| !c.is_empty()).map(str::to_string);
    set_event(ev, action, Some(outcome), category);
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    #[test]
    fn commands_and_failures() {
        let e = ev("sudo", "    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt install -y nginx ; echo");
        assert_eq!(e.user_name.as_deref(), Some("alice"));
        assert_eq!(e.user_effective_name.as_deref(), Some("root"));
        assert_eq!(
            e.command_line.as_deref(),
            Some("/usr/bin/apt install -y nginx ; echo")
        );
        assert_eq!(
            (e.action.as_deref(), e.outcome.as_deref()),
            (Some("sudo_command"), Some("success"))
        );

        let e = ev("sudo", "bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/cat /etc/shadow");
        assert_eq!(
            (e.action.as_deref(), e.outcome.as_deref()),
            (Some("sudo_incorrect_password"), Some("failure"))
        );
        assert_eq!(e.category.as_deref(), Some("authentication"));
        assert_eq!(e.user_name.as_deref(), Some("bob"));
        assert_eq!(e.command_line.as_deref(), Some("/bin/cat /etc/shadow"));

        let e = ev(
            "sudo",
            "eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/eve ; USER=root ; COMMAND=/bin/bash",
        );
        assert_eq!(
            (e.action.as_deref(), e.user_effective_name.as_deref()),
            (Some("sudo_not_in_sudoers"), Some("root"))
        );

        let e = ev("sudo", "carol : command not allowed ; TTY=pts/0 ; PWD=/ ; USER=postgres ; COMMAND=/usr/bin/psql");
        assert_eq!(e.action.as_deref(), Some("sudo_command_not_allowed"));
    }

    #[test]
    fn malformed_lines_set_nothing() {
        for msg in [
            "",
            "alice :",
            "alice : TTY=pts/0 ; PWD=/",
            "pam_unix(sudo:session): session closed for user root x",
            "two words : USER=root ; COMMAND=/bin/ls",
            " : USER=root",
        ] {
            let e = ev("sudo", msg);
            assert!(untouched(&e), "{msg:?} -> {e:?}");
        }
    }
}
