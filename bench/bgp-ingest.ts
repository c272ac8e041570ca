// How fast podnet's speaker takes in a full feed: BIRD (the sender) announces 100,000 IPv4
// /24s over eBGP, first to a receiving BIRD (the anchor), then to podnet's speaker, in the
// same run on the same segment. The figure is the time from the first prefix in the
// receiver's Loc-RIB to the last, polled the same way (every 20 ms) for both.
import { BgpNet, until } from '../test/helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { formatIPv4 } from '../src/bgp/ipv4.js';

const PREFIXES = Number(process.env.BGP_INGEST_PREFIXES ?? 100000);
const POLL_MS = 20;

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

/** Polls `count` until it reaches PREFIXES; returns ms from the first prefix seen to the last. */
async function ingestTime(what: string, count: () => Promise<number> | number): Promise<number> {
  let first: number | undefined;
  const end = Date.now() + 300000;
  for (;;) {
    const n = await count();
    const now = Date.now();
    if (n > 0 && first === undefined) first = now;
    if (n >= PREFIXES) return now - first!;
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
    const birdMs = await ingestTime('BIRD', () => {
      const out = receiver.ctl('show', 'route', 'count');
      return Number(/(\d+) of \d+ routes/.exec(out)?.[1] ?? 0);
    });
    // podnet's speaker receiving the same feed from the same sender.
    const speaker = await net.speaker(2, {
      asNumber: 64512,
      bgpId: net.address(2),
      peers: [{ address: net.address(0), asNumber: 65000, passive: true }],
    });
    const podnetMs = await ingestTime(
      'podnet',
      async () => (await speaker.status(false)).routeCount,
    );
    const ratio = podnetMs / birdMs;
    process.stdout.write(
      [
        `prefixes        ${PREFIXES}`,
        `BIRD receiver   ${birdMs} ms`,
        `podnet speaker  ${podnetMs} ms  (${Math.round((PREFIXES / podnetMs) * 1000)} prefixes/s)`,
        '',
        `BENCH bgp-ingest ingest_ms=${podnetMs} anchor=${birdMs} ratio=${ratio.toFixed(2)}`,
        '',
      ].join('\n'),
    );
    await speaker.kill('SIGINT');
  } finally {
    await net.close();
  }
}

await main();
