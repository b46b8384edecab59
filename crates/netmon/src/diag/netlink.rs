//! A minimal NETLINK_SOCK_DIAG client: one `inet_diag` dump of TCP sockets per address family.
//!
//! Hand-rolled on `libc` rather than the netlink-packet-* crates: the exchange is one fixed
//! 72-byte request and a stream of fixed-layout replies (`struct inet_diag_msg`, attributes
//! ignored), so a few dozen lines replace four dependencies. Layouts from
//! `include/uapi/linux/{netlink,inet_diag,sock_diag}.h`; addresses and ports in network order.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::states::TcpState;

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDR_LEN: usize = 16;
/// `struct inet_diag_msg` without attributes.
const DIAG_MSG_LEN: usize = 72;
/// `struct inet_diag_req_v2`.
const DIAG_REQ_LEN: usize = 56;

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
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ip(family: u8, raw: &[u8]) -> IpAddr {
    if family == libc::AF_INET as u8 {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&raw[..16]);
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

/// The dump request for one family: all states (TIME_WAIT and NEW_SYN_RECV included).
fn request(family: u8, seq: u32) -> Vec<u8> {
    let len = NLMSG_HDR_LEN + DIAG_REQ_LEN;
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    b.push(family);
    b.push(libc::IPPROTO_TCP as u8);
    b.push(0); // no extensions
    b.push(0);
    b.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    b.resize(len, 0); // inet_diag_sockid: zero (no filter)
    b
}

/// Decodes one `inet_diag_msg` payload; `None` when it is too short.
pub(crate) fn decode_msg(p: &[u8]) -> Option<DiagSocket> {
    if p.len() < DIAG_MSG_LEN {
        return None;
    }
    let family = p[0];
    // inet_diag_sockid at 4: sport(2) dport(2) src(16) dst(16) if(4) cookie(8)
    Some(DiagSocket {
        state: TcpState::from_kernel(p[1]),
        lport: be16(&p[4..6]),
        rport: be16(&p[6..8]),
        laddr: ip(family, &p[8..24]),
        raddr: ip(family, &p[24..40]),
        uid: ne32(&p[64..68]),
        inode: ne32(&p[68..72]),
    })
}

/// Walks the netlink messages in `buf`; returns `Ok(true)` once NLMSG_DONE is seen.
pub(crate) fn parse_replies(buf: &[u8], seq: u32, out: &mut Vec<DiagSocket>) -> io::Result<bool> {
    let mut at = 0;
    while at + NLMSG_HDR_LEN <= buf.len() {
        let len = ne32(&buf[at..]) as usize;
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        let mseq = ne32(&buf[at + 8..]);
        if len < NLMSG_HDR_LEN || at + len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "truncated netlink message",
            ));
        }
        let payload = &buf[at + NLMSG_HDR_LEN..at + len];
        if mseq == seq {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let errno = payload
                        .get(0..4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    return match errno {
                        Some(0) => Ok(true),
                        Some(e) => Err(io::Error::from_raw_os_error(-e)),
                        None => Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "short netlink error",
                        )),
                    };
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(s) = decode_msg(payload) {
                        out.push(s);
                    }
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

    fn msg(seq: u32, kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDR_LEN + payload.len();
        let mut b = Vec::new();
        b.extend_from_slice(&(len as u32).to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(payload);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    fn diag_v4(state: u8, lport: u16, rport: u16, inode: u32) -> Vec<u8> {
        let mut p = vec![0u8; DIAG_MSG_LEN + 8]; // + an attribute the decoder ignores
        p[0] = libc::AF_INET as u8;
        p[1] = state;
        p[4..6].copy_from_slice(&lport.to_be_bytes());
        p[6..8].copy_from_slice(&rport.to_be_bytes());
        p[8..12].copy_from_slice(&[127, 0, 0, 1]);
        p[24..28].copy_from_slice(&[10, 0, 0, 9]);
        p[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        p[68..72].copy_from_slice(&inode.to_ne_bytes());
        p
    }

    #[test]
    fn request_has_the_kernel_layout() {
        let r = request(libc::AF_INET6 as u8, 7);
        assert_eq!(r.len(), 72);
        assert_eq!(ne32(&r[0..4]), 72);
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), 20);
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x301);
        assert_eq!(ne32(&r[8..12]), 7);
        assert_eq!((r[16], r[17]), (10, 6));
        assert_eq!(ne32(&r[20..24]), u32::MAX);
    }

    #[test]
    fn parses_a_multipart_dump() {
        let mut buf = msg(1, SOCK_DIAG_BY_FAMILY, &diag_v4(8, 8080, 51000, 4242));
        buf.extend(msg(1, SOCK_DIAG_BY_FAMILY, &diag_v4(6, 8080, 51001, 0)));
        buf.extend(msg(9, SOCK_DIAG_BY_FAMILY, &diag_v4(1, 1, 2, 3))); // other request: skipped
        let mut out = Vec::new();
        assert!(!parse_replies(&buf, 1, &mut out).unwrap());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].state, TcpState::CloseWait);
        assert_eq!(
            (out[0].lport, out[0].rport, out[0].inode, out[0].uid),
            (8080, 51000, 4242, 1000)
        );
        assert_eq!(out[0].laddr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(out[0].raddr, "10.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!((out[1].state, out[1].inode), (TcpState::TimeWait, 0));
        assert!(parse_replies(&msg(1, NLMSG_DONE, &[0; 4]), 1, &mut out).unwrap());
        let e = parse_replies(
            &msg(1, NLMSG_ERROR, &(-libc::EPERM).to_ne_bytes()),
            1,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // A length pointing past the buffer is an error, not a panic.
        let mut bad = msg(1, SOCK_DIAG_BY_FAMILY, &diag_v4(1, 1, 2, 3));
        bad[0] = 200;
        assert!(parse_replies(&bad, 1, &mut out).is_err());
        assert!(decode_msg(&[0u8; 10]).is_none());
    }

    #[test]
    fn dumps_a_listener_of_this_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let all = dump_tcp().unwrap();
        let mine: Vec<_> = all.iter().filter(|s| s.lport == port).collect();
        assert_eq!(mine.len(), 1, "{all:?}");
        assert_eq!(mine[0].state, TcpState::Listen);
        assert_ne!(mine[0].inode, 0);
    }
}
