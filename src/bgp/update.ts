// UPDATE messages (RFC 4271 §4.3) to bytes and back: the withdrawn routes and NLRI fields, the
// path attributes through the attribute table, IPv6 unicast through the MP attributes, and the
// packing of many prefixes into as few messages as fit.
import { decodeAttributes, treatAsWithdraw } from './attributes/decode.js';
import { encodeIpv6Reach, encodeIpv6Unreach } from './attributes/multiprotocol.js';
import { encodeAttributes } from './attributes/table.js';
import { withHeader } from './framing.js';
import { prefixWireSize, readPrefixes, writePrefix } from './ipv4.js';
import {
  HEADER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  UpdateSubcode,
  updateError,
  type CodecContext,
  type PathAttributes,
  type UpdateMessage,
} from './message.js';
import { ipv6PrefixWireSize, type Ipv6NextHop, type Ipv6Prefix } from './nlri.js';
import type { Ipv4PrefixKey } from './prefix-key.js';

export function decodeUpdate(body: Buffer, ctx: CodecContext): UpdateMessage {
  const malformedList = (reason: string) =>
    updateError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason);
  if (body.length < 4) throw malformedList('UPDATE too short for its length fields');
  const withdrawnLength = body.readUInt16BE(0);
  if (2 + withdrawnLength + 2 > body.length) {
    throw malformedList(`withdrawn routes length ${withdrawnLength} runs past the message`);
  }
  const attrsStart = 2 + withdrawnLength + 2;
  const attrsLength = body.readUInt16BE(2 + withdrawnLength);
  if (attrsStart + attrsLength > body.length) {
    throw malformedList(`total path attribute length ${attrsLength} runs past the message`);
  }
  const invalidNetwork = (what: string) =>
    updateError(UpdateSubcode.INVALID_NETWORK_FIELD, `malformed prefix in ${what}`);
  const withdrawn = readPrefixes(body, 2, 2 + withdrawnLength);
  if (!withdrawn) throw invalidNetwork('withdrawn routes');
  const nlri = readPrefixes(body, attrsStart + attrsLength, body.length);
  if (!nlri) throw invalidNetwork('NLRI');

  const update: UpdateMessage = { type: 'update', withdrawn, nlri, errors: [], endOfRib: false };
  if (attrsLength === 0) {
    update.endOfRib = withdrawn.length === 0 && nlri.length === 0;
    if (nlri.length > 0) {
      treatAsWithdraw(update, UpdateSubcode.MISSING_WELL_KNOWN, 'NLRI without attributes');
      update.withdrawn = [...withdrawn, ...nlri];
      update.nlri = [];
    }
    return update;
  }
  decodeAttributes(body.subarray(attrsStart, attrsStart + attrsLength), ctx, update);
  return update;
}

/** One UPDATE from already encoded parts. Throws when it would exceed 4096 octets. */
function updateMessage(
  withdrawn: readonly Ipv4PrefixKey[],
  attrs: Buffer,
  nlri: readonly Ipv4PrefixKey[],
): Buffer {
  const wSize = withdrawn.reduce((n, p) => n + prefixWireSize(p), 0);
  const nSize = nlri.reduce((n, p) => n + prefixWireSize(p), 0);
  const body = Buffer.alloc(4 + wSize + attrs.length + nSize);
  body.writeUInt16BE(wSize, 0);
  let pos = 2;
  for (const p of withdrawn) pos = writePrefix(body, pos, p);
  body.writeUInt16BE(attrs.length, pos);
  pos += 2;
  attrs.copy(body, pos);
  pos += attrs.length;
  for (const p of nlri) pos = writePrefix(body, pos, p);
  return withHeader(MessageType.UPDATE, body);
}

/** IPv6 unicast content of an UPDATE; `withdrawn: []` alone is the IPv6 End-of-RIB. */
export interface Ipv6UpdateContent {
  withdrawn?: Ipv6Prefix[];
  nlri?: Ipv6Prefix[];
  /** Required when `nlri` is not empty. */
  nextHop?: Ipv6NextHop;
}

export interface UpdateContent {
  withdrawn?: Ipv4PrefixKey[];
  attributes?: PathAttributes;
  nlri?: Ipv4PrefixKey[];
  ipv6?: Ipv6UpdateContent;
}

/** The MP attributes for IPv6 content, after the path attributes. */
function ipv6Attributes(ipv6: Ipv6UpdateContent): Buffer[] {
  const parts: Buffer[] = [];
  if (ipv6.nlri?.length) {
    if (!ipv6.nextHop) throw new Error('IPv6 NLRI without a next hop');
    parts.push(encodeIpv6Reach(ipv6.nlri, ipv6.nextHop));
  }
  if (ipv6.withdrawn) parts.push(encodeIpv6Unreach(ipv6.withdrawn));
  return parts;
}

/** Encodes exactly one UPDATE (tests and small messages); throws when it would not fit. */
export function encodeUpdate(u: UpdateContent, ctx: CodecContext): Buffer {
  const parts = u.attributes ? [encodeAttributes(u.attributes, ctx)] : [];
  if (u.ipv6) parts.push(...ipv6Attributes(u.ipv6));
  return updateMessage(u.withdrawn ?? [], Buffer.concat(parts), u.nlri ?? []);
}

const UPDATE_ROOM = MAX_MESSAGE_LENGTH - HEADER_LENGTH - 4;

/** Splits prefixes into runs whose wire size (`sizeOf` each) fits in `room` octets. */
function packPrefixes<P>(
  prefixes: readonly P[],
  room: number,
  sizeOf: (prefix: P) => number,
): P[][] {
  const runs: P[][] = [];
  let run: P[] = [];
  let size = 0;
  for (const p of prefixes) {
    const n = sizeOf(p);
    if (size + n > room && run.length > 0) {
      runs.push(run);
      run = [];
      size = 0;
    }
    run.push(p);
    size += n;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** As many UPDATEs as it takes to announce `nlri` with one set of attributes. */
export function encodeAnnouncements(
  attributes: PathAttributes,
  nlri: readonly Ipv4PrefixKey[],
  ctx: CodecContext,
): Buffer[] {
  const attrs = encodeAttributes(attributes, ctx);
  return packPrefixes(nlri, UPDATE_ROOM - attrs.length, prefixWireSize).map((run) =>
    updateMessage([], attrs, run),
  );
}

/** As many UPDATEs as it takes to withdraw `prefixes`. */
export function encodeWithdrawals(prefixes: readonly Ipv4PrefixKey[]): Buffer[] {
  return packPrefixes(prefixes, UPDATE_ROOM, prefixWireSize).map((run) =>
    updateMessage(run, Buffer.alloc(0), []),
  );
}

/** End-of-RIB for IPv4 unicast (RFC 4724 §2). */
export function encodeEndOfRib(): Buffer {
  return updateMessage([], Buffer.alloc(0), []);
}

/**
 * Octets MP_REACH_NLRI takes besides its prefixes: the extended-length header, AFI, SAFI, the
 * next hop's length, the longest next hop (global and link-local) and the reserved octet.
 */
const MP_REACH_OVERHEAD = 4 + 3 + 1 + 32 + 1;
/** Octets MP_UNREACH_NLRI takes besides its prefixes. */
const MP_UNREACH_OVERHEAD = 4 + 3;

/**
 * As many UPDATEs as it takes to announce IPv6 `nlri` with one set of attributes via
 * `nextHop`. NEXT_HOP is left out: MP_REACH_NLRI carries the IPv6 one (RFC 4760 §3).
 */
export function encodeIpv6Announcements(
  attributes: PathAttributes,
  nlri: readonly Ipv6Prefix[],
  nextHop: Ipv6NextHop,
  ctx: CodecContext,
): Buffer[] {
  const withoutIpv4NextHop = { ...attributes };
  delete withoutIpv4NextHop.nextHop;
  const attrs = encodeAttributes(withoutIpv4NextHop, ctx);
  const room = UPDATE_ROOM - attrs.length - MP_REACH_OVERHEAD;
  return packPrefixes(nlri, room, ipv6PrefixWireSize).map((run) =>
    updateMessage([], Buffer.concat([attrs, ...ipv6Attributes({ nlri: run, nextHop })]), []),
  );
}

/** As many UPDATEs as it takes to withdraw IPv6 `prefixes`. */
export function encodeIpv6Withdrawals(prefixes: readonly Ipv6Prefix[]): Buffer[] {
  return packPrefixes(prefixes, UPDATE_ROOM - MP_UNREACH_OVERHEAD, ipv6PrefixWireSize).map((run) =>
    updateMessage([], Buffer.concat(ipv6Attributes({ withdrawn: run })), []),
  );
}

/** End-of-RIB for IPv6 unicast: an UPDATE with only an empty MP_UNREACH_NLRI (RFC 4724 §2). */
export function encodeIpv6EndOfRib(): Buffer {
  return updateMessage([], Buffer.concat(ipv6Attributes({ withdrawn: [] })), []);
}
