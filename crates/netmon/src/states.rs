//! TCP states, numbered as the kernel numbers them (`include/net/tcp_states.h`).

use std::fmt;

use serde::{Serialize, Serializer};

/// A TCP state as reported by `sock:inet_sock_set_state`.
///
/// `TimeWait` and `NewSynRecv` exist in the kernel's numbering but are never the new state of a
/// transition of a full socket: TIME_WAIT lives in a separate mini-socket and request sockets
/// are created directly in NEW_SYN_RECV. Unknown numbers are kept in `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// 1: data can flow both ways.
    Established,
    /// 2: `connect()` sent a SYN.
    SynSent,
    /// 3: a listener's child socket received a SYN and answered SYN-ACK.
    SynRecv,
    /// 4: we closed first and sent a FIN.
    FinWait1,
    /// 5: our FIN was acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// 6: both sides closed; held to absorb late segments (a mini-socket, see above).
    TimeWait,
    /// 7: no connection (the start and the end of every socket).
    Close,
    /// 8: the peer closed; the local application has not closed yet (a leak if it lasts).
    CloseWait,
    /// 9: the peer closed, then we closed; waiting for the ACK of our FIN.
    LastAck,
    /// 10: accepting connections.
    Listen,
    /// 11: both sides sent a FIN at the same time.
    Closing,
    /// 12: a request socket (SYN received on a listener).
    NewSynRecv,
    /// A number this crate does not know.
    Other(u8),
}

impl TcpState {
    /// Every known state, in kernel order.
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    /// The state with the kernel's number `n`.
    pub fn from_kernel(n: u8) -> Self {
        match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            12 => TcpState::NewSynRecv,
            other => TcpState::Other(other),
        }
    }

    /// The kernel's number for this state.
    pub fn kernel_number(self) -> u8 {
        match self {
            TcpState::Established => 1,
            TcpState::SynSent => 2,
            TcpState::SynRecv => 3,
            TcpState::FinWait1 => 4,
            TcpState::FinWait2 => 5,
            TcpState::TimeWait => 6,
            TcpState::Close => 7,
            TcpState::CloseWait => 8,
            TcpState::LastAck => 9,
            TcpState::Listen => 10,
            TcpState::Closing => 11,
            TcpState::NewSynRecv => 12,
            TcpState::Other(n) => n,
        }
    }

    /// The name without the `TCP_` prefix, as `ss` and tcpstates print it (`CLOSE_WAIT`);
    /// `UNKNOWN` for `Other`.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
            TcpState::Other(_) => "UNKNOWN",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpState::Other(n) => write!(f, "UNKNOWN({n})"),
            s => f.pad(s.name()),
        }
    }
}

impl Serialize for TcpState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_numbers_round_trip_and_match_the_tracepoint_format() {
        for (i, st) in TcpState::ALL.iter().enumerate() {
            assert_eq!(st.kernel_number() as usize, i + 1);
            assert_eq!(TcpState::from_kernel(st.kernel_number()), *st);
        }
        assert_eq!(TcpState::from_kernel(8).name(), "CLOSE_WAIT");
        assert_eq!(TcpState::from_kernel(7).to_string(), "CLOSE");
        assert_eq!(TcpState::from_kernel(0), TcpState::Other(0));
        assert_eq!(TcpState::from_kernel(99).to_string(), "UNKNOWN(99)");
    }

    #[test]
    fn display_pads_for_table_columns() {
        assert_eq!(format!("{:<11}|", TcpState::Close), "CLOSE      |");
    }
}
