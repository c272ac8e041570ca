// The chaos run: a 5-host, 2-zone lab with its store on a 3-member etcd over TLS, a client pod
// on every host requesting a service by DNS name (20 requests a second each) and a writer
// putting through podnet's store client (10 a second), while faults come one after another:
// an etcd follower then the etcd leader SIGKILLed (etcdctl's own writes beside podnet's as the
// anchor); each agent SIGKILLed and restarted by `lab repair`; a DNS pod SIGKILLed; one host's
// underlay link down for 5 s; the zone router restarted; 20 pods behind the service deleted
// and made again; a node removed and added. The whole run twice: with the store as routing
// source, and with BGP through a BIRD fabric (`--routing bgp --fabric bird`, the anchor), where
// BIRD is also killed and restarted. Per fault: requests ok/failed, the longest time a client
// went without an answer, the time from the fault cleared to answers for good, failed writes,
// and whether any acknowledged store write or any node's subnet lease was lost.
//   node dist/bench/chaos.js [--faults NAME,...]   (only the faults whose names start so,
//                                                  e.g. `etcd` or `dns-pod-kill,pods-recreated`)
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { errorMessage } from '../src/util/errors.js';
import { ChaosLab } from '../test/helpers/chaos-lab.js';
import type { FaultFigures } from '../test/helpers/chaos-figures.js';
import {
  fabricBirdKilled,
  nodeRemovedAndAdded,
  podsRecreated,
  zoneRouterRestarted,
} from '../test/helpers/chaos-cluster-faults.js';
import { sweepLeftovers } from '../test/helpers/lab.js';
import { EtcdChaos, WRITER_PREFIX } from '../test/helpers/etcd-chaos.js';
import { leaseSnapshot, lostLeases, lostWrites } from '../test/helpers/store-integrity.js';
import { endedBy, writeFigures } from '../test/helpers/store-write-figures.js';
import { waitFor } from '../test/helpers/wait.js';

const HOSTS = 5;
const PER_SECOND = 20;
const LINK_DOWN_MS = 5000;
const ROUTER_DOWN_MS = 3000;
const PODS_RECREATED = 20;
/** Puts per second of podnet's writer, and of etcdctl's beside it. */
const WRITES_PER_SECOND = 10;
const FAULTS = faultFilter(process.argv.slice(2));
/** Faults that threw (a wait that ran out), printed at the end. */
const failures: string[] = [];

interface Row {
  fault: string;
  figures: FaultFigures;
  extra: Record<string, number>;
}

/** The name prefixes `--faults` asks for; undefined for every fault. */
function faultFilter(args: string[]): string[] | undefined {
  if (args.length === 0) return undefined;
  if (args.length !== 2 || args[0] !== '--faults') {
    console.error('usage: node dist/bench/chaos.js [--faults NAME,...]');
    process.exit(2);
  }
  return args[1]!.split(',').filter(Boolean);
}

/** A fault: its rows (one, or one per side of it) and their extra figures. */
type Fault = [name: string, inject: () => Promise<Omit<Row, 'fault'>[] | Omit<Row, 'fault'>>];

async function run(routing: 'store' | 'bgp'): Promise<Row[]> {
  const flags = routing === 'bgp' ? ['--routing', 'bgp', '--fabric', 'bird'] : [];
  const chaos = new ChaosLab(HOSTS, ['--store', 'etcd', '--tls', ...flags]);
  const etcd = new EtcdChaos(chaos);
  let store: Store | undefined;
  const rows: Row[] = [];
  try {
    await chaos.up();
    await chaos.startTraffic(PER_SECOND);
    await etcd.startWriter(WRITES_PER_SECOND);
    store = await openStore(chaos.lab.storeUrl);
    const faults = [...etcdFaults(etcd), ...clusterFaults(chaos, routing)].filter(
      ([name]) => FAULTS === undefined || FAULTS.some((prefix) => name.startsWith(prefix)),
    );
    for (const [name, inject] of faults) {
      const leasesBefore = await leaseSnapshot(store);
      const from = Date.now();
      let result: Awaited<ReturnType<Fault[1]>>;
      try {
        result = await inject();
      } catch (err) {
        // One fault the cluster did not get over is a figure too; the run goes on.
        console.error(`chaos ${routing}: ${name}: ${errorMessage(err)}`);
        failures.push(`${routing} ${name}: ${errorMessage(err)}`);
        continue;
      }
      const to = Date.now();
      await waitFor('the writes in flight to end', () => endedBy(etcd.writes, to), 30_000, 50);
      // The writes acknowledged before the read: the read must show each of them or a later one.
      const acknowledged = [...etcd.writes];
      const stored = await store.list(WRITER_PREFIX);
      const values = new Map(stored.items.map((kv) => [kv.key, kv.value]));
      const lost = {
        failed_writes: writeFigures(etcd.writes, { from, to, clearedAt: to }).failed,
        lost_writes: lostWrites(acknowledged, values, WRITER_PREFIX).length,
        lost_leases: lostLeases(leasesBefore, await leaseSnapshot(store)).length,
      };
      const results = Array.isArray(result) ? result : [result];
      const sides = results.length > 1 ? ['own', 'others'] : [''];
      results.forEach((r, i) => {
        const fault = sides[i] ? `${name}-${sides[i]}` : name;
        rows.push({ fault, figures: r.figures, extra: { ...lost, ...r.extra } });
      });
    }
  } finally {
    etcd.stop();
    await store?.close();
    await chaos.down();
  }
  return rows;
}

/**
 * An etcd follower SIGKILLed, then the leader, each started again by `lab repair`, with
 * etcdctl writing beside podnet's writer over the same windows.
 */
function etcdFaults(etcd: EtcdChaos): Fault[] {
  return (['follower', 'leader'] as const).map((which) => [
    `etcd-${which}-kill`,
    async () => {
      etcd.startEtcdctlWriter(WRITES_PER_SECOND);
      try {
        const { traffic, writes, etcdctl } = await etcd.memberLost(which);
        return {
          figures: traffic,
          extra: {
            write_gap_ms: writes.gapMs,
            anchor_etcdctl_failed_writes: etcdctl!.failed,
            anchor_etcdctl_write_gap_ms: etcdctl!.gapMs,
            write_gap_ratio: Number((writes.gapMs / etcdctl!.gapMs).toFixed(2)),
          },
        };
      } finally {
        etcd.stopEtcdctlWriter();
      }
    },
  ]);
}

function clusterFaults(chaos: ChaosLab, routing: 'store' | 'bgp'): Fault[] {
  const last = chaos.lab.hosts.at(-1)!.name;
  const faults: Fault[] = chaos.lab.hosts.map((h) => [
    `agent-kill-${h.name}`,
    async () => ({ figures: await chaos.agentKilled(h.name), extra: {} }),
  ]);
  faults.push([
    'dns-pod-kill',
    async () => {
      const { endpointGoneMs, conntrackGoneMs, ...figures } = await chaos.dnsPodKilled('coredns-1');
      return {
        figures,
        extra: { endpoint_gone_ms: endpointGoneMs, conntrack_gone_ms: conntrackGoneMs },
      };
    },
  ]);
  faults.push([
    'link-down',
    async () => {
      const { own, others } = await chaos.linkDown(last, LINK_DOWN_MS);
      return [
        { figures: own, extra: {} },
        { figures: others, extra: {} },
      ];
    },
  ]);
  faults.push(['zone-router-restart', () => zoneRouterRestarted(chaos, ROUTER_DOWN_MS)]);
  faults.push([`pods-recreated`, () => podsRecreated(chaos, PODS_RECREATED)]);
  faults.push(['node-removed-added', () => nodeRemovedAndAdded(chaos, last)]);
  if (routing === 'bgp') faults.push(['bird-kill', () => fabricBirdKilled(chaos)]);
  return faults;
}

function table(title: string, rows: Row[]): void {
  console.log(`\nrouting ${title}`);
  console.log(
    'fault                      ok  failed  lookups-failed  gap-ms  recovery-ms  failed-writes  lost-writes  lost-leases',
  );
  for (const { fault, figures: f, extra } of rows) {
    console.log(
      [
        fault.padEnd(24),
        String(f.ok).padStart(5),
        String(f.failed).padStart(7),
        String(f.failedLookups).padStart(15),
        String(f.gapMs).padStart(7),
        String(f.recoveryMs).padStart(12),
        String(extra.failed_writes).padStart(14),
        String(extra.lost_writes).padStart(12),
        String(extra.lost_leases).padStart(12),
      ].join(' '),
    );
  }
}

function benchLine(routing: string, row: Row, anchor?: Row): string {
  const f = row.figures;
  const extra = Object.entries(row.extra).map(([k, v]) => ` ${k}=${v}`);
  const vs = anchor
    ? ` anchor_bgp_failed=${anchor.figures.failed} anchor_bgp_gap_ms=${anchor.figures.gapMs}` +
      ` anchor_bgp_recovery_ms=${anchor.figures.recoveryMs}`
    : '';
  return (
    `BENCH chaos ${row.fault} routing=${routing} failed=${f.failed} gap_ms=${f.gapMs}` +
    ` recovery_ms=${f.recoveryMs} ok=${f.ok} failed_lookups=${f.failedLookups}` +
    ` slowest_lookup_ms=${f.slowestLookupMs}${extra.join('')}${vs}`
  );
}

sweepLeftovers();
const store = await run('store');
table('store', store);
const bgp = await run('bgp');
table('bgp through a BIRD fabric (anchor)', bgp);
for (const row of store) {
  console.log(
    benchLine(
      'store',
      row,
      bgp.find((r) => r.fault === row.fault),
    ),
  );
}
for (const row of bgp.filter((r) => !store.some((s) => s.fault === r.fault))) {
  console.log(benchLine('bgp', row));
}
for (const f of failures) console.log(`chaos fault not measured: ${f}`);
