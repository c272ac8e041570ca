// The agent's BGP controller (`routing: bgp`): runs this node's speaker, keeps its peers and
// its own prefix in line with the cluster (full mesh, route reflectors, BGPPeers), hands what
// it learns to the routing reconciler as the set of Nodes to route to, publishes its sessions
// for `podnet bgp status` and exports per-peer metrics. On stop it leaves as a graceful
// restart would: no NOTIFICATION, so peers keep our routes, and nothing leaves the kernel.
// BGPPeers with a passwordFile are signed with TCP-MD5: the TCP-MD5 helper then owns the BGP
// port (all sessions pass through it), their keys are re-read while running, and a helper
// that dies is restarted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BGPPeer, BGPSettings, Node } from '../api/types.js';
import { clusterCIDRsOf } from '../api/cluster-families.js';
import type { InformerCache } from '../store/shared-informers.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { nodeBgpPlan, routedNodes, withoutRemovedNodes, type NodeBgpPlan } from '../bgp/cluster.js';
import { readPasswordFile } from '../bgp/password-file.js';
import { Speaker, type PeerConfig, type PeerStatus } from '../bgp/speaker.js';
import { startTcpMd5Relay, type TcpMd5Relay } from '../kernel/tcp-md5.js';
import { publishStatus, type BgpRoute } from '../bgp/status-store.js';
import { pacedRuns, type PacedRuns } from '../util/paced-runs.js';
import { serialRuns, type SerialRuns } from '../util/serial-runs.js';
import type { AgentContext, Controller } from './controller.js';

/** The cluster as the controller needs it; the agent feeds it from its informers. */
export interface BgpClusterView {
  nodes(): readonly Node[];
  bgpPeers(): readonly BGPPeer[];
  settings(): BGPSettings | undefined;
  /** The cluster's pod networks (learnt routes inside them must belong to a Node). */
  clusterCIDRs(): readonly string[];
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
  /** How often keyed peers' password files are re-read (ms; default 2000). */
  keyCheckIntervalMs?: number;
}

/** How long after the TCP-MD5 helper died it is started again (no tight restart loop). */
const HELPER_RESTART_DELAY_MS = 1000;

/** After a pass that handed routing the routes, a pause of this many times its duration. */
const ROUTING_PAUSE_FACTOR = 4;

/** Least time between two status publications (ms). */
const PUBLISH_SPACING_MS = 500;

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
  private stopped = false;
  private deferUntil = 0;
  private deferTimer: NodeJS.Timeout | undefined;
  private view!: BgpClusterView;
  private lastRouted = '';
  /** The routes routing was last told of (published for `podnet doctor` and `plan`). */
  private routed: BgpRoute[] | undefined;
  /** The TCP-MD5 helper, while any peer has a key; its unix sockets live in relayDir. */
  private relay: TcpMd5Relay | undefined;
  private relayDir: string | undefined;
  /** The keys the helper was last given (peer → key) and what the key files held then. */
  private keys: ReadonlyMap<string, string> = new Map();
  private keyDigest = '';
  /** The planned peers that have a password file, to re-read between syncs. */
  private keyedPeers: NodeBgpPlan['peers'] = [];
  private keyTimer: NodeJS.Timeout | undefined;
  private helperRestarts = 0;
  private lastKeyProblems = '';
  /**
   * Syncs one at a time; changes meanwhile make one more pass once it is over, whatever their
   * number. Two passes at once would each restart the speaker after a settings change (a
   * route-reflector label) and leave the first new one running beside the second, both
   * dialling the same peers, their sessions colliding for ever; and a burst of Node events
   * would make a pass over every node for each event.
   */
  private syncs: SerialRuns | undefined;
  /**
   * Status publications the same way, spaced: each writes every peer and route, so one per
   * route change would make a reflector converging with n peers write n tables of n routes.
   */
  private publications: SerialRuns | undefined;
  /**
   * Passes that hand routing the learnt routes, paced by their cost: each walks the whole
   * Loc-RIB and every Node, and a reflector converging with n peers changes routes n times.
   */
  private routing: PacedRuns | undefined;

  constructor(private readonly opts: BgpControllerOptions) {}

  async start(ctx: AgentContext): Promise<void> {
    this.log = ctx.log.child({ controller: 'bgp' });
    this.nodeName = ctx.options.nodeName;
    this.store = ctx.store;
    this.view = this.opts.view ?? (await informerView(ctx.informers));
    registerMetrics(
      ctx.metrics,
      () => this.speaker,
      () => this.helperRestarts,
    );
    const syncs = serialRuns(
      () => this.sync(ctx),
      (err) => this.log.error({ err: errorMessage(err) }, 'BGP sync failed'),
    );
    this.syncs = syncs;
    this.publications = serialRuns(
      async () => {
        await this.publish();
        await new Promise((r) => setTimeout(r, PUBLISH_SPACING_MS).unref());
      },
      (err) => this.log.warn({ err: errorMessage(err) }, 'could not publish BGP status'),
    );
    this.publications.open();
    this.routing = pacedRuns(() => this.routeTo(), ROUTING_PAUSE_FACTOR);
    this.view.onChange(() => {
      syncs.trigger();
      return syncs.idle();
    });
    syncs.open();
    await syncs.idle();
    this.publishTimer = setInterval(() => this.publishSoon(), 2000);
    // Key files change without any object changing (a rotated Secret): look at them again.
    this.keyTimer = setInterval(() => {
      if (this.keyedPeers.length > 0 && keyDigest(withKeys(this.keyedPeers)) !== this.keyDigest) {
        this.syncs?.trigger();
      }
    }, this.opts.keyCheckIntervalMs ?? 2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    void this.syncs?.stop();
    void this.publications?.stop();
    this.routing?.stop();
    clearInterval(this.publishTimer);
    clearInterval(this.keyTimer);
    clearTimeout(this.deferTimer);
    await this.speaker?.stop({ restarting: true });
    this.speaker = undefined;
    await this.stopRelay();
  }

  /** The current speaker (for status and tests). */
  current(): Speaker | undefined {
    return this.speaker;
  }

  private self(): Node | undefined {
    return this.view.nodes().find((n) => n.metadata.name === this.nodeName);
  }

  private plan(): NodeBgpPlan | undefined {
    const self = this.self();
    return self
      ? nodeBgpPlan(self, this.view.nodes(), this.view.bgpPeers(), this.view.settings())
      : undefined;
  }

  private async sync(ctx: AgentContext): Promise<void> {
    if (this.stopped) return;
    const plan = this.plan();
    if (!plan) {
      ctx.health.setReady(this.name, false);
      return;
    }
    try {
      const keyed = withKeys(plan.peers);
      this.reportKeyProblems(keyed.problems);
      this.keyedPeers = plan.peers.filter((p) => p.passwordFile !== undefined);
      this.keyDigest = keyDigest(keyed);
      const keys = new Map<string, string>();
      for (const p of keyed.peers) if (p.password !== undefined) keys.set(p.address, p.password);
      // The helper owns the BGP port or not at all: starting or ending it is a restart.
      if (
        !this.speaker ||
        JSON.stringify(plan.speaker) !== JSON.stringify(this.running) ||
        keys.size > 0 !== Boolean(this.relayDir)
      ) {
        await this.restartSpeaker(plan, keys);
      } else {
        // Before the sessions hear of it, so the new connection is made with the new key.
        this.relay?.setKeys(keys);
      }
      this.keys = keys;
      this.speaker!.setLocalPrefixes(plan.localPrefixes);
      // Sessions come from the node's own address of the peer's family (the plan's), the one
      // its peers know it by. A peer whose key changed is a changed peer: only its session is
      // dropped and made again.
      this.speaker!.setPeers(keyed.peers.map((p) => ({ ...p, port: this.opts.port ?? 179 })));
      this.routing?.trigger();
      ctx.health.setReady(this.name, true);
      ctx.health.setError(this.name, undefined);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'BGP speaker could not start');
      ctx.health.setError(this.name, errorMessage(err));
    }
  }

  private async restartSpeaker(
    plan: NodeBgpPlan,
    keys: ReadonlyMap<string, string>,
  ): Promise<void> {
    // New settings are a restart too: peers keep our routes until the new speaker's End-of-RIB.
    await this.speaker?.stop({ restarting: true });
    this.speaker = undefined;
    await this.stopRelay();
    const listenAddress = plan.speaker.listenAddress;
    const relay = keys.size > 0 ? await this.startRelay(listenAddress, keys) : undefined;
    const speaker = new Speaker(
      {
        ...plan.speaker,
        listenPort: this.opts.port ?? 179,
        // An agent (re)start is a restart for its peers: they keep our routes meanwhile.
        restarting: true,
        ...(relay
          ? {
              tcpMd5: { speakerSocket: relay.speakerSocket, controlSocket: relay.controlSocket },
            }
          : {}),
      },
      this.log,
    );
    await speaker.listen();
    speaker.onRoutesChanged(() => this.routing?.trigger());
    const deferral = Math.min(plan.speaker.gracefulRestartTime, MAX_DEFERRAL_SECONDS);
    this.deferUntil = Date.now() + deferral * 1000;
    clearTimeout(this.deferTimer);
    this.deferTimer = setTimeout(() => this.routing?.trigger(), deferral * 1000 + 10);
    this.speaker = speaker;
    this.running = plan.speaker;
    this.log.info(
      { as: plan.speaker.asNumber, id: plan.speaker.bgpId, address: listenAddress },
      'BGP speaker started',
    );
  }

  private async startRelay(
    listenAddress: string,
    keys: ReadonlyMap<string, string>,
  ): Promise<TcpMd5Relay> {
    this.relayDir ??= mkdtempSync(join(tmpdir(), 'podnet-bgp-md5-'));
    const relay = await startTcpMd5Relay({
      listenAddress,
      listenPort: this.opts.port ?? 179,
      keys,
      dir: this.relayDir,
    });
    this.relay = relay;
    void relay.exited.then((why) => this.helperDied(relay, listenAddress, why));
    return relay;
  }

  /**
   * The helper died: the relayed connections died with it, so the speaker has seen every
   * session through it go down and retries them; a new helper on the same sockets takes the
   * port again and the sessions come back.
   */
  private helperDied(relay: TcpMd5Relay, listenAddress: string, why: string): void {
    if (this.relay !== relay || this.stopped) return;
    this.relay = undefined;
    this.helperRestarts++;
    this.log.warn({ err: why }, 'TCP-MD5 helper died; BGP sessions through it are down');
    this.restartHelperSoon(listenAddress);
  }

  private restartHelperSoon(listenAddress: string): void {
    setTimeout(() => {
      // A speaker restart in the meantime has started a helper of its own, or needs none.
      if (this.stopped || this.relay || !this.speaker || !this.relayDir) return;
      this.startRelay(listenAddress, this.keys).then(
        () => this.log.info({}, 'TCP-MD5 helper restarted'),
        (err: unknown) => {
          this.log.error({ err: errorMessage(err) }, 'TCP-MD5 helper could not restart');
          this.restartHelperSoon(listenAddress);
        },
      );
    }, HELPER_RESTART_DELAY_MS).unref();
  }

  private async stopRelay(): Promise<void> {
    const relay = this.relay;
    this.relay = undefined;
    await relay?.stop();
    if (this.relayDir) rmSync(this.relayDir, { recursive: true, force: true });
    this.relayDir = undefined;
  }

  /** Logs keyed peers left out for an unreadable key, once each time the set changes. */
  private reportKeyProblems(problems: string[]): void {
    const digest = problems.join('\n');
    if (digest === this.lastKeyProblems) return;
    this.lastKeyProblems = digest;
    for (const problem of problems) {
      this.log.error({ err: problem }, 'BGP peer left out: its TCP-MD5 key cannot be read');
    }
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
    const learned = withoutRemovedNodes(
      this.speaker.learnedRoutes(),
      this.view.nodes(),
      this.view.clusterCIDRs(),
    );
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
    this.publications?.trigger();
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

/**
 * The peers with the keys their password files hold. A keyed peer whose key cannot be read is
 * left out rather than peered with unsigned: its connections are then refused as unknown.
 */
export function withKeys(
  peers: NodeBgpPlan['peers'],
  read: (path: string) => string = readPasswordFile,
): { peers: PeerConfig[]; problems: string[] } {
  const out: PeerConfig[] = [];
  const problems: string[] = [];
  for (const { passwordFile, ...peer } of peers) {
    if (passwordFile === undefined) {
      out.push(peer);
      continue;
    }
    try {
      out.push({ ...peer, password: read(passwordFile) });
    } catch (err) {
      problems.push(`peer ${peer.address}: passwordFile: ${errorMessage(err)}`);
    }
  }
  return { peers: out, problems };
}

/** What the key files held, to notice a change (it stays in memory, as the keys do). */
function keyDigest({ peers, problems }: ReturnType<typeof withKeys>): string {
  const keys = peers.filter((p) => p.password !== undefined).map((p) => [p.address, p.password]);
  return JSON.stringify([keys, problems]);
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
    clusterCIDRs: () => {
      const network = networks.cache.get('default');
      return network ? clusterCIDRsOf(network.spec) : [];
    },
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

/** Every metric `registerMetrics` makes, by name. */
const BGP_METRICS = [
  ...PEER_GAUGES.map(([name]) => name),
  'podnet_bgp_refused_connections_total',
  'podnet_bgp_md5_helper_restarts_total',
  'podnet_bgp_loc_rib_routes',
];

/** Per-peer gauges, read from the speaker at scrape time. */
function registerMetrics(
  registry: Registry,
  speaker: () => Speaker | undefined,
  helperRestarts: () => number,
): void {
  // A speaker started again after the routing source went back and forth: its gauges replace
  // the stopped one's.
  for (const name of BGP_METRICS) registry.removeSingleMetric(name);
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
  new Counter({
    name: 'podnet_bgp_md5_helper_restarts_total',
    help: 'Times the TCP-MD5 helper died and was started again',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(helperRestarts());
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
