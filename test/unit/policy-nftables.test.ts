// The nftables rendering of NetworkPolicy against the evaluator: random clusters and policies
// (seeded, so a failure replays), each node's table loaded into the fake nft, and every
// connection between pods, node addresses and outside addresses walked through the tables it
// crosses (the source's node, then the destination's) by the packet tracer. The verdict must
// be the evaluator's. Then a few readable examples of the script itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  LabelSelector,
  Namespace,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Node,
  Pod,
  Protocol,
} from '../../src/api/types.js';
import { evaluate, type Endpoint } from '../../src/policy/evaluate.js';
import { renderPolicyTable } from '../../src/policy/nftables.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import { traceNft, type Packet } from '../helpers/packet-tracer.js';
import { netpol } from '../helpers/netpol-matrix.js';

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NODES = ['node-1', 'node-2'];
const nodeAddress = (node: string) => `172.31.1.${NODES.indexOf(node) + 1}`;
const OUTSIDE = ['192.168.7.7', '8.8.8.8'];
const PROTOCOLS: Protocol[] = ['TCP', 'UDP', 'SCTP'];
const PORTS = [53, 80, 81, 8080];
/** A prefix and the excepts that fit strictly inside it. */
const BLOCKS: [string, string[]][] = [
  ['10.244.0.0/16', ['10.244.1.0/24', '10.244.2.8/29', '10.244.1.0/26']],
  ['10.244.1.0/24', ['10.244.1.10/32', '10.244.1.8/30']],
  ['0.0.0.0/0', ['10.0.0.0/8', '172.31.1.1/32', '8.8.8.8/32']],
  ['192.168.0.0/16', ['192.168.7.0/24']],
  ['172.31.1.0/24', []],
];

interface Case {
  namespaces: Namespace[];
  pods: Pod[];
  nodes: Node[];
  policies: NetworkPolicy[];
}

function generate(rand: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const some = <T>(xs: readonly T[], max: number): T[] =>
    Array.from({ length: Math.floor(rand() * (max + 1)) }, () => pick(xs));
  const namespaces: Namespace[] = ['x', 'y', 'z'].map((name): Namespace => ({
    apiVersion: 'v1' as const,
    kind: 'Namespace',
    metadata: { name, labels: rand() < 0.7 ? { team: pick(['red', 'blue']) } : {} },
  }));
  const pods: Pod[] = Array.from({ length: 3 + Math.floor(rand() * 4) }, (_, i) => {
    const node = pick(NODES);
    return {
      apiVersion: 'v1' as const,
      kind: 'Pod',
      metadata: {
        name: `p${i}`,
        namespace: pick(namespaces).metadata.name,
        labels: rand() < 0.8 ? { app: pick(['web', 'db', 'dns']) } : ({} as Record<string, string>),
      },
      spec: {
        nodeName: node,
        containers: [
          {
            name: 'main',
            ports: [
              { name: 'http', containerPort: pick([80, 81, 8080]) },
              ...(rand() < 0.5
                ? [{ name: 'dns', containerPort: 53, protocol: 'UDP' as const }]
                : []),
              ...(rand() < 0.3
                ? [{ name: 'http', containerPort: 81, protocol: 'SCTP' as const }]
                : []),
            ],
          },
        ],
      },
      status: {
        podIP: `10.244.${NODES.indexOf(node) + 1}.${10 + i}`,
        hostIP: nodeAddress(node),
      },
    };
  });
  const nodes: Node[] = NODES.map((name): Node => ({
    apiVersion: 'v1' as const,
    kind: 'Node',
    metadata: { name },
    spec: { podCIDR: `10.244.${NODES.indexOf(name) + 1}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: nodeAddress(name) }] },
  }));
  const selector = (key: string, values: string[]): LabelSelector =>
    pick<LabelSelector>([
      {},
      { matchLabels: { [key]: pick(values) } },
      { matchExpressions: [{ key, operator: 'In', values: some(values, 2) }] },
      {
        matchExpressions: [
          { key, operator: pick(['NotIn', 'Exists', 'DoesNotExist']), values: [] },
        ],
      },
    ]);
  const fixExpressions = (s: LabelSelector): LabelSelector => ({
    ...s,
    ...(s.matchExpressions
      ? {
          matchExpressions: s.matchExpressions.map((e) =>
            e.operator === 'Exists' || e.operator === 'DoesNotExist'
              ? { key: e.key, operator: e.operator }
              : { ...e, values: e.values?.length ? e.values : ['web'] },
          ),
        }
      : {}),
  });
  const podSel = () => fixExpressions(selector('app', ['web', 'db', 'dns']));
  const nsSel = () => fixExpressions(selector('team', ['red', 'blue']));
  const peer = (): NetworkPolicyPeer => {
    const kind = pick(['pod', 'ns', 'both', 'block']);
    if (kind === 'block') {
      const [cidr, excepts] = pick(BLOCKS);
      return {
        ipBlock: { cidr, ...(excepts.length && rand() < 0.6 ? { except: some(excepts, 2) } : {}) },
      };
    }
    return {
      ...(kind !== 'ns' ? { podSelector: podSel() } : {}),
      ...(kind !== 'pod' ? { namespaceSelector: nsSel() } : {}),
    };
  };
  const port = (): NetworkPolicyPort => {
    const protocol = pick(PROTOCOLS);
    const kind = pick(['number', 'range', 'named', 'any']);
    if (kind === 'any') return { protocol };
    if (kind === 'named') return { protocol, port: pick(['http', 'dns']) };
    const first = pick([53, 80, 81]);
    return kind === 'range'
      ? { protocol, port: first, endPort: first + pick([0, 1, 8000]) }
      : { protocol, port: first };
  };
  const rules = () =>
    some([0], 2).map(() => ({
      ...(rand() < 0.8 ? { peers: some([0], 2).map(peer) } : {}),
      ...(rand() < 0.7 ? { ports: some([0], 2).map(port) } : {}),
    }));
  const policies = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => {
    const ingress =
      rand() < 0.8 ? rules().map((r) => ({ from: r.peers, ports: r.ports })) : undefined;
    const egress = rand() < 0.6 ? rules().map((r) => ({ to: r.peers, ports: r.ports })) : undefined;
    const types = pick([undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']] as const);
    return netpol(pick(namespaces).metadata.name, `np${i}`, {
      podSelector: podSel(),
      ...(types ? { policyTypes: [...types] } : {}),
      ...(ingress ? { ingress } : {}),
      ...(egress ? { egress } : {}),
    });
  });
  return { namespaces, pods, nodes, policies };
}

type End = { pod: Pod } | { ip: string; node?: string };

const ipOf = (end: End) => ('pod' in end ? end.pod.status!.podIP! : end.ip);
const nodeOf = (end: End) => ('pod' in end ? end.pod.spec.nodeName : end.node);

/** Each node's table, loaded into its own fake kernel. */
async function load(c: Case): Promise<Map<string, FakeNftables>> {
  const kernels = new Map<string, FakeNftables>();
  for (const node of NODES) {
    const nft = new FakeNftables();
    const local = c.pods.filter((p) => p.spec.nodeName === node);
    await nft.run(renderPolicyTable(c.policies, c.namespaces, c.pods, local));
    kernels.set(node, nft);
  }
  return kernels;
}

/** The tables a first packet crosses: its sender's node, then its receiver's. */
function traced(
  kernels: Map<string, FakeNftables>,
  src: End,
  dst: End,
  protocol: Protocol,
  dport: number,
): boolean {
  const hops: [string, Packet['from']][] = [];
  const from = nodeOf(src);
  const to = nodeOf(dst);
  if (from) hops.push([from, 'pod' in src ? 'pod' : 'host']);
  if (to && to !== from) hops.push([to, 'pod']);
  return hops.every(([node, kind]) => {
    const outcomes = traceNft(kernels.get(node)!, {
      src: ipOf(src),
      dst: ipOf(dst),
      protocol,
      dport,
      from: kind,
      local: [nodeAddress(node)],
    });
    return outcomes.every((o) => o.verdict === 'accept');
  });
}

test('the rendered tables give the evaluator’s verdict on random policies, pods and ports', async () => {
  const seed = Number(process.env.POLICY_SEED ?? 18);
  const rand = prng(seed);
  for (let n = 0; n < 250; n++) {
    const c = generate(rand);
    const kernels = await load(c);
    const ends: End[] = [
      ...c.pods.map((pod) => ({ pod })),
      ...NODES.map((node) => ({ ip: nodeAddress(node), node })),
      ...OUTSIDE.map((ip) => ({ ip })),
    ];
    for (const src of ends) {
      for (const dst of ends) {
        if (src === dst || (!('pod' in src) && !('pod' in dst))) continue;
        for (const protocol of PROTOCOLS) {
          for (const port of PORTS) {
            const endpoint = (e: End): Endpoint => ('pod' in e ? { pod: e.pod } : { ip: e.ip });
            const want = evaluate(
              { src: endpoint(src), dst: endpoint(dst), protocol, port },
              { ...c, nodes: c.nodes },
            ).allowed;
            const got = traced(kernels, src, dst, protocol, port);
            if (got !== want) {
              assert.fail(
                `seed ${seed} case ${n}: ${ipOf(src)} -> ${ipOf(dst)} ${protocol}/${port}: ` +
                  `evaluator ${want ? 'allows' : 'denies'}, rules ${got ? 'allow' : 'deny'}\n` +
                  `${JSON.stringify(c.policies, null, 1)}\n${JSON.stringify(c.pods.map((p) => [p.metadata, p.status?.podIP, p.spec.containers[0]!.ports]))}\n` +
                  `${JSON.stringify(c.namespaces.map((ns) => ns.metadata))}`,
              );
            }
          }
        }
      }
    }
  }
});

// ---------------------------------------------------------------- examples

const web = (labels: Record<string, string>, ip = '10.244.1.10'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'x', labels },
  spec: {
    nodeName: 'node-1',
    containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }],
  },
  status: { podIP: ip, hostIP: '172.31.1.1' },
});
const client = (labels: Record<string, string>): Pod => ({
  ...web(labels, '10.244.2.20'),
  metadata: { name: 'client', namespace: 'x', labels },
});
const namespaceX: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } };
const allowFromClients = netpol('x', 'allow-clients', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [
    {
      from: [{ podSelector: { matchLabels: { role: 'client' } } }],
      ports: [{ port: 'http' }, { protocol: 'UDP', port: 1000, endPort: 2000 }],
    },
  ],
});

test('an isolated pod is a verdict-map element pointing at its policies, then a drop', () => {
  const pod = web({ app: 'web' });
  const lines = renderPolicyTable([allowFromClients], [namespaceX], [pod], [pod]).split('\n');
  const has = (re: RegExp) =>
    assert.ok(
      lines.some((l) => re.test(l)),
      `no line ${re}\n${lines.join('\n')}`,
    );
  has(
    /^add chain ip podnet-policy ingress-forward \{ type filter hook forward priority 10; policy accept; \}$/,
  );
  has(
    /^add chain ip podnet-policy egress-input \{ type filter hook input priority 0; policy accept; \}$/,
  );
  const forward = lines.filter((l) => l.startsWith('add rule ip podnet-policy ingress-forward '));
  assert.deepEqual(
    forward.map((l) => l.slice('add rule ip podnet-policy ingress-forward '.length)),
    [
      'ct state established,related accept',
      'fib saddr type local accept',
      'ip daddr vmap @ingress-pods',
    ],
  );
  has(/^add element ip podnet-policy ingress-pods \{ 10\.244\.1\.10 : goto in-[0-9a-f]{12} \}$/);
  has(/^add rule ip podnet-policy in-[0-9a-f]{12} counter drop$/);
  has(
    /^add rule ip podnet-policy pol-[0-9a-f]{12}-in ip saddr @sel-[0-9a-f]{12} ip daddr \. meta l4proto \. th dport @named-[0-9a-f]{12} accept$/,
  );
  has(/^add element ip podnet-policy ports-[0-9a-f]{12} \{ 17 \. 1000-2000 \}$/);
  has(/^add element ip podnet-policy named-[0-9a-f]{12} \{ 10\.244\.1\.10 \. 6 \. 8080 \}$/);
  // Nothing isolates egress: no element, the pod's packets pass.
  assert.ok(!lines.some((l) => l.startsWith('add element ip podnet-policy egress-pods')));
});

test('pod and label churn change set elements, never rules, chains or sets', () => {
  const rulesOf = (script: string) =>
    script.split('\n').filter((l) => !l.startsWith('add element'));
  const target = web({ app: 'web' });
  const before = renderPolicyTable(
    [allowFromClients],
    [namespaceX],
    [target, client({})],
    [target],
  );
  const relabelled = renderPolicyTable(
    [allowFromClients],
    [namespaceX],
    [target, client({ role: 'client' })],
    [target],
  );
  const second = {
    ...web({ app: 'web' }, '10.244.1.11'),
    metadata: { name: 'web-2', namespace: 'x', labels: { app: 'web' } },
  };
  const added = renderPolicyTable(
    [allowFromClients],
    [namespaceX],
    [target, second, client({})],
    [target, second],
  );
  assert.notEqual(relabelled, before);
  assert.notEqual(added, before);
  assert.deepEqual(rulesOf(relabelled), rulesOf(before));
  assert.deepEqual(rulesOf(added), rulesOf(before));
});

test('a relabelled client is let in by the new elements; the node itself always is', async () => {
  const target = web({ app: 'web' });
  const trace = async (pods: Pod[], src: string, local = ['172.31.1.1']) => {
    const nft = new FakeNftables();
    await nft.run(renderPolicyTable([allowFromClients], [namespaceX], pods, [target]));
    const packet: Packet = {
      src,
      dst: '10.244.1.10',
      protocol: 'TCP',
      dport: 8080,
      from: 'pod',
      local,
    };
    return traceNft(nft, packet).map((o) => o.verdict);
  };
  assert.deepEqual(await trace([target, client({})], '10.244.2.20'), ['drop']);
  assert.deepEqual(await trace([target, client({ role: 'client' })], '10.244.2.20'), ['accept']);
  assert.deepEqual(await trace([target, client({})], '172.31.1.1'), ['accept']);
  assert.deepEqual(await trace([target, client({})], '172.31.1.2'), ['drop']);
});

test('the fake nft refuses what nft refuses in policy tables', async () => {
  const nft = new FakeNftables();
  const t = 'ip podnet-policy';
  await nft.run(
    `add table ${t}\nadd set ${t} ports { type inet_proto . inet_service; }\nadd set ${t} blocks { type ipv4_addr; flags interval; }`,
  );
  await assert.rejects(nft.run(`add element ${t} ports { 6 . 80-90 }`), /flags interval/);
  await assert.rejects(
    nft.run(`add element ${t} blocks { 10.0.0.0/8, 10.1.0.0/16 }`),
    /conflicting intervals/,
  );
  await assert.rejects(
    nft.run(`add chain ${t} c\nadd rule ${t} c ip saddr vmap @blocks`),
    /not a verdict map/,
  );
  await assert.rejects(
    nft.run(`add chain ${t} c\nadd rule ${t} c ip saddr @ports accept`),
    /datatype mismatch/,
  );
  await nft.run(`add element ${t} blocks { 10.0.0.0/8, 192.168.0.0/16 }`);
});
