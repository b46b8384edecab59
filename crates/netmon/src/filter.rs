//! What the kernel side reports: address family and ports, applied before an event is emitted.

use std::collections::BTreeSet;

use crate::error::{NetmonError, Result};

/// Capacity of the kernel-side `port_filter` map (tcpstates.bpf.c).
pub const MAX_FILTER_PORTS: usize = 1024;

/// Address family to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 only (AF_INET).
    Inet,
    /// IPv6 only (AF_INET6), v4-mapped addresses on v6 sockets included.
    Inet6,
}

impl Family {
    /// The kernel's AF_* number.
    pub fn af(self) -> u16 {
        match self {
            Family::Inet => 2,
            Family::Inet6 => 10,
        }
    }
}

/// Which transitions the tracer reports. Every non-empty list must match (AND); an empty list
/// matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep only this address family; `None` keeps both.
    pub family: Option<Family>,
    /// Keep sockets whose local port is one of these.
    pub local_ports: Vec<u16>,
    /// Keep sockets whose remote port is one of these.
    pub remote_ports: Vec<u16>,
    /// Keep sockets whose local or remote port is one of these (both ends of a loopback pair).
    pub any_ports: Vec<u16>,
}

/// Bits of the kernel-side filter mode and of each `port_filter` value.
pub(crate) const PORT_LOCAL: u8 = 1;
pub(crate) const PORT_REMOTE: u8 = 2;
pub(crate) const PORT_EITHER: u8 = 4;

impl Filter {
    /// Whether a socket passes the filter (the user-space twin of the kernel-side check, for
    /// sock_diag snapshots). `v4` tells the socket's family.
    pub fn matches(&self, v4: bool, lport: u16, rport: u16) -> bool {
        let family_ok = match self.family {
            None => true,
            Some(Family::Inet) => v4,
            Some(Family::Inet6) => !v4,
        };
        family_ok
            && (self.local_ports.is_empty() || self.local_ports.contains(&lport))
            && (self.remote_ports.is_empty() || self.remote_ports.contains(&rport))
            && (self.any_ports.is_empty()
                || self.any_ports.contains(&lport)
                || self.any_ports.contains(&rport))
    }

    /// The active filter modes (`filter_ports`) and each port's bits (`port_filter` map).
    pub(crate) fn port_bits(&self) -> Result<(u8, Vec<(u16, u8)>)> {
        let mut mode = 0u8;
        let mut bits = std::collections::BTreeMap::<u16, u8>::new();
        for (ports, bit) in [
            (&self.local_ports, PORT_LOCAL),
            (&self.remote_ports, PORT_REMOTE),
            (&self.any_ports, PORT_EITHER),
        ] {
            if !ports.is_empty() {
                mode |= bit;
            }
            for p in ports {
                *bits.entry(*p).or_default() |= bit;
            }
        }
        if bits.len() > MAX_FILTER_PORTS {
            return Err(NetmonError::TooManyPorts {
                count: bits.len(),
                max: MAX_FILTER_PORTS,
            });
        }
        Ok((mode, bits.into_iter().collect()))
    }
}

/// Reads a comma-separated port list (`80,443`); spaces around items are allowed, duplicates
/// are dropped, the result is sorted.
pub fn parse_ports(input: &str) -> Result<Vec<u16>> {
    let bad = |reason: String| NetmonError::InvalidPorts {
        input: input.to_string(),
        reason,
    };
    let mut out = BTreeSet::new();
    for item in input.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(bad("empty item".into()));
        }
        let port: u16 = item
            .parse()
            .map_err(|_| bad(format!("{item:?} is not a port number")))?;
        if port == 0 {
            return Err(bad("port 0 is not a valid filter".into()));
        }
        out.insert(port);
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_port_lists() {
        assert_eq!(parse_ports("443, 80,80").unwrap(), vec![80, 443]);
        assert_eq!(parse_ports("22").unwrap(), vec![22]);
        for bad in ["", "80,", "http", "70000", "0", "-1"] {
            assert!(
                matches!(parse_ports(bad), Err(NetmonError::InvalidPorts { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn user_space_matching_follows_the_kernel_rules() {
        assert!(Filter::default().matches(true, 1, 2));
        let f = Filter {
            any_ports: vec![80],
            family: Some(Family::Inet),
            ..Default::default()
        };
        assert!(f.matches(true, 80, 5000) && f.matches(true, 5000, 80));
        assert!(!f.matches(false, 80, 5000) && !f.matches(true, 81, 5000));
        let f = Filter {
            local_ports: vec![80],
            remote_ports: vec![9],
            ..Default::default()
        };
        assert!(f.matches(true, 80, 9) && !f.matches(true, 80, 10) && !f.matches(true, 9, 80));
    }

    #[test]
    fn port_bits_merge_lists() {
        let f = Filter {
            local_ports: vec![80],
            remote_ports: vec![80, 443],
            ..Default::default()
        };
        let (mode, bits) = f.port_bits().unwrap();
        assert_eq!(mode, PORT_LOCAL | PORT_REMOTE);
        assert_eq!(
            bits,
            vec![(80, PORT_LOCAL | PORT_REMOTE), (443, PORT_REMOTE)]
        );
        assert_eq!(Filter::default().port_bits().unwrap(), (0, vec![]));
        let many = Filter {
            any_ports: (1..=1025).collect(),
            ..Default::default()
        };
        assert!(matches!(
            many.port_bits(),
            Err(NetmonError::TooManyPorts { count: 1025, .. })
        ));
    }
}
