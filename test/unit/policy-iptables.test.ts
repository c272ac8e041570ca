// The iptables + ipset rendering of NetworkPolicy against the evaluator: the same random
// clusters as the nftables property test, each node's sets and chains applied to a fake ipset
// and iptables through the real apply order, and every connection traced through the nodes it
// crosses. Then the churn and removal behaviour of the apply, and readable examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminNetworkPolicy, Namespace, NetworkPolicy, Pod } from '../../src/api/types.js';
import { applySetsAndRules } from '../../src/kernel/ipset-rules.js';
import { ipsetScripts, parseIpsetSave } from '../../src/kernel/ipset.js';
import {
  POLICY_PREFIX,
  policyRestore,
  renderPolicyIptables,
  type PolicyIptables,
} from '../../src/policy/iptables.js';
import { createProxier } from '../../src/proxy/proxier.js';
import { FakeConntrack } from '../helpers/fake-conntrack.js';
import { FakeIpset } from '../helpers/fake-ipset.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import { netpol } from '../helpers/netpol-matrix.js';
import { traceIptables } from '../helpers/packet-tracer.js';
import { CLUSTER } from '../helpers/proxy-topology.js';
import { webRule } from '../helpers/proxy-rules.js';
import { NODES, checkAgainstEvaluator, nodeAddress } from '../helpers/random-policies.js';

/** One node's kernel: an ipset and the iptables that names its sets. */
function node(): { ipset: FakeIpset; iptables: FakeIptables } {
  const ipset = new FakeIpset();
  return { ipset, iptables: new FakeIptables(ipset) };
}

function apply(kernel: ReturnType<typeof node>, rendering: PolicyIptables) {
  return applySetsAndRules(kernel, {
    sets: rendering.sets,
    setPrefix: POLICY_PREFIX,
    restoreFor: (save) => policyRestore(rendering, save),
  });
}

test('the rendered sets and chains give the evaluator’s verdict on random policies, pods and ports', async () => {
  await checkAgainstEvaluator({
    seed: Number(process.env.POLICY_SEED ?? 18),
    cases: 250,
    async load(c) {
      const kernels = new Map<string, ReturnType<typeof node>>();
      for (const name of NODES) {
        const kernel = node();
        const local = c.pods.filter((p) => p.spec.nodeName === name);
        await apply(kernel, renderPolicyIptables(c.policies, c.namespaces, c.pods, local));
        kernels.set(name, kernel);
      }
      return kernels;
    },
    judge: (kernels, hops, packet) =>
      hops.every((hop) =>
        traceIptables(kernels.get(hop.node)!.iptables, {
          ...packet,
          from: hop.from,
          local: [nodeAddress(hop.node)],
        }).every((o) => o.verdict === 'accept'),
      ),
  });
});

test('with admin tiers, the rendered sets and chains still give the evaluator’s verdict', async () => {
  await checkAgainstEvaluator({
    seed: Number(process.env.POLICY_SEED ?? 18),
    cases: 200,
    admin: true,
    async load(c) {
      const kernels = new Map<string, ReturnType<typeof node>>();
      for (const name of NODES) {
        const kernel = node();
        const local = c.pods.filter((p) => p.spec.nodeName === name);
        await apply(
          kernel,
          renderPolicyIptables(c.policies, c.namespaces, c.pods, local, undefined, {
            admin: c.adminPolicies,
            baseline: c.baselinePolicies,
          }),
        );
        kernels.set(name, kernel);
      }
      return kernels;
    },
    judge: (kernels, hops, packet) =>
      hops.every((hop) =>
        traceIptables(kernels.get(hop.node)!.iptables, {
          ...packet,
          from: hop.from,
          local: [nodeAddress(hop.node)],
        }).every((o) => o.verdict === 'accept'),
      ),
  });
});

// ---------------------------------------------------------------- apply and examples

const web = (labels: Record<string, string>, ip = '10.244.1.10', name = 'web'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'x', labels },
  spec: {
    nodeName: 'node-1',
    containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }],
  },
  status: { podIP: ip, hostIP: '172.31.1.1' },
});
const client = (labels: Record<string, string>): Pod => web(labels, '10.244.2.20', 'client');
const namespaceX: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } };
const allowFromClients = netpol('x', 'allow-clients', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [
    {
      from: [
        { podSelector: { matchLabels: { role: 'client' } } },
        { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.31.1.2/32'] } },
      ],
      ports: [{ port: 'http' }, { protocol: 'UDP', port: 1000, endPort: 2000 }],
    },
  ],
});

const render = (policies: NetworkPolicy[], pods: Pod[], local = pods.slice(0, 1)) =>
  renderPolicyIptables(policies, [namespaceX], pods, local);

test('an isolated pod is dispatched by its group’s set to its policies, then dropped', () => {
  const pod = web({ app: 'web' });
  const { chains, sets, jumps } = render([allowFromClients], [pod, client({ role: 'client' })]);
  assert.deepEqual(
    jumps.map((j) => `-A ${j.chain} ${j.spec}`),
    [
      '-A FORWARD -m comment --comment "podnet network policy" -j PODNET-NP-FORWARD',
      '-A INPUT -m comment --comment "podnet network policy" -j PODNET-NP-INPUT',
    ],
  );
  assert.deepEqual(chains.get('PODNET-NP-FORWARD'), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-j PODNET-NP-EGRESS',
    '-j MARK --set-xmark 0x0/0x10000',
    '-m addrtype --src-type LOCAL -j RETURN',
    '-j PODNET-NP-INGRESS',
    '-j MARK --set-xmark 0x0/0x10000',
  ]);
  assert.deepEqual(chains.get('PODNET-NP-EGRESS'), []);
  const [dispatch] = chains.get('PODNET-NP-INGRESS')!;
  const group = /^-m set --match-set (PODNET-NP-IN-[0-9a-f]{12}) dst -g \1$/.exec(dispatch!)?.[1];
  assert.ok(group, dispatch);
  assert.deepEqual(sets.find((s) => s.name === group)?.members, ['10.244.1.10']);
  const [clear, jump, returnOnMark, drop] = chains.get(group)!;
  assert.equal(clear, '-j MARK --set-xmark 0x0/0x10000');
  assert.match(jump!, /^-m comment --comment "policy x\/allow-clients" -j PODNET-NP-INP-\w{12}$/);
  assert.equal(returnOnMark, '-m mark --mark 0x10000/0x10000 -j RETURN');
  assert.equal(drop, '-j DROP');
  const policy = chains.get(jump!.split(' -j ')[1]!)!.map((l) => l.replace(/-[0-9a-f]{12}/g, ''));
  assert.deepEqual(policy, [
    '-p udp -m set --match-set PODNET-NP-SEL src -m udp --dport 1000:2000 -j MARK --set-xmark 0x10000/0x10000',
    '-m set --match-set PODNET-NP-SEL src -m set --match-set PODNET-NP-PORT dst,dst -j MARK --set-xmark 0x10000/0x10000',
    '-p udp -m set --match-set PODNET-NP-NET src -m set ! --match-set PODNET-NP-EXC src -m udp --dport 1000:2000 -j MARK --set-xmark 0x10000/0x10000',
    '-m set --match-set PODNET-NP-NET src -m set ! --match-set PODNET-NP-EXC src -m set --match-set PODNET-NP-PORT dst,dst -j MARK --set-xmark 0x10000/0x10000',
  ]);
  const members = (prefix: string) => sets.find((s) => s.name.startsWith(prefix))?.members;
  assert.deepEqual(members('PODNET-NP-SEL-'), ['10.244.2.20']);
  // ipset refuses a /0 in hash:net: it is held as its two halves; a /32 is printed bare.
  assert.deepEqual(members('PODNET-NP-NET-'), ['0.0.0.0/1', '128.0.0.0/1']);
  assert.deepEqual(members('PODNET-NP-EXC-'), ['10.0.0.0/8', '172.31.1.2']);
  assert.deepEqual(members('PODNET-NP-PORT-'), ['10.244.1.10,tcp:8080', '10.244.2.20,tcp:8080']);
});

test('an admin Deny rule goes to a chain of its own that logs, then drops, named by its rule', () => {
  const pod = web({ app: 'web' });
  const guard: AdminNetworkPolicy = {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'guard' },
    spec: {
      priority: 1,
      subject: { namespaces: {} },
      egress: [{ name: 'no-red', action: 'Deny', to: [{ networks: ['192.0.2.0/24'] }] }],
    },
  };
  const { chains, isolation } = renderPolicyIptables(
    [],
    [namespaceX],
    [pod],
    [pod],
    { group: 18, perSecond: 20 },
    { admin: [guard], baseline: [] },
  );
  const tier = [...chains].find(([c]) => c.startsWith('PODNET-NP-EGT-'))![1];
  const deny = /^-m set --match-set PODNET-NP-NET-\w{12} dst -g (PODNET-NP-EGD-[0-9a-f]{12})$/.exec(
    tier[0]!,
  )?.[1];
  assert.ok(deny, tier[0]);
  assert.deepEqual(chains.get(deny), [
    `-m limit --limit 20/sec --limit-burst 20 -j NFLOG --nflog-prefix ${deny} --nflog-group 18`,
    '-j DROP',
  ]);
  assert.deepEqual(isolation.get(deny), {
    direction: 'Egress',
    policies: ['anp/guard rule no-red'],
  });
});

test('many numeric ports go in multiport rules of at most 15 slots, all ports as -p alone', () => {
  const ports = [
    ...Array.from({ length: 14 }, (_, i) => ({ port: 100 + 2 * i })),
    { port: 500, endPort: 600 },
    { protocol: 'SCTP' as const },
  ];
  const policy = netpol('x', 'ports', {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [{ ports }],
  });
  const { chains } = render([policy], [web({})]);
  const rules = [...chains].find(([name]) => name.startsWith('PODNET-NP-EGP-'))![1];
  assert.deepEqual(rules, [
    '-p tcp -m multiport --dports 100,102,104,106,108,110,112,114,116,118,120,122,124,126 -j MARK --set-xmark 0x10000/0x10000',
    '-p tcp -m multiport --dports 500:600 -j MARK --set-xmark 0x10000/0x10000',
    '-p sctp -j MARK --set-xmark 0x10000/0x10000',
  ]);
});

test('pod and label churn change set members only: the rules are not restored at all', async () => {
  const kernel = node();
  const target = web({ app: 'web' });
  const first = await apply(kernel, render([allowFromClients], [target, client({})]));
  assert.ok(first.ruleLines > 0);
  const rulesBefore = await kernel.iptables.save('filter');
  const second = web({ app: 'web' }, '10.244.1.11', 'web-2');
  const churned = render(
    [allowFromClients],
    [target, second, client({ role: 'client' })],
    [target, second],
  );
  const outcome = await apply(kernel, churned);
  assert.deepEqual(outcome, { changedMembers: 3, ruleLines: 0, destroyedSets: 0 });
  assert.equal(await kernel.iptables.save('filter'), rulesBefore);
  // The relabelled client and the new pod's named port are in; the new pod is isolated too.
  const out = (packet: { src: string; dst: string; dport: number }) =>
    traceIptables(kernel.iptables, {
      ...packet,
      protocol: 'TCP',
      from: 'pod',
      local: ['172.31.1.1'],
    }).map((o) => o.verdict);
  assert.deepEqual(out({ src: '10.244.2.20', dst: '10.244.1.11', dport: 8080 }), ['accept']);
  assert.deepEqual(out({ src: '10.1.2.3', dst: '10.244.1.11', dport: 8080 }), ['drop']);
  assert.deepEqual(out({ src: '172.31.1.1', dst: '10.244.1.11', dport: 9 }), ['accept']);
  assert.deepEqual(out({ src: '172.31.1.2', dst: '10.244.1.11', dport: 8080 }), ['drop']);
  assert.deepEqual(out({ src: '192.168.1.1', dst: '10.244.1.11', dport: 8080 }), ['accept']);
});

test('a rendering with nothing isolated removes every policy chain, jump and set', async () => {
  const kernel = node();
  await kernel.iptables.restore('*filter\n:OTHER - [0:0]\n-A FORWARD -j OTHER\nCOMMIT\n');
  await apply(kernel, render([allowFromClients], [web({ app: 'web' }), client({})]));
  assert.ok(kernel.ipset.sets.size > 0);
  const outcome = await apply(kernel, render([], [web({ app: 'web' })]));
  assert.ok(outcome.destroyedSets > 0);
  assert.deepEqual([...kernel.ipset.sets.keys()], []);
  assert.deepEqual(
    [...kernel.iptables.tables.filter].map(([chain, rules]) => [chain, rules]),
    [
      ['INPUT', []],
      ['FORWARD', ['-j OTHER']],
      ['OUTPUT', []],
      ['OTHER', []],
    ],
  );
  assert.equal(policyRestore(render([], []), await kernel.iptables.save('filter')), '');
});

test('the iptables proxy’s full sync leaves the policy chains in the same filter table alone', async () => {
  const kernel = node();
  const rendering = render([allowFromClients], [web({ app: 'web' }), client({})]);
  await apply(kernel, rendering);
  const proxier = createProxier(
    'iptables',
    { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' },
    { iptables: kernel.iptables, nftables: new FakeNftables(), conntrack: new FakeConntrack() },
  );
  await proxier.sync([webRule(2)], true);
  assert.equal(policyRestore(rendering, await kernel.iptables.save('filter')), '');
});

test('a set too small for its members is rebuilt beside it and swapped in', async () => {
  const kernel = node();
  await kernel.ipset.restore('create PODNET-NP-SEL-a hash:ip family inet maxelem 2\n');
  const members = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const scripts = ipsetScripts(
    [{ name: 'PODNET-NP-SEL-a', type: 'hash:ip', members }],
    parseIpsetSave(await kernel.ipset.save()),
    POLICY_PREFIX,
  );
  assert.equal(
    scripts.update,
    [
      'create PODNET-NP-REBUILD hash:ip family inet maxelem 65536',
      ...members.map((m) => `add PODNET-NP-REBUILD ${m}`),
      'swap PODNET-NP-REBUILD PODNET-NP-SEL-a',
      'destroy PODNET-NP-REBUILD',
      '',
    ].join('\n'),
  );
  await kernel.ipset.restore(scripts.update);
  assert.deepEqual([...kernel.ipset.sets.get('PODNET-NP-SEL-a')!.members], members);
  assert.throws(
    () =>
      ipsetScripts(
        [{ name: 'PODNET-NP-SEL-a', type: 'hash:net', members: [] }],
        parseIpsetSave('create PODNET-NP-SEL-a hash:ip family inet\n'),
        POLICY_PREFIX,
      ),
    /PODNET-NP-SEL-a is a hash:ip set, wanted hash:net/,
  );
});

test('the fake ipset and iptables refuse what the kernel refuses', async () => {
  const { ipset, iptables } = node();
  await ipset.restore('create s hash:net family inet\nadd s 10.0.0.0/8\n');
  await assert.rejects(ipset.restore('add s 0.0.0.0/0'), /CIDR parameter/);
  await assert.rejects(ipset.restore('add s 10.0.0.0/8'), /already added/);
  await assert.rejects(ipset.restore('del s 10.9.9.9'), /not added/);
  await assert.rejects(ipset.restore('create s hash:net family inet'), /already exists/);
  await assert.rejects(ipset.restore('create t hash:ip family inet\nswap s t'), /type/);
  await assert.rejects(
    iptables.restore('*filter\n-A FORWARD -m set --match-set nope src -j DROP\nCOMMIT\n'),
    /Set nope doesn't exist/,
  );
  await iptables.restore('*filter\n-A FORWARD -m set --match-set s src -j DROP\nCOMMIT\n');
  await assert.rejects(ipset.restore('destroy s'), /in use/);
  await ipset.restore('add s 10.0.0.1/32 -exist\ndel s 10.0.0.1');
  assert.deepEqual([...ipset.sets.get('s')!.members], ['10.0.0.0/8']);
});
