//! `GET /api/v1/network/talkers`: top talkers over a time range, summed from the stored
//! `network.connection` events (one per finished TCP socket, see the netmon crate).
//!
//! The search API's terms aggregation counts events; talkers need bytes summed per (owner,
//! peer), which no existing endpoint does, hence this small fold over the matching events. It
//! reads them a page at a time and keeps only the groups, at most [`MAX_SCAN`] events per
//! request (`truncated` says when the range held more), so memory is bounded by the page size
//! and the number of distinct groups.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use loglynx_core::Event;
use loglynx_query::{SearchRequest, SortOrder, MAX_LIMIT};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::network_range::RangeParams;
use crate::routes::scan::ScanFold;
use crate::routes::{Answer, ApiQuery};
use crate::state::AppState;

/// Connections read per request at most (newest first).
pub(crate) const MAX_SCAN: usize = 100_000;
/// Groups returned when `size` is not given.
const DEFAULT_SIZE: usize = 20;
/// Groups returned at most.
const MAX_SIZE: usize = 1_000;

/// One (owner, peer) group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Talker {
    /// The socket owner's `process.name`.
    process: String,
    /// `systemd.unit`, else `labels.container.id`, else `labels.cgroup.path` ("" when unknown).
    service: String,
    /// `outbound` (the owner connected) or `inbound` (the owner accepted).
    direction: String,
    /// The other side's address.
    peer: String,
    /// Outbound: the peer's port; inbound: the owner's (listening) port.
    port: u16,
    connections: u64,
    /// Bytes the owner sent / received.
    sent_bytes: u64,
    received_bytes: u64,
    bytes: u64,
    retransmits: u64,
}

/// The answer.
#[derive(Debug, Serialize)]
pub(crate) struct TalkersResponse {
    /// `network.connection` events matching in the range.
    connections: u64,
    /// Events folded (newest first; fewer than `connections` when `truncated`).
    scanned: u64,
    truncated: bool,
    /// Groups in total (before `size`).
    groups: usize,
    /// Most bytes first.
    talkers: Vec<Talker>,
}

type Key = (String, String, String, String, u16);

/// The groups of one read ([`ScanFold`]): groups of the same key add up.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Groups(#[serde(with = "crate::routes::scan::pairs")] HashMap<Key, Talker>);

impl ScanFold for Groups {
    fn add(&mut self, e: &Event) {
        add(&mut self.0, e);
    }

    fn merge(&mut self, other: Self) {
        for (k, t) in other.0 {
            match self.0.get_mut(&k) {
                None => {
                    self.0.insert(k, t);
                }
                Some(m) => {
                    m.connections += t.connections;
                    m.sent_bytes = m.sent_bytes.saturating_add(t.sent_bytes);
                    m.received_bytes = m.received_bytes.saturating_add(t.received_bytes);
                    m.bytes = m.bytes.saturating_add(t.bytes);
                    m.retransmits = m.retransmits.saturating_add(t.retransmits);
                }
            }
        }
    }
}

/// Adds one `network.connection` event to the groups (events missing an address are skipped).
fn add(groups: &mut HashMap<Key, Talker>, e: &Event) {
    let (Some(sip), Some(dip)) = (&e.source_ip, &e.destination_ip) else {
        return;
    };
    let (sb, db) = (
        e.source_bytes.unwrap_or(0),
        e.destination_bytes.unwrap_or(0),
    );
    let inbound = e.labels.get("network.direction").map(String::as_str) == Some("inbound");
    let port = e.destination_port.unwrap_or(0);
    let (direction, peer, sent, received) = if inbound {
        ("inbound", sip, db, sb)
    } else {
        ("outbound", dip, sb, db)
    };
    let process = e.process_name.clone().unwrap_or_default();
    let service = e
        .systemd_unit
        .clone()
        .or_else(|| e.labels.get("container.id").cloned())
        .or_else(|| e.labels.get("cgroup.path").cloned())
        .unwrap_or_default();
    let key = (process, service, direction.to_string(), peer.clone(), port);
    let t = groups.entry(key).or_insert_with_key(|k| Talker {
        process: k.0.clone(),
        service: k.1.clone(),
        direction: k.2.clone(),
        peer: k.3.clone(),
        port: k.4,
        connections: 0,
        sent_bytes: 0,
        received_bytes: 0,
        bytes: 0,
        retransmits: 0,
    });
    t.connections += 1;
    t.sent_bytes = t.sent_bytes.saturating_add(sent);
    t.received_bytes = t.received_bytes.saturating_add(received);
    t.bytes = t.bytes.saturating_add(sent.saturating_add(received));
    t.retransmits = t.retransmits.saturating_add(e.tcp_retransmits.unwrap_or(0));
}

/// The groups, most bytes first (then most connections, then by name for a stable order).
fn ranked(groups: HashMap<Key, Talker>, size: usize) -> (usize, Vec<Talker>) {
    let n = groups.len();
    let mut v: Vec<Talker> = groups.into_values().collect();
    v.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.connections.cmp(&a.connections))
            .then_with(|| (&a.process, &a.peer, a.port).cmp(&(&b.process, &b.peer, b.port)))
    });
    v.truncate(size);
    (n, v)
}

/// Reads the events matching `f`, newest first, a page at a time, handing each to `each`, at
/// most [`MAX_SCAN`] of them: (how many match in all, how many were read).
pub(crate) fn scan(
    engine: &loglynx_query::QueryEngine,
    windows: &[loglynx_store::WindowSnapshot],
    f: &loglynx_query::Filter,
    mut each: impl FnMut(&Event),
) -> Result<(u64, usize), loglynx_query::QueryError> {
    let mut scanned = 0usize;
    let mut total = 0u64;
    while scanned < MAX_SCAN {
        let req = SearchRequest {
            filter: f.clone(),
            limit: MAX_LIMIT.min(MAX_SCAN - scanned),
            offset: scanned,
            sort: SortOrder::Desc,
        };
        let r = engine.search(windows, &req)?;
        total = r.total;
        for e in &r.hits {
            each(e);
        }
        scanned += r.hits.len();
        if r.hits.len() < req.limit {
            break;
        }
    }
    Ok((total, scanned))
}

/// Handler of `GET /api/v1/network/talkers`.
pub(crate) async fn talkers(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> Result<Json<Answer<TalkersResponse>>, ApiError> {
    let (f, size) = p.resolve("event.dataset:network.connection", DEFAULT_SIZE, MAX_SIZE)?;
    let out = crate::routes::scan::fold::<Groups>(&st, "talkers", f).await?;
    let s = out.body;
    let (n, talkers) = ranked(s.fold.0, size);
    Ok(Json(Answer {
        body: TalkersResponse {
            connections: s.total,
            scanned: s.scanned,
            truncated: s.truncated,
            groups: n,
            talkers,
        },
        missing: out.missing,
        approximate: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;

    fn conn(
        comm: &str,
        dir: &str,
        (s, sp, sb): (&str, u16, u64),
        (d, dp, db): (&str, u16, u64),
    ) -> Event {
        let mut e = Event::new(
            "c",
            Timestamp::from_secs(1),
            Timestamp::from_secs(1),
            "i".into(),
        );
        e.process_name = Some(comm.into());
        e.source_ip = Some(s.into());
        e.source_port = Some(sp);
        e.source_bytes = Some(sb);
        e.destination_ip = Some(d.into());
        e.destination_port = Some(dp);
        e.destination_bytes = Some(db);
        e.tcp_retransmits = Some(1);
        e.labels.insert("network.direction".into(), dir.into());
        e
    }

    #[test]
    fn sums_bytes_per_owner_and_peer_from_the_owners_side() {
        let mut g = HashMap::new();
        // curl connected twice to 10.0.0.2:443, sending 100 and receiving 5000 each time.
        for port in [40000, 40001] {
            add(
                &mut g,
                &conn(
                    "curl",
                    "outbound",
                    ("10.0.0.1", port, 100),
                    ("10.0.0.2", 443, 5000),
                ),
            );
        }
        // nginx accepted one from 10.0.0.9: it received 300 and sent 70000.
        let mut n = conn(
            "nginx",
            "inbound",
            ("10.0.0.9", 51000, 300),
            ("10.0.0.1", 80, 70000),
        );
        n.systemd_unit = Some("nginx.service".into());
        add(&mut g, &n);
        let (groups, top) = ranked(g, 10);
        assert_eq!(groups, 2);
        assert_eq!(
            (
                top[0].process.as_str(),
                top[0].service.as_str(),
                top[0].peer.as_str(),
                top[0].port
            ),
            ("nginx", "nginx.service", "10.0.0.9", 80)
        );
        assert_eq!(
            (top[0].sent_bytes, top[0].received_bytes, top[0].bytes),
            (70000, 300, 70300)
        );
        assert_eq!(top[0].direction, "inbound");
        assert_eq!(
            (top[1].process.as_str(), top[1].peer.as_str(), top[1].port),
            ("curl", "10.0.0.2", 443)
        );
        assert_eq!(
            (
                top[1].connections,
                top[1].sent_bytes,
                top[1].received_bytes,
                top[1].retransmits
            ),
            (2, 200, 10000, 2)
        );
    }

    #[test]
    fn two_reads_merged_through_json_equal_one_read() {
        let events: Vec<Event> = (0..20u16)
            .map(|i| conn(["curl", "wget"][usize::from(i % 2)], "outbound", ("10.0.0.1", 40000 + i, u64::from(i)), ("10.0.0.2", 443 + i % 3, 7)))
            .collect();
        let mut one = Groups::default();
        events.iter().for_each(|e| ScanFold::add(&mut one, e));
        let (mut a, mut b) = (Groups::default(), Groups::default());
        events[..7].iter().for_each(|e| ScanFold::add(&mut a, e));
        events[7..].iter().for_each(|e| ScanFold::add(&mut b, e));
        let wire = |g: &Groups| serde_json::from_str::<Groups>(&serde_json::to_string(g).unwrap()).unwrap();
        let mut merged = wire(&a);
        merged.merge(wire(&b));
        assert_eq!(ranked(merged.0, 100), ranked(one.0, 100));
    }
}
