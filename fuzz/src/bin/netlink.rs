//! The sock_diag (netlink) reply parser of the socket dump: any datagram parses or is refused
//! as malformed, never a panic.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        // The sequence number the dump waits for: the first message's own (so replies are
        // taken), or a random one (so they are skipped).
        let seq = data.get(8..12).map_or(1, |b| u32::from_ne_bytes(b.try_into().unwrap()));
        let _ = loglynx_netmon::fuzzing::netlink_replies(data, seq);
    });
}
