// Links coming up, told by the kernel: one long-lived `ip -o monitor link` per agent. When a
// link goes down the kernel drops every route through it, and routing must put back its own
// as soon as the link is up again rather than at its next periodic read of the kernel.
import { followLines } from '../process/follow.js';

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
 * Links that come and go with pods, whose coming up restores no route of podnet's: its own pod
 * veths and tunnels (`pn`...), and the host ends the reference CNI plugins (ptp, bridge) make
 * for pods of another network on the same host (`veth` + 8 hex). Each of those coming up would
 * otherwise cost a full read of the host's routes beside the next ADD.
 */
export function comesAndGoesWithPods(ifname: string): boolean {
  return ifname.startsWith('pn') || /^veth[0-9a-f]{8}$/.test(ifname);
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
  return followLines(
    ['ip', '-o', 'monitor', 'link'],
    {
      onLine: (line) => {
        const link = parseLinkLine(line);
        if (!link || ignore(link.ifname)) return;
        if (!link.up) up.delete(link.ifname);
        else if (!up.has(link.ifname)) {
          up.add(link.ifname);
          onUp(link.ifname);
        }
      },
      onExit,
    },
    RESTART_MS,
  );
}
