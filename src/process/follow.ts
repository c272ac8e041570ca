// A long-lived program read line by line (`podnet flows -f`, say), started again when it ends
// until it is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const DEFAULT_RESTART_MS = 2000;

export interface FollowHandlers {
  onLine(line: string): void;
  /** The program ended or could not start; it is started again shortly. */
  onExit(reason: string): void;
}

export function followLines(
  argv: string[],
  handlers: FollowHandlers,
  restartMs = DEFAULT_RESTART_MS,
): { stop(): void } {
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const start = (): void => {
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-300)));
    createInterface({ input: proc.stdout }).on('line', handlers.onLine);
    proc.once('error', (err) => {
      if (!stopped) handlers.onExit(`could not run ${argv[0]}: ${err.message}`);
    });
    proc.once('exit', (code, signal) => {
      if (stopped) return;
      const last = stderr.trim().split('\n').at(-1) ?? '';
      handlers.onExit(`${argv.slice(-4).join(' ')} ended (${signal ?? `exit ${code}`}): ${last}`);
      timer = setTimeout(start, restartMs);
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      child?.kill('SIGTERM');
    },
  };
}
