// Starting a relay (relay.ts) as a supervised lab process: its listening sockets are made here,
// in the machine's own namespace, on loopback ports, and handed to the relay, which runs in the
// underlay namespace and carries each connection to a server there (etcd, the API server).
import { createServer, type AddressInfo, type Server } from 'node:net';
import { podnetBin } from './paths.js';
import { startProcess, type ProcessRecord } from './supervisor.js';

/** Starts relay `id` to `address` (in `underlayNetns`) on loopback `port` (a free one when 0). */
export async function startLoopbackRelay(
  stateDir: string,
  id: string,
  underlayNetns: string,
  address: string,
  port = 0,
): Promise<{ relay: ProcessRecord; port: number }> {
  const { relay, ports } = await startLoopbackRelays(
    stateDir,
    id,
    underlayNetns,
    [address],
    [port],
  );
  return { relay, port: ports[0]! };
}

/**
 * One relay process for several servers (the members of the lab's etcd): `addresses[i]` is
 * served on loopback `ports[i]` (a free one when 0 or absent).
 */
export async function startLoopbackRelays(
  stateDir: string,
  id: string,
  underlayNetns: string,
  addresses: readonly string[],
  ports: readonly number[] = [],
): Promise<{ relay: ProcessRecord; ports: number[] }> {
  const servers: Server[] = [];
  try {
    for (const [i] of addresses.entries()) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(ports[i] ?? 0, '127.0.0.1', () => resolve());
      });
    }
    // Node has no public accessor for a server's descriptor; the handle's fd is stable on Linux.
    const fds = servers.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
    const relay = await startProcess(stateDir, {
      id,
      argv: [podnetBin(), 'lab', 'relay', ...addresses.flatMap((a) => ['--to', a])],
      netns: underlayNetns,
      enter: 'nsenter',
      fds,
    });
    return { relay, ports: servers.map((s) => (s.address() as AddressInfo).port) };
  } finally {
    for (const s of servers) s.close();
  }
}

/** The loopback port of a `127.0.0.1:PORT` address or URL a relay serves. */
export function portOf(url: string): number {
  return Number(/:(\d+)\/?$/.exec(url)?.[1]);
}
