// Keeps one host's routing in line with the cluster: reconciles on every trigger (a Node
// changed, the backend changed) and on a period, so that objects someone deleted by hand come
// back. Triggers arriving during a reconcile fold into one more run; runs never overlap.
// A trigger diffs against what the last reconcile left in the kernel (no listing: a joining
// node costs two short batches); the periodic run and any run after an error read the kernel.
import type { AutoTunnel, Encryption, Node } from '../api/types.js';
import type { WireguardSelf } from './desired.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { renderCommands } from '../kernel/routing-render.js';
import { backendDriver } from './backends/registry.js';
import {
  NodeNotReadyError,
  reconcileHost,
  type HostPlan,
  type KernelView,
  type ReconcileResult,
} from './reconcile.js';
import type { IpipDatapath, KernelFeatures, RoutingKernel } from './kernel.js';
import { checkBackendSupport, type BackendSupport } from './support.js';

export interface RoutingSnapshot {
  nodes: readonly Node[];
  backend: string;
  /** ClusterNetwork spec.mtu: the underlay MTU tunnels derive from. */
  underlayMTU?: number;
  encryption?: Encryption;
  /** ClusterNetwork spec.autoTunnel: what `auto` reaches peers that are not on-link through. */
  autoTunnel?: AutoTunnel;
  /** This node's WireGuard key and device kind. */
  wireguard?: WireguardSelf;
  /** Backends other hosts run during a backend rollout (their tunnels stay up here). */
  receiveFrom?: readonly string[];
}

export interface RoutingLoopOptions {
  selfName: string;
  /** The host's kernel, and what it supports. */
  kernel: RoutingKernel;
  features: KernelFeatures;
  /** Where the kernel has no ipip device: the tc BPF programs that stand in for it. */
  ipipDatapath?: IpipDatapath;
  periodMs: number;
  vtepMac: string;
  log: Logger;
  /** The cluster as last seen, read at the start of each reconcile. */
  snapshot(): RoutingSnapshot;
  /** Told after every reconcile, with its result or the error that stopped it. */
  onResult?(result: ReconcileResult | Error, reason: string, seconds: number): void;
}

export class RoutingLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private pending?: string;
  private stopped = false;
  private readonly supported = new Map<string, BackendSupport>();
  private lastProblems = '';
  /** The kernel as the last successful reconcile left it (undefined after a failure). */
  private view?: KernelView;
  /** The next run reads the kernel instead of trusting `view`. */
  private readNext = true;
  /** Whether the BPF IP-in-IP maps may hold peers (unknown at start). */
  private ipipMapsMayHoldPeers = true;

  constructor(private readonly opts: RoutingLoopOptions) {}

  start(): void {
    this.trigger('start');
    this.timer = setInterval(() => this.trigger('period'), this.opts.periodMs);
  }

  /**
   * Asks for a reconcile soon; `reason` is logged with it. `readKernel` (implied by 'period' and
   * 'start') makes it read the kernel rather than trust the last run's view: for when the kernel
   * itself dropped objects, as it does with the routes of a link that went down.
   */
  trigger(reason: string, readKernel = false): void {
    if (this.stopped) return;
    if (readKernel || reason === 'period' || reason === 'start') this.readNext = true;
    this.pending ??= reason;
    if (!this.running) this.running = this.drain();
  }

  /** Resolves once the reconcile in flight (if any) is done and no run is pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.pending = undefined;
    await this.idle();
  }

  private async drain(): Promise<void> {
    while (this.pending !== undefined && !this.stopped) {
      const reason = this.pending;
      this.pending = undefined;
      await this.runOnce(reason);
    }
    this.running = undefined;
  }

  private async runOnce(reason: string): Promise<void> {
    const { log } = this.opts;
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const snapshot = this.opts.snapshot();
      const support = await this.ensureSupported(snapshot.backend, snapshot.autoTunnel);
      const known = this.readNext ? undefined : this.view;
      this.readNext = false;
      this.view = undefined;
      const result = await reconcileHost(
        {
          nodes: snapshot.nodes,
          selfName: this.opts.selfName,
          backend: snapshot.backend,
          vtepMac: this.opts.vtepMac,
          underlayMTU: snapshot.underlayMTU,
          encryption: snapshot.encryption,
          wireguard: snapshot.wireguard,
          ipipBpf: support.ipipBpf && this.opts.ipipDatapath !== undefined,
          autoTunnel: snapshot.autoTunnel,
          receiveFrom: snapshot.receiveFrom,
        },
        this.opts.kernel,
        known,
        (plan) => this.prepareIpip(plan),
      );
      this.view = result.after;
      this.report(result, snapshot.backend, reason);
      this.opts.onResult?.(result, reason, seconds());
    } catch (err) {
      if (err instanceof NodeNotReadyError) log.info({ reason }, `waiting: ${err.message}`);
      else log.error({ reason, err: errorMessage(err) }, 'routing reconcile failed');
      this.opts.onResult?.(err instanceof Error ? err : new Error(String(err)), reason, seconds());
    }
  }

  /**
   * Fills the BPF IP-in-IP maps before the routes lead pod traffic to the programs, so a
   * program the kernel refuses leaves the routes as they were. After IP-in-IP (and once at
   * start, not knowing what a previous agent left) the maps are emptied, so that a peer's pod
   * traffic routed out of the underlay by another backend is not wrapped.
   */
  private async prepareIpip(plan: HostPlan): Promise<void> {
    const datapath = this.opts.ipipDatapath;
    const tunnels = plan.desired.ipipTunnels;
    if (!datapath || (!tunnels && !this.ipipMapsMayHoldPeers)) return;
    await datapath.sync(plan.view.underlay.dev, tunnels ?? []);
    this.ipipMapsMayHoldPeers = (tunnels ?? []).length > 0;
  }

  private async ensureSupported(backend: string, autoTunnel?: AutoTunnel): Promise<BackendSupport> {
    const key = `${backend}/${autoTunnel ?? ''}`;
    const known = this.supported.get(key);
    if (known) return known;
    const support = await checkBackendSupport(
      backendDriver(backend),
      this.opts.features,
      autoTunnel,
    );
    this.supported.set(key, support);
    return support;
  }

  private report(result: ReconcileResult, backend: string, reason: string): void {
    const { log } = this.opts;
    for (const change of result.changes) {
      if (change.op === 'sysctl') {
        log.info({ sysctl: change.key, was: change.was, value: change.value }, 'sysctl changed');
      }
    }
    if (result.changes.length > 0) {
      log.info(
        {
          reason,
          backend,
          changes: result.changes.length,
          batches: result.batches,
          commands: renderCommands(result.changes).slice(0, 20),
        },
        'routing reconciled',
      );
    }
    const problems = JSON.stringify(result.problems);
    if (problems !== this.lastProblems) {
      this.lastProblems = problems;
      for (const p of result.problems) {
        log.warn({ peer: p.peer, backend }, `peer ${p.peer} cannot be routed to: ${p.reason}`);
      }
    }
  }
}
