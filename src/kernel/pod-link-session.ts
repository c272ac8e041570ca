// The agent's one long-lived podnet-pod-link (a small C program `make build` compiles): it
// wires a pod's veth, both ends, in one request, so an ADD starts no process and waits on no
// other process in between. Its answer to a request line is `ok`, `exists <message>` or
// `error <message>`.
import { OperationError } from '../util/errors.js';
import type { IpSession } from './ip-session.js';
import { HelperEndedError, LineHelper } from './line-helper.js';
import { InterfaceExistsError, LINK_LOCAL_GATEWAY, deleteLinks, type PodVeth } from './pod-veth.js';

/** Built by `make build` beside the CNI shim (dist/bin/). */
export const POD_LINK_PROGRAM = new URL('../../bin/podnet-pod-link', import.meta.url).pathname;

/** The request line for one pod's veth: the program reads whitespace-separated fields. */
export function podLinkRequest(v: PodVeth): string {
  const fields = [
    v.netns,
    v.ifname,
    String(v.mtu),
    v.hostVeth,
    v.hostMac,
    v.podMac,
    // `-`: no IPv4 (an IPv6-only cluster's pod), which the program reads as such.
    v.podIP ?? '-',
    v.gateway ?? '-',
    ...(v.podIPv6 ? [v.podIPv6, LINK_LOCAL_GATEWAY] : []),
  ];
  for (const field of fields) {
    if (field === '' || /\s/.test(field)) {
      throw new OperationError(`cannot wire a pod veth with the field "${field}"`);
    }
  }
  return `${fields.join(' ')}\n`;
}

export class PodLinkSession {
  private readonly helper: LineHelper;

  /** `netns`: the host namespace to wire pods from, when it is not this process's own. */
  constructor(netns?: string) {
    this.helper = new LineHelper(POD_LINK_PROGRAM, netns);
  }

  /**
   * The pair with its pod end made in the pod's namespace, and both ends configured (see
   * podnet-pod-link.c). Rejects with InterfaceExistsError when the pod already has the
   * interface, and with HelperEndedError when the program ended mid-request; after any other
   * failure the program has removed what it made.
   */
  async wire(v: PodVeth): Promise<void> {
    const answer = await this.helper.request(podLinkRequest(v));
    if (answer === 'ok') return;
    if (answer.startsWith('exists ')) throw new InterfaceExistsError(answer.slice(7));
    throw new OperationError(answer.replace(/^error /, ''));
  }

  close(): void {
    this.helper.close();
  }
}

/**
 * Builds the pair and configures both ends, in one request to `pod`. Fails with
 * InterfaceExistsError when `ifname` is already in the pod; on any other failure nothing it
 * made is left: the helper removes it, or, when the helper died mid-request, the host end is
 * deleted here (its peer and routes go with it).
 */
export async function wirePodVeth(host: IpSession, pod: PodLinkSession, v: PodVeth): Promise<void> {
  try {
    await pod.wire(v);
  } catch (err) {
    if (err instanceof HelperEndedError) await deleteLinks(host, [v.hostVeth]);
    throw err;
  }
}
