// BGP-4 messages to bytes and back. Pure: no sockets, no clocks. A received message that breaks
// the session throws BgpMessageError carrying the NOTIFICATION RFC 4271 §6 asks for; an UPDATE
// whose attributes are merely malformed decodes with RFC 7606's lighter outcome recorded in
// `errors` (treat-as-withdraw or attribute-discard).
import { formatIPv4, ipv4Word, prefixWireSize, readPrefixes, writePrefix } from './ipv4.js';
import {
  AFI_IPV4,
  AS_TRANS,
  AsSegmentType,
  AttrFlag,
  AttrType,
  BgpMessageError,
  CapabilityCode,
  ErrorCode,
  HEADER_LENGTH,
  HeaderSubcode,
  MAX_MESSAGE_LENGTH,
  MessageType,
  OpenSubcode,
  SAFI_UNICAST,
  UpdateSubcode,
  type AsPathSegment,
  type CodecContext,
  type Message,
  type NotificationMessage,
  type OpenMessage,
  type Origin,
  type PathAttributes,
  type RouteRefreshMessage,
  type UpdateMessage,
} from './message.js';

// ---------------------------------------------------------------- framing

/** Smallest and largest length of each message type (RFC 4271 §4, RFC 2918 §3). */
const LENGTH_BOUNDS: Record<number, [number, number]> = {
  [MessageType.OPEN]: [29, MAX_MESSAGE_LENGTH],
  [MessageType.UPDATE]: [23, MAX_MESSAGE_LENGTH],
  [MessageType.NOTIFICATION]: [21, MAX_MESSAGE_LENGTH],
  [MessageType.KEEPALIVE]: [19, 19],
  [MessageType.ROUTE_REFRESH]: [23, 23],
};

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

/**
 * Checks the 19-octet header at `pos` and returns the message length and type
 * (RFC 4271 §6.1): bad marker → 1/1, bad length → 1/2 with the length field, unknown type → 1/3.
 */
export function readHeader(buf: Buffer, pos: number): { length: number; type: number } {
  for (let i = 0; i < 16; i++) {
    if (buf[pos + i] !== 0xff) {
      throw new BgpMessageError(
        ErrorCode.HEADER,
        HeaderSubcode.NOT_SYNCHRONIZED,
        Buffer.alloc(0),
        'message header marker is not all ones',
      );
    }
  }
  const length = buf.readUInt16BE(pos + 16);
  const type = buf[pos + 18]!;
  const bounds = LENGTH_BOUNDS[type];
  if (!bounds) {
    throw new BgpMessageError(
      ErrorCode.HEADER,
      HeaderSubcode.BAD_TYPE,
      Buffer.from([type]),
      `unknown message type ${type}`,
    );
  }
  if (length < bounds[0] || length > bounds[1]) {
    throw new BgpMessageError(
      ErrorCode.HEADER,
      HeaderSubcode.BAD_LENGTH,
      u16(length),
      `message length ${length} is outside ${bounds[0]}..${bounds[1]} for type ${type}`,
    );
  }
  return { length, type };
}

/**
 * Splits a byte stream into whole messages. `rest` holds the bytes of a message not yet
 * complete. Throws BgpMessageError on a bad header.
 */
export function frameMessages(stream: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let pos = 0;
  while (stream.length - pos >= HEADER_LENGTH) {
    const { length } = readHeader(stream, pos);
    if (stream.length - pos < length) break;
    messages.push(stream.subarray(pos, pos + length));
    pos += length;
  }
  return { messages, rest: stream.subarray(pos) };
}

function withHeader(type: number, body: Buffer): Buffer {
  const length = HEADER_LENGTH + body.length;
  if (length > MAX_MESSAGE_LENGTH) throw new Error(`BGP message of ${length} octets is too long`);
  const out = Buffer.alloc(length, 0xff);
  out.writeUInt16BE(length, 16);
  out[18] = type;
  body.copy(out, HEADER_LENGTH);
  return out;
}

// ---------------------------------------------------------------- decoding

/** Decodes one whole message (header included), as framed by frameMessages. */
export function decodeMessage(msg: Buffer, ctx: CodecContext): Message {
  const { type } = readHeader(msg, 0);
  try {
    return decodeBody(type, msg, ctx);
  } catch (err) {
    if (err instanceof BgpMessageError) throw err;
    // A bounds check this decoder missed must still end in a NOTIFICATION, never a crash.
    const code = type === MessageType.OPEN ? ErrorCode.OPEN : ErrorCode.UPDATE;
    throw new BgpMessageError(code, 0, Buffer.alloc(0), `undecodable message: ${String(err)}`);
  }
}

function decodeBody(type: number, msg: Buffer, ctx: CodecContext): Message {
  const body = msg.subarray(HEADER_LENGTH);
  switch (type) {
    case MessageType.OPEN:
      return decodeOpen(body);
    case MessageType.UPDATE:
      return decodeUpdate(body, ctx);
    case MessageType.NOTIFICATION:
      return { type: 'notification', code: body[0]!, subcode: body[1]!, data: body.subarray(2) };
    case MessageType.KEEPALIVE:
      return { type: 'keepalive' };
    default:
      return { type: 'route-refresh', afi: body.readUInt16BE(0), safi: body[3]! };
  }
}

function openError(
  subcode: number,
  reason: string,
  data: Buffer = Buffer.alloc(0),
): BgpMessageError {
  return new BgpMessageError(ErrorCode.OPEN, subcode, data, reason);
}

export function decodeOpen(body: Buffer): OpenMessage {
  const version = body[0]!;
  // Data of an unsupported version error: the largest version we support (RFC 4271 §6.2).
  if (version !== 4)
    throw openError(OpenSubcode.UNSUPPORTED_VERSION, `BGP version ${version}`, u16(4));
  const myAs = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  if (holdTime === 1 || holdTime === 2) {
    throw openError(OpenSubcode.UNACCEPTABLE_HOLD_TIME, `hold time ${holdTime} is below 3`);
  }
  const id = body.readUInt32BE(5);
  if (id === 0) throw openError(OpenSubcode.BAD_BGP_ID, 'BGP identifier 0.0.0.0');
  const paramsLength = body[9]!;
  if (10 + paramsLength !== body.length) {
    throw openError(
      OpenSubcode.UNSPECIFIC,
      `optional parameters length ${paramsLength} does not match the message`,
    );
  }
  const open: OpenMessage = {
    type: 'open',
    version,
    asNumber: myAs,
    holdTime,
    bgpId: formatIPv4(id),
    multiprotocol: [],
    routeRefresh: false,
    fourOctetAs: false,
    otherCapabilities: [],
  };
  let pos = 10;
  while (pos < body.length) {
    if (pos + 2 > body.length || pos + 2 + body[pos + 1]! > body.length) {
      throw openError(OpenSubcode.UNSPECIFIC, 'optional parameter runs past the message');
    }
    const paramType = body[pos]!;
    const paramEnd = pos + 2 + body[pos + 1]!;
    if (paramType !== 2) {
      throw openError(
        OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
        `optional parameter type ${paramType}`,
        body.subarray(pos, paramEnd),
      );
    }
    decodeCapabilities(body.subarray(pos + 2, paramEnd), open);
    pos = paramEnd;
  }
  return open;
}

function decodeCapabilities(caps: Buffer, open: OpenMessage): void {
  let pos = 0;
  while (pos < caps.length) {
    if (pos + 2 > caps.length || pos + 2 + caps[pos + 1]! > caps.length) {
      throw openError(OpenSubcode.UNSPECIFIC, 'capability runs past its parameter');
    }
    const code = caps[pos]!;
    const data = caps.subarray(pos + 2, pos + 2 + caps[pos + 1]!);
    pos += 2 + data.length;
    const bad = (): BgpMessageError =>
      openError(OpenSubcode.UNSPECIFIC, `capability ${code} has bad length ${data.length}`);
    switch (code) {
      case CapabilityCode.MULTIPROTOCOL:
        if (data.length !== 4) throw bad();
        open.multiprotocol.push({ afi: data.readUInt16BE(0), safi: data[3]! });
        break;
      case CapabilityCode.ROUTE_REFRESH:
        open.routeRefresh = true;
        break;
      case CapabilityCode.FOUR_OCTET_AS:
        if (data.length !== 4) throw bad();
        open.fourOctetAs = true;
        open.asNumber = data.readUInt32BE(0);
        break;
      case CapabilityCode.GRACEFUL_RESTART: {
        if (data.length < 2 || (data.length - 2) % 4 !== 0) throw bad();
        const head = data.readUInt16BE(0);
        const families = [];
        for (let i = 2; i < data.length; i += 4) {
          families.push({
            afi: data.readUInt16BE(i),
            safi: data[i + 2]!,
            forwardingPreserved: (data[i + 3]! & 0x80) !== 0,
          });
        }
        open.gracefulRestart = {
          restarting: (head & 0x8000) !== 0,
          restartTime: head & 0x0fff,
          families,
        };
        break;
      }
      default:
        open.otherCapabilities.push({ code, data: Buffer.from(data) });
    }
  }
}

/** Expected optional/transitive bits of each attribute podnet interprets (RFC 4271 §5). */
const EXPECTED_FLAGS: Record<number, number> = {
  [AttrType.ORIGIN]: AttrFlag.TRANSITIVE,
  [AttrType.AS_PATH]: AttrFlag.TRANSITIVE,
  [AttrType.NEXT_HOP]: AttrFlag.TRANSITIVE,
  [AttrType.MED]: AttrFlag.OPTIONAL,
  [AttrType.LOCAL_PREF]: AttrFlag.TRANSITIVE,
  [AttrType.ATOMIC_AGGREGATE]: AttrFlag.TRANSITIVE,
  [AttrType.AGGREGATOR]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.COMMUNITIES]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.ORIGINATOR_ID]: AttrFlag.OPTIONAL,
  [AttrType.CLUSTER_LIST]: AttrFlag.OPTIONAL,
  [AttrType.MP_REACH_NLRI]: AttrFlag.OPTIONAL,
  [AttrType.MP_UNREACH_NLRI]: AttrFlag.OPTIONAL,
  [AttrType.AS4_PATH]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.AS4_AGGREGATOR]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
};

/**
 * RFC 7606 §7: what a malformed instance of each attribute costs. Attributes not listed here
 * that podnet interprets are ATOMIC_AGGREGATE, AGGREGATOR, AS4_* (attribute-discard), and the
 * MP attributes (session reset, since their NLRI cannot be trusted).
 */
const ON_MALFORMED: Record<number, 'treat-as-withdraw' | 'attribute-discard' | 'session-reset'> = {
  [AttrType.ORIGIN]: 'treat-as-withdraw',
  [AttrType.AS_PATH]: 'treat-as-withdraw',
  [AttrType.NEXT_HOP]: 'treat-as-withdraw',
  [AttrType.MED]: 'treat-as-withdraw',
  [AttrType.LOCAL_PREF]: 'treat-as-withdraw',
  [AttrType.ATOMIC_AGGREGATE]: 'attribute-discard',
  [AttrType.AGGREGATOR]: 'attribute-discard',
  [AttrType.COMMUNITIES]: 'treat-as-withdraw',
  [AttrType.ORIGINATOR_ID]: 'treat-as-withdraw',
  [AttrType.CLUSTER_LIST]: 'treat-as-withdraw',
  [AttrType.MP_REACH_NLRI]: 'session-reset',
  [AttrType.MP_UNREACH_NLRI]: 'session-reset',
  [AttrType.AS4_PATH]: 'attribute-discard',
  [AttrType.AS4_AGGREGATOR]: 'attribute-discard',
};

function updateError(
  subcode: number,
  reason: string,
  data: Buffer = Buffer.alloc(0),
): BgpMessageError {
  return new BgpMessageError(ErrorCode.UPDATE, subcode, data, reason);
}

/** Decodes AS_PATH/AS4_PATH segments; undefined when malformed (RFC 7606 §7.2). */
function decodeAsPath(value: Buffer, asnSize: 2 | 4): AsPathSegment[] | undefined {
  const segments: AsPathSegment[] = [];
  let pos = 0;
  while (pos < value.length) {
    if (pos + 2 > value.length) return undefined;
    const type = value[pos]!;
    const count = value[pos + 1]!;
    if (type < AsSegmentType.SET || type > AsSegmentType.CONFED_SET || count === 0) {
      return undefined;
    }
    if (pos + 2 + count * asnSize > value.length) return undefined;
    const asns: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = pos + 2 + i * asnSize;
      asns.push(asnSize === 4 ? value.readUInt32BE(at) : value.readUInt16BE(at));
    }
    segments.push({ type, asns });
    pos += 2 + count * asnSize;
  }
  return segments;
}

/** Number of ASes a path counts as for best-path selection (a SET counts once, confeds not). */
export function asPathLength(segments: AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === AsSegmentType.SEQUENCE) n += s.asns.length;
    else if (s.type === AsSegmentType.SET) n += 1;
  }
  return n;
}

/**
 * Rebuilds the real path from AS_PATH (with AS_TRANS) and AS4_PATH, sent by a 2-octet speaker
 * (RFC 6793 §4.2.3): the leading ASes AS4_PATH lacks come from AS_PATH.
 */
function mergeAs4Path(asPath: AsPathSegment[], as4Path: AsPathSegment[]): AsPathSegment[] {
  const extra = asPathLength(asPath) - asPathLength(as4Path);
  if (extra < 0) return asPath;
  const lead: AsPathSegment[] = [];
  let need = extra;
  for (const s of asPath) {
    if (need <= 0) break;
    if (s.type === AsSegmentType.SEQUENCE) {
      const take = s.asns.slice(0, need);
      lead.push({ type: s.type, asns: take });
      need -= take.length;
    } else if (s.type === AsSegmentType.SET) {
      lead.push(s);
      need -= 1;
    } else lead.push(s);
  }
  return [...lead, ...as4Path];
}

export function decodeUpdate(body: Buffer, ctx: CodecContext): UpdateMessage {
  const malformedList = (reason: string): BgpMessageError =>
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
  const invalidNetwork = (what: string): BgpMessageError =>
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

function treatAsWithdraw(update: UpdateMessage, subcode: number, reason: string): void {
  update.errors.push({ action: 'treat-as-withdraw', subcode, reason });
}

/** Fills update.attributes, MP NLRI and errors from the path attributes field. */
function decodeAttributes(attrs: Buffer, ctx: CodecContext, update: UpdateMessage): void {
  const asnSize = ctx.fourOctetAs ? 4 : 2;
  const out: PathAttributes = { origin: 0, asPath: [], unknown: [] };
  const seen = new Set<number>();
  let as4Path: AsPathSegment[] | undefined;
  let attributeCount = 0;
  let emptyIpv4Unreach = false;
  let pos = 0;
  while (pos < attrs.length) {
    const flags = attrs[pos]!;
    const headerLength = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    if (pos + headerLength > attrs.length) {
      // RFC 7606 §4: too few octets for an attribute header.
      treatAsWithdraw(update, UpdateSubcode.ATTRIBUTE_LENGTH, 'attribute header truncated');
      break;
    }
    const typeCode = attrs[pos + 1]!;
    const length = headerLength === 4 ? attrs.readUInt16BE(pos + 2) : attrs[pos + 2]!;
    const valueStart = pos + headerLength;
    if (valueStart + length > attrs.length) {
      // RFC 7606 §4: an attribute overrunning the field; the NLRI are still found.
      if (typeCode === AttrType.MP_REACH_NLRI || typeCode === AttrType.MP_UNREACH_NLRI) {
        throw updateError(
          UpdateSubcode.ATTRIBUTE_LENGTH,
          `attribute ${typeCode} runs past the path attributes`,
          attrs.subarray(pos),
        );
      }
      treatAsWithdraw(
        update,
        UpdateSubcode.ATTRIBUTE_LENGTH,
        `attribute ${typeCode} length ${length} runs past the path attributes`,
      );
      break;
    }
    const whole = attrs.subarray(pos, valueStart + length);
    const value = attrs.subarray(valueStart, valueStart + length);
    pos = valueStart + length;
    attributeCount++;
    if (typeCode === AttrType.MP_UNREACH_NLRI && length === 3) {
      emptyIpv4Unreach = value.readUInt16BE(0) === AFI_IPV4 && value[2] === SAFI_UNICAST;
    }

    if (seen.has(typeCode)) {
      // RFC 7606 §3(g): a repeated MP attribute resets the session; others are dropped.
      if (typeCode === AttrType.MP_REACH_NLRI || typeCode === AttrType.MP_UNREACH_NLRI) {
        throw updateError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `attribute ${typeCode} repeated`);
      }
      update.errors.push({
        action: 'attribute-discard',
        subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        reason: `attribute ${typeCode} repeated`,
      });
      continue;
    }
    seen.add(typeCode);

    const expected = EXPECTED_FLAGS[typeCode];
    if (expected === undefined) {
      if (!(flags & AttrFlag.OPTIONAL)) {
        throw updateError(
          UpdateSubcode.UNRECOGNIZED_WELL_KNOWN,
          `unrecognized well-known attribute ${typeCode}`,
          Buffer.from(whole),
        );
      }
      // Optional non-transitive attributes we do not know are dropped quietly (RFC 4271 §5).
      if (flags & AttrFlag.TRANSITIVE) {
        out.unknown.push({ flags: flags & 0xf0, typeCode, value: Buffer.from(value) });
      }
      continue;
    }

    const malformed = (subcode: number, reason: string): void => {
      const action = ON_MALFORMED[typeCode]!;
      if (action === 'session-reset') throw updateError(subcode, reason, Buffer.from(whole));
      update.errors.push({ action, subcode, reason });
    };
    if ((flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== expected) {
      malformed(
        UpdateSubcode.ATTRIBUTE_FLAGS,
        `attribute ${typeCode} has flags 0x${flags.toString(16)}`,
      );
      continue;
    }
    const lengthMustBe = (n: number): boolean => {
      if (length === n) return true;
      malformed(
        UpdateSubcode.ATTRIBUTE_LENGTH,
        `attribute ${typeCode} has length ${length}, not ${n}`,
      );
      return false;
    };
    switch (typeCode) {
      case AttrType.ORIGIN:
        if (!lengthMustBe(1)) break;
        if (value[0]! > 2) malformed(UpdateSubcode.INVALID_ORIGIN, `ORIGIN ${value[0]}`);
        else out.origin = value[0] as Origin;
        break;
      case AttrType.AS_PATH: {
        const path = decodeAsPath(value, asnSize);
        if (!path) malformed(UpdateSubcode.MALFORMED_AS_PATH, 'malformed AS_PATH');
        else out.asPath = path;
        break;
      }
      case AttrType.NEXT_HOP: {
        if (!lengthMustBe(4)) break;
        const nh = value.readUInt32BE(0);
        // 0.0.0.0 and multicast addresses cannot be next hops (RFC 4271 §6.3).
        if (nh === 0 || nh >>> 28 === 0xe) {
          malformed(UpdateSubcode.INVALID_NEXT_HOP, `NEXT_HOP ${formatIPv4(nh)}`);
        } else out.nextHop = formatIPv4(nh);
        break;
      }
      case AttrType.MED:
        if (lengthMustBe(4)) out.med = value.readUInt32BE(0);
        break;
      case AttrType.LOCAL_PREF:
        if (lengthMustBe(4)) out.localPref = value.readUInt32BE(0);
        break;
      case AttrType.ATOMIC_AGGREGATE:
        if (lengthMustBe(0)) out.atomicAggregate = true;
        break;
      case AttrType.AGGREGATOR:
        if (lengthMustBe(asnSize + 4)) {
          out.aggregator = {
            asNumber: asnSize === 4 ? value.readUInt32BE(0) : value.readUInt16BE(0),
            address: formatIPv4(value.readUInt32BE(asnSize)),
          };
        }
        break;
      case AttrType.AS4_AGGREGATOR:
        // Only a 2-octet speaker's AS4_AGGREGATOR carries information (RFC 6793 §4.2.3).
        if (lengthMustBe(8) && !ctx.fourOctetAs && out.aggregator?.asNumber === AS_TRANS) {
          out.aggregator.asNumber = value.readUInt32BE(0);
        }
        break;
      case AttrType.COMMUNITIES:
      case AttrType.CLUSTER_LIST: {
        if (length === 0 || length % 4 !== 0) {
          malformed(UpdateSubcode.OPTIONAL_ATTRIBUTE, `attribute ${typeCode} length ${length}`);
          break;
        }
        const words: number[] = [];
        for (let i = 0; i < length; i += 4) words.push(value.readUInt32BE(i));
        if (typeCode === AttrType.COMMUNITIES) out.communities = words;
        else out.clusterList = words.map(formatIPv4);
        break;
      }
      case AttrType.ORIGINATOR_ID:
        if (lengthMustBe(4)) out.originatorId = formatIPv4(value.readUInt32BE(0));
        break;
      case AttrType.AS4_PATH: {
        const path = decodeAsPath(value, 4);
        if (!path) malformed(UpdateSubcode.OPTIONAL_ATTRIBUTE, 'malformed AS4_PATH');
        else if (!ctx.fourOctetAs) as4Path = path;
        break;
      }
      case AttrType.MP_REACH_NLRI:
        decodeMpReach(value, whole, update);
        break;
      case AttrType.MP_UNREACH_NLRI:
        decodeMpUnreach(value, whole, update);
        break;
    }
  }
  if (as4Path) out.asPath = mergeAs4Path(out.asPath, as4Path);
  update.attributes = out;
  // End-of-RIB may also come as an UPDATE holding only an empty MP_UNREACH_NLRI (RFC 4724 §2).
  update.endOfRib = attributeCount === 1 && emptyIpv4Unreach && update.nlri.length === 0;
  if (update.endOfRib) delete update.attributes;
  checkMandatory(update, seen);
  if (update.errors.some((e) => e.action === 'treat-as-withdraw')) {
    update.withdrawn = [...update.withdrawn, ...update.nlri];
    update.nlri = [];
    delete update.mpNextHop;
  }
}

/** RFC 4271 §6.3 / RFC 7606 §3(d): missing well-known attributes are a treat-as-withdraw. */
function checkMandatory(update: UpdateMessage, seen: Set<number>): void {
  if (update.nlri.length === 0) return;
  const needed: number[] = [AttrType.ORIGIN, AttrType.AS_PATH];
  // NEXT_HOP is needed only for NLRI in the classic field (RFC 4760 §3 makes MP NLRI carry it).
  if (update.mpNextHop === undefined) needed.push(AttrType.NEXT_HOP);
  for (const t of needed) {
    if (!seen.has(t)) {
      treatAsWithdraw(update, UpdateSubcode.MISSING_WELL_KNOWN, `missing attribute ${t}`);
      return;
    }
  }
}

function mpFamily(value: Buffer): { afi: number; safi: number } {
  return { afi: value.readUInt16BE(0), safi: value[2]! };
}

function decodeMpReach(value: Buffer, whole: Buffer, update: UpdateMessage): void {
  const bad = (reason: string): BgpMessageError =>
    updateError(UpdateSubcode.OPTIONAL_ATTRIBUTE, reason, Buffer.from(whole));
  if (value.length < 5) throw bad('MP_REACH_NLRI too short');
  const { afi, safi } = mpFamily(value);
  const nhLength = value[3]!;
  if (5 + nhLength > value.length) throw bad('MP_REACH_NLRI next hop runs past the attribute');
  // Families other than IPv4 unicast were not negotiated by us; RFC 4760 §7 lets us ignore them.
  if (afi !== AFI_IPV4 || safi !== SAFI_UNICAST) return;
  if (nhLength !== 4) throw bad(`MP_REACH_NLRI IPv4 next hop of ${nhLength} octets`);
  const prefixes = readPrefixes(value, 5 + nhLength, value.length);
  if (!prefixes) throw bad('malformed prefix in MP_REACH_NLRI');
  update.mpNextHop = formatIPv4(value.readUInt32BE(4));
  update.nlri = [...update.nlri, ...prefixes];
}

function decodeMpUnreach(value: Buffer, whole: Buffer, update: UpdateMessage): void {
  const bad = (reason: string): BgpMessageError =>
    updateError(UpdateSubcode.OPTIONAL_ATTRIBUTE, reason, Buffer.from(whole));
  if (value.length < 3) throw bad('MP_UNREACH_NLRI too short');
  const { afi, safi } = mpFamily(value);
  if (afi !== AFI_IPV4 || safi !== SAFI_UNICAST) return;
  const prefixes = readPrefixes(value, 3, value.length);
  if (!prefixes) throw bad('malformed prefix in MP_UNREACH_NLRI');
  update.withdrawn = [...update.withdrawn, ...prefixes];
}

// ---------------------------------------------------------------- encoding

export interface OpenParams {
  asNumber: number;
  holdTime: number;
  bgpId: string;
  /** Seconds, when graceful restart is offered. */
  gracefulRestart?: { restarting: boolean; restartTime: number; forwardingPreserved: boolean };
}

export function encodeOpen(p: OpenParams): Buffer {
  const caps: Buffer[] = [];
  const cap = (code: number, data: Buffer): void => {
    caps.push(Buffer.concat([Buffer.from([code, data.length]), data]));
  };
  cap(CapabilityCode.MULTIPROTOCOL, Buffer.from([0, AFI_IPV4, 0, SAFI_UNICAST]));
  cap(CapabilityCode.ROUTE_REFRESH, Buffer.alloc(0));
  const as4 = Buffer.alloc(4);
  as4.writeUInt32BE(p.asNumber);
  cap(CapabilityCode.FOUR_OCTET_AS, as4);
  if (p.gracefulRestart) {
    const gr = Buffer.alloc(6);
    gr.writeUInt16BE(
      (p.gracefulRestart.restarting ? 0x8000 : 0) | (p.gracefulRestart.restartTime & 0xfff),
    );
    gr.writeUInt16BE(AFI_IPV4, 2);
    gr[4] = SAFI_UNICAST;
    gr[5] = p.gracefulRestart.forwardingPreserved ? 0x80 : 0;
    cap(CapabilityCode.GRACEFUL_RESTART, gr);
  }
  // One capabilities parameter holding them all (RFC 5492 allows either form).
  const capBytes = Buffer.concat(caps);
  const body = Buffer.alloc(10);
  body[0] = 4;
  body.writeUInt16BE(p.asNumber > 0xffff ? AS_TRANS : p.asNumber, 1);
  body.writeUInt16BE(p.holdTime, 3);
  body.writeUInt32BE(ipv4Word(p.bgpId), 5);
  body[9] = capBytes.length + 2;
  return withHeader(
    MessageType.OPEN,
    Buffer.concat([body, Buffer.from([2, capBytes.length]), capBytes]),
  );
}

export function encodeKeepalive(): Buffer {
  return withHeader(MessageType.KEEPALIVE, Buffer.alloc(0));
}

export function encodeNotification(n: Omit<NotificationMessage, 'type'>): Buffer {
  return withHeader(
    MessageType.NOTIFICATION,
    Buffer.concat([Buffer.from([n.code, n.subcode]), n.data]),
  );
}

export function encodeRouteRefresh(r: Omit<RouteRefreshMessage, 'type'>): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt16BE(r.afi);
  body[3] = r.safi;
  return withHeader(MessageType.ROUTE_REFRESH, body);
}

function attribute(flags: number, typeCode: number, value: Buffer): Buffer {
  const extended = value.length > 255;
  const head = Buffer.alloc(extended ? 4 : 3);
  head[0] = (flags & ~AttrFlag.EXTENDED_LENGTH) | (extended ? AttrFlag.EXTENDED_LENGTH : 0);
  head[1] = typeCode;
  if (extended) head.writeUInt16BE(value.length, 2);
  else head[2] = value.length;
  return Buffer.concat([head, value]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function encodeAsPath(segments: AsPathSegment[], asnSize: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const s of segments) {
    // A segment holds at most 255 ASes; longer runs are split.
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      const seg = Buffer.alloc(2 + chunk.length * asnSize);
      seg[0] = s.type;
      seg[1] = chunk.length;
      chunk.forEach((asn, j) => {
        if (asnSize === 4) seg.writeUInt32BE(asn, 2 + 4 * j);
        else seg.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 2 + 2 * j);
      });
      parts.push(seg);
    }
  }
  return Buffer.concat(parts);
}

/** The path attributes field for `attrs`, as sent on a session of the given AS width. */
export function encodeAttributes(attrs: PathAttributes, ctx: CodecContext): Buffer {
  const T = AttrFlag.TRANSITIVE;
  const O = AttrFlag.OPTIONAL;
  const asnSize = ctx.fourOctetAs ? 4 : 2;
  const parts: Buffer[] = [
    attribute(T, AttrType.ORIGIN, Buffer.from([attrs.origin])),
    attribute(T, AttrType.AS_PATH, encodeAsPath(attrs.asPath, asnSize)),
  ];
  if (attrs.nextHop !== undefined) {
    parts.push(attribute(T, AttrType.NEXT_HOP, u32(ipv4Word(attrs.nextHop))));
  }
  if (attrs.med !== undefined) parts.push(attribute(O, AttrType.MED, u32(attrs.med)));
  if (attrs.localPref !== undefined) {
    parts.push(attribute(T, AttrType.LOCAL_PREF, u32(attrs.localPref)));
  }
  if (attrs.atomicAggregate) parts.push(attribute(T, AttrType.ATOMIC_AGGREGATE, Buffer.alloc(0)));
  if (attrs.aggregator) {
    const { asNumber, address } = attrs.aggregator;
    const v = Buffer.alloc(asnSize + 4);
    if (asnSize === 4) v.writeUInt32BE(asNumber);
    else v.writeUInt16BE(asNumber > 0xffff ? AS_TRANS : asNumber);
    v.writeUInt32BE(ipv4Word(address), asnSize);
    parts.push(attribute(O | T, AttrType.AGGREGATOR, v));
    if (asnSize === 2 && asNumber > 0xffff) {
      parts.push(
        attribute(O | T, AttrType.AS4_AGGREGATOR, Buffer.concat([u32(asNumber), v.subarray(2)])),
      );
    }
  }
  if (attrs.communities?.length) {
    parts.push(attribute(O | T, AttrType.COMMUNITIES, Buffer.concat(attrs.communities.map(u32))));
  }
  if (attrs.originatorId !== undefined) {
    parts.push(attribute(O, AttrType.ORIGINATOR_ID, u32(ipv4Word(attrs.originatorId))));
  }
  if (attrs.clusterList?.length) {
    const ids = attrs.clusterList.map((c) => u32(ipv4Word(c)));
    parts.push(attribute(O, AttrType.CLUSTER_LIST, Buffer.concat(ids)));
  }
  // A 2-octet peer sees AS_TRANS in AS_PATH and the real path in AS4_PATH (RFC 6793 §4.2.2).
  if (asnSize === 2 && attrs.asPath.some((s) => s.asns.some((a) => a > 0xffff))) {
    parts.push(attribute(O | T, AttrType.AS4_PATH, encodeAsPath(attrs.asPath, 4)));
  }
  // Optional transitive attributes we pass on without understanding get the partial bit.
  for (const u of attrs.unknown) {
    parts.push(attribute(u.flags | AttrFlag.PARTIAL, u.typeCode, u.value));
  }
  return Buffer.concat(parts);
}

/** One UPDATE from already encoded parts. Throws when it would exceed 4096 octets. */
function updateMessage(withdrawn: string[], attrs: Buffer, nlri: string[]): Buffer {
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

export interface UpdateContent {
  withdrawn?: string[];
  attributes?: PathAttributes;
  nlri?: string[];
}

/** Encodes exactly one UPDATE (tests and small messages); throws when it would not fit. */
export function encodeUpdate(u: UpdateContent, ctx: CodecContext): Buffer {
  const attrs = u.attributes ? encodeAttributes(u.attributes, ctx) : Buffer.alloc(0);
  return updateMessage(u.withdrawn ?? [], attrs, u.nlri ?? []);
}

const UPDATE_ROOM = MAX_MESSAGE_LENGTH - HEADER_LENGTH - 4;

/** Splits prefixes into runs whose wire size fits in `room` octets. */
function packPrefixes(prefixes: string[], room: number): string[][] {
  const runs: string[][] = [];
  let run: string[] = [];
  let size = 0;
  for (const p of prefixes) {
    const n = prefixWireSize(p);
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
  nlri: string[],
  ctx: CodecContext,
): Buffer[] {
  const attrs = encodeAttributes(attributes, ctx);
  return packPrefixes(nlri, UPDATE_ROOM - attrs.length).map((run) => updateMessage([], attrs, run));
}

/** As many UPDATEs as it takes to withdraw `prefixes`. */
export function encodeWithdrawals(prefixes: string[]): Buffer[] {
  return packPrefixes(prefixes, UPDATE_ROOM).map((run) => updateMessage(run, Buffer.alloc(0), []));
}

/** End-of-RIB for IPv4 unicast (RFC 4724 §2). */
export function encodeEndOfRib(): Buffer {
  return updateMessage([], Buffer.alloc(0), []);
}
