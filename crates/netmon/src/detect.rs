//! Detectors over socket tables and transitions, raising alerts once per group while their
//! condition holds (raised again after it clears and returns).
//!
//! | rule | condition | group |
//! |---|---|---|
//! | `tcp_close_wait_leak` | a process holds >= `close_wait_threshold` CLOSE_WAIT sockets, or its count only grew for `close_wait_growth` | process |
//! | `tcp_time_wait_storm` | >= `time_wait_threshold` TIME_WAIT sockets on one endpoint | endpoint |
//! | `tcp_fin_wait2_storm` | >= `fin_wait2_threshold` FIN_WAIT2 sockets in one process (endpoint when unowned) | process or endpoint |
//!
//! Failed connection attempts to one destination (`tcp_connect_failures`) are a rule of the
//! detection pack over the monitor's SYN_SENT -> CLOSE events (`crates/detect/rules/network.yml`,
//! thresholds from `[tcp_states]`): a count of events in a window is what Sigma correlations
//! express, with the alert lifecycle, suppression and notifications. The detectors here need
//! the table of sockets open now, which events alone do not give.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use loglynx_config::TcpStatesConfig;
use loglynx_core::{Event, Timestamp};

use crate::diag::{Process, SocketRow};
use crate::states::TcpState;
use crate::view::{close_wait_leaders, endpoint_of, listening_ports, CloseWaitLeader, Endpoint};

/// `event.dataset` of alerts.
pub const ALERT_DATASET: &str = "loglynx.alert";
/// Most peers named in a message.
const MAX_PEERS_NAMED: usize = 5;

/// Detector thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectConfig {
    /// CLOSE_WAIT sockets per process.
    pub close_wait_threshold: usize,
    /// Growth period of CLOSE_WAIT per process (zero: off).
    pub close_wait_growth: Duration,
    /// TIME_WAIT sockets per endpoint.
    pub time_wait_threshold: usize,
    /// FIN_WAIT2 sockets per process or endpoint.
    pub fin_wait2_threshold: usize,
}

impl From<&TcpStatesConfig> for DetectConfig {
    fn from(c: &TcpStatesConfig) -> Self {
        DetectConfig {
            close_wait_threshold: c.close_wait_threshold,
            close_wait_growth: c.close_wait_growth,
            time_wait_threshold: c.time_wait_threshold,
            fin_wait2_threshold: c.fin_wait2_threshold,
        }
    }
}

/// One raised alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Rule name (`tcp_close_wait_leak`, ...).
    pub rule: &'static str,
    /// `low`, `medium` or `high`.
    pub severity: &'static str,
    /// Dedup key: one alert per group while the condition holds.
    pub group: String,
    /// What happened, naming the process and the peers.
    pub message: String,
    /// The process concerned, when known.
    pub process: Option<Process>,
    /// The main destination (top peer, or the failing destination).
    pub destination: Option<(IpAddr, Option<u16>)>,
    /// The count that crossed the threshold.
    pub count: usize,
}

impl Alert {
    /// The alert as an event: `event.dataset: loglynx.alert`, labels `alert.rule`,
    /// `alert.severity`, `alert.group`, `alert.count`, process and destination fields.
    pub fn to_event(&self, at: Timestamp) -> Event {
        let id = format!(
            "alert-{}-{:x}",
            self.group.replace([':', ' ', '/'], "_"),
            at.0
        );
        let mut e = Event::new(self.message.clone(), at, at, id);
        e.dataset = Some(ALERT_DATASET.to_string());
        e.level = Some(
            if self.severity == "high" {
                "error"
            } else {
                "warning"
            }
            .to_string(),
        );
        if let Some(p) = &self.process {
            e.process_name = Some(p.comm.clone());
            e.pid = Some(p.pid);
        }
        if let Some((ip, port)) = self.destination {
            e.destination_ip = Some(ip.to_string());
            e.destination_port = port;
        }
        e.network_transport = Some("tcp".to_string());
        e.labels.insert("alert.rule".into(), self.rule.to_string());
        e.labels
            .insert("alert.severity".into(), self.severity.to_string());
        e.labels.insert("alert.group".into(), self.group.clone());
        e.labels
            .insert("alert.count".into(), self.count.to_string());
        e
    }
}

/// The detectors' memory: active groups, CLOSE_WAIT history, recent failed connections.
#[derive(Debug)]
pub struct Detector {
    cfg: DetectConfig,
    active: HashSet<String>,
    /// pid -> (monotonic ns, CLOSE_WAIT count) samples.
    close_wait_history: HashMap<u32, VecDeque<(u64, usize)>>,
    raised: u64,
}

fn peers_text(l: &CloseWaitLeader) -> String {
    let mut s: Vec<String> = l
        .peers
        .iter()
        .take(MAX_PEERS_NAMED)
        .map(|p| format!("{} ({})", p.ip, p.count))
        .collect();
    if l.peers.len() > MAX_PEERS_NAMED {
        s.push(format!("and {} more", l.peers.len() - MAX_PEERS_NAMED));
    }
    s.join(", ")
}

impl Detector {
    /// A detector with no history.
    pub fn new(cfg: DetectConfig) -> Detector {
        Detector {
            cfg,
            active: HashSet::new(),
            close_wait_history: HashMap::new(),
            raised: 0,
        }
    }

    /// Alerts raised so far.
    pub fn raised(&self) -> u64 {
        self.raised
    }

    /// Groups whose condition held at the last evaluation.
    pub fn active(&self) -> impl Iterator<Item = &String> {
        self.active.iter()
    }

    /// Evaluates every rule over the sockets now (`rows`, TIME_WAIT included) at monotonic
    /// time `now_ns`; returns the alerts of groups whose condition newly holds.
    pub fn evaluate(&mut self, rows: &[&SocketRow], now_ns: u64) -> Vec<Alert> {
        let mut holding: Vec<Alert> = Vec::new();
        self.close_wait(rows, now_ns, &mut holding);
        self.storms(rows, &mut holding);

        let now_active: HashSet<String> = holding.iter().map(|a| a.group.clone()).collect();
        let fresh: Vec<Alert> = holding
            .into_iter()
            .filter(|a| !self.active.contains(&a.group))
            .collect();
        self.active = now_active;
        self.raised += fresh.len() as u64;
        fresh
    }

    fn close_wait(&mut self, rows: &[&SocketRow], now: u64, out: &mut Vec<Alert>) {
        let leaders = close_wait_leaders(rows);
        let growth = self.cfg.close_wait_growth.as_nanos() as u64;
        let seen: HashSet<u32> = leaders.iter().map(|l| l.pid).collect();
        self.close_wait_history.retain(|pid, _| seen.contains(pid));
        for l in leaders {
            let hist = self.close_wait_history.entry(l.pid).or_default();
            hist.push_back((now, l.count));
            // Keep one sample at or before now - growth, and every later one.
            while hist.len() > 1 && hist[1].0 <= now.saturating_sub(growth) {
                hist.pop_front();
            }
            let grew = growth > 0
                && hist
                    .front()
                    .is_some_and(|(t, n)| *t + growth <= now && *n < l.count)
                && hist
                    .iter()
                    .zip(hist.iter().skip(1))
                    .all(|(a, b)| a.1 <= b.1);
            if l.count < self.cfg.close_wait_threshold && !grew {
                continue;
            }
            let why = if l.count >= self.cfg.close_wait_threshold {
                format!("threshold {}", self.cfg.close_wait_threshold)
            } else {
                format!(
                    "growing for {}",
                    humantime::format_duration(self.cfg.close_wait_growth)
                )
            };
            let ports: Vec<String> = l.local_ports.iter().map(u16::to_string).collect();
            out.push(Alert {
                rule: "tcp_close_wait_leak",
                severity: "high",
                group: format!("tcp_close_wait_leak:pid:{}", l.pid),
                message: format!(
                    "connection leak: process {} (pid {}) holds {} sockets in CLOSE_WAIT ({why}) on local port {}; peers closed but the process never did: {}",
                    l.comm,
                    l.pid,
                    l.count,
                    ports.join(","),
                    peers_text(&l)
                ),
                process: Some(Process { pid: l.pid, comm: l.comm.clone() }),
                destination: l.peers.first().map(|p| (p.ip, None)),
                count: l.count,
            });
        }
    }

    fn storms(&mut self, rows: &[&SocketRow], out: &mut Vec<Alert>) {
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
                            (format!("{ep}"), None, Some(ep))
                        }
                    };
                    let e = fw2.entry(key).or_insert((0, p, ep));
                    e.0 += 1;
                }
                _ => {}
            }
        }
        for (ep, n) in tw {
            if n >= self.cfg.time_wait_threshold {
                out.push(Alert {
                    rule: "tcp_time_wait_storm",
                    severity: "medium",
                    group: format!("tcp_time_wait_storm:{ep}"),
                    message: format!(
                        "TIME_WAIT storm: {n} sockets in TIME_WAIT on {ep} (threshold {}); connections are opened and closed faster than they expire",
                        self.cfg.time_wait_threshold
                    ),
                    process: None,
                    destination: (ep.side == crate::view::Side::Remote).then_some((ep.ip, Some(ep.port))),
                    count: n,
                });
            }
        }
        for (key, (n, p, ep)) in fw2 {
            if n >= self.cfg.fin_wait2_threshold {
                let who = match (&p, &ep) {
                    (Some(p), _) => format!("process {} (pid {})", p.comm, p.pid),
                    (None, Some(ep)) => format!("{ep}"),
                    _ => key.clone(),
                };
                out.push(Alert {
                    rule: "tcp_fin_wait2_storm",
                    severity: "medium",
                    group: format!("tcp_fin_wait2_storm:{key}"),
                    message: format!(
                        "FIN_WAIT2 storm: {n} sockets in FIN_WAIT2 for {who} (threshold {}); peers do not close their side",
                        self.cfg.fin_wait2_threshold
                    ),
                    process: p,
                    destination: ep.filter(|e| e.side == crate::view::Side::Remote).map(|e| (e.ip, Some(e.port))),
                    count: n,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    const S: u64 = 1_000_000_000;

    fn cfg() -> DetectConfig {
        DetectConfig {
            close_wait_threshold: 3,
            close_wait_growth: Duration::from_secs(60),
            time_wait_threshold: 2,
            fin_wait2_threshold: 2,
        }
    }

    fn cw(n: usize, pid: u32) -> Vec<SocketRow> {
        (0..n)
            .map(|i| SocketRow {
                state: CloseWait,
                laddr: "127.0.0.1".parse().unwrap(),
                lport: 8080,
                raddr: if i % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" }
                    .parse()
                    .unwrap(),
                rport: 40000 + i as u16,
                owner: Some(Process {
                    pid,
                    comm: "leaky".into(),
                }),
                stats: None,
            })
            .collect()
    }

    fn eval(d: &mut Detector, rows: &[SocketRow], now: u64) -> Vec<Alert> {
        let refs: Vec<&SocketRow> = rows.iter().collect();
        d.evaluate(&refs, now)
    }

    #[test]
    fn close_wait_over_threshold_alerts_once_while_it_holds_and_again_after_it_clears() {
        let mut d = Detector::new(cfg());
        assert!(eval(&mut d, &cw(2, 42), S).is_empty());
        let a = eval(&mut d, &cw(3, 42), 2 * S);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].rule, "tcp_close_wait_leak");
        assert_eq!(a[0].group, "tcp_close_wait_leak:pid:42");
        assert!(
            a[0].message
                .contains("process leaky (pid 42) holds 3 sockets in CLOSE_WAIT"),
            "{}",
            a[0].message
        );
        assert!(
            a[0].message.contains("10.0.0.1 (2), 10.0.0.2 (1)"),
            "{}",
            a[0].message
        );
        assert!(eval(&mut d, &cw(4, 42), 3 * S).is_empty(), "deduplicated");
        assert!(eval(&mut d, &cw(0, 42), 4 * S).is_empty(), "cleared");
        assert_eq!(eval(&mut d, &cw(5, 42), 5 * S).len(), 1, "raised again");
        assert_eq!(d.raised(), 2);
        let e = serde_json::to_value(a[0].to_event(Timestamp(7))).unwrap();
        assert_eq!(e["event.dataset"], "loglynx.alert");
        assert_eq!(e["labels.alert.rule"], "tcp_close_wait_leak");
        assert_eq!(e["labels.alert.severity"], "high");
        assert_eq!(e["labels.alert.group"], "tcp_close_wait_leak:pid:42");
        assert_eq!(e["process.pid"], 42);
        assert_eq!(e["process.name"], "leaky");
        assert_eq!(e["destination.ip"], "10.0.0.1");
    }

    #[test]
    fn close_wait_growing_for_the_growth_period_alerts_below_the_threshold() {
        let mut d = Detector::new(DetectConfig {
            close_wait_threshold: 100,
            ..cfg()
        });
        assert!(eval(&mut d, &cw(1, 7), 0).is_empty());
        assert!(eval(&mut d, &cw(1, 7), 30 * S).is_empty());
        assert!(
            eval(&mut d, &cw(2, 7), 59 * S).is_empty(),
            "not for 60 s yet"
        );
        let a = eval(&mut d, &cw(2, 7), 61 * S);
        assert_eq!(a.len(), 1);
        assert!(a[0].message.contains("growing for 1m"), "{}", a[0].message);
        // A dip resets the growth.
        let mut d = Detector::new(DetectConfig {
            close_wait_threshold: 100,
            ..cfg()
        });
        eval(&mut d, &cw(2, 7), 0);
        eval(&mut d, &cw(1, 7), 30 * S);
        assert!(eval(&mut d, &cw(3, 7), 61 * S).is_empty());
    }

    #[test]
    fn time_wait_and_fin_wait2_storms_group_by_endpoint_and_process() {
        let mut d = Detector::new(cfg());
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
        rows.push(SocketRow {
            state: FinWait2,
            owner: Some(Process {
                pid: 5,
                comm: "c".into(),
            }),
            ..tw(3)
        });
        let a = eval(&mut d, &rows, S);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].group, "tcp_time_wait_storm:remote 10.9.9.9:443");
        assert_eq!(
            a[0].destination,
            Some(("10.9.9.9".parse().unwrap(), Some(443)))
        );
        rows.push(SocketRow {
            state: FinWait2,
            owner: Some(Process {
                pid: 5,
                comm: "c".into(),
            }),
            ..tw(4)
        });
        let a = eval(&mut d, &rows, 2 * S);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].group, "tcp_fin_wait2_storm:pid:5");
        assert!(a[0].message.contains("process c (pid 5)"));
    }
}
