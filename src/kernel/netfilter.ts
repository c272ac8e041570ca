// The kernel access a service proxy is given, bound to one network namespace (absent: the
// namespace this process runs in).
import { conntrackKernel } from './conntrack.js';
import { iptablesKernel } from './iptables.js';
import { nftKernel } from './nft.js';

export function netfilterKernel(netns?: string): {
  nftables: ReturnType<typeof nftKernel>;
  iptables: ReturnType<typeof iptablesKernel>;
  conntrack: ReturnType<typeof conntrackKernel>;
} {
  return {
    nftables: nftKernel(netns),
    iptables: iptablesKernel(netns),
    conntrack: conntrackKernel(netns),
  };
}
