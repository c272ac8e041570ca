// The eBPF data path (`datapath: ebpf`): two tc ingress programs that move TCP between pods
// without the host's forwarding path, as Cilium's host routing does. `from_pod` runs on every
// pod's host-side veth: a packet for a pod on this host goes straight into that pod's
// namespace (bpf_redirect_peer), one for a host-gw peer's pod straight out of the underlay
// with the kernel's neighbour resolution (bpf_redirect_neigh). `from_underlay` runs on the
// underlay device and hands a peer's packet for a local pod into the pod's namespace.
// Redirected packets skip netfilter, so whatever netfilter must see stays on the kernel path
// (TC_ACT_OK): anything to or from a pod selected by a policy, replies of service backends
// (conntrack undoes the DNAT), TCP connection starts (so conntrack and the flow log see every
// connection), UDP and ICMP, IPv6, and every destination that is not a known pod.
// Spoofed sources are dropped here on every path, and each decision is counted.
// Service ClusterIP TCP is translated here too, as the proxy's nft `numgen` map would: a pod's
// SYN to a service port picks a backend at random and the program remembers the choice in
// pn_dp_nat both ways; later packets of that connection are translated from there, and
// `to_pod` (the pod veth's egress) or the redirect into the pod undoes it on replies. The
// translated SYN itself still goes through the kernel, so conntrack, the flow log and policy see
// the connection with its real backend; its later packets skip the kernel once the backend's
// SYN-ACK has shown that the kernel left the SYN's source port alone. A connection the program did not start (one begun on
// the kernel path, before the switch) finds no entry and stays with conntrack's NAT.
// UDP to a ClusterIP (a pod's DNS) is translated the same way, its first datagram choosing the
// backend; UDP is never redirected, so every datagram goes on through the kernel translated and
// its answer gets the service's address back in `to_pod`.
// Switched back to `kernel`, the agent keeps the programs attached in drain mode while
// pn_dp_nat holds connections still open: conntrack never saw those to the ClusterIP, so the
// kernel could not translate their next packet (it would pick a backend afresh). Draining, the
// programs start no translation and redirect only the packets of connections they translated;
// everything else takes the kernel path. Each translation records when it last carried a
// packet and whether a FIN or RST ended it, which is how the agent knows when the drain is over.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* The counters' slots: what the programs did with an IPv4 packet. */
enum action {
	ACTION_KERNEL = 0,
	ACTION_REDIRECT_PEER = 1,
	ACTION_REDIRECT_NEIGH = 2,
	ACTION_DROP_SPOOFED = 3,
	ACTION_SERVICE_DNAT = 4,
	ACTION_REVERSE_NAT = 5,
	ACTION_COUNT = 6,
};

/* A pod on this host: its host-side veth and both ends' MACs. */
struct local_pod {
	__u32 ifindex;
	__u8 pod_mac[ETH_ALEN];
	__u8 host_mac[ETH_ALEN];
};

struct subnet_key {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

/* How a host-gw peer's pods are reached: the underlay device and the peer's address. */
struct peer_route {
	__u32 ifindex;
	__u32 nexthop; /* network byte order */
};

/* A service backend's (address, port, protocol): its replies need conntrack's reverse NAT. */
struct backend_key {
	__u32 addr;
	__u16 port; /* network byte order */
	__u8 protocol;
	__u8 pad;
};

/* Pod IPv4 address (network order) -> the pod's veth, for pods on this host. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct local_pod);
} pn_dp_pods SEC(".maps");

/* Host-side veth ifindex -> the one IPv4 source its pod may send from. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} pn_dp_sources SEC(".maps");

/* Host-gw peers' pod subnets. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct subnet_key);
	__type(value, struct peer_route);
} pn_dp_routes SEC(".maps");

/* Addresses of pods (anywhere in the cluster) that a policy selects. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} pn_dp_policy SEC(".maps");

/* Service backends, whose replies stay on the kernel path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct backend_key);
	__type(value, __u32);
} pn_dp_backends SEC(".maps");

/* A service port the program translates: how many backends it has (slots 0..count-1). */
struct service {
	__u32 count;
};

/* One backend of a service port: the service's key and the backend's slot. */
struct backend_slot_key {
	struct backend_key service;
	__u32 slot;
};

/* An address and port (network byte order), the target of a translation. */
struct nat_target {
	__u32 addr;
	__u16 port;
	__u16 pad;
};

/* What pn_dp_nat remembers of one direction: where it is translated to, whether the connection
 * is closing (a FIN or RST seen), whether the backend's SYN-ACK came back to the very address
 * and port the client sent from (`confirmed`, forward entries only: until then the kernel may
 * have given the SYN another source port, which only its conntrack knows), and when it last
 * carried a packet (bpf_ktime_get_ns, the clock the agent reads as CLOCK_MONOTONIC). */
struct nat_entry {
	__u32 addr;
	__u16 port;
	__u8 closing;
	__u8 confirmed;
	__u64 seen;
};

/* The data path's mode (pn_dp_config slot 0): full, or draining after a switch to `kernel`. */
enum mode {
	MODE_FULL = 0,
	MODE_DRAIN = 1,
};

/* One direction of a translated connection, as its packets carry it. */
struct nat_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	__u8 reply; /* 1: backend→client; keeps the two directions' keys apart */
	__u8 pad[2];
};

/* Service ports (ClusterIP, port, protocol) the program translates; absent ones (affinity,
 * no ready endpoints, IPv6) are the kernel's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct backend_key);
	__type(value, struct service);
} pn_dp_services SEC(".maps");

/* Each service port's backends by slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct backend_slot_key);
	__type(value, struct nat_target);
} pn_dp_service_backends SEC(".maps");

/* The program's own translations, both ways: client→service gives the backend, backend→client
 * the service to answer as. Written only by the program; LRU, so the oldest idle go first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct nat_key);
	__type(value, struct nat_entry);
} pn_dp_nat SEC(".maps");

/* Slot 0: the mode (enum mode), written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} pn_dp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ACTION_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} pn_dp_counters SEC(".maps");

static __always_inline int count(enum action action, int verdict)
{
	__u32 slot = action;
	__u64 *n = bpf_map_lookup_elem(&pn_dp_counters, &slot);
	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int draining(void)
{
	__u32 slot = 0;
	__u32 *mode = bpf_map_lookup_elem(&pn_dp_config, &slot);
	return mode && *mode == MODE_DRAIN;
}

/* What service NAT needs of a plain TCP or UDP packet: its ports and protocol, whether it may
 * begin a translation (a TCP SYN without ACK; any UDP datagram, UDP having no handshake), and
 * whether it ends its connection (a TCP FIN or RST). */
struct flow {
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	__u8 start;
	__u8 ending;
};

/* A translation used by this packet: when, and whether the connection is ending. */
static __always_inline void touch(struct nat_entry *entry, struct flow *flow)
{
	entry->seen = bpf_ktime_get_ns();
	if (flow->ending)
		entry->closing = 1;
}

/* Forwarding's TTL decrement, with the checksum updated for the changed word. */
static __always_inline int decrement_ttl(struct __sk_buff *skb, struct iphdr *ip)
{
	__u16 old_word = *(__u16 *)&ip->ttl;
	ip->ttl--;
	__u16 new_word = *(__u16 *)&ip->ttl;
	return bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check),
				   old_word, new_word, sizeof(__u16));
}

/* The frame's IPv4 header, bounds-checked against the packet's end; NULL for anything else
 * (IPv6, ARP, a runt frame), which the programs leave to the kernel. */
static __always_inline struct iphdr *ipv4_of(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	return ip;
}

#define IP_OFF sizeof(struct ethhdr)
#define TCP_OFF (IP_OFF + sizeof(struct iphdr))

/* The TCP header of a plain IPv4 packet (no IP options, not a fragment), or NULL. */
static __always_inline struct tcphdr *plain_tcp(struct iphdr *ip, void *data_end)
{
	if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) || ip->protocol != IPPROTO_TCP)
		return NULL;
	struct tcphdr *tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return NULL;
	return tcp;
}

/* The flow of a plain IPv4 TCP or UDP packet (no IP options, not a fragment): 0 for others. */
static __always_inline int flow_of(struct iphdr *ip, void *data_end, struct flow *flow)
{
	if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
		return 0;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);
		if ((void *)(tcp + 1) > data_end)
			return 0;
		flow->sport = tcp->source;
		flow->dport = tcp->dest;
		flow->start = tcp->syn && !tcp->ack;
		flow->ending = tcp->fin || tcp->rst;
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > data_end)
			return 0;
		flow->sport = udp->source;
		flow->dport = udp->dest;
		flow->start = 1;
		flow->ending = 0;
	} else {
		return 0;
	}
	flow->protocol = ip->protocol;
	return 1;
}

/* The key of the packet's own direction in pn_dp_nat (`reply`: as a backend's answer). */
static __always_inline struct nat_key nat_key_of(struct iphdr *ip, struct flow *flow, __u8 reply)
{
	struct nat_key key = {
		.saddr = ip->saddr,
		.daddr = ip->daddr,
		.sport = flow->sport,
		.dport = flow->dport,
		.protocol = flow->protocol,
		.reply = reply,
	};
	return key;
}

/* Whether the packet is a backend's reply on a connection the program translated. */
static __always_inline int translated_reply(struct iphdr *ip, void *data_end)
{
	struct flow flow;
	if (!flow_of(ip, data_end, &flow))
		return 0;
	struct nat_key reply = nat_key_of(ip, &flow, 1);
	return bpf_map_lookup_elem(&pn_dp_nat, &reply) != 0;
}

/* True when netfilter must see the packet: only mid-connection TCP between unselected pods
 * may skip it, and a service backend's reply only when the program translated its connection
 * (conntrack undoes the kernel's own DNAT). */
static __always_inline int needs_kernel(struct iphdr *ip, void *data_end)
{
	struct tcphdr *tcp = plain_tcp(ip, data_end);
	if (!tcp || ip->ttl <= 1 || tcp->syn)
		return 1;
	__u32 src = ip->saddr, dst = ip->daddr;
	if (bpf_map_lookup_elem(&pn_dp_policy, &src) || bpf_map_lookup_elem(&pn_dp_policy, &dst))
		return 1;
	struct backend_key backend = { .addr = src, .port = tcp->source, .protocol = IPPROTO_TCP };
	if (!bpf_map_lookup_elem(&pn_dp_backends, &backend))
		return 0;
	return !translated_reply(ip, data_end);
}

/* Rewrites the destination (`dst`) or source address and port of a plain TCP or UDP packet,
 * with the IPv4 checksum and the TCP or UDP checksum (its pseudo-header holds the address; a
 * UDP datagram sent without one, checksum 0, keeps none). The ports sit at the same offsets in
 * both headers. */
static __always_inline int rewrite(struct __sk_buff *skb, int dst, __u32 old_addr, __u16 old_port,
				   struct nat_target *to, __u8 protocol)
{
	__u32 addr_off =
		IP_OFF + (dst ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
	__u32 port_off =
		TCP_OFF + (dst ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source));
	__u32 csum_off = TCP_OFF + (protocol == IPPROTO_UDP ? offsetof(struct udphdr, check)
							     : offsetof(struct tcphdr, check));
	__u64 udp = protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	if (bpf_l4_csum_replace(skb, csum_off, old_addr, to->addr,
				udp | BPF_F_PSEUDO_HDR | sizeof(__u32)) ||
	    bpf_l4_csum_replace(skb, csum_off, old_port, to->port, udp | sizeof(__u16)) ||
	    bpf_l3_csum_replace(skb, IP_OFF + offsetof(struct iphdr, check), old_addr, to->addr,
				sizeof(__u32)) ||
	    bpf_skb_store_bytes(skb, addr_off, &to->addr, sizeof(__u32), 0) ||
	    bpf_skb_store_bytes(skb, port_off, &to->port, sizeof(__u16), 0))
		return -1;
	return 0;
}

/* Where a pod's packet to a service port goes: the backend the program chose at random on the
 * connection's SYN and remembered both ways. A miss (no such service, a connection begun on
 * the kernel path, a backend the kernel must reach itself) leaves the packet to the kernel.
 * `confirmed`: whether the translated packet may skip the kernel (see confirm_translation). */
static __always_inline int service_backend(struct iphdr *ip, struct flow *flow,
					   struct nat_target *backend, int *confirmed)
{
	struct nat_key forward = nat_key_of(ip, flow, 0);
	struct nat_entry *known = bpf_map_lookup_elem(&pn_dp_nat, &forward);
	*confirmed = 0;
	if (known) {
		touch(known, flow);
		backend->addr = known->addr;
		backend->port = known->port;
		*confirmed = known->confirmed;
		return 1;
	}
	if (!flow->start || draining())
		return 0;
	struct backend_slot_key slot = {
		.service = { .addr = ip->daddr, .port = flow->dport, .protocol = flow->protocol },
	};
	struct service *service = bpf_map_lookup_elem(&pn_dp_services, &slot.service);
	if (!service || service->count == 0)
		return 0;
	slot.slot = bpf_get_prandom_u32() % service->count;
	struct nat_target *chosen = bpf_map_lookup_elem(&pn_dp_service_backends, &slot);
	if (!chosen)
		return 0; /* the agent is between writes of this service's slots */
	*backend = *chosen;
	/* A pod reaching itself needs the kernel's hairpin masquerade, a held backend its policy. */
	__u32 addr = backend->addr;
	if (addr == ip->saddr || bpf_map_lookup_elem(&pn_dp_policy, &addr))
		return 0;
	struct nat_key reply = {
		.saddr = backend->addr,
		.daddr = ip->saddr,
		.sport = backend->port,
		.dport = flow->sport,
		.protocol = flow->protocol,
		.reply = 1,
	};
	__u64 now = bpf_ktime_get_ns();
	struct nat_entry service_addr = { .addr = ip->daddr, .port = flow->dport, .seen = now };
	struct nat_entry chosen_addr = { .addr = backend->addr, .port = backend->port, .seen = now };
	/* The reply's entry first: a backend's answer never finds its connection half-known. */
	if (bpf_map_update_elem(&pn_dp_nat, &reply, &service_addr, BPF_ANY) ||
	    bpf_map_update_elem(&pn_dp_nat, &forward, &chosen_addr, BPF_ANY))
		return 0;
	return 1;
}

/* A backend's SYN-ACK seen before the kernel (on its pod's veth, or off the underlay) with the
 * very address and port the client's SYN left with: the kernel kept the SYN's source as it was,
 * so the connection's later packets may skip it. The kernel changes a source port when
 * conntrack still holds an older connection with the same reply tuple (one the kernel path
 * translated, say, before a switch to eBPF): the SYN-ACK then comes back to another port and
 * confirms nothing, and the connection keeps the kernel path, whose conntrack knows the change. */
static __always_inline void confirm_translation(struct iphdr *ip, void *data_end)
{
	struct tcphdr *tcp = plain_tcp(ip, data_end);
	if (!tcp || !tcp->syn || !tcp->ack)
		return;
	struct nat_key reply = {
		.saddr = ip->saddr,
		.daddr = ip->daddr,
		.sport = tcp->source,
		.dport = tcp->dest,
		.protocol = IPPROTO_TCP,
		.reply = 1,
	};
	struct nat_entry *service = bpf_map_lookup_elem(&pn_dp_nat, &reply);
	if (!service)
		return;
	struct nat_key forward = {
		.saddr = ip->daddr,
		.daddr = service->addr,
		.sport = tcp->dest,
		.dport = service->port,
		.protocol = IPPROTO_TCP,
	};
	struct nat_entry *chosen = bpf_map_lookup_elem(&pn_dp_nat, &forward);
	if (chosen)
		chosen->confirmed = 1;
}

/* A backend's reply on a connection the program translated, made to come from the service:
 * 1 translated, 0 not one of the program's, -1 a rewrite that failed (the packet is spoilt). */
static __always_inline int reverse_nat(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = ipv4_of(skb);
	if (!ip)
		return 0;
	struct flow flow;
	if (!flow_of(ip, data_end, &flow))
		return 0;
	struct nat_key reply = nat_key_of(ip, &flow, 1);
	struct nat_entry *service = bpf_map_lookup_elem(&pn_dp_nat, &reply);
	if (!service)
		return 0;
	touch(service, &flow);
	struct nat_target to = { .addr = service->addr, .port = service->port };
	if (rewrite(skb, 0, reply.saddr, reply.sport, &to, flow.protocol))
		return -1;
	count(ACTION_REVERSE_NAT, 0);
	return 1;
}

/* Into a local pod's namespace, as its host would deliver it (MACs of the pod's own link). */
static __always_inline int to_local_pod(struct __sk_buff *skb, struct local_pod *pod)
{
	if (reverse_nat(skb) < 0)
		return count(ACTION_KERNEL, TC_ACT_SHOT);
	struct iphdr *ip = ipv4_of(skb);
	if (!ip)
		return count(ACTION_KERNEL, TC_ACT_OK);
	if (decrement_ttl(skb, ip))
		return count(ACTION_KERNEL, TC_ACT_OK);
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), pod->pod_mac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), pod->host_mac, ETH_ALEN, 0))
		return count(ACTION_KERNEL, TC_ACT_SHOT);
	return count(ACTION_REDIRECT_PEER, bpf_redirect_peer(pod->ifindex, 0));
}

SEC("tc/from_pod")
int from_pod(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = ipv4_of(skb);
	if (!ip)
		return TC_ACT_OK;
	__u32 ifindex = skb->ingress_ifindex;
	__u32 *own = bpf_map_lookup_elem(&pn_dp_sources, &ifindex);
	if (!own)
		return count(ACTION_KERNEL, TC_ACT_OK);
	if (ip->saddr != *own)
		return count(ACTION_DROP_SPOOFED, TC_ACT_SHOT);
	__u32 src = ip->saddr;
	struct flow flow;
	struct nat_target backend;
	int translated = 0, confirmed = 0;
	/* A pod a policy holds reaches services through the kernel, rules and all. A translated UDP
	 * datagram goes on through the kernel (needs_kernel), its reply back through to_pod. */
	if (flow_of(ip, data_end, &flow) && !bpf_map_lookup_elem(&pn_dp_policy, &src) &&
	    service_backend(ip, &flow, &backend, &confirmed)) {
		translated = 1;
		if (rewrite(skb, 1, ip->daddr, flow.dport, &backend, flow.protocol))
			return count(ACTION_KERNEL, TC_ACT_SHOT);
		count(ACTION_SERVICE_DNAT, 0);
		if (!confirmed)
			return count(ACTION_KERNEL, TC_ACT_OK);
		/* The rewrite moved the packet: its pointers are checked anew. */
		data_end = (void *)(long)skb->data_end;
		ip = ipv4_of(skb);
		if (!ip)
			return count(ACTION_KERNEL, TC_ACT_SHOT);
	}
	confirm_translation(ip, data_end);
	/* Draining, only the connections the program translated skip the kernel. */
	if (!translated && draining() && !translated_reply(ip, data_end))
		return count(ACTION_KERNEL, TC_ACT_OK);
	if (needs_kernel(ip, data_end))
		return count(ACTION_KERNEL, TC_ACT_OK);

	__u32 dst = ip->daddr;
	struct local_pod *pod = bpf_map_lookup_elem(&pn_dp_pods, &dst);
	if (pod)
		return to_local_pod(skb, pod);
	struct subnet_key key = { .prefixlen = 32, .addr = dst };
	struct peer_route *route = bpf_map_lookup_elem(&pn_dp_routes, &key);
	if (!route)
		return count(ACTION_KERNEL, TC_ACT_OK);
	if (decrement_ttl(skb, ip))
		return count(ACTION_KERNEL, TC_ACT_OK);
	struct bpf_redir_neigh nexthop = { .nh_family = 2 /* AF_INET */, .ipv4_nh = route->nexthop };
	return count(ACTION_REDIRECT_NEIGH,
		     bpf_redirect_neigh(route->ifindex, &nexthop, sizeof(nexthop), 0));
}

SEC("tc/from_underlay")
int from_underlay(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = ipv4_of(skb);
	if (!ip)
		return TC_ACT_OK;
	__u32 dst = ip->daddr;
	struct local_pod *pod = bpf_map_lookup_elem(&pn_dp_pods, &dst);
	if (!pod)
		return TC_ACT_OK;
	confirm_translation(ip, data_end);
	/* Only a host-gw peer's pods may reach a pod this way; anything else is the kernel's. */
	struct subnet_key key = { .prefixlen = 32, .addr = ip->saddr };
	if (!bpf_map_lookup_elem(&pn_dp_routes, &key) || needs_kernel(ip, data_end) ||
	    (draining() && !translated_reply(ip, data_end)))
		return count(ACTION_KERNEL, TC_ACT_OK);
	return to_local_pod(skb, pod);
}

/* On a pod veth's egress: a backend's reply the kernel forwarded (a SYN-ACK, or any reply
 * that kept the kernel path) is made to come from the service the pod asked for. */
SEC("tc/to_pod")
int to_pod(struct __sk_buff *skb)
{
	return reverse_nat(skb) < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
