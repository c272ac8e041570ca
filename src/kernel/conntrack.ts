// Conntrack cleanup. UDP has no connection end: after an endpoint goes away, entries that
// still translate to it keep clients sending to a dead pod until they time out. They are
// deleted by one long-lived podnet-conntrack-clean per namespace (a small C program `make
// build` compiles): a cleanup starts no process, and the kernel sends only the entries asked
// for rather than the whole table, so a killed DNS pod's flows go in milliseconds even on a
// busy host. One request line, one answer line (`ok DELETED` or `error MESSAGE`), in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import { tryParseIP } from '../net/index.js';
import { inNetns } from '../process/run.js';
import { OperationError } from '../util/errors.js';

/** Built by `make build` beside the CNI shim (dist/bin/). */
const PROGRAM = new URL('../../bin/podnet-conntrack-clean', import.meta.url).pathname;

const PROTOCOL_NUMBERS = { udp: 17, sctp: 132 } as const;

export interface StaleFlow {
  protocol: 'udp' | 'sctp';
  /** Original destination: a cluster IP, or undefined for a node port (any local address). */
  serviceIP?: string;
  /** Original destination port (service port or node port). */
  port: number;
  /** The endpoint the entries were translated to. */
  endpointIP: string;
}

/**
 * The request line for one stale flow: family, protocol number, original destination (`-`
 * for any), port, and the endpoint as the reply's source (where the entry was translated to).
 */
export function cleanRequest(f: StaleFlow): string {
  const family = tryParseIP(f.endpointIP)?.family;
  if (family === undefined) throw new OperationError(`not an endpoint address: ${f.endpointIP}`);
  const fields = [family, PROTOCOL_NUMBERS[f.protocol], f.serviceIP ?? '-', f.port, f.endpointIP];
  return `${fields.join(' ')}\n`;
}

interface Pending {
  resolve(deleted: number): void;
  reject(err: Error): void;
}

/**
 * One podnet-conntrack-clean, started by the first request and again after it ends. It keeps
 * this process alive only while a request is unanswered.
 */
class ConntrackCleaner {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private stdout = '';

  constructor(private readonly netns?: string) {}

  /** Starts the program now, so that the first request does not wait for it. */
  prepare(): void {
    if (!this.child) this.hold(this.start(), false);
  }

  /** Deletes the entries of `flow`; resolves with how many there were. */
  delete(flow: StaleFlow): Promise<number> {
    const request = cleanRequest(flow);
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.hold(child, true);
      child.stdin.write(request);
    });
  }

  private hold(child: ChildProcessWithoutNullStreams, busy: boolean): void {
    // The pipes are sockets, which can be (un)referenced like the process.
    const pipes = [child.stdin, child.stdout, child.stderr] as unknown as Socket[];
    for (const handle of [child, ...pipes]) {
      if (busy) handle.ref();
      else handle.unref();
    }
  }

  private start(): ChildProcessWithoutNullStreams {
    const [program, ...args] = inNetns(this.netns, [PROGRAM]) as [string, ...string[]];
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => this.onStdout(b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-500)));
    child.stdin.on('error', () => {
      /* the process ended; 'close' fails what is pending */
    });
    const fail = (message: string): void => {
      if (this.child === child) this.child = undefined;
      for (const p of this.pending.splice(0)) p.reject(new OperationError(message));
    };
    // A program that ended is started again by the next request.
    child.on('close', () =>
      fail(`podnet-conntrack-clean ended: ${stderr.trim() || 'no reason given'}`),
    );
    child.on('error', (err) => fail(`could not run podnet-conntrack-clean: ${err.message}`));
    return child;
  }

  private onStdout(text: string): void {
    const lines = (this.stdout + text).split('\n');
    this.stdout = lines.pop() ?? '';
    for (const line of lines) {
      const done = this.pending.shift();
      const ok = /^ok (\d+)$/.exec(line);
      if (ok) done?.resolve(Number(ok[1]));
      else done?.reject(new OperationError(`conntrack cleanup: ${line.replace(/^error /, '')}`));
    }
    if (this.pending.length === 0 && this.child) this.hold(this.child, false);
  }
}

/** One cleaner per namespace for the whole process: the proxy's loops of both modes share it. */
const cleaners = new Map<string, ConntrackCleaner>();

function cleanerFor(netns: string | undefined): ConntrackCleaner {
  const key = netns ?? '';
  let cleaner = cleaners.get(key);
  if (!cleaner) cleaners.set(key, (cleaner = new ConntrackCleaner(netns)));
  return cleaner;
}

/** conntrack cleanup bound to one network namespace: what the proxy's sync loop is given. */
export function conntrackKernel(netns?: string): {
  /** Deletes the entries of each stale flow; "nothing to delete" is not an error. */
  deleteStaleFlows(flows: StaleFlow[]): Promise<void>;
  prepare(): void;
} {
  return {
    prepare: () => cleanerFor(netns).prepare(),
    async deleteStaleFlows(flows) {
      const cleaner = cleanerFor(netns);
      await Promise.all(flows.map((f) => cleaner.delete(f)));
    },
  };
}
