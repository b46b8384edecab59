//! Two network namespaces joined by a link, for tests that need real traffic on a link they
//! control without touching the host's interfaces or routes.
//!
//! [`NetnsPair::new`] joins them with a veth pair. [`NetnsPair::emulated`] joins them through
//! a TUN device in each namespace and a small forwarder process between them that delays and
//! drops packets per direction ([`Link`], changed while it runs with [`NetnsPair::set_link`]): the kernels CI runs on may lack `sch_netem` (this
//! one is built without it), and the forwarder needs nothing but python3 and /dev/net/tun.
//!
//! Side `a` has 10.77.0.1/24, side `b` 10.77.0.2/24 (each namespace is isolated, so every pair
//! can use the same addresses). Programs run in a side with [`NetnsPair::command`] (`ip netns
//! exec`, which execs the program: the child's pid is the program's). Dropping the pair stops
//! the forwarder and deletes both namespaces. Needs root and `ip` (iproute2).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;

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

/// Two namespaces and the link between them; deleted on drop.
#[derive(Debug)]
pub struct NetnsPair {
    names: [String; 2],
    forwarder: Option<Forwarder>,
}

/// The emulated link's forwarder process and its output.
#[derive(Debug)]
struct Forwarder {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

/// What the emulated link does to packets, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Link {
    /// Share of IPv4 TCP segments carrying data from `a` to `b` dropped (0.0 to 1.0; seeded,
    /// so runs repeat). Handshakes and pure ACKs pass, so a connection always opens.
    pub loss_a_to_b: f64,
    /// The same from `b` to `a`.
    pub loss_b_to_a: f64,
    /// Delay added to packets from `a` to `b`, milliseconds.
    pub delay_a_to_b_ms: u32,
    /// Delay added to packets from `b` to `a`, milliseconds.
    pub delay_b_to_a_ms: u32,
}

/// The forwarder: opens `tun-a` in namespace A and `tun-b` in B (entering each with setns),
/// then copies packets between them with the loss and delay asked for.
const FORWARDER: &str = r#"
import ctypes, fcntl, heapq, os, random, select, struct, sys, time
ns_a, ns_b = sys.argv[1], sys.argv[2]
loss = {0: float(sys.argv[3]), 1: float(sys.argv[4])}
delay = {0: int(sys.argv[5]) / 1000.0, 1: int(sys.argv[6]) / 1000.0}
libc = ctypes.CDLL(None, use_errno=True)
def tun(ns, name):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns " + ns)
    t = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(t, 0x400454ca, struct.pack("16sH", name.encode(), 0x0001 | 0x1000))
    return t
fds = [tun(ns_a, "tun-a"), tun(ns_b, "tun-b")]
# A link's delay must not depend on how busy the machine is (a test run beside a build): at
# the packet rates of these tests the forwarder mostly sleeps in select, so a real-time
# priority costs the machine little and keeps its timing (root only; elsewhere it runs as it
# is).
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
except OSError:
    pass
rng = random.Random(1234)
def carries_tcp_data(pkt):
    # IPv4 TCP with payload: handshakes and pure ACKs are never dropped.
    if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return False
    ihl = (pkt[0] & 15) * 4
    total = (pkt[2] << 8) | pkt[3]
    doff = (pkt[ihl + 12] >> 4) * 4
    return total > ihl + doff
queue, seq = [], 0
stdin = sys.stdin.fileno()
watched = fds + [stdin]
print("ready", flush=True)
while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
    ready, _, _ = select.select(watched, [], [], timeout)
    for fd in ready:
        if fd == stdin:
            # A new link: "loss_ab loss_ba delay_ab delay_ba" (packets already queued keep
            # the delay they were given).
            line = sys.stdin.readline()
            if not line:
                watched = fds
                continue
            la, lb, da, db = line.split()
            loss = {0: float(la), 1: float(lb)}
            delay = {0: int(da) / 1000.0, 1: int(db) / 1000.0}
            print("link", flush=True)
            continue
        side = fds.index(fd)
        pkt = os.read(fd, 65536)
        if loss[side] > 0 and carries_tcp_data(pkt) and rng.random() < loss[side]:
            continue
        seq += 1
        heapq.heappush(queue, (time.monotonic() + delay[side], seq, fds[1 - side], pkt))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, out, pkt = heapq.heappop(queue)
        try:
            os.write(out, pkt)
        except OSError:
            pass  # the other side is not up yet (or going away): the packet is lost
"#;

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
    fn namespaces() -> NetnsPair {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("llx{}-{n}", std::process::id());
        let pair = NetnsPair {
            names: [format!("{base}-a"), format!("{base}-b")],
            forwarder: None,
        };
        run(&["ip", "netns", "add", &pair.names[0]]);
        run(&["ip", "netns", "add", &pair.names[1]]);
        pair
    }

    /// Two namespaces joined through TUN devices and a forwarder applying `link`.
    pub fn emulated(link: Link) -> NetnsPair {
        let mut pair = Self::namespaces();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(FORWARDER)
            .args([&pair.names[0], &pair.names[1]])
            .args([link.loss_a_to_b, link.loss_b_to_a].map(|l| l.to_string()))
            .args([link.delay_a_to_b_ms, link.delay_b_to_a_ms].map(|d| d.to_string()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 is needed for the emulated link");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        out.read_line(&mut line).expect("forwarder output");
        pair.forwarder = Some(Forwarder { child, out });
        assert_eq!(line.trim(), "ready", "the link forwarder did not start");
        for (ns, dev, addr) in [
            (&pair.names[0], "tun-a", ADDR_A),
            (&pair.names[1], "tun-b", ADDR_B),
        ] {
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

    /// Creates the namespaces (named after this process and a counter) and a veth pair, up.
    pub fn new() -> NetnsPair {
        let pair = Self::namespaces();
        let [a, b] = &pair.names;
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

    /// Changes what the emulated link does from now on (packets already on their way keep
    /// their delay), like `tc qdisc change ... netem` would: returns once the forwarder
    /// applies it. Panics on a pair made by [`NetnsPair::new`] (a veth pair has no forwarder).
    pub fn set_link(&mut self, link: Link) {
        use std::io::Write;
        let f = self
            .forwarder
            .as_mut()
            .expect("set_link needs a pair made by NetnsPair::emulated");
        let stdin = f.child.stdin.as_mut().expect("piped stdin");
        writeln!(
            stdin,
            "{} {} {} {}",
            link.loss_a_to_b, link.loss_b_to_a, link.delay_a_to_b_ms, link.delay_b_to_a_ms
        )
        .and_then(|()| stdin.flush())
        .expect("write to the link forwarder");
        let mut line = String::new();
        f.out.read_line(&mut line).expect("forwarder output");
        assert_eq!(line.trim(), "link", "the link forwarder did not take the new link");
    }

    /// The namespace name of `side`.
    pub fn name(&self, side: Side) -> &str {
        match side {
            Side::A => &self.names[0],
            Side::B => &self.names[1],
        }
    }

    /// `program` to be run inside `side` (`ip netns exec NAME program`).
    pub fn command(&self, side: Side, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name(side), program]);
        c
    }

    /// Runs `python3 -c script args...` inside `side` with piped stdin and stdout; its stdout
    /// lines arrive on the returned channel (read by a thread until the program closes it).
    /// Panics when python3 cannot be started (the tests that use it need it).
    pub fn python(
        &self,
        side: Side,
        script: &str,
        args: &[String],
    ) -> (Child, mpsc::Receiver<String>) {
        let mut child = self
            .command(side, "python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for this test");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (child, rx)
    }
}

impl Default for NetnsPair {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        if let Some(mut f) = self.forwarder.take() {
            let _ = f.child.kill();
            let _ = f.child.wait();
        }
        for n in &self.names {
            // Whatever the test started in the namespace (servers, clients) dies with it, also
            // when the test panicked before stopping them: a namespace deleted under a running
            // process leaves the process running.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", n]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).output();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}
