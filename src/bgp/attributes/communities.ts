// COMMUNITIES (RFC 1997): 32-bit tags, conventionally shown as "AS:value".
import { AttrFlag, AttrType } from '../message.js';
import { readWords, u32, type AttributeDescriptor } from './descriptor.js';

export const communities: AttributeDescriptor = {
  code: AttrType.COMMUNITIES,
  name: 'COMMUNITIES',
  flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  onMalformed: 'treat-as-withdraw',
  decode(value, into) {
    const words = readWords(value, AttrType.COMMUNITIES);
    if (!Array.isArray(words)) return words;
    into.attributes.communities = words;
    return undefined;
  },
  encode: (attrs) =>
    attrs.communities?.length ? Buffer.concat(attrs.communities.map(u32)) : undefined,
  format: (attrs) =>
    attrs.communities?.map((c) => `${c >>> 16}:${c & 0xffff}`).join(' ') || undefined,
};
