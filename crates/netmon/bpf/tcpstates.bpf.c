// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// loglynx netmon: every TCP state change, with the process that owns the socket.
//
// Attach points:
//   tracepoint sock/inet_sock_set_state   the state changes themselves
//   tracepoints sock/sock_send_length, sock/sock_recv_length (Linux 6.3+)
//                                         the last process that sent or received on a socket
//   fexit      inet_csk_accept            the process that accepted a passive socket (optional:
//                                         needs BPF trampolines; user space attaches it if it can)
//   tp_btf     tcp_retransmit_skb, tcp_retransmit_synack, tcp_send_reset, tcp_receive_reset,
//              tcp_probe, kfree_skb       performance counters (optional, when `emit_perf` is set):
//                                         retransmits and resets per owner, RTT log2 histograms per
//                                         owner and peer, drops per reason. BTF tracepoints take
//                                         their arguments as an array of u64 (the kernel's
//                                         prototype), so no tracepoint layout is declared here; a
//                                         kernel lacking one of them (or an argument, such as
//                                         kfree_skb's reason) refuses that program alone.
//
// No vmlinux.h: the tracepoint context is declared by hand from
// /sys/kernel/tracing/events/sock/inet_sock_set_state/format, which is a stable ABI. The
// counters of a closing socket (connection lifetimes, like libbpf-tools' tcplife) are read from
// struct tcp_sock with CO-RE: the loader relocates the field offsets against the kernel's BTF.
//
// Rebuild with bpf/build.sh; bpf/check.sh verifies the committed object matches this source.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

#define TASK_COMM_LEN 16

// Where the reported pid/comm came from (event.owner_src, owner.src).
#define OWNER_CURRENT 0  // the task on the CPU: the owner was unknown
#define OWNER_CONNECT 1  // recorded when the socket entered SYN_SENT (connect, process context)
#define OWNER_LISTEN 2   // inherited from the process that put the listener in LISTEN
#define OWNER_ACCEPT 3   // recorded when accept() returned the socket
#define OWNER_SOCKET 4   // recorded on another transition made in process context (listen)
#define OWNER_IO 5       // recorded when a process sent or received on the socket

// Filter modes (bits of filter_ports, and values in the port_filter map).
#define PORT_LOCAL 1
#define PORT_REMOTE 2
#define PORT_EITHER 4

// Context of sock:inet_sock_set_state (offsets from the tracepoint's format file).
struct inet_sock_set_state_ctx {
	__u64 common;  // common_type, common_flags, common_preempt_count, common_pid
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;   // host byte order
	__u16 dport;   // host byte order
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

// Context of sock:sock_send_length and sock:sock_recv_length (same layout).
struct sock_length_ctx {
	__u64 common;
	const void *sk;
	__u16 family;
	__u16 protocol;
	int ret;
	int flags;
};

// One record in the ring buffer; mirrored by src/tracer/record.rs (88 bytes, no implicit padding).
struct event {
	__u64 ts_ns;     // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u64 skaddr;
	__u64 delta_us;  // time spent in oldstate; 0 when the socket was not seen before
	__u32 pid;       // tgid of the owner
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 oldstate;
	__u8 newstate;
	__u8 owner_src;
	__u8 pad[3];
	__u8 saddr[16];  // AF_INET: first 4 bytes
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
};

// One finished connection (emitted at the change to CLOSE when `emit_lives` is set); mirrored by
// src/lifetime.rs (120 bytes, no implicit padding).
struct life {
	__u64 ts_ns;           // bpf_ktime_get_ns at CLOSE
	__u64 skaddr;
	__u64 duration_ns;     // since SYN_SENT (active) or LISTEN->SYN_RECV (passive)
	__u64 bytes_acked;     // sent by this socket and acknowledged by the peer
	__u64 bytes_received;
	__u32 pid;
	__u32 total_retrans;
	__u32 segs_out;
	__u32 srtt_us;         // smoothed RTT, microseconds
	__u16 family;
	__u16 sport;           // from the tracepoint (skc_num is already 0 at CLOSE)
	__u16 dport;
	__u8 active;           // 1: this socket connected; 0: accepted
	__u8 owner_src;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
	__u64 cgroup_id;       // the socket's cgroup v2 id (0: unknown)
};

// sk->sk_cgrp_data.cgroup->kn->id: the cgroup v2 id of the socket, set when it was created
// (correct in softirq, unlike the current task's cgroup).
struct kernfs_node___loglynx {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup___loglynx {
	struct kernfs_node___loglynx *kn;
} __attribute__((preserve_access_index));

struct sock_cgroup_data___loglynx {
	struct cgroup___loglynx *cgroup;
} __attribute__((preserve_access_index));

struct sock___loglynx {
	struct sock_cgroup_data___loglynx sk_cgrp_data;
} __attribute__((preserve_access_index));

// The fields of struct tcp_sock read at CLOSE. preserve_access_index makes every access a CO-RE
// relocation: the loader finds each field's offset in the running kernel's BTF by name.
struct tcp_sock___loglynx {
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 total_retrans;
	__u32 segs_out;
	__u32 srtt_us;  // smoothed RTT << 3
} __attribute__((preserve_access_index));

// The control block of a TCP skb (in sk_buff.cb): how many segments the skb carries.
struct tcp_skb_cb___loglynx {
	__u32 seq;
	__u32 end_seq;
	union {
		__u32 tcp_tw_isn;
		struct {
			__u16 tcp_gso_segs;
			__u16 tcp_gso_size;
		};
	};
} __attribute__((preserve_access_index));

struct sk_buff___loglynx {
	char cb[48];
} __attribute__((preserve_access_index));

struct birth {
	__u64 ts_ns;
	__u8 active;
	__u8 pad[7];
};

struct owner {
	__u32 pid;
	__u8 src;
	__u8 pad[3];
	char comm[TASK_COMM_LEN];
};

// Read-only settings, written by the loader before the program is loaded.
const volatile __u16 filter_family = 0;  // 0: any, else AF_INET or AF_INET6
const volatile __u8 filter_ports = 0;    // PORT_* bits that are active
const volatile __u8 emit_lives = 0;      // 1: a `struct life` per finished connection
const volatile __u8 emit_perf = 0;       // 1: keep peers for the RTT histograms
const volatile __u64 rtt_sample_ns = 10000000;  // at most one RTT sample per socket per this

// Ring buffer: max_entries is set by the loader (a power of two multiple of the page size).
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

// Finished connections (only written when emit_lives is set); sized by the loader.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} lives SEC(".maps");

#define DROP_EVENTS 0     // ring buffer `events` full
#define DROP_LIVES 1      // ring buffer `lives` full
#define DROP_NO_BIRTH 2   // a connection closed whose birth was not recorded (born before the
                          // tracer started, or evicted from the bounded `births` map)
#define DROP_PERF_FULL 3  // an owner not counted: `perf` map full
#define DROP_RTT_FULL 4   // an RTT sample not counted: `rtt` map full
#define DROP_OWNER_DROPS_FULL 5  // a drop not counted per owner: `owner_drops` map full

// Counted losses, per CPU (slots DROP_*).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// skaddr -> time of the last state change (ns).
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} since SEC(".maps");

// skaddr -> when and how the connection began (only kept when emit_lives is set).
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct birth);
} births SEC(".maps");

// Counters per owner (tgid); mirrored by src/perf.rs.
struct perf {
	__u64 retrans;         // segments retransmitted (as total_retrans counts them)
	__u64 synack_retrans;  // tcp_retransmit_synack
	__u64 rst_sent;        // tcp_send_reset
	__u64 rst_recv;        // tcp_receive_reset
	__u64 tx_bytes;        // sock_send_length (process context)
	__u64 rx_bytes;        // sock_recv_length
	__u64 drops;           // kfree_skb of packets its sockets received (rx_sk set)
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct perf);
} perf SEC(".maps");

struct peer {
	__u16 family;
	__u8 pad[6];
	__u8 daddr[16];
};

// skaddr -> remote address (recorded on the change to ESTABLISHED when emit_perf is set).
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct peer);
} peers SEC(".maps");

#define RTT_SLOTS 32

struct rtt_key {
	__u32 pid;
	__u16 family;
	__u16 pad;
	__u8 daddr[16];
};

// Per owner and peer: smoothed RTT samples (slot i counts samples in [2^i, 2^(i+1)) us),
// segments retransmitted and segments sent (the retransmit rate's denominator).
struct rtt_hist {
	__u64 slots[RTT_SLOTS];
	__u64 count;
	__u64 sum_us;
	__u64 retrans;   // as struct perf's, for this peer
	__u64 segs_out;  // tcp_sock.segs_out deltas, taken at each sample and at close
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rtt_key);
	__type(value, struct rtt_hist);
} rtt SEC(".maps");

// A zeroed histogram to insert from (too large for the stack budget alongside the rest).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rtt_hist);
} rtt_zero SEC(".maps");

// The last sample of a socket: its time (the per-socket rate limit) and segs_out then.
struct sample {
	__u64 ts_ns;
	__u64 segs_out;
};

// skaddr -> its last RTT sample (the segs_out baseline is set at ESTABLISHED). Sized like
// peers and owners (one entry per live socket); an evicted socket loses one interval's
// segments rather than re-adding its whole segs_out.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sample);
} rtt_last SEC(".maps");

#define REASONS 1024

// skb drop reason (enum skb_drop_reason; >= REASONS counted in the last slot) -> drops.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drop_reasons SEC(".maps");

struct owner_drop_key {
	__u32 pid;
	__u32 reason;
};

// (owner, drop reason) -> packets dropped that a socket of the owner received (kfree_skb's
// rx_sk, Linux 6.11+).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct owner_drop_key);
	__type(value, __u64);
} owner_drops SEC(".maps");

// Reset reason (enum sk_rst_reason) of tcp_send_reset -> resets sent.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} rst_reasons SEC(".maps");

// skaddr -> owning process.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct owner);
} owners SEC(".maps");

// Local port of a listening socket -> the process that called listen().
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u16);
	__type(value, struct owner);
} listeners SEC(".maps");

// Port -> PORT_* bits it is wanted for (only read when filter_ports is not 0).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} port_filter SEC(".maps");

static __always_inline __u8 port_bits(__u16 port)
{
	__u8 *bits = bpf_map_lookup_elem(&port_filter, &port);
	return bits ? *bits : 0;
}

static __always_inline int wanted(__u16 sport, __u16 dport)
{
	__u8 mode = filter_ports;
	if (!mode)
		return 1;
	__u8 s = port_bits(sport);
	__u8 d = port_bits(dport);
	if ((mode & PORT_LOCAL) && !(s & PORT_LOCAL))
		return 0;
	if ((mode & PORT_REMOTE) && !(d & PORT_REMOTE))
		return 0;
	if ((mode & PORT_EITHER) && !((s | d) & PORT_EITHER))
		return 0;
	return 1;
}

static __always_inline void count_drop(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &slot);
	if (n)
		*n += 1;
}

// The counters of owner `pid` towards the peer of socket `sk` (created when new); NULL when the
// peer is unknown (the socket was not seen reaching ESTABLISHED) or the map is full.
static __always_inline struct rtt_hist *peer_hist(__u64 sk, __u32 pid)
{
	struct peer *peer = bpf_map_lookup_elem(&peers, &sk);
	if (!peer)
		return 0;
	struct rtt_key key = {};
	key.pid = pid;
	key.family = peer->family;
	__builtin_memcpy(key.daddr, peer->daddr, sizeof(key.daddr));
	struct rtt_hist *h = bpf_map_lookup_elem(&rtt, &key);
	if (h)
		return h;
	__u32 zero = 0;
	struct rtt_hist *z = bpf_map_lookup_elem(&rtt_zero, &zero);
	if (!z)
		return 0;
	if (bpf_map_update_elem(&rtt, &key, z, BPF_NOEXIST) && !bpf_map_lookup_elem(&rtt, &key)) {
		count_drop(DROP_RTT_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(&rtt, &key);
}

static __always_inline void note_birth(__u64 sk, __u64 now, __u8 active)
{
	struct birth b = {};
	b.ts_ns = now;
	b.active = active;
	bpf_map_update_elem(&births, &sk, &b, BPF_ANY);
}

// The connection `sk` ends: one `struct life` with its counters, if its birth was seen.
static __always_inline void emit_life(struct inet_sock_set_state_ctx *ctx, __u64 sk, __u64 now,
				      const struct owner *o)
{
	struct birth *b = bpf_map_lookup_elem(&births, &sk);
	if (!b) {
		count_drop(DROP_NO_BIRTH);
		return;
	}
	struct birth seen = *b;
	bpf_map_delete_elem(&births, &sk);
	struct life *l = bpf_ringbuf_reserve(&lives, sizeof(*l), 0);
	if (!l) {
		count_drop(DROP_LIVES);
		return;
	}
	const struct tcp_sock___loglynx *tp = ctx->skaddr;
	l->ts_ns = now;
	l->skaddr = sk;
	l->duration_ns = now > seen.ts_ns ? now - seen.ts_ns : 0;
	l->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	l->bytes_received = BPF_CORE_READ(tp, bytes_received);
	l->total_retrans = BPF_CORE_READ(tp, total_retrans);
	l->segs_out = BPF_CORE_READ(tp, segs_out);
	l->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	l->pid = o->pid;
	l->family = ctx->family;
	l->sport = ctx->sport;
	l->dport = ctx->dport;
	l->active = seen.active;
	l->owner_src = o->src;
	__builtin_memcpy(l->comm, o->comm, sizeof(l->comm));
	const struct sock___loglynx *s = ctx->skaddr;
	l->cgroup_id = BPF_CORE_READ(s, sk_cgrp_data.cgroup, kn, id);
	if (ctx->family == AF_INET) {
		__builtin_memset(l->saddr, 0, sizeof(l->saddr));
		__builtin_memset(l->daddr, 0, sizeof(l->daddr));
		__builtin_memcpy(l->saddr, ctx->saddr, 4);
		__builtin_memcpy(l->daddr, ctx->daddr, 4);
	} else {
		__builtin_memcpy(l->saddr, ctx->saddr_v6, 16);
		__builtin_memcpy(l->daddr, ctx->daddr_v6, 16);
	}
	bpf_ringbuf_submit(l, 0);
}

static __always_inline void current_owner(struct owner *o, __u8 src)
{
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->src = src;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_change(struct inet_sock_set_state_ctx *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	__u16 family = ctx->family;
	if (filter_family && family != filter_family)
		return 0;
	__u16 sport = ctx->sport;
	__u16 dport = ctx->dport;
	if (!wanted(sport, dport))
		return 0;

	__u64 sk = (__u64)ctx->skaddr;
	int oldstate = ctx->oldstate;
	int newstate = ctx->newstate;
	__u64 now = bpf_ktime_get_ns();

	__u64 delta_us = 0;
	__u64 *t = bpf_map_lookup_elem(&since, &sk);
	if (t && now > *t)
		delta_us = (now - *t) / 1000;

	// Who owns the socket. connect() and listen() run in process context; the child of a
	// listener is created in softirq, so it inherits the listener's owner until accept().
	struct owner o = {};
	if (newstate == TCP_SYN_SENT) {
		current_owner(&o, OWNER_CONNECT);
		bpf_map_update_elem(&owners, &sk, &o, BPF_ANY);
		if (emit_lives)
			note_birth(sk, now, 1);
	} else if (newstate == TCP_LISTEN) {
		current_owner(&o, OWNER_SOCKET);
		bpf_map_update_elem(&owners, &sk, &o, BPF_ANY);
		bpf_map_update_elem(&listeners, &sport, &o, BPF_ANY);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
		// A new child of a listener: an skaddr seen before belonged to an older socket.
		struct owner *l = bpf_map_lookup_elem(&listeners, &sport);
		if (l) {
			o = *l;
			o.src = OWNER_LISTEN;
			bpf_map_update_elem(&owners, &sk, &o, BPF_ANY);
		} else {
			bpf_map_delete_elem(&owners, &sk);
			current_owner(&o, OWNER_CURRENT);
		}
		if (emit_lives)
			note_birth(sk, now, 0);
	} else {
		struct owner *known = bpf_map_lookup_elem(&owners, &sk);
		if (known)
			o = *known;
		else
			current_owner(&o, OWNER_CURRENT);
	}

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->ts_ns = now;
		e->skaddr = sk;
		e->delta_us = delta_us;
		e->pid = o.pid;
		e->family = family;
		e->sport = sport;
		e->dport = dport;
		e->oldstate = oldstate;
		e->newstate = newstate;
		e->owner_src = o.src;
		e->pad[0] = 0;
		e->pad[1] = 0;
		e->pad[2] = 0;
		__builtin_memcpy(e->comm, o.comm, sizeof(e->comm));
		if (family == AF_INET) {
			__builtin_memset(e->saddr, 0, sizeof(e->saddr));
			__builtin_memset(e->daddr, 0, sizeof(e->daddr));
			__builtin_memcpy(e->saddr, ctx->saddr, 4);
			__builtin_memcpy(e->daddr, ctx->daddr, 4);
		} else {
			__builtin_memcpy(e->saddr, ctx->saddr_v6, 16);
			__builtin_memcpy(e->daddr, ctx->daddr_v6, 16);
		}
		bpf_ringbuf_submit(e, 0);
	} else {
		count_drop(DROP_EVENTS);
	}

	if (emit_perf && newstate == TCP_ESTABLISHED) {
		struct peer p = {};
		p.family = family;
		if (family == AF_INET)
			__builtin_memcpy(p.daddr, ctx->daddr, 4);
		else
			__builtin_memcpy(p.daddr, ctx->daddr_v6, 16);
		bpf_map_update_elem(&peers, &sk, &p, BPF_ANY);
		// The socket's segs_out baseline: tcp_rtt counts segments only from a known last
		// sample, so a socket that was evicted from rtt_last (or established before the tracer)
		// never adds its whole segs_out since birth. ts_ns 0 lets the first sample through.
		const struct tcp_sock___loglynx *tp = ctx->skaddr;
		struct sample base = {};
		base.segs_out = BPF_CORE_READ(tp, segs_out);
		bpf_map_update_elem(&rtt_last, &sk, &base, BPF_ANY);
	}
	if (emit_perf && newstate == TCP_CLOSE) {
		// The segments sent since the socket's last sample go to its owner and peer.
		struct sample *last = bpf_map_lookup_elem(&rtt_last, &sk);
		if (last) {
			const struct tcp_sock___loglynx *tp = ctx->skaddr;
			__u64 segs = BPF_CORE_READ(tp, segs_out);
			struct rtt_hist *h = peer_hist(sk, o.pid);
			if (h && segs > last->segs_out)
				__sync_fetch_and_add(&h->segs_out, segs - last->segs_out);
		}
		bpf_map_delete_elem(&peers, &sk);
		bpf_map_delete_elem(&rtt_last, &sk);
	}

	if (newstate == TCP_CLOSE && emit_lives && oldstate != TCP_LISTEN)
		emit_life(ctx, sk, now, &o);

	if (newstate == TCP_CLOSE) {
		bpf_map_delete_elem(&since, &sk);
		bpf_map_delete_elem(&owners, &sk);
		if (oldstate == TCP_LISTEN) {
			struct owner *l = bpf_map_lookup_elem(&listeners, &sport);
			if (l && l->pid == o.pid)
				bpf_map_delete_elem(&listeners, &sport);
		}
	} else {
		bpf_map_update_elem(&since, &sk, &now, BPF_ANY);
	}
	return 0;
}

// accept() returned a socket: from now on it belongs to the accepting process.
// fexit (BPF trampoline) rather than a kretprobe: kernels built without CONFIG_KPROBES have it,
// and bpf_get_func_ret finds the return value whatever the function's arity (4 arguments before
// Linux 6.10, 2 since), so no kernel headers or CO-RE are needed.
SEC("fexit/inet_csk_accept")
int tcp_accept_exit(void *ctx)
{
	__u64 sk = 0;
	if (bpf_get_func_ret(ctx, &sk) || !sk)
		return 0;
	struct owner o = {};
	current_owner(&o, OWNER_ACCEPT);
	bpf_map_update_elem(&owners, &sk, &o, BPF_ANY);
	return 0;
}

// The counters of owner `pid` (created with `comm` when new); NULL when the map is full.
static __always_inline struct perf *perf_of(__u32 pid, const char *comm)
{
	struct perf *p = bpf_map_lookup_elem(&perf, &pid);
	if (p)
		return p;
	struct perf fresh = {};
	if (comm)
		__builtin_memcpy(fresh.comm, comm, sizeof(fresh.comm));
	else
		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	if (bpf_map_update_elem(&perf, &pid, &fresh, BPF_NOEXIST) && bpf_map_lookup_elem(&perf, &pid) == 0) {
		count_drop(DROP_PERF_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(&perf, &pid);
}

// The counters of the owner of socket `sk` (pid 0 when the owner is unknown: these hooks run
// in softirq or timers, where the current task is not the owner).
static __always_inline struct perf *perf_of_sock(__u64 sk)
{
	struct owner *o = sk ? bpf_map_lookup_elem(&owners, &sk) : 0;
	if (o)
		return perf_of(o->pid, o->comm);
	char unknown[TASK_COMM_LEN] = {};
	return perf_of(0, unknown);
}

// send/recv run in the calling process: remember it as the socket's owner when it changes, and
// count the bytes (live volume per process, before the connection closes).
static __always_inline int note_io(struct sock_length_ctx *ctx, int tx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->sk;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (emit_perf && ctx->ret > 0) {
		struct perf *p = perf_of(pid, 0);
		if (p) {
			if (tx)
				__sync_fetch_and_add(&p->tx_bytes, ctx->ret);
			else
				__sync_fetch_and_add(&p->rx_bytes, ctx->ret);
		}
	}
	struct owner *known = bpf_map_lookup_elem(&owners, &sk);
	if (known && known->pid == pid)
		return 0;
	struct owner o = {};
	current_owner(&o, OWNER_IO);
	bpf_map_update_elem(&owners, &sk, &o, BPF_ANY);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int tcp_send_owner(struct sock_length_ctx *ctx)
{
	return note_io(ctx, 1);
}

SEC("tracepoint/sock/sock_recv_length")
int tcp_recv_owner(struct sock_length_ctx *ctx)
{
	return note_io(ctx, 0);
}

// Segments in a TCP skb (tcp_skb_pcount: the skb may carry several).
static __always_inline __u32 skb_segs(__u64 skb)
{
	const struct sk_buff___loglynx *s = (const void *)skb;
	const struct tcp_skb_cb___loglynx *cb = (const void *)__builtin_preserve_access_index(&s->cb);
	__u16 segs = BPF_CORE_READ(cb, tcp_gso_segs);
	return segs ? segs : 1;
}

static __always_inline void count_retrans(__u64 sk, __u64 skb)
{
	__u32 segs = skb_segs(skb);
	struct perf *p = perf_of_sock(sk);
	if (p)
		__sync_fetch_and_add(&p->retrans, segs);
	struct owner *o = sk ? bpf_map_lookup_elem(&owners, &sk) : 0;
	struct rtt_hist *h = peer_hist(sk, o ? o->pid : 0);
	if (h)
		__sync_fetch_and_add(&h->retrans, segs);
}

// tcp_retransmit_skb(const struct sock *sk, const struct sk_buff *skb, int err) (Linux 6.15+:
// fires on failed attempts too, which the kernel's total_retrans does not count).
SEC("tp_btf/tcp_retransmit_skb")
int tcp_retransmit_err(__u64 *ctx)
{
	if ((int)ctx[2] == 0)
		count_retrans(ctx[0], ctx[1]);
	return 0;
}

// tcp_retransmit_skb(const struct sock *sk, const struct sk_buff *skb) (before Linux 6.15:
// fires only on success); attached when the kernel refuses the program above.
SEC("tp_btf/tcp_retransmit_skb")
int tcp_retransmit(__u64 *ctx)
{
	count_retrans(ctx[0], ctx[1]);
	return 0;
}

// tcp_retransmit_synack(const struct sock *sk, const struct request_sock *req): sk is the
// listener, so the count goes to the listening process.
SEC("tp_btf/tcp_retransmit_synack")
int tcp_retransmit_synack(__u64 *ctx)
{
	struct perf *p = perf_of_sock(ctx[0]);
	if (p)
		__sync_fetch_and_add(&p->synack_retrans, 1);
	return 0;
}

static __always_inline void count_slot(void *map, __u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(map, &slot);
	if (n)
		*n += 1;
}

// tcp_send_reset(const struct sock *sk, const struct sk_buff *skb, enum sk_rst_reason reason)
// (sk may be NULL: a reset for a segment no socket took).
SEC("tp_btf/tcp_send_reset")
int tcp_send_reset(__u64 *ctx)
{
	// A socket reset by close() (SO_LINGER 0, unread data) is already in CLOSE, so its owner
	// entry is gone: that reset runs in the closing process, which is the owner.
	__u64 sk = ctx[0];
	struct owner *o = sk ? bpf_map_lookup_elem(&owners, &sk) : 0;
	struct perf *p = (sk && !o) ? perf_of(bpf_get_current_pid_tgid() >> 32, 0) : perf_of_sock(sk);
	if (p)
		__sync_fetch_and_add(&p->rst_sent, 1);
	__u32 reason = ctx[2];
	count_slot(&rst_reasons, reason < 256 ? reason : 255);
	return 0;
}

// tcp_receive_reset(struct sock *sk)
SEC("tp_btf/tcp_receive_reset")
int tcp_receive_reset(__u64 *ctx)
{
	struct perf *p = perf_of_sock(ctx[0]);
	if (p)
		__sync_fetch_and_add(&p->rst_recv, 1);
	return 0;
}

// kfree_skb(struct sk_buff *skb, void *location, enum skb_drop_reason reason) (before Linux
// 6.11; attached when the kernel refuses the program below)
SEC("tp_btf/kfree_skb")
int skb_drop(__u64 *ctx)
{
	__u32 reason = ctx[2];
	count_slot(&drop_reasons, reason < REASONS ? reason : REASONS - 1);
	return 0;
}

// kfree_skb(struct sk_buff *skb, void *location, enum skb_drop_reason reason,
// struct sock *rx_sk) (Linux 6.11+): a packet a socket received is counted for its owner too.
SEC("tp_btf/kfree_skb")
int skb_drop_sk(__u64 *ctx)
{
	__u32 reason = ctx[2];
	if (reason >= REASONS)
		reason = REASONS - 1;
	count_slot(&drop_reasons, reason);
	__u64 sk = ctx[3];
	struct owner *o = sk ? bpf_map_lookup_elem(&owners, &sk) : 0;
	if (!o)
		return 0;
	struct perf *p = perf_of(o->pid, o->comm);
	if (p)
		__sync_fetch_and_add(&p->drops, 1);
	struct owner_drop_key key = {};
	key.pid = o->pid;
	key.reason = reason;
	__u64 *n = bpf_map_lookup_elem(&owner_drops, &key);
	if (!n) {
		__u64 zero = 0;
		bpf_map_update_elem(&owner_drops, &key, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&owner_drops, &key);
	}
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		count_drop(DROP_OWNER_DROPS_FULL);
	return 0;
}

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r = 0, shift;
	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

// tcp_probe(struct sock *sk, const struct sk_buff *skb): a segment arrived on an established
// socket; sample its smoothed RTT into the owner's and peer's histogram, rate-limited.
SEC("tp_btf/tcp_probe")
int tcp_rtt(__u64 *ctx)
{
	__u64 sk = ctx[0];
	__u64 now = bpf_ktime_get_ns();
	struct sample *last = bpf_map_lookup_elem(&rtt_last, &sk);
	if (last && now - last->ts_ns < rtt_sample_ns)
		return 0;
	struct owner *o = bpf_map_lookup_elem(&owners, &sk);
	struct rtt_hist *h = peer_hist(sk, o ? o->pid : 0);
	if (!h)
		return 0;
	const struct tcp_sock___loglynx *tp = (const void *)sk;
	// Segments sent since the last sample (the first baseline is taken when the socket reaches
	// ESTABLISHED). With no last sample (evicted from the LRU, or established before the
	// tracer) nothing is counted this time: the sample only becomes the next baseline.
	struct sample cur = {};
	cur.ts_ns = now;
	cur.segs_out = BPF_CORE_READ(tp, segs_out);
	if (last && cur.segs_out > last->segs_out)
		__sync_fetch_and_add(&h->segs_out, cur.segs_out - last->segs_out);
	bpf_map_update_elem(&rtt_last, &sk, &cur, BPF_ANY);
	__u32 srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	if (!srtt_us)
		return 0;
	__u32 slot = log2_u32(srtt_us);
	if (slot >= RTT_SLOTS)
		slot = RTT_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_us, srtt_us);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
