// The BGP session state machine of RFC 4271 §8, one per TCP connection, as a pure function:
// (state, event) → (state, actions). Sockets and timers live in session.ts, which feeds events
// in and carries actions out. Connection collision (§6.8) is decided by collisionKeeps() and
// acted on by the speaker, which holds both connections.
import {
  CeaseSubcode,
  ErrorCode,
  OpenSubcode,
  type BgpMessageError,
  type GracefulRestartCapability,
  type Message,
  type OpenMessage,
  type UpdateMessage,
} from './message.js';
import { ipv4Word } from './ipv4.js';

export type SessionState =
  'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export type TimerName = 'connect-retry' | 'hold' | 'keepalive' | 'idle-hold';

export interface FsmConfig {
  localAs: number;
  peerAs: number;
  bgpId: string;
  /** Hold time we offer, seconds (0 or >= 3). */
  holdTime: number;
  connectRetryTime: number;
  /** Wait in Idle after an error before starting again (BIRD's "error wait time"). */
  idleHoldTime: number;
  /** Wait for the peer to connect rather than connecting out. */
  passive: boolean;
  /** Offer IPv6 unicast beside IPv4 unicast. */
  ipv6Unicast?: boolean;
  /**
   * Offer IPv4 unicast (default true). False on a session over IPv6, which has no IPv4 next hop
   * of ours to give: it carries IPv6 unicast alone.
   */
  ipv4Unicast?: boolean;
}

/** What both OPENs settled. */
export interface Negotiated {
  holdTime: number;
  keepaliveTime: number;
  fourOctetAs: boolean;
  peerBgpId: string;
  peerAs: number;
  routeRefresh: boolean;
  /** Both sides offered IPv6 unicast, so its MP attributes are read. */
  ipv6Unicast?: boolean;
  /** IPv4 unicast is not carried: one side did not offer it (a session over IPv6). */
  noIpv4Unicast?: boolean;
  /** The peer's graceful restart capability, when it sent one. */
  peerGracefulRestart?: GracefulRestartCapability;
}

export interface Fsm {
  state: SessionState;
  config: FsmConfig;
  negotiated?: Negotiated;
  /** Connection attempts that failed since the last connection came up (Connect, Active). */
  connectFailures?: number;
}

export type FsmEvent =
  /** ManualStart / AutomaticStart, or the idle-hold wait ended. */
  | { type: 'start' }
  /** ManualStop; `subcode` is the Cease subcode sent if a session was open. */
  | { type: 'stop'; subcode?: number }
  /** A TCP connection to or from the peer is up (Tcp_CR_Acked / TcpConnectionConfirmed). */
  | { type: 'tcp-connected' }
  | { type: 'tcp-failed' }
  | { type: 'timer'; timer: TimerName }
  | { type: 'message'; message: Message }
  /** The decoder found an error that forces a NOTIFICATION. */
  | { type: 'bad-message'; error: BgpMessageError };

/** Why a session left Established, for the speaker's route handling. */
export type DownReason = 'notification-sent' | 'notification-received' | 'tcp-failed' | 'stopped';

export type FsmAction =
  | { type: 'connect' }
  | { type: 'disconnect' }
  | { type: 'send-open' }
  | { type: 'send-keepalive' }
  | { type: 'send-notification'; code: number; subcode: number; data: Buffer }
  | { type: 'start-timer'; timer: TimerName; seconds: number }
  | { type: 'stop-timer'; timer: TimerName }
  | { type: 'established'; negotiated: Negotiated }
  | { type: 'down'; reason: DownReason; detail: string }
  | { type: 'update'; update: UpdateMessage }
  | { type: 'route-refresh'; afi: number; safi: number };

/** RFC 4271 §8.2.2: the hold timer while waiting for an OPEN ("a large value", 4 minutes). */
export const LARGE_HOLD_TIME = 240;

/** FSM error subcodes (RFC 6608): an unexpected message in OpenSent, OpenConfirm, Established. */
const FSM_SUBCODE: Partial<Record<SessionState, number>> = {
  OpenSent: 1,
  OpenConfirm: 2,
  Established: 3,
};

/** The first retry after a failed connection attempt, seconds; each further one doubles. */
export const FIRST_CONNECT_RETRY = 0.1;

/**
 * When to try again after the `failures`-th failed connection attempt in a row: quickly at
 * first, doubling up to connectRetryTime. A refused connection mostly means the peer's host is
 * up and its speaker not listening yet: a node that has just joined registers its Node (which
 * makes its peers connect) a moment before its speaker listens, and the higher address of each
 * pair only waits (nodeBgpPlan), so a full connectRetryTime here is that long without routes.
 * The count goes back to zero once a session is Established.
 */
export function connectRetryAfter(config: FsmConfig, failures: number): number {
  return Math.min(config.connectRetryTime, FIRST_CONNECT_RETRY * 2 ** (failures - 1));
}

/** To Active after a failed connection attempt, trying again after connectRetryAfter. */
function retryLater(fsm: Fsm, actions: FsmAction[]): { fsm: Fsm; actions: FsmAction[] } {
  const failures = (fsm.connectFailures ?? 0) + 1;
  return {
    fsm: { state: 'Active', config: fsm.config, connectFailures: failures },
    actions: [
      ...actions,
      {
        type: 'start-timer',
        timer: 'connect-retry',
        seconds: connectRetryAfter(fsm.config, failures),
      },
    ],
  };
}

export function newFsm(config: FsmConfig): Fsm {
  return { state: 'Idle', config };
}

const ALL_TIMERS: TimerName[] = ['connect-retry', 'hold', 'keepalive', 'idle-hold'];

function stopTimers(): FsmAction[] {
  return ALL_TIMERS.map((timer) => ({ type: 'stop-timer', timer }));
}

/**
 * Leaves for Idle after an error: close the connection, report the session down, and start
 * again after the idle-hold wait (RFC 4271 §8.1.1 IdleHoldTimer, without damping).
 */
function toIdle(
  fsm: Fsm,
  reason: DownReason,
  detail: string,
  notification?: { code: number; subcode: number; data?: Buffer },
): { fsm: Fsm; actions: FsmAction[] } {
  const actions: FsmAction[] = [];
  if (notification) {
    actions.push({
      type: 'send-notification',
      code: notification.code,
      subcode: notification.subcode,
      data: notification.data ?? Buffer.alloc(0),
    });
  }
  actions.push(...stopTimers(), { type: 'disconnect' });
  actions.push({ type: 'down', reason, detail });
  if (reason !== 'stopped') {
    actions.push({ type: 'start-timer', timer: 'idle-hold', seconds: fsm.config.idleHoldTime });
  }
  return { fsm: { state: 'Idle', config: fsm.config }, actions };
}

/** Checks the peer's OPEN against the configuration (RFC 4271 §6.2) and settles the session. */
export function negotiate(
  config: FsmConfig,
  open: OpenMessage,
): Negotiated | { code: number; subcode: number; data: Buffer; detail: string } {
  const openError = (subcode: number, detail: string, data = Buffer.alloc(0)) => ({
    code: ErrorCode.OPEN,
    subcode,
    data,
    detail,
  });
  if (open.asNumber !== config.peerAs) {
    return openError(
      OpenSubcode.BAD_PEER_AS,
      `peer AS ${open.asNumber}, expected ${config.peerAs}`,
    );
  }
  if (open.bgpId === config.bgpId) {
    return openError(OpenSubcode.BAD_BGP_ID, `peer uses our own BGP identifier ${open.bgpId}`);
  }
  // A peer without multiprotocol capabilities speaks IPv4 unicast alone (RFC 4760 §8).
  const peerOffers = (afi: number): boolean =>
    open.multiprotocol.length === 0
      ? afi === 1
      : open.multiprotocol.some((f) => f.afi === afi && f.safi === 1);
  const ipv4 = config.ipv4Unicast !== false && peerOffers(1);
  const ipv6 = config.ipv6Unicast === true && peerOffers(2);
  if (!ipv4 && !ipv6) {
    const wanted = config.ipv4Unicast === false ? 'IPv6' : 'IPv4';
    return openError(OpenSubcode.UNSUPPORTED_CAPABILITY, `peer does not offer ${wanted} unicast`);
  }
  const holdTime = Math.min(config.holdTime, open.holdTime);
  return {
    holdTime,
    keepaliveTime: Math.floor(holdTime / 3),
    fourOctetAs: open.fourOctetAs,
    peerBgpId: open.bgpId,
    peerAs: open.asNumber,
    routeRefresh: open.routeRefresh,
    ...(ipv6 ? { ipv6Unicast: true } : {}),
    ...(ipv4 ? {} : { noIpv4Unicast: true }),
    ...(open.gracefulRestart ? { peerGracefulRestart: open.gracefulRestart } : {}),
  };
}

/** Timers that run while a session is open: hold and keepalive, unless hold time is 0. */
function sessionTimers(n: Negotiated): FsmAction[] {
  if (n.holdTime === 0) return [];
  return [
    { type: 'start-timer', timer: 'hold', seconds: n.holdTime },
    { type: 'start-timer', timer: 'keepalive', seconds: n.keepaliveTime },
  ];
}

export function step(fsm: Fsm, event: FsmEvent): { fsm: Fsm; actions: FsmAction[] } {
  const { state, config } = fsm;
  const stay = (actions: FsmAction[] = []) => ({ fsm, actions });
  const go = (next: SessionState, actions: FsmAction[], negotiated = fsm.negotiated) => ({
    fsm: {
      state: next,
      config,
      ...(negotiated ? { negotiated } : {}),
      // Failed attempts count until a session is up (see connectRetryAfter).
      ...(fsm.connectFailures && next !== 'Established'
        ? { connectFailures: fsm.connectFailures }
        : {}),
    },
    actions,
  });

  if (event.type === 'stop') {
    if (state === 'Idle') return { fsm, actions: stopTimers() };
    const open = state === 'OpenSent' || state === 'OpenConfirm' || state === 'Established';
    const subcode = event.subcode ?? CeaseSubcode.ADMINISTRATIVE_SHUTDOWN;
    return toIdle(fsm, 'stopped', 'stopped', open ? { code: ErrorCode.CEASE, subcode } : undefined);
  }
  if (event.type === 'bad-message') {
    const { code, subcode, data } = event.error;
    return toIdle(fsm, 'notification-sent', event.error.message, { code, subcode, data });
  }

  switch (state) {
    case 'Idle':
      // A peer connecting while we wait out the idle-hold time is taken (BIRD and GoBGP do the
      // same); a stopped session never gets here because its connections are refused.
      if (event.type === 'tcp-connected') {
        return go('OpenSent', [
          { type: 'stop-timer', timer: 'idle-hold' },
          { type: 'send-open' },
          { type: 'start-timer', timer: 'hold', seconds: LARGE_HOLD_TIME },
        ]);
      }
      if (event.type === 'start' || (event.type === 'timer' && event.timer === 'idle-hold')) {
        const retry: FsmAction = {
          type: 'start-timer',
          timer: 'connect-retry',
          seconds: config.connectRetryTime,
        };
        if (config.passive) return go('Active', [retry]);
        return go('Connect', [retry, { type: 'connect' }]);
      }
      return stay();

    case 'Connect':
    case 'Active':
      switch (event.type) {
        case 'tcp-connected':
          return go('OpenSent', [
            { type: 'stop-timer', timer: 'connect-retry' },
            { type: 'send-open' },
            { type: 'start-timer', timer: 'hold', seconds: LARGE_HOLD_TIME },
          ]);
        case 'tcp-failed':
          return retryLater(fsm, []);
        case 'timer':
          if (event.timer !== 'connect-retry') return stay();
          return go(config.passive ? 'Active' : 'Connect', [
            { type: 'start-timer', timer: 'connect-retry', seconds: config.connectRetryTime },
            ...(config.passive
              ? []
              : [{ type: 'disconnect' } as const, { type: 'connect' } as const]),
          ]);
        case 'message':
          // Nothing can arrive before a connection; a stray event is an FSM error.
          return toIdle(fsm, 'notification-sent', `${event.message.type} before OPEN`);
        default:
          return stay();
      }

    case 'OpenSent':
    case 'OpenConfirm':
    case 'Established':
      return stepOpen(fsm, event, go, stay);
  }
}

type Go = (
  next: SessionState,
  actions: FsmAction[],
  negotiated?: Negotiated,
) => { fsm: Fsm; actions: FsmAction[] };

/** The states with a connection up and an OPEN sent. */
function stepOpen(
  fsm: Fsm,
  event: FsmEvent,
  go: Go,
  stay: (actions?: FsmAction[]) => { fsm: Fsm; actions: FsmAction[] },
): { fsm: Fsm; actions: FsmAction[] } {
  const { state, config } = fsm;
  const fsmError = (what: string) =>
    toIdle(fsm, 'notification-sent', `unexpected ${what} in ${state}`, {
      code: ErrorCode.FSM,
      subcode: FSM_SUBCODE[state] ?? 0,
    });

  switch (event.type) {
    case 'start':
    case 'tcp-connected':
      return stay();
    case 'tcp-failed':
      if (state === 'OpenSent') {
        // RFC 4271 §8.2.2: back to Active and wait for the peer or the retry timer. A peer
        // that closes before its OPEN (a speaker not configured for us yet: a node that has
        // just joined) counts as a failed attempt like a refused connection.
        return retryLater(fsm, [{ type: 'stop-timer', timer: 'hold' }, { type: 'disconnect' }]);
      }
      return toIdle(fsm, 'tcp-failed', 'connection closed by peer');
    case 'timer':
      switch (event.timer) {
        case 'hold':
          return toIdle(fsm, 'notification-sent', 'hold timer expired', {
            code: ErrorCode.HOLD_TIMER_EXPIRED,
            subcode: 0,
          });
        case 'keepalive':
          if (state === 'OpenSent' || !fsm.negotiated) return stay();
          return stay([
            { type: 'send-keepalive' },
            { type: 'start-timer', timer: 'keepalive', seconds: fsm.negotiated.keepaliveTime },
          ]);
        default:
          return stay();
      }
    case 'message':
      break;
    default:
      return stay();
  }

  const msg = event.message;
  if (msg.type === 'notification') {
    return toIdle(fsm, 'notification-received', `NOTIFICATION ${msg.code}/${msg.subcode}`);
  }
  const holdRestart: FsmAction[] =
    fsm.negotiated && fsm.negotiated.holdTime > 0
      ? [{ type: 'start-timer', timer: 'hold', seconds: fsm.negotiated.holdTime }]
      : [];

  switch (state) {
    case 'OpenSent': {
      if (msg.type !== 'open') return fsmError(msg.type);
      const result = negotiate(config, msg);
      if (!('holdTime' in result)) {
        return toIdle(fsm, 'notification-sent', result.detail, result);
      }
      return go(
        'OpenConfirm',
        [
          { type: 'stop-timer', timer: 'hold' },
          { type: 'send-keepalive' },
          ...sessionTimers(result),
        ],
        result,
      );
    }
    case 'OpenConfirm':
      if (msg.type !== 'keepalive') return fsmError(msg.type);
      return go('Established', [
        ...holdRestart,
        { type: 'established', negotiated: fsm.negotiated! },
      ]);
    default:
      switch (msg.type) {
        case 'keepalive':
          return stay(holdRestart);
        case 'update':
          return stay([...holdRestart, { type: 'update', update: msg }]);
        case 'route-refresh':
          return stay([...holdRestart, { type: 'route-refresh', afi: msg.afi, safi: msg.safi }]);
        default:
          return fsmError(msg.type);
      }
  }
}

/**
 * Connection collision (RFC 4271 §6.8): of two connections with one peer, keep the one opened
 * by the side with the higher BGP identifier (compared as unsigned numbers).
 */
export function collisionKeeps(localId: string, remoteId: string): 'outgoing' | 'incoming' {
  return ipv4Word(localId) > ipv4Word(remoteId) ? 'outgoing' : 'incoming';
}
