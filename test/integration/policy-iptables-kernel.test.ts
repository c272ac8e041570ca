// The iptables + ipset rendering of NetworkPolicy on the real kernel, in one network namespace
// of its own: the kernel takes every form the rendering writes and prints it back the same (so
// a resync sends nothing), a pod's real packets meet its egress policy, churn changes set
// members and leaves the rules as they were, and a rendering with nothing isolated leaves no
// podnet set, chain or jump behind.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Namespace, NetworkPolicy, Pod } from '../../src/api/types.js';
import { applySetsAndRules } from '../../src/kernel/ipset-rules.js';
import { ipsetKernel, ipsetSave, parseIpsetSave } from '../../src/kernel/ipset.js';
import { iptablesKernel, iptablesSave } from '../../src/kernel/iptables.js';
import {
  POLICY_PREFIX,
  policyRestore,
  renderPolicyIptables,
  type PolicyIptables,
} from '../../src/policy/iptables.js';
import { netpol } from '../helpers/netpol-matrix.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

before(() => sweepStaleNamespaces());

const pod = (name: string, ip: string, labels: Record<string, string>): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'x', labels },
  spec: {
    nodeName: 'node-1',
    containers: [
      {
        name: 'c',
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'assoc', containerPort: 9000, protocol: 'SCTP' },
        ],
      },
    ],
  },
  status: { podIP: ip, hostIP: '172.31.1.1' },
});
const namespaces: Namespace[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { team: 'red' } } },
];
const policies: NetworkPolicy[] = [
  netpol('x', 'web-from-clients', {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [
      {
        from: [
          { podSelector: { matchLabels: { role: 'client' } } },
          { namespaceSelector: { matchLabels: { team: 'red' } }, podSelector: {} },
          { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.31.1.2/32'] } },
        ],
        ports: [{ port: 'http' }, { protocol: 'SCTP', port: 'assoc' }],
      },
    ],
  }),
  netpol('x', 'web-egress', {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Egress'],
    egress: [
      {
        to: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.9.0/24'] } }],
        ports: [
          ...Array.from({ length: 16 }, (_, i) => ({ port: 1000 + 2 * i })),
          { protocol: 'UDP', port: 53 },
          { protocol: 'SCTP', port: 5000, endPort: 5100 },
        ],
      },
    ],
  }),
];

function rendering(pods: Pod[]): PolicyIptables {
  return renderPolicyIptables(policies, namespaces, pods, pods.slice(0, 2));
}

/** The filter table as saved, without the comment lines that carry a timestamp. */
async function filterRules(ns: string): Promise<string> {
  const save = await iptablesSave('filter', { netns: ns });
  return save
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

test('policy on iptables: kernel forms round-trip, churn is members only, removal leaves nothing', async () => {
  const ns = uniqueName('polipt');
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const kernel = { ipset: ipsetKernel(ns), iptables: iptablesKernel(ns) };
    const apply = (wanted: PolicyIptables) =>
      applySetsAndRules(kernel, {
        sets: wanted.sets,
        setPrefix: POLICY_PREFIX,
        restoreFor: (save) => policyRestore(wanted, save),
      });
    // A rule of someone else's in FORWARD, which podnet must leave as it is.
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-A',
      'FORWARD',
      '-s',
      '192.0.2.1',
      '-j',
      'DROP',
    ]);

    const web = pod('web', '10.244.1.10', { app: 'web' });
    const other = pod('other', '10.244.1.11', {});
    const first = rendering([web, other]);
    const applied = await apply(first);
    assert.ok(applied.ruleLines > 0 && applied.changedMembers > 0);
    // What the kernel prints back is what was rendered: a resync sends no rule at all.
    const rulesAfterFirst = await filterRules(ns);
    assert.equal(policyRestore(first, await iptablesSave('filter', { netns: ns })), '');
    const sets = parseIpsetSave(await ipsetSave(ns));
    for (const want of first.sets)
      assert.deepEqual([...sets.get(want.name)!.members].sort(), want.members, want.name);

    // Real packets: the web pod's address on the namespace's loopback, sending to another local address,
    // meets INPUT, so its egress policy judges it (UDP 53 is allowed, 54 is not).
    for (const args of [
      ['addr', 'add', '10.244.1.10/32', 'dev', 'lo'],
      ['addr', 'add', '10.244.1.1/32', 'dev', 'lo'],
      ['link', 'set', 'lo', 'up'],
    ])
      execFileSync('ip', ['-n', ns, ...args]);
    const egressDrops = () => {
      const save = execFileSync(
        'ip',
        ['netns', 'exec', ns, 'iptables-save', '-c', '-t', 'filter'],
        {
          encoding: 'utf8',
        },
      );
      const drop = /^\[(\d+):\d+\] -A PODNET-NP-EG-\w+ -j DROP$/m.exec(save);
      assert.ok(drop, save);
      return Number(drop[1]);
    };
    const sendUdp = (port: number) =>
      execFileSync('ip', [
        'netns',
        'exec',
        ns,
        'python3',
        '-c',
        `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.244.1.10', 0)); s.sendto(b'x', ('10.244.1.1', ${port}))`,
      ]);
    sendUdp(53);
    assert.equal(egressDrops(), 0);
    sendUdp(54);
    assert.equal(egressDrops(), 1);

    // Churn: a second web pod, and the other pod relabelled into the allowed clients.
    const web2 = pod('web-2', '10.244.1.12', { app: 'web' });
    const churned = rendering([
      web,
      web2,
      { ...other, metadata: { ...other.metadata, labels: { role: 'client' } } },
    ]);
    assert.notDeepEqual(churned.sets, first.sets);
    const outcome = await apply(churned);
    assert.equal(outcome.ruleLines, 0);
    assert.ok(outcome.changedMembers > 0);
    assert.equal(await filterRules(ns), rulesAfterFirst);
    const churnedSets = parseIpsetSave(await ipsetSave(ns));
    for (const want of churned.sets)
      assert.deepEqual([...churnedSets.get(want.name)!.members].sort(), want.members, want.name);

    // Nothing isolated: every podnet chain, jump and set goes; the foreign rule stays.
    const removed = await apply(renderPolicyIptables([], namespaces, [web], [web]));
    assert.ok(removed.destroyedSets > 0);
    const left = await filterRules(ns);
    assert.doesNotMatch(left, /PODNET/);
    assert.match(left, /-A FORWARD -s 192\.0\.2\.1\/32 -j DROP/);
    assert.equal(await ipsetSave(ns), '');
  } finally {
    deleteNamespace(ns);
  }
});
