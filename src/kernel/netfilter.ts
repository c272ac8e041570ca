// The kernel access a service proxy is given, bound to one network namespace (absent: the
// namespace this process runs in) and one address family (nft tables name their family in
// the script; iptables has a program per family).
import type { Family } from '../net/index.js';
import { conntrackKernel } from './conntrack.js';
import { iptablesKernel } from './iptables.js';
import { nftKernel } from './nft.js';

export function netfilterKernel(
  netns?: string,
  family?: Family,
): {
  nftables: ReturnType<typeof nftKernel>;
  iptables: ReturnType<typeof iptablesKernel>;
  conntrack: ReturnType<typeof conntrackKernel>;
} {
  return {
    nftables: nftKernel(netns),
    iptables: iptablesKernel(netns, family),
    conntrack: conntrackKernel(netns),
  };
}
