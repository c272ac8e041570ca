// The agent's BGP controller (`routing: bgp`): runs this node's speaker, keeps its peers and
// its own prefix in line with the cluster (full mesh, route reflectors, BGPPeers), hands what
// it learns to the routing reconciler as the set of Nodes to route to, publishes its sessions
// for `podnet bgp status` and exports per-peer metrics. On stop it leaves as a graceful
// restart would: no NOTIFICATION, so peers keep our routes, and nothing leaves the kernel.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BGPPeer, BGPSettings, Node } from '../api/types.js';
import type { InformerCache } from '../store/shared-informers.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { nodeBgpPlan, routedNodes, type NodeBgpPlan } from '../bgp/cluster.js';
import { Speaker, type PeerStatus } from '../bgp/speaker.js';
import { publishStatus, type BgpRoute } from '../bgp/status-store.js';
import type { AgentContext, Controller } from './controller.js';

/** The cluster as the controller needs it; the agent feeds it from its informers. */
export interface BgpClusterView {
  nodes(): readonly Node[];
  bgpPeers(): readonly BGPPeer[];
  settings(): BGPSettings | undefined;
  /** Calls `listener` after any of the above changed (its promise: the change's handling). */
  onChange(listener: () => Promise<void>): void;
}

export interface BgpControllerOptions {
  /** Where the cluster is read from; default: the agent's informers. */
  view?: BgpClusterView;
  /** Told the Nodes to route to (this node first) whenever BGP's best routes change. */
  routeTo(nodes: Node[]): void;
  /** TCP port for listening and for peers (179; tests on loopback use another). */
  port?: number;
}

/** Longest wait for peers' End-of-RIB before routing is told what BGP has (a dead peer). */
const MAX_DEFERRAL_SECONDS = 30;

export class BgpController implements Controller {
  readonly name = 'bgp';
  private speaker: Speaker | undefined;
  private running: NodeBgpPlan['speaker'] | undefined;
  private log!: Logger;
  private nodeName = '';
  private store: Store | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  private lastPublished = '';
  /** Publications one at a time, so that an older one never lands after a newer one. */
  private publishing: Promise<void> = Promise.resolve();
  private stopped = false;
  private deferUntil = 0;
  private deferTimer: NodeJS.Timeout | undefined;
  private view!: BgpClusterView;
  private lastRouted = '';
  /** The routes routing was last told of (published for `podnet doctor` and `plan`). */
  private routed: BgpRoute[] | undefined;

  constructor(private readonly opts: BgpControllerOptions) {}

  async start(ctx: AgentContext): Promise<void> {
    this.log = ctx.log.child({ controller: 'bgp' });
    this.nodeName = ctx.options.nodeName;
    this.store = ctx.store;
    this.view = this.opts.view ?? (await informerView(ctx.informers));
    registerMetrics(ctx.metrics, () => this.speaker);
    this.view.onChange(() => this.sync(ctx));
    await this.sync(ctx);
    this.publishTimer = setInterval(() => this.publishSoon(), 2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.publishTimer);
    clearTimeout(this.deferTimer);
    await this.speaker?.stop({ restarting: true });
    this.speaker = undefined;
  }

  /** The current speaker (for status and tests). */
  current(): Speaker | undefined {
    return this.speaker;
  }

  private self(): Node | undefined {
    return this.view.nodes().find((n) => n.metadata.name === this.nodeName);
  }

  private async sync(ctx: AgentContext): Promise<void> {
    if (this.stopped) return;
    const self = this.self();
    const plan = self
      ? nodeBgpPlan(self, this.view.nodes(), this.view.bgpPeers(), this.view.settings())
      : undefined;
    if (!plan) {
      ctx.health.setReady(this.name, false);
      return;
    }
    try {
      if (!this.speaker || JSON.stringify(plan.speaker) !== JSON.stringify(this.running)) {
        await this.restartSpeaker(plan);
      }
      this.speaker!.setLocalPrefixes(plan.localPrefixes);
      // Sessions come from the node's own address, the one its peers know it by.
      this.speaker!.setPeers(
        plan.peers.map((p) => ({
          ...p,
          port: this.opts.port ?? 179,
          localAddress: plan.speaker.bgpId,
        })),
      );
      this.routeTo();
      ctx.health.setReady(this.name, true);
      ctx.health.setError(this.name, undefined);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'BGP speaker could not start');
      ctx.health.setError(this.name, errorMessage(err));
    }
  }

  private async restartSpeaker(plan: NodeBgpPlan): Promise<void> {
    // New settings are a restart too: peers keep our routes until the new speaker's End-of-RIB.
    await this.speaker?.stop({ restarting: true });
    const speaker = new Speaker(
      {
        ...plan.speaker,
        listenAddress: plan.speaker.bgpId,
        listenPort: this.opts.port ?? 179,
        // An agent (re)start is a restart for its peers: they keep our routes meanwhile.
        restarting: true,
      },
      this.log,
    );
    await speaker.listen();
    speaker.onRoutesChanged(() => this.routeTo());
    const deferral = Math.min(plan.speaker.gracefulRestartTime, MAX_DEFERRAL_SECONDS);
    this.deferUntil = Date.now() + deferral * 1000;
    clearTimeout(this.deferTimer);
    this.deferTimer = setTimeout(() => this.routeTo(), deferral * 1000 + 10);
    this.speaker = speaker;
    this.running = plan.speaker;
    this.log.info({ as: plan.speaker.asNumber, id: plan.speaker.bgpId }, 'BGP speaker started');
  }

  private routeTo(): void {
    const self = this.self();
    if (!self || !this.speaker) return;
    // Selection deferral (RFC 4724 §4.1): after a (re)start, routing is told nothing until
    // every peer has sent its End-of-RIB or the deferral time is over, so that routes left
    // in the kernel by the previous run are not removed just before they are learnt again.
    if (Date.now() < this.deferUntil) {
      if (!this.speaker.initialTableComplete()) return;
      this.deferUntil = 0;
    }
    const learned = this.speaker.learnedRoutes();
    const nodes = routedNodes(self, this.view.nodes(), learned);
    // Node heartbeats change the view often; routing hears only of a real difference.
    const digest = JSON.stringify(nodes);
    if (digest === this.lastRouted) return;
    this.lastRouted = digest;
    this.opts.routeTo(nodes);
    this.routed = [...learned]
      .map(([prefix, { nextHop }]) => ({ prefix, nextHop }))
      .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
    // Routes change when a session goes down or comes up: readers see both at once.
    this.publishSoon();
  }

  private publishSoon(): void {
    this.publishing = this.publishing.then(() => this.publish());
  }

  private async publish(): Promise<void> {
    if (!this.speaker || !this.store) return;
    const peers = this.speaker.status();
    // Uptime changes every second; publish on anything else changing, or every minute.
    const digest = JSON.stringify({
      peers: peers.map((p) => ({ ...p, uptime: undefined })),
      routes: this.routed,
    });
    const minute = Math.floor(Date.now() / 60000);
    if (digest + minute === this.lastPublished) return;
    try {
      await publishStatus(this.store, this.nodeName, peers, this.routed);
      this.lastPublished = digest + minute;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not publish BGP status');
    }
  }
}

/** The view from the agent's informers: Nodes, BGPPeers and the ClusterNetwork's settings. */
async function informerView(informers: InformerCache): Promise<BgpClusterView> {
  const listeners: (() => Promise<void>)[] = [];
  const changed = async (): Promise<void> => {
    await Promise.all(listeners.map((l) => l()));
  };
  const nodes = informers.informer('Node');
  const peers = informers.informer('BGPPeer');
  const networks = informers.informer('ClusterNetwork');
  for (const kind of [nodes, peers, networks]) kind.addHandler(changed);
  await Promise.all([nodes.synced, peers.synced, networks.synced]);
  return {
    nodes: () => [...nodes.cache.values()],
    bgpPeers: () => [...peers.cache.values()],
    settings: () => networks.cache.get('default')?.spec.bgp,
    onChange: (listener) => listeners.push(listener),
  };
}

/** Gauges with one series a peer: name, help, and the value from the peer's status. */
const PEER_GAUGES: [name: string, help: string, value: (p: PeerStatus) => number][] = [
  [
    'podnet_bgp_session_established',
    '1 when the session is Established',
    (p) => (p.state === 'Established' ? 1 : 0),
  ],
  ['podnet_bgp_session_uptime_seconds', 'Seconds since Established', (p) => p.uptime ?? 0],
  ['podnet_bgp_prefixes_received', "Prefixes in the peer's Adj-RIB-In", (p) => p.prefixesReceived],
  [
    'podnet_bgp_prefixes_advertised',
    "Prefixes in the peer's Adj-RIB-Out",
    (p) => p.prefixesAdvertised,
  ],
  [
    'podnet_bgp_prefixes_rejected',
    'Paths from the peer refused by loop checks',
    (p) => p.prefixesRejected,
  ],
  ['podnet_bgp_messages_received', 'BGP messages received from the peer', (p) => p.messagesIn],
  ['podnet_bgp_messages_sent', 'BGP messages sent to the peer', (p) => p.messagesOut],
];

/** Per-peer gauges, read from the speaker at scrape time. */
function registerMetrics(registry: Registry, speaker: () => Speaker | undefined): void {
  for (const [name, help, value] of PEER_GAUGES) {
    new Gauge({
      name,
      help,
      labelNames: ['peer', 'peer_as'],
      registers: [registry],
      collect() {
        this.reset();
        for (const p of speaker()?.status() ?? []) {
          this.set({ peer: p.address, peer_as: String(p.asNumber) }, value(p));
        }
      },
    });
  }
  new Counter({
    name: 'podnet_bgp_refused_connections_total',
    help: 'Connections to the BGP listener closed before any message was read, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const refused: Record<string, number> = speaker()?.refusedConnections() ?? {};
      for (const [reason, n] of Object.entries(refused)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'podnet_bgp_loc_rib_routes',
    help: 'Routes in the Loc-RIB (own prefix included)',
    registers: [registry],
    collect() {
      this.set(speaker()?.rib.locRib().size ?? 0);
    },
  });
}
