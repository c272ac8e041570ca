// The chaos run: a 5-host, 2-zone lab with its store on etcd (the lab runs one etcd member)
// and a client pod on every host requesting a service by DNS name, 20 requests a second each,
// while faults come one after another: each agent SIGKILLed and restarted by `lab repair`, a
// DNS pod SIGKILLed, one host's underlay link down for 5 s. The same faults again with
// `--routing bgp` (a node mesh) as the anchor. Per fault: requests ok/failed, the longest time
// a client went without an answer, and the time from the fault cleared to answers for good.
import { ChaosLab } from '../test/helpers/chaos-lab.js';
import type { FaultFigures } from '../test/helpers/chaos-figures.js';
import { sweepLeftovers } from '../test/helpers/lab.js';

const HOSTS = 5;
const PER_SECOND = 20;
const LINK_DOWN_MS = 5000;

interface Row {
  fault: string;
  figures: FaultFigures;
  extra?: Record<string, number>;
}

async function run(routing: string): Promise<Row[]> {
  const chaos = new ChaosLab(HOSTS, ['--store', 'etcd', '--routing', routing]);
  const rows: Row[] = [];
  try {
    await chaos.up();
    await chaos.startTraffic(PER_SECOND);
    for (const h of chaos.lab.hosts) {
      rows.push({ fault: `agent-kill-${h.name}`, figures: await chaos.agentKilled(h.name) });
    }
    const { endpointGoneMs, conntrackGoneMs, ...dns } = await chaos.dnsPodKilled('coredns-1');
    rows.push({
      fault: 'dns-pod-kill',
      figures: dns,
      extra: { endpoint_gone_ms: endpointGoneMs, conntrack_gone_ms: conntrackGoneMs },
    });
    const host = chaos.lab.hosts.at(-1)!.name;
    const { own, others } = await chaos.linkDown(host, LINK_DOWN_MS);
    rows.push({ fault: 'link-down-own', figures: own });
    rows.push({ fault: 'link-down-others', figures: others });
  } finally {
    await chaos.down();
  }
  return rows;
}

function table(routing: string, rows: Row[]): void {
  console.log(`\nrouting ${routing}`);
  console.log(
    'fault                 ok  failed  lookups-failed  slowest-lookup-ms  gap-ms  recovery-ms',
  );
  for (const { fault, figures: f } of rows) {
    console.log(
      [
        fault.padEnd(18),
        String(f.ok).padStart(5),
        String(f.failed).padStart(7),
        String(f.failedLookups).padStart(15),
        String(f.slowestLookupMs).padStart(18),
        String(f.gapMs).padStart(7),
        String(f.recoveryMs).padStart(12),
      ].join(' '),
    );
  }
}

sweepLeftovers();
const store = await run('store');
table('store', store);
const bgp = await run('bgp');
table('bgp (anchor)', bgp);
for (const row of store) {
  const anchor = bgp.find((r) => r.fault === row.fault)!.figures;
  const f = row.figures;
  const extra = Object.entries(row.extra ?? {}).map(([k, v]) => ` ${k}=${v}`);
  console.log(
    `BENCH chaos ${row.fault} failed=${f.failed} gap_ms=${f.gapMs} recovery_ms=${f.recoveryMs}` +
      ` ok=${f.ok} failed_lookups=${f.failedLookups} slowest_lookup_ms=${f.slowestLookupMs}` +
      `${extra.join('')} anchor_bgp_failed=${anchor.failed} anchor_bgp_gap_ms=${anchor.gapMs}` +
      ` anchor_bgp_recovery_ms=${anchor.recoveryMs}`,
  );
}
