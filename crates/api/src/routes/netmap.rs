//! `GET /api/v1/network/map`: the service map over a time range: which process / service talks
//! to which peer service, with the bytes and connections of the finished connections
//! (`network.connection` events) and the retransmit rate and RTT p99 of the per-interval
//! summaries (`network.perf` events with `event.action: peer`).
//!
//! A node is a local socket owner (`process.name` plus its service: systemd unit, container or
//! cgroup) or, when no local owner is known, a remote address. An edge goes from the side that
//! connected to the side that accepted:
//! - an outbound connection's target is the local owner that accepted it (its inbound event has
//!   the same address and port) when there is one, else the remote `ip:port`;
//! - an inbound connection with no outbound event of the same four-tuple came from elsewhere:
//!   its edge starts at the remote client's address (its port is ephemeral, so it is left out);
//! - a loopback or same-host connection gives two events (one per owner) and one edge.
//!
//! The kernel counts retransmits, segments and RTT per owner and peer *address* (not port), so
//! an edge takes the summaries of both of its ends towards each other (the client's towards the
//! server's address and the server's towards the client's). Each summary counts once: when one
//! owner has edges to several ports of one address, the one with the most bytes takes it. A
//! summary made after its process exited has no service and matches the process's edges of
//! any service. Owners and peers seen only in the summaries (connections still open, or closed
//! before the range) get an edge with zero finished connections.
//!
//! Like talkers, the events are read a page at a time, at most
//! [`MAX_SCAN`](crate::routes::talkers::MAX_SCAN) per request (`truncated` says when the range
//! held more); memory is bounded by that and the groups.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::State;
use axum::Json;
use loglynx_core::Event;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
// An edge's retransmits, segments and RTT samples add up like a history series' point.
use crate::routes::network_range::RangeParams;
use crate::routes::perf_history::{
    label_u64, quantile_us, service_of, slots_of, Acc as Perf, SLOTS,
};
use crate::routes::scan::ScanFold;
use crate::routes::{Answer, ApiQuery};
use crate::state::AppState;

/// Edges returned when `size` is not given.
const DEFAULT_SIZE: usize = 200;
/// Edges returned at most.
const MAX_SIZE: usize = 2_000;

/// A local owner (process and service) or a remote address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
enum NodeKey {
    Owner { process: String, service: String },
    Remote(String),
}

impl NodeKey {
    /// `process`, `process (service)` or the address.
    fn id(&self) -> String {
        match self {
            NodeKey::Owner { process, .. } if process.is_empty() => "(no owner)".to_string(),
            NodeKey::Owner { process, service } if service.is_empty() => process.clone(),
            NodeKey::Owner { process, service } => format!("{process} ({service})"),
            NodeKey::Remote(a) => a.clone(),
        }
    }
}

/// One node of the answer.
#[derive(Debug, Serialize)]
pub(crate) struct Node {
    /// The name edges use: `process`, `process (service)` or a remote `ip[:port]`.
    id: String,
    /// `process` (a local socket owner) or `remote` (an address with no local owner seen).
    kind: &'static str,
    /// The owner's `process.name` ("" for a remote node).
    process: String,
    /// Its service ("" when unknown or remote).
    service: String,
    /// Bytes on the kept edges that start or end here.
    bytes: u64,
}

/// Finished connections of one edge.
#[derive(Debug, Clone, Default)]
struct Conns {
    connections: u64,
    /// Sent by the source (the side that connected) / by the target.
    sent: u64,
    received: u64,
}

/// One edge of the answer: `source` connected to `target`.
#[derive(Debug, Serialize)]
pub(crate) struct Edge {
    source: String,
    target: String,
    /// Finished connections in the range.
    connections: u64,
    /// Bytes the source sent / received on them, and both.
    sent_bytes: u64,
    received_bytes: u64,
    bytes: u64,
    /// Retransmitted segments of the summaries both ends gave towards each other.
    retransmits: u64,
    /// Segments those summaries counted sent.
    segs_out: u64,
    /// `retransmits / segs_out` (null without segments).
    retransmit_rate: Option<f64>,
    rtt_samples: u64,
    /// Upper bound of the log2 bucket holding the 99th percentile RTT sample, microseconds.
    rtt_p99_us: Option<u64>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub(crate) struct MapResponse {
    /// `network.connection` and `network.perf` peer events matching in the range.
    events: u64,
    /// Events folded (newest first; fewer than `events` when `truncated`).
    scanned: u64,
    truncated: bool,
    /// Edges in total (before `size`).
    edges_total: usize,
    /// The nodes the kept edges name, most bytes first.
    nodes: Vec<Node>,
    /// Most bytes first, then most segments.
    edges: Vec<Edge>,
}

/// A `network.connection` event reduced to what the map needs.
#[derive(Debug, Serialize, Deserialize)]
struct Conn {
    owner: NodeKey,
    inbound: bool,
    /// (connecting ip, port, accepting ip, port).
    tuple: (String, u16, String, u16),
    /// Bytes sent by the connecting side / by the accepting side.
    source_bytes: u64,
    destination_bytes: u64,
}

/// What one read of the events keeps ([`ScanFold`]: the connections one by one, since which
/// owner accepted a connection may be read elsewhere, and the summaries added up).
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Fold {
    conns: Vec<Conn>,
    /// (owner, peer address) -> the summaries' counters.
    #[serde(with = "crate::routes::scan::pairs")]
    perf: HashMap<(NodeKey, String), Perf>,
}

impl ScanFold for Fold {
    fn add(&mut self, e: &Event) {
        Fold::add(self, e);
    }

    fn merge(&mut self, other: Self) {
        self.conns.extend(other.conns);
        for (k, p) in other.perf {
            self.perf.entry(k).or_default().add(&p);
        }
    }
}

fn owner_of(e: &Event) -> NodeKey {
    NodeKey::Owner {
        process: e.process_name.clone().unwrap_or_default(),
        service: service_of(e),
    }
}

impl Fold {
    fn add(&mut self, e: &Event) {
        match e.dataset.as_deref() {
            Some("network.connection") => {
                let (Some(sip), Some(dip)) = (&e.source_ip, &e.destination_ip) else {
                    return;
                };
                self.conns.push(Conn {
                    owner: owner_of(e),
                    inbound: e.labels.get("network.direction").map(String::as_str)
                        == Some("inbound"),
                    tuple: (
                        sip.clone(),
                        e.source_port.unwrap_or(0),
                        dip.clone(),
                        e.destination_port.unwrap_or(0),
                    ),
                    source_bytes: e.source_bytes.unwrap_or(0),
                    destination_bytes: e.destination_bytes.unwrap_or(0),
                });
            }
            Some("network.perf") if e.action.as_deref() == Some("peer") => {
                let Some(peer) = e.destination_ip.clone() else {
                    return;
                };
                let p = Perf {
                    retransmits: e.tcp_retransmits.unwrap_or(0),
                    segs_out: label_u64(e, "tcp.segs_out"),
                    slots: e
                        .labels
                        .get("tcp.rtt_hist")
                        .map_or([0; SLOTS], |h| slots_of(h)),
                    ..Default::default()
                };
                self.perf.entry((owner_of(e), peer)).or_default().add(&p);
            }
            _ => {}
        }
    }

    /// The map with at most `size` edges; `events` matched, `scanned` folded.
    fn answer(self, size: usize, (events, scanned): (u64, u64)) -> MapResponse {
        // Who accepted on each (address, port), and which four-tuples a local owner opened.
        let mut listeners: HashMap<(&str, u16), &NodeKey> = HashMap::new();
        let mut outbound: HashSet<&(String, u16, String, u16)> = HashSet::new();
        for c in &self.conns {
            if c.inbound {
                listeners.insert((c.tuple.2.as_str(), c.tuple.3), &c.owner);
            } else {
                outbound.insert(&c.tuple);
            }
        }
        // (source, target) -> connections, and the peer addresses each end talked to.
        let mut edges: BTreeMap<(NodeKey, NodeKey), (Conns, HashSet<(NodeKey, String)>)> =
            BTreeMap::new();
        for c in &self.conns {
            let (sip, _, dip, dport) = &c.tuple;
            let (source, target) = if c.inbound {
                if outbound.contains(&c.tuple) {
                    continue; // the connecting owner's event names this connection
                }
                (NodeKey::Remote(sip.clone()), c.owner.clone())
            } else {
                let target = listeners.get(&(dip.as_str(), *dport)).map_or_else(
                    || NodeKey::Remote(format!("{dip}:{dport}")),
                    |o| (*o).clone(),
                );
                (c.owner.clone(), target)
            };
            let (conns, ends) = edges.entry((source.clone(), target.clone())).or_default();
            conns.connections += 1;
            conns.sent = conns.sent.saturating_add(c.source_bytes);
            conns.received = conns.received.saturating_add(c.destination_bytes);
            if matches!(source, NodeKey::Owner { .. }) {
                ends.insert((source, dip.clone()));
            }
            if matches!(target, NodeKey::Owner { .. }) {
                ends.insert((target, sip.clone()));
            }
        }
        // Each summary goes to one edge: the heaviest whose end is that owner towards that
        // address (a summary made after its process exited has no service: any service of the
        // process then matches). Summaries no finished connection explains (still open, or
        // closed before the range) make an edge of their own, owner -> bare address.
        let mut by_end: HashMap<(&str, &str), Vec<(usize, &str, u64)>> = HashMap::new();
        let mut list: Vec<((NodeKey, NodeKey), Conns, Perf)> = Vec::with_capacity(edges.len());
        let mut all_ends = Vec::with_capacity(edges.len());
        for (key, (c, ends)) in edges {
            all_ends.push(ends);
            list.push((key, c, Perf::default()));
        }
        for (i, ends) in all_ends.iter().enumerate() {
            let bytes = list[i].1.sent.saturating_add(list[i].1.received);
            for (owner, ip) in ends {
                if let NodeKey::Owner { process, service } = owner {
                    by_end
                        .entry((process.as_str(), ip.as_str()))
                        .or_default()
                        .push((i, service.as_str(), bytes));
                }
            }
        }
        let mut orphans: BTreeMap<(NodeKey, NodeKey), Perf> = BTreeMap::new();
        for ((owner, ip), perf) in &self.perf {
            let NodeKey::Owner { process, service } = owner else {
                continue;
            };
            let best = by_end
                .get(&(process.as_str(), ip.as_str()))
                .into_iter()
                .flatten()
                .filter(|(_, s, _)| service.is_empty() || s == service)
                .max_by(|a, b| a.2.cmp(&b.2).then(b.0.cmp(&a.0)))
                .map(|(i, _, _)| *i);
            match best {
                Some(i) => list[i].2.add(perf),
                None => orphans
                    .entry((owner.clone(), NodeKey::Remote(ip.clone())))
                    .or_default()
                    .add(perf),
            }
        }
        list.extend(orphans.into_iter().map(|(k, p)| (k, Conns::default(), p)));

        let edges_total = list.len();
        let mut out: Vec<Edge> = list
            .into_iter()
            .map(|((source, target), c, p)| {
                let samples: u64 = p.slots.iter().sum();
                Edge {
                    source: source.id(),
                    target: target.id(),
                    connections: c.connections,
                    sent_bytes: c.sent,
                    received_bytes: c.received,
                    bytes: c.sent.saturating_add(c.received),
                    retransmits: p.retransmits,
                    segs_out: p.segs_out,
                    retransmit_rate: (p.segs_out > 0)
                        .then(|| p.retransmits as f64 / p.segs_out as f64),
                    rtt_samples: samples,
                    rtt_p99_us: (samples > 0).then(|| quantile_us(&p.slots, 0.99)),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(b.segs_out.cmp(&a.segs_out))
                .then_with(|| (&a.source, &a.target).cmp(&(&b.source, &b.target)))
        });
        out.truncate(size);

        let mut kinds: HashMap<String, (&'static str, String, String)> = HashMap::new();
        for c in &self.conns {
            if let NodeKey::Owner { process, service } = &c.owner {
                kinds.insert(c.owner.id(), ("process", process.clone(), service.clone()));
            }
        }
        for (owner, _) in self.perf.keys() {
            if let NodeKey::Owner { process, service } = owner {
                kinds.insert(owner.id(), ("process", process.clone(), service.clone()));
            }
        }
        let mut nodes: HashMap<&str, u64> = HashMap::new();
        for e in &out {
            for n in [&e.source, &e.target] {
                let b = nodes.entry(n.as_str()).or_default();
                *b = b.saturating_add(e.bytes);
            }
        }
        let mut nodes: Vec<Node> = nodes
            .into_iter()
            .map(|(id, bytes)| {
                let (kind, process, service) =
                    kinds
                        .get(id)
                        .cloned()
                        .unwrap_or(("remote", String::new(), String::new()));
                Node {
                    id: id.to_string(),
                    kind,
                    process,
                    service,
                    bytes,
                }
            })
            .collect();
        nodes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.id.cmp(&b.id)));
        MapResponse {
            events,
            scanned,
            truncated: scanned < events,
            edges_total,
            nodes,
            edges: out,
        }
    }
}

/// Handler of `GET /api/v1/network/map`.
pub(crate) async fn map(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> Result<Json<Answer<MapResponse>>, ApiError> {
    let base =
        "(event.dataset:network.connection OR (event.dataset:network.perf AND event.action:peer))";
    let (f, size) = p.resolve(base, DEFAULT_SIZE, MAX_SIZE)?;
    let out = crate::routes::scan::fold::<Fold>(&st, "map", f).await?;
    let s = out.body;
    let mut body = s.fold.answer(size, (s.total, s.scanned));
    body.truncated = s.truncated;
    Ok(Json(Answer {
        body,
        missing: out.missing,
        approximate: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;

    fn event(dataset: &str, comm: &str, unit: Option<&str>) -> Event {
        let mut e = Event::new(
            "c",
            Timestamp::from_secs(1),
            Timestamp::from_secs(1),
            "i".into(),
        );
        e.dataset = Some(dataset.into());
        e.process_name = Some(comm.into());
        e.systemd_unit = unit.map(Into::into);
        e
    }

    fn conn(
        comm: &str,
        unit: Option<&str>,
        inbound: bool,
        (s, sp, sb): (&str, u16, u64),
        (d, dp, db): (&str, u16, u64),
    ) -> Event {
        let mut e = event("network.connection", comm, unit);
        e.source_ip = Some(s.into());
        e.source_port = Some(sp);
        e.source_bytes = Some(sb);
        e.destination_ip = Some(d.into());
        e.destination_port = Some(dp);
        e.destination_bytes = Some(db);
        e.tcp_retransmits = Some(0);
        let dir = if inbound { "inbound" } else { "outbound" };
        e.labels.insert("network.direction".into(), dir.into());
        e
    }

    fn peer(
        comm: &str,
        unit: Option<&str>,
        ip: &str,
        retrans: u64,
        segs: u64,
        hist: &str,
    ) -> Event {
        let mut e = event("network.perf", comm, unit);
        e.action = Some("peer".into());
        e.destination_ip = Some(ip.into());
        e.tcp_retransmits = Some(retrans);
        e.labels.insert("tcp.segs_out".into(), segs.to_string());
        e.labels.insert("tcp.rtt_hist".into(), hist.into());
        e
    }

    #[test]
    fn local_connections_name_the_accepting_service_and_remote_ones_the_address() {
        let mut f = Fold::default();
        // api (api.service) connects twice to db (postgres.service) on 10.0.0.2:5432: both
        // ends' events are stored, and make one edge.
        for port in [40000, 40001] {
            let tuple = (("10.0.0.1", port, 100), ("10.0.0.2", 5432, 900));
            f.add(&conn("api", Some("api.service"), false, tuple.0, tuple.1));
            f.add(&conn(
                "postgres",
                Some("postgres.service"),
                true,
                tuple.0,
                tuple.1,
            ));
        }
        // api also calls an outside address nobody local accepts on.
        f.add(&conn(
            "api",
            Some("api.service"),
            false,
            ("10.0.0.1", 40002, 50),
            ("93.184.0.1", 443, 7000),
        ));
        // A client elsewhere connects to postgres (only the accepting side is seen).
        f.add(&conn(
            "postgres",
            Some("postgres.service"),
            true,
            ("10.9.9.9", 51000, 30),
            ("10.0.0.2", 5432, 60),
        ));
        // Summaries: api towards the db's address (1 of 100 segments retransmitted, samples in
        // slot 10) and postgres towards api's; a long-lived connection of cron to 10.5.5.5.
        f.add(&peer(
            "api",
            Some("api.service"),
            "10.0.0.2",
            1,
            100,
            "10:9,19:1",
        ));
        f.add(&peer(
            "postgres",
            Some("postgres.service"),
            "10.0.0.1",
            1,
            100,
            "10:10",
        ));
        f.add(&peer("cron", None, "10.5.5.5", 0, 4, "12:2"));

        let m = f.answer(10, (9, 9));
        assert_eq!(m.edges_total, 4);
        let edge = |s: &str, t: &str| m.edges.iter().find(|e| e.source == s && e.target == t);
        let db = edge("api (api.service)", "postgres (postgres.service)").expect("api -> postgres");
        assert_eq!(
            (db.connections, db.sent_bytes, db.received_bytes, db.bytes),
            (2, 200, 1800, 2000)
        );
        assert_eq!((db.retransmits, db.segs_out, db.rtt_samples), (2, 200, 20));
        assert_eq!(db.retransmit_rate, Some(0.01));
        // 20 samples: the 99th is the one in slot 19 -> upper bound 2^20 us.
        assert_eq!(db.rtt_p99_us, Some(1 << 20));
        let out = edge("api (api.service)", "93.184.0.1:443").expect("api -> outside");
        assert_eq!((out.connections, out.bytes, out.rtt_samples), (1, 7050, 0));
        let inb = edge("10.9.9.9", "postgres (postgres.service)").expect("outside -> postgres");
        assert_eq!(
            (inb.connections, inb.sent_bytes, inb.received_bytes),
            (1, 30, 60)
        );
        let cron = edge("cron", "10.5.5.5").expect("cron's open connection");
        assert_eq!(
            (cron.connections, cron.segs_out, cron.rtt_p99_us),
            (0, 4, Some(1 << 13))
        );
        // Most bytes first; every node an edge names, with its kind.
        assert_eq!(m.edges[0].target, "93.184.0.1:443");
        let kind = |id: &str| m.nodes.iter().find(|n| n.id == id).map(|n| n.kind);
        assert_eq!(kind("postgres (postgres.service)"), Some("process"));
        assert_eq!(kind("cron"), Some("process"));
        assert_eq!(kind("93.184.0.1:443"), Some("remote"));
        assert_eq!(kind("10.5.5.5"), Some("remote"));
        assert_eq!(m.nodes.len(), 6);
    }

    #[test]
    fn each_summary_counts_once_even_after_its_process_exited() {
        let mut f = Fold::default();
        // curl (cgroup "/") fetched twice from loglynx on 127.0.0.1:7700 and tried a closed
        // port once; its summary was made after it exited (no service known then).
        for (port, bytes) in [(5555, 400), (5556, 300)] {
            let t = (("127.0.0.1", port, bytes), ("127.0.0.1", 7700, 2000));
            f.add(&conn("curl", Some("/"), false, t.0, t.1));
            f.add(&conn("loglynx", Some("/"), true, t.0, t.1));
        }
        f.add(&conn(
            "curl",
            Some("/"),
            false,
            ("127.0.0.1", 5557, 0),
            ("127.0.0.1", 9, 0),
        ));
        f.add(&peer("curl", None, "127.0.0.1", 1, 20, "10:9"));
        f.add(&peer("loglynx", Some("/"), "127.0.0.1", 0, 30, "12:1"));
        // A summary with no owner (pid 0: segments the kernel sent for no process).
        f.add(&peer("", None, "127.0.0.1", 0, 5, "3:1"));
        let m = f.answer(10, (8, 8));
        let edge = |s: &str, t: &str| {
            m.edges
                .iter()
                .find(|e| e.source == s && e.target == t)
                .unwrap()
        };
        let web = edge("curl (/)", "loglynx (/)");
        assert_eq!((web.connections, web.bytes), (2, 4700));
        assert_eq!(
            (web.segs_out, web.retransmits, web.rtt_samples),
            (50, 1, 10)
        );
        // The failed connect shares the address but not the summaries.
        let refused = edge("curl (/)", "127.0.0.1:9");
        assert_eq!(
            (refused.connections, refused.segs_out, refused.rtt_samples),
            (1, 0, 0)
        );
        assert_eq!(edge("(no owner)", "127.0.0.1").segs_out, 5);
        assert_eq!(m.edges.iter().map(|e| e.segs_out).sum::<u64>(), 55);
        assert_eq!(m.edges.len(), 3);
    }

    #[test]
    fn size_keeps_the_heaviest_edges_and_their_nodes() {
        let mut f = Fold::default();
        for i in 0..60u16 {
            f.add(&conn(
                "c",
                None,
                false,
                ("10.0.0.1", 40000 + i, u64::from(i)),
                ("10.1.0.1", 1000 + i, 0),
            ));
        }
        let m = f.answer(50, (60, 60));
        assert_eq!((m.edges_total, m.edges.len(), m.nodes.len()), (60, 50, 51));
        assert_eq!(m.edges[0].target, "10.1.0.1:1059");
        assert!(m.edges.iter().all(|e| e.bytes >= 10));
    }
}
