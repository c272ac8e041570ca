// A BGP speaker: a listener, one Session per configured peer, and the RIBs between them.
// Received paths go through the Rib; changed prefixes are collected and, once per turn of the
// event loop, each established peer is sent the difference of its Adj-RIB-Out and the Loc-RIB
// is reported to whoever installs routes. Graceful restart (RFC 4724) keeps a restarting peer's
// paths, marked stale, until its End-of-RIB or the restart time. IPv6 unicast (RFC 4760) has a
// RIB and an Adj-RIB-Out per peer of its own, as a BIRD channel does, beside IPv4's; it travels
// over the same sessions to the peers that negotiated it. A session over IPv6 carries IPv6
// unicast alone: we have no IPv4 next hop on it to give.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { Logger } from '../util/log.js';
import {
  encodeAnnouncements,
  encodeEndOfRib,
  encodeIpv6Announcements,
  encodeIpv6EndOfRib,
  encodeIpv6Withdrawals,
  encodeWithdrawals,
} from './update.js';
import { formatAttributes } from './attributes/table.js';
import type { DownReason, Negotiated, SessionState } from './fsm.js';
import { CeaseSubcode, type PathAttributes, type UpdateMessage } from './message.js';
import { exportClass, type LocalConfig, type Path, type PeerInfo } from './policy.js';
import { formatIP, ipBytes, ipFromBytes, parseCidr, tryParseIP } from '../net/index.js';
import {
  formatIpv4Key,
  ipv6KeyPrefix,
  ipv6PrefixKey,
  parseIpv4Key,
  parseIpv6Key,
  type Ipv4PrefixKey,
  type Ipv6PrefixKey,
} from './prefix-key.js';
import { AdjRibOut, Rib } from './rib.js';
import { SharedUpdates } from './shared-updates.js';
import { Session, plainIPv4, type Dial } from './session.js';

export interface SpeakerConfig {
  asNumber: number;
  bgpId: string;
  /** Reflect routes between iBGP peers (RFC 4456); the cluster id defaults to bgpId. */
  routeReflector?: boolean;
  clusterId?: string;
  /** Where to listen for peers; port 179 unless a test says otherwise. */
  listenAddress?: string;
  listenPort?: number;
  holdTime?: number;
  connectRetryTime?: number;
  idleHoldTime?: number;
  /** Offer graceful restart with this restart time (seconds); absent: not offered. */
  gracefulRestartTime?: number;
  /** Set when this speaker itself has just restarted (the R bit). */
  restarting?: boolean;
  /** Offer IPv6 unicast to peers (RFC 4760) beside IPv4 unicast. */
  ipv6Unicast?: boolean;
  /**
   * Our global IPv6 address, the next hop of the IPv6 routes we announce with next-hop-self
   * (our own prefixes, and every route to an eBGP peer). Without it none are announced.
   */
  ipv6NextHop?: string;
  /**
   * Peers come and go through the TCP-MD5 relay (kernel/tcp-md5.ts), which owns the TCP
   * sockets, instead of sockets of our own.
   */
  tcpMd5?: { speakerSocket: string; controlSocket: string };
}

export interface PeerConfig {
  address: string;
  asNumber: number;
  port?: number;
  passive?: boolean;
  /** A route-reflector client of ours (only meaningful with routeReflector). */
  rrClient?: boolean;
  localAddress?: string;
  holdTime?: number;
  /** TCP-MD5 key of the session (RFC 2385); never shown in status or logs. */
  password?: string;
}

export interface PeerStatus {
  address: string;
  asNumber: number;
  kind: 'ibgp' | 'ebgp';
  rrClient: boolean;
  state: SessionState;
  /** Seconds since Established, when it is (as of the moment the status was taken). */
  uptime?: number;
  /**
   * When the session became Established (ISO time): readers that show a status published
   * earlier compute the uptime from it at display time, so it never lags the publication.
   */
  establishedSince?: string;
  prefixesReceived: number;
  prefixesAdvertised: number;
  /** Paths refused by loop checks. */
  prefixesRejected: number;
  /** Paths kept through the peer's graceful restart. */
  stalePrefixes: number;
  messagesIn: number;
  messagesOut: number;
  lastError?: string;
}

/** Why a connection was closed before any message of it was read. */
export type RefusedReason = 'unknown-peer';

/** Told after each batch of changes: the prefixes whose best path changed (may repeat). */
export type RoutesChanged = (prefixes: Ipv4PrefixKey[], speaker: Speaker) => void;

interface PeerRuntime {
  config: PeerConfig;
  session: Session;
  info?: PeerInfo;
  out?: AdjRibOut;
  /** The peer as IPv6 routes see it (our IPv6 next hop), while IPv6 unicast is negotiated. */
  info6?: PeerInfo;
  out6?: AdjRibOut<Ipv6PrefixKey>;
  /** Restart timer while the peer is away with its paths kept stale. */
  staleTimer?: NodeJS.Timeout;
  /** The families whose End-of-RIB the peer has yet to send since the session came up. */
  awaitingEndOfRib?: Set<4 | 6>;
}

const DEFAULTS = { holdTime: 90, connectRetryTime: 3, idleHoldTime: 5, listenPort: 179 };

export class Speaker {
  readonly rib: Rib;
  readonly rib6: Rib<Ipv6PrefixKey>;
  private readonly local: LocalConfig;
  private readonly peers = new Map<string, PeerRuntime>();
  private server: Server | undefined;
  private readonly localAttrs: PathAttributes = { origin: 0, asPath: [], unknown: [] };
  private readonly localSource: PeerInfo;
  private readonly localSource6: PeerInfo;
  private localPrefixes = new Set<Ipv4PrefixKey>();
  private localPrefixes6 = new Set<Ipv6PrefixKey>();
  /** Prefixes whose best path changed since the last flush (may repeat; plans are idempotent). */
  private dirty: Ipv4PrefixKey[] = [];
  private dirty6: Ipv6PrefixKey[] = [];
  private flushScheduled = false;
  private readonly listeners: RoutesChanged[] = [];
  /** Exported attributes per exportClass, shared by that class's peers' Adj-RIB-Outs. */
  private readonly exports = new Map<string, WeakMap<PathAttributes, PathAttributes>>();
  /** UPDATEs as encoded for one peer, for the next peer due the same. */
  private readonly encoded = new SharedUpdates<Ipv4PrefixKey>();
  private readonly encoded6 = new SharedUpdates<Ipv6PrefixKey>();
  private readonly refused = new Map<RefusedReason, number>();

  constructor(
    readonly config: SpeakerConfig,
    private readonly log?: Logger,
  ) {
    this.local = {
      asNumber: config.asNumber,
      bgpId: config.bgpId,
      ...(config.routeReflector ? { clusterId: config.clusterId ?? config.bgpId } : {}),
    };
    this.rib = new Rib(this.local);
    this.rib6 = new Rib<Ipv6PrefixKey>(this.local);
    this.localSource = {
      key: 'local',
      kind: 'local',
      asNumber: config.asNumber,
      bgpId: config.bgpId,
      rrClient: false,
      localAddress: '',
      address: '0.0.0.0',
    };
    this.localSource6 = { ...this.localSource, localAddress: config.ipv6NextHop ?? '' };
  }

  onRoutesChanged(listener: RoutesChanged): void {
    this.listeners.push(listener);
  }

  /** Starts listening for peers. Port 0 picks a free port (tests); see listenPort(). */
  async listen(): Promise<void> {
    const relay = this.config.tcpMd5;
    const server = createServer((socket) =>
      relay ? this.incomingRelayed(socket) : this.incoming(socket),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (relay) {
        rmSync(relay.speakerSocket, { force: true });
        server.listen(relay.speakerSocket, () => resolve());
        return;
      }
      server.listen(
        this.config.listenPort ?? DEFAULTS.listenPort,
        this.config.listenAddress ?? '0.0.0.0',
        () => resolve(),
      );
    });
    server.on('error', (err) => this.log?.error({ err: err.message }, 'BGP listener failed'));
    this.server = server;
  }

  boundPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /**
   * Stops every session and the listener. `restarting`: close connections without a
   * NOTIFICATION so that graceful-restart peers keep our routes while we are away.
   */
  async stop(options: { restarting?: boolean } = {}): Promise<void> {
    for (const p of this.peers.values()) {
      if (options.restarting) {
        p.session.abandon();
        clearTimeout(p.staleTimer);
      } else this.removeRuntime(p, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN);
    }
    this.peers.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Makes the configured peers exactly `wanted`: new ones start, gone ones stop. */
  setPeers(wanted: PeerConfig[]): void {
    const keep = new Set(wanted.map((p) => p.address));
    for (const [address, p] of this.peers) {
      if (!keep.has(address)) {
        this.removeRuntime(p, CeaseSubcode.PEER_DECONFIGURED);
        this.peers.delete(address);
      }
    }
    for (const p of wanted) {
      const existing = this.peers.get(p.address);
      if (existing && samePeer(existing.config, p)) continue;
      if (existing) this.removeRuntime(existing, CeaseSubcode.PEER_DECONFIGURED);
      this.addPeer(p);
    }
  }

  /** Makes the locally originated prefixes exactly `prefixes`, advertised with next-hop self. */
  setLocalPrefixes(prefixes: string[]): void {
    const ipv6 = prefixes.filter((p) => parseCidr(p, { loose: true }).family === 6);
    const wanted = new Set(prefixes.filter((p) => !ipv6.includes(p)).map(parseIpv4Key));
    const gone = [...this.localPrefixes].filter((p) => !wanted.has(p));
    const added = [...wanted].filter((p) => !this.localPrefixes.has(p));
    this.localPrefixes = wanted;
    this.markDirty(this.rib.withdraw(this.localSource, gone));
    this.markDirty(this.rib.announce(this.localSource, this.localAttrs, added));
    const wanted6 = new Set(ipv6.map(parseIpv6Key));
    const gone6 = [...this.localPrefixes6].filter((p) => !wanted6.has(p));
    const added6 = [...wanted6].filter((p) => !this.localPrefixes6.has(p));
    this.localPrefixes6 = wanted6;
    this.markDirty6(this.rib6.withdraw(this.localSource6, gone6));
    this.markDirty6(this.rib6.announce(this.localSource6, this.localAttrs, added6));
  }

  /** Loc-RIB paths learnt from peers (what a host installs), prefix → next hop. */
  learnedRoutes(): Map<string, { nextHop: string; path: Path }> {
    const out = new Map<string, { nextHop: string; path: Path }>();
    // forEach, not for-of: the Loc-RIB is a view whose iterators yield one entry at a time.
    this.rib.locRib().forEach((path, prefix) => {
      if (path.source.kind !== 'local' && path.attrs.nextHop) {
        out.set(formatIpv4Key(prefix), { nextHop: path.attrs.nextHop, path });
      }
    });
    this.rib6.locRib().forEach((path, prefix) => {
      if (path.source.kind !== 'local' && path.attrs.nextHop) {
        out.set(prefix, { nextHop: path.attrs.nextHop, path });
      }
    });
    return out;
  }

  /**
   * Every configured peer is up and has sent its End-of-RIB: the Loc-RIB is complete. Until
   * then a restarted speaker should not remove routes it left in the kernel (RFC 4724 §4.1's
   * selection deferral), or a restart would withdraw what is about to come back.
   */
  initialTableComplete(): boolean {
    return [...this.peers.values()].every((p) => p.awaitingEndOfRib?.size === 0);
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map((p) => {
      const s = p.session;
      return {
        address: p.config.address,
        asNumber: p.config.asNumber,
        kind: p.config.asNumber === this.config.asNumber ? 'ibgp' : 'ebgp',
        rrClient: Boolean(p.config.rrClient && this.config.routeReflector),
        state: s.state,
        ...(s.establishedAt
          ? {
              uptime: Math.floor((Date.now() - s.establishedAt) / 1000),
              establishedSince: new Date(s.establishedAt).toISOString(),
            }
          : {}),
        prefixesReceived: this.rib.count(p.config.address) + this.rib6.count(p.config.address),
        prefixesAdvertised: (p.out?.size ?? 0) + (p.out6?.size ?? 0),
        prefixesRejected:
          (this.rib.rejected.get(p.config.address) ?? 0) +
          (this.rib6.rejected.get(p.config.address) ?? 0),
        stalePrefixes:
          this.rib.staleCount(p.config.address) + this.rib6.staleCount(p.config.address),
        messagesIn: s.stats.messagesIn,
        messagesOut: s.stats.messagesOut,
        ...(s.lastError ? { lastError: s.lastError } : {}),
      };
    });
  }

  private addPeer(config: PeerConfig): void {
    const runtime: PeerRuntime = {
      config,
      session: undefined as unknown as Session,
    };
    const ibgp = config.asNumber === this.config.asNumber;
    runtime.session = new Session(
      {
        localAs: this.config.asNumber,
        peerAs: config.asNumber,
        bgpId: this.config.bgpId,
        holdTime: config.holdTime ?? this.config.holdTime ?? DEFAULTS.holdTime,
        connectRetryTime: this.config.connectRetryTime ?? DEFAULTS.connectRetryTime,
        idleHoldTime: this.config.idleHoldTime ?? DEFAULTS.idleHoldTime,
        passive: config.passive ?? false,
        peerAddress: config.address,
        peerPort: config.port ?? DEFAULTS.listenPort,
        ...this.connectionOptions(config),
        ...(this.config.ipv6Unicast ? { ipv6Unicast: true } : {}),
        ...(tryParseIP(config.address)?.family === 6 ? { ipv4Unicast: false } : {}),
        ...(this.config.gracefulRestartTime !== undefined
          ? {
              gracefulRestart: {
                restartTime: this.config.gracefulRestartTime,
                restarting: this.config.restarting ?? false,
              },
            }
          : {}),
      },
      {
        established: (n, localAddress) => this.established(runtime, n, localAddress, ibgp),
        down: (reason, detail) => this.down(runtime, reason, detail),
        update: (u) => this.received(runtime, u),
        routeRefresh: () => this.refresh(runtime),
        state: (state) => this.log?.debug({ peer: config.address, state }, 'BGP session state'),
      },
    );
    this.peers.set(config.address, runtime);
    runtime.session.start();
  }

  /**
   * Source address and dialer of a peer's connections. Through the relay the socket does not
   * show our address, so the listen address stands in for it (the next hop we announce).
   */
  private connectionOptions(config: PeerConfig): { localAddress?: string; dial?: Dial } {
    const relay = this.config.tcpMd5;
    const localAddress = config.localAddress ?? (relay ? this.config.listenAddress : undefined);
    return {
      ...(localAddress ? { localAddress } : {}),
      ...(relay ? { dial: relayDial(relay.controlSocket) } : {}),
    };
  }

  private removeRuntime(p: PeerRuntime, subcode: number): void {
    p.session.stop(subcode);
    clearTimeout(p.staleTimer);
    this.dropSource(p.config.address);
  }

  private dropSource(key: string): void {
    this.markDirty(this.rib.dropSource(key));
    this.markDirty6(this.rib6.dropSource(key));
  }

  /** Connections closed unread, by reason, since the speaker started. */
  refusedConnections(): Record<RefusedReason, number> {
    return { 'unknown-peer': this.refused.get('unknown-peer') ?? 0 };
  }

  /** A connection the relay accepted: its first line names the peer, BGP follows. */
  private incomingRelayed(socket: Socket): void {
    let header = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      header = Buffer.concat([header, chunk]);
      const end = header.indexOf(0x0a);
      if (end < 0) {
        if (header.length > 64) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      if (end + 1 < header.length) socket.unshift(header.subarray(end + 1));
      this.incoming(socket, header.subarray(0, end).toString('latin1'));
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }

  private incoming(socket: Socket, peerAddress = socket.remoteAddress ?? ''): void {
    const address = canonicalAddress(plainIPv4(peerAddress));
    const peer = this.peers.get(address);
    if (!peer) {
      // Sessions only with configured peers: closed before a byte of it is read.
      socket.destroy();
      this.refused.set('unknown-peer', (this.refused.get('unknown-peer') ?? 0) + 1);
      this.log?.warn({ peer: address }, 'BGP connection from an unknown address refused');
      return;
    }
    peer.session.acceptIncoming(socket);
  }

  private established(p: PeerRuntime, n: Negotiated, localAddress: string, ibgp: boolean): void {
    this.log?.info({ peer: p.config.address, as: n.peerAs, hold: n.holdTime }, 'BGP established');
    p.info = {
      key: p.config.address,
      kind: ibgp ? 'ibgp' : 'ebgp',
      asNumber: n.peerAs,
      bgpId: n.peerBgpId,
      rrClient: Boolean(p.config.rrClient && this.config.routeReflector),
      localAddress,
      address: p.config.address,
    };
    p.awaitingEndOfRib = new Set([
      ...(n.noIpv4Unicast ? [] : [4 as const]),
      ...(n.ipv6Unicast ? [6 as const] : []),
    ]);
    if (!n.noIpv4Unicast) {
      p.out = new AdjRibOut(this.local, p.info, this.exportsOf(p.info));
      const changes = p.out.plan(this.rib, [...this.rib.locRib().keys()]);
      this.sendChanges(p, changes.announce, changes.withdraw);
      // End-of-RIB tells a restarting peer that our initial table is complete (RFC 4724 §4.1).
      p.session.send([encodeEndOfRib()]);
    }
    if (!n.ipv6Unicast) return;
    // Over IPv6 our end of the session is an IPv6 address to give as next hop.
    const sessionIPv6 = tryParseIP(localAddress)?.family === 6 ? localAddress : '';
    p.info6 = { ...p.info, localAddress: this.config.ipv6NextHop ?? sessionIPv6 };
    p.out6 = new AdjRibOut<Ipv6PrefixKey>(this.local, p.info6, this.exportsOf(p.info6));
    const changes6 = p.out6.plan(this.rib6, [...this.rib6.locRib().keys()]);
    this.sendChanges6(p, changes6.announce, changes6.withdraw);
    p.session.send([encodeIpv6EndOfRib()]);
  }

  private down(p: PeerRuntime, reason: DownReason, detail: string): void {
    p.out = undefined;
    p.out6 = undefined;
    p.info6 = undefined;
    const grTime = p.session.negotiated?.peerGracefulRestart?.restartTime;
    // RFC 4724 §4.2: the TCP connection went away without a NOTIFICATION: keep the paths.
    if (reason === 'tcp-failed' && grTime !== undefined && grTime > 0) {
      this.log?.info(
        { peer: p.config.address, detail, restartTime: grTime },
        'BGP peer away, keeping its routes',
      );
      this.rib.markStale(p.config.address);
      this.rib6.markStale(p.config.address);
      clearTimeout(p.staleTimer);
      p.staleTimer = setTimeout(() => {
        p.staleTimer = undefined;
        this.markDirty(this.rib.sweepStale(p.config.address));
        this.markDirty6(this.rib6.sweepStale(p.config.address));
      }, grTime * 1000);
      return;
    }
    this.log?.info({ peer: p.config.address, reason, detail }, 'BGP session down');
    clearTimeout(p.staleTimer);
    this.dropSource(p.config.address);
  }

  private received(p: PeerRuntime, u: UpdateMessage): void {
    const info = p.info;
    if (!info) return;
    for (const e of u.errors) {
      const attributes = u.attributes && formatAttributes(u.attributes);
      this.log?.warn(
        { peer: info.address, action: e.action, subcode: e.subcode, attributes },
        e.reason,
      );
    }
    // The RIB appends what changed straight to this turn's list: no copy of a full table.
    const before = this.dirty.length;
    if (u.withdrawn.length) this.rib.withdraw(info, u.withdrawn, this.dirty);
    if (u.nlri.length && u.attributes) {
      const attrs =
        u.mpNextHop !== undefined ? { ...u.attributes, nextHop: u.mpNextHop } : u.attributes;
      this.rib.announce(info, attrs, u.nlri, this.dirty);
    }
    if (this.dirty.length > before) this.scheduleFlush();
    if (u.ipv6 && p.info6) this.received6(p, p.info6, u);
    if (u.endOfRib) {
      this.endOfRib(p, 4);
      // Listeners hear of an End-of-RIB even when it changed nothing: it may end their wait
      // for the initial table (initialTableComplete).
      this.markDirty(this.rib.sweepStale(info.key), true);
    }
  }

  /** The IPv6 routes of an UPDATE; their next hop is the global address (RFC 2545 §3). */
  private received6(p: PeerRuntime, info: PeerInfo, u: UpdateMessage): void {
    const routes = u.ipv6!;
    const before = this.dirty6.length;
    if (routes.withdrawn.length) {
      this.rib6.withdraw(info, routes.withdrawn.map(ipv6PrefixKey), this.dirty6);
    }
    if (routes.nlri.length && u.attributes && routes.nextHop) {
      const nextHop = formatIP(ipFromBytes([...routes.nextHop.global]));
      this.rib6.announce(
        info,
        { ...u.attributes, nextHop },
        routes.nlri.map(ipv6PrefixKey),
        this.dirty6,
      );
    }
    if (this.dirty6.length > before) this.scheduleFlush();
    if (routes.endOfRib) {
      this.endOfRib(p, 6);
      this.markDirty6(this.rib6.sweepStale(info.key), true);
    }
  }

  /** The peer's table of `family` is complete; with every family's, its restart is over. */
  private endOfRib(p: PeerRuntime, family: 4 | 6): void {
    p.awaitingEndOfRib?.delete(family);
    if (p.awaitingEndOfRib?.size !== 0) return;
    clearTimeout(p.staleTimer);
    p.staleTimer = undefined;
  }

  private refresh(p: PeerRuntime): void {
    if (!p.out) return;
    p.out.clear();
    const changes = p.out.plan(this.rib, [...this.rib.locRib().keys()]);
    this.sendChanges(p, changes.announce, changes.withdraw);
    if (!p.out6) return;
    p.out6.clear();
    const changes6 = p.out6.plan(this.rib6, [...this.rib6.locRib().keys()]);
    this.sendChanges6(p, changes6.announce, changes6.withdraw);
  }

  private markDirty(prefixes: Ipv4PrefixKey[], notifyAnyway = false): void {
    if (prefixes.length === 0 && !notifyAnyway) return;
    for (const prefix of prefixes) this.dirty.push(prefix);
    this.scheduleFlush();
  }

  private markDirty6(prefixes: Ipv6PrefixKey[], notifyAnyway = false): void {
    if (prefixes.length === 0 && !notifyAnyway) return;
    for (const prefix of prefixes) this.dirty6.push(prefix);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends each established peer what changed, then tells listeners. */
  private flush(): void {
    this.flushScheduled = false;
    const changed = this.dirty;
    this.dirty = [];
    const newBests = this.rib.takeNewBests();
    const changed6 = this.dirty6;
    this.dirty6 = [];
    const newBests6 = this.rib6.takeNewBests();
    for (const p of this.peers.values()) {
      if (p.out) {
        const changes = p.out.plan(this.rib, changed, newBests);
        this.sendChanges(p, changes.announce, changes.withdraw);
      }
      if (p.out6 && changed6.length) {
        const changes6 = p.out6.plan(this.rib6, changed6, newBests6);
        this.sendChanges6(p, changes6.announce, changes6.withdraw);
      }
    }
    for (const listener of this.listeners) listener(changed, this);
  }

  /** The exported-attributes map of `info`'s exportClass. */
  private exportsOf(info: PeerInfo): WeakMap<PathAttributes, PathAttributes> {
    const key = exportClass(info);
    let exported = this.exports.get(key);
    if (!exported) this.exports.set(key, (exported = new WeakMap()));
    return exported;
  }

  private sendChanges(
    p: PeerRuntime,
    announce: Map<PathAttributes, Ipv4PrefixKey[]>,
    withdraw: Ipv4PrefixKey[],
  ): void {
    const shared = this.encoded;
    const ctx = { fourOctetAs: p.session.negotiated?.fourOctetAs ?? false };
    const messages: Buffer[] = [];
    if (withdraw.length) {
      messages.push(...shared.withdraw(withdraw, () => encodeWithdrawals(withdraw)));
    }
    for (const [attrs, prefixes] of announce) {
      messages.push(
        ...shared.announce(attrs, prefixes, String(ctx.fourOctetAs), () =>
          encodeAnnouncements(attrs, prefixes, ctx),
        ),
      );
    }
    if (messages.length) p.session.send(messages);
  }

  private sendChanges6(
    p: PeerRuntime,
    announce: Map<PathAttributes, Ipv6PrefixKey[]>,
    withdraw: Ipv6PrefixKey[],
  ): void {
    const shared = this.encoded6;
    const ctx = { fourOctetAs: p.session.negotiated?.fourOctetAs ?? false, ipv6Unicast: true };
    const messages: Buffer[] = [];
    if (withdraw.length) {
      messages.push(
        ...shared.withdraw(withdraw, () => encodeIpv6Withdrawals(withdraw.map(ipv6KeyPrefix))),
      );
    }
    for (const [attrs, prefixes] of announce) {
      const nextHop = ipv6NextHop(attrs.nextHop);
      // Next-hop-self without an IPv6 address of ours: nothing usable to announce.
      if (!nextHop) continue;
      messages.push(
        ...shared.announce(attrs, prefixes, String(ctx.fourOctetAs), () =>
          encodeIpv6Announcements(attrs, prefixes.map(ipv6KeyPrefix), { global: nextHop }, ctx),
        ),
      );
    }
    if (messages.length) p.session.send(messages);
  }
}

/** An address as the kernel prints it (IPv6 in its one short form), else the text as it is. */
function canonicalAddress(text: string): string {
  const ip = tryParseIP(text);
  return ip ? formatIP(ip) : text;
}

/** An IPv6 next hop as it travels, or undefined when `text` is no IPv6 address. */
function ipv6NextHop(text: string | undefined): Uint8Array | undefined {
  const ip = text ? tryParseIP(text) : undefined;
  return ip?.family === 6 ? Uint8Array.from(ipBytes(ip)) : undefined;
}

/** Outgoing connections through the relay's control socket: one request line, then BGP. */
function relayDial(controlSocket: string): Dial {
  return (peerAddress, peerPort, localAddress) => {
    const socket = connect({ path: controlSocket });
    socket.write(`${peerAddress} ${peerPort} ${localAddress ?? '-'}\n`);
    return socket;
  };
}

function samePeer(a: PeerConfig, b: PeerConfig): boolean {
  return (
    a.password === b.password &&
    a.asNumber === b.asNumber &&
    (a.port ?? 179) === (b.port ?? 179) &&
    Boolean(a.passive) === Boolean(b.passive) &&
    Boolean(a.rrClient) === Boolean(b.rrClient) &&
    a.localAddress === b.localAddress &&
    a.holdTime === b.holdTime
  );
}
