// The nftables rendering of NetworkPolicy against the evaluator: random clusters and policies
// (seeded, so a failure replays), each node's table loaded into the fake nft, and every
// connection between pods, node addresses and outside addresses walked through the tables it
// crosses (the source's node, then the destination's) by the packet tracer. The verdict must
// be the evaluator's. Then a few readable examples of the script itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminNetworkPolicy, Namespace, Pod } from '../../src/api/types.js';
import { desiredPolicyTable, renderPolicyTable } from '../../src/policy/nftables.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import { traceNft, type Packet } from '../helpers/packet-tracer.js';
import { netpol } from '../helpers/netpol-matrix.js';
import { NODES, checkAgainstEvaluator, nodeAddress } from '../helpers/random-policies.js';

test('the rendered tables give the evaluator’s verdict on random policies, pods and ports', async () => {
  await checkAgainstEvaluator({
    seed: Number(process.env.POLICY_SEED ?? 18),
    cases: 250,
    // Each node's table, loaded into its own fake kernel.
    async load(c) {
      const kernels = new Map<string, FakeNftables>();
      for (const node of NODES) {
        const nft = new FakeNftables();
        const local = c.pods.filter((p) => p.spec.nodeName === node);
        await nft.run(renderPolicyTable(c.policies, c.namespaces, c.pods, local));
        kernels.set(node, nft);
      }
      return kernels;
    },
    judge: (kernels, hops, packet) =>
      hops.every((hop) =>
        traceNft(kernels.get(hop.node)!, {
          ...packet,
          from: hop.from,
          local: [nodeAddress(hop.node)],
        }).every((o) => o.verdict === 'accept'),
      ),
  });
});

test('with admin tiers, the rendered tables still give the evaluator’s verdict', async () => {
  await checkAgainstEvaluator({
    seed: Number(process.env.POLICY_SEED ?? 18),
    cases: 200,
    admin: true,
    async load(c) {
      const kernels = new Map<string, FakeNftables>();
      const admin = { admin: c.adminPolicies, baseline: c.baselinePolicies };
      for (const node of NODES) {
        const nft = new FakeNftables();
        const local = c.pods.filter((p) => p.spec.nodeName === node);
        await nft.run(renderPolicyTable(c.policies, c.namespaces, c.pods, local, {}, admin));
        kernels.set(node, nft);
      }
      return kernels;
    },
    judge: (kernels, hops, packet) =>
      hops.every((hop) =>
        traceNft(kernels.get(hop.node)!, {
          ...packet,
          from: hop.from,
          local: [nodeAddress(hop.node)],
        }).every((o) => o.verdict === 'accept'),
      ),
  });
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

test('a pod an admin policy holds points at its tier chain: admin verdicts, then its isolation', () => {
  const pod = web({ app: 'web' });
  const guard: AdminNetworkPolicy = {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'guard' },
    spec: {
      priority: 1,
      subject: { namespaces: {} },
      ingress: [
        { action: 'Deny', from: [{ namespaces: { matchLabels: { team: 'red' } } }] },
        { action: 'Pass', from: [{ namespaces: {} }] },
      ],
    },
  };
  const lines = renderPolicyTable(
    [allowFromClients],
    [namespaceX],
    [pod],
    [pod],
    {},
    {
      admin: [guard],
      baseline: [],
    },
  ).split('\n');
  const tier =
    /^add element ip podnet-policy ingress-pods \{ 10\.244\.1\.10 : goto (tier-in-[0-9a-f]{12}) \}$/;
  const chain = lines.map((l) => tier.exec(l)?.[1]).find(Boolean);
  assert.ok(chain, lines.join('\n'));
  const rules = lines
    .filter((l) => l.startsWith(`add rule ip podnet-policy ${chain} `))
    .map((l) => l.slice(`add rule ip podnet-policy ${chain} `.length));
  assert.equal(rules.length, 3);
  const deny = /^ip saddr @sel-[0-9a-f]{12} goto (deny-in-[0-9a-f]{12})$/.exec(rules[0]!)?.[1];
  assert.ok(deny, rules[0]);
  assert.match(rules[1]!, /^ip saddr @sel-[0-9a-f]{12} goto in-[0-9a-f]{12}$/);
  assert.match(rules[2]!, /^goto in-[0-9a-f]{12}$/);
  // The Deny drops in a chain of its own, logged first and counted, named by its rule.
  const table = desiredPolicyTable(
    [allowFromClients],
    [namespaceX],
    [pod],
    [pod],
    { group: 18, perSecond: 20 },
    { admin: [guard], baseline: [] },
  );
  assert.deepEqual(table.chains.get(deny), [
    `limit rate 20/second burst 20 packets log prefix "${deny}" group 18`,
    'counter drop',
  ]);
  assert.deepEqual(table.isolation.get(deny), {
    direction: 'Ingress',
    policies: ['anp/guard rule ingress[0]'],
  });
});
