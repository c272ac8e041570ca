// How fast podnet's speaker takes in a full feed: BIRD (the sender) announces 100,000 IPv4
// /24s over eBGP, first to a receiving BIRD (the anchor), then to podnet's speaker, in the
// same run on the same segment. The figure is the time from the receiver's session reaching
// Established to 99% of the feed in its Loc-RIB, polled the same way for both.
import { BgpNet, until } from '../test/helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { formatIPv4 } from '../src/bgp/ipv4.js';

const PREFIXES = Number(process.env.BGP_INGEST_PREFIXES ?? 100000);
const POLL_MS = 10;

function senderConfig(net: BgpNet): string {
  const routes: string[] = [];
  // 11.0.0.0/24, 11.0.1.0/24, ...: all distinct, none in the lab's ranges.
  for (let i = 0; i < PREFIXES; i++)
    routes.push(`  route ${formatIPv4(0x0b000000 + i * 256)}/24 blackhole;`);
  const peer = (name: string, i: number) => `protocol bgp ${name} {
  local ${net.address(0)} as 65000;
  neighbor ${net.address(i)} as 64512;
  connect retry time 1;
  ipv4 { import none; export all; };
}`;
  return `router id ${net.address(0)};
protocol device {}
protocol static { ipv4;
${routes.join('\n')}
}
${peer('to_bird', 1)}
${peer('to_podnet', 2)}
`;
}

/**
 * Polls until the receiver's session is Established, then until its Loc-RIB holds 99% of the
 * feed and all of it; returns ms from Established to each. The BIRD sender holds its last
 * small UPDATE back for a while (up to a few seconds, seen on the wire with tcpdump) whoever
 * receives it, so the full figure mostly measures the sender; the 99% figure the receiver.
 */
async function ingestTime(
  what: string,
  established: () => Promise<boolean> | boolean,
  count: () => Promise<number> | number,
): Promise<{ p99: number; full: number }> {
  const end = Date.now() + 300000;
  while (!(await established())) {
    if (Date.now() > end) throw new Error(`${what}: no session after 300 s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const start = Date.now();
  let p99: number | undefined;
  for (;;) {
    const n = await count();
    const now = Date.now();
    if (n >= PREFIXES * 0.99 && p99 === undefined) p99 = now - start;
    if (n >= PREFIXES) return { p99: p99!, full: now - start };
    if (now > end) throw new Error(`${what}: only ${n} of ${PREFIXES} prefixes after 300 s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const net = new BgpNet(3);
  try {
    // The anchor: BIRD receiving the feed.
    const receiver = net.bird(
      1,
      `router id ${net.address(1)};
protocol device {}
protocol bgp feed {
  local ${net.address(1)} as 64512;
  neighbor ${net.address(0)} as 65000;
  passive on;
  ipv4 { import all; export none; };
}
`,
      'receiver',
    );
    const sender = net.bird(0, senderConfig(net), 'sender');
    await until('sender up', () => sender.ctl('show', 'status').includes('Daemon is up'), 120000);
    const birdMs = await ingestTime(
      'BIRD',
      () => receiver.ctl('show', 'protocols', 'feed').includes('Established'),
      () => Number(/(\d+) of \d+ routes/.exec(receiver.ctl('show', 'route', 'count'))?.[1] ?? 0),
    );
    // podnet's speaker receiving the same feed from the same sender.
    const speaker = await net.speaker(2, {
      asNumber: 64512,
      bgpId: net.address(2),
      peers: [{ address: net.address(0), asNumber: 65000, passive: true }],
    });
    const podnetMs = await ingestTime(
      'podnet',
      async () => (await speaker.status(false)).peers[0]?.state === 'Established',
      async () => (await speaker.status(false)).routeCount,
    );
    const ratio = podnetMs.p99 / birdMs.p99;
    const rate = (ms: number) => Math.round(((PREFIXES * 0.99) / ms) * 1000);
    process.stdout.write(
      [
        `prefixes ${PREFIXES}   Established → 99% of the feed   → all of it (sender-bound tail)`,
        `BIRD receiver     ${String(birdMs.p99).padStart(8)} ms ${String(rate(birdMs.p99)).padStart(9)}/s   ${birdMs.full} ms`,
        `podnet speaker    ${String(podnetMs.p99).padStart(8)} ms ${String(rate(podnetMs.p99)).padStart(9)}/s   ${podnetMs.full} ms`,
        '',
        `BENCH bgp-ingest ingest99_ms=${podnetMs.p99} anchor=${birdMs.p99} ratio=${ratio.toFixed(2)}`,
        '',
      ].join('\n'),
    );
    await speaker.kill('SIGINT');
  } finally {
    await net.close();
  }
}

await main();
