// How long podnet takes to program VXLAN peers: 1,000 remote hosts (3,000 kernel objects:
// neighbour, FDB entry, route each) into an empty host; then one host joining when 1,000
// exist, as the agent applies a Node event (diffed against what the last reconcile left, no
// kernel listing); then the periodic reconcile with nothing to do (which lists the kernel). Anchor: the same 3,000 objects written by a
// bare `ip -batch` + `bridge -batch` (the kernel's floor: no reading, no diffing).
// Goals: < 2 s from empty, < 50 ms for a join.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import type { Node } from '../src/api/types.js';
import { routingKernel } from '../src/kernel/routing-kernel.js';
import { reconcileHost } from '../src/routing/reconcile.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { makeNode } from '../test/helpers/routing-nodes.js';

const PEERS = 1000;
const JOINS = 9;

function sh(cmd: string, input?: string): void {
  execFileSync('sh', ['-c', cmd], { input, stdio: ['pipe', 'ignore', 'inherit'] });
}

function host(ns: string): void {
  sh(`ip netns add ${ns}`);
  sh(`ip -n ${ns} link add eth0 type veth peer name eth1`);
  sh(`ip -n ${ns} addr add 172.16.0.1/12 dev eth0`);
  sh(`ip -n ${ns} link set eth0 up`);
  sh(`ip -n ${ns} link set eth1 up`);
}

function peer(i: number): Node {
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return makeNode(
    `peer-${i}`,
    `10.${1 + (i >> 8)}.${i & 255}.0/24`,
    `172.17.${i >> 8}.${i & 255}`,
    {
      mac: `02:01:00:00:${hex(i >> 8)}:${hex(i & 255)}`,
    },
  );
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const ns = uniqueName('bench');
  const anchorNs = uniqueName('anchor');
  try {
    host(ns);
    host(anchorNs);
    const self = makeNode('self', '10.0.1.0/24', '172.16.0.1');
    const nodes = [self, ...Array.from({ length: PEERS }, (_, i) => peer(i))];
    const input = { selfName: 'self', backend: 'vxlan', vtepMac: '02:00:00:00:00:01' };
    const kernel = routingKernel(ns);

    let t = performance.now();
    const first = await reconcileHost({ ...input, nodes }, kernel);
    const programMs = performance.now() - t;
    const objects = first.changes.filter((c) =>
      /^(fdb-append|neigh-replace|route-add)$/.test(c.op),
    ).length;

    // Joins one after another, each from the state the previous one left; the median.
    let view = first.after;
    let all = nodes;
    const joins: number[] = [];
    let join = first;
    for (let k = 0; k < JOINS; k++) {
      all = [...all, peer(PEERS + k)];
      t = performance.now();
      join = await reconcileHost({ ...input, nodes: all }, kernel, view);
      joins.push(performance.now() - t);
      view = join.after;
    }
    const joinMs = joins.sort((a, b) => a - b)[Math.floor(JOINS / 2)]!;

    t = performance.now();
    const noop = await reconcileHost({ ...input, nodes: all }, kernel);
    const noopMs = performance.now() - t;

    // Anchor: the same objects, written blind.
    sh(
      `ip -n ${anchorNs} link add pn-vxlan type vxlan id 1 local 172.16.0.1 dev eth0 dstport 8472 nolearning && ip -n ${anchorNs} link set pn-vxlan up`,
    );
    const fdb: string[] = [];
    const ipLines: string[] = [];
    for (let i = 0; i < PEERS; i++) {
      const n = peer(i);
      const mac = n.metadata.annotations!['podnet.io/vtep-mac']!;
      const gw = n.spec.podCIDR!.replace('/24', '');
      fdb.push(
        `fdb append ${mac} dev pn-vxlan dst ${n.status!.addresses![0]!.address} self permanent`,
      );
      ipLines.push(`neigh replace ${gw} lladdr ${mac} dev pn-vxlan nud permanent`);
      ipLines.push(`route add ${n.spec.podCIDR} via ${gw} dev pn-vxlan onlink proto 80`);
    }
    t = performance.now();
    sh(`nsenter --net=/run/netns/${anchorNs} bridge -batch -`, fdb.join('\n') + '\n');
    sh(`nsenter --net=/run/netns/${anchorNs} ip -batch -`, ipLines.join('\n') + '\n');
    const anchorMs = performance.now() - t;

    // Join anchor: the same three objects for one more peer, written blind (two programs).
    const extra = peer(PEERS + JOINS);
    const extraMac = extra.metadata.annotations!['podnet.io/vtep-mac']!;
    const extraGw = extra.spec.podCIDR!.replace('/24', '');
    const joinAnchors: number[] = [];
    for (let k = 0; k < JOINS; k++) {
      const fdbLine = `fdb replace ${extraMac} dev pn-vxlan dst 172.18.0.${k} self permanent\n`;
      const ipLine =
        `neigh replace ${extraGw} lladdr ${extraMac} dev pn-vxlan nud permanent\n` +
        `route replace ${extra.spec.podCIDR} via ${extraGw} dev pn-vxlan onlink proto 80\n`;
      t = performance.now();
      sh(`bridge -n ${anchorNs} -batch -`, fdbLine);
      sh(`ip -n ${anchorNs} -batch -`, ipLine);
      joinAnchors.push(performance.now() - t);
    }
    const joinAnchorMs = joinAnchors.sort((a, b) => a - b)[Math.floor(JOINS / 2)]!;

    const routes = execFileSync('ip', ['-n', ns, 'route', 'show', 'proto', '80'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n').length;
    console.log('what                                   podnet      anchor (bare batch)');
    console.log(
      `program ${PEERS} peers (${objects} objects)    ${programMs.toFixed(0).padStart(6)} ms  ${anchorMs.toFixed(0).padStart(6)} ms`,
    );
    console.log(
      `one peer joining (${join.changes.length} changes; median of ${JOINS}) ${joinMs.toFixed(1).padStart(6)} ms  ${joinAnchorMs.toFixed(1).padStart(6)} ms`,
    );
    console.log(`periodic reconcile, nothing to do     ${noopMs.toFixed(1).padStart(6)} ms`);
    console.log(`podnet routes in the kernel afterwards: ${routes}`);
    console.log(
      `load average while measuring: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    if (
      objects !== 3 * PEERS ||
      join.changes.length !== 3 ||
      noop.changes.length !== 0 ||
      routes !== PEERS + JOINS
    ) {
      throw new Error('programming did not produce the expected kernel objects');
    }
    console.log(
      `BENCH routing-program program_1000_ms=${programMs.toFixed(0)} anchor=${anchorMs.toFixed(0)} ratio=${(programMs / anchorMs).toFixed(2)} goal_ms=2000`,
    );
    console.log(
      `BENCH routing-program join_ms=${joinMs.toFixed(1)} anchor=${joinAnchorMs.toFixed(1)} ratio=${(joinMs / joinAnchorMs).toFixed(2)} goal_ms=50`,
    );
    console.log(`BENCH routing-program periodic_noop_ms=${noopMs.toFixed(1)}`);
  } finally {
    deleteNamespace(ns);
    deleteNamespace(anchorNs);
  }
}

await main();
