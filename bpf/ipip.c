// IP-in-IP (RFC 2003) without the kernel's ipip module: two tc programs on the host's underlay
// device. Egress pushes an outer IPv4 header (protocol 4) onto packets for an IP-in-IP peer's
// pod subnet; ingress strips it from protocol-4 packets of known peers, and the kernel then
// routes the inner packet to the pod as if it had arrived unencapsulated.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IPIP_OUTER_TTL 64
#define IP_DF 0x4000
#define ECN_MASK 0x03

struct subnet_key {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

/* The outer header's addresses for one peer's pod subnet (network byte order). */
struct tunnel {
	__u32 remote;
	__u32 local;
};

/* Pod subnet of an IP-in-IP peer -> that peer's underlay address and ours. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct subnet_key);
	__type(value, struct tunnel);
} pn_ipip_routes SEC(".maps");

/* Underlay addresses of IP-in-IP peers: only their protocol-4 packets are decapsulated. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} pn_ipip_peers SEC(".maps");

static __always_inline __u16 fold_checksum(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("tc/ipip_encap")
int ipip_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *inner = (void *)(eth + 1);

	if ((void *)(inner + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	struct subnet_key key = { .prefixlen = 32, .addr = inner->daddr };
	struct tunnel *tunnel = bpf_map_lookup_elem(&pn_ipip_routes, &key);
	if (!tunnel)
		return TC_ACT_OK;

	/* RFC 2003: TOS copied (so ECN too, RFC 6040 normal mode), DF copied, TTL our own. */
	struct iphdr outer = {
		.version = 4,
		.ihl = 5,
		.tos = inner->tos,
		.tot_len = bpf_htons(bpf_ntohs(inner->tot_len) + sizeof(struct iphdr)),
		.id = inner->id,
		.frag_off = inner->frag_off & bpf_htons(IP_DF),
		.ttl = IPIP_OUTER_TTL,
		.protocol = IPPROTO_IPIP,
		.saddr = tunnel->local,
		.daddr = tunnel->remote,
	};
	outer.check = fold_checksum(bpf_csum_diff(0, 0, (__be32 *)&outer, sizeof(outer), 0));

	/* The pod MTU leaves room for the outer header, so segments keep their size. */
	if (bpf_skb_adjust_room(skb, sizeof(struct iphdr), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_FIXED_GSO))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &outer, sizeof(outer), 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc/ipip_decap")
int ipip_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *outer = (void *)(eth + 1);

	if ((void *)(outer + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (outer->protocol != IPPROTO_IPIP || outer->ihl != 5)
		return TC_ACT_OK;
	/* A fragment of an outer packet is left to the kernel (which drops it: no ipip module). */
	if (outer->frag_off & bpf_htons(0x3fff))
		return TC_ACT_OK;
	__u32 source = outer->saddr;
	if (!bpf_map_lookup_elem(&pn_ipip_peers, &source))
		return TC_ACT_OK;
	struct iphdr *inner = (void *)(outer + 1);
	if ((void *)(inner + 1) > data_end)
		return TC_ACT_SHOT;

	/* RFC 6040 decapsulation: CE on the outer marks an ECN-capable inner packet CE. */
	__u8 outer_ecn = outer->tos & ECN_MASK;
	__u8 inner_ecn = inner->tos & ECN_MASK;
	if (outer_ecn == ECN_MASK && inner_ecn != ECN_MASK) {
		if (inner_ecn == 0)
			return TC_ACT_SHOT;
		__u16 old_word = *(__u16 *)inner;
		inner->tos |= ECN_MASK;
		__u16 new_word = *(__u16 *)inner;
		if (bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + sizeof(struct iphdr) +
						     offsetof(struct iphdr, check),
					old_word, new_word, sizeof(__u16)))
			return TC_ACT_SHOT;
	}

	if (bpf_skb_adjust_room(skb, -(__s32)sizeof(struct iphdr), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
