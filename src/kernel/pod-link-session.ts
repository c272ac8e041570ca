// The agent's one long-lived podnet-pod-link (a small C program `make build` compiles): it
// wires a pod's veth, both ends, in one request, so an ADD starts no process and waits on no
// other process in between. One request line, one answer line (`ok`, `exists <message>` or
// `error <message>`), in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { inNetns } from '../process/run.js';
import { OperationError } from '../util/errors.js';
import type { IpSession } from './ip-session.js';
import { InterfaceExistsError, LINK_LOCAL_GATEWAY, deleteLinks, type PodVeth } from './pod-veth.js';

/** Built by `make build` beside the CNI shim (dist/bin/). */
export const POD_LINK_PROGRAM = new URL('../../bin/podnet-pod-link', import.meta.url).pathname;

/** The program ended with the request unanswered: it may have made part of the pair. */
export class PodLinkEndedError extends OperationError {}

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

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

export class PodLinkSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private stdout = '';

  /** `netns`: the host namespace to wire pods from, when it is not this process's own. */
  constructor(private readonly netns?: string) {}

  /**
   * The pair with its pod end made in the pod's namespace, and both ends configured (see
   * podnet-pod-link.c). Rejects with InterfaceExistsError when the pod already has the
   * interface; after any other failure the program has removed what it made.
   */
  wire(v: PodVeth): Promise<void> {
    const request = podLinkRequest(v);
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      child.stdin.write(request);
    });
  }

  close(): void {
    this.child?.stdin.end();
  }

  private start(): ChildProcessWithoutNullStreams {
    const [program, ...args] = inNetns(this.netns, [POD_LINK_PROGRAM]) as [string, ...string[]];
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stdout = '';
    child.stdout.on('data', (b: Buffer) => this.onStdout(b.toString()));
    child.stderr.resume(); // only a dying program writes there; its end fails what is pending
    child.stdin.on('error', () => {
      /* the process ended; 'close' fails what is pending */
    });
    // A program that ended is started again by the next request.
    child.on('close', () => {
      if (this.child === child) this.child = undefined;
      for (const p of this.pending.splice(0)) {
        p.reject(new PodLinkEndedError('podnet-pod-link ended unexpectedly'));
      }
    });
    child.on('error', (err) => {
      if (this.child === child) this.child = undefined;
      for (const p of this.pending.splice(0)) {
        p.reject(new OperationError(`could not run podnet-pod-link: ${err.message}`));
      }
    });
    return child;
  }

  private onStdout(text: string): void {
    const lines = (this.stdout + text).split('\n');
    this.stdout = lines.pop() ?? '';
    for (const line of lines) {
      const done = this.pending.shift();
      if (line === 'ok') done?.resolve();
      else if (line.startsWith('exists ')) done?.reject(new InterfaceExistsError(line.slice(7)));
      else done?.reject(new OperationError(line.replace(/^error /, '')));
    }
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
    if (err instanceof PodLinkEndedError) await deleteLinks(host, [v.hostVeth]);
    throw err;
  }
}
