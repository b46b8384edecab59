//! Two network namespaces joined by a veth pair, for tests that need real traffic on a link they
//! control (delay and loss with `tc netem`) without touching the host's interfaces or routes.
//!
//! Side `a` has 10.77.0.1/24 on `veth-a`, side `b` 10.77.0.2/24 on `veth-b` (each namespace
//! is isolated, so every pair can use the same addresses). Programs run in a side with
//! [`NetnsPair::command`] (`ip netns exec`, which execs the program: the child's pid is the
//! program's). Dropping the pair deletes both namespaces and the link. Needs root and `ip`
//! (iproute2).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Address of side `a`.
pub const ADDR_A: &str = "10.77.0.1";
/// Address of side `b`.
pub const ADDR_B: &str = "10.77.0.2";

/// One side of a [`NetnsPair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// 10.77.0.1 on `veth-a`.
    A,
    /// 10.77.0.2 on `veth-b`.
    B,
}

/// Two namespaces and the veth pair between them; deleted on drop.
#[derive(Debug)]
pub struct NetnsPair {
    names: [String; 2],
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {args:?}: {e} (iproute2 is needed)"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetnsPair {
    /// Creates the namespaces (named after this process and a counter) and the link, up.
    pub fn new() -> NetnsPair {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("llx{}-{n}", std::process::id());
        let pair = NetnsPair {
            names: [format!("{base}-a"), format!("{base}-b")],
        };
        let [a, b] = &pair.names;
        run(&["ip", "netns", "add", a]);
        run(&["ip", "netns", "add", b]);
        run(&[
            "ip", "-n", a, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b",
            "netns", b,
        ]);
        for (ns, dev, addr) in [(a, "veth-a", ADDR_A), (b, "veth-b", ADDR_B)] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                dev,
            ]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// The namespace name of `side`.
    pub fn name(&self, side: Side) -> &str {
        match side {
            Side::A => &self.names[0],
            Side::B => &self.names[1],
        }
    }

    /// The link's device in `side`.
    pub fn dev(side: Side) -> &'static str {
        match side {
            Side::A => "veth-a",
            Side::B => "veth-b",
        }
    }

    /// `program` to be run inside `side` (`ip netns exec NAME program`).
    pub fn command(&self, side: Side, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name(side), program]);
        c
    }

    /// Sets a netem qdisc on `side`'s end of the link, e.g. `&["delay", "50ms"]` or
    /// `&["loss", "10%"]` (egress of that side).
    pub fn netem(&self, side: Side, params: &[&str]) {
        let mut args = vec![
            "ip",
            "netns",
            "exec",
            self.name(side),
            "tc",
            "qdisc",
            "replace",
            "dev",
            Self::dev(side),
            "root",
            "netem",
        ];
        args.extend_from_slice(params);
        run(&args);
    }
}

impl Default for NetnsPair {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}
