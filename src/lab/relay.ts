// A TCP relay between two network namespaces. The listening socket is made by the caller in
// its own namespace and handed over as fd 3; the relay runs in the target's namespace, so each
// connection accepted there is carried to a server the caller's namespace cannot reach. The
// lab uses it to let `podnet` in the machine's namespace talk to the lab's etcd on the underlay.
import { connect, createServer, type Server, type Socket } from 'node:net';

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Pipes both ways; whichever side ends or fails closes the other. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close).on('close', close);
  b.on('error', close).on('close', close);
}

export function startRelay(listenFd: number, target: string): Promise<Server> {
  const { host, port } = splitHostPort(target);
  const server = createServer((client) => splice(client, connect(port, host)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd: listenFd }, () => resolve(server));
  });
}
