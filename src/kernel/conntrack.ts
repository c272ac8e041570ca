// Conntrack cleanup. UDP has no connection end: after an endpoint goes away, entries that
// still translate to it keep clients sending to a dead pod until they time out.
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
    const argv = ['conntrack', '-D', '-p', f.protocol, '--orig-port-dst', String(f.port)];
    if (f.serviceIP) argv.push('--orig-dst', f.serviceIP);
    argv.push('--dst-nat', f.endpointIP);
    await run(argv, { netns, okCodes: [1] });
  }
}

/** conntrack bound to one network namespace: what the proxy's sync loop is given. */
export function conntrackKernel(netns?: string): {
  deleteStaleFlows(flows: StaleFlow[]): Promise<void>;
} {
  return { deleteStaleFlows: (flows) => deleteStaleFlows(flows, netns) };
}
