// The records podnet-conntrack-events writes, one per conntrack event (the layout is described
// at the top of its C source): read in place from the helper's output, no text in between.
import { formatIP, formatIPv4Word, ipFromBytes } from '../net/index.js';
import type { ConntrackEvent, ConntrackTuple } from '../net/conntrack-event.js';

export const RECORD_BYTES = 136;

const KIND_NEW = 1;
const KIND_DESTROY = 2;
const KIND_LOST = 3;
const KIND_READY = 4;
const HAS_COUNTERS = 1;
const HAS_TIMES = 2;

/** Addresses remembered per decoder; past this the memory starts again (many outside clients). */
const REMEMBERED_ADDRESSES = 4096;

/** The protocols a flow can be, by number; events of others are skipped. */
const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };

export type ConntrackRecord =
  | ConntrackEvent
  /** The kernel dropped one or more events: its socket buffer was full. */
  | { type: 'LOST' }
  /** The helper has subscribed: every connection from now on is reported. */
  | { type: 'READY' };

export type ConntrackDecoder = (buf: Buffer, at: number) => ConntrackRecord | undefined;

/**
 * Decodes the record at `at` in `buf` (undefined for an event of a protocol no flow is). The
 * decoder remembers the text of the IPv4 addresses it has read: a node's connections come from
 * and go to few pods, and handing out the same string each time spares making a new one per
 * event, and hashing it again in every map the flow log looks it up in.
 */
export function conntrackDecoder(): ConntrackDecoder {
  const texts = new Map<number, string>();
  const ipv4 = (word: number): string => {
    let text = texts.get(word);
    if (text === undefined) {
      if (texts.size >= REMEMBERED_ADDRESSES) texts.clear();
      text = formatIPv4Word(word);
      texts.set(word, text);
    }
    return text;
  };
  return (buf, at) => decode(buf, at, ipv4);
}

function decode(
  buf: Buffer,
  at: number,
  ipv4: (word: number) => string,
): ConntrackRecord | undefined {
  const kind = buf[at];
  if (kind === KIND_LOST) return { type: 'LOST' };
  if (kind === KIND_READY) return { type: 'READY' };
  if (kind !== KIND_NEW && kind !== KIND_DESTROY) return undefined;
  const protocol = PROTOCOL_NAMES[buf[at + 2]!];
  if (!protocol) return undefined;
  const v4 = buf[at + 1] === 4;
  const flags = buf[at + 3]!;
  const counted = (flags & HAS_COUNTERS) !== 0;
  const address = (offset: number): string =>
    v4
      ? ipv4(buf.readUInt32BE(at + offset))
      : formatIP(ipFromBytes([...buf.subarray(at + offset, at + offset + 16)]));
  const tuple = (addresses: number, ports: number, counters: number): ConntrackTuple => {
    const t: ConntrackTuple = {
      src: address(addresses),
      dst: address(addresses + 16),
      sport: buf.readUInt16LE(at + ports),
      dport: buf.readUInt16LE(at + ports + 2),
    };
    if (counted) {
      t.packets = buf.readDoubleLE(at + counters);
      t.bytes = buf.readDoubleLE(at + counters + 8);
    }
    return t;
  };
  const event: ConntrackEvent = {
    type: kind === KIND_NEW ? 'NEW' : 'DESTROY',
    time: buf.readDoubleLE(at + 80),
    protocol,
    id: buf.readUInt32LE(at + 4),
    original: tuple(8, 72, 104),
    reply: tuple(40, 76, 120),
  };
  const start = buf.readDoubleLE(at + 88);
  const stop = buf.readDoubleLE(at + 96);
  if (event.type === 'DESTROY' && flags & HAS_TIMES && start > 0 && stop >= start)
    event.lifetime = stop - start;
  return event;
}
