//! Several "hosts" on one machine: network namespaces on one private LAN, for tests of a
//! deployment across machines (a broker, workers, `serve`) where every process has its own
//! address and reaches the others only through that LAN.
//!
//! [`Hosts::new`] makes a hub namespace holding a bridge and, per host, a namespace joined to
//! the bridge by a veth pair; host `i` has the address `10.78.0.<i + 1>/24` (each set of hosts
//! has its own hub, so sets never see each other and can reuse the addresses). Programs run in
//! a host with [`Hosts::command`] (`ip netns exec`, which execs the program: the child's pid
//! is the program's, so killing it kills the program). The test itself stays in the machine's
//! namespace; [`Hosts::forward`] gives it a 127.0.0.1 port that reaches an address inside one
//! host (a small forwarder that accepts in the test's namespace and connects from the host's).
//! Dropping the set stops the forwarders and deletes every namespace. Needs root, `ip`
//! (iproute2), the kernel's bridge and veth, and python3 for [`Hosts::forward`].

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Accepts on 127.0.0.1 (in the namespace it starts in), then enters the host's namespace
/// with setns and connects each accepted connection to the target from there; copies bytes
/// both ways until either side closes.
const FORWARDER: &str = r#"
import ctypes, os, socket, sys, threading
ns, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/run/netns/" + ns, os.O_RDONLY)
if libc.setns(fd, 0x40000000) != 0:
    raise OSError(ctypes.get_errno(), "setns " + ns)
def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
print(listener.getsockname()[1], flush=True)
while True:
    c, _ = listener.accept()
    try:
        t = socket.create_connection((host, port), timeout=10)
        t.settimeout(None)
    except OSError:
        c.close()
        continue
    threading.Thread(target=pump, args=(c, t), daemon=True).start()
    threading.Thread(target=pump, args=(t, c), daemon=True).start()
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

/// A set of hosts on one LAN; deleted on drop.
#[derive(Debug)]
pub struct Hosts {
    hub: String,
    names: Vec<String>,
    forwarders: Mutex<Vec<Child>>,
}

impl Hosts {
    /// `n` hosts (at most 250), joined by a bridge, each with its address and loopback up.
    pub fn new(n: usize) -> Hosts {
        assert!(n > 0 && n <= 250, "1 to 250 hosts");
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("llh{}-{k}", std::process::id());
        let hosts = Hosts {
            hub: format!("{base}-hub"),
            names: (0..n).map(|i| format!("{base}-{i}")).collect(),
            forwarders: Mutex::new(Vec::new()),
        };
        run(&["ip", "netns", "add", &hosts.hub]);
        run(&["ip", "-n", &hosts.hub, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &hosts.hub, "link", "set", "br0", "up"]);
        for (i, ns) in hosts.names.iter().enumerate() {
            run(&["ip", "netns", "add", ns]);
            let port = format!("p{i}");
            run(&[
                "ip", "-n", &hosts.hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ]);
            run(&["ip", "-n", &hosts.hub, "link", "set", &port, "master", "br0"]);
            run(&["ip", "-n", &hosts.hub, "link", "set", &port, "up"]);
            let addr = format!("{}/24", hosts.addr(i));
            run(&["ip", "-n", ns, "addr", "add", &addr, "dev", "eth0"]);
            run(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    /// The address of host `i`: `10.78.0.<i + 1>`.
    pub fn addr(&self, i: usize) -> String {
        assert!(i < self.names.len(), "host {i} of {}", self.names.len());
        format!("10.78.0.{}", i + 1)
    }

    /// The namespace name of host `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// `program` to be run inside host `i` (`ip netns exec NAME program`).
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name(i), program]);
        c
    }

    /// Whether a TCP connection to `target` can be made from host `i`.
    pub fn reachable(&self, i: usize, target: &str) -> bool {
        let Some((host, port)) = target.rsplit_once(':') else { return false };
        let script = format!("exec 3<>/dev/tcp/{host}/{port}");
        self.command(i, "bash")
            .args(["-c", &script])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits until `target` accepts connections from host `i`; panics after `timeout`.
    pub fn wait_reachable(&self, i: usize, target: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.reachable(i, target) {
            assert!(Instant::now() < deadline, "{target} not reachable from host {i} within {timeout:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A 127.0.0.1 address in the test's namespace whose connections reach `target` from
    /// inside host `i` (for the test to talk to a server that listens only there).
    pub fn forward(&self, i: usize, target: SocketAddr) -> SocketAddr {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(FORWARDER)
            .args([self.name(i), &target.ip().to_string(), &target.port().to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the port forwarder");
        let out = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).expect("forwarder output");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the port forwarder did not start: {line:?}"));
        self.forwarders.lock().unwrap_or_else(|p| p.into_inner()).push(child);
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for f in self.forwarders.get_mut().unwrap_or_else(|p| p.into_inner()).iter_mut() {
            let _ = f.kill();
            let _ = f.wait();
        }
        for n in self.names.iter().chain(std::iter::once(&self.hub)) {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}
