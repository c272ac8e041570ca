// Sends random and mutated DNS packets at a server, then checks that it still answers.
// Usage: node dist/test/helpers/dns-fuzz.js HOST PORT COUNT SEED
// Prints one JSON line: { sent, responses, notResponses, mismatchedIds, ms }.
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { ednsOpt } from './dns-packets.js';

const [host, portText, countText, seedText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
let rnd = Number(seedText ?? 1) >>> 0 || 1;
const next = (): number => {
  // xorshift32: reproducible from the seed
  rnd ^= rnd << 13;
  rnd >>>= 0;
  rnd ^= rnd >>> 17;
  rnd ^= rnd << 5;
  rnd >>>= 0;
  return rnd;
};

const seeds = [
  dnsPacket.encode({
    type: 'query',
    id: 1,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: 'my-svc.my-namespace.svc.cluster.local', type: 'A' }],
  }),
  dnsPacket.encode({
    type: 'query',
    id: 2,
    questions: [{ name: '_http._tcp.my-svc.my-namespace.svc.cluster.local', type: 'SRV' }],
    additionals: [ednsOpt(1232)],
  }),
  dnsPacket.encode({
    type: 'query',
    id: 3,
    questions: [{ name: '20.0.96.10.in-addr.arpa', type: 'PTR' }],
  }),
];

function packet(i: number): Buffer {
  if (i % 2 === 1) {
    const b = Buffer.alloc(next() % 120);
    for (let k = 0; k < b.length; k++) b[k] = next() & 0xff;
    return b;
  }
  const b = Buffer.from(seeds[next() % seeds.length]!);
  const flips = 1 + (next() % 4);
  for (let k = 0; k < flips; k++) b[next() % b.length] = next() & 0xff;
  // never let a mutant ask for forwarding to nowhere: keep QR clear so each gets an answer
  return i % 10 === 0 ? b.subarray(0, next() % b.length) : b;
}

const socket = createSocket('udp4');
let responses = 0;
let notResponses = 0;
const sentIds = new Set<number>();
let mismatchedIds = 0;
socket.on('message', (m) => {
  responses++;
  if (m.length < 12 || !(m[2]! & 0x80)) notResponses++;
  else if (!sentIds.has(m.readUInt16BE(0))) mismatchedIds++;
});
await new Promise<void>((r) => socket.bind(0, () => r()));
const started = Date.now();
for (let i = 0; i < count; i++) {
  const b = packet(i);
  if (b.length >= 2) sentIds.add(b.readUInt16BE(0));
  socket.send(b, port, host);
  // About 10,000 packets a second: fast, yet not so fast that the socket buffer drops most.
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
}
await new Promise((r) => setTimeout(r, 500));
socket.close();
console.log(
  JSON.stringify({ sent: count, responses, notResponses, mismatchedIds, ms: Date.now() - started }),
);
