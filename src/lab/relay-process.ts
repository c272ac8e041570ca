// Starting a relay (relay.ts) as a supervised lab process: its listening socket is made here, in
// the machine's own namespace, on a loopback port, and handed to the relay, which runs in the
// underlay namespace and carries each connection to a server there (etcd, the API server).
import { createServer, type AddressInfo } from 'node:net';
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
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  try {
    // Node has no public accessor for a server's descriptor; the handle's fd is stable on Linux.
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const relay = await startProcess(stateDir, {
      id,
      argv: [podnetBin(), 'lab', 'relay', '--to', address],
      netns: underlayNetns,
      enter: 'nsenter',
      fds: [fd],
    });
    return { relay, port: (server.address() as AddressInfo).port };
  } finally {
    server.close();
  }
}

/** The loopback port of a `127.0.0.1:PORT` address or URL a relay serves. */
export function portOf(url: string): number {
  return Number(/:(\d+)\/?$/.exec(url)?.[1]);
}
