// Every path attribute podnet interprets, one descriptor each, in the order they are sent.
// Attributes not in the table are passed on or dropped as RFC 4271 §5 says for unknown ones.
import { AttrFlag, type CodecContext, type PathAttributes } from '../message.js';
import { as4Aggregator, as4Path } from './as4.js';
import { aggregator, asPath, atomicAggregate, localPref, med, nextHop, origin } from './base.js';
import { communities } from './communities.js';
import { attributeBytes, type AttributeDescriptor } from './descriptor.js';
import { mpReach, mpUnreach } from './multiprotocol.js';
import { clusterList, originatorId } from './reflection.js';

const ATTRIBUTES: readonly AttributeDescriptor[] = [
  origin,
  asPath,
  nextHop,
  med,
  localPref,
  atomicAggregate,
  aggregator,
  as4Aggregator,
  communities,
  originatorId,
  clusterList,
  as4Path,
  mpReach,
  mpUnreach,
];

const BY_CODE: (AttributeDescriptor | undefined)[] = new Array<undefined>(256);
for (const a of ATTRIBUTES) BY_CODE[a.code] = a;

/** The descriptor of a type code, or undefined when podnet does not interpret it. */
export function attributeDescriptor(typeCode: number): AttributeDescriptor | undefined {
  return BY_CODE[typeCode];
}

/** The path attributes field for `attrs`, as sent on a session of the given AS width. */
export function encodeAttributes(attrs: PathAttributes, ctx: CodecContext): Buffer {
  const parts: Buffer[] = [];
  for (const a of ATTRIBUTES) {
    const value = a.encode?.(attrs, ctx);
    if (value) parts.push(attributeBytes(a.flags, a.code, value));
  }
  // Optional transitive attributes we pass on without understanding get the partial bit.
  for (const u of attrs.unknown) {
    parts.push(attributeBytes(u.flags | AttrFlag.PARTIAL, u.typeCode, u.value));
  }
  return Buffer.concat(parts);
}

/** "ORIGIN IGP, AS_PATH 65001 65002, NEXT_HOP 10.0.0.1, ...": what a path carries, for logs. */
export function formatAttributes(attrs: PathAttributes): string {
  const shown: string[] = [];
  for (const a of ATTRIBUTES) {
    const text = a.format?.(attrs);
    if (text !== undefined) shown.push(`${a.name} ${text}`);
  }
  for (const u of attrs.unknown) shown.push(`attribute ${u.typeCode} (${u.value.length} octets)`);
  return shown.join(', ');
}
