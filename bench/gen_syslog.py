#!/usr/bin/env python3
"""Deterministic generator of RFC 3164 syslog lines for the loglynx benchmarks.

    bench/gen_syslog.py N OUT [--seed 42] [--start 2026-11-01] [--days 7] [--jobs 2] [--no-pri]

Writes N lines of about 150 bytes, `<PRI>Mmm dd hh:mm:ss host program[pid]: message`, with
timestamps increasing evenly over `--days` days from `--start` (UTC), 50 hosts in four groups
(web, db, cache, app; a few hosts much busier than others), 21 programs (sshd, CRON, systemd,
kernel on every host; nginx/haproxy on web, postgres/mysqld on db, redis on cache,
dockerd/kubelet on app...), daemons with a fixed pid per host, per-connection programs with a
fresh pid, and messages carrying users, IPv4 addresses, ports, sizes, durations and hex ids.

The same arguments give the same bytes whatever `--jobs` is: chunk k (CHUNK lines) is drawn from
a generator seeded with (seed, k), and chunks are written in order. About 250k lines/s per core.

Facts the benchmarks rely on (about, with the defaults):
- the word `failed` (any case) in ~7% of lines; the phrase "Failed password" in ~5%,
- `host.name` values `web-01`..`web-20`, `db-01`..`db-10`, `cache-01`..`cache-10`, `app-01`..`app-10`.
"""

import argparse
import calendar
import datetime
import multiprocessing
import os
import random
import sys
import time

CHUNK = 100_000  # lines per chunk: the unit of determinism and of parallel work

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
GROUPS = {"web": 20, "db": 10, "cache": 10, "app": 10}
HOSTS = [f"{g}-{i:02d}" for g, k in GROUPS.items() for i in range(1, k + 1)]
HOST_GROUP = [h.split("-")[0] for h in HOSTS]

USERS = [
    "root", "admin", "ubuntu", "deploy", "git", "postgres", "www-data", "jenkins", "alice",
    "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "walter", "backup", "nagios", "ansible", "oracle",
    "test", "guest", "user", "support", "ftp", "mysql", "hadoop", "elastic", "kafka", "spark",
]
# Skewed: root/admin/ubuntu far more common than the tail (as in real brute-force logs).
USER_TABLE = [USERS[min(int(-4.0 * __import__("math").log(1 - (i + 0.5) / 1024)), len(USERS) - 1)]
              for i in range(1024)]
UID = {u: 1000 + i for i, u in enumerate(USERS)}
UNITS = [
    "nginx", "postgresql", "redis-server", "docker", "containerd", "kubelet", "ssh", "cron",
    "rsyslog", "logrotate", "apt-daily", "apt-daily-upgrade", "fstrim", "man-db", "snapd",
    "systemd-tmpfiles-clean", "certbot", "node-exporter", "haproxy", "postfix",
]
PATHS = [
    "/api/v1/orders", "/api/v1/users", "/api/v1/items", "/api/v2/search", "/login", "/logout",
    "/static/app.js", "/static/main.css", "/healthz", "/metrics", "/cart", "/checkout",
    "/images/logo.png", "/admin/settings", "/api/v1/payments", "/ws/notifications",
]
METHODS = ["GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"]
STATUS = [200] * 12 + [201, 204, 301, 302, 304, 400, 401, 403, 404, 404, 500, 502]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0",
    "curl/8.5.0", "Go-http-client/1.1", "python-requests/2.31.0", "kube-probe/1.29",
]
DBS = ["app", "orders", "users", "billing", "analytics", "inventory"]
CIPHERS = ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
JOBS = ["/usr/local/bin/backup.sh --incremental", "php /var/www/app/artisan schedule:run",
        "/usr/lib/sysstat/debian-sa1 1 1", "test -x /usr/sbin/anacron || run-parts /etc/cron.daily"]
HEX = "0123456789abcdef"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# Message functions take g = Random.getrandbits (one call per number keeps this fast).
def ip(g):
    """An IPv4 address: a pool of scanners (185.x), private 10.x, or anywhere."""
    v = g(32)
    k = v & 3
    if k == 0:
        return f"185.{(v >> 2) & 15}.{(v >> 6) & 255}.{(v >> 14) & 255}"
    if k == 1:
        return f"10.{(v >> 2) & 7}.{(v >> 5) & 255}.{(v >> 13) & 255}"
    return f"{(v >> 2) % 223 + 1}.{(v >> 10) & 255}.{(v >> 18) & 255}.{(v >> 26) + 1}"


def hexs(g, n):
    v = g(4 * n)
    return "".join([HEX[(v >> (4 * i)) & 15] for i in range(n)])


def b64s(g, n):
    v = g(6 * n)
    return "".join([B64[(v >> (6 * i)) & 63] for i in range(n)])


def port(g):
    return 1024 + g(32) % 64511


def user(g):
    return USER_TABLE[g(10)]


def pick(g, seq):
    return seq[g(16) % len(seq)]


def m_sshd_failed(g):
    inv = "invalid user " if g(3) < 5 else ""
    return (f"Failed password for {inv}{user(g)} from {ip(g)} port {port(g)} ssh2 "
            f"[attempt {1 + g(3) % 6} of 6, method password]")


def m_sshd_accepted(g):
    return f"Accepted publickey for {user(g)} from {ip(g)} port {port(g)} ssh2: RSA SHA256:{b64s(g, 43)}"


def m_sshd_closed(g):
    return (f"Connection closed by authenticating user {user(g)} {ip(g)} port {port(g)} [preauth] "
            f"after {g(7)} ms")


def m_sshd_disconnect(g):
    return (f"Received disconnect from {ip(g)} port {port(g)}:11: disconnected by user; "
            f"session lasted {g(16)} s")


def m_sshd_session(g):
    u = user(g)
    return (f"pam_unix(sshd:session): session opened for user {u}(uid={UID[u]}) by (uid=0) "
            f"from {ip(g)} tty pts/{g(4)}")


def m_sshd_maxauth(g):
    return (f"error: maximum authentication attempts exceeded for invalid user {user(g)} from "
            f"{ip(g)} port {port(g)} ssh2 [preauth]")


def m_cron_cmd(g):
    u = pick(g, ["root", "backup", "www-data", "deploy"])
    return f"({u}) CMD ({pick(g, JOBS)} >> /var/log/cron-{u}.log 2>&1) job={g(20)}"


def m_cron_session(g):
    u = pick(g, ["root", "backup", "www-data"])
    return f"pam_unix(cron:session): session closed for user {u} (uid={UID[u]}) after {g(10)} ms runtime"


def m_systemd_started(g):
    return (f"Started Session {g(17)} of User {user(g)}; unit session-{g(17)}.scope is now active "
            f"(slice user-{1000 + g(5)}.slice).")


def m_systemd_unit(g):
    u = pick(g, UNITS)
    k = g(2)
    if k == 0:
        return (f"{u}.service: Succeeded. Consumed {g(10)}.{g(10):03d}s CPU time, "
                f"{1 + g(9)}M memory peak, {g(12)}K read from disk.")
    if k == 1:
        return f"Starting {u}.service - periodic maintenance job for {u} ({g(20)} files checked)..."
    if k == 2:
        return (f"{u}.service: Main process exited, code=exited, status={1 + g(2)}/FAILURE after "
                f"{g(9)}s; restart counter is at {g(4)}.")
    return f"Reloading {u}.service configuration requested by uid {g(11)} via systemctl (job {g(20)})."


def kstamp(g):
    return f"[{g(20)}.{g(20):06d}]"


def m_kernel_ufw(g):
    return (f"{kstamp(g)} [UFW BLOCK] IN=eth0 OUT= SRC={ip(g)} DST={ip(g)} LEN={40 + g(10)} "
            f"TTL={30 + g(7)} PROTO=TCP SPT={port(g)} DPT={pick(g, [22, 23, 80, 443, 3306, 3389, 5432, 6379, 8080])} SYN")


def m_kernel_misc(g):
    k = g(2)
    if k == 0:
        return (f"{kstamp(g)} Out of memory: Killed process {300 + g(16)} (java) "
                f"total-vm:{g(23)}kB, anon-rss:{g(20)}kB, file-rss:{g(12)}kB")
    if k == 1:
        return (f"{kstamp(g)} EXT4-fs (nvme0n1p{1 + g(2)}): mounted filesystem {hexs(g, 8)} "
                f"with ordered data mode. Quota mode: none.")
    if k == 2:
        return (f"{kstamp(g)} eth0: Link is Up - {pick(g, [1000, 10000, 25000])}Mbps/Full - "
                f"flow control rx/tx, {g(10)} packets dropped since reset")
    return (f"{kstamp(g)} TCP: request_sock_TCP: Possible SYN flooding on port "
            f"{pick(g, [80, 443, 8080])}. Sending cookies. Check SNMP counters.")


def m_nginx(g):
    return (f"{ip(g)} - - \"{pick(g, METHODS)} {pick(g, PATHS)}/{g(17)} HTTP/1.1\" "
            f"{pick(g, STATUS)} {g(17)} rt={g(11) / 1000:.3f} \"{pick(g, AGENTS)}\"")


def m_haproxy(g):
    return (f"{ip(g)}:{port(g)} [fe_https~] be_app/srv{1 + g(3)} "
            f"0/0/{g(3)}/{g(10)}/{g(10)} {pick(g, STATUS)} {g(17)} - - ---- "
            f"{g(10)}/{g(7)}/0/0/0 0/0 \"{pick(g, METHODS)} {pick(g, PATHS)} HTTP/1.1\"")


def m_postfix_smtpd(g):
    k = g(2) % 3
    if k == 0:
        return f"connect from unknown[{ip(g)}] using TLSv1.3 with cipher {pick(g, CIPHERS)} (256/256 bits)"
    if k == 1:
        return (f"NOQUEUE: reject: RCPT from unknown[{ip(g)}]: 554 5.7.1 <{user(g)}@example.org>: "
                f"Relay access denied; proto=ESMTP")
    return (f"disconnect from unknown[{ip(g)}] ehlo=1 mail=1 rcpt=0/1 data=0 quit=1 "
            f"commands=3/4 in {g(12)} ms")


def m_postfix_qmgr(g):
    return (f"{hexs(g, 10).upper()}: from=<{user(g)}@example.com>, size={g(20)}, "
            f"nrcpt={1 + g(2)} (queue active) delay={g(7) / 10:.1f}, delays=0/0/0.{g(3)}/0")


def m_sudo(g):
    u = user(g)
    return (f"{u} : TTY=pts/{g(3)} ; PWD=/home/{u} ; USER=root ; "
            f"COMMAND=/usr/bin/systemctl restart {pick(g, UNITS)}")


def m_dockerd(g):
    return (f"time=\"2026-11-{1 + g(4) % 28:02d}T{g(4):02d}:{g(5):02d}:{g(5):02d}Z\" level=info "
            f"msg=\"Container {hexs(g, 12)} health status changed to "
            f"{pick(g, ['healthy', 'healthy', 'healthy', 'unhealthy'])}\"")


def m_kubelet(g):
    return (f"I{1000 + g(13)} {g(4):02d}:{g(5):02d}:{g(5):02d}.{g(19):06d} prober.go:{100 + g(5)}] "
            f"\"Probe succeeded\" probeType=\"Readiness\" pod=\"default/api-{hexs(g, 5)}\"")


def m_postgres(g):
    k = g(2) % 3
    if k == 0:
        return (f"LOG:  duration: {g(17) / 10:.1f} ms  statement: SELECT * FROM {pick(g, DBS)} "
                f"WHERE id = {g(23)} LIMIT {1 + g(7)}")
    if k == 1:
        return (f"LOG:  checkpoint complete: wrote {g(13)} buffers ({g(6)}.{g(3)}%); {g(3)} WAL "
                f"file(s) added, 0 removed; write={g(9)}.{g(9):03d} s")
    return (f"FATAL:  password authentication failed for user \"{user(g)}\" connection from "
            f"{ip(g)} database \"{pick(g, DBS)}\"")


def m_mysqld(g):
    return (f"[Warning] Aborted connection {g(23)} to db: '{pick(g, DBS)}' user: '{user(g)}' "
            f"host: '{ip(g)}' (Got timeout reading communication packets)")


def m_redis(g):
    if g(1):
        return (f"{g(16)}:M {1 + g(4) % 28} Nov {g(4):02d}:{g(5):02d}:{g(5):02d}.{g(9):03d} * "
                f"{1 + g(13)} changes in {pick(g, [60, 300, 900])} seconds. Saving... fork took {g(8)} ms")
    return (f"{g(16)}:C {1 + g(4) % 28} Nov {g(4):02d}:{g(5):02d}:{g(5):02d}.{g(9):03d} * "
            f"Background saving terminated with success, {1 + g(10)} MB written in {g(7)} ms")


def m_dhclient(g):
    return f"DHCPREQUEST for {ip(g)} on eth0 to {ip(g)} port 67 (xid=0x{hexs(g, 8)}) renewal in {g(15)} seconds"


def m_ntpd(g):
    return (f"adjusting local clock by {g(1) and '-' or ''}0.{g(19):06d}s; stratum {1 + g(2)} "
            f"peer {ip(g)} offset within limits, jitter {g(10)} us")


def m_auditd(g):
    return (f"type=USER_LOGIN msg=audit({1700000000 + g(26)}.{g(9):03d}:{g(16)}): pid={300 + g(16)} "
            f"uid=0 acct=\"{user(g)}\" exe=\"/usr/sbin/sshd\" addr={ip(g)} res=failed")


ALL = ("web", "db", "cache", "app")
# program, facility, severity, weight, message function, pid kind, host groups.
# pid kind: "conn" a fresh pid per line, "fixed" one pid per host, "none" no [pid].
TEMPLATES = [
    ("sshd", 10, 6, 5.0, m_sshd_failed, "conn", ALL),
    ("sshd", 10, 6, 2.0, m_sshd_accepted, "conn", ALL),
    ("sshd", 10, 6, 2.0, m_sshd_closed, "conn", ALL),
    ("sshd", 10, 6, 2.0, m_sshd_disconnect, "conn", ALL),
    ("sshd", 10, 6, 2.0, m_sshd_session, "conn", ALL),
    ("sshd", 10, 3, 0.5, m_sshd_maxauth, "conn", ALL),
    ("CRON", 9, 6, 4.0, m_cron_cmd, "conn", ALL),
    ("CRON", 10, 6, 2.0, m_cron_session, "conn", ALL),
    ("systemd", 3, 6, 4.0, m_systemd_started, "fixed", ALL),
    ("systemd", 3, 6, 4.0, m_systemd_unit, "fixed", ALL),
    ("kernel", 0, 4, 6.0, m_kernel_ufw, "none", ALL),
    ("kernel", 0, 3, 1.0, m_kernel_misc, "none", ALL),
    ("nginx", 16, 6, 50.0, m_nginx, "fixed", ("web",)),
    ("haproxy", 16, 6, 25.0, m_haproxy, "fixed", ("web",)),
    ("postfix/smtpd", 2, 6, 8.0, m_postfix_smtpd, "conn", ("app",)),
    ("postfix/qmgr", 2, 6, 6.0, m_postfix_qmgr, "fixed", ("app",)),
    ("sudo", 10, 5, 1.5, m_sudo, "conn", ALL),
    ("dockerd", 3, 6, 15.0, m_dockerd, "fixed", ("app",)),
    ("kubelet", 3, 6, 15.0, m_kubelet, "fixed", ("app",)),
    ("postgres", 16, 6, 30.0, m_postgres, "conn", ("db",)),
    ("mysqld", 16, 4, 10.0, m_mysqld, "fixed", ("db",)),
    ("redis-server", 16, 5, 25.0, m_redis, "fixed", ("cache",)),
    ("dhclient", 3, 6, 1.0, m_dhclient, "fixed", ALL),
    ("ntpd", 12, 6, 1.0, m_ntpd, "fixed", ALL),
    ("auditd", 13, 5, 1.0, m_auditd, "fixed", ALL),
]


def weighted_table(weights, size):
    """A table of `size` indices in which index i appears in proportion to weights[i]."""
    total = sum(weights)
    out, acc = [], 0.0
    for i, w in enumerate(weights):
        acc += w
        while len(out) < round(acc / total * size):
            out.append(i)
    return out


_TABLES = {}


def build_tables(pri):
    """Host table (skewed), and per host: a template table and the line pieces around the time."""
    if pri in _TABLES:
        return _TABLES[pri]
    r = random.Random(7)
    host_w = [1.0 / (1 + i) ** 0.8 for i in range(len(HOSTS))]
    r.shuffle(host_w)
    host_table = weighted_table(host_w, 4096)
    per_host = []
    for h, grp in zip(HOSTS, HOST_GROUP):
        idx = [i for i, t in enumerate(TEMPLATES) if grp in t[6]]
        table = weighted_table([TEMPLATES[i][3] for i in idx], 4096)
        pieces = []
        for i in idx:
            prog, fac, sev, _w, fn, kind, _g = TEMPLATES[i]
            head = f"<{fac * 8 + sev}>" if pri else ""
            if kind == "none":
                pieces.append((head, f" {h} {prog}: ", fn, False))
            elif kind == "conn":
                pieces.append((head, f" {h} {prog}[", fn, True))
            else:
                pieces.append((head, f" {h} {prog}[{300 + r.randrange(65000)}]: ", fn, False))
        per_host.append([pieces[j] for j in table])
    _TABLES[pri] = (host_table, per_host)
    return host_table, per_host


def gen_chunk(args):
    """Lines [first, last) as bytes; deterministic in (seed, chunk index)."""
    k, first, last, n, seed, start, span, pri = args
    g = random.Random(seed * 1_000_003 + k).getrandbits
    host_table, per_host = build_tables(pri)
    out = []
    append = out.append
    cached_sec, ts = None, ""
    for i in range(first, last):
        sec = start + (i * span) // n
        if sec != cached_sec:
            tm = time.gmtime(sec)
            ts = f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
            cached_sec = sec
        head, mid, fn, conn = per_host[host_table[g(12)]][g(12)]
        if conn:
            append(f"{head}{ts}{mid}{1000 + g(22)}]: {fn(g)}\n")
        else:
            append(f"{head}{ts}{mid}{fn(g)}\n")
    return "".join(out).encode()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", type=int, help="number of lines")
    p.add_argument("out", help="output file ('-' for stdout)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", default="2026-11-01", help="first timestamp (UTC date, YYYY-MM-DD)")
    p.add_argument("--days", type=float, default=7.0, help="timestamps spread over this many days")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-pri", action="store_true", help="omit <PRI> (the /var/log/syslog form)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    if a.n < 0:
        sys.exit("gen: n must be >= 0")
    start = calendar.timegm(datetime.datetime.strptime(a.start, "%Y-%m-%d").timetuple())
    span = int(a.days * 86400)
    tasks = [(k, f, min(f + CHUNK, a.n), a.n, a.seed, start, span, not a.no_pri)
             for k, f in enumerate(range(0, a.n, CHUNK))]
    t0 = time.time()
    written = 0
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")
    with out:
        pool = multiprocessing.Pool(a.jobs) if a.jobs > 1 and len(tasks) > 1 else None
        chunks = pool.imap(gen_chunk, tasks, chunksize=1) if pool else map(gen_chunk, tasks)
        for j, buf in enumerate(chunks):
            out.write(buf)
            written += len(buf)
            if not a.quiet and (j + 1) % 20 == 0:
                print(f"gen: {tasks[j][2]:,} lines, {written / 1e6:.0f} MB, {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)
        if pool:
            pool.close()
            pool.join()
    if not a.quiet:
        dt = time.time() - t0
        print(f"gen: wrote {a.n:,} lines, {written:,} bytes (avg {written / max(a.n, 1):.0f} B/line) "
              f"in {dt:.1f} s ({a.n / max(dt, 1e-9):,.0f} lines/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
