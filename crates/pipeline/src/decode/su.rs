//! su: who became whom, and whether it worked (`user.name` the caller, `user.effective.name`
//! the target). Shapes of shadow-utils, util-linux and BSD su.

use loglynx_core::Event;

use super::{name, set_event, split_str, FAILURE, SUCCESS};

pub(super) fn decode(msg: &str, ev: &mut Event) {
    let msg = msg.trim_end();
    let (caller, target, outcome) = if let Some(rest) = msg.strip_prefix("'su ") {
        // `'su root' failed for lonvick on /dev/pts/8`
        let Some((target, rest)) = split_str(rest, "' failed for ") else {
            return;
        };
        let caller = split_str(rest, " on ").map_or(rest, |(c, _)| c);
        (caller, target, FAILURE)
    } else if let Some(rest) = msg.strip_prefix("Successful su for ") {
        // `Successful su for root by alice`
        let Some((target, caller)) = split_str(rest, " by ") else {
            return;
        };
        (caller, target, SUCCESS)
    } else if let Some(rest) = msg.strip_prefix("FAILED su for ") {
        let Some((target, caller)) = split_str(rest, " by ") else {
            return;
        };
        (caller, target, FAILURE)
    } else if let Some(rest) = msg
        .strip_prefix("(to ")
        .map(|r| (r, SUCCESS))
        .or_else(|| msg.strip_prefix("FAILED SU (to ").map(|r| (r, FAILURE)))
    {
        // util-linux: `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`
        let (rest, outcome) = rest;
        let Some((target, rest)) = split_str(rest, ") ") else {
            return;
        };
        let caller = split_str(rest, " on ").map_or(rest, |(c, _)| c);
        (caller, target, outcome)
    } else if let Some(rest) = msg
        .strip_prefix("+ ")
        .map(|r| (r, SUCCESS))
        .or_else(|| msg.strip_prefix("- ").map(|r| (r, FAILURE)))
    {
        // shadow-utils syslog: `+ /dev/pts/0 alice:root`
        let (rest, outcome) = rest;
        let Some((_tty, pair)) = rest.split_once(' ') else {
            return;
        };
        let Some((caller, target)) = pair.split_once(':') else {
            return;
        };
        (caller, target, outcome)
    } else {
        return;
    };
    let (Some(caller), Some(target)) = (name(caller), name(target)) else {
        return;
    };
    ev.user_name = Some(caller);
    ev.user_effective_name = Some(target);
    set_event(ev, "su", Some(outcome), "authentication");
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    #[test]
    fn su_shapes() {
        for (msg, caller, target, outcome) in [
            (
                "'su root' failed for lonvick on /dev/pts/8",
                "lonvick",
                "root",
                "failure",
            ),
            (
                "Successful su for root by alice",
                "alice",
                "root",
                "success",
            ),
            (
                "FAILED su for postgres by bob",
                "bob",
                "postgres",
                "failure",
            ),
            ("(to root) alice on pts/0", "alice", "root", "success"),
            (
                "FAILED SU (to root) mallory on pts/3",
                "mallory",
                "root",
                "failure",
            ),
            ("+ /dev/pts/0 alice:root", "alice", "root", "success"),
            ("- /dev/pts/1 eve:root", "eve", "root", "failure"),
        ] {
            let e = ev("su", msg);
            assert_eq!(e.user_name.as_deref(), Some(caller), "{msg}");
            assert_eq!(e.user_effective_name.as_deref(), Some(target), "{msg}");
            assert_eq!(e.outcome.as_deref(), Some(outcome), "{msg}");
            assert_eq!(e.action.as_deref(), Some("su"), "{msg}");
        }
    }

    #[test]
    fn malformed_lines_set_nothing() {
        for msg in [
            "",
            "'su root",
            "'su root' failed for ",
            "Successful su for root",
            "(to root)",
            "+ ",
            "+ /dev/pts/0 alice",
            "- x",
            "pam_authenticate: Authentication failure",
        ] {
            assert!(untouched(&ev("su", msg)), "{msg:?}");
        }
    }
}
