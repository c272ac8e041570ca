// Conntrack cleanup. UDP has no connection end: after an endpoint goes away, entries that
// still translate to it keep clients sending to a dead pod until they time out.
import { tryParseIP } from '../net/index.js';
import { run } from '../process/run.js';

export interface StaleFlow {
  protocol: 'udp' | 'sctp';
  /** Original destination: a cluster IP, or undefined for a node port (any local address). */
  serviceIP?: string;
  /** Original destination port (service port or node port). */
  port: number;
  /** The endpoint the entries were translated to. */
  endpointIP: string;
}

/** Deletes the entries of each stale flow; "nothing to delete" is not an error. */
export async function deleteStaleFlows(flows: StaleFlow[], netns?: string): Promise<void> {
  for (const f of flows) {
    const ipv6 = tryParseIP(f.endpointIP)?.family === 6;
    const argv = ['conntrack', '-D', '-p', f.protocol, '--orig-port-dst', String(f.port)];
    // conntrack looks in the IPv4 table unless told otherwise, even for IPv6 addresses.
    if (ipv6) argv.push('-f', 'ipv6');
    if (f.serviceIP) argv.push('--orig-dst', f.serviceIP);
    // conntrack 1.4.7 ignores the address of `--dst-nat` on IPv6 (every NATed flow of the port
    // would go); the endpoint is the source of the reply, which it filters right.
    argv.push(ipv6 ? '--reply-src' : '--dst-nat', f.endpointIP);
    await run(argv, { netns, okCodes: [1] });
  }
}

/** conntrack bound to one network namespace: what the proxy's sync loop is given. */
export function conntrackKernel(netns?: string): {
  deleteStaleFlows(flows: StaleFlow[]): Promise<void>;
} {
  return { deleteStaleFlows: (flows) => deleteStaleFlows(flows, netns) };
}
