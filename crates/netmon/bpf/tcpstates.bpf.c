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
// src/lifetime.rs (112 bytes, no implicit padding).
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
};

// The fields of struct tcp_sock read at CLOSE. preserve_access_index makes every access a CO-RE
// relocation: the loader finds each field's offset in the running kernel's BTF by name.
struct tcp_sock___loglynx {
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 total_retrans;
	__u32 segs_out;
	__u32 srtt_us;  // smoothed RTT << 3
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

// Counted losses, per CPU (slots DROP_*).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
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

// send/recv run in the calling process: remember it as the socket's owner when it changes.
static __always_inline int note_io(struct sock_length_ctx *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->sk;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
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
	return note_io(ctx);
}

SEC("tracepoint/sock/sock_recv_length")
int tcp_recv_owner(struct sock_length_ctx *ctx)
{
	return note_io(ctx);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
