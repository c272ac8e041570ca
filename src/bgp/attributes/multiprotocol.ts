// MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760): routes of address families other than the
// classic IPv4 fields. IPv4 unicast is always read; IPv6 unicast when the session negotiated
// it; any other family is ignored (RFC 4760 §7). Their NLRI cannot be trusted once the
// attribute is malformed, so every error here resets the session (RFC 7606 §7.11).
import { formatIPv4, readPrefixes } from '../ipv4.js';
import {
  AFI_IPV4,
  AFI_IPV6,
  AttrFlag,
  AttrType,
  SAFI_UNICAST,
  UpdateSubcode,
  type Ipv6Routes,
  type UpdateMessage,
} from '../message.js';
import {
  encodeIpv6NextHop,
  encodeIpv6Prefixes,
  readIpv6NextHop,
  readIpv6Prefixes,
  type Ipv6NextHop,
  type Ipv6Prefix,
} from '../nlri.js';
import {
  attributeBytes,
  type AttributeDecoding,
  type AttributeDescriptor,
  type Malformed,
} from './descriptor.js';

function bad(reason: string): Malformed {
  return { subcode: UpdateSubcode.OPTIONAL_ATTRIBUTE, reason };
}

/** The family an MP attribute is read as, or undefined when it is ignored. */
function familyOf(value: Buffer, into: AttributeDecoding): number | undefined {
  const afi = value.readUInt16BE(0);
  if (value[2] !== SAFI_UNICAST) return undefined;
  if (afi === AFI_IPV4 || (afi === AFI_IPV6 && into.ctx.ipv6Unicast)) return afi;
  return undefined;
}

function ipv6Routes(update: UpdateMessage): Ipv6Routes {
  update.ipv6 ??= { withdrawn: [], nlri: [], endOfRib: false };
  return update.ipv6;
}

export const mpReach: AttributeDescriptor = {
  code: AttrType.MP_REACH_NLRI,
  name: 'MP_REACH_NLRI',
  flags: AttrFlag.OPTIONAL,
  onMalformed: 'session-reset',
  decode(value, into) {
    if (value.length < 5) return bad('MP_REACH_NLRI too short');
    const nhLength = value[3]!;
    const nlriStart = 5 + nhLength;
    if (nlriStart > value.length) return bad('MP_REACH_NLRI next hop runs past the attribute');
    const family = familyOf(value, into);
    const update = into.update;
    if (family === AFI_IPV4) {
      if (nhLength !== 4) return bad(`MP_REACH_NLRI IPv4 next hop of ${nhLength} octets`);
      const prefixes = readPrefixes(value, nlriStart, value.length);
      if (!prefixes) return bad('malformed prefix in MP_REACH_NLRI');
      update.mpNextHop = formatIPv4(value.readUInt32BE(4));
      update.nlri = [...update.nlri, ...prefixes];
    } else if (family === AFI_IPV6) {
      const nextHop = readIpv6NextHop(value.subarray(4, 4 + nhLength));
      if (!nextHop) return bad(`MP_REACH_NLRI IPv6 next hop of ${nhLength} octets`);
      const prefixes = readIpv6Prefixes(value, nlriStart, value.length);
      if (!prefixes) return bad('malformed IPv6 prefix in MP_REACH_NLRI');
      const routes = ipv6Routes(update);
      routes.nextHop = nextHop;
      routes.nlri = prefixes;
    }
    return undefined;
  },
};

export const mpUnreach: AttributeDescriptor = {
  code: AttrType.MP_UNREACH_NLRI,
  name: 'MP_UNREACH_NLRI',
  flags: AttrFlag.OPTIONAL,
  onMalformed: 'session-reset',
  decode(value, into) {
    if (value.length < 3) return bad('MP_UNREACH_NLRI too short');
    const family = familyOf(value, into);
    if (family !== undefined && value.length === 3) into.emptyUnreachAfi = family;
    const update = into.update;
    if (family === AFI_IPV4) {
      const prefixes = readPrefixes(value, 3, value.length);
      if (!prefixes) return bad('malformed prefix in MP_UNREACH_NLRI');
      update.withdrawn = [...update.withdrawn, ...prefixes];
    } else if (family === AFI_IPV6) {
      const prefixes = readIpv6Prefixes(value, 3, value.length);
      if (!prefixes) return bad('malformed IPv6 prefix in MP_UNREACH_NLRI');
      ipv6Routes(update).withdrawn = prefixes;
    }
    return undefined;
  },
};

function family(afi: number): Buffer {
  return Buffer.from([afi >> 8, afi & 0xff, SAFI_UNICAST]);
}

/** MP_REACH_NLRI announcing IPv6 unicast `nlri` via `nextHop`. */
export function encodeIpv6Reach(nlri: Ipv6Prefix[], nextHop: Ipv6NextHop): Buffer {
  const hop = encodeIpv6NextHop(nextHop);
  const value = Buffer.concat([
    family(AFI_IPV6),
    Buffer.from([hop.length]),
    hop,
    Buffer.from([0]), // reserved
    encodeIpv6Prefixes(nlri),
  ]);
  return attributeBytes(mpReach.flags, mpReach.code, value);
}

/** MP_UNREACH_NLRI withdrawing IPv6 unicast `prefixes` (none: the End-of-RIB marker). */
export function encodeIpv6Unreach(prefixes: Ipv6Prefix[]): Buffer {
  const value = Buffer.concat([family(AFI_IPV6), encodeIpv6Prefixes(prefixes)]);
  return attributeBytes(mpUnreach.flags, mpUnreach.code, value);
}
