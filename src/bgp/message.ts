// BGP-4 messages as plain data (RFC 4271 §4, with RFC 5492 capabilities, RFC 6793 4-octet AS,
// RFC 4760 multiprotocol, RFC 2918 route refresh, RFC 4724 graceful restart, RFC 4456
// reflection attributes). The codec turns these into bytes and back.
import type { Ipv6NextHop, Ipv6Prefix } from './nlri.js';
import type { Ipv4PrefixKey } from './prefix-key.js';

export const MessageType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5,
} as const;

export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
/** Stands in for a 4-octet AS in 2-octet fields (RFC 6793). */
export const AS_TRANS = 23456;
export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;

export const AttrType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MED: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
} as const;

export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

export const CapabilityCode = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
} as const;

/** NOTIFICATION error codes (RFC 4271 §4.5) and the subcodes podnet sends. */
export const ErrorCode = {
  HEADER: 1,
  OPEN: 2,
  UPDATE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
} as const;

export const HeaderSubcode = { NOT_SYNCHRONIZED: 1, BAD_LENGTH: 2, BAD_TYPE: 3 } as const;
export const OpenSubcode = {
  UNSPECIFIC: 0,
  UNSUPPORTED_VERSION: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_ID: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
} as const;
export const UpdateSubcode = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN: 2,
  MISSING_WELL_KNOWN: 3,
  ATTRIBUTE_FLAGS: 4,
  ATTRIBUTE_LENGTH: 5,
  INVALID_ORIGIN: 6,
  INVALID_NEXT_HOP: 8,
  OPTIONAL_ATTRIBUTE: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;
/** Cease subcodes (RFC 4486). */
export const CeaseSubcode = {
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  CONNECTION_COLLISION: 7,
} as const;

export interface AddressFamily {
  afi: number;
  safi: number;
}

export interface GracefulRestartCapability {
  /** R bit: the sender has restarted and its peers should not wait for it. */
  restarting: boolean;
  /** Seconds the peer should keep our routes while we are away (12 bits). */
  restartTime: number;
  /** Families whose forwarding state is kept, with the F (forwarding preserved) bit. */
  families: (AddressFamily & { forwardingPreserved: boolean })[];
}

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The real AS: from the 4-octet AS capability when present, else the 2-octet field. */
  asNumber: number;
  holdTime: number;
  bgpId: string;
  multiprotocol: AddressFamily[];
  routeRefresh: boolean;
  fourOctetAs: boolean;
  gracefulRestart?: GracefulRestartCapability;
  /** Capabilities podnet does not interpret; kept so they can be shown. */
  otherCapabilities: { code: number; data: Buffer }[];
}

export type Origin = 0 | 1 | 2;
export const ORIGIN_IGP: Origin = 0;

export const AsSegmentType = { SET: 1, SEQUENCE: 2, CONFED_SEQUENCE: 3, CONFED_SET: 4 } as const;
export interface AsPathSegment {
  type: number;
  asns: number[];
}

/** An attribute podnet does not interpret but passes on (optional transitive, RFC 4271 §5). */
export interface UnknownAttribute {
  flags: number;
  typeCode: number;
  value: Buffer;
}

/** The attributes of one UPDATE, shared by all its NLRI. */
export interface PathAttributes {
  origin: Origin;
  asPath: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asNumber: number; address: string };
  communities?: number[];
  originatorId?: string;
  clusterList?: string[];
  unknown: UnknownAttribute[];
}

/** IPv6 unicast routes of one UPDATE, carried in the MP attributes (RFC 4760). */
export interface Ipv6Routes {
  withdrawn: Ipv6Prefix[];
  nlri: Ipv6Prefix[];
  /** From MP_REACH_NLRI; absent when nothing is announced. */
  nextHop?: Ipv6NextHop;
  /** End-of-RIB for IPv6 unicast: the UPDATE held only an empty MP_UNREACH_NLRI (RFC 4724 §2). */
  endOfRib: boolean;
}

/**
 * What a peer sent in one UPDATE: IPv4 unicast, and IPv6 unicast when the session negotiated
 * it (other families are ignored).
 */
export interface UpdateMessage {
  type: 'update';
  withdrawn: Ipv4PrefixKey[];
  /** Absent when the UPDATE carried no path attributes (a pure withdrawal or End-of-RIB). */
  attributes?: PathAttributes;
  nlri: Ipv4PrefixKey[];
  /** Next hop from MP_REACH_NLRI, when NLRI came there rather than in the classic field. */
  mpNextHop?: string;
  /**
   * RFC 7606 outcome short of a session reset: 'treat-as-withdraw' means every NLRI of this
   * UPDATE has already been moved to `withdrawn`; discarded attributes are listed.
   */
  errors: UpdateError[];
  /** End-of-RIB marker for IPv4 unicast (RFC 4724 §2): an UPDATE with nothing in it. */
  endOfRib: boolean;
  /** Present when the UPDATE carried IPv6 unicast MP attributes. */
  ipv6?: Ipv6Routes;
}

export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Buffer;
}

export interface KeepaliveMessage {
  type: 'keepalive';
}

export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
}

export type Message =
  OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/** How an error in a received message is handled (RFC 4271 §6, RFC 7606 §2). */
export type ErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

/** A problem found in an UPDATE that did not need a session reset. */
export interface UpdateError {
  action: 'treat-as-withdraw' | 'attribute-discard';
  subcode: number;
  reason: string;
}

/**
 * A received message that forces the session down: the NOTIFICATION to send is in
 * code/subcode/data, exactly as RFC 4271 §6 asks for.
 */
export class BgpMessageError extends Error {
  readonly action: ErrorAction = 'session-reset';
  constructor(
    readonly code: number,
    readonly subcode: number,
    readonly data: Buffer,
    reason: string,
  ) {
    super(reason);
    this.name = 'BgpMessageError';
  }
}

/**
 * What the decoder must know of the session: whether AS numbers are 4 octets wide, and whether
 * IPv6 unicast was negotiated (without it, IPv6 MP attributes are ignored as RFC 4760 §7 allows).
 */
export interface CodecContext {
  fourOctetAs: boolean;
  ipv6Unicast?: boolean;
}

/** An UPDATE error that resets the session (RFC 4271 §6.3). */
export function updateError(
  subcode: number,
  reason: string,
  data: Buffer = Buffer.alloc(0),
): BgpMessageError {
  return new BgpMessageError(ErrorCode.UPDATE, subcode, data, reason);
}
