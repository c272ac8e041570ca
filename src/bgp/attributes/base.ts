// The path attributes of RFC 4271 §5: ORIGIN, AS_PATH, NEXT_HOP, MULTI_EXIT_DISC, LOCAL_PREF,
// ATOMIC_AGGREGATE and AGGREGATOR.
import { formatIPv4, ipv4Word } from '../ipv4.js';
import {
  AS_TRANS,
  AttrFlag,
  AttrType,
  UpdateSubcode,
  type CodecContext,
  type Origin,
} from '../message.js';
import { decodeAsPath, encodeAsPath, formatAsPath } from './as-path.js';
import { numberAttribute, u32, type AttributeDescriptor } from './descriptor.js';

const T = AttrFlag.TRANSITIVE;
const O = AttrFlag.OPTIONAL;

export function asnSize(ctx: CodecContext): 2 | 4 {
  return ctx.fourOctetAs ? 4 : 2;
}

const ORIGIN_NAMES = ['IGP', 'EGP', 'INCOMPLETE'];

export const origin: AttributeDescriptor = {
  code: AttrType.ORIGIN,
  name: 'ORIGIN',
  flags: T,
  onMalformed: 'treat-as-withdraw',
  length: () => 1,
  decode(value, into) {
    if (value[0]! > 2)
      return { subcode: UpdateSubcode.INVALID_ORIGIN, reason: `ORIGIN ${value[0]}` };
    into.attributes.origin = value[0] as Origin;
    return undefined;
  },
  encode: (attrs) => Buffer.from([attrs.origin]),
  format: (attrs) => ORIGIN_NAMES[attrs.origin],
};

export const asPath: AttributeDescriptor = {
  code: AttrType.AS_PATH,
  name: 'AS_PATH',
  flags: T,
  onMalformed: 'treat-as-withdraw',
  decode(value, into) {
    const path = decodeAsPath(value, asnSize(into.ctx));
    if (!path) return { subcode: UpdateSubcode.MALFORMED_AS_PATH, reason: 'malformed AS_PATH' };
    into.attributes.asPath = path;
    return undefined;
  },
  encode: (attrs, ctx) => encodeAsPath(attrs.asPath, asnSize(ctx)),
  format: (attrs) => formatAsPath(attrs.asPath) || 'empty',
};

export const nextHop: AttributeDescriptor = {
  code: AttrType.NEXT_HOP,
  name: 'NEXT_HOP',
  flags: T,
  onMalformed: 'treat-as-withdraw',
  length: () => 4,
  decode(value, into) {
    const nh = value.readUInt32BE(0);
    // 0.0.0.0 and multicast addresses cannot be next hops (RFC 4271 §6.3).
    if (nh === 0 || nh >>> 28 === 0xe) {
      return { subcode: UpdateSubcode.INVALID_NEXT_HOP, reason: `NEXT_HOP ${formatIPv4(nh)}` };
    }
    into.attributes.nextHop = formatIPv4(nh);
    return undefined;
  },
  encode: (attrs) => (attrs.nextHop === undefined ? undefined : u32(ipv4Word(attrs.nextHop))),
  format: (attrs) => attrs.nextHop,
};

export const med = numberAttribute(AttrType.MED, 'MULTI_EXIT_DISC', O, 'med');

export const localPref = numberAttribute(AttrType.LOCAL_PREF, 'LOCAL_PREF', T, 'localPref');

export const atomicAggregate: AttributeDescriptor = {
  code: AttrType.ATOMIC_AGGREGATE,
  name: 'ATOMIC_AGGREGATE',
  flags: T,
  onMalformed: 'attribute-discard',
  length: () => 0,
  decode(_value, into) {
    into.attributes.atomicAggregate = true;
    return undefined;
  },
  encode: (attrs) => (attrs.atomicAggregate ? Buffer.alloc(0) : undefined),
  format: (attrs) => (attrs.atomicAggregate ? 'yes' : undefined),
};

export const aggregator: AttributeDescriptor = {
  code: AttrType.AGGREGATOR,
  name: 'AGGREGATOR',
  flags: O | T,
  onMalformed: 'attribute-discard',
  length: (ctx) => asnSize(ctx) + 4,
  decode(value, into) {
    const size = asnSize(into.ctx);
    into.attributes.aggregator = {
      asNumber: size === 4 ? value.readUInt32BE(0) : value.readUInt16BE(0),
      address: formatIPv4(value.readUInt32BE(size)),
    };
    return undefined;
  },
  encode(attrs, ctx) {
    if (!attrs.aggregator) return undefined;
    const { asNumber, address } = attrs.aggregator;
    const size = asnSize(ctx);
    const v = Buffer.alloc(size + 4);
    if (size === 4) v.writeUInt32BE(asNumber);
    else v.writeUInt16BE(asNumber > 0xffff ? AS_TRANS : asNumber);
    v.writeUInt32BE(ipv4Word(address), size);
    return v;
  },
  format: (attrs) =>
    attrs.aggregator && `AS${attrs.aggregator.asNumber} ${attrs.aggregator.address}`,
};
