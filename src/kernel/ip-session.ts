// One long-lived `ip -force -batch -` in this namespace, fed commands on stdin as they come.
// Starting a process costs ~10 ms on the machines podnet runs on, more than the netlink work
// of a whole pod; a session pays it once. ip answers each failed command on stderr (a message,
// then `Command failed -:<line>`) and nothing on success, so every group of commands ends with
// a sentinel that always fails: when its line is reported, the group is done, and the failures
// reported in between are the group's.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { OperationError } from '../util/errors.js';

/** A device name longer than IFNAMSIZ: it can never exist, so showing it always fails. */
const SENTINEL = 'link show dev podnet-end-of-group';

export interface CommandFailure {
  command: string;
  message: string;
}

export class IpBatchError extends OperationError {
  constructor(readonly failures: CommandFailure[]) {
    super(failures.map((f) => `ip ${f.command}: ${f.message}`).join('; '));
    this.name = 'IpBatchError';
  }
}

interface Group {
  commands: string[];
  first: number;
  sentinel: number;
  failures: CommandFailure[];
  resolve(): void;
  reject(err: Error): void;
}

export class IpSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private nextLine = 1;
  private readonly groups: Group[] = [];
  private stderr = '';
  private message: string[] = [];

  /** Runs `commands` (ip batch lines) in order; rejects with IpBatchError naming each failure. */
  run(commands: string[]): Promise<void> {
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      const first = this.nextLine;
      const sentinel = first + commands.length;
      this.nextLine = sentinel + 1;
      this.groups.push({ commands, first, sentinel, failures: [], resolve, reject });
      child.stdin.write(`${[...commands, SENTINEL].join('\n')}\n`);
    });
  }

  close(): void {
    this.child?.stdin.end();
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.nextLine = 1;
    child.stdout.resume(); // nothing we send prints; drain it regardless
    child.stderr.on('data', (b: Buffer) => this.onStderr(b.toString()));
    child.stdin.on('error', () => {
      /* the process ended; 'close' fails what is pending */
    });
    child.on('close', () => {
      if (this.child === child) this.child = undefined;
      const lost = this.groups.splice(0);
      for (const g of lost) g.reject(new OperationError('the ip batch session ended unexpectedly'));
    });
    child.on('error', (err) => {
      for (const g of this.groups.splice(0)) {
        g.reject(new OperationError(`could not run ip: ${err.message}`));
      }
    });
    return child;
  }

  private onStderr(text: string): void {
    this.stderr += text;
    const lines = this.stderr.split('\n');
    this.stderr = lines.pop() ?? '';
    for (const line of lines) {
      const failed = /^Command failed -:(\d+)$/.exec(line);
      if (!failed) {
        this.message.push(line);
        continue;
      }
      const lineNo = Number(failed[1]);
      const message = this.message.join(' ').trim();
      this.message = [];
      const group = this.groups[0];
      if (!group || lineNo < group.first) continue;
      if (lineNo < group.sentinel) {
        group.failures.push({ command: group.commands[lineNo - group.first]!, message });
        continue;
      }
      this.groups.shift();
      if (group.failures.length === 0) group.resolve();
      else group.reject(new IpBatchError(group.failures));
    }
  }
}
