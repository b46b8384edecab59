//! Network performance counters kept in kernel maps (when the tracer is started with
//! [`crate::TracerConfig::perf`]) and read periodically: retransmits and resets per socket
//! owner, live bytes per process (`sock_send_length` / `sock_recv_length`), smoothed-RTT log2
//! histograms per owner and peer (`tcp_probe`, at most one sample per socket per 10 ms), and
//! dropped packets per drop reason (`kfree_skb`) and resets sent per reset reason.
//!
//! The counters are cumulative since the tracer started; a reader wanting rates takes the
//! difference of two snapshots. Reason names come from the tracepoints' own format files
//! (`__print_symbolic` tables in tracefs), so they match the running kernel.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// Counters of one socket owner (`struct perf` in tcpstates.bpf.c).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerfRaw {
    pub retrans: u64,
    pub synack_retrans: u64,
    pub rst_sent: u64,
    pub rst_recv: u64,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub drops: u64,
    pub comm: [u8; 16],
}
// SAFETY: plain data, no padding (7 u64 + 16 bytes), any bit pattern valid.
unsafe impl aya::Pod for PerfRaw {}

/// `struct rtt_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct RttKeyRaw {
    pub pid: u32,
    pub family: u16,
    pub pad: u16,
    pub daddr: [u8; 16],
}
// SAFETY: plain data, no padding (4 + 2 + 2 + 16 bytes).
unsafe impl aya::Pod for RttKeyRaw {}

/// `struct owner_drop_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnerDropKeyRaw {
    pub pid: u32,
    pub reason: u32,
}
// SAFETY: plain data, no padding (2 u32).
unsafe impl aya::Pod for OwnerDropKeyRaw {}

/// Log2 slots of an RTT histogram.
pub const RTT_SLOTS: usize = 32;

/// `struct rtt_hist`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct RttRaw {
    pub slots: [u64; RTT_SLOTS],
    pub count: u64,
    pub sum_us: u64,
    pub retrans: u64,
    pub segs_out: u64,
}
// SAFETY: plain data, u64s only.
unsafe impl aya::Pod for RttRaw {}

/// Counters of one process (tgid); pid 0 gathers events whose socket owner was not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessPerf {
    /// Process id (0: unknown owner).
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Segments retransmitted on its sockets (`tcp_retransmit_skb`, counting the segments of
    /// each skb, as the kernel's `total_retrans` does).
    pub retransmits: u64,
    /// SYN-ACKs retransmitted by its listeners.
    pub synack_retransmits: u64,
    /// Resets sent on its sockets.
    pub resets_sent: u64,
    /// Resets received on its sockets.
    pub resets_received: u64,
    /// Bytes it sent (successful send calls).
    pub tx_bytes: u64,
    /// Bytes it received.
    pub rx_bytes: u64,
    /// Packets its sockets received that the kernel dropped (`kfree_skb` with `rx_sk`; Linux
    /// 6.11+, else 0).
    pub drops: u64,
}

/// One non-empty bucket of an RTT histogram: samples in `[lo_us, hi_us)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RttBucket {
    /// Lower bound, microseconds (inclusive).
    pub lo_us: u64,
    /// Upper bound, microseconds (exclusive).
    pub hi_us: u64,
    /// Samples.
    pub count: u64,
}

/// Smoothed-RTT samples, retransmits and segments sent of one owner towards one peer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RttHistogram {
    /// Owner process id (0: unknown owner).
    pub pid: u32,
    /// Peer address.
    pub peer: IpAddr,
    /// Segments retransmitted to the peer (counted like [`ProcessPerf::retransmits`], on
    /// connections seen reaching ESTABLISHED).
    pub retransmits: u64,
    /// Segments sent to the peer (`tcp_sock.segs_out` of those connections, read at each
    /// sample and at close): the denominator of the retransmit rate.
    pub segs_out: u64,
    /// Samples.
    pub count: u64,
    /// Mean of the samples, microseconds.
    pub mean_us: f64,
    /// Upper bound of the bucket holding the median / 99th percentile, microseconds.
    pub p50_us: u64,
    /// See `p50_us`.
    pub p99_us: u64,
    /// The non-empty buckets, in order.
    pub buckets: Vec<RttBucket>,
}

/// Occurrences of one kernel reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The kernel's number.
    pub code: u32,
    /// Its name (from the tracepoint's format), or `reason <code>`.
    pub reason: String,
    /// Occurrences.
    pub count: u64,
}

/// Drops of packets received by the sockets of one owner, for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerDrops {
    /// Owner process id.
    pub pid: u32,
    /// The kernel's drop reason number.
    pub code: u32,
    /// Its name (see [`ReasonCount::reason`]).
    pub reason: String,
    /// Packets dropped.
    pub count: u64,
}

/// Everything the perf maps hold, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PerfSnapshot {
    /// Per process, by pid.
    pub processes: Vec<ProcessPerf>,
    /// Per owner and peer, by pid then peer.
    pub rtt: Vec<RttHistogram>,
    /// Dropped packets per drop reason (`kfree_skb`), most frequent first.
    pub drops: Vec<ReasonCount>,
    /// Dropped packets per owner and reason, for packets a known socket received (`kfree_skb`'s
    /// `rx_sk`), by pid then most frequent first.
    pub owner_drops: Vec<OwnerDrops>,
    /// Resets sent per reset reason (`tcp_send_reset`), most frequent first.
    pub resets: Vec<ReasonCount>,
    /// Owners not counted because the per-owner map was full.
    pub owners_overflow: u64,
    /// RTT samples not counted because the histogram map was full.
    pub rtt_overflow: u64,
    /// Drops not counted per owner because the per-owner drop map was full.
    pub owner_drops_overflow: u64,
}

pub(crate) fn comm_of(raw: &[u8; 16]) -> String {
    let n = raw.iter().position(|c| *c == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..n]).into_owned()
}

pub(crate) fn process(pid: u32, r: &PerfRaw) -> ProcessPerf {
    ProcessPerf {
        pid,
        comm: comm_of(&r.comm),
        retransmits: r.retrans,
        synack_retransmits: r.synack_retrans,
        resets_sent: r.rst_sent,
        resets_received: r.rst_recv,
        tx_bytes: r.tx_bytes,
        rx_bytes: r.rx_bytes,
        drops: r.drops,
    }
}

pub(crate) fn histogram(k: &RttKeyRaw, v: &RttRaw) -> RttHistogram {
    let peer = if k.family == 2 {
        IpAddr::V4(Ipv4Addr::new(
            k.daddr[0], k.daddr[1], k.daddr[2], k.daddr[3],
        ))
    } else {
        IpAddr::V6(Ipv6Addr::from(k.daddr))
    };
    let buckets: Vec<RttBucket> = v
        .slots
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| RttBucket {
            lo_us: 1u64 << i,
            hi_us: 1u64 << (i + 1),
            count: *n,
        })
        .collect();
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let quantile = |q: f64| {
        let want = (total as f64 * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for b in &buckets {
            seen += b.count;
            if seen >= want {
                return b.hi_us;
            }
        }
        0
    };
    RttHistogram {
        pid: k.pid,
        peer,
        retransmits: v.retrans,
        segs_out: v.segs_out,
        count: v.count,
        mean_us: if v.count > 0 {
            v.sum_us as f64 / v.count as f64
        } else {
            0.0
        },
        p50_us: quantile(0.5),
        p99_us: quantile(0.99),
        buckets,
    }
}

/// `{ N, "NAME" }` pairs of the `__print_symbolic(REC->reason, ...)` table in a tracepoint
/// format file.
pub(crate) fn reason_names(format: &str) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    let Some(at) = format.find("__print_symbolic(REC->reason") else {
        return out;
    };
    let mut rest = &format[at..];
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let pair = &rest[open + 1..open + close];
        if let Some((num, name)) = pair.split_once(',') {
            if let Ok(n) = num.trim().parse::<u32>() {
                out.insert(n, name.trim().trim_matches('"').to_string());
            }
        }
        rest = &rest[open + close + 1..];
        if !rest.trim_start().starts_with(',') {
            break;
        }
    }
    out
}

/// Names of the reasons of tracepoint `category/event` (empty when tracefs lacks it).
pub(crate) fn tracepoint_reasons(category: &str, event: &str) -> HashMap<u32, String> {
    for base in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if let Ok(f) = std::fs::read_to_string(format!("{base}/events/{category}/{event}/format")) {
            return reason_names(&f);
        }
    }
    HashMap::new()
}

fn reason_name(code: u32, names: &HashMap<u32, String>) -> String {
    names
        .get(&code)
        .cloned()
        .unwrap_or_else(|| format!("reason {code}"))
}

pub(crate) fn owner_drops(
    raw: Vec<(OwnerDropKeyRaw, u64)>,
    names: &HashMap<u32, String>,
) -> Vec<OwnerDrops> {
    let mut out: Vec<OwnerDrops> = raw
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, count)| OwnerDrops {
            pid: k.pid,
            code: k.reason,
            reason: reason_name(k.reason, names),
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        a.pid
            .cmp(&b.pid)
            .then(b.count.cmp(&a.count))
            .then(a.code.cmp(&b.code))
    });
    out
}

pub(crate) fn counts(per_code: Vec<(u32, u64)>, names: &HashMap<u32, String>) -> Vec<ReasonCount> {
    let mut out: Vec<ReasonCount> = per_code
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(code, count)| ReasonCount {
            code,
            reason: reason_name(code, names),
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reason_tables_from_a_format_file() {
        let f = r#"print fmt: "skbaddr=%p reason: %s", REC->skbaddr, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 16, "NETFILTER_DROP" })"#;
        let m = reason_names(f);
        assert_eq!(m.len(), 3);
        assert_eq!(m[&3], "NO_SOCKET");
        assert!(reason_names("print fmt: \"x\"").is_empty());
        let c = counts(vec![(2, 5), (3, 0), (99, 7)], &m);
        assert_eq!(
            c[0],
            ReasonCount {
                code: 99,
                reason: "reason 99".into(),
                count: 7
            }
        );
        assert_eq!(c[1].reason, "NOT_SPECIFIED");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn histograms_have_log2_buckets_and_percentiles() {
        let mut v = RttRaw {
            slots: [0; RTT_SLOTS],
            count: 10,
            sum_us: 10 * 50_000,
            retrans: 3,
            segs_out: 300,
        };
        v.slots[15] = 9; // 32768..65536 us
        v.slots[17] = 1;
        let k = RttKeyRaw {
            pid: 7,
            family: 2,
            pad: 0,
            daddr: [10, 77, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        let h = histogram(&k, &v);
        assert_eq!(h.peer, "10.77.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            h.buckets[0],
            RttBucket {
                lo_us: 32768,
                hi_us: 65536,
                count: 9
            }
        );
        assert_eq!((h.p50_us, h.p99_us), (65536, 262144));
        assert_eq!(h.mean_us, 50_000.0);
        assert_eq!((h.retransmits, h.segs_out), (3, 300));
    }
}
