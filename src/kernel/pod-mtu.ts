// A running pod's MTU, changed in place on both ends of its veth: the link keeps its
// addresses, routes and sockets, so established connections carry on (TCP sizes its segments
// by the route's MTU as it goes, and a peer still on a larger MTU learns the smaller one from
// the host's "fragmentation needed").
import { run } from '../process/run.js';
import type { IpSession } from './ip-session.js';

export interface RunningPodLink {
  hostVeth: string;
  /** Path of the pod's network namespace. */
  netns: string;
  ifname: string;
}

export async function setPodMTU(host: IpSession, pod: RunningPodLink, mtu: number): Promise<void> {
  await run(['ip', 'link', 'set', 'dev', pod.ifname, 'mtu', String(mtu)], { netns: pod.netns });
  await host.run([`link set ${pod.hostVeth} mtu ${mtu}`]);
}
