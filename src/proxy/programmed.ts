// Whether a host's kernel dispatches a service port at all, read from the one listing that
// names every service: the iptables nat table or the nft dispatch map. The proxy owns the
// names of both; `podnet trace` reads the listing through src/kernel/ and asks here.
import type { ProxyMode } from '../api/types.js';
import { isIPv4, type Family } from '../net/index.js';
import { SERVICES_CHAIN } from './iptables-rules.js';
import { SERVICE_MAP, tableOf } from './nftables-rules.js';

/** Where the dispatch of every service of `family` is listed, per mode. */
export function serviceDispatch(family: Family) {
  const [nftFamily, table] = tableOf(family).split(' ') as [string, string];
  return {
    iptables: { table: 'nat' },
    nftables: { family: nftFamily, table, map: SERVICE_MAP },
  } as const;
}

/** The listing (`iptables-save -t nat` or `nft list map`) has a rule for clusterIP:port. */
export function servicePortListed(
  mode: ProxyMode,
  listing: string,
  clusterIP: string,
  port: number,
): boolean {
  if (mode === 'iptables') {
    const host = isIPv4(clusterIP) ? '/32' : '/128';
    return listing
      .split('\n')
      .some(
        (l) =>
          l.startsWith(`-A ${SERVICES_CHAIN} `) &&
          l.includes(`-d ${clusterIP}${host}`) &&
          l.includes(`--dport ${port} `),
      );
  }
  // nft prints the protocol numbers of the map's keys by name.
  return (
    listing.includes(`${clusterIP} . tcp . ${port}`) ||
    listing.includes(`${clusterIP} . udp . ${port}`)
  );
}
