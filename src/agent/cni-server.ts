// The agent's end of the CNI plugin: a unix socket (mode 0600, root only) on which the C shim
// hands over each call. Calls for different containers run concurrently; the allocator's
// synchronous create-if-absent keeps them from ever sharing an address.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { Gauge, Histogram } from 'prom-client';
import {
  ADD_STAGES,
  handleCniCall,
  reclaimOrphans,
  type NewPodPolicies,
  type NodeNetwork,
  type PodBinder,
} from '../cni/handler.js';
import { CNI_COMMANDS, type CniCommand } from '../cni/env.js';
import { decodeRequest, encodeResponse } from '../cni/protocol.js';
import { hostCount } from '../net/index.js';
import { PodIPAllocator, type PodAllocation } from '../ipam/pod-ips.js';
import { IpSession } from '../kernel/ip-session.js';
import { PodLinkSession } from '../kernel/pod-link-session.js';
import { setPodMTU } from '../kernel/pod-mtu.js';
import { enableIPv4Forwarding, isNamespaceFile } from '../kernel/pod-veth.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgentContext, Controller } from './controller.js';

/** How often to look for pods that disappeared without a DEL, unless told otherwise. */
const ORPHAN_SCAN_MS = 60_000;

export interface CniServerSource {
  /** This node's pod network, once it holds a subnet lease. */
  nodeNetwork(): NodeNetwork | undefined;
  pods: PodBinder;
}

export class CniServer implements Controller {
  readonly name = 'cni';
  private server: Server | undefined;
  private host: IpSession | undefined;
  private readonly podLinks = new PodLinkSession();
  private reclaimTimer: NodeJS.Timeout | undefined;
  /** The MTU running pods were last given. */
  private podMTU: number | undefined;
  private resizing = Promise.resolve();
  private ipam: PodIPAllocator | undefined;
  private ipamIPv6: PodIPAllocator | undefined;
  /** Brings the node guard up to date; an ADD, DEL or GC answers once it has. */
  guardSync: (() => Promise<void>) | undefined;

  constructor(
    private readonly source: CniServerSource,
    private readonly policies?: NewPodPolicies,
    private readonly orphanScanMs = ORPHAN_SCAN_MS,
  ) {}

  async start(ctx: AgentContext): Promise<void> {
    const { socketPath, stateDir } = ctx.options;
    const { source } = this;
    const ipam = PodIPAllocator.open(join(stateDir, 'ipam', 'pods'));
    this.ipam = ipam;
    // Opened on every node (empty on a single-family one), so a DEL after the cluster dropped
    // IPv6 still frees what was given.
    const ipamIPv6 = PodIPAllocator.open(join(stateDir, 'ipam', 'pods-ipv6'));
    this.ipamIPv6 = ipamIPv6;
    enableIPv4Forwarding();
    const duration = new Histogram({
      name: 'podnet_cni_call_duration_seconds',
      help: 'Time the agent took to serve a CNI call, by command and outcome',
      labelNames: ['command', 'outcome'],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [ctx.metrics],
    });
    const addStages = new Histogram({
      name: 'podnet_cni_add_stage_seconds',
      help: 'When each stage of a successful ADD ended, from its start (wire, record and guard overlap)',
      labelNames: ['stage'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [ctx.metrics],
    });
    for (const stage of ADD_STAGES) addStages.zero({ stage });
    new Gauge({
      name: 'podnet_ipam_pod_addresses',
      help: "Pod addresses allocated on this node, and the size of the node's pool",
      labelNames: ['state'],
      registers: [ctx.metrics],
      collect() {
        const node = source.nodeNetwork();
        this.set({ state: 'allocated' }, ipam.list().length);
        if (node) this.set({ state: 'capacity' }, Number(hostCount(node.podCIDR)) - 1); // minus the gateway
      },
    });
    this.host = new IpSession();
    const cni = {
      ipam,
      ipamIPv6,
      host: this.host,
      podLinks: this.podLinks,
      node: () => source.nodeNetwork(),
      pods: source.pods,
      policies: this.policies,
      guardSync: () => this.guardSync?.() ?? Promise.resolve(),
      observeAddStage: (stage: string, seconds: number) => addStages.observe({ stage }, seconds),
      log: ctx.log.child({ controller: 'cni' }),
    };

    const serve = async (conn: Socket, request: Buffer): Promise<void> => {
      const started = process.hrtime.bigint();
      let command = 'unknown';
      try {
        const { env, stdin } = decodeRequest(request);
        // Only known commands become label values: bad input must not grow the metric.
        if (CNI_COMMANDS.includes(env.CNI_COMMAND as CniCommand)) command = env.CNI_COMMAND!;
        const { exitCode, stdout } = await handleCniCall(env, stdin, cni);
        // ADD brings the guard up to date itself, alongside its wiring.
        if (exitCode === 0 && ['DEL', 'GC'].includes(command)) await this.guardSync?.();
        conn.end(encodeResponse(exitCode, stdout));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        duration.observe({ command, outcome: exitCode === 0 ? 'ok' : 'error' }, seconds);
      } catch (err) {
        cni.log.error({ err: errorMessage(err) }, 'could not serve a CNI call');
        conn.destroy();
      }
    };

    // allowHalfOpen: the shim half-closes to mark the end of its request, then reads the answer.
    this.server = createServer({ allowHalfOpen: true }, (conn) => {
      const chunks: Buffer[] = [];
      conn.on('data', (b: Buffer) => chunks.push(b));
      conn.on('end', () => void serve(conn, Buffer.concat(chunks)));
      conn.on('error', () => conn.destroy());
    });
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
    // A socket file left by an earlier agent (SIGKILL leaves it) would make listen fail.
    rmSync(socketPath, { force: true });
    await listenPrivately(this.server, socketPath);
    const reclaim = (): void =>
      void reclaimOrphans(cni).catch((err: unknown) =>
        cni.log.warn({ err: errorMessage(err) }, 'could not look for orphaned addresses'),
      );
    reclaim();
    this.reclaimTimer = setInterval(reclaim, this.orphanScanMs);
    this.podMTU = source.nodeNetwork()?.mtu;
    // The node controller was told first (it started first) and has the new pod MTU ready.
    // One resize at a time, so that the last change is the one the pods end with. A rollout
    // step changes this host's settings through its Node.
    const resize = (): Promise<void> => {
      this.resizing = this.resizing.then(() => this.resizePods(ipam, cni.log));
      return this.resizing;
    };
    ctx.informers.informer('ClusterNetwork').addHandler(resize);
    ctx.informers
      .informer('Node')
      .addHandler((c) => (c.name === ctx.options.nodeName ? resize() : undefined));
    ctx.health.setReady(this.name, true);
    cni.log.info({ socket: socketPath, allocated: ipam.list().length }, 'CNI socket open');
  }

  /** The pods this node has wired (veth and address), as the allocator records them. */
  wiredPods(): PodAllocation[] {
    const all = [...(this.ipam?.list() ?? []), ...(this.ipamIPv6?.list() ?? [])];
    return all.filter((a) => a.hostVeth);
  }

  /** Brings every running pod to the node's current pod MTU, in place. */
  private async resizePods(ipam: PodIPAllocator, log: Logger): Promise<void> {
    const mtu = this.source.nodeNetwork()?.mtu;
    if (mtu === undefined || mtu === this.podMTU || !this.host) return;
    this.podMTU = mtu;
    const pods = ipam.list().filter((a) => a.hostVeth && isNamespaceFile(a.netns));
    for (const pod of pods) {
      try {
        await setPodMTU(this.host, pod, mtu);
      } catch (err) {
        // A pod that went away meanwhile has nothing to resize; DEL or the orphan scan clean up.
        log.warn({ pod: pod.podName, err: errorMessage(err) }, 'could not change the pod MTU');
      }
    }
    log.info({ mtu, pods: pods.length }, 'running pods moved to the new MTU');
  }

  async stop(): Promise<void> {
    clearInterval(this.reclaimTimer);
    this.host?.close();
    this.podLinks.close();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

/** Listens with a umask that makes the socket 0600 from its first moment, not after a chmod. */
function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const previous = process.umask(0o177);
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve();
    });
    process.umask(previous);
  });
}
