//! One TCP state change as user space sees it: decoded from the ring buffer record, printed as
//! a table row, serialised as JSON, turned into an [`Event`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use loglynx_core::{Event, Timestamp};
use serde::Serialize;

use crate::states::TcpState;

/// `event.dataset` of TCP state change events.
pub const DATASET: &str = "network.tcp";

/// Size of `struct event` in tcpstates.bpf.c.
pub(crate) const RECORD_LEN: usize = 88;

/// How the reported process was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// Unknown owner: the task that was on the CPU (may be unrelated in softirq context).
    Current,
    /// Recorded when the socket entered SYN_SENT, in the `connect()` caller's context.
    Connect,
    /// Inherited from the process that called `listen()` (a child not accepted yet).
    Listen,
    /// Recorded when `accept()` returned the socket.
    Accept,
    /// Recorded on another process-context transition (`listen()` itself).
    Socket,
    /// The last process that sent or received on the socket.
    Io,
}

impl Owner {
    pub(crate) fn from_kernel(n: u8) -> Self {
        match n {
            1 => Owner::Connect,
            2 => Owner::Listen,
            3 => Owner::Accept,
            4 => Owner::Socket,
            5 => Owner::Io,
            _ => Owner::Current,
        }
    }
}

/// One TCP state change of one socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpTransition {
    /// Wall-clock time of the change.
    #[serde(rename = "time")]
    pub timestamp: Timestamp,
    /// Kernel monotonic time of the change (ns), for ordering and intervals.
    pub monotonic_ns: u64,
    /// Kernel address of the socket: identifies one socket during its life.
    #[serde(serialize_with = "hex_u64")]
    pub skaddr: u64,
    /// Process id (tgid) of the socket's owner, see `owner`.
    pub pid: u32,
    /// Command name of the owner (at most 15 bytes, from the kernel).
    pub comm: String,
    /// How `pid` and `comm` were found.
    pub owner: Owner,
    /// Local address (v4 sockets as IPv4, v6 sockets as IPv6).
    pub laddr: IpAddr,
    /// Local port.
    pub lport: u16,
    /// Remote address.
    pub raddr: IpAddr,
    /// Remote port.
    pub rport: u16,
    /// State before the change.
    pub old_state: TcpState,
    /// State after the change.
    pub new_state: TcpState,
    /// Time spent in `old_state`, microseconds; 0 when the socket was not seen entering it.
    pub state_duration_us: u64,
}

fn hex_u64<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:x}"))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(a)
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(a)
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

pub(crate) fn addr(family: u16, raw: &[u8]) -> IpAddr {
    if family == 2 {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&raw[..16]);
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

impl TcpTransition {
    /// Decodes one ring buffer record; `None` when it is shorter than `struct event`.
    /// `boot_offset_ns` is wall-clock minus monotonic time, to date the record.
    pub(crate) fn decode(b: &[u8], boot_offset_ns: i64) -> Option<Self> {
        if b.len() < RECORD_LEN {
            return None;
        }
        let ts = u64_at(b, 0);
        let family = u16_at(b, 28);
        let comm_raw = &b[72..88];
        let comm_len = comm_raw
            .iter()
            .position(|c| *c == 0)
            .unwrap_or(comm_raw.len());
        Some(TcpTransition {
            timestamp: Timestamp((ts as i64).saturating_add(boot_offset_ns)),
            monotonic_ns: ts,
            skaddr: u64_at(b, 8),
            state_duration_us: u64_at(b, 16),
            pid: u32_at(b, 24),
            lport: u16_at(b, 30),
            rport: u16_at(b, 32),
            old_state: TcpState::from_kernel(b[34]),
            new_state: TcpState::from_kernel(b[35]),
            owner: Owner::from_kernel(b[36]),
            laddr: addr(family, &b[40..56]),
            raddr: addr(family, &b[56..72]),
            comm: String::from_utf8_lossy(&comm_raw[..comm_len]).into_owned(),
        })
    }

    /// Time spent in the old state, in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.state_duration_us as f64 / 1000.0
    }

    /// A one-line description, used as the event's `message`.
    pub fn message(&self) -> String {
        format!(
            "tcp {} -> {} {} -> {} pid {} ({}) after {:.3} ms",
            self.old_state,
            self.new_state,
            sock_addr(self.laddr, self.lport),
            sock_addr(self.raddr, self.rport),
            self.pid,
            self.comm,
            self.duration_ms()
        )
    }

    /// The normalised event: local end as `source.*`, remote end as `destination.*`,
    /// `network.transport=tcp`, the states and time in the old state in `tcp.*`; the socket
    /// address and owner source in `labels.tcp.skaddr` and `labels.tcp.owner`.
    /// `event.id` is derived from the socket and the kernel time, so it is stable for a record.
    pub fn to_event(&self) -> Event {
        let id = format!("tcp-{:x}-{:x}", self.skaddr, self.monotonic_ns);
        let mut e = Event::new(self.message(), self.timestamp, Timestamp::now(), id);
        e.dataset = Some(DATASET.to_string());
        e.process_name = Some(self.comm.clone());
        e.pid = Some(self.pid);
        e.source_ip = Some(self.laddr.to_string());
        e.source_port = Some(self.lport);
        e.destination_ip = Some(self.raddr.to_string());
        e.destination_port = Some(self.rport);
        e.network_transport = Some("tcp".to_string());
        e.tcp_old_state = Some(self.old_state.name().to_string());
        e.tcp_new_state = Some(self.new_state.name().to_string());
        e.tcp_state_duration_us = Some(self.state_duration_us);
        e.labels
            .insert("tcp.skaddr".into(), format!("{:x}", self.skaddr));
        let owner = serde_json::to_value(self.owner).ok();
        if let Some(serde_json::Value::String(o)) = owner {
            e.labels.insert("tcp.owner".into(), o);
        }
        e
    }

    /// The table row for `layout`, matching [`Layout::header`].
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
            "{time}{:<16x} {:<7} {:<16} {:<aw$} {:<5} {:<aw$} {:<5} {:<11} -> {:<11} {:.3}",
            self.skaddr,
            self.pid,
            self.comm,
            self.laddr.to_string(),
            self.lport,
            self.raddr.to_string(),
            self.rport,
            self.old_state,
            self.new_state,
            self.duration_ms(),
        )
    }
}

pub(crate) fn sock_addr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Table layout options (`--timestamp`, `--wide`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Prefix each row with the wall-clock time (HH:MM:SS.mmm).
    pub timestamp: bool,
    /// Address columns wide enough for IPv6 (39 characters instead of 15).
    pub wide: bool,
}

impl Layout {
    pub(crate) fn addr_width(self) -> usize {
        if self.wide {
            39
        } else {
            15
        }
    }

    /// The header line for this layout.
    pub fn header(self) -> String {
        let aw = self.addr_width();
        let time = if self.timestamp {
            format!("{:<12} ", "TIME")
        } else {
            String::new()
        };
        format!(
            "{time}{:<16} {:<7} {:<16} {:<aw$} {:<5} {:<aw$} {:<5} {:<11} -> {:<11} {}",
            "SKADDR",
            "PID",
            "COMM",
            "LADDR",
            "LPORT",
            "RADDR",
            "RPORT",
            "OLDSTATE",
            "NEWSTATE",
            "MS"
        )
    }
}

impl fmt::Display for TcpTransition {
    /// The default table row (no time column, narrow addresses).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.row(Layout::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(family: u16) -> Vec<u8> {
        let mut b = vec![0u8; RECORD_LEN];
        b[0..8].copy_from_slice(&5_000_000_000u64.to_ne_bytes());
        b[8..16].copy_from_slice(&0xffff_8881_0000_1000u64.to_ne_bytes());
        b[16..24].copy_from_slice(&1234u64.to_ne_bytes());
        b[24..28].copy_from_slice(&4242u32.to_ne_bytes());
        b[28..30].copy_from_slice(&family.to_ne_bytes());
        b[30..32].copy_from_slice(&8080u16.to_ne_bytes());
        b[32..34].copy_from_slice(&51000u16.to_ne_bytes());
        b[34] = 1; // ESTABLISHED
        b[35] = 8; // CLOSE_WAIT
        b[36] = 3; // accept
        if family == 2 {
            b[40..44].copy_from_slice(&[127, 0, 0, 1]);
            b[56..60].copy_from_slice(&[10, 1, 2, 3]);
        } else {
            b[40..56].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
            b[56..72].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        }
        b[72..79].copy_from_slice(b"python3");
        b
    }

    #[test]
    fn decodes_a_v4_record() {
        let t = TcpTransition::decode(&record(2), 1_000_000_000).unwrap();
        assert_eq!(t.timestamp, Timestamp(6_000_000_000));
        assert_eq!(t.skaddr, 0xffff_8881_0000_1000);
        assert_eq!(t.state_duration_us, 1234);
        assert_eq!(
            (t.pid, t.comm.as_str(), t.owner),
            (4242, "python3", Owner::Accept)
        );
        assert_eq!(t.laddr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(t.raddr, "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!((t.lport, t.rport), (8080, 51000));
        assert_eq!(
            (t.old_state, t.new_state),
            (TcpState::Established, TcpState::CloseWait)
        );
        assert!(TcpTransition::decode(&record(2)[..87], 0).is_none());
    }

    #[test]
    fn decodes_a_v6_record_and_formats_it() {
        let t = TcpTransition::decode(&record(10), 0).unwrap();
        assert_eq!(t.raddr, "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!(
            t.to_string(),
            "ffff888100001000 4242    python3          ::1             8080  2001:db8::7     \
             51000 ESTABLISHED -> CLOSE_WAIT  1.234"
        );
        let wide = Layout {
            wide: true,
            timestamp: false,
        };
        assert_eq!(wide.header().split_whitespace().count(), 11);
        assert!(t
            .row(wide)
            .starts_with("ffff888100001000 4242    python3          ::1      "));
        assert_eq!(t.message(), "tcp ESTABLISHED -> CLOSE_WAIT [::1]:8080 -> [2001:db8::7]:51000 pid 4242 (python3) after 1.234 ms");
    }

    #[test]
    fn json_and_event_use_expected_fields() {
        let t = TcpTransition::decode(&record(2), 0).unwrap();
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["skaddr"], "ffff888100001000");
        assert_eq!(v["old_state"], "ESTABLISHED");
        assert_eq!(v["new_state"], "CLOSE_WAIT");
        assert_eq!(v["owner"], "accept");
        assert_eq!(v["laddr"], "127.0.0.1");
        assert_eq!(v["state_duration_us"], 1234);
        let e = serde_json::to_value(t.to_event()).unwrap();
        assert_eq!(e["network.transport"], "tcp");
        assert_eq!(e["event.dataset"], "network.tcp");
        assert_eq!(e["tcp.old_state"], "ESTABLISHED");
        assert_eq!(e["tcp.new_state"], "CLOSE_WAIT");
        assert_eq!(e["tcp.state_duration_us"], 1234);
        assert_eq!(e["process.pid"], 4242);
        assert_eq!(e["process.name"], "python3");
        assert_eq!(e["source.ip"], "127.0.0.1");
        assert_eq!(e["source.port"], 8080);
        assert_eq!(e["destination.ip"], "10.1.2.3");
        assert_eq!(e["destination.port"], 51000);
        assert_eq!(e["labels.tcp.owner"], "accept");
        assert_eq!(e["event.id"], "tcp-ffff888100001000-12a05f200");
    }
}
