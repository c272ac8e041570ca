// Reachability probes from inside a network namespace (a pod's): ICMP echo, optionally of a
// given size with the don't-fragment bit set, so that a path that drops full-size packets
// (an MTU black hole) shows as a failure instead of being fragmented around.
import { run } from '../process/run.js';
import { parseIP } from '../net/index.js';

export interface ProbeResult {
  ok: boolean;
  /** The echo replies received, of those sent. */
  received: number;
  sent: number;
}

/** ICMP echo header plus the IP header of the address's family. */
const HEADERS = { 4: 8 + 20, 6: 8 + 40 } as const;

/**
 * Sends `count` echoes from `netns` to `target`; with `packetBytes`, each is a whole IP packet of
 * that size with fragmentation forbidden. Succeeds when any reply comes back.
 */
export async function pingFrom(
  netns: string,
  target: string,
  opts: { packetBytes?: number; count?: number } = {},
): Promise<ProbeResult> {
  const count = opts.count ?? 3;
  const family = parseIP(target).family;
  const size =
    opts.packetBytes !== undefined
      ? ['-M', 'do', '-s', String(opts.packetBytes - HEADERS[family])]
      : [];
  const argv = [
    'ping',
    `-${family}`,
    '-n',
    '-q',
    '-c',
    String(count),
    '-i',
    '0.2',
    '-W',
    '1',
    ...size,
    target,
  ];
  const { stdout } = await run(argv, { netns, okCodes: [1, 2], timeoutMs: 10_000 });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  const received = m ? Number(m[2]) : 0;
  return { ok: received > 0, received, sent: count };
}
