// The CNI network configuration each lab host's pod runner uses, written where a runtime
// looks for it (`<host state>/net.d/10-podnet.conflist`, the lab's /etc/cni/net.d).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CLUSTER_NETWORK } from '../api/types.js';
import type { NetworkConfigList } from './cni-runtime.js';
import type { HostPlan } from './plan.js';

export function netConfDir(hostStateDir: string): string {
  return join(hostStateDir, 'net.d');
}

/**
 * Where the lab's runtime looks for plugins: the lab's own plugin directory (where podnet's
 * plugin is installed as `podnet`, as on a real host's /opt/cni/bin), then Debian's.
 */
export function cniPath(labDir: string): string[] {
  return [cniBinDir(labDir), '/usr/lib/cni', '/opt/cni/bin'];
}

export function cniBinDir(labDir: string): string {
  return join(labDir, 'cni', 'bin');
}

/**
 * Stand-in until podnet's own plugin is in: Debian's reference `ptp` with `host-local` IPAM on
 * the host's /24 of the cluster CIDR (node-i gets 10.244.i.0/24), IPAM state kept in the lab.
 */
export function standInNetwork(host: HostPlan): NetworkConfigList {
  const { dnsIP, domain } = DEFAULT_CLUSTER_NETWORK;
  return {
    cniVersion: '1.0.0',
    name: 'podnet',
    plugins: [
      {
        type: 'ptp',
        mtu: 1500,
        ipMasq: false,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: `10.244.${host.index}.0/24` }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(host.stateDir, 'cni-ipam'),
        },
        dns: { nameservers: [dnsIP], domain, options: ['ndots:5'] },
      },
    ],
  };
}

/** The one place that picks the lab's pod network (swap in podnet's conflist here). */
export const labNetwork = standInNetwork;

export function writeNetwork(host: HostPlan, list: NetworkConfigList): void {
  const dir = netConfDir(host.stateDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '10-podnet.conflist'), `${JSON.stringify(list, null, 2)}\n`);
}
