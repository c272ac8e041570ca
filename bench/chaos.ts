// The chaos run: a 5-host, 2-zone lab with its store on a 3-member etcd over TLS and a client
// pod on every host requesting a service by DNS name, 20 requests a second each, while faults
// come one after another: each agent SIGKILLed and restarted by `lab repair`, a DNS pod
// SIGKILLed, one host's underlay link down for 5 s, an etcd follower then the etcd leader
// SIGKILLed (with a writer putting through podnet's store client, and etcdctl's own writes
// beside it as the anchor). The same faults again with `--routing bgp` (a node mesh) as the
// anchor. Per fault: requests ok/failed, the longest time a client went without an answer, and
// the time from the fault cleared to answers for good.
//   node dist/bench/chaos.js [--faults etcd]   (only the etcd faults)
import { ChaosLab } from '../test/helpers/chaos-lab.js';
import type { FaultFigures } from '../test/helpers/chaos-figures.js';
import { sweepLeftovers } from '../test/helpers/lab.js';
import { EtcdChaos } from '../test/helpers/etcd-chaos.js';

const HOSTS = 5;
const PER_SECOND = 20;
const LINK_DOWN_MS = 5000;
/** Puts per second of podnet's writer, and of etcdctl's beside it. */
const WRITES_PER_SECOND = 10;
const ETCD_ONLY = process.argv.slice(2).join(' ') === '--faults etcd';

interface Row {
  fault: string;
  figures: FaultFigures;
  extra?: Record<string, number>;
}

async function run(routing: string): Promise<Row[]> {
  const chaos = new ChaosLab(HOSTS, ['--store', 'etcd', '--tls', '--routing', routing]);
  const rows: Row[] = [];
  try {
    await chaos.up();
    await chaos.startTraffic(PER_SECOND);
    rows.push(...(await etcdFaults(chaos)));
    if (ETCD_ONLY) return rows;
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

/**
 * An etcd follower SIGKILLed, then the leader, each started again by `lab repair`: the
 * traffic's figures, and podnet's writes beside etcdctl's over the same window.
 */
async function etcdFaults(chaos: ChaosLab): Promise<Row[]> {
  const etcd = new EtcdChaos(chaos);
  const rows: Row[] = [];
  try {
    await etcd.startWriter(WRITES_PER_SECOND);
    etcd.startEtcdctlWriter(WRITES_PER_SECOND);
    for (const which of ['follower', 'leader'] as const) {
      const { traffic, writes, etcdctl } = await etcd.memberLost(which);
      rows.push({
        fault: `etcd-${which}-kill`,
        figures: traffic,
        extra: {
          failed_writes: writes.failed,
          write_gap_ms: writes.gapMs,
          anchor_etcdctl_failed_writes: etcdctl!.failed,
          anchor_etcdctl_write_gap_ms: etcdctl!.gapMs,
          write_gap_ratio: Number((writes.gapMs / etcdctl!.gapMs).toFixed(2)),
        },
      });
    }
  } finally {
    etcd.stop();
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
