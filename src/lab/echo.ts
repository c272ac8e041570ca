// The lab's built-in test workload: on one port, HTTP GET answers with who is answering (pod,
// namespace, IP, node) as JSON, and UDP datagrams are echoed back wrapped in the same identity,
// so load-balancing tests can count which pod replied over either protocol.
import { createServer, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isIPv4 } from '../net/index.js';

export interface EchoIdentity {
  pod: string;
  namespace: string;
  ip: string;
  node: string;
}

export interface EchoServer {
  port: number;
  http: Server;
  udp: Socket;
  close(): Promise<void>;
}

/** Who this process is, from the environment the pod runner sets. */
export function identityFromEnv(env: NodeJS.ProcessEnv): EchoIdentity {
  return {
    pod: env.POD_NAME ?? '',
    namespace: env.POD_NAMESPACE ?? '',
    ip: env.POD_IP ?? '',
    node: env.NODE_NAME ?? '',
  };
}

/** The UDP reply: the identity plus what was received (as text). */
export function udpReply(id: EchoIdentity, datagram: Buffer): Buffer {
  return Buffer.from(JSON.stringify({ ...id, echo: datagram.toString('utf8') }));
}

export async function startEcho(
  id: EchoIdentity,
  port: number,
  host = '0.0.0.0',
): Promise<EchoServer> {
  const body = JSON.stringify(id);
  const http = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // Test clients open many short connections; do not keep them around.
  http.keepAliveTimeout = 1000;
  // `::` serves both families (a dual-stack pod), 0.0.0.0 and IPv4 addresses IPv4 only.
  const udp = createSocket(isIPv4(host) ? 'udp4' : 'udp6');
  udp.on('message', (msg, rinfo) => udp.send(udpReply(id, msg), rinfo.port, rinfo.address));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  // Port 0 picks a free TCP port; UDP then takes the same number.
  const bound = (http.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(bound, host, () => resolve());
  });
  return {
    port: bound,
    http,
    udp,
    close: () =>
      new Promise<void>((resolve) => {
        udp.close();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
