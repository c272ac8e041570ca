// The NetworkPolicy reachability matrix in the real lab, in the style of Kubernetes' e2e netpol
// suite: namespaces x, y, z with pods a, b, c (on two hosts) serving TCP and UDP on 80 and 81
// under named ports, a Service per pod, and a long-lived prober in every pod. A case applies
// its policies, waits until every agent has processed them (the informers' processed revision,
// not a sleep; the barrier is written by the test process itself through the registry, so it
// costs no podnet process), probes all 81 pairs through the Services' cluster IPs with a 1 s timeout, and
// compares with the evaluator's matrix, re-probing once before it reports a mismatch. The proxy
// mode is a parameter, so the same suite runs over either datapath.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  AdminNetworkPolicy,
  Datapath,
  KubeObject,
  Namespace,
  NetworkPolicy,
  Pod,
  Protocol,
  ProxyMode,
  Service,
} from '../../src/api/types.js';
import type { Cluster } from '../../src/policy/evaluate.js';
import { parseManifests } from '../../src/api/manifest.js';
import { applyManifest } from '../../src/registry/apply.js';
import { deleteObject } from '../../src/registry/delete.js';
import { getClusterNetwork } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { hostNetns, podNetns } from '../../src/lab/plan.js';
import { labDown, labUp, podnetOk, sweepLeftovers, testLabName, until } from './lab.js';
import {
  MATRIX_NAMESPACES,
  MATRIX_PODS,
  MATRIX_PORTS,
  MATRIX_PROTOCOLS,
  allKeys,
  evaluatedMatrix,
  formatMatrices,
  matrixNamespace,
  matrixPod,
  mismatches,
  type Matrix,
  type PodKey,
} from './netpol-matrix.js';
import { agentMetric } from './agent-metrics.js';
import { datapathPackets, switchDatapath } from './cluster-network.js';

/** argv: address, destination port, count. Source ports differ so each INIT is a new flow. */
const SCTP_SENDER = `
import socket, struct, sys
ip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
init = struct.pack('!BBHIIHHI', 1, 0, 20, 1, 65535, 1, 1, 1)
for i in range(count):
    sock.sendto(struct.pack('!HHII', 40000 + i, port, 0, 0) + init, (ip, 0))
`;
const PROBE_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'netpol-probe-main.js');
const NODES = ['node-1', 'node-2'];
/** A policy that selects no pod: written after a case's changes, its revision is a barrier. */
const BARRIER = 'netpol-lab-barrier';

type PolicyKind = 'NetworkPolicy' | 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy';

export interface Probe {
  protocol: Protocol;
  port: number;
}

const yamlDocs = (objects: object[]): string =>
  objects.map((o) => JSON.stringify(o)).join('\n---\n');

/** Pod `ns/pod` as the lab runs it: one serve-echo per port, its TCP and UDP ports named. */
function labPod(namespace: string, pod: string, index: number): Pod {
  const model = matrixPod(namespace, pod, index);
  const containers = MATRIX_PORTS.map((port) => ({
    name: `serve-${port}`,
    command: ['podnet', 'serve-echo', '--port', String(port)],
    ports: model.spec.containers!.flatMap((c) =>
      (c.ports ?? []).filter((p) => p.containerPort === port),
    ),
  }));
  return { ...model, spec: { nodeName: model.spec.nodeName, containers }, status: undefined };
}

function labService(namespace: string, pod: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `s-${namespace}-${pod}`, namespace },
    spec: {
      selector: { pod },
      ports: MATRIX_PORTS.flatMap((port) =>
        MATRIX_PROTOCOLS.map((protocol) => ({
          name: `p${port}-${protocol.toLowerCase()}`,
          port,
          targetPort: port,
          protocol,
        })),
      ),
    },
  } as Service;
}

export class Prober {
  private readonly waiting = new Map<string, (ok: boolean) => void>();
  private next = 0;
  readonly ready: Promise<void>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    let ready!: () => void;
    this.ready = new Promise((r) => (ready = r));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return ready();
      const [id, ok] = line.split(' ');
      this.waiting.get(id!)?.(ok === '1');
      this.waiting.delete(id!);
    });
  }

  probe(protocol: Protocol, ip: string, port: number, timeoutMs = 1000): Promise<boolean> {
    const id = String(this.next++);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(`${id} ${protocol} ${ip} ${port} ${timeoutMs}\n`);
    });
  }

  stop(): void {
    this.child.kill();
  }
}

export class NetpolLab {
  readonly name = testLabName();
  private readonly probers = new Map<PodKey, Prober>();
  private readonly clusterIPs = new Map<PodKey, string>();
  private barrierCount = 0;
  private podCache: Pod[] | undefined;
  private store: Store | undefined;

  constructor(
    readonly proxy: ProxyMode,
    readonly datapath: Datapath = 'kernel',
  ) {}

  async up(): Promise<void> {
    sweepLeftovers();
    const state = labUp(this.name, ['--nodes', String(NODES.length), '--proxy', this.proxy]);
    this.store = await openStore(state.storeUrl);
    if (this.datapath === 'ebpf') await switchDatapath(this.name, NODES, 'ebpf');
    const objects: object[] = [
      ...MATRIX_NAMESPACES.map(matrixNamespace),
      ...MATRIX_NAMESPACES.flatMap((ns, i) =>
        MATRIX_PODS.flatMap((pod, j) => [
          labPod(ns, pod, i * MATRIX_PODS.length + j),
          labService(ns, pod),
        ]),
      ),
    ];
    this.apply(objects);
    await until(
      'the matrix pods to run',
      () => {
        this.podsChanged();
        const pods = this.pods();
        const ready = pods.filter((p) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === allKeys().length ? true : undefined;
      },
      120_000,
    );
    for (const ns of MATRIX_NAMESPACES) {
      const list = this.getJson<{ items: Service[] }>(['get', 'svc', '-n', ns]);
      for (const svc of list.items)
        this.clusterIPs.set(`${ns}/${svc.metadata.name.split('-')[2]}`, svc.spec.clusterIP!);
    }
    for (const pod of this.pods()) {
      const key: PodKey = `${pod.metadata.namespace}/${pod.metadata.name}`;
      this.probers.set(key, this.startProber(pod, ['serve']));
    }
    await Promise.all([...this.probers.values()].map((p) => p.ready));
  }

  async down(): Promise<void> {
    for (const p of this.probers.values()) p.stop();
    await this.store?.close();
    labDown(this.name);
  }

  /**
   * Applies these objects as `podnet apply -f` does (the same parse, checks and registry write),
   * in this process: a podnet process per case would cost the lab the CPU it needs.
   */
  async apply(objects: object[]): Promise<void> {
    const network = await getClusterNetwork(this.store!);
    const parsed = parseManifests(yamlDocs(objects), 'netpol-lab', { network });
    await applyManifest(this.store!, parsed.objects, network);
  }

  /** Deletes a policy object as `podnet delete` does, in this process. */
  async deletePolicy(kind: PolicyKind, namespace: string | undefined, name: string): Promise<void> {
    await deleteObject(this.store!, kind, namespace, name);
  }

  /** `podnet delete pod`: it returns once the pod's node has torn it down. */
  deletePod(namespace: string, name: string): void {
    podnetOk(['--lab', this.name, 'delete', 'pod', name, '-n', namespace]);
  }

  getJson<T>(args: string[]): T {
    return JSON.parse(podnetOk(['--lab', this.name, ...args, '-o', 'json'])) as T;
  }

  /** The pods of x, y and z as the store has them (labels, addresses, named ports). */
  pods(): Pod[] {
    this.podCache ??= this.getJson<{ items: Pod[] }>(['get', 'pods', '-A']).items.filter((p) =>
      (MATRIX_NAMESPACES as readonly string[]).includes(p.metadata.namespace!),
    );
    return this.podCache;
  }

  /** Forgets the pods read so far (after a pod was created, changed or deleted). */
  podsChanged(): void {
    this.podCache = undefined;
  }

  podIP(key: PodKey): string {
    return this.pods().find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)!.status!
      .podIP!;
  }

  /** The long-lived prober of matrix pod `key`. */
  prober(key: PodKey): Prober {
    return this.probers.get(key)!;
  }

  netns(pod: Pod): string {
    return podNetns(this.name, pod.spec.nodeName!, pod.metadata.namespace!, pod.metadata.name);
  }

  startProber(pod: Pod, args: string[]): Prober {
    const child = spawn('ip', [
      'netns',
      'exec',
      this.netns(pod),
      process.execPath,
      PROBE_MAIN,
      ...args,
    ]);
    return new Prober(child);
  }

  /** Runs the prober in `netns` once with `args` and returns what it printed. */
  async proberOnce(netns: string, args: string[]): Promise<string> {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, PROBE_MAIN, ...args]);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((r) => child.once('close', r));
    return out;
  }

  /**
   * Waits until every agent has processed every NetworkPolicy change made so far and Pods up
   * to `podRevision`: a barrier policy is written and its revision awaited on each host.
   */
  async settle(podRevision = 0): Promise<void> {
    if (podRevision) this.podsChanged();
    const rev = await this.writeBarrier({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: BARRIER,
        namespace: 'default',
        labels: { round: String(this.barrierCount++) },
      },
      spec: { podSelector: { matchLabels: { 'netpol-lab': 'none' } }, policyTypes: ['Ingress'] },
    } as NetworkPolicy);
    const wanted = { NetworkPolicy: rev, Pod: podRevision };
    for (const node of NODES)
      await until(`${node} to process revision ${wanted.NetworkPolicy}`, () =>
        Object.entries(wanted).every(([kind, rev]) => this.processed(node, kind) >= rev)
          ? true
          : undefined,
      );
  }

  /**
   * Waits until every agent has processed the admin policy changes made so far: a barrier
   * AdminNetworkPolicy (its subject holds no pod) is written and its revision awaited, and the
   * baseline's changes by the revision past `baselineAbove` (its last revision before a delete)
   * or its own (after an apply).
   */
  async settleAdmin(baseline?: { above: number } | { atLeast: number }): Promise<void> {
    const wanted = await this.writeBarrier({
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'AdminNetworkPolicy',
      metadata: { name: BARRIER, labels: { round: String(this.barrierCount++) } },
      spec: {
        priority: 1000,
        subject: { namespaces: { matchLabels: { 'netpol-lab': 'none' } } },
      },
    } as AdminNetworkPolicy);
    const baselineRev = !baseline ? 0 : 'above' in baseline ? baseline.above + 1 : baseline.atLeast;
    for (const node of NODES)
      await until(`${node} to process admin revision ${wanted}`, () =>
        this.processed(node, 'AdminNetworkPolicy') >= wanted &&
        this.processed(node, 'BaselineAdminNetworkPolicy') >= baselineRev
          ? true
          : undefined,
      );
  }

  /** Writes a barrier object the way `podnet apply` does; returns its store revision. */
  private async writeBarrier(barrier: KubeObject): Promise<number> {
    const network = await getClusterNetwork(this.store!);
    const [applied] = await applyManifest(this.store!, [barrier], network);
    return Number(applied!.object.metadata.resourceVersion);
  }

  /** Packets the eBPF programs of every node moved past the host's forwarding path. */
  redirectedPackets(): number {
    return datapathPackets(this.name, NODES, ['redirect_peer', 'redirect_neigh']);
  }

  private processed(node: string, kind: string): number {
    return agentMetric(hostNetns(this.name, node), 'podnet_informer_processed_revision', { kind });
  }

  /** `podnet_policy_drops_total` of `node` for the pods `policies` (comma-joined) isolate. */
  policyDrops(node: string, policies: string, direction: 'ingress' | 'egress'): number {
    return agentMetric(hostNetns(this.name, node), 'podnet_policy_drops_total', {
      policy: policies,
      direction,
    });
  }

  /** The node matrix pod `key` runs on. */
  nodeOf(key: PodKey): string {
    return this.pods().find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)!.spec
      .nodeName!;
  }

  /**
   * Sends `count` SCTP INIT packets from pod `from` to `ip`:`port` through a raw protocol-132
   * socket: this kernel has no SCTP sockets, but the datapath sees real SCTP headers.
   */
  sendSctp(from: PodKey, ip: string, port: number, count: number): void {
    const pod = this.pods().find((p) => `${p.metadata.namespace}/${p.metadata.name}` === from)!;
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        this.netns(pod),
        'python3',
        '-c',
        SCTP_SENDER,
        ip,
        String(port),
        String(count),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`sending SCTP from ${from} failed: ${r.stderr}`);
  }

  /**
   * Packets pod `key`'s IP layer received for a protocol it has no handler for: with no SCTP in
   * the kernel, every SCTP packet the datapath let through to the pod is counted here.
   */
  unknownProtocols(key: PodKey): number {
    const pod = this.pods().find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)!;
    const snmp = spawnSyncText(['ip', 'netns', 'exec', this.netns(pod), 'cat', '/proc/net/snmp']);
    const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Ip: '));
    const at = names!.split(' ').indexOf('InUnknownProtos');
    return Number(values!.split(' ')[at]);
  }

  /** Every pair probed once with `probe`, in parallel. */
  async observe(probe: Probe): Promise<Matrix> {
    const keys = allKeys();
    const cells = await Promise.all(
      keys.map((from) =>
        Promise.all(
          keys.map((to) =>
            from === to
              ? Promise.resolve(true)
              : this.probers.get(from)!.probe(probe.protocol, this.clusterIPs.get(to)!, probe.port),
          ),
        ),
      ),
    );
    return { keys, cells };
  }

  /** The evaluator's matrix for the lab's current pods and namespaces under `policies`. */
  expected(policies: NetworkPolicy[], probe: Probe, admin: AdminObjects = {}): Matrix {
    const namespaces: Namespace[] = MATRIX_NAMESPACES.map(matrixNamespace);
    const cluster: Cluster = { policies, namespaces, pods: this.pods(), ...admin };
    return evaluatedMatrix(cluster, probe.protocol, probe.port);
  }

  /**
   * Probes the matrix for every probe kind at once and returns a description of every disagreement with
   * the evaluator (after one re-probe), or '' when the lab matches it.
   */
  async check(
    policies: NetworkPolicy[],
    probes: Probe[],
    admin: AdminObjects = {},
  ): Promise<string> {
    // The kinds at once: a denied pair costs the probe's whole timeout, whatever its kind.
    const failures = await Promise.all(
      probes.map(async (probe) => {
        const expected = this.expected(policies, probe, admin);
        let observed = await this.observe(probe);
        if (mismatches(expected, observed).length) observed = await this.observe(probe);
        return mismatches(expected, observed).length
          ? `${probe.protocol}/${probe.port}:\n${formatMatrices(expected, observed)}`
          : '';
      }),
    );
    return failures.filter((f) => f !== '').join('\n\n');
  }
}

/** The admin policies of a case, as the evaluator takes them. */
export type AdminObjects = Pick<Cluster, 'adminPolicies' | 'baselinePolicies'>;

function spawnSyncText(argv: string[]): string {
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).stdout ?? '';
}
