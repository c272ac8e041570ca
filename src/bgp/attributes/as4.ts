// The attributes through which a 4-octet AS reaches a 2-octet speaker unharmed (RFC 6793):
// AS4_PATH and AS4_AGGREGATOR. On a 4-octet session they carry nothing new and are ignored.
import { ipv4Word } from '../ipv4.js';
import { AS_TRANS, AttrFlag, AttrType, UpdateSubcode } from '../message.js';
import { decodeAsPath, encodeAsPath } from './as-path.js';
import { u32, type AttributeDescriptor } from './descriptor.js';

const OT = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;

export const as4Path: AttributeDescriptor = {
  code: AttrType.AS4_PATH,
  name: 'AS4_PATH',
  flags: OT,
  onMalformed: 'attribute-discard',
  decode(value, into) {
    const path = decodeAsPath(value, 4);
    if (!path) return { subcode: UpdateSubcode.OPTIONAL_ATTRIBUTE, reason: 'malformed AS4_PATH' };
    if (!into.ctx.fourOctetAs) into.as4Path = path;
    return undefined;
  },
  // A 2-octet peer sees AS_TRANS in AS_PATH and the real path in AS4_PATH (RFC 6793 §4.2.2).
  encode: (attrs, ctx) =>
    !ctx.fourOctetAs && attrs.asPath.some((s) => s.asns.some((a) => a > 0xffff))
      ? encodeAsPath(attrs.asPath, 4)
      : undefined,
};

export const as4Aggregator: AttributeDescriptor = {
  code: AttrType.AS4_AGGREGATOR,
  name: 'AS4_AGGREGATOR',
  flags: OT,
  onMalformed: 'attribute-discard',
  length: () => 8,
  decode(value, into) {
    // Only a 2-octet speaker's AS4_AGGREGATOR carries information (RFC 6793 §4.2.3).
    const aggregator = into.attributes.aggregator;
    if (!into.ctx.fourOctetAs && aggregator?.asNumber === AS_TRANS) {
      aggregator.asNumber = value.readUInt32BE(0);
    }
    return undefined;
  },
  encode(attrs, ctx) {
    if (ctx.fourOctetAs || !attrs.aggregator || attrs.aggregator.asNumber <= 0xffff) {
      return undefined;
    }
    return Buffer.concat([u32(attrs.aggregator.asNumber), u32(ipv4Word(attrs.aggregator.address))]);
  },
};
