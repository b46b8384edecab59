//! Account management (shadow-utils `useradd`, `usermod`, `userdel`, `groupadd`, `groupmod`,
//! `groupdel`, `passwd`, `gpasswd`, `chpasswd`): `user.target.name` the account acted on,
//! `group.name`, `event.category: iam`.

use loglynx_core::Event;

use super::{name, quoted, set_event, split_str, SUCCESS};

pub(super) fn decode(msg: &str, ev: &mut Event) {
    let msg = msg.trim_end();
    let mut target = None;
    let mut group = None;
    let mut actor = None;
    let action = if let Some(rest) = msg.strip_prefix("new user: ") {
        target = kv(rest, "name");
        "user_added"
    } else if let Some(rest) = msg.strip_prefix("new group: ").or_else(|| {
        msg.strip_prefix("group added to ")
            .and_then(|r| split_str(r, ": ").map(|(_, r)| r))
    }) {
        group = kv(rest, "name");
        "group_added"
    } else if let Some(rest) = msg.strip_prefix("add ") {
        // `add 'bob' to group 'sudo'`, `add 'bob' to shadow group 'sudo'`
        let Some((user, rest)) = quoted(rest) else {
            return;
        };
        if !(rest.starts_with(" to group ") || rest.starts_with(" to shadow group ")) {
            return;
        }
        target = name(user);
        group = quoted(rest).and_then(|(g, _)| name(g));
        "user_added_to_group"
    } else if let Some(rest) = msg.strip_prefix("delete user ") {
        target = quoted(rest).and_then(|(u, _)| name(u));
        "user_deleted"
    } else if let Some(rest) = msg.strip_prefix("delete ") {
        // `delete 'bob' from group 'sudo'`
        let Some((user, rest)) = quoted(rest) else {
            return;
        };
        if !(rest.starts_with(" from group ") || rest.starts_with(" from shadow group ")) {
            return;
        }
        target = name(user);
        group = quoted(rest).and_then(|(g, _)| name(g));
        "user_removed_from_group"
    } else if let Some(rest) = msg
        .strip_prefix("removed group ")
        .or_else(|| msg.strip_prefix("removed shadow group "))
    {
        group = quoted(rest).and_then(|(g, _)| name(g));
        "group_deleted"
    } else if let Some(rest) = msg.strip_prefix("group ") {
        // groupdel: `group 'devs' removed[ from /etc/group]`
        let Some((g, rest)) = quoted(rest) else {
            return;
        };
        if !rest.starts_with(" removed") {
            return;
        }
        group = name(g);
        "group_deleted"
    } else if let Some(rest) = msg.strip_prefix("user ") {
        // gpasswd: `user bob added by root to group sudo`, `user bob removed by root from group sudo`
        let Some((user, rest)) = rest.split_once(' ') else {
            return;
        };
        let (action, rest) = if let Some(r) = rest.strip_prefix("added by ") {
            ("user_added_to_group", split_str(r, " to group "))
        } else if let Some(r) = rest.strip_prefix("removed by ") {
            ("user_removed_from_group", split_str(r, " from group "))
        } else {
            return;
        };
        let Some((by, g)) = rest else { return };
        target = name(user);
        actor = name(by);
        group = name(g);
        action
    } else if let Some(rest) = msg.strip_prefix("change user ") {
        // usermod: `change user 'bob' password`, `change user 'bob' shell from '/bin/sh' to '/bin/bash'`
        let Some((user, rest)) = quoted(rest) else {
            return;
        };
        target = name(user);
        if rest == " password" {
            "password_changed"
        } else {
            "user_changed"
        }
    } else if let Some(rest) = msg.strip_prefix("lock user ") {
        target = quoted(rest).and_then(|(u, _)| name(u));
        "user_locked"
    } else if let Some(rest) = msg.strip_prefix("unlock user ") {
        target = quoted(rest).and_then(|(u, _)| name(u));
        "user_unlocked"
    } else if let Some(rest) = msg
        .strip_prefix("password for ")
        .or_else(|| msg.strip_prefix("password for '"))
    {
        // passwd: `password for 'bob' changed by 'root'`
        let rest = rest.trim_start_matches('\'');
        let Some((user, rest)) = rest.split_once('\'') else {
            return;
        };
        if !rest.starts_with(" changed") {
            return;
        }
        target = name(user);
        actor = quoted(rest).and_then(|(a, _)| name(a));
        "password_changed"
    } else {
        return;
    };
    if target.is_none() && group.is_none() {
        return;
    }
    ev.user_target_name = target;
    ev.group_name = group;
    if actor.is_some() {
        ev.user_name = actor;
    }
    set_event(ev, action, Some(SUCCESS), "iam");
}

/// The value of `key=VALUE` in a `k=v, k=v` list.
fn kv(s: &str, key: &str) -> Option<String> {
    s.split(", ")
        .find_map(|item| item.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| name(v.trim_end_matches(',')))
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    fn check(program: &str, msg: &str, action: &str, target: Option<&str>, group: Option<&str>) {
        let e = ev(program, msg);
        assert_eq!(e.action.as_deref(), Some(action), "{msg}");
        assert_eq!(e.user_target_name.as_deref(), target, "{msg}");
        assert_eq!(e.group_name.as_deref(), group, "{msg}");
        assert_eq!(e.category.as_deref(), Some("iam"), "{msg}");
    }

    #[test]
    fn shadow_utils_shapes() {
        check("useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0", "user_added", Some("bob"), None);
        check(
            "useradd",
            "new group: name=bob, GID=1001",
            "group_added",
            None,
            Some("bob"),
        );
        check(
            "groupadd",
            "group added to /etc/group: name=devs, GID=1002",
            "group_added",
            None,
            Some("devs"),
        );
        check(
            "usermod",
            "add 'bob' to group 'sudo'",
            "user_added_to_group",
            Some("bob"),
            Some("sudo"),
        );
        check(
            "usermod",
            "add 'bob' to shadow group 'sudo'",
            "user_added_to_group",
            Some("bob"),
            Some("sudo"),
        );
        check(
            "gpasswd",
            "delete 'bob' from group 'docker'",
            "user_removed_from_group",
            Some("bob"),
            Some("docker"),
        );
        check(
            "userdel",
            "delete user 'bob'",
            "user_deleted",
            Some("bob"),
            None,
        );
        check(
            "userdel",
            "removed group 'bob' owned by 'bob'",
            "group_deleted",
            None,
            Some("bob"),
        );
        check(
            "groupdel",
            "group 'devs' removed from /etc/group",
            "group_deleted",
            None,
            Some("devs"),
        );
        check(
            "usermod",
            "change user 'bob' password",
            "password_changed",
            Some("bob"),
            None,
        );
        check(
            "usermod",
            "lock user 'bob' password",
            "user_locked",
            Some("bob"),
            None,
        );
        check(
            "passwd",
            "password for 'bob' changed by 'root'",
            "password_changed",
            Some("bob"),
            None,
        );
        let e = ev("gpasswd", "user bob added by root to group wheel");
        assert_eq!(
            (
                e.user_target_name.as_deref(),
                e.group_name.as_deref(),
                e.user_name.as_deref()
            ),
            (Some("bob"), Some("wheel"), Some("root"))
        );
        assert_eq!(e.action.as_deref(), Some("user_added_to_group"));
    }

    #[test]
    fn malformed_lines_set_nothing() {
        for msg in [
            "",
            "new user: ",
            "new user: UID=1001",
            "add 'bob",
            "add 'bob' to",
            "delete user",
            "group 'x",
            "user bob added by root",
            "change user bob",
            "failed adding user 'bob', data deleted",
        ] {
            let e = ev("useradd", msg);
            assert!(untouched(&e), "{msg:?} -> {e:?}");
        }
    }
}
