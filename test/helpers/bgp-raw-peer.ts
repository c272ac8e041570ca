// A raw BGP peer for tests, run inside a namespace: it speaks just enough BGP to reach
// Established and then sends whatever bytes the test gives it. Driven by JSON lines on stdin,
// it answers with JSON lines on stdout:
//   {"cmd":"establish","host":..,"port":..,"as":..,"id":..}  → {"ok":true} | {"ok":false,"error":..}
//   {"cmd":"send","hex":..,"waitMs":..}  → {"notification":[code,subcode,dataHex]|null,"closed":bool}
//   {"cmd":"fuzz","host":..,"port":..,"as":..,"id":..,"seed":..,"count":..,"base":[hex..]}
//        → {"sent":n,"sessions":n,"notifications":{"3/1":n,..},"ms":n}
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { encodeKeepalive } from '../../src/bgp/codec.js';
import { frameMessages } from '../../src/bgp/framing.js';
import { encodeOpen } from '../../src/bgp/open.js';

interface Conn {
  socket: Socket;
  messages: Buffer[];
  closed: boolean;
  waiters: (() => void)[];
}

function open(host: string, port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const conn: Conn = { socket, messages: [], closed: false, waiters: [] };
    let pending = Buffer.alloc(0);
    const wake = () => conn.waiters.splice(0).forEach((w) => w());
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      try {
        const { messages, rest } = frameMessages(pending);
        pending = Buffer.from(rest);
        conn.messages.push(...messages);
      } catch {
        conn.closed = true;
        socket.destroy();
      }
      wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed = true;
      wake();
    });
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

/** Waits for a message of `type` (or the connection closing) for at most `ms`. */
async function next(conn: Conn, ms: number): Promise<Buffer | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const m = conn.messages.shift();
    if (m) return m;
    if (conn.closed || Date.now() >= end) return undefined;
    await new Promise<void>((r) => {
      conn.waiters.push(r);
      setTimeout(r, Math.max(1, end - Date.now()));
    });
  }
}

type Target = { host: string; port: number; as: number; id: string };

/**
 * Connects and exchanges OPEN/KEEPALIVE. Retried for a while: until the speaker has noticed
 * that our previous connection closed, it refuses a new one (RFC 4271 §6.8).
 */
async function establish(c: Target): Promise<Conn> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await establishOnce(c);
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function establishOnce(c: Target): Promise<Conn> {
  const conn = await open(c.host, c.port);
  conn.socket.write(encodeOpen({ asNumber: c.as, holdTime: 90, bgpId: c.id }));
  const got = await next(conn, 5000);
  if (!got || got[18] !== 1) {
    conn.socket.destroy();
    throw new Error(`expected OPEN, got ${got?.[18] ?? 'nothing'}`);
  }
  conn.socket.write(encodeKeepalive());
  const ka = await next(conn, 5000);
  if (!ka || ka[18] !== 4) throw new Error(`expected KEEPALIVE, got ${ka?.[18] ?? 'nothing'}`);
  return conn;
}

/** Sends bytes, then reports a NOTIFICATION (or none) within waitMs; ignores KEEPALIVE/UPDATE. */
async function sendAndWatch(conn: Conn, bytes: Buffer, waitMs: number, untilUpdate = false) {
  conn.socket.write(bytes);
  const end = Date.now() + waitMs;
  for (;;) {
    const m = await next(conn, Math.max(1, end - Date.now()));
    if (!m) return { notification: null, closed: conn.closed };
    if (untilUpdate && m[18] === 2) {
      // Drain the rest of the refresh so the next round starts clean, keeping a NOTIFICATION.
      const queued = conn.messages.splice(0);
      const n = queued.find((q) => q[18] === 3);
      if (n) return { notification: [n[19], n[20], n.subarray(21).toString('hex')], closed: true };
      return { notification: null, closed: conn.closed };
    }
    if (m[18] === 3) {
      return {
        notification: [m[19], m[20], m.subarray(21).toString('hex')],
        closed: true,
      };
    }
  }
}

const ROUTE_REFRESH = Buffer.from(`${'ff'.repeat(16)}0017050001 0001`.replace(' ', ''), 'hex');

/** A small deterministic PRNG, so a failing fuzz run can be repeated from its seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** One random mutation of a valid message: flip, overwrite, truncate or extend bytes. */
function mutate(base: Buffer, rnd: () => number): Buffer {
  const m = Buffer.from(base);
  const kind = Math.floor(rnd() * 4);
  const at = () => 19 + Math.floor(rnd() * Math.max(1, m.length - 19));
  let out = m;
  if (kind === 0) for (let i = 0; i < 1 + rnd() * 3; i++) m[at()] ^= 1 << Math.floor(rnd() * 8);
  else if (kind === 1) for (let i = 0; i < 1 + rnd() * 3; i++) m[at()] = Math.floor(rnd() * 256);
  else if (kind === 2) out = m.subarray(0, Math.max(23, at()));
  else out = Buffer.concat([m, Buffer.from([Math.floor(rnd() * 256), Math.floor(rnd() * 256)])]);
  // Mostly keep the header's length honest so that the body's checks are what gets tested.
  if (rnd() < 0.9) out.writeUInt16BE(out.length, 16);
  else if (rnd() < 0.5) out[Math.floor(rnd() * 19)] = Math.floor(rnd() * 256);
  return Buffer.from(out);
}

async function fuzz(c: {
  host: string;
  port: number;
  as: number;
  id: string;
  seed: number;
  count: number;
  base: string[];
}) {
  const rnd = prng(c.seed);
  const bases = c.base.map((h) => Buffer.from(h, 'hex'));
  const notifications: Record<string, number> = {};
  const start = Date.now();
  let conn: Conn | undefined;
  let sessions = 0;
  for (let i = 0; i < c.count; i++) {
    if (!conn || conn.closed) {
      conn = await establish(c);
      sessions++;
    }
    const msg = mutate(bases[Math.floor(rnd() * bases.length)]!, rnd);
    // A ROUTE-REFRESH after each mutation is answered with UPDATEs, unless the mutation reset
    // the session: either way one round trip says how the speaker took it.
    const r = await sendAndWatch(conn, Buffer.concat([msg, ROUTE_REFRESH]), 300, true);
    if (r.notification) {
      const key = `${r.notification[0]}/${r.notification[1]}`;
      notifications[key] = (notifications[key] ?? 0) + 1;
    }
    if (r.closed) {
      conn.socket.destroy();
      conn = undefined;
    }
  }
  conn?.socket.destroy();
  return { sent: c.count, sessions, notifications, ms: Date.now() - start };
}

async function main(): Promise<void> {
  let conn: Conn | undefined;
  const reply = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line);
    try {
      if (cmd.cmd === 'establish') {
        conn?.socket.destroy();
        conn = await establish(cmd);
        reply({ ok: true });
      } else if (cmd.cmd === 'send') {
        if (!conn || conn.closed) conn = undefined;
        if (!conn) reply({ notification: null, closed: true });
        else reply(await sendAndWatch(conn, Buffer.from(cmd.hex, 'hex'), cmd.waitMs ?? 500));
      } else if (cmd.cmd === 'fuzz') {
        conn?.socket.destroy();
        conn = undefined;
        reply(await fuzz(cmd));
      }
    } catch (err) {
      reply({ ok: false, error: String(err) });
    }
  }
}

await main();
