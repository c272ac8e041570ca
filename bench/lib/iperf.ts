// iperf3 between two namespaces, the receiver and the sender each pinned to its own core
// (taskset) so that the scheduler moving them about does not add to the spread; and the
// median with its range, which is how the routing benchmarks report a figure.
import { execFileSync, spawn } from 'node:child_process';

const SERVER_CORE = '0';
const CLIENT_CORE = '1';

/** Bits per second from `clientNs` to `ip` (the iperf3 server listening in `serverNs`). */
export async function iperf(
  serverNs: string,
  clientNs: string,
  ip: string,
  streams: number,
  seconds: number,
): Promise<number> {
  try {
    return await iperfOnce(serverNs, clientNs, ip, streams, seconds);
  } catch {
    // On a loaded machine a run now and then misses its connect timeout: one more try.
    return iperfOnce(serverNs, clientNs, ip, streams, seconds);
  }
}

async function iperfOnce(
  serverNs: string,
  clientNs: string,
  ip: string,
  streams: number,
  seconds: number,
): Promise<number> {
  const server = spawn(
    'ip',
    ['netns', 'exec', serverNs, 'taskset', '-c', SERVER_CORE, 'iperf3', '-s', '-1', '-B', ip],
    { stdio: 'ignore' },
  );
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        clientNs,
        'taskset',
        '-c',
        CLIENT_CORE,
        'iperf3',
        '-c',
        ip,
        '-P',
        String(streams),
        '-t',
        String(seconds),
        '-J',
        '--connect-timeout',
        '3000',
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const result = JSON.parse(out) as {
      error?: string;
      end?: { sum_received?: { bits_per_second: number } };
    };
    const bps = result.end?.sum_received?.bits_per_second;
    if (bps === undefined) throw new Error(`iperf3 to ${ip}: ${result.error ?? 'no result'}`);
    return bps;
  } finally {
    server.kill();
  }
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  const sorted = [...xs].sort((x, y) => x - y);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

/** "9.81 (9.52-10.03)": Gb/s, the median and the range of the rounds. */
export function formatGbps(s: Spread): string {
  const g = (x: number): string => (x / 1e9).toFixed(2);
  return `${g(s.median)} (${g(s.min)}-${g(s.max)})`;
}
