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
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* The counters' slots: what the programs did with an IPv4 packet. */
enum action {
	ACTION_KERNEL = 0,
	ACTION_REDIRECT_PEER = 1,
	ACTION_REDIRECT_NEIGH = 2,
	ACTION_DROP_SPOOFED = 3,
	ACTION_COUNT = 4,
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

/* Forwarding's TTL decrement, with the checksum updated for the changed word. */
static __always_inline int decrement_ttl(struct __sk_buff *skb, struct iphdr *ip)
{
	__u16 old_word = *(__u16 *)&ip->ttl;
	ip->ttl--;
	__u16 new_word = *(__u16 *)&ip->ttl;
	return bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check),
				   old_word, new_word, sizeof(__u16));
}

/* True when netfilter must see the packet: only mid-connection TCP between unselected pods
 * that is not a service backend's reply may skip it. */
static __always_inline int needs_kernel(struct iphdr *ip, void *data_end)
{
	if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) || ip->ttl <= 1 ||
	    ip->protocol != IPPROTO_TCP)
		return 1;
	struct tcphdr *tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end || tcp->syn)
		return 1;
	__u32 src = ip->saddr, dst = ip->daddr;
	if (bpf_map_lookup_elem(&pn_dp_policy, &src) || bpf_map_lookup_elem(&pn_dp_policy, &dst))
		return 1;
	struct backend_key backend = { .addr = src, .port = tcp->source, .protocol = IPPROTO_TCP };
	return bpf_map_lookup_elem(&pn_dp_backends, &backend) != 0;
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

/* Into a local pod's namespace, as its host would deliver it (MACs of the pod's own link). */
static __always_inline int to_local_pod(struct __sk_buff *skb, struct local_pod *pod)
{
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
	/* Only a host-gw peer's pods may reach a pod this way; anything else is the kernel's. */
	struct subnet_key key = { .prefixlen = 32, .addr = ip->saddr };
	if (!bpf_map_lookup_elem(&pn_dp_routes, &key) || needs_kernel(ip, data_end))
		return count(ACTION_KERNEL, TC_ACT_OK);
	return to_local_pod(skb, pod);
}

char LICENSE[] SEC("license") = "GPL";
