// The NetworkPolicy lab suite, one case list for both proxy modes (so the two datapaths cannot
// drift apart): the reachability matrix of upstream's e2e cases (all 81 pairs through the
// Services, compared with the evaluator), the timing of a new pod (isolated from its first
// packet, reachable within a second where allowed), SCTP shown with raw protocol-132 packets
// against the drop counters, drops counted per policy in the agent's metrics, and the admin
// tiers (AdminNetworkPolicy before NetworkPolicy, the baseline after it) against the evaluator,
// a Deny's drops counted and named by its rule.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type {
  AdminNetworkPolicy,
  BaselineAdminNetworkPolicy,
  ClusterNetwork,
  NetworkPolicy,
  Node,
  Pod,
  ProxyMode,
  Datapath,
} from '../../src/api/types.js';
import { podNetns } from '../../src/lab/plan.js';
import { formatIP, hostAddresses, parseCidr } from '../../src/net/index.js';
import { podnetOk, until } from './lab.js';
import { NetpolLab, type Probe } from './netpol-lab.js';
import { netpol, type PodKey } from './netpol-matrix.js';

/**
 * Registers the whole suite against a lab in `mode`, on the kernel's data path or the eBPF one
 * (#22: the cases pass unchanged where the programs carry the pods no policy selects).
 */
export function netpolSuite(mode: ProxyMode, datapath: Datapath = 'kernel'): void {
  const lab = new NetpolLab(mode, datapath);
  before(() => lab.up());
  after(() => lab.down());

  const TCP80: Probe = { protocol: 'TCP', port: 80 };
  const TCP81: Probe = { protocol: 'TCP', port: 81 };
  const UDP80: Probe = { protocol: 'UDP', port: 80 };
  const UDP81: Probe = { protocol: 'UDP', port: 81 };

  const pod = (name: string) => ({ matchLabels: { pod: name } });
  const ns = (name: string) => ({ matchLabels: { ns: name } });
  const cidr32 = (key: PodKey) => `${lab.podIP(key)}/32`;

  /** Applies `policies`, waits for every agent, checks the matrix, and deletes them again. */
  async function matrixCase(policies: NetworkPolicy[], probes: Probe[] = [TCP80]): Promise<void> {
    if (policies.length) await lab.apply(policies);
    try {
      await lab.settle();
      const failure = await lab.check(policies, probes);
      assert.equal(failure, '', `the lab disagrees with the evaluator:\n${failure}`);
    } finally {
      for (const p of policies)
        await lab.deletePolicy('NetworkPolicy', p.metadata.namespace!, p.metadata.name);
    }
  }

  const denyIngress = netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
  const denyEgress = netpol('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });

  test('no policy: everything reaches everything, TCP and UDP', () =>
    matrixCase([], [TCP80, UDP81]));

  test('default deny ingress', () => matrixCase([denyIngress], [TCP80, UDP80]));

  test('default deny egress', () => matrixCase([denyEgress], [TCP80, UDP80]));

  test('default deny ingress and egress', () =>
    matrixCase([netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })]));

  test('allow ingress from the same namespace', () =>
    matrixCase([
      netpol('x', 'same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
    ]));

  test('allow ingress from another namespace by label', () =>
    matrixCase([
      netpol('x', 'from-y', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
      }),
    ]));

  test('namespaceSelector and podSelector in one peer: both must match', () =>
    matrixCase([
      netpol('x', 'and', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('b') }] }],
      }),
    ]));

  test('namespaceSelector and podSelector as two peers: either matches', () =>
    matrixCase([
      netpol('x', 'or', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: ns('y') }, { podSelector: pod('b') }] }],
      }),
    ]));

  test('namespaceSelector {} allows every namespace', () =>
    matrixCase([
      netpol('x', 'all-ns', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: {} }] }],
      }),
    ]));

  test('matchExpressions NotIn on pods', () =>
    matrixCase([
      netpol('x', 'not-c', {
        podSelector: pod('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {},
                podSelector: {
                  matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['c'] }],
                },
              },
            ],
          },
        ],
      }),
    ]));

  test('ipBlock with except', () =>
    matrixCase([
      netpol('x', 'block', {
        podSelector: pod('a'),
        ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: [cidr32('y/b')] } }] }],
      }),
    ]));

  test('egress to a pod by its /32 ipBlock', () =>
    matrixCase([
      netpol('x', 'to-zc', {
        podSelector: pod('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: cidr32('z/c') } }] }],
      }),
    ]));

  test('egress ipBlock 0.0.0.0/0 except one pod', () =>
    matrixCase([
      netpol('x', 'not-zc', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [cidr32('z/c')] } }] }],
      }),
    ]));

  test('named ports: ingress on serve-81-tcp only', () =>
    matrixCase(
      [
        netpol('x', 'named', {
          podSelector: pod('a'),
          ingress: [{ ports: [{ port: 'serve-81-tcp' }] }],
        }),
      ],
      [TCP80, TCP81, UDP81],
    ));

  test('named port for UDP', () =>
    matrixCase(
      [
        netpol('x', 'named-udp', {
          podSelector: {},
          ingress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }],
        }),
      ],
      [TCP80, UDP80],
    ));

  test('endPort: a range that holds 80 but not 81', () =>
    matrixCase(
      [
        netpol('x', 'range', {
          podSelector: {},
          ingress: [{ ports: [{ port: 70, endPort: 80 }] }],
        }),
      ],
      [TCP80, TCP81],
    ));

  test('egress denied except DNS to the cluster DNS pods by namespace label', async () => {
    await matrixCase([
      netpol('x', 'dns-only', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: {
                  matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
                },
              },
            ],
            ports: [
              { port: 53, protocol: 'UDP' },
              { port: 53, protocol: 'TCP' },
            ],
          },
        ],
      }),
    ]);
  });

  test('policies on both ends: egress of the source and ingress of the destination', () =>
    matrixCase([
      netpol('x', 'a-to-yb', {
        podSelector: pod('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: ns('y'), podSelector: pod('b') }] }],
      }),
      netpol('y', 'b-from-xa', {
        podSelector: pod('b'),
        ingress: [{ from: [{ namespaceSelector: ns('x'), podSelector: pod('a') }] }],
      }),
    ]));

  test('several policies are unioned', () =>
    matrixCase([
      denyIngress,
      netpol('x', 'from-y', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
      }),
      netpol('x', 'from-zb', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: ns('z'), podSelector: pod('b') }] }],
      }),
    ]));

  test('UDP-only rule never opens TCP', () =>
    matrixCase(
      [
        netpol('x', 'udp-only', {
          podSelector: {},
          ingress: [{ ports: [{ port: 80, protocol: 'UDP' }] }],
        }),
      ],
      [TCP80, UDP80],
    ));

  test('SCTP rule never opens TCP or UDP', () =>
    matrixCase(
      [
        netpol('x', 'sctp-only', {
          podSelector: {},
          ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }],
        }),
      ],
      [TCP80, UDP80],
    ));

  test('a policy updated in place, then deleted', async () => {
    const first = netpol('x', 'moving', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
    });
    const second = netpol('x', 'moving', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('z') }] }],
    });
    await lab.apply([first]);
    await lab.settle();
    assert.equal(await lab.check([first], [TCP80]), '');
    await lab.apply([second]);
    await lab.settle();
    assert.equal(await lab.check([second], [TCP80]), '');
    await lab.deletePolicy('NetworkPolicy', 'x', 'moving');
    await lab.settle();
    assert.equal(await lab.check([], [TCP80]), '');
  });

  test('a pod relabelled between probes', async () => {
    const policy = netpol('x', 'clients', {
      podSelector: pod('a'),
      ingress: [
        { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] },
      ],
    });
    await lab.apply([policy]);
    const relabel = async (labels: Record<string, string>): Promise<number> => {
      const current = lab.getJson<Pod>(['get', 'pod', 'c', '-n', 'y']);
      current.metadata.labels = labels;
      await lab.apply([{ ...current, status: undefined }]);
      return Number(lab.getJson<Pod>(['get', 'pod', 'c', '-n', 'y']).metadata.resourceVersion);
    };
    try {
      await lab.settle();
      assert.equal(await lab.check([policy], [TCP80]), '');
      await lab.settle(await relabel({ pod: 'c', role: 'client' }));
      assert.equal(await lab.check([policy], [TCP80]), '');
      await lab.settle(await relabel({ pod: 'c' }));
      assert.equal(await lab.check([policy], [TCP80]), '');
    } finally {
      await lab.deletePolicy('NetworkPolicy', 'x', 'clients');
    }
  });

  /** A pod of namespace x on node-1 with one TCP/UDP echo on 80. */
  function newPod(name: string, labels: Record<string, string>): Pod {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'x', labels },
      spec: {
        nodeName: 'node-1',
        containers: [{ name: 'serve-80', command: ['podnet', 'serve-echo', '--port', '80'] }],
      },
    };
  }

  /** Waits until pod x/`name` is Ready; returns its address. */
  async function readyIP(name: string): Promise<string> {
    return until(`pod x/${name} to be ready`, () => {
      lab.podsChanged();
      const p = lab.pods().find((q) => q.metadata.namespace === 'x' && q.metadata.name === name);
      const ready = p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready ? p!.status!.podIP : undefined;
    });
  }

  test('a new pod a deny-all policy selects never answers, not even in its first second', async () => {
    const deny = netpol('x', 'deny-new', { podSelector: pod('d'), policyTypes: ['Ingress'] });
    await lab.apply([deny]);
    await lab.settle();
    // The new pod's address is not known before its ADD: probe every free address of node-1's
    // pod subnet, over and over, from before the pod is created until a second after it runs.
    const node = lab.getJson<Node>(['get', 'node', 'node-1']);
    const used = new Set(lab.pods().map((p) => p.status?.podIP));
    const candidates = [...hostAddresses(parseCidr(node.spec.podCIDR!))]
      .map(formatIP)
      .slice(1, 48)
      .filter((ip) => !used.has(ip));
    const answered = new Set<string>();
    let probing = true;
    const loop = (async () => {
      while (probing) {
        const results = await Promise.all(
          candidates.map(
            async (ip) => [ip, await lab.prober('y/a').probe('TCP', ip, 80, 150)] as const,
          ),
        );
        for (const [ip, ok] of results) if (ok) answered.add(ip);
      }
    })();
    try {
      await lab.apply([newPod('d', { pod: 'd' })]);
      const ip = await readyIP('d');
      await new Promise((r) => setTimeout(r, 1000)); // the second after it runs is part of the claim
      probing = false;
      await loop;
      assert.ok(candidates.includes(ip), `x/d got ${ip}, outside the probed addresses`);
      assert.ok(!answered.has(ip), `x/d at ${ip} answered a probe although deny-new isolates it`);
    } finally {
      probing = false;
      await loop;
      lab.deletePod('x', 'd');
      await lab.deletePolicy('NetworkPolicy', 'x', 'deny-new');
      lab.podsChanged();
    }
  });

  test('a new pod another namespace allows reaches it within a second of getting its address', async () => {
    const allow = netpol('y', 'from-new', {
      podSelector: pod('a'),
      ingress: [
        { from: [{ namespaceSelector: ns('x'), podSelector: { matchLabels: { role: 'new' } } }] },
      ],
    });
    await lab.apply([allow]);
    await lab.settle();
    const target = lab.podIP('y/a');
    const netns = podNetns(lab.name, 'node-1', 'x', 'e');
    try {
      await lab.apply([newPod('e', { pod: 'e', role: 'new' })]);
      await until(`namespace ${netns}`, () =>
        existsSync(`/run/netns/${netns}`) ? true : undefined,
      );
      // The prober waits for the pod's address (set before the ADD returns) and then connects
      // until y/a answers: the time between is an upper bound on the lag after the ADD.
      const out = await lab.proberOnce(netns, ['first-contact', target, '80']);
      const { ms } = JSON.parse(out) as { ms: number | null };
      assert.ok(ms !== null && ms < 1000, `x/e reached y/a ${ms ?? 'never'} ms after its address`);
    } finally {
      lab.deletePod('x', 'e');
      await lab.deletePolicy('NetworkPolicy', 'y', 'from-new');
      lab.podsChanged();
    }
  });

  test('drops are counted per policy in the agent metrics', async () => {
    await lab.apply([denyIngress]);
    try {
      await lab.settle();
      const node = lab.nodeOf('x/a');
      const before = lab.policyDrops(node, 'x/deny-ingress', 'ingress');
      assert.equal(await lab.prober('y/b').probe('TCP', lab.podIP('x/a'), 80), false);
      await until('the drop to be counted', () =>
        lab.policyDrops(node, 'x/deny-ingress', 'ingress') > before ? true : undefined,
      );
    } finally {
      await lab.deletePolicy('NetworkPolicy', 'x', 'deny-ingress');
    }
  });

  test('an SCTP-only rule admits protocol 132 on its port and never opens TCP, by the counters', async () => {
    const policy = netpol('x', 'sctp-only', {
      podSelector: pod('a'),
      ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }],
    });
    await lab.apply([policy]);
    try {
      await lab.settle();
      const target = lab.podIP('x/a');
      const node = lab.nodeOf('x/a');
      const drops = () => lab.policyDrops(node, 'x/sctp-only', 'ingress');
      const dropped = drops();
      const delivered = lab.unknownProtocols('x/a');
      // Admitted: the pod's IP layer gets all five (and, having no SCTP, counts them unknown).
      lab.sendSctp('y/a', target, 80, 5);
      await until('five SCTP packets to reach x/a', () =>
        lab.unknownProtocols('x/a') >= delivered + 5 ? true : undefined,
      );
      assert.equal(drops(), dropped, 'SCTP to port 80 was counted as dropped');
      // Another port is dropped at the host and counted there; nothing more reaches the pod.
      lab.sendSctp('y/a', target, 81, 5);
      await until('five SCTP drops to be counted', () =>
        drops() >= dropped + 5 ? true : undefined,
      );
      assert.equal(lab.unknownProtocols('x/a'), delivered + 5);
      // TCP to the same port stays closed, and its SYNs are counted as drops.
      assert.equal(await lab.prober('y/a').probe('TCP', target, 80), false);
      await until('the TCP drop to be counted', () => (drops() > dropped + 5 ? true : undefined));
    } finally {
      await lab.deletePolicy('NetworkPolicy', 'x', 'sctp-only');
    }
  });

  /** Sets the ClusterNetwork annotation that turns the log of denied connections on or off. */
  async function policyLog(on: boolean): Promise<void> {
    const cn = lab.getJson<ClusterNetwork>(['get', 'cn', 'default']);
    const annotations = { ...cn.metadata.annotations };
    if (on) annotations['podnet.io/policy-log'] = 'true';
    else delete annotations['podnet.io/policy-log'];
    await lab.apply([{ ...cn, metadata: { ...cn.metadata, annotations } }]);
  }

  test('with the log on, a denied connection is logged once, with its policy, 5-tuple and pods', async () => {
    await policyLog(true);
    await lab.apply([denyIngress]);
    try {
      await lab.settle();
      const target = lab.podIP('x/a');
      const node = lab.nodeOf('x/a');
      const deniedLines = () =>
        podnetOk(['--lab', lab.name, 'logs', 'policy', '--node', node])
          .split('\n')
          .filter((l) => l.includes(`-> ${target}:80 (x/a)`) && l.includes('(y/b)'));
      // The agent turns its reader on as it processes the annotation: probe until it logs.
      let line: string | undefined;
      const deadline = Date.now() + 60_000;
      while (!line && Date.now() < deadline) {
        assert.equal(await lab.prober('y/b').probe('TCP', target, 80, 1500), false);
        line = deniedLines()[0];
      }
      assert.ok(line, 'no denied connection from y/b to x/a was logged');
      assert.match(
        line,
        new RegExp(
          `^${node} \\S+ TCP [\\d.]+:\\d+ \\(y/b\\) -> ${target.replace(/\./g, '\\.')}:80 \\(x/a\\) denied by x/deny-ingress \\(ingress of x/a\\)$`,
        ),
      );
      // One connection retransmits its SYN, yet it is one line: each probe is one connection.
      const before = deniedLines().length;
      assert.equal(await lab.prober('y/b').probe('TCP', target, 80, 2500), false);
      await until('the next connection to be logged', () =>
        deniedLines().length > before ? true : undefined,
      );
      assert.equal(deniedLines().length, before + 1);
    } finally {
      await lab.deletePolicy('NetworkPolicy', 'x', 'deny-ingress');
      await policyLog(false);
    }
  });

  // ------------------------------------------------------------ admin tiers

  const anp = (
    name: string,
    priority: number,
    spec: Omit<AdminNetworkPolicy['spec'], 'priority'>,
  ): AdminNetworkPolicy => ({
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name },
    spec: { priority, ...spec },
  });
  const inX = { namespaces: ns('x') };

  /** matrixCase with admin policies beside the NetworkPolicies, all removed afterwards. */
  async function adminCase(
    objects: {
      policies?: NetworkPolicy[];
      admin?: AdminNetworkPolicy[];
      baseline?: BaselineAdminNetworkPolicy;
    },
    probes: Probe[] = [TCP80],
    /** More checks while the objects are in place. */
    andThen: () => Promise<void> = async () => {},
  ): Promise<void> {
    const { policies = [], admin = [], baseline } = objects;
    await lab.apply([...policies, ...admin, ...(baseline ? [baseline] : [])]);
    const baselineRev = () =>
      Number(
        lab.getJson<BaselineAdminNetworkPolicy>(['get', 'banp', 'default']).metadata
          .resourceVersion,
      );
    let applied = 0;
    try {
      if (baseline) applied = baselineRev();
      await lab.settle();
      await lab.settleAdmin(baseline ? { atLeast: applied } : undefined);
      const failure = await lab.check(policies, probes, {
        adminPolicies: admin,
        baselinePolicies: baseline ? [baseline] : [],
      });
      assert.equal(failure, '', `the lab disagrees with the evaluator:\n${failure}`);
      await andThen();
    } finally {
      for (const p of policies)
        await lab.deletePolicy('NetworkPolicy', p.metadata.namespace!, p.metadata.name);
      for (const p of admin)
        await lab.deletePolicy('AdminNetworkPolicy', undefined, p.metadata.name);
      if (baseline) await lab.deletePolicy('BaselineAdminNetworkPolicy', undefined, 'default');
      await lab.settleAdmin(baseline ? { above: applied } : undefined);
    }
  }

  const allowFromY = netpol('x', 'allow-y', {
    podSelector: {},
    ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
  });

  /** The denied flows the agents report for `key`, from the CLI's JSON. */
  const deniedFlows = (key: PodKey) =>
    (
      JSON.parse(
        podnetOk(['--lab', lab.name, 'flows', '--verdict', 'denied', '--pod', key, '-o', 'json']),
      ) as { flows: { source: { pod?: string }; policies?: string[] }[] }
    ).flows;

  test('admin: a Deny AdminNetworkPolicy blocks what a NetworkPolicy allows, counted and named by its rule', () =>
    adminCase(
      {
        policies: [allowFromY],
        admin: [
          anp('deny-yb', 10, {
            subject: inX,
            ingress: [
              {
                name: 'no-yb',
                action: 'Deny',
                from: [{ pods: { namespaceSelector: ns('y'), podSelector: pod('b') } }],
              },
            ],
          }),
        ],
      },
      [TCP80],
      async () => {
        const rule = 'anp/deny-yb rule no-yb';
        const node = lab.nodeOf('x/a');
        const before = lab.policyDrops(node, rule, 'ingress');
        assert.equal(await lab.prober('y/b').probe('TCP', lab.podIP('x/a'), 80), false);
        await until('the admin drop to be counted', () =>
          lab.policyDrops(node, rule, 'ingress') > before ? true : undefined,
        );
        // Denied connections reach the agent through NFLOG, which may drop a message in a
        // burst: a connection tried again is logged again.
        const deniedFromYb = () =>
          deniedFlows('x/a').find((f) => f.source.pod === 'y/b' && f.policies?.includes(rule));
        let flow = await until('a denied flow from y/b', deniedFromYb, 10_000).catch(
          () => undefined,
        );
        for (let retry = 0; retry < 2 && !flow; retry++) {
          assert.equal(await lab.prober('y/b').probe('TCP', lab.podIP('x/a'), 80), false);
          flow = await until('a denied flow from y/b', deniedFromYb, 10_000).catch(() => undefined);
        }
        assert.ok(flow, 'no denied flow from y/b names the admin rule');
        assert.deepEqual(flow.policies, [rule]);
      },
    ));

  test('admin: a Pass hands the connection to NetworkPolicy past a lower Deny', () =>
    adminCase(
      {
        policies: [allowFromY],
        admin: [
          anp('pass-y', 5, {
            subject: inX,
            ingress: [{ action: 'Pass', from: [{ namespaces: ns('y') }] }],
          }),
          anp('deny-all', 10, {
            subject: inX,
            ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }],
          }),
        ],
      },
      [TCP80, UDP81],
    ));

  test('admin: the baseline denies for pods no NetworkPolicy selects, not for those it does', () =>
    adminCase({
      policies: [
        netpol('x', 'a-from-y', {
          podSelector: pod('a'),
          ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
        }),
      ],
      baseline: {
        apiVersion: 'policy.networking.k8s.io/v1alpha1',
        kind: 'BaselineAdminNetworkPolicy',
        metadata: { name: 'default' },
        spec: { subject: inX, ingress: [{ action: 'Deny', from: [{ namespaces: ns('y') }] }] },
      },
    }));

  test('admin: a higher-priority Allow overrides a lower Deny, egress by pods and ports', () =>
    adminCase(
      {
        admin: [
          anp('allow-zc', 1, {
            subject: { pods: { namespaceSelector: ns('x'), podSelector: pod('a') } },
            egress: [
              {
                action: 'Allow',
                to: [{ pods: { namespaceSelector: ns('z'), podSelector: pod('c') } }],
                ports: [{ portNumber: { protocol: 'TCP', port: 80 } }],
              },
            ],
          }),
          anp('deny-z', 2, {
            subject: { pods: { namespaceSelector: ns('x'), podSelector: pod('a') } },
            egress: [{ action: 'Deny', to: [{ namespaces: ns('z') }] }],
          }),
        ],
      },
      [TCP80, TCP81],
    ));

  if (datapath === 'ebpf') {
    test('ebpf: the programs carried the traffic of pods no policy selected', () => {
      assert.ok(lab.redirectedPackets() > 0, 'no packet skipped the host forwarding path');
    });
  }
}
