// Links coming up, told by the kernel: one long-lived `ip -o monitor link` per agent. When a
// link goes down the kernel drops every route through it, and routing must put back its own
// as soon as the link is up again rather than at its next periodic read of the kernel.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const RESTART_MS = 1000;

export interface LinkWatch {
  stop(): void;
}

/** One line of `ip -o monitor link`: the link's name and whether it is up with a carrier. */
export function parseLinkLine(line: string): { ifname: string; up: boolean } | undefined {
  const m = /^(?:Deleted )?\d+: ([^:@\s]+)(?:@[^:\s]+)?: <([^>]*)>/.exec(line);
  if (!m) return undefined;
  const flags = m[2]!.split(',');
  // LOWER_UP can show beside NO-CARRIER for a moment while a veth's peer comes up.
  const up =
    !line.startsWith('Deleted ') &&
    flags.includes('UP') &&
    flags.includes('LOWER_UP') &&
    !flags.includes('NO-CARRIER');
  return { ifname: m[1]!, up };
}

/**
 * Calls `onUp` each time a link of the network namespace this process runs in comes up (was
 * down, or unseen, before). Links `ignore` names are left out (the pod veths that come and go).
 */
export function watchLinksUp(
  onUp: (ifname: string) => void,
  ignore: (ifname: string) => boolean,
  onExit: (reason: string) => void,
): LinkWatch {
  const up = new Set<string>();
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const start = (): void => {
    const proc = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child = proc;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const link = parseLinkLine(line);
      if (!link || ignore(link.ifname)) return;
      if (!link.up) up.delete(link.ifname);
      else if (!up.has(link.ifname)) {
        up.add(link.ifname);
        onUp(link.ifname);
      }
    });
    proc.once('error', (err) => {
      if (!stopped) onExit(`could not run ip monitor: ${err.message}`);
    });
    proc.once('exit', (code, signal) => {
      if (stopped) return;
      onExit(`ip monitor link ended (${signal ?? `exit ${code}`})`);
      timer = setTimeout(start, RESTART_MS);
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
