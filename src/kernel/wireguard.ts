// Running `wg` and `wireguard-go`. Both find a userspace device through its control socket,
// `/run/wireguard/<device>.sock`, one directory for the whole machine: where several hosts
// share a machine (namespaces, each with its own pn-wg), each gets its own socket directory,
// bound over /run/wireguard in a private mount namespace of just the program that needs it.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnDetached } from '../process/daemons.js';
import { run } from '../process/run.js';
import type { ActualWireguard } from './netobjects.js';
import { parseWireguardDump } from './wireguard-dump.js';
import { OperationError } from '../util/errors.js';

const SOCKET_DIR = '/run/wireguard';

export interface WireguardRunOptions {
  netns?: string;
  /** This host's socket directory, where it is not the machine's /run/wireguard. */
  socketDir?: string;
  /** Where wireguard-go's output goes. */
  logFile?: string;
}

/** argv that runs with `socketDir` seen as /run/wireguard. */
export function withSocketDir(argv: string[], socketDir: string | undefined): string[] {
  if (!socketDir) return argv;
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o700 });
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    `mount --bind "$0" ${SOCKET_DIR} && exec "$@"`,
    socketDir,
    ...argv,
  ];
}

export async function runWg(args: string[], opts: WireguardRunOptions): Promise<void> {
  await run(withSocketDir(['wg', ...args], opts.socketDir), { netns: opts.netns });
}

export async function readWireguard(
  device: string,
  opts: WireguardRunOptions,
): Promise<ActualWireguard | undefined> {
  const result = await run(withSocketDir(['wg', 'show', device, 'dump'], opts.socketDir), {
    netns: opts.netns,
    okCodes: [1],
  });
  // A device wg cannot talk to (a TUN device without its wireguard-go) has no configuration.
  if (result.code !== 0) return undefined;
  return parseWireguardDump(result.stdout);
}

/**
 * Starts wireguard-go for `device`, detached (it outlives the agent, so an agent restart
 * loses no session), and waits for its control socket. It exits when its device is deleted.
 */
export async function startWireguardGo(device: string, opts: WireguardRunOptions): Promise<void> {
  const socket = join(opts.socketDir ?? SOCKET_DIR, `${device}.sock`);
  // Left behind by a wireguard-go that was killed: it would pass for the new one's.
  rmSync(socket, { force: true });
  await spawnDetached({
    argv: withSocketDir(['wireguard-go', '-f', device], opts.socketDir),
    netns: opts.netns,
    enter: 'nsenter',
    logFile: opts.logFile ?? '/dev/null',
  });
  const deadline = Date.now() + 5000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline) {
      throw new OperationError(
        `wireguard-go ${device} did not open its control socket ${socket} within 5 s` +
          (opts.logFile ? ` (see ${opts.logFile})` : ''),
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
