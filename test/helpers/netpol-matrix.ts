// The reachability matrix of upstream's e2e netpol suite, pure half: namespaces x, y, z with
// pods a, b, c as objects, the expected matrix of a case edited as upstream edits it
// (expectPeer with wildcards, whole rows and columns), the matrix the evaluator computes, and
// the side-by-side print of two matrices on a mismatch ('.' reachable, 'X' blocked). The
// diagonal (a pod reaching itself) is printed but never scored, as upstream does not score it.
import type {
  AdminNetworkPolicy,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  Protocol,
} from '../../src/api/types.js';
import type { PolicyInputs } from '../../src/policy/datapath.js';
import { evaluate, type Cluster } from '../../src/policy/evaluate.js';

export const MATRIX_NAMESPACES = ['x', 'y', 'z'] as const;
export const MATRIX_PODS = ['a', 'b', 'c'] as const;
export const MATRIX_PORTS = [80, 81] as const;
export const MATRIX_PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP'];
export const MATRIX_NODES = ['node-1', 'node-2'] as const;

/** `x/a`: how a matrix names a pod. */
export type PodKey = `${string}/${string}`;

/** `serve-<port>-<protocol>`, as upstream names them: unique per pod and protocol. */
export function servePortName(port: number, protocol: Protocol): string {
  return `serve-${port}-${protocol.toLowerCase()}`;
}

export function matrixNode(index: number): Node {
  const n = index + 1;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}` },
    spec: { podCIDR: `10.244.${n}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: `172.31.1.${n}` }] },
  };
}

export function matrixNamespace(name: string): Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { ns: name, 'kubernetes.io/metadata.name': name } },
  };
}

export function netpol(
  namespace: string,
  name: string,
  spec: NetworkPolicy['spec'],
): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace },
    spec,
  };
}

/** Pod `pod` of `namespace`, labelled pod=<name>, serving TCP and UDP on 80 and 81. */
export function matrixPod(namespace: string, pod: string, index: number): Pod {
  const node = index % MATRIX_NODES.length;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, namespace, labels: { pod } },
    spec: {
      nodeName: MATRIX_NODES[node],
      containers: MATRIX_PORTS.flatMap((port) =>
        MATRIX_PROTOCOLS.map((protocol) => ({
          name: `cont-${port}-${protocol.toLowerCase()}`,
          ports: [{ name: servePortName(port, protocol), containerPort: port, protocol }],
        })),
      ),
    },
    status: {
      phase: 'Running',
      podIP: `10.244.${node + 1}.${10 + index}`,
      hostIP: `172.31.1.${node + 1}`,
    },
  };
}

/** The nine pods, two nodes and three namespaces of every case, with the case's policies. */
export function matrixCluster(policies: NetworkPolicy[] = []): Cluster & {
  pods: Pod[];
  namespaces: Namespace[];
  nodes: Node[];
} {
  const pods = MATRIX_NAMESPACES.flatMap((ns, i) =>
    MATRIX_PODS.map((pod, j) => matrixPod(ns, pod, i * MATRIX_PODS.length + j)),
  );
  return {
    pods,
    namespaces: MATRIX_NAMESPACES.map(matrixNamespace),
    nodes: MATRIX_NODES.map((_, i) => matrixNode(i)),
    policies,
  };
}

/** The matrix cluster as node-1's policy datapath is handed it, pods edited by `edit`. */
export function matrixInputs(
  policies: NetworkPolicy[],
  edit: (pods: Pod[]) => Pod[] = (p) => p,
): PolicyInputs {
  const cluster = matrixCluster(policies);
  const pods = edit(cluster.pods);
  return {
    policies,
    namespaces: cluster.namespaces,
    pods,
    localPods: pods.filter((p) => p.spec.nodeName === 'node-1'),
  };
}

/** Every pod of namespace x isolated for ingress. */
export const denyIngressX = netpol('x', 'deny-ingress', {
  podSelector: {},
  policyTypes: ['Ingress'],
});

/** Namespace x closed to namespace y for ingress by an AdminNetworkPolicy Deny. */
export const denyFromY: AdminNetworkPolicy = {
  apiVersion: 'policy.networking.k8s.io/v1alpha1',
  kind: 'AdminNetworkPolicy',
  metadata: { name: 'deny-y' },
  spec: {
    priority: 1,
    subject: { namespaces: { matchLabels: { ns: 'x' } } },
    ingress: [
      { name: 'no-y', action: 'Deny', from: [{ namespaces: { matchLabels: { ns: 'y' } } }] },
    ],
  },
};

/** x/a open to pods labelled b (of its own namespace) on `port`. */
export const allowFromB = (port: number): NetworkPolicy =>
  netpol('x', 'allow-from-b', {
    podSelector: { matchLabels: { pod: 'a' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port }] }],
  });

export function matrixPodIP(cluster: Cluster, key: PodKey): string {
  const pod = cluster.pods.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key);
  return pod!.status!.podIP!;
}

/** Who reaches whom: cells[from][to], rows and columns in the order of `keys`. */
export interface Matrix {
  keys: PodKey[];
  cells: boolean[][];
}

export function allKeys(): PodKey[] {
  return MATRIX_NAMESPACES.flatMap((ns) => MATRIX_PODS.map((pod): PodKey => `${ns}/${pod}`));
}

/** Upstream's starting point: everything reaches everything (or nothing). */
export function newMatrix(reachable = true): Matrix {
  const keys = allKeys();
  return { keys, cells: keys.map(() => keys.map(() => reachable)) };
}

/** A side of expectPeer: an empty namespace or pod is a wildcard. */
export interface PodPattern {
  namespace?: string;
  pod?: string;
}

function fits(key: PodKey, p: PodPattern): boolean {
  const [ns, pod] = key.split('/');
  return (!p.namespace || p.namespace === ns) && (!p.pod || p.pod === pod);
}

export function expectPeer(m: Matrix, from: PodPattern, to: PodPattern, reachable: boolean): void {
  m.keys.forEach((f, i) =>
    m.keys.forEach((t, j) => {
      if (fits(f, from) && fits(t, to)) m.cells[i]![j] = reachable;
    }),
  );
}

/** Everything into `key` (a column). */
export function expectAllIngress(m: Matrix, key: PodKey, reachable: boolean): void {
  const [namespace, pod] = key.split('/');
  expectPeer(m, {}, { namespace, pod }, reachable);
}

/** Everything out of `key` (a row). */
export function expectAllEgress(m: Matrix, key: PodKey, reachable: boolean): void {
  const [namespace, pod] = key.split('/');
  expectPeer(m, { namespace, pod }, {}, reachable);
}

export function expect(m: Matrix, from: PodKey, to: PodKey, reachable: boolean): void {
  m.cells[m.keys.indexOf(from)]![m.keys.indexOf(to)] = reachable;
}

/** The matrix the evaluator predicts for probes of `protocol`/`port` between every two pods. */
export function evaluatedMatrix(cluster: Cluster, protocol: Protocol, port: number): Matrix {
  const keys = allKeys();
  const pod = (key: PodKey) =>
    cluster.pods.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)!;
  return {
    keys,
    cells: keys.map((from) =>
      keys.map(
        (to) =>
          evaluate({ src: { pod: pod(from) }, dst: { pod: pod(to) }, protocol, port }, cluster)
            .allowed,
      ),
    ),
  };
}

export interface Mismatch {
  from: PodKey;
  to: PodKey;
  expected: boolean;
  observed: boolean;
}

/** Cells that differ, the diagonal left out. */
export function mismatches(expected: Matrix, observed: Matrix): Mismatch[] {
  const out: Mismatch[] = [];
  expected.keys.forEach((from, i) =>
    expected.keys.forEach((to, j) => {
      const e = expected.cells[i]![j]!;
      const o = observed.cells[i]![j]!;
      if (i !== j && e !== o) out.push({ from, to, expected: e, observed: o });
    }),
  );
  return out;
}

function rows(m: Matrix, cell: (i: number, j: number) => string): string[] {
  const width = Math.max(...m.keys.map((k) => k.length));
  const head = `${''.padEnd(width)} ${m.keys.map((k) => k.padEnd(width)).join(' ')}`;
  return [
    head,
    ...m.keys.map(
      (k, i) => `${k.padEnd(width)} ${m.keys.map((_, j) => cell(i, j).padEnd(width)).join(' ')}`,
    ),
  ];
}

/** Expected, observed and their difference side by side ('.' reachable, 'X' blocked). */
export function formatMatrices(expected: Matrix, observed: Matrix): string {
  const mark = (m: Matrix) => (i: number, j: number) => (m.cells[i]![j] ? '.' : 'X');
  const left = rows(expected, mark(expected));
  const middle = rows(observed, mark(observed));
  const diff = rows(expected, (i, j) =>
    i !== j && expected.cells[i]![j] !== observed.cells[i]![j] ? 'X' : '.',
  );
  const width = Math.max(...left.map((l) => l.length));
  const titles = ['expected', 'observed', 'mismatches'].map((t) => t.padEnd(width)).join('   ');
  return [
    titles,
    ...left.map((l, i) => [l, middle[i], diff[i]].map((c) => c!.padEnd(width)).join('   ')),
  ]
    .map((line) => line.trimEnd())
    .join('\n');
}
