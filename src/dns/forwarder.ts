// Names outside the cluster's zones go to upstream resolvers (in order, the next on a
// timeout), over UDP and over TCP when a TCP client's answer came back truncated; an upstream
// may be of either family, each asked from a socket of its own. Answers are kept in a bounded
// cache, positive and negative alike, for as long as their TTLs allow.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { isIPv4 } from '../net/index.js';
import type { Transport } from './request.js';
import {
  HEADER,
  indexResponse,
  minTtl,
  patchResponse,
  type EncodedResponse,
  type ScannedQuery,
} from './wire.js';

export interface Upstream {
  /** Its address in canonical text (RFC 5952 for IPv6), as a socket reports a reply's source. */
  host: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Per upstream attempt. */
  timeoutMs?: number;
  /** Cached answers at most. */
  cacheSize?: number;
  /** Longest time an answer is kept, whatever its TTL (seconds). */
  maxTtl?: number;
  /** Lifetime of a negative answer that carries no SOA (seconds). */
  negativeTtl?: number;
}

interface CacheEntry {
  resp: EncodedResponse;
  storedAt: number;
  expiresAt: number;
}

interface Pending {
  resolve: (resp: Buffer) => void;
  upstream: Upstream;
}

const FLAG_TC = 0x02; // in byte 2
type SocketKind = 'udp4' | 'udp6';
/** Queries in flight to upstreams at most (IDs are 16 bits; beyond this, SERVFAIL). */
const MAX_PENDING = 30_000;

export class Forwarder {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<number, Pending>();
  private readonly sockets = new Map<SocketKind, Socket>();
  private readonly timeoutMs: number;
  private readonly cacheSize: number;
  private readonly maxTtl: number;
  private readonly negativeTtl: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.maxTtl = opts.maxTtl ?? 3600;
    this.negativeTtl = opts.negativeTtl ?? 5;
  }

  /** A cached answer for this query, aged and patched for the asker, or undefined. */
  cached(q: ScannedQuery, msg: Buffer): Buffer | undefined {
    const entry = this.cache.get(q.key);
    if (!entry) return undefined;
    const now = Date.now();
    if (now >= entry.expiresAt) {
      this.cache.delete(q.key);
      return undefined;
    }
    return patchResponse(entry.resp, msg, q.nameEnd, Math.floor((now - entry.storedAt) / 1000));
  }

  /** Asks the upstreams; rejects when none answered in time. */
  async resolve(msg: Buffer, transport: Transport, cacheKey: string | undefined): Promise<Buffer> {
    let lastError: unknown = new Error('no upstream resolvers configured');
    for (const upstream of this.opts.upstreams) {
      try {
        let resp = await this.askUdp(msg, upstream);
        // A UDP client gets the truncated answer and retries over TCP itself.
        if (resp[2]! & FLAG_TC && transport === 'tcp') resp = await this.askTcp(msg, upstream);
        const indexed = indexResponse(resp);
        if (!indexed) throw new Error(`malformed answer from ${upstream.host}:${upstream.port}`);
        if (cacheKey) this.remember(cacheKey, indexed);
        return patchResponse(indexed, msg, nameEnd(msg));
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  close(): void {
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }

  private remember(key: string, resp: EncodedResponse): void {
    const rcode = resp.buf[3]! & 0x0f;
    if (resp.buf[2]! & FLAG_TC || (rcode !== 0 && rcode !== 3)) return; // only NOERROR, NXDOMAIN
    const ttl = Math.min(minTtl(resp) ?? this.negativeTtl, this.maxTtl);
    if (ttl <= 0) return;
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    const now = Date.now();
    this.cache.set(key, { resp, storedAt: now, expiresAt: now + ttl * 1000 });
  }

  private udpSocket(kind: SocketKind): Socket {
    const open = this.sockets.get(kind);
    if (open) return open;
    const socket = createSocket(kind);
    socket.on('message', (resp, rinfo) => {
      if (resp.length < HEADER) return;
      const p = this.pending.get(resp.readUInt16BE(0));
      if (!p || rinfo.port !== p.upstream.port || rinfo.address !== p.upstream.host) return;
      p.resolve(resp);
    });
    socket.on('error', () => {
      /* a send to an unreachable upstream: the attempt times out and the next one is tried */
    });
    socket.unref();
    this.sockets.set(kind, socket);
    return socket;
  }

  private askUdp(msg: Buffer, upstream: Upstream): Promise<Buffer> {
    const socket = this.udpSocket(isIPv4(upstream.host) ? 'udp4' : 'udp6');
    if (this.pending.size >= MAX_PENDING) {
      return Promise.reject(new Error('too many queries waiting for upstreams'));
    }
    let id = randomInt(0, 65536);
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    const out = Buffer.from(msg);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`upstream ${upstream.host}:${upstream.port} did not answer`));
      }, this.timeoutMs);
      this.pending.set(id, {
        upstream,
        resolve: (resp) => {
          // Only the answer to our own question counts (ID guessing is not enough).
          if (!sameQuestion(resp, out)) return;
          clearTimeout(timer);
          this.pending.delete(id);
          resolve(resp);
        },
      });
      socket.send(out, upstream.port, upstream.host);
    });
  }

  private askTcp(msg: Buffer, upstream: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: upstream.host, port: upstream.port });
      const chunks: Buffer[] = [];
      let got = 0;
      sock.setTimeout(this.timeoutMs, () => sock.destroy(new Error('upstream TCP timeout')));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([len, msg]));
      });
      sock.on('data', (b) => {
        chunks.push(b);
        got += b.length;
        const all = Buffer.concat(chunks);
        if (got >= 2 && got >= 2 + all.readUInt16BE(0)) {
          sock.destroy();
          resolve(all.subarray(2, 2 + all.readUInt16BE(0)));
        }
      });
      sock.on('error', reject);
      sock.on('close', () => reject(new Error('upstream closed the TCP connection')));
    });
  }
}

function nameEnd(msg: Buffer): number {
  let off = HEADER;
  while (msg[off] !== 0 && off < msg.length) off += msg[off]! + 1;
  return off + 1;
}

/** Same question bytes (case-insensitively: upstreams may randomise case, RFC 0x20). */
function sameQuestion(resp: Buffer, query: Buffer): boolean {
  const end = nameEnd(query) + 4;
  if (resp.length < end) return false;
  return (
    resp.toString('latin1', HEADER, end).toLowerCase() ===
    query.toString('latin1', HEADER, end).toLowerCase()
  );
}
