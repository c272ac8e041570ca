// The attributes a route reflector adds so that reflected routes cannot loop (RFC 4456 §8):
// ORIGINATOR_ID and CLUSTER_LIST.
import { formatIPv4, ipv4Word } from '../ipv4.js';
import { AttrFlag, AttrType } from '../message.js';
import { readWords, u32, type AttributeDescriptor } from './descriptor.js';

export const originatorId: AttributeDescriptor = {
  code: AttrType.ORIGINATOR_ID,
  name: 'ORIGINATOR_ID',
  flags: AttrFlag.OPTIONAL,
  onMalformed: 'treat-as-withdraw',
  length: () => 4,
  decode(value, into) {
    into.attributes.originatorId = formatIPv4(value.readUInt32BE(0));
    return undefined;
  },
  encode: (attrs) =>
    attrs.originatorId === undefined ? undefined : u32(ipv4Word(attrs.originatorId)),
  format: (attrs) => attrs.originatorId,
};

export const clusterList: AttributeDescriptor = {
  code: AttrType.CLUSTER_LIST,
  name: 'CLUSTER_LIST',
  flags: AttrFlag.OPTIONAL,
  onMalformed: 'treat-as-withdraw',
  decode(value, into) {
    const words = readWords(value, AttrType.CLUSTER_LIST);
    if (!Array.isArray(words)) return words;
    into.attributes.clusterList = words.map(formatIPv4);
    return undefined;
  },
  encode: (attrs) =>
    attrs.clusterList?.length
      ? Buffer.concat(attrs.clusterList.map((c) => u32(ipv4Word(c))))
      : undefined,
  format: (attrs) => attrs.clusterList?.join(' ') || undefined,
};
