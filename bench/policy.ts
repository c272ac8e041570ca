// NetworkPolicy at scale, nftables datapath, in one run: 1,000 policies over 5,000 pods (pods
// as objects, two of them real, in namespaces of their own), measured beside its anchors:
// - first packet: TCP connect latency from a real pod to a real pod across the host's forward
//   path, with the policy table loaded (the destination isolated, the source allowed through
//   a policy among the thousand) against no table at all. Goal: <= 1.2x.
// - label change: a peer relabelled out of and back into the allowing policy's selector; the
//   time from the changed cluster to the kernel enforcing it (render, diff, one `nft -f`), and
//   a connect after each checks it was enforced. The agent adds its batching window (50 ms)
//   before this. Goal: p99 < 200 ms.
// - full resync: a table programmed from nothing, against a bare `nft -f` of the same script
//   (the floor). Goal: < 1 s.
// - size: rules and set elements at 1/5, 1/2 and all of the cluster, so growth in pods and in
//   policies can be told apart from their product; the iptables rendering beside it.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js';
import { nftApply, nftKernel } from '../src/kernel/nft.js';
import type { PolicyInputs } from '../src/policy/datapath.js';
import { renderPolicyIptables } from '../src/policy/iptables.js';
import { desiredPolicyTable, policyTableScript } from '../src/policy/nftables.js';
import { nftablesPolicyDatapath } from '../src/policy/nftables-datapath.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { buildTopology, type Topology } from '../test/helpers/proxy-topology.js';
import { CONNECT_TIMER } from './lib/connect-timer.js';

const PODS = Number(process.env.BENCH_PODS ?? 5000);
const POLICIES = Number(process.env.BENCH_POLICIES ?? 1000);
const NAMESPACES = 50;
const NODES = 50;
const LOCAL_NODE = 'node-0';
const CONNECTS = 300;
const ROUNDS = 5;
const LABEL_CHANGES = 40;
const PORT = 8080;

/** Whether one connect succeeds within 300 ms. */
const CONNECT_ONCE = `
import socket, sys
s = socket.socket(); s.settimeout(0.3)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')
except Exception:
    print('closed')
`;
import { median, percentile, range } from './lib/stats.js';

const nsName = (i: number): string => `ns-${String(i).padStart(2, '0')}`;

function namespaces(): Namespace[] {
  return Array.from({ length: NAMESPACES }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: nsName(i), labels: { team: `t-${i % 5}` } },
  }));
}

function pod(ns: string, name: string, ip: string, node: string, labels: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: ns, name, labels },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'app',
          image: 'app',
          ports: [
            { name: 'http', containerPort: PORT, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9100, protocol: 'TCP' },
          ],
        },
      ],
    },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  } as Pod;
}

/** `count` pods spread over the namespaces and nodes, 20 apps in each namespace. */
function syntheticPods(count: number): Pod[] {
  return Array.from({ length: count }, (_, i) =>
    pod(
      nsName(i % NAMESPACES),
      `pod-${i}`,
      `10.245.${(i >> 8) & 255}.${(i & 255) + 0}`,
      // Nodes by a hash of the index, so that every node holds every namespace and app.
      `node-${(Math.imul(i, 2654435761) >>> 0) % NODES}`,
      { app: `app-${Math.floor(i / NAMESPACES) % 20}`, tier: i % 3 === 0 ? 'db' : 'web' },
    ),
  );
}

/** Five shapes of policy, as real clusters mix them: selectors, ranges, blocks, egress, deny. */
function syntheticPolicies(count: number): NetworkPolicy[] {
  return Array.from({ length: count }, (_, j) => {
    const namespace = nsName(j % NAMESPACES);
    const podSelector = { matchLabels: { app: `app-${Math.floor(j / NAMESPACES) % 20}` } };
    const meta = { namespace, name: `pol-${j}` };
    const spec: NetworkPolicy['spec'] = (() => {
      switch (j % 5) {
        case 0:
          return {
            podSelector,
            ingress: [
              {
                from: [{ podSelector: { matchLabels: { app: `app-${(j + 1) % 20}` } } }],
                ports: [{ port: 'http' }],
              },
            ],
          };
        case 1:
          return {
            podSelector,
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: { matchLabels: { team: `t-${j % 5}` } },
                    podSelector: { matchLabels: { tier: 'web' } },
                  },
                ],
                ports: [{ protocol: 'TCP', port: 8000, endPort: 8100 }],
              },
            ],
          };
        case 2:
          return {
            podSelector,
            policyTypes: ['Egress'],
            egress: [
              {
                to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.245.0.0/16'] } }],
                ports: [{ protocol: 'TCP', port: 443 }],
              },
              {
                to: [
                  {
                    namespaceSelector: {
                      matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
                    },
                  },
                ],
                ports: [
                  { protocol: 'UDP', port: 53 },
                  { protocol: 'TCP', port: 53 },
                ],
              },
            ],
          };
        case 3:
          return {
            podSelector,
            ingress: [{ from: [{ ipBlock: { cidr: `192.168.${j % 256}.0/24` } }] }],
          };
        default:
          return { podSelector, policyTypes: ['Ingress'] };
      }
    })();
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta, spec };
  });
}

/** The two real pods (in the topology) and the policy that lets one reach the other. */
function realPods(topo: Topology, clientApp: string): Pod[] {
  return [
    pod(nsName(0), 'client', topo.pods.client!.ip, LOCAL_NODE, { app: clientApp }),
    pod(nsName(0), 'server', topo.pods.server!.ip, LOCAL_NODE, { app: 'bench-server' }),
  ];
}

const ALLOW_CLIENT: NetworkPolicy = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: nsName(0), name: 'allow-client' },
  spec: {
    podSelector: { matchLabels: { app: 'bench-server' } },
    ingress: [
      {
        from: [{ podSelector: { matchLabels: { app: 'bench-client' } } }],
        ports: [{ port: 'http' }],
      },
    ],
  },
};

function inputs(pods: Pod[], policies: NetworkPolicy[]): PolicyInputs {
  return {
    policies,
    namespaces: namespaces(),
    pods,
    localPods: pods.filter((p) => p.spec.nodeName === LOCAL_NODE),
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const value = await fn();
  return [performance.now() - t, value];
}

function connectTimes(topo: Topology): number[] {
  const out = topo.exec(topo.pods.client!.ns, [
    'python3',
    '-c',
    CONNECT_TIMER,
    topo.pods.server!.ip,
    String(PORT),
    String(CONNECTS),
  ]);
  return (JSON.parse(out) as number[]).sort((a, b) => a - b);
}

function reachable(topo: Topology): boolean {
  const out = topo.exec(topo.pods.client!.ns, [
    'python3',
    '-c',
    CONNECT_ONCE,
    topo.pods.server!.ip,
    String(PORT),
  ]);
  return out.trim() === 'open';
}

/** Counts of what a node programs for the cluster: nft rules and elements, iptables too. */
function size(pods: Pod[], policies: NetworkPolicy[]) {
  const i = inputs(pods, policies);
  const table = desiredPolicyTable(i.policies, i.namespaces, i.pods, i.localPods);
  const ipt = renderPolicyIptables(i.policies, i.namespaces, i.pods, i.localPods);
  const sum = (xs: Iterable<number>): number => [...xs].reduce((a, b) => a + b, 0);
  return {
    rules: sum([...table.chains.values()].map((c) => c.length)),
    elements: sum([...table.sets.values()].map((s) => s.elements.length)),
    iptRules: sum([...ipt.chains.values()].map((c) => c.length)),
    iptMembers: sum(ipt.sets.map((s) => s.members.length)),
  };
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const policies = [...syntheticPolicies(POLICIES), ALLOW_CLIENT];
  const synthetic = syntheticPods(PODS);
  const lines: string[] = [];

  // Size: a fifth, half and all of the cluster, pods and policies growing together.
  console.log('pods  policies   nft rules  nft elements   iptables rules  ipset members');
  const sizes = [0.2, 0.5, 1].map((f) => {
    const p = Math.round(PODS * f);
    const q = Math.round(POLICIES * f);
    const s = size(syntheticPods(p), syntheticPolicies(q));
    console.log(
      `${String(p).padStart(5)} ${String(q).padStart(8)} ${String(s.rules).padStart(11)} ${String(s.elements).padStart(13)} ${String(s.iptRules).padStart(16)} ${String(s.iptMembers).padStart(14)}`,
    );
    return { p, q, ...s };
  });
  const [small, , full] = sizes as [(typeof sizes)[0], unknown, (typeof sizes)[0]];
  const inputGrowth = (full.p + full.q) / (small.p + small.q);
  const outputGrowth = (full.rules + full.elements) / (small.rules + small.elements);

  const topo = buildTopology([
    { name: 'client', host: 0, n: 10 },
    { name: 'server', host: 0, n: 20 },
  ]);
  try {
    await topo.serve(['server'], PORT);
    const host = topo.hosts[0];
    const allowed = [...synthetic, ...realPods(topo, 'bench-client')];
    const datapath = nftablesPolicyDatapath(nftKernel(host));

    // First packet, rounds interleaved: no table, then the whole table.
    const off: { p50: number; p99: number }[] = [];
    const on: { p50: number; p99: number }[] = [];
    const fulls: number[] = [];
    const floors: number[] = [];
    connectTimes(topo); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      nftApply('add table ip podnet-policy\ndelete table ip podnet-policy\n', { netns: host });
      const a = connectTimes(topo);
      off.push({ p50: percentile(a, 50), p99: percentile(a, 99) });
      // Full resync from nothing (the datapath's marker is gone with the table).
      const [ms] = await timed(() => datapath.apply(inputs(allowed, policies)));
      fulls.push(ms);
      if (!reachable(topo)) throw new Error('the allowed client cannot reach the server');
      const b = connectTimes(topo);
      on.push({ p50: percentile(b, 50), p99: percentile(b, 99) });
    }

    // The floor of a full resync: the same script, bare, into a namespace of its own.
    const i = inputs(allowed, policies);
    const script = policyTableScript(
      desiredPolicyTable(i.policies, i.namespaces, i.pods, i.localPods),
    );
    for (let r = 0; r < 3; r++) {
      const bare = uniqueName('polfloor');
      execFileSync('ip', ['netns', 'add', bare]);
      try {
        const [ms] = await timed(() => nftApply(script, { netns: bare }));
        floors.push(ms);
      } finally {
        deleteNamespace(bare);
      }
    }

    // Label changes: the client out of the allowing selector and back, each enforced in turn.
    const denied = [...synthetic, ...realPods(topo, 'bench-other')];
    const changes: number[] = [];
    for (let c = 0; c < LABEL_CHANGES; c++) {
      const deny = c % 2 === 0;
      const [ms, outcome] = await timed(() =>
        datapath.apply(inputs(deny ? denied : allowed, policies)),
      );
      if (outcome.change !== 'elements')
        throw new Error(`a relabel replaced the ${outcome.change}`);
      changes.push(ms);
      if (c < 4 && reachable(topo) === deny) {
        throw new Error(`after relabel ${c} the client was ${deny ? 'still let in' : 'kept out'}`);
      }
    }
    changes.sort((a, b) => a - b);

    const offP50 = median(off.map((x) => x.p50));
    const onP50 = median(on.map((x) => x.p50));
    const offP99 = median(off.map((x) => x.p99));
    const onP99 = median(on.map((x) => x.p99));
    console.log(
      `\n${PODS} pods (${i.localPods.length} on this node), ${policies.length} policies, nftables`,
    );
    console.log(
      `first packet (TCP connect, ${CONNECTS} per round, median of ${ROUNDS} rounds, spread)`,
    );
    console.log(
      `  no policy table    p50 ${offP50.toFixed(0)} us (${range(
        off.map((x) => x.p50),
        0,
      )})  p99 ${offP99.toFixed(0)} us (${range(
        off.map((x) => x.p99),
        0,
      )})`,
    );
    console.log(
      `  policies on        p50 ${onP50.toFixed(0)} us (${range(
        on.map((x) => x.p50),
        0,
      )})  p99 ${onP99.toFixed(0)} us (${range(
        on.map((x) => x.p99),
        0,
      )})`,
    );
    console.log(
      `label change → enforced (${LABEL_CHANGES} changes)  p50 ${percentile(changes, 50).toFixed(1)} ms  p99 ${percentile(changes, 99).toFixed(1)} ms  (${range(changes, 1)})`,
    );
    console.log(
      `full resync from nothing  ${median(fulls).toFixed(0)} ms (${range(fulls, 0)}); bare nft -f of the same ${script.split('\n').length} lines ${median(floors).toFixed(0)} ms (${range(floors, 0)})`,
    );
    console.log(
      `size growth from ${small.p}+${small.q} to ${full.p}+${full.q}: inputs x${inputGrowth.toFixed(1)}, rules+elements x${outputGrowth.toFixed(1)} (a product would be x${((full.p * full.q) / (small.p * small.q)).toFixed(0)})`,
    );
    lines.push(
      `BENCH policy-first-packet p50_us=${onP50.toFixed(0)} p99_us=${onP99.toFixed(0)} anchor_p50_us=${offP50.toFixed(0)} anchor_p99_us=${offP99.toFixed(0)} ratio=${(onP50 / offP50).toFixed(2)}`,
      `BENCH policy-label-change p50_ms=${percentile(changes, 50).toFixed(1)} p99_ms=${percentile(changes, 99).toFixed(1)} anchor=200 ratio=${(percentile(changes, 99) / 200).toFixed(2)}`,
      `BENCH policy-full-resync ms=${median(fulls).toFixed(0)} anchor=${median(floors).toFixed(0)} ratio=${(median(fulls) / median(floors)).toFixed(2)}`,
      `BENCH policy-size rules=${full.rules} elements=${full.elements} input_growth=${inputGrowth.toFixed(2)} anchor=${inputGrowth.toFixed(2)} ratio=${(outputGrowth / inputGrowth).toFixed(2)}`,
    );
    for (const l of lines) console.log(l);
  } finally {
    topo.destroy();
  }
}

await main();
