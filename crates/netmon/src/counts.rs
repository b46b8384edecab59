//! `network.sockets` events: how many sockets each process or endpoint holds in the states that
//! pile up when something is wrong, from the table of sockets open now, so the built-in rules
//! of the detection pack (`crates/detect/rules/network.yml`) can alert on them like on any
//! event, with the alert lifecycle, suppression, `resolved` and notifications.
//!
//! | `event.action` | group (`labels.tcp.group`) | fields |
//! |---|---|---|
//! | `close_wait` | process (`pid:N`) | `process.*`, `labels.tcp.sockets`, `labels.tcp.growing_s`, `labels.tcp.local_ports`, `destination.ip` (top peer) |
//! | `time_wait` | endpoint (`labels.tcp.endpoint`: a local listening port, else the remote address and port) | `labels.tcp.sockets`, `destination.*` when remote |
//! | `fin_wait2` | process, or endpoint when unowned | `labels.tcp.sockets`, `process.*` or `labels.tcp.endpoint` |
//!
//! A group's count is sent when it changed since it was last sent, and again every `every`
//! while it stays (so a rule's window sees it while it holds); a group that disappears gets
//! one event with count 0. At most [`MAX_GROUPS`] groups per state per snapshot (the largest):
//! the events and the memory here are bounded whatever the host does.
//!
//! Why the monitor still counts: a rule sees events, not the sockets open now; a count per
//! group at each snapshot is the event that carries that view. Thresholds are the rules'.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use loglynx_config::TcpStatesConfig;
use loglynx_core::{Event, Timestamp};

use crate::diag::{Process, SocketRow};
use crate::states::TcpState;
use crate::view::{close_wait_leaders, endpoint_of, listening_ports, Endpoint, Side};

/// `event.dataset` of the counts.
pub const DATASET: &str = "network.sockets";
/// Most groups per state sent per snapshot (the largest counts).
pub const MAX_GROUPS: usize = 50;
/// Most peers named in a message.
const MAX_PEERS_NAMED: usize = 5;

/// The `[tcp_states]` thresholds the built-in rules use by default: the monitor's status
/// reports the groups over them (`alerts_active`), the rules decide the alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// CLOSE_WAIT sockets per process.
    pub close_wait: usize,
    /// Growth period of CLOSE_WAIT per process (zero: off).
    pub close_wait_growth: Duration,
    /// TIME_WAIT sockets per endpoint.
    pub time_wait: usize,
    /// FIN_WAIT2 sockets per process or endpoint.
    pub fin_wait2: usize,
}

impl From<&TcpStatesConfig> for Thresholds {
    fn from(c: &TcpStatesConfig) -> Self {
        Thresholds {
            close_wait: c.close_wait_threshold,
            close_wait_growth: c.close_wait_growth,
            time_wait: c.time_wait_threshold,
            fin_wait2: c.fin_wait2_threshold,
        }
    }
}

/// One group's count at one snapshot.
#[derive(Debug, Clone, PartialEq)]
struct Count {
    action: &'static str,
    group: String,
    count: usize,
    process: Option<Process>,
    endpoint: Option<Endpoint>,
    /// close_wait: seconds the count rose without a dip.
    growing_s: u64,
    local_ports: Vec<u16>,
    peers: Vec<(std::net::IpAddr, usize)>,
}

/// Turns successive socket tables into `network.sockets` events.
#[derive(Debug)]
pub struct Counter {
    thresholds: Thresholds,
    every_ns: u64,
    /// (action, group) -> (count, monotonic ns) last sent.
    sent: HashMap<(&'static str, String), (usize, u64)>,
    /// pid -> (monotonic ns the current rise started, count then).
    rising: HashMap<u32, (u64, usize, usize)>,
    /// Groups over the thresholds at the last snapshot.
    over: HashSet<String>,
    crossings: u64,
}

fn peers_text(peers: &[(std::net::IpAddr, usize)]) -> String {
    let mut s: Vec<String> = peers
        .iter()
        .take(MAX_PEERS_NAMED)
        .map(|(ip, n)| format!("{ip} ({n})"))
        .collect();
    if peers.len() > MAX_PEERS_NAMED {
        s.push(format!("and {} more", peers.len() - MAX_PEERS_NAMED));
    }
    s.join(", ")
}

impl Counter {
    /// A counter with nothing sent yet; unchanged counts are sent again every `every`.
    pub fn new(thresholds: Thresholds, every: Duration) -> Counter {
        Counter {
            thresholds,
            every_ns: every.as_nanos().min(u64::MAX as u128) as u64,
            sent: HashMap::new(),
            rising: HashMap::new(),
            over: HashSet::new(),
            crossings: 0,
        }
    }

    /// Times a group went over the `[tcp_states]` thresholds.
    pub fn crossings(&self) -> u64 {
        self.crossings
    }

    /// Groups over the `[tcp_states]` thresholds at the last snapshot.
    pub fn over(&self) -> impl Iterator<Item = &String> {
        self.over.iter()
    }

    /// The events of the socket table `rows` at monotonic time `now_ns`, stamped `at`, named
    /// `host`.
    pub fn events(&mut self, rows: &[&SocketRow], now_ns: u64, at: Timestamp, host: &str) -> Vec<Event> {
        let mut counts = self.close_wait(rows, now_ns);
        counts.extend(storms(rows));
        let over: HashSet<String> = counts
            .iter()
            .filter(|c| self.is_over(c))
            .map(|c| format!("{}:{}", c.action, c.group))
            .collect();
        self.crossings += over.difference(&self.over).count() as u64;
        self.over = over;

        let mut out = Vec::new();
        let mut present: HashSet<(&'static str, String)> = HashSet::new();
        for c in counts {
            let key = (c.action, c.group.clone());
            present.insert(key.clone());
            let due = match self.sent.get(&key) {
                Some((n, t)) => *n != c.count || now_ns.saturating_sub(*t) >= self.every_ns,
                None => true,
            };
            if due {
                self.sent.insert(key, (c.count, now_ns));
                out.push(to_event(&c, at, host));
            }
        }
        let gone: Vec<(&'static str, String)> = self.sent.keys().filter(|k| !present.contains(*k)).cloned().collect();
        for (action, group) in gone {
            self.sent.remove(&(action, group.clone()));
            let c = Count {
                action,
                group,
                count: 0,
                process: None,
                endpoint: None,
                growing_s: 0,
                local_ports: Vec::new(),
                peers: Vec::new(),
            };
            out.push(to_event(&c, at, host));
        }
        out
    }

    fn is_over(&self, c: &Count) -> bool {
        let t = &self.thresholds;
        match c.action {
            "close_wait" => {
                c.count >= t.close_wait
                    || (!t.close_wait_growth.is_zero() && c.growing_s >= t.close_wait_growth.as_secs())
            }
            "time_wait" => c.count >= t.time_wait,
            _ => c.count >= t.fin_wait2,
        }
    }

    fn close_wait(&mut self, rows: &[&SocketRow], now: u64) -> Vec<Count> {
        let mut leaders = close_wait_leaders(rows);
        leaders.truncate(MAX_GROUPS);
        let seen: HashSet<u32> = leaders.iter().map(|l| l.pid).collect();
        self.rising.retain(|pid, _| seen.contains(pid));
        leaders
            .into_iter()
            .map(|l| {
                // (start of the rise, count at its start, last count): a dip starts it again.
                let r = self.rising.entry(l.pid).or_insert((now, l.count, l.count));
                if l.count < r.2 {
                    *r = (now, l.count, l.count);
                }
                r.2 = l.count;
                let growing_s = if l.count > r.1 { now.saturating_sub(r.0) / 1_000_000_000 } else { 0 };
                Count {
                    action: "close_wait",
                    group: format!("pid:{}", l.pid),
                    count: l.count,
                    process: Some(Process { pid: l.pid, comm: l.comm.clone() }),
                    endpoint: None,
                    growing_s,
                    local_ports: l.local_ports.clone(),
                    peers: l.peers.iter().map(|p| (p.ip, p.count)).collect(),
                }
            })
            .collect()
    }
}

/// TIME_WAIT per endpoint and FIN_WAIT2 per process (endpoint when unowned), largest first.
fn storms(rows: &[&SocketRow]) -> Vec<Count> {
    let listening = listening_ports(rows.iter().copied());
    let mut tw: BTreeMap<Endpoint, usize> = BTreeMap::new();
    let mut fw2: BTreeMap<String, (usize, Option<Process>, Option<Endpoint>)> = BTreeMap::new();
    for r in rows {
        match r.state {
            TcpState::TimeWait => *tw.entry(endpoint_of(r, &listening)).or_default() += 1,
            TcpState::FinWait2 => {
                let (key, p, ep) = match &r.owner {
                    Some(p) => (format!("pid:{}", p.pid), Some(p.clone()), None),
                    None => {
                        let ep = endpoint_of(r, &listening);
                        (ep.to_string(), None, Some(ep))
                    }
                };
                fw2.entry(key).or_insert((0, p, ep)).0 += 1;
            }
            _ => {}
        }
    }
    let blank = |action, group, count| Count {
        action,
        group,
        count,
        process: None,
        endpoint: None,
        growing_s: 0,
        local_ports: Vec::new(),
        peers: Vec::new(),
    };
    let mut tw: Vec<Count> = tw
        .into_iter()
        .map(|(ep, n)| Count { endpoint: Some(ep.clone()), ..blank("time_wait", ep.to_string(), n) })
        .collect();
    let mut fw: Vec<Count> = fw2
        .into_iter()
        .map(|(key, (n, p, ep))| Count { process: p, endpoint: ep, ..blank("fin_wait2", key, n) })
        .collect();
    for v in [&mut tw, &mut fw] {
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.group.cmp(&b.group)));
        v.truncate(MAX_GROUPS);
    }
    tw.extend(fw);
    tw
}

fn to_event(c: &Count, at: Timestamp, host: &str) -> Event {
    let who = match (&c.process, &c.endpoint) {
        (Some(p), _) => format!("process {} (pid {})", p.comm, p.pid),
        (None, Some(ep)) => ep.to_string(),
        _ => c.group.clone(),
    };
    let message = match c.action {
        "close_wait" if c.count > 0 => {
            let ports: Vec<String> = c.local_ports.iter().map(u16::to_string).collect();
            let growing = if c.growing_s > 0 { format!(", rising for {} s", c.growing_s) } else { String::new() };
            format!(
                "{who} holds {} sockets in CLOSE_WAIT{growing} on local port {}; peers closed but the process never did: {}",
                c.count,
                ports.join(","),
                peers_text(&c.peers)
            )
        }
        "time_wait" if c.count > 0 => format!("{} sockets in TIME_WAIT on {who}", c.count),
        "fin_wait2" if c.count > 0 => format!("{} sockets in FIN_WAIT2 for {who}; peers do not close their side", c.count),
        action => format!("no sockets in {} for {} any more", action.to_uppercase(), c.group),
    };
    let id = format!(
        "netsockets-{host}-{:x}-{}-{}",
        at.0,
        c.action,
        c.group.replace([':', ' ', '/', '[', ']'], "_")
    );
    let mut e = Event::new(message, at, Timestamp::now(), id);
    e.dataset = Some(DATASET.to_string());
    e.category = Some("network".into());
    e.action = Some(c.action.into());
    e.network_transport = Some("tcp".to_string());
    let put = |e: &mut Event, k: &str, v: String| {
        e.labels.insert(k.to_string(), v);
    };
    put(&mut e, "tcp.sockets", c.count.to_string());
    put(&mut e, "tcp.group", c.group.clone());
    if let Some(p) = &c.process {
        e.process_name = Some(p.comm.clone());
        e.pid = Some(p.pid);
    } else if let Some(pid) = c.group.strip_prefix("pid:").and_then(|p| p.parse().ok()) {
        e.pid = Some(pid);
    }
    if let Some(ep) = &c.endpoint {
        put(&mut e, "tcp.endpoint", ep.to_string());
        if ep.side == Side::Remote {
            e.destination_ip = Some(ep.ip.to_string());
            e.destination_port = Some(ep.port);
        }
    } else if c.action != "close_wait" && c.process.is_none() {
        // a vanished endpoint group: its name is the endpoint
        put(&mut e, "tcp.endpoint", c.group.clone());
    }
    if c.action == "close_wait" {
        put(&mut e, "tcp.growing_s", c.growing_s.to_string());
        if !c.local_ports.is_empty() {
            let ports: Vec<String> = c.local_ports.iter().map(u16::to_string).collect();
            put(&mut e, "tcp.local_ports", ports.join(","));
        }
        if let Some((ip, _)) = c.peers.first() {
            e.destination_ip = Some(ip.to_string());
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    const S: u64 = 1_000_000_000;

    fn th() -> Thresholds {
        Thresholds { close_wait: 3, close_wait_growth: Duration::from_secs(60), time_wait: 2, fin_wait2: 2 }
    }

    fn cw(n: usize, pid: u32) -> Vec<SocketRow> {
        (0..n)
            .map(|i| SocketRow {
                state: CloseWait,
                laddr: "127.0.0.1".parse().unwrap(),
                lport: 8080,
                raddr: if i % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" }.parse().unwrap(),
                rport: 40000 + i as u16,
                owner: Some(Process { pid, comm: "leaky".into() }),
                stats: None,
            })
            .collect()
    }

    fn run(c: &mut Counter, rows: &[SocketRow], now: u64) -> Vec<Event> {
        let refs: Vec<&SocketRow> = rows.iter().collect();
        c.events(&refs, now, Timestamp::from_secs(now as i64 / S as i64), "h")
    }

    fn label<'a>(e: &'a Event, k: &str) -> &'a str {
        e.labels.get(k).map(String::as_str).unwrap_or("")
    }

    #[test]
    fn close_wait_counts_are_sent_when_they_change_again_after_the_interval_and_zero_when_gone() {
        let mut c = Counter::new(th(), Duration::from_secs(30));
        let e = run(&mut c, &cw(3, 42), S);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].dataset.as_deref(), Some(DATASET));
        assert_eq!(e[0].action.as_deref(), Some("close_wait"));
        assert_eq!((e[0].pid, e[0].process_name.as_deref()), (Some(42), Some("leaky")));
        assert_eq!(label(&e[0], "tcp.sockets"), "3");
        assert_eq!(label(&e[0], "tcp.group"), "pid:42");
        assert_eq!(label(&e[0], "tcp.local_ports"), "8080");
        assert_eq!(e[0].destination_ip.as_deref(), Some("10.0.0.1"));
        assert!(e[0].message.contains("process leaky (pid 42) holds 3 sockets in CLOSE_WAIT"), "{}", e[0].message);
        assert!(e[0].message.contains("10.0.0.1 (2), 10.0.0.2 (1)"), "{}", e[0].message);
        assert_eq!(c.crossings(), 1);
        assert!(run(&mut c, &cw(3, 42), 2 * S).is_empty(), "unchanged: not sent again yet");
        assert_eq!(run(&mut c, &cw(3, 42), 32 * S).len(), 1, "sent again after the interval");
        assert_eq!(label(&run(&mut c, &cw(4, 42), 33 * S)[0], "tcp.sockets"), "4");
        let gone = run(&mut c, &cw(0, 42), 34 * S);
        assert_eq!(gone.len(), 1);
        assert_eq!(label(&gone[0], "tcp.sockets"), "0");
        assert_eq!(gone[0].pid, Some(42));
        assert!(run(&mut c, &cw(0, 42), 35 * S).is_empty());
        assert_eq!(c.over().count(), 0);
    }

    #[test]
    fn close_wait_growth_counts_the_seconds_of_a_rise_without_a_dip() {
        let mut c = Counter::new(th(), Duration::from_secs(1));
        let g = |e: Vec<Event>| label(&e[0], "tcp.growing_s").to_string();
        assert_eq!(g(run(&mut c, &cw(1, 7), 0)), "0");
        assert_eq!(g(run(&mut c, &cw(1, 7), 30 * S)), "0", "flat: not rising");
        assert_eq!(g(run(&mut c, &cw(2, 7), 59 * S)), "59");
        assert_eq!(g(run(&mut c, &cw(2, 7), 61 * S)), "61");
        assert!(c.over().any(|g| g == "close_wait:pid:7"), "over the 60 s growth");
        // a dip starts again
        assert_eq!(g(run(&mut c, &cw(1, 7), 70 * S)), "0");
        assert_eq!(g(run(&mut c, &cw(2, 7), 80 * S)), "10");
    }

    #[test]
    fn time_wait_groups_by_endpoint_and_fin_wait2_by_process() {
        let mut c = Counter::new(th(), Duration::from_secs(30));
        let tw = |rport: u16| SocketRow {
            state: TimeWait,
            laddr: "127.0.0.1".parse().unwrap(),
            lport: 50000 + rport,
            raddr: "10.9.9.9".parse().unwrap(),
            rport: 443,
            owner: None,
            stats: None,
        };
        let mut rows = vec![tw(1), tw(2)];
        for p in [3, 4] {
            rows.push(SocketRow { state: FinWait2, owner: Some(Process { pid: 5, comm: "c".into() }), ..tw(p) });
        }
        let e = run(&mut c, &rows, S);
        assert_eq!(e.len(), 2, "{e:?}");
        let t = e.iter().find(|e| e.action.as_deref() == Some("time_wait")).unwrap();
        assert_eq!(label(t, "tcp.endpoint"), "remote 10.9.9.9:443");
        assert_eq!(label(t, "tcp.sockets"), "2");
        assert_eq!((t.destination_ip.as_deref(), t.destination_port), (Some("10.9.9.9"), Some(443)));
        let f = e.iter().find(|e| e.action.as_deref() == Some("fin_wait2")).unwrap();
        assert_eq!(label(f, "tcp.group"), "pid:5");
        assert_eq!(f.pid, Some(5));
        assert!(f.message.contains("2 sockets in FIN_WAIT2 for process c (pid 5)"), "{}", f.message);
        assert_eq!(c.over().count(), 2);
    }

    #[test]
    fn groups_per_state_are_capped() {
        let mut c = Counter::new(th(), Duration::from_secs(30));
        let rows: Vec<SocketRow> = (0..(MAX_GROUPS as u32 + 10)).flat_map(|pid| cw(1, pid + 1)).collect();
        assert_eq!(run(&mut c, &rows, S).len(), MAX_GROUPS);
    }
}
