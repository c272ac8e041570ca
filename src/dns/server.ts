// The sockets: UDP and TCP on one address and port, each message handed to the query
// handler. TCP carries several length-prefixed queries per connection (RFC 7766) and closes
// idle or misbehaving connections; nothing a client sends can end the process. Worker processes
// each bind sockets of their own on the same port (SO_REUSEPORT): the kernel spreads clients
// over them by flow hash, rather than every worker waking on one shared socket.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { Logger } from '../util/log.js';
import type { QueryHandler } from './handler.js';

export interface ServerOptions {
  host: string;
  /** 0 picks a free port (the same for UDP and TCP). */
  port: number;
  handler: QueryHandler;
  log: Logger;
  tcpIdleMs?: number;
  /** Bind with SO_REUSEPORT, beside other sockets on the same port (one per worker). */
  reusePort?: boolean;
  /** An IPv6 address takes IPv6 only, leaving IPv4 to a socket of its own on the same port. */
  ipv6Only?: boolean;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export async function startDnsServer(opts: ServerOptions): Promise<RunningServer> {
  for (let attempt = 0; ; attempt++) {
    const udp = await bindUdp(opts);
    const port = udp.address().port;
    try {
      const tcp = await listenTcp(opts, port);
      return {
        port,
        close: async () => {
          await new Promise<void>((r) => udp.close(() => r()));
          await new Promise<void>((r) => tcp.close(() => r()));
        },
      };
    } catch (err) {
      udp.close();
      // With port 0 the TCP side of a free UDP port may be taken: try another.
      if (opts.port !== 0 || attempt >= 10) throw err;
    }
  }
}

function bindUdp(opts: ServerOptions): Promise<Socket> {
  const family = opts.host.includes(':') ? 6 : 4;
  const socket = createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    // Replies go to the sender's literal address: skip dns.lookup's extra tick per packet.
    lookup: (address, _opts, callback) => callback(null, address, family),
    reusePort: opts.reusePort ?? false,
    ipv6Only: family === 6 && (opts.ipv6Only ?? false),
  });
  socket.on('message', (msg, rinfo) => {
    // No send callback: node then sends synchronously; a lost reply is the client's retry.
    const reply = (resp: Buffer): void => {
      try {
        socket.send(resp, rinfo.port, rinfo.address);
      } catch {
        /* the socket is closing */
      }
    };
    opts.handler.handle(msg, 'udp', reply, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    // exclusive: a cluster worker binds its own socket rather than the primary's shared one.
    socket.bind({ port: opts.port, address: opts.host, exclusive: opts.reusePort }, () => {
      socket.off('error', reject);
      socket.on('error', (err) => opts.log.warn({ err: err.message }, 'udp socket error'));
      resolve(socket);
    });
  });
}

function listenTcp(opts: ServerOptions, port: number): Promise<Server> {
  const idleMs = opts.tcpIdleMs ?? 10_000;
  const server = createServer((conn) => {
    let buffered = Buffer.alloc(0);
    conn.setTimeout(idleMs, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        const reply = (resp: Buffer): void => {
          if (conn.destroyed || !conn.writable) return;
          const frame = Buffer.allocUnsafe(2 + resp.length);
          frame.writeUInt16BE(resp.length, 0);
          resp.copy(frame, 2);
          conn.write(frame);
        };
        opts.handler.handle(msg, 'tcp', reply, conn.remoteAddress ?? '');
      }
    });
  });
  server.on('error', (err) => opts.log.warn({ err: err.message }, 'tcp server error'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const reuse = opts.reusePort ?? false;
    const ipv6Only = opts.ipv6Only ?? false;
    server.listen({ port, host: opts.host, reusePort: reuse, exclusive: reuse, ipv6Only }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
