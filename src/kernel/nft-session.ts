// One long-lived `nft -i` in this namespace, fed scripts on stdin as they come: a pod's ADD
// then costs the guard a write to a pipe, not a process start. nft runs each input line as one
// transaction (all or nothing), so a script is sent as one line, its commands joined by `;`.
// nft says nothing on success and reports each error on stderr (`Error: ...`, then the line it
// read); every script is followed by a sentinel nft cannot parse, so when the sentinel's line
// is echoed back, the script is done and the errors reported in between are its own.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { inNetns } from '../process/run.js';
import { OperationError } from '../util/errors.js';

/** Not an nft command: nft always rejects it and echoes it back. */
const SENTINEL = 'podnet-end-of-script';

export class NftScriptError extends OperationError {
  constructor(readonly errors: string[]) {
    super(`nft: ${errors.join('; ')}`);
    this.name = 'NftScriptError';
  }
}

/** A script as one input line: nft separates commands by newlines and `;` alike. */
export function scriptLine(script: string): string {
  return script
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}

/**
 * Reads nft's stderr for the sentinel: `end` is called once per script, with the errors
 * reported since the previous one. Echoed input and the marker lines under it are not errors.
 */
export class NftErrorReader {
  private partial = '';
  private errors: string[] = [];

  constructor(private readonly end: (errors: string[]) => void) {}

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === SENTINEL) {
        // The sentinel's own syntax error was reported just before it.
        const errors = this.errors.slice(0, -1);
        this.errors = [];
        this.end(errors);
      } else if (line.startsWith('Error: ')) {
        this.errors.push(line.slice('Error: '.length));
      }
    }
  }
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

/** One nft process and the scripts it has not answered yet. */
interface Running {
  child: ChildProcessWithoutNullStreams;
  pending: Pending[];
  scripts: number;
}

/**
 * nft -i keeps every line it read as history, in memory and in a file under HOME when it
 * exits: a session hands over to a fresh nft after this many scripts, and its HOME is one no
 * file can be written in.
 */
const SCRIPTS_PER_PROCESS = 1000;
const NO_HISTORY_HOME = '/proc';

export class NftSession {
  private running: Running | undefined;

  /** In `netns` (a name or path), else in this process's namespace. */
  constructor(private readonly netns?: string) {}

  /** Runs `script` as one transaction; rejects with NftScriptError naming nft's errors. */
  run(script: string): Promise<void> {
    const running = this.running ?? this.start();
    const done = new Promise<void>((resolve, reject) => {
      running.pending.push({ resolve, reject });
      running.child.stdin.write(`${scriptLine(script)}\n${SENTINEL}\n`);
    });
    if (++running.scripts >= SCRIPTS_PER_PROCESS) this.retire(running);
    return done;
  }

  close(): void {
    if (this.running) this.retire(this.running);
  }

  /** No new scripts go to it; it answers what it was given, then ends at end of input. */
  private retire(running: Running): void {
    if (this.running === running) this.running = undefined;
    running.child.stdin.end();
  }

  private start(): Running {
    const [program, ...args] = inNetns(this.netns, ['nft', '-i']) as [string, ...string[]];
    const child = spawn(program, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: NO_HISTORY_HOME },
    });
    const running: Running = { child, pending: [], scripts: 0 };
    this.running = running;
    const reader = new NftErrorReader((errors) => {
      const done = running.pending.shift();
      if (errors.length === 0) done?.resolve();
      else done?.reject(new NftScriptError(errors));
    });
    child.stdout.resume(); // changes print nothing; drain it regardless
    child.stderr.on('data', (b: Buffer) => reader.push(b.toString()));
    child.stdin.on('error', () => {
      /* the process ended; 'close' fails what is pending */
    });
    // A session whose nft ended is started again by the next script.
    const fail = (message: string): void => {
      if (this.running === running) this.running = undefined;
      for (const p of running.pending.splice(0)) p.reject(new OperationError(message));
    };
    child.on('close', () => fail('the nft session ended unexpectedly'));
    child.on('error', (err) => fail(`could not run nft: ${err.message}`));
    return running;
  }
}
