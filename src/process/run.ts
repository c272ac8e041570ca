// Running a program to completion, optionally inside a network namespace, with its output
// captured and its failure turned into one line for people. The kernel room runs its tools
// through this; nothing outside src/kernel/ and src/process/ starts programs.
import { spawn, spawnSync } from 'node:child_process';
import { OperationError } from '../util/errors.js';

export interface RunOptions {
  /** Run inside this network namespace (a name under /run/netns, or a path). */
  netns?: string;
  /**
   * Written to the program's stdin. A promise lets the program start before its input is
   * known, since starting it is what costs; if the promise fails, stdin is closed empty.
   */
  input?: string | Promise<string>;
  /** Exit codes that are not failures (e.g. `ip route get` on no route). */
  okCodes?: number[];
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Pass the program's output through to our stderr as it comes (progress), not captured. */
  passThrough?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Path of a named network namespace, or the path itself. */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

/** Wraps argv so it runs in `netns` (nsenter keeps it one exec, no /sys remount). */
export function inNetns(netns: string | undefined, argv: string[]): string[] {
  if (!netns) return argv;
  return ['nsenter', `--net=${netnsPath(netns)}`, '--', ...argv];
}

export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = inNetns(opts.netns, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), {
      stdio: [
        'pipe',
        opts.passThrough ? process.stderr : 'pipe',
        opts.passThrough ? process.stderr : 'pipe',
      ],
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new OperationError(`could not run ${argv[0]}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code, signal) => {
      const result = {
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code: code ?? -1,
      };
      if (code === 0 || (code !== null && opts.okCodes?.includes(code))) resolve(result);
      else {
        const why = signal ? `killed by ${signal}` : `exit ${code}`;
        const detail = result.stderr.trim().split('\n').slice(0, 3).join('; ');
        reject(
          new OperationError(
            `${full.join(' ').slice(0, 200)} failed (${why})${detail ? `: ${detail}` : ''}`,
          ),
        );
      }
    });
    child.stdin!.on('error', () => {
      /* the program may exit before reading all input; its exit code tells */
    });
    Promise.resolve(opts.input ?? '').then(
      (text) => child.stdin!.end(text),
      () => child.stdin!.end(),
    );
  });
}

/** Runs a program and parses its JSON output (`ip -j ...`). Empty output is []. */
export async function runJson<T>(argv: string[], opts: RunOptions = {}): Promise<T> {
  const { stdout } = await run(argv, opts);
  const text = stdout.trim();
  return (text === '' ? [] : JSON.parse(text)) as T;
}

/**
 * Runs a program to its end while blocking this process's event loop, so that none of this
 * process's own work goes on meanwhile (a Ctrl-C handler removing what that work builds).
 * Returns the exit code; output is discarded.
 */
export function runBlocking(argv: string[]): number | null {
  return spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' }).status;
}
