// Many lightweight iBGP speakers in one process, for the route-reflector figures of the scale
// harness (scale-bgp.ts runs this inside a namespace that holds every simulated node's
// address). Speaker i is simulated node i of scale-fixture.ts: it connects from that node's
// underlay address to the reflector, reaches Established with podnet's own codec, announces
// that node's pod subnet with itself as next hop, sends End-of-RIB, and then only counts the
// prefixes the reflector sends it. A full podnet Session per speaker would cost what the figure
// is meant to show of the reflector, so these keep no RIB: a set of prefixes each.
//
//   node scale-bgp-speakers.js <reflector> <port> <as> <from> <to> <expect>
// Speakers <from>..<to>-1 run; each is "full" once it holds <expect> prefixes. One JSON line
// on stdout per event: {"event":"connecting"}, {"event":"established","ms":..},
// {"event":"full","ms":..,"routes":..}; an error ends the process with a line on stderr.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodeMessage, encodeKeepalive } from '../../src/bgp/codec.js';
import { frameMessages } from '../../src/bgp/framing.js';
import { AsSegmentType, MessageType, ORIGIN_IGP } from '../../src/bgp/message.js';
import { encodeOpen } from '../../src/bgp/open.js';
import { parseIpv4Key, type Ipv4PrefixKey } from '../../src/bgp/prefix-key.js';
import { encodeAnnouncements, encodeEndOfRib } from '../../src/bgp/update.js';
import { simNodeIP, simPodCIDR } from './scale-fixture.js';

const HOLD_TIME = 90;
/** Connections opened at once: a burst of hundreds of SYNs overflows the listener's backlog. */
const CONNECTING_AT_ONCE = 64;

const [reflector, port, asText, fromText, toText, expectText] = process.argv.slice(2);
const asNumber = Number(asText);
const from = Number(fromText);
const to = Number(toText);
const expect = Number(expectText);
if (!reflector || !Number.isInteger(asNumber) || !(to > from) || !(expect >= 0)) {
  process.stderr.write('usage: scale-bgp-speakers <reflector> <port> <as> <from> <to> <expect>\n');
  process.exit(2);
}

const started = performance.now();
let established = 0;
let full = 0;
const sockets: Socket[] = [];

function emit(event: object): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function fail(i: number, why: string): never {
  process.stderr.write(`speaker ${simNodeIP(i)}: ${why}\n`);
  process.exit(1);
}

/** One speaker's session: resolves once it is Established (its connection slot is then free). */
function runSpeaker(i: number): Promise<void> {
  return new Promise((resolve) => {
    const address = simNodeIP(i);
    const socket = connect({ host: reflector, port: Number(port), localAddress: address });
    sockets.push(socket);
    const routes = new Set<Ipv4PrefixKey>();
    let pending: Buffer = Buffer.alloc(0);
    let up = false;
    let isFull = false;
    let holdTime = HOLD_TIME;
    socket.on('connect', () =>
      socket.write(encodeOpen({ asNumber, holdTime: HOLD_TIME, bgpId: address })),
    );
    socket.on('error', (err) => fail(i, err.message));
    socket.on('close', () => fail(i, 'the reflector closed the session'));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const { messages, rest } = frameMessages(pending);
      pending = rest;
      for (const m of messages) {
        const type = m[18];
        if (type === MessageType.OPEN) {
          socket.write(encodeKeepalive());
          const open = decodeMessage(m, { fourOctetAs: true });
          if (open.type === 'open') holdTime = Math.min(HOLD_TIME, open.holdTime);
        } else if (type === MessageType.KEEPALIVE && !up) {
          up = true;
          announce(socket, i);
          // Keepalives at a third of the negotiated hold time, as RFC 4271 §10 suggests.
          const every = (holdTime / 3) * 1000;
          if (every > 0) setInterval(() => socket.write(encodeKeepalive()), every).unref();
          if (++established === to - from) {
            emit({ event: 'established', ms: performance.now() - started });
          }
          resolve();
        } else if (type === MessageType.UPDATE) {
          const u = decodeMessage(m, { fourOctetAs: true });
          if (u.type !== 'update') continue;
          for (const p of u.withdrawn) routes.delete(p);
          for (const p of u.nlri) routes.add(p);
        } else if (type === MessageType.NOTIFICATION) fail(i, `NOTIFICATION ${m[19]}/${m[20]}`);
      }
      if (!isFull && routes.size >= expect) {
        isFull = true;
        if (++full === to - from) {
          emit({ event: 'full', ms: performance.now() - started, routes: routes.size });
        }
      }
    });
  });
}

/** The simulated node's pod subnet, next hop its own address, then End-of-RIB. */
function announce(socket: Socket, i: number): void {
  const attrs = {
    origin: ORIGIN_IGP,
    asPath: [] as { type: typeof AsSegmentType.SEQUENCE; asns: number[] }[],
    nextHop: simNodeIP(i),
    localPref: 100,
    unknown: [],
  };
  const updates = encodeAnnouncements(attrs, [parseIpv4Key(simPodCIDR(i))], {
    fourOctetAs: true,
  });
  socket.write(Buffer.concat([...updates, encodeEndOfRib()]));
}

emit({ event: 'connecting' });
let next = from;
const worker = async (): Promise<void> => {
  while (next < to) await runSpeaker(next++);
};
await Promise.all(Array.from({ length: Math.min(CONNECTING_AT_ONCE, to - from) }, worker));
process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
