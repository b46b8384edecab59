//! Kernel firewall lines: UFW (`[UFW BLOCK] IN=eth0 OUT= ... SRC=.. DST=.. PROTO=TCP SPT=.. DPT=..`)
//! and iptables / nftables `LOG` targets with any prefix. `source.ip`, `destination.ip`,
//! `source.port`, `destination.port`, `network.transport`, the interfaces as labels
//! `observer.ingress.interface.name` / `observer.egress.interface.name`, and `event.action`
//! from the UFW tag or the prefix's verb (`DROP`, `REJECT`, `ACCEPT`, ...).

use std::net::IpAddr;

use loglynx_core::Event;

use super::{find, set_event, split_str};

pub(super) fn decode(msg: &str, ev: &mut Event) {
    // Cheap checks first: most kernel lines are not firewall lines.
    let Some(at) = find(msg, "IN=") else { return };
    if find(msg, " SRC=").is_none() || find(msg, " DST=").is_none() {
        return;
    }
    let (prefix, fields) = msg.split_at(at);
    if !(prefix.is_empty() || prefix.ends_with(' ')) {
        return;
    }
    let mut src = None;
    let mut dst = None;
    let (mut spt, mut dpt, mut proto, mut iface_in, mut iface_out) = (None, None, None, None, None);
    for item in fields.split(' ') {
        let Some((k, v)) = item.split_once('=') else {
            continue;
        };
        match k {
            "IN" => iface_in = Some(v),
            "OUT" => iface_out = Some(v),
            "SRC" => src = v.parse::<IpAddr>().ok().map(|_| v),
            "DST" => dst = v.parse::<IpAddr>().ok().map(|_| v),
            "SPT" => spt = v.parse::<u16>().ok(),
            "DPT" => dpt = v.parse::<u16>().ok(),
            "PROTO" => proto = Some(v),
            _ => {}
        }
    }
    let (Some(src), Some(dst)) = (src, dst) else {
        return;
    };
    ev.source_ip = Some(src.to_string());
    ev.destination_ip = Some(dst.to_string());
    ev.source_port = spt;
    ev.destination_port = dpt;
    if let Some(p) = proto.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphabetic())) {
        ev.network_transport = Some(p.to_ascii_lowercase());
    }
    if let Some(i) = iface_in.filter(|i| !i.is_empty()) {
        ev.labels
            .insert("observer.ingress.interface.name".into(), i.to_string());
    }
    if let Some(o) = iface_out.filter(|o| !o.is_empty()) {
        ev.labels
            .insert("observer.egress.interface.name".into(), o.to_string());
    }
    set_event(ev, action(prefix), None, "network");
}

/// From the UFW tag (`[UFW BLOCK]`, `[UFW ALLOW]`, `[UFW AUDIT]`, `[UFW LIMIT BLOCK]`) or the
/// verb in an iptables log prefix; `firewall_log` when the prefix names none.
fn action(prefix: &str) -> &'static str {
    if let Some(tag) = split_str(prefix, "[UFW ")
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(t, _)| t)
    {
        return match tag {
            "BLOCK" => "firewall_block",
            "ALLOW" => "firewall_allow",
            t if t.starts_with("AUDIT") => "firewall_audit",
            t if t.starts_with("LIMIT") => "firewall_limit",
            _ => "firewall_log",
        };
    }
    let upper = prefix.to_ascii_uppercase();
    if ["DROP", "REJECT", "DENY", "BLOCK"]
        .iter()
        .any(|w| upper.contains(w))
    {
        "firewall_block"
    } else if ["ACCEPT", "ALLOW"].iter().any(|w| upper.contains(w)) {
        "firewall_allow"
    } else {
        "firewall_log"
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::test_util::{ev, untouched};

    #[test]
    fn ufw_block() {
        let e = ev("kernel", "[1234567.891] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=185.220.101.4 DST=10.0.0.5 LEN=44 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP SPT=51234 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0");
        assert_eq!(e.action.as_deref(), Some("firewall_block"));
        assert_eq!(e.category.as_deref(), Some("network"));
        assert_eq!(e.source_ip.as_deref(), Some("185.220.101.4"));
        assert_eq!(e.destination_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(
            (e.source_port, e.destination_port),
            (Some(51234), Some(3389))
        );
        assert_eq!(e.network_transport.as_deref(), Some("tcp"));
        assert_eq!(
            e.labels
                .get("observer.ingress.interface.name")
                .map(String::as_str),
            Some("eth0")
        );
        assert_eq!(e.labels.get("observer.egress.interface.name"), None);
    }

    #[test]
    fn iptables_log_prefixes() {
        let e = ev("kernel", "IPTABLES-DROPPED: IN=ens3 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=60 PROTO=UDP SPT=5353 DPT=53 LEN=40");
        assert_eq!(e.action.as_deref(), Some("firewall_block"));
        assert_eq!(e.network_transport.as_deref(), Some("udp"));
        assert_eq!(e.source_ip.as_deref(), Some("2001:db8::1"));
        let e = ev(
            "kernel",
            "fw-in: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=84 PROTO=ICMP TYPE=8 CODE=0",
        );
        assert_eq!(e.action.as_deref(), Some("firewall_log"));
        assert_eq!(e.network_transport.as_deref(), Some("icmp"));
        assert_eq!((e.source_port, e.destination_port), (None, None));
    }

    #[test]
    fn other_kernel_lines_and_truncated_ones_set_nothing() {
        for msg in [
            "",
            "Linux version 2.6.5-1.358",
            "[UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4",
            "[UFW BLOCK] IN=eth0 SRC=1.2.3.4 DST=",
            "IN=eth0 SRC=bogus DST=1.2.3.4",
            "xIN=eth0 SRC=1.1.1.1 DST=2.2.2.2",
        ] {
            assert!(untouched(&ev("kernel", msg)), "{msg:?}");
        }
    }
}
