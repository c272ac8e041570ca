// The agent's one long-lived podnet-pod-link (a small C program `make build` compiles): it
// configures a pod's end of its veth inside the pod's namespace, so an ADD starts no process
// on the pod side. One request line, one answer line (`ok` or `error <message>`), in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { OperationError } from '../util/errors.js';

/** Built by `make build` beside the CNI shim (dist/bin/). */
const PROGRAM = new URL('../../bin/podnet-pod-link', import.meta.url).pathname;

export interface PodEnd {
  /** Path of the pod's network namespace. */
  netns: string;
  ifname: string;
  podIP: string;
  gateway: string;
}

/** The request line for one pod end: the program reads whitespace-separated fields. */
export function podLinkRequest(end: PodEnd): string {
  for (const field of [end.netns, end.ifname, end.podIP, end.gateway]) {
    if (field === '' || /\s/.test(field)) {
      throw new OperationError(`cannot configure a pod end named "${field}"`);
    }
  }
  return `${end.netns} ${end.ifname} ${end.podIP} ${end.gateway}\n`;
}

/** A pod end's IPv6 address, with the link-local gateway on the host end and that end's MAC. */
export interface PodEndIPv6 {
  netns: string;
  ifname: string;
  podIP: string;
  gateway: string;
  gatewayMac: string;
}

/** The request line for a pod end's IPv6 wiring (after its IPv4 request: the link is up then). */
export function podLinkIPv6Request(end: PodEndIPv6): string {
  const fields = [end.netns, end.ifname, end.podIP, end.gateway, end.gatewayMac];
  for (const field of fields) {
    if (field === '' || /\s/.test(field)) {
      throw new OperationError(`cannot configure a pod end named "${field}"`);
    }
  }
  return `ipv6 ${fields.join(' ')}\n`;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

export class PodLinkSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private stdout = '';

  constructor(private readonly program = PROGRAM) {}

  /** Up, the pod's /32, a link route to the gateway and the default route via it. */
  configure(end: PodEnd): Promise<void> {
    return this.send(podLinkRequest(end));
  }

  /**
   * The pod's IPv6 /128 (no duplicate address detection), a permanent neighbour for the
   * gateway and the default route via it. Requests are served in order, so this may be sent
   * right after the pod's `configure`.
   */
  configureIPv6(end: PodEndIPv6): Promise<void> {
    return this.send(podLinkIPv6Request(end));
  }

  private send(request: string): Promise<void> {
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
    const child = spawn(this.program, [], { stdio: ['pipe', 'pipe', 'pipe'] });
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
        p.reject(new OperationError('podnet-pod-link ended unexpectedly'));
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
      else done?.reject(new OperationError(line.replace(/^error /, '')));
    }
  }
}
