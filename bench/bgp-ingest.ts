// How fast podnet's speaker takes in a full feed: 100,000 IPv4 /24s over eBGP, to a receiving
// BIRD (the anchor) and to podnet's speaker, in interleaved rounds of the same run on the same
// segment. The sender is not BIRD (which holds UPDATEs back for seconds whoever receives them)
// but a raw peer that writes the whole feed, encoded before timing starts, into the socket at
// once: about 400 kB, which TCP delivers in milliseconds, so the figure is the receiver's. It is
// the time from the feed being handed over to 99% of it, and to all of it, in the receiver's
// Loc-RIB, polled the same way for both; each round starts both receivers afresh. Beside it,
// the CPU time each receiver spent meanwhile, which a loaded machine disturbs far less. The
// polls cost the receivers unequally (an HTTP request against a birdc command), so each
// receiver's cost per poll is measured again once it holds the whole feed and taken off its
// figure. Both polls read a counter, and podnet's costs no more then than during the ingest
// (its code is warm by then), so the correction never favours podnet.
import { cpuMs } from './lib/process-cpu.js';
import { encodeEndOfRib, encodeAnnouncements } from '../src/bgp/update.js';
import { ipv4PrefixKey, type Ipv4PrefixKey } from '../src/bgp/prefix-key.js';
import { AsSegmentType, ORIGIN_IGP } from '../src/bgp/message.js';
import { BgpNet } from '../test/helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { median } from './lib/stats.js';

const PREFIXES = Number(process.env.BGP_INGEST_PREFIXES ?? 100000);
const ROUNDS = Number(process.env.BGP_INGEST_ROUNDS ?? 3);
const POLL_MS = 10;
const SENDER_AS = 65000;
const RECEIVER_AS = 64512;

/** Every UPDATE of the feed and the End-of-RIB, as one buffer. */
function feed(nextHop: string): Buffer {
  const prefixes: Ipv4PrefixKey[] = [];
  // 11.0.0.0/24, 11.0.1.0/24, ...: all distinct, none in the lab's ranges.
  for (let i = 0; i < PREFIXES; i++) prefixes.push(ipv4PrefixKey(0x0b000000 + i * 256, 24));
  const attributes = {
    origin: ORIGIN_IGP,
    asPath: [{ type: AsSegmentType.SEQUENCE, asns: [SENDER_AS] }],
    nextHop,
    unknown: [],
  };
  const updates = encodeAnnouncements(attributes, prefixes, { fourOctetAs: true });
  return Buffer.concat([...updates, encodeEndOfRib()]);
}

interface Ingest {
  p99: number;
  full: number;
  /** CPU ms the receiver used from the hand-over to the whole feed, its polls taken off. */
  cpu: number;
  /** The same with the polls' cost left in. */
  cpuWithPolls: number;
}

const CALIBRATION_POLLS = 10;

/** CPU ms one poll costs the receiver (process `pid`), polled as during the ingest. */
async function pollCost(pid: number, count: () => Promise<number> | number): Promise<number> {
  const before = cpuMs(pid);
  for (let i = 0; i < CALIBRATION_POLLS; i++) {
    await count();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return (cpuMs(pid) - before) / CALIBRATION_POLLS;
}

/**
 * Connects the raw peer (host 0) to a receiver, hands it the feed, and polls the receiver's
 * route count: ms from the hand-over to 99% and to all of the feed, and the receiver's
 * (process `pid`) CPU time over the same span.
 */
async function ingest(
  net: BgpNet,
  receiver: number,
  pid: number,
  bytes: string,
  count: () => Promise<number> | number,
): Promise<Ingest> {
  const peer = net.rawPeer(0);
  try {
    const target = { host: net.address(receiver), port: 179, as: SENDER_AS, id: net.address(0) };
    const up = await peer.request({ cmd: 'establish', ...target });
    if (up.ok !== true) throw new Error(`no session with host ${receiver}: ${String(up.error)}`);
    const end = Date.now() + 300000;
    const cpuBefore = cpuMs(pid);
    const start = Date.now();
    const sent = await peer.request({ cmd: 'send', hex: bytes, waitMs: 1 });
    if (sent.notification)
      throw new Error(`host ${receiver} refused the feed: ${sent.notification}`);
    let p99: number | undefined;
    for (let polls = 1; ; polls++) {
      const n = await count();
      const now = Date.now();
      if (n >= PREFIXES * 0.99 && p99 === undefined) p99 = now - start;
      if (n >= PREFIXES) {
        const cpuWithPolls = cpuMs(pid) - cpuBefore;
        const cpu = Math.max(0, cpuWithPolls - polls * (await pollCost(pid, count)));
        return { p99: p99!, full: now - start, cpu, cpuWithPolls };
      }
      if (now > end) throw new Error(`host ${receiver}: only ${n} of ${PREFIXES} after 300 s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await peer.kill();
  }
}

async function birdRound(net: BgpNet, bytes: string, round: number): Promise<Ingest> {
  const bird = net.bird(
    1,
    `router id ${net.address(1)};
protocol device {}
protocol bgp feed {
  local ${net.address(1)} as ${RECEIVER_AS};
  neighbor ${net.address(0)} as ${SENDER_AS};
  passive on;
  ipv4 { import all; export none; };
}
`,
    `receiver${round}`,
  );
  try {
    await waitFor('BIRD up', () => bird.ctl('show', 'status').includes('Daemon is up'));
    // The channel's import counter, as podnet's poll reads its Loc-RIB's size: `show route
    // count` would walk the whole table on every poll.
    return await ingest(net, 1, bird.proc.pid!, bytes, () =>
      Number(
        /Routes:\s+(\d+) imported/.exec(bird.ctl('show', 'protocols', 'all', 'feed'))?.[1] ?? 0,
      ),
    );
  } finally {
    await bird.kill();
  }
}

async function podnetRound(net: BgpNet, bytes: string, round: number): Promise<Ingest> {
  const speaker = await net.speaker(
    2,
    {
      asNumber: RECEIVER_AS,
      bgpId: net.address(2),
      peers: [{ address: net.address(0), asNumber: SENDER_AS, passive: true }],
    },
    `speaker${round}`,
  );
  try {
    return await ingest(
      net,
      2,
      speaker.proc.pid!,
      bytes,
      async () => (await speaker.status(false)).routeCount,
    );
  } finally {
    await speaker.kill('SIGINT');
  }
}

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 120000;
  for (;;) {
    try {
      if (ok()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`${what}: not after 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const net = new BgpNet(3);
  try {
    const bytes = feed(net.address(0)).toString('hex');
    const bird: Ingest[] = [];
    const podnet: Ingest[] = [];
    // Interleaved, so that load from elsewhere on the machine falls on both alike.
    for (let round = 0; round < ROUNDS; round++) {
      bird.push(await birdRound(net, bytes, round));
      podnet.push(await podnetRound(net, bytes, round));
    }
    const ratios = podnet.map((p, i) => p.full / bird[i]!.full);
    const cpuRatios = podnet.map((p, i) => p.cpu / bird[i]!.cpu);
    const cpuRow = (name: string, xs: Ingest[]) =>
      `${name.padEnd(17)} ${xs.map((x) => `${x.cpu.toFixed(0)} (${x.cpuWithPolls.toFixed(0)})`.padStart(12)).join('')} ms CPU (with polls)`;
    const row = (name: string, xs: Ingest[]) =>
      `${name.padEnd(17)} ${xs.map((x) => `${x.p99}/${x.full}`.padStart(12)).join('')} ms   median all ${median(xs.map((x) => x.full))} ms, ${Math.round((PREFIXES / median(xs.map((x) => x.full))) * 1000)}/s`;
    process.stdout.write(
      [
        `prefixes ${PREFIXES}, the whole feed written at once; per round: 99% / all of it in the Loc-RIB`,
        row('BIRD receiver', bird),
        row('podnet speaker', podnet),
        cpuRow('BIRD receiver', bird),
        cpuRow('podnet speaker', podnet),
        `podnet / BIRD per round: ${ratios.map((r) => r.toFixed(2)).join(' ')} (CPU ${cpuRatios.map((r) => r.toFixed(2)).join(' ')})`,
        '',
        `BENCH bgp-ingest ingest_ms=${median(podnet.map((p) => p.full))} anchor=${median(bird.map((b) => b.full))} ratio=${median(ratios).toFixed(2)} spread=${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
        `BENCH bgp-ingest-cpu cpu_ms=${median(podnet.map((p) => p.cpu)).toFixed(0)} anchor=${median(bird.map((b) => b.cpu)).toFixed(0)} ratio=${median(cpuRatios).toFixed(2)} spread=${Math.min(...cpuRatios).toFixed(2)}-${Math.max(...cpuRatios).toFixed(2)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await net.close();
  }
}

await main();
