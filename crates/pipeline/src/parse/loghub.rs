//! The header formats of the Loghub samples that are not syslog or Apache: BGL, HDFS, HPC,
//! Proxifier, Zookeeper (`event.dataset` `loghub.<name>`). Times without offset are UTC.
//!
//! | dataset | line |
//! |---|---|
//! | BGL | `- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO msg` |
//! | HDFS | `081109 203615 148 INFO dfs.DataNode$PacketResponder: msg` |
//! | HPC | `134681 node-246 unix.hw state_change.unavailable 1077804742 1 msg` |
//! | Proxifier | `[10.30 16:49:06] chrome.exe - msg` |
//! | Zookeeper | `2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - msg` |

use loglynx_core::Event;

use super::level;
use super::record::{apply_ts, present, ParseContext};
use super::scan::{parse_u32, Cursor};
use super::timestamp::{from_epoch_secs, infer_year, read_hms, read_iso, Civil, TsField};

fn label(ev: &mut Event, key: &str, value: &str) {
    if !value.is_empty() {
        ev.labels.insert(key.to_string(), value.to_string());
    }
}

/// BGL (Blue Gene/L RAS). `@timestamp` from the epoch column, with the microseconds of the
/// detailed time column (which is local time, so only its fraction is used). Node ->
/// `host.name`; labels `component`, `bgl.type`, `bgl.alert` (when not `-`).
pub(crate) fn bgl(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let alert = cur.token();
    if alert.is_empty() || !cur.eat(b' ') {
        return false;
    }
    let Some(epoch) = cur.uint() else {
        return false;
    };
    if !cur.eat(b' ') {
        return false;
    }
    // 2005.06.03
    let mut d = cur;
    if d.digits(4).is_none()
        || !d.eat(b'.')
        || d.digits(2).is_none()
        || !d.eat(b'.')
        || d.digits(2).is_none()
        || !d.eat(b' ')
    {
        return false;
    }
    cur = d;
    let mut f = [""; 6]; // node, time, node again, type, component, level
    for (i, slot) in f.iter_mut().enumerate() {
        if i > 0 && !cur.eat(b' ') {
            return false;
        }
        *slot = cur.token();
    }
    let [node, time, _node2, kind, component, lvl] = f;
    let Some(level) = level::normalize(lvl) else {
        return false;
    };
    cur.eat(b' ');
    let nanos = time
        .rsplit_once('.')
        .filter(|(head, frac)| {
            let secs = head.get(head.len().saturating_sub(2)..).and_then(parse_u32);
            frac.len() == 6 && secs == Some((epoch % 60) as u32)
        })
        .and_then(|(_, frac)| parse_u32(frac))
        .map_or(0, |us| us * 1000);

    apply_ts(
        ev,
        from_epoch_secs(epoch, nanos).map_or(TsField::Bad, TsField::Ok),
    );
    ev.dataset = Some("loghub.bgl".to_string());
    ev.host = present(node);
    ev.level = Some(level.to_string());
    label(ev, "component", component);
    label(ev, "bgl.type", kind);
    if alert != "-" {
        label(ev, "bgl.alert", alert);
    }
    ev.message = cur.rest().to_string();
    true
}

/// HDFS. `YYMMDD HHMMSS` is 20YY, UTC. Pid -> `process.pid`, component -> label `log.logger`.
pub(crate) fn hdfs(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let mut c = Civil::default();
    let Some(yy) = cur.digits(2) else {
        return false;
    };
    let (Some(mo), Some(dd)) = (cur.digits(2), cur.digits(2)) else {
        return false;
    };
    if !cur.eat(b' ') {
        return false;
    }
    let (Some(h), Some(mi), Some(s)) = (cur.digits(2), cur.digits(2), cur.digits(2)) else {
        return false;
    };
    if !cur.eat(b' ') {
        return false;
    }
    let Some(pid) = cur.uint() else { return false };
    if !cur.eat(b' ') {
        return false;
    }
    let Some(level) = level::normalize(cur.token()) else {
        return false;
    };
    if !cur.eat(b' ') {
        return false;
    }
    let Some(component) = cur.until_str(": ").filter(|c| !c.contains(' ')) else {
        return false;
    };
    (c.year, c.month, c.day, c.hour, c.minute, c.second) = (2000 + i64::from(yy), mo, dd, h, mi, s);

    apply_ts(ev, c.to_timestamp().map_or(TsField::Bad, TsField::Ok));
    ev.dataset = Some("loghub.hdfs".to_string());
    ev.pid = u32::try_from(pid).ok();
    ev.level = Some(level.to_string());
    label(ev, "log.logger", component);
    ev.message = cur.rest().to_string();
    true
}

/// HPC. Epoch seconds column; node -> `host.name`; labels `component`, `hpc.state`,
/// `hpc.log_id`, `hpc.flag`.
pub(crate) fn hpc(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let Some(log_id) = cur.uint() else {
        return false;
    };
    let mut f = [""; 3]; // node, component, state
    for slot in &mut f {
        if !cur.eat(b' ') {
            return false;
        }
        *slot = cur.token();
        if slot.is_empty() {
            return false;
        }
    }
    let [node, component, state] = f;
    if !cur.eat(b' ') {
        return false;
    }
    let start = cur.pos();
    let Some(epoch) = cur.uint() else {
        return false;
    };
    if cur.pos() - start < 9 || !cur.eat(b' ') {
        return false;
    }
    let flag = cur.token();
    if flag.is_empty()
        || flag.len() > 4
        || !flag
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return false;
    }
    cur.eat(b' ');

    apply_ts(
        ev,
        from_epoch_secs(epoch, 0).map_or(TsField::Bad, TsField::Ok),
    );
    ev.dataset = Some("loghub.hpc".to_string());
    ev.host = present(node);
    label(ev, "component", component);
    label(ev, "hpc.state", state);
    label(ev, "hpc.log_id", &log_id.to_string());
    label(ev, "hpc.flag", flag);
    ev.message = cur.rest().to_string();
    true
}

/// Proxifier. `[MM.DD HH:MM:SS]`, year inferred, UTC; program -> `process.name`.
pub(crate) fn proxifier(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut cur = Cursor::new(line);
    if !cur.eat(b'[') {
        return false;
    }
    let mut c = Civil::default();
    let Some(month) = cur.digits(2) else {
        return false;
    };
    if !cur.eat(b'.') {
        return false;
    }
    let Some(day) = cur.digits(2) else {
        return false;
    };
    (c.month, c.day) = (month, day);
    if !cur.eat(b' ') || read_hms(&mut cur, &mut c).is_none() || !cur.eat_str("] ") {
        return false;
    }
    let Some(program) = cur.until_str(" - ").filter(|p| p.len() <= 128) else {
        return false;
    };

    apply_ts(ev, infer_year(c, ctx.now).map_or(TsField::Bad, TsField::Ok));
    ev.dataset = Some("loghub.proxifier".to_string());
    ev.process_name = present(program);
    ev.message = cur.rest().to_string();
    true
}

/// Zookeeper (log4j `%d - %-5p [%t:%C{1}@%L] - %m`). Labels `process.thread.name`,
/// `log.logger`, `log.origin.file.line`.
pub(crate) fn zookeeper(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let Some(ts) = read_iso(&mut cur) else {
        return false;
    };
    if !cur.eat_str(" - ") {
        return false;
    }
    let Some(level) = level::normalize(cur.token()) else {
        return false;
    };
    cur.skip_spaces();
    if !cur.eat(b'[') {
        return false;
    }
    let Some(inner) = cur.until_str("] - ") else {
        return false;
    };

    apply_ts(ev, ts.map_or(TsField::Bad, TsField::Ok));
    ev.dataset = Some("loghub.zookeeper".to_string());
    ev.level = Some(level.to_string());
    let (head, line_no) = inner
        .rsplit_once('@')
        .filter(|(_, n)| parse_u32(n).is_some())
        .unwrap_or((inner, ""));
    let (thread, logger) = head.rsplit_once(':').unwrap_or(("", head));
    label(ev, "process.thread.name", thread.trim_end_matches(':'));
    label(ev, "log.logger", logger);
    label(ev, "log.origin.file.line", line_no);
    ev.message = cur.rest().to_string();
    true
}
