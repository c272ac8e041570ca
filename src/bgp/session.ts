// One BGP peer over TCP (node:net): feeds socket bytes and timer expiries into the pure FSM
// and carries its actions out. Holds up to two connections while a collision is being resolved
// (RFC 4271 §6.8); everything else about the session is decided in fsm.ts.
import { connect, type Socket } from 'node:net';
import { decodeMessage, encodeKeepalive, encodeNotification } from './codec.js';
import { frameMessages } from './framing.js';
import {
  collisionKeeps,
  newFsm,
  step,
  type DownReason,
  type Fsm,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type Negotiated,
  type SessionState,
  type TimerName,
} from './fsm.js';
import { BgpMessageError, CeaseSubcode, type UpdateMessage } from './message.js';
import { encodeOpen } from './open.js';

export interface SessionConfig extends FsmConfig {
  peerAddress: string;
  /** TCP port of the peer (179 unless a test says otherwise). */
  peerPort: number;
  /** Source address for outgoing connections. */
  localAddress?: string;
  /** Graceful restart we offer: how long peers keep our routes while we are away. */
  gracefulRestart?: { restartTime: number; restarting: boolean };
  /** Opens outgoing connections instead of a plain TCP connect (the TCP-MD5 relay). */
  dial?: Dial;
}

/** A connection to the peer, carrying BGP; 'connect' when it may be written to. */
export type Dial = (peerAddress: string, peerPort: number, localAddress?: string) => Socket;

/** What a session tells its speaker. Calls happen on the event loop, never re-entrantly. */
export interface SessionEvents {
  /** `localAddress`: our end of the connection, the next hop for next-hop-self. */
  established(negotiated: Negotiated, localAddress: string): void;
  /** The session left Established (never called for a connection that was not established). */
  down(reason: DownReason, detail: string): void;
  update(update: UpdateMessage): void;
  routeRefresh(): void;
  /** Any state change, for status and metrics. */
  state?(state: SessionState): void;
}

interface Connection {
  fsm: Fsm;
  socket?: Socket;
  initiatedByUs: boolean;
  pending: Buffer;
  timers: Map<TimerName, NodeJS.Timeout>;
  closed: boolean;
}

export class Session {
  private connections: Connection[] = [];
  private stopped = true;
  /** Counters for `podnet get bgp` and metrics. */
  readonly stats = { messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0 };
  establishedAt: number | undefined;
  negotiated: Negotiated | undefined;
  lastError: string | undefined;

  constructor(
    readonly config: SessionConfig,
    private readonly events: SessionEvents,
  ) {}

  get state(): SessionState {
    const order: SessionState[] = [
      'Idle',
      'Connect',
      'Active',
      'OpenSent',
      'OpenConfirm',
      'Established',
    ];
    let best: SessionState = 'Idle';
    for (const c of this.connections) {
      if (order.indexOf(c.fsm.state) > order.indexOf(best)) best = c.fsm.state;
    }
    return best;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const conn = this.newConnection(this.config.passive);
    this.feed(conn, { type: 'start' });
  }

  /** Closes every connection (Cease with `subcode` if open); timers stop; no restart. */
  stop(subcode: number = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN): void {
    this.stopped = true;
    for (const c of [...this.connections]) this.feed(c, { type: 'stop', subcode });
    this.connections = [];
  }

  /**
   * Drops every connection without a NOTIFICATION, as a process exit would: a peer that
   * negotiated graceful restart keeps our routes until we are back (RFC 4724 §4).
   */
  abandon(): void {
    this.stopped = true;
    for (const c of [...this.connections]) this.discard(c);
  }

  /** A connection the speaker's listener accepted from this peer's address. */
  acceptIncoming(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const primary = this.connections[0];
    if (primary && primary.fsm.state === 'Established') {
      if (primary.fsm.negotiated?.peerGracefulRestart) {
        // RFC 4724 §4.2: a restarted peer reconnects while we still see the old session; the
        // old one is gone (its routes go stale), the new one takes over.
        this.feed(primary, { type: 'tcp-failed' });
      } else {
        socket.destroy();
        return;
      }
    }
    // A connection waiting (Idle, Active) gives way to the incoming one; an outgoing attempt
    // in flight (Connect) stays, and collision resolution picks between them once OPENs arrive.
    for (const c of [...this.connections]) {
      if (c.fsm.state === 'Idle' || c.fsm.state === 'Active') this.discard(c);
    }
    const conn = this.newConnection(true);
    conn.initiatedByUs = false;
    this.attach(conn, socket);
    this.feed(conn, { type: 'tcp-connected' });
  }

  /** Sends encoded UPDATEs on the established connection; false when there is none. */
  send(messages: Buffer[]): boolean {
    const conn = this.connections.find((c) => c.fsm.state === 'Established');
    if (!conn?.socket) return false;
    conn.socket.cork();
    for (const m of messages) conn.socket.write(m);
    conn.socket.uncork();
    this.stats.messagesOut += messages.length;
    this.stats.updatesOut += messages.length;
    return true;
  }

  private newConnection(passive: boolean): Connection {
    const conn: Connection = {
      fsm: newFsm({ ...this.config, passive }),
      initiatedByUs: true,
      pending: Buffer.alloc(0),
      timers: new Map(),
      closed: false,
    };
    this.connections.push(conn);
    return conn;
  }

  private discard(conn: Connection): void {
    conn.closed = true;
    for (const t of conn.timers.values()) clearTimeout(t);
    conn.timers.clear();
    conn.socket?.destroy();
    this.connections = this.connections.filter((c) => c !== conn);
  }

  private attach(conn: Connection, socket: Socket): void {
    conn.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(conn, socket, chunk));
    socket.on('error', () => {
      /* 'close' follows and reports it */
    });
    socket.on('close', () => {
      if (conn.socket === socket && !conn.closed) this.feed(conn, { type: 'tcp-failed' });
    });
  }

  private receive(conn: Connection, socket: Socket, chunk: Buffer): void {
    if (conn.socket !== socket || conn.closed) return;
    conn.pending = conn.pending.length ? Buffer.concat([conn.pending, chunk]) : chunk;
    let messages: Buffer[];
    try {
      ({ messages, rest: conn.pending } = frameMessages(conn.pending));
    } catch (err) {
      this.feed(conn, { type: 'bad-message', error: err as BgpMessageError });
      return;
    }
    for (const bytes of messages) {
      if (conn.socket !== socket || conn.closed) return;
      this.stats.messagesIn++;
      const negotiated = conn.fsm.negotiated;
      const ctx = {
        fourOctetAs: negotiated?.fourOctetAs ?? false,
        ipv6Unicast: negotiated?.ipv6Unicast ?? false,
      };
      let event: FsmEvent;
      try {
        event = { type: 'message', message: decodeMessage(bytes, ctx) };
      } catch (err) {
        event = { type: 'bad-message', error: err as BgpMessageError };
      }
      this.feed(conn, event);
    }
    // A copy so the socket's chunk is not kept alive by a small remainder.
    if (conn.pending.length) conn.pending = Buffer.from(conn.pending);
  }

  private feed(conn: Connection, event: FsmEvent): void {
    if (conn.closed && event.type !== 'stop') return;
    const before = conn.fsm.state;
    const { fsm, actions } = step(conn.fsm, event);
    conn.fsm = fsm;
    for (const action of actions) this.perform(conn, action, before);
    if (fsm.state !== before) {
      if (fsm.state === 'OpenConfirm') this.resolveCollision(conn);
      // An incoming connection that failed is simply dropped: we never reconnect on its behalf.
      const waiting = fsm.state === 'Idle' || fsm.state === 'Active' || fsm.state === 'Connect';
      if (waiting && !conn.initiatedByUs) this.discard(conn);
      this.ensureConnection();
      this.events.state?.(this.state);
    }
  }

  /** A running session always has one connection: left alone, it tries again after idle-hold. */
  private ensureConnection(): void {
    if (this.stopped || this.connections.length > 0) return;
    const conn = this.newConnection(this.config.passive);
    this.perform(
      conn,
      { type: 'start-timer', timer: 'idle-hold', seconds: this.config.idleHoldTime },
      'Idle',
    );
  }

  private perform(conn: Connection, action: FsmAction, before: SessionState): void {
    switch (action.type) {
      case 'connect':
        this.connectOut(conn);
        break;
      case 'disconnect': {
        const socket = conn.socket;
        conn.socket = undefined;
        conn.pending = Buffer.alloc(0);
        // end() lets a NOTIFICATION written just before reach the peer.
        socket?.end();
        setTimeout(() => socket?.destroy(), 1000).unref();
        if (conn.fsm.state === 'Idle' && this.stopped) this.discard(conn);
        break;
      }
      case 'send-open':
        this.write(
          conn,
          encodeOpen({
            asNumber: this.config.localAs,
            holdTime: this.config.holdTime,
            bgpId: this.config.bgpId,
            ...(this.config.ipv6Unicast ? { ipv6Unicast: true } : {}),
            ...(this.config.ipv4Unicast === false ? { ipv4Unicast: false } : {}),
            ...(this.config.gracefulRestart
              ? { gracefulRestart: { ...this.config.gracefulRestart, forwardingPreserved: true } }
              : {}),
          }),
        );
        break;
      case 'send-keepalive':
        this.write(conn, encodeKeepalive());
        break;
      case 'send-notification':
        this.lastError = `sent NOTIFICATION ${action.code}/${action.subcode}`;
        this.write(conn, encodeNotification(action));
        break;
      case 'start-timer': {
        clearTimeout(conn.timers.get(action.timer));
        const timer = setTimeout(() => {
          conn.timers.delete(action.timer);
          this.feed(conn, { type: 'timer', timer: action.timer });
        }, action.seconds * 1000);
        conn.timers.set(action.timer, timer);
        break;
      }
      case 'stop-timer':
        clearTimeout(conn.timers.get(action.timer));
        conn.timers.delete(action.timer);
        break;
      case 'established':
        // The loser of a collision never gets here: it is closed in OpenConfirm.
        for (const other of this.connections) if (other !== conn) this.discard(other);
        this.negotiated = action.negotiated;
        this.establishedAt = Date.now();
        this.events.established(
          action.negotiated,
          plainIPv4(conn.socket?.localAddress ?? this.config.localAddress ?? ''),
        );
        break;
      case 'down':
        if (before === 'Established') {
          this.establishedAt = undefined;
          this.lastError = action.detail;
          this.events.down(action.reason, action.detail);
        }
        // A second connection that lost or failed goes away; the last one keeps its FSM so
        // the idle-hold timer can start it again.
        if (this.connections.length > 1 || this.stopped) this.discard(conn);
        break;
      case 'update':
        this.stats.updatesIn++;
        this.events.update(action.update);
        break;
      case 'route-refresh':
        this.events.routeRefresh();
        break;
    }
  }

  private write(conn: Connection, bytes: Buffer): void {
    if (!conn.socket || conn.socket.destroyed) return;
    conn.socket.write(bytes);
    this.stats.messagesOut++;
  }

  private connectOut(conn: Connection): void {
    const { peerAddress, peerPort, localAddress, dial } = this.config;
    const socket = dial
      ? dial(peerAddress, peerPort, localAddress)
      : connect({ host: peerAddress, port: peerPort, ...(localAddress ? { localAddress } : {}) });
    conn.socket?.destroy();
    conn.initiatedByUs = true;
    this.attach(conn, socket);
    socket.once('connect', () => {
      if (conn.socket === socket && !conn.closed) this.feed(conn, { type: 'tcp-connected' });
    });
  }

  /** Two connections with the peer and one just learnt its BGP identifier: keep one. */
  private resolveCollision(conn: Connection): void {
    const remoteId = conn.fsm.negotiated?.peerBgpId;
    if (!remoteId) return;
    for (const other of [...this.connections]) {
      if (other === conn || other.closed) continue;
      if (other.fsm.state !== 'OpenSent' && other.fsm.state !== 'OpenConfirm') continue;
      const keepOutgoing = collisionKeeps(this.config.bgpId, remoteId) === 'outgoing';
      const loser = conn.initiatedByUs === keepOutgoing ? other : conn;
      this.feed(loser, { type: 'stop', subcode: CeaseSubcode.CONNECTION_COLLISION });
      this.discard(loser);
      if (loser === conn) return;
    }
  }
}

/** Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d. */
export function plainIPv4(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
