// A long-lived helper program spoken to by lines (podnet-pod-link, podnet-conntrack-clean):
// one request line in, one answer line out, in order. It is started by the first request and
// again after it ends, so a request starts no process. It keeps this process alive only while
// a request is unanswered, and when it ends it fails every request it had not answered.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import { inNetns } from '../process/run.js';
import { OperationError } from '../util/errors.js';

/** The helper ended with the request unanswered: it may have done part of it. */
export class HelperEndedError extends OperationError {}

interface Pending {
  resolve(answer: string): void;
  reject(err: Error): void;
}

export class LineHelper {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private stdout = '';
  private readonly name: string;

  /** `netns`: the namespace to run it in, when it is not this process's own. */
  constructor(
    private readonly program: string,
    private readonly netns?: string,
  ) {
    this.name = basename(program);
  }

  /** Starts the program now, so that the first request does not wait for it. */
  prepare(): void {
    if (!this.child) this.start();
  }

  /** Sends one request line (ending in a newline); resolves with the answer line. */
  request(line: string): Promise<string> {
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.hold(child, true);
      child.stdin.write(line);
    });
  }

  close(): void {
    this.child?.stdin.end();
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
    const [program, ...args] = inNetns(this.netns, [this.program]) as [string, ...string[]];
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stdout = '';
    this.hold(child, false);
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => this.onStdout(b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-500)));
    child.stdin.on('error', () => {
      /* the process ended; 'close' fails what is pending */
    });
    const fail = (err: Error): void => {
      if (this.child === child) this.child = undefined;
      for (const p of this.pending.splice(0)) p.reject(err);
    };
    child.on('close', () =>
      fail(new HelperEndedError(`${this.name} ended: ${stderr.trim() || 'no reason given'}`)),
    );
    child.on('error', (err) =>
      fail(new OperationError(`could not run ${this.name}: ${err.message}`)),
    );
    return child;
  }

  private onStdout(text: string): void {
    const lines = (this.stdout + text).split('\n');
    this.stdout = lines.pop() ?? '';
    for (const line of lines) this.pending.shift()?.resolve(line);
    if (this.pending.length === 0 && this.child) this.hold(this.child, false);
  }
}
