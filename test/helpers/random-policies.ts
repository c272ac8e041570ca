// Random clusters and policies for checking a rendering of NetworkPolicy against the evaluator
// (seeded, so a failure replays): namespaces, pods on two nodes with named ports, policies with
// every kind of peer and port. `checkAgainstEvaluator` walks every connection between pods,
// node addresses and outside addresses through the hops a datapath judges it at (the
// source's node, then the destination's) and fails on the first verdict that differs.
import assert from 'node:assert/strict';
import type {
  AdminNetworkPolicy,
  AdminNetworkPolicyPeer,
  AdminNetworkPolicyPort,
  BaselineAdminNetworkPolicy,
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
import { netpol } from './netpol-matrix.js';

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const NODES = ['node-1', 'node-2'];
export const nodeAddress = (node: string) => `172.31.1.${NODES.indexOf(node) + 1}`;
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

export interface Case {
  namespaces: Namespace[];
  pods: Pod[];
  nodes: Node[];
  policies: NetworkPolicy[];
  adminPolicies: AdminNetworkPolicy[];
  baselinePolicies: BaselineAdminNetworkPolicy[];
}

/**
 * With `admin`, the case also holds AdminNetworkPolicies (priorities that may tie, every
 * action and peer kind) and sometimes the BaselineAdminNetworkPolicy; without, none, and the
 * random sequence is the one the NetworkPolicy-only checks have always drawn.
 */
export function generate(rand: () => number, opts: { admin?: boolean } = {}): Case {
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
  if (!opts.admin)
    return { namespaces, pods, nodes, policies, adminPolicies: [], baselinePolicies: [] };
  const adminPeer = (egress: boolean): AdminNetworkPolicyPeer => {
    const kind = pick(egress ? ['ns', 'pods', 'networks'] : ['ns', 'pods']);
    if (kind === 'ns') return { namespaces: nsSel() };
    if (kind === 'pods') return { pods: { namespaceSelector: nsSel(), podSelector: podSel() } };
    return {
      networks: some(
        BLOCKS.map(([cidr]) => cidr),
        2,
      ).concat('10.244.1.0/24'),
    };
  };
  const adminPort = (): AdminNetworkPolicyPort => {
    const protocol = pick(PROTOCOLS);
    const kind = pick(['number', 'range', 'named']);
    if (kind === 'named') return { namedPort: pick(['http', 'dns']) };
    const start = pick([53, 80, 81]);
    return kind === 'range'
      ? { portRange: { protocol, start, end: start + pick([1, 8000]) } }
      : { portNumber: { protocol, port: start } };
  };
  const adminRules = <A extends string>(actions: A[]) => {
    const make = (egress: boolean) =>
      some([0], 3).map((_, i) => ({
        ...(rand() < 0.5 ? { name: `r${i}` } : {}),
        action: pick(actions),
        peers: Array.from({ length: 1 + Math.floor(rand() * 2) }, () => adminPeer(egress)),
        ...(rand() < 0.6 ? { ports: some([0], 2).map(adminPort) } : {}),
      }));
    const ingress = make(false).map(({ peers, ...r }) => ({ ...r, from: peers }));
    const egress = make(true).map(({ peers, ...r }) => ({ ...r, to: peers }));
    return { ingress, egress };
  };
  const subject = (): AdminNetworkPolicyPeer =>
    rand() < 0.5
      ? { namespaces: nsSel() }
      : { pods: { namespaceSelector: nsSel(), podSelector: podSel() } };
  const adminPolicies = Array.from(
    { length: Math.floor(rand() * 3) },
    (_, i): AdminNetworkPolicy => ({
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'AdminNetworkPolicy',
      metadata: { name: `anp${i}` },
      spec: {
        priority: pick([1, 5, 5, 20]),
        subject: subject(),
        ...adminRules<'Allow' | 'Deny' | 'Pass'>(['Allow', 'Deny', 'Pass']),
      },
    }),
  );
  const baselinePolicies: BaselineAdminNetworkPolicy[] =
    rand() < 0.6
      ? [
          {
            apiVersion: 'policy.networking.k8s.io/v1alpha1',
            kind: 'BaselineAdminNetworkPolicy',
            metadata: { name: 'default' },
            spec: { subject: subject(), ...adminRules<'Allow' | 'Deny'>(['Allow', 'Deny']) },
          },
        ]
      : [];
  return { namespaces, pods, nodes, policies, adminPolicies, baselinePolicies };
}

export type End = { pod: Pod } | { ip: string; node?: string };

export const ipOf = (end: End): string => ('pod' in end ? end.pod.status!.podIP! : end.ip);

/** Where a new connection is judged: its sender's node, then its receiver's. */
export interface Hop {
  node: string;
  /** `pod`: the packet arrives from a pod or the wire; `host`: the node itself sends it. */
  from: 'pod' | 'host';
}

/**
 * For `cases` random clusters: `load` programs a datapath for the cluster, `judge` says whether
 * it lets the first packet of a connection through at every hop; each must agree with the
 * evaluator.
 */
export async function checkAgainstEvaluator<K>(opts: {
  seed: number;
  cases: number;
  /** Random admin policies too (see generate). */
  admin?: boolean;
  load(c: Case): Promise<K>;
  judge(
    kernel: K,
    hops: Hop[],
    packet: { src: string; dst: string; protocol: Protocol; dport: number },
  ): boolean;
}): Promise<void> {
  const rand = prng(opts.seed);
  for (let n = 0; n < opts.cases; n++) {
    const c = generate(rand, { admin: opts.admin });
    const kernel = await opts.load(c);
    const ends: End[] = [
      ...c.pods.map((pod) => ({ pod })),
      ...NODES.map((node) => ({ ip: nodeAddress(node), node })),
      ...OUTSIDE.map((ip) => ({ ip })),
    ];
    for (const src of ends) {
      for (const dst of ends) {
        if (src === dst || (!('pod' in src) && !('pod' in dst))) continue;
        const from = 'pod' in src ? src.pod.spec.nodeName : src.node;
        const to = 'pod' in dst ? dst.pod.spec.nodeName : dst.node;
        const hops: Hop[] = [];
        if (from) hops.push({ node: from, from: 'pod' in src ? 'pod' : 'host' });
        if (to && to !== from) hops.push({ node: to, from: 'pod' });
        for (const protocol of PROTOCOLS) {
          for (const port of PORTS) {
            const endpoint = (e: End): Endpoint => ('pod' in e ? { pod: e.pod } : { ip: e.ip });
            const want = evaluate(
              { src: endpoint(src), dst: endpoint(dst), protocol, port },
              { ...c, nodes: c.nodes },
            ).allowed;
            const packet = { src: ipOf(src), dst: ipOf(dst), protocol, dport: port };
            const got = opts.judge(kernel, hops, packet);
            if (got !== want) {
              assert.fail(
                `seed ${opts.seed} case ${n}: ${ipOf(src)} -> ${ipOf(dst)} ${protocol}/${port}: ` +
                  `evaluator ${want ? 'allows' : 'denies'}, rules ${got ? 'allow' : 'deny'}\n` +
                  `${JSON.stringify([c.policies, c.adminPolicies, c.baselinePolicies], null, 1)}\n${JSON.stringify(c.pods.map((p) => [p.metadata, p.status?.podIP, p.spec.containers[0]!.ports]))}\n` +
                  `${JSON.stringify(c.namespaces.map((ns) => ns.metadata))}`,
              );
            }
          }
        }
      }
    }
  }
}
