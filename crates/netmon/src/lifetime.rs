//! One finished TCP connection (like libbpf-tools' tcplife): decoded from the `lives` ring
//! buffer, printed as a table row, serialised as JSON, turned into a `network.connection` event.
//!
//! The kernel side reads the socket's counters from `struct tcp_sock` (CO-RE) at the change to
//! CLOSE, so every socket gives one record: a loopback connection gives two, one per end, each
//! naming its own owner.

use std::fmt;
use std::net::IpAddr;

use loglynx_core::{Event, Timestamp};
use serde::Serialize;

use crate::transition::{addr, sock_addr, u16_at, u32_at, u64_at, Layout, Owner};

/// `event.dataset` of connection lifetime events.
pub const DATASET: &str = "network.connection";

/// Size of `struct life` in tcpstates.bpf.c.
pub(crate) const LIFE_LEN: usize = 120;

/// One finished connection, seen from one of its sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnLife {
    /// Wall-clock time the socket closed.
    #[serde(rename = "time")]
    pub timestamp: Timestamp,
    /// Kernel monotonic time of the close (ns).
    pub monotonic_ns: u64,
    /// Kernel address of the socket.
    #[serde(serialize_with = "hex_u64")]
    pub skaddr: u64,
    /// Process id (tgid) of the socket's owner.
    pub pid: u32,
    /// Command name of the owner.
    pub comm: String,
    /// How `pid` and `comm` were found.
    pub owner: Owner,
    /// Local address.
    pub laddr: IpAddr,
    /// Local port (from the tracepoint: the socket's own field is already 0 at CLOSE).
    pub lport: u16,
    /// Remote address.
    pub raddr: IpAddr,
    /// Remote port.
    pub rport: u16,
    /// Whether this socket connected (true) or was accepted (false).
    pub active: bool,
    /// From SYN_SENT (or the passive open) to CLOSE, nanoseconds.
    pub duration_ns: u64,
    /// Bytes this socket sent that the peer acknowledged (`bytes_acked`).
    pub tx_bytes: u64,
    /// Bytes this socket received (`bytes_received`).
    pub rx_bytes: u64,
    /// Segments retransmitted (`total_retrans`).
    pub retransmits: u32,
    /// Segments sent (`segs_out`).
    pub segs_out: u32,
    /// Smoothed round-trip time at close, microseconds.
    pub srtt_us: u32,
    /// The socket's cgroup v2 id (0: unknown).
    pub cgroup_id: u64,
    /// The cgroup's path, when the tracer could resolve the id (the cgroup may be gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
}

fn hex_u64<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:x}"))
}

impl ConnLife {
    /// Decodes one record of the `lives` ring buffer; `None` when it is too short.
    pub(crate) fn decode(b: &[u8], boot_offset_ns: i64) -> Option<Self> {
        if b.len() < LIFE_LEN {
            return None;
        }
        let ts = u64_at(b, 0);
        let family = u16_at(b, 56);
        let comm_raw = &b[96..112];
        let comm_len = comm_raw
            .iter()
            .position(|c| *c == 0)
            .unwrap_or(comm_raw.len());
        Some(ConnLife {
            timestamp: Timestamp((ts as i64).saturating_add(boot_offset_ns)),
            monotonic_ns: ts,
            skaddr: u64_at(b, 8),
            duration_ns: u64_at(b, 16),
            tx_bytes: u64_at(b, 24),
            rx_bytes: u64_at(b, 32),
            pid: u32_at(b, 40),
            retransmits: u32_at(b, 44),
            segs_out: u32_at(b, 48),
            srtt_us: u32_at(b, 52),
            lport: u16_at(b, 58),
            rport: u16_at(b, 60),
            active: b[62] != 0,
            owner: Owner::from_kernel(b[63]),
            laddr: addr(family, &b[64..80]),
            raddr: addr(family, &b[80..96]),
            comm: String::from_utf8_lossy(&comm_raw[..comm_len]).into_owned(),
            cgroup_id: u64_at(b, 112),
            cgroup: None,
        })
    }

    /// Lifetime in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.duration_ns as f64 / 1e6
    }

    /// The side that connected and the side that accepted, each with the bytes it sent:
    /// `((ip, port, bytes), (ip, port, bytes))`.
    pub fn source_destination(&self) -> ((IpAddr, u16, u64), (IpAddr, u16, u64)) {
        let local = (self.laddr, self.lport, self.tx_bytes);
        let remote = (self.raddr, self.rport, self.rx_bytes);
        if self.active {
            (local, remote)
        } else {
            (remote, local)
        }
    }

    /// A one-line description, used as the event's `message`.
    pub fn message(&self) -> String {
        let dir = if self.active { "to" } else { "from" };
        format!(
            "tcp connection {} {dir} {} pid {} ({}) closed after {:.3} ms: {} bytes sent, {} \
             received, {} retransmits, srtt {} us",
            sock_addr(self.laddr, self.lport),
            sock_addr(self.raddr, self.rport),
            self.pid,
            self.comm,
            self.duration_ms(),
            self.tx_bytes,
            self.rx_bytes,
            self.retransmits,
            self.srtt_us,
        )
    }

    /// The `network.connection` event: `source.*` is the side that connected, `destination.*`
    /// the side that accepted (whichever end this socket is), with the bytes each sent;
    /// `process.*` is this socket's owner; `event.duration` in ns; `tcp.retransmits`,
    /// `tcp.srtt_us`; labels `tcp.skaddr`, `tcp.owner`, `tcp.segs_out` and `network.direction`
    /// (`outbound` for the connecting socket, `inbound` for the accepted one).
    pub fn to_event(&self) -> Event {
        let id = format!("tcplife-{:x}-{:x}", self.skaddr, self.monotonic_ns);
        let mut e = Event::new(self.message(), self.timestamp, Timestamp::now(), id);
        let ((sip, sport, sbytes), (dip, dport, dbytes)) = self.source_destination();
        e.dataset = Some(DATASET.to_string());
        e.category = Some("network".into());
        e.process_name = Some(self.comm.clone());
        e.pid = Some(self.pid);
        e.source_ip = Some(sip.to_string());
        e.source_port = Some(sport);
        e.destination_ip = Some(dip.to_string());
        e.destination_port = Some(dport);
        e.network_transport = Some("tcp".to_string());
        e.source_bytes = Some(sbytes);
        e.destination_bytes = Some(dbytes);
        e.network_bytes = Some(sbytes.saturating_add(dbytes));
        e.duration_ns = Some(self.duration_ns);
        e.tcp_retransmits = Some(u64::from(self.retransmits));
        e.tcp_srtt_us = Some(u64::from(self.srtt_us));
        e.labels
            .insert("tcp.skaddr".into(), format!("{:x}", self.skaddr));
        e.labels
            .insert("tcp.segs_out".into(), self.segs_out.to_string());
        e.labels.insert(
            "network.direction".into(),
            if self.active { "outbound" } else { "inbound" }.into(),
        );
        if let Ok(serde_json::Value::String(o)) = serde_json::to_value(self.owner) {
            e.labels.insert("tcp.owner".into(), o);
        }
        if let Some(path) = &self.cgroup {
            e.labels.insert("cgroup.path".into(), path.clone());
            match crate::cgroup::service_of(path) {
                Some(s) if s.contains(':') => {
                    e.labels.insert("container.id".into(), s);
                }
                Some(unit) => e.systemd_unit = Some(unit),
                None => {}
            }
        }
        e
    }

    /// The table row for `layout`, matching [`ConnLife::header`] (libbpf-tools' tcplife
    /// columns: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS).
    pub fn row(&self, layout: Layout) -> String {
        let aw = layout.addr_width();
        let time = if layout.timestamp {
            format!(
                "{:<12} ",
                self.timestamp.to_datetime().format("%H:%M:%S%.3f")
            )
        } else {
            String::new()
        };
        format!(
            "{time}{:<7} {:<16} {:<aw$} {:<5} {:<aw$} {:<5} {:<6} {:<6} {:.2}",
            self.pid,
            self.comm,
            self.laddr.to_string(),
            self.lport,
            self.raddr.to_string(),
            self.rport,
            self.tx_bytes / 1024,
            self.rx_bytes / 1024,
            self.duration_ms(),
        )
    }

    /// The header line for `layout`.
    pub fn header(layout: Layout) -> String {
        let aw = layout.addr_width();
        let time = if layout.timestamp {
            format!("{:<12} ", "TIME")
        } else {
            String::new()
        };
        format!(
            "{time}{:<7} {:<16} {:<aw$} {:<5} {:<aw$} {:<5} {:<6} {:<6} {}",
            "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"
        )
    }
}

impl fmt::Display for ConnLife {
    /// The default table row (no time column, narrow addresses).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.row(Layout::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(active: bool) -> Vec<u8> {
        let mut b = vec![0u8; LIFE_LEN];
        b[0..8].copy_from_slice(&5_000_000_000u64.to_ne_bytes());
        b[8..16].copy_from_slice(&0xffff_8881_0000_2000u64.to_ne_bytes());
        b[16..24].copy_from_slice(&12_345_678u64.to_ne_bytes());
        b[24..32].copy_from_slice(&(300u64 * 1024).to_ne_bytes());
        b[32..40].copy_from_slice(&2049u64.to_ne_bytes());
        b[40..44].copy_from_slice(&4242u32.to_ne_bytes());
        b[44..48].copy_from_slice(&3u32.to_ne_bytes());
        b[48..52].copy_from_slice(&250u32.to_ne_bytes());
        b[52..56].copy_from_slice(&51_000u32.to_ne_bytes());
        b[56..58].copy_from_slice(&2u16.to_ne_bytes());
        b[58..60].copy_from_slice(&40000u16.to_ne_bytes());
        b[60..62].copy_from_slice(&80u16.to_ne_bytes());
        b[62] = u8::from(active);
        b[63] = 1; // connect
        b[64..68].copy_from_slice(&[10, 0, 0, 1]);
        b[80..84].copy_from_slice(&[10, 0, 0, 2]);
        b[96..100].copy_from_slice(b"curl");
        b[112..120].copy_from_slice(&4242u64.to_ne_bytes());
        b
    }

    #[test]
    fn decodes_and_prints_like_tcplife() {
        let l = ConnLife::decode(&record(true), 1_000_000_000).unwrap();
        assert_eq!(l.timestamp, Timestamp(6_000_000_000));
        assert_eq!(
            (l.pid, l.comm.as_str(), l.owner),
            (4242, "curl", Owner::Connect)
        );
        assert_eq!((l.lport, l.rport, l.active), (40000, 80, true));
        assert_eq!((l.tx_bytes, l.rx_bytes), (307_200, 2049));
        assert_eq!((l.retransmits, l.segs_out, l.srtt_us), (3, 250, 51_000));
        assert_eq!((l.cgroup_id, l.cgroup.as_deref()), (4242, None));
        assert_eq!(
            l.to_string(),
            "4242    curl             10.0.0.1        40000 10.0.0.2        80    300    2      12.35"
        );
        assert_eq!(
            ConnLife::header(Layout::default()),
            "PID     COMM             LADDR           LPORT RADDR           RPORT TX_KB  RX_KB  MS"
        );
        assert!(ConnLife::decode(&record(true)[..LIFE_LEN - 1], 0).is_none());
    }

    #[test]
    fn source_is_the_side_that_connected() {
        let out =
            serde_json::to_value(ConnLife::decode(&record(true), 0).unwrap().to_event()).unwrap();
        assert_eq!(out["event.dataset"], "network.connection");
        assert_eq!(out["source.ip"], "10.0.0.1");
        assert_eq!(out["source.port"], 40000);
        assert_eq!(out["destination.port"], 80);
        assert_eq!(out["source.bytes"], 307_200);
        assert_eq!(out["destination.bytes"], 2049);
        assert_eq!(out["network.bytes"], 307_200 + 2049);
        assert_eq!(out["event.duration"], 12_345_678);
        assert_eq!(out["tcp.retransmits"], 3);
        assert_eq!(out["tcp.srtt_us"], 51_000);
        assert_eq!(out["process.pid"], 4242);
        assert_eq!(out["labels.network.direction"], "outbound");
        assert_eq!(out["event.id"], "tcplife-ffff888100002000-12a05f200");
        let mut l = ConnLife::decode(&record(true), 0).unwrap();
        l.cgroup = Some("/system.slice/nginx.service".into());
        let e = l.to_event();
        assert_eq!(e.systemd_unit.as_deref(), Some("nginx.service"));
        assert_eq!(e.labels["cgroup.path"], "/system.slice/nginx.service");

        // The accepted end of the same connection: local is the destination.
        let inb =
            serde_json::to_value(ConnLife::decode(&record(false), 0).unwrap().to_event()).unwrap();
        assert_eq!(inb["source.ip"], "10.0.0.2");
        assert_eq!(inb["source.port"], 80);
        assert_eq!(inb["destination.ip"], "10.0.0.1");
        assert_eq!(inb["destination.port"], 40000);
        assert_eq!(
            inb["source.bytes"], 2049,
            "sent by the remote (connecting) side"
        );
        assert_eq!(inb["destination.bytes"], 307_200);
        assert_eq!(inb["labels.network.direction"], "inbound");
    }
}
