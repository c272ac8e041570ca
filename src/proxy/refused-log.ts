// A connection to a service without endpoints is refused by the proxy's reject rules before
// conntrack confirms it, so no connection event ever names it. For the flow log to show it,
// each reject rule first sends the packet to a netlink log group (NFLOG) the agent reads, at a
// limited rate per rule so that a flood of refused connections costs the host nothing.

/** The netlink log group of refused connections (the policy log has a group of its own). */
export const REFUSED_LOG_GROUP = 19;
/** At most this many packets a second are logged per reject rule. */
const PER_SECOND = 20;
const PREFIX = 'podnet-refused';

/** The nft statements that log a packet about to be refused. */
export const NFT_REFUSED_LOG = `limit rate ${PER_SECOND}/second burst ${PER_SECOND} packets log prefix "${PREFIX}" group ${REFUSED_LOG_GROUP}`;

/** The iptables match and target that log a packet about to be refused. */
export const IPTABLES_REFUSED_LOG = `-m limit --limit ${PER_SECOND}/sec --limit-burst ${PER_SECOND} -j NFLOG --nflog-prefix ${PREFIX} --nflog-group ${REFUSED_LOG_GROUP}`;
