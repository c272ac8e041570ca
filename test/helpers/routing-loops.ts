// Runs one routing loop per test host inside this test process (the agent's reconcile loop
// without the store), with the backend and the node list the test controls.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Node } from '../../src/api/types.js';
import { kernelFeatures } from '../../src/kernel/features.js';
import { syncIpipBpf } from '../../src/kernel/bpf-ipip.js';
import { routingKernel } from '../../src/kernel/routing-kernel.js';
import { RoutingLoop } from '../../src/routing/loop.js';
import type { ReconcileResult } from '../../src/routing/reconcile.js';
import type { Topology } from './routing-topology.js';

export interface Cluster {
  backend: string;
  nodes: Node[];
  loops: Map<string, RoutingLoop>;
  /** Every reconcile result (or error) per host name, in order. */
  results: Map<string, (ReconcileResult | Error)[]>;
  /** JSON log lines of all loops. */
  logs: string[];
  /** Triggers every host and waits until all are idle. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export function startCluster(topo: Topology, backend: string, periodMs = 60_000): Cluster {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const cluster: Cluster = {
    backend,
    nodes: topo.nodes(),
    loops: new Map(),
    results: new Map(),
    logs,
    async settle() {
      for (const loop of cluster.loops.values()) loop.trigger('test');
      for (const loop of cluster.loops.values()) await loop.idle();
    },
    async stop() {
      for (const loop of cluster.loops.values()) await loop.stop();
    },
  };
  for (const host of topo.hosts)
    cluster.loops.set(host.name, startHostLoop(cluster, host, sink, periodMs));
  return cluster;
}

export function startHostLoop(
  cluster: Cluster,
  host: Topology['hosts'][number],
  sink: Writable,
  periodMs: number,
): RoutingLoop {
  const results: (ReconcileResult | Error)[] = [];
  cluster.results.set(host.name, results);
  const loop = new RoutingLoop({
    selfName: host.name,
    kernel: routingKernel(host.ns),
    features: kernelFeatures,
    ipipDatapath: { sync: (dev, tunnels) => syncIpipBpf(dev, tunnels, host.ns) },
    periodMs,
    vtepMac: host.vtepMac,
    log: pino({ base: { node: host.name } }, sink),
    snapshot: () => ({ nodes: cluster.nodes, backend: cluster.backend }),
    onResult: (r) => results.push(r),
  });
  loop.start();
  return loop;
}

/** The last result of a host, failing the test when it was an error. */
export function lastResult(cluster: Cluster, host: string): ReconcileResult {
  const r = cluster.results.get(host)?.at(-1);
  if (!r) throw new Error(`${host} has not reconciled`);
  if (r instanceof Error) throw r;
  return r;
}
