//! A NETLINK_SOCK_DIAG client: one `inet_diag` dump of TCP sockets per address family, with
//! the extensions `ss -tinpm` shows: `INET_DIAG_INFO` (`struct tcp_info`: RTT, retransmits,
//! bytes), `INET_DIAG_SKMEMINFO` (socket memory) and the cgroup id the kernel adds by itself
//! (`INET_DIAG_CGROUP_ID`, Linux 5.7+).
//!
//! Messages are encoded and decoded by the netlink-packet-sock-diag crate (the layouts of
//! `include/uapi/linux/{inet_diag,sock_diag,tcp}.h` and their attributes); the socket I/O is a
//! plain `socket(2)` / `sendto(2)` / `recv(2)` on libc.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, Nla as _, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use serde::Serialize;

use crate::states::TcpState;

const NETLINK_SOCK_DIAG: libc::c_int = 4;
/// `INET_DIAG_CGROUP_ID` (not named by the crate): the socket's cgroup v2 id, a u64.
const INET_DIAG_CGROUP_ID: u16 = 21;

/// What `struct tcp_info` says about a socket (the fields `ss -ti` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpStats {
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Round-trip time variance, microseconds.
    pub rttvar_us: u32,
    /// Lowest round-trip time seen, microseconds.
    pub min_rtt_us: u32,
    /// Retransmission timeout, microseconds.
    pub rto_us: u32,
    /// Segments retransmitted and not yet acknowledged.
    pub retrans: u32,
    /// Segments retransmitted over the socket's life.
    pub total_retrans: u32,
    /// Segments lost (estimate).
    pub lost: u32,
    /// Bytes sent and acknowledged.
    pub bytes_acked: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes retransmitted.
    pub bytes_retrans: u64,
    /// Segments sent.
    pub segs_out: u32,
    /// Segments received.
    pub segs_in: u32,
    /// Congestion window, segments.
    pub snd_cwnd: u32,
    /// Delivery rate, bytes per second.
    pub delivery_rate: u64,
}

/// Socket memory (`INET_DIAG_SKMEMINFO`, `ss -m`), bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SockMem {
    /// Receive queue memory (`sk_rmem_alloc`).
    pub rmem_alloc: u32,
    /// Receive buffer size (`sk_rcvbuf`).
    pub rcvbuf: u32,
    /// Send queue memory (`sk_wmem_queued`).
    pub wmem_queued: u32,
    /// Send buffer size (`sk_sndbuf`).
    pub sndbuf: u32,
    /// Memory in qdisc and driver queues (`sk_wmem_alloc`).
    pub wmem_alloc: u32,
}

/// One TCP socket as the kernel reports it in a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagSocket {
    /// Current state (TIME_WAIT included; request sockets appear as SYN_RECV).
    pub state: TcpState,
    /// Local address.
    pub laddr: IpAddr,
    /// Local port.
    pub lport: u16,
    /// Remote address (unspecified for listeners).
    pub raddr: IpAddr,
    /// Remote port (0 for listeners).
    pub rport: u16,
    /// Inode of the socket file; 0 when no file refers to it (TIME_WAIT, orphaned sockets).
    pub inode: u32,
    /// Owner uid of the socket file.
    pub uid: u32,
    /// Bytes in the receive queue (listeners: connections waiting for accept).
    pub recv_q: u32,
    /// Bytes in the send queue (listeners: the backlog).
    pub send_q: u32,
    /// The socket's cgroup v2 id (none on kernels before 5.7 and for TIME_WAIT sockets).
    pub cgroup_id: Option<u64>,
    /// `tcp_info` (none for TIME_WAIT and request sockets).
    pub tcp: Option<TcpStats>,
    /// Socket memory (none for TIME_WAIT and request sockets).
    pub mem: Option<SockMem>,
}

/// The dump request for one family: all states (TIME_WAIT and NEW_SYN_RECV included), with
/// `tcp_info` and socket memory.
pub(crate) fn request(family: u8, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let socket_id = if family == libc::AF_INET as u8 {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: libc::IPPROTO_TCP as u8,
            extensions: ExtensionFlags::INFO | ExtensionFlags::SKMEMINFO,
            states: StateFlags::from_bits_retain(u32::MAX),
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

fn u64_attr(nla: &netlink_packet_core::DefaultNla) -> Option<u64> {
    if nla.value_len() != 8 {
        return None;
    }
    let mut v = [0u8; 8];
    nla.emit_value(&mut v);
    Some(u64::from_ne_bytes(v))
}

fn decode(r: &netlink_packet_sock_diag::inet::InetResponse) -> DiagSocket {
    let h = &r.header;
    let mut s = DiagSocket {
        state: TcpState::from_kernel(h.state),
        lport: h.socket_id.source_port,
        rport: h.socket_id.destination_port,
        laddr: h.socket_id.source_address,
        raddr: h.socket_id.destination_address,
        uid: h.uid,
        inode: h.inode,
        recv_q: h.recv_queue,
        send_q: h.send_queue,
        cgroup_id: None,
        tcp: None,
        mem: None,
    };
    for nla in &r.nlas {
        match nla {
            Nla::TcpInfo(i) => {
                s.tcp = Some(TcpStats {
                    rtt_us: i.rtt,
                    rttvar_us: i.rttvar,
                    min_rtt_us: i.min_rtt,
                    rto_us: i.rto,
                    retrans: i.retrans,
                    total_retrans: i.total_retrans,
                    lost: i.lost,
                    bytes_acked: i.bytes_acked,
                    bytes_received: i.bytes_received,
                    bytes_retrans: i.bytes_retrans,
                    segs_out: i.segs_out,
                    segs_in: i.segs_in,
                    snd_cwnd: i.snd_cwnd,
                    delivery_rate: i.delivery_rate,
                })
            }
            Nla::MemInfo(m) => {
                s.mem = Some(SockMem {
                    rmem_alloc: m.receive_queue,
                    rcvbuf: m.receive_queue_max,
                    wmem_queued: m.send_queue,
                    sndbuf: m.send_queue_max,
                    wmem_alloc: m.bottom_send_queues,
                })
            }
            Nla::Other(o) if o.kind() == INET_DIAG_CGROUP_ID => s.cgroup_id = u64_attr(o),
            _ => {}
        }
    }
    s
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Walks the netlink messages in `buf`; returns `Ok(true)` once NLMSG_DONE is seen.
pub(crate) fn parse_replies(buf: &[u8], seq: u32, out: &mut Vec<DiagSocket>) -> io::Result<bool> {
    let mut at = 0;
    while at < buf.len() {
        let msg = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[at..])
            .map_err(|e| invalid(format!("malformed sock_diag reply: {e}")))?;
        let len = msg.header.length as usize;
        if len == 0 {
            return Err(invalid("malformed sock_diag reply: zero length".into()));
        }
        if msg.header.sequence_number == seq {
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(true),
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        None => Ok(true),
                        // A kernel error is a negative errno; anything else (i32::MIN has no
                        // negation) is a malformed reply, not an errno.
                        Some(code) => match code.get().checked_neg() {
                            Some(errno) if errno > 0 => Err(io::Error::from_raw_os_error(errno)),
                            _ => Err(invalid(format!("malformed sock_diag reply: error code {code}"))),
                        },
                    }
                }
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                    out.push(decode(&r))
                }
                _ => {}
            }
        }
        at += (len + 3) & !3;
    }
    Ok(false)
}

fn dump_family(fd: &OwnedFd, family: u8, seq: u32, out: &mut Vec<DiagSocket>) -> io::Result<()> {
    let req = request(family, seq);
    // SAFETY: sockaddr_nl is plain data; zeroed is a valid value (pid 0 = the kernel).
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: req and kernel are valid for the given lengths during the call.
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: buf is valid and writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 || parse_replies(&buf[..n as usize], seq, out)? {
            return Ok(());
        }
    }
}

/// Every TCP socket of this network namespace, IPv4 then IPv6, in all states.
/// Needs no privilege (sock_diag dumps are open to every user).
pub fn dump_tcp() -> io::Result<Vec<DiagSocket>> {
    // SAFETY: plain socket(2) call; the fd is owned right after.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut out = Vec::new();
    dump_family(&fd, libc::AF_INET as u8, 1, &mut out)?;
    dump_family(&fd, libc::AF_INET6 as u8, 2, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn request_asks_for_every_state_with_tcp_info_and_memory() {
        let r = request(libc::AF_INET6 as u8, 7);
        assert_eq!(r.len(), 72);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), 20, "SOCK_DIAG_BY_FAMILY");
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x301, "request | dump");
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
        assert_eq!((r[16], r[17]), (10, 6));
        assert_eq!(r[18], (1 << 1) | (1 << 6), "INFO | SKMEMINFO");
        assert_eq!(u32::from_ne_bytes(r[20..24].try_into().unwrap()), u32::MAX);
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let mut out = Vec::new();
        assert!(parse_replies(&[0u8; 10], 1, &mut out).is_err());
        let mut bad = request(libc::AF_INET as u8, 1);
        bad[0] = 200; // a length pointing past the buffer
        assert!(parse_replies(&bad, 1, &mut out).is_err());
        assert!(out.is_empty());
        // Found by the netlink fuzz target: an NLMSG_ERROR whose code is i32::MIN (no errno
        // negates to it) panicked with an overflow.
        let mut error = Vec::new();
        error.extend_from_slice(&36u32.to_ne_bytes()); // length
        error.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        error.extend_from_slice(&0u16.to_ne_bytes()); // flags
        error.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
        error.extend_from_slice(&0u32.to_ne_bytes()); // port
        error.extend_from_slice(&i32::MIN.to_ne_bytes()); // error code
        error.extend_from_slice(&[0u8; 16]); // the request's header
        let e = parse_replies(&error, 1, &mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        // A real kernel error is the negative errno.
        error[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        let e = parse_replies(&error, 1, &mut out).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    }

    /// The cgroup v2 id of this process: the inode of its cgroup directory.
    fn my_cgroup_id() -> Option<u64> {
        let line = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = line.lines().find_map(|l| l.strip_prefix("0::"))?;
        let meta = std::fs::metadata(format!("/sys/fs/cgroup{path}")).ok()?;
        Some(meta.ino())
    }

    #[test]
    fn dumps_a_connection_of_this_process_with_its_bytes_and_cgroup() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(&[7u8; 5000]).unwrap();
        let mut buf = vec![0u8; 5000];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&[1u8; 300]).unwrap();
        c.read_exact(&mut buf[..300]).unwrap();
        let cport = c.local_addr().unwrap().port();

        let all = dump_tcp().unwrap();
        let listener: Vec<_> = all
            .iter()
            .filter(|s| s.lport == port && s.rport == 0)
            .collect();
        assert_eq!(listener.len(), 1, "{all:?}");
        assert_eq!(listener[0].state, TcpState::Listen);
        assert_ne!(listener[0].inode, 0);
        let client = all
            .iter()
            .find(|s| s.lport == cport && s.rport == port)
            .expect("client socket in the dump");
        assert_eq!(client.state, TcpState::Established);
        let t = client.tcp.as_ref().expect("tcp_info");
        // bytes_acked counts the SYN's sequence number too.
        assert!((5000..=5001).contains(&t.bytes_acked), "{t:?}");
        assert_eq!(t.bytes_received, 300, "{t:?}");
        assert!(t.rtt_us > 0 && t.segs_out > 0, "{t:?}");
        let m = client.mem.as_ref().expect("skmeminfo");
        assert!(m.sndbuf > 0 && m.rcvbuf > 0, "{m:?}");
        if let Some(id) = my_cgroup_id() {
            assert_eq!(
                client.cgroup_id,
                Some(id),
                "the socket's cgroup is this process's"
            );
        }
    }
}
