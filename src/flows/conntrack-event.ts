// Reading one line of `conntrack -E -e NEW,DESTROY -o timestamp,id`, e.g.
//   [1700000000.306582]	    [NEW] tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.20
//     sport=40918 dport=80 [UNREPLIED] src=10.244.2.7 dst=10.244.1.5 sport=8080 dport=40918
//     id=3206261315
// The first tuple is the packet as the client sent it, the second the reply the kernel expects
// (after DNAT its source is the chosen endpoint). The kernel adds packets= and bytes= after each
// tuple, and delta-time=, only on DESTROY, when accounting and timestamps are on. A busy node
// prints thousands of lines a second, so the line is not cut into tokens: each field is found
// where it must be (the reply tuple starts at the second ` src=`, the connection id is the last
// ` id=`) and only the fields a flow needs are copied out; numbers are read digit by digit.

export type ConntrackEventType = 'NEW' | 'DESTROY';

export interface ConntrackTuple {
  src: string;
  dst: string;
  /** Ports (0 for ICMP, which has type, code and id instead). */
  sport: number;
  dport: number;
  packets?: number;
  bytes?: number;
}

export interface ConntrackEvent {
  type: ConntrackEventType;
  /** Seconds since the epoch, with microseconds, when conntrack read the event. */
  time: number;
  protocol: string;
  /** The connection's id in the kernel's table (32 bits): stable from NEW to DESTROY. */
  id: number;
  original: ConntrackTuple;
  reply: ConntrackTuple;
  /** Seconds the connection lived (DESTROY with timestamps on). */
  lifetime?: number;
}

/** The protocols a flow can be (conntrack names others too; they are no flows). */
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'icmp']);
/** The family word `-o extended` puts before the protocol. */
const FAMILIES = new Set(['ipv4', 'ipv6']);

/** One event line, or undefined for anything else (conntrack's summary, a blank line). */
export function parseConntrackEvent(line: string): ConntrackEvent | undefined {
  const timeEnd = line.indexOf(']');
  if (line.charCodeAt(0) !== 0x5b /* [ */ || timeEnd < 0) return undefined;
  const typeStart = line.indexOf('[', timeEnd) + 1;
  const typeEnd = line.indexOf(']', typeStart);
  if (typeStart === 0 || typeEnd < 0) return undefined;
  const type = line.slice(typeStart, typeEnd);
  if (type !== 'NEW' && type !== 'DESTROY') return undefined;
  const protocol = protocolAfter(line, typeEnd + 1);
  const originalAt = line.indexOf(' src=', typeEnd);
  const replyAt = originalAt < 0 ? -1 : line.indexOf(' src=', originalAt + 5);
  const idAt = line.lastIndexOf(' id=');
  if (!protocol || replyAt < 0 || idAt < replyAt) return undefined;
  const original = tupleAt(line, originalAt, replyAt);
  const reply = tupleAt(line, replyAt, line.length);
  if (!original || !reply) return undefined;
  const lifetimeAt = line.indexOf(' delta-time=', replyAt);
  return {
    type,
    time: Number(line.slice(1, timeEnd)),
    protocol,
    id: digitsAt(line, idAt + 4),
    original,
    reply,
    ...(lifetimeAt >= 0 ? { lifetime: digitsAt(line, lifetimeAt + 12) } : {}),
  };
}

/** The protocol's name: the first word after the type, or the one after `-o extended`'s family. */
function protocolAfter(line: string, from: number): string | undefined {
  let word = wordAt(line, from);
  if (FAMILIES.has(word.text)) word = wordAt(line, wordAt(line, word.end).end);
  return PROTOCOLS.has(word.text) ? word.text : undefined;
}

function wordAt(line: string, from: number): { text: string; end: number } {
  let start = from;
  while (line.charCodeAt(start) === 0x20 /* space */) start++;
  const space = line.indexOf(' ', start);
  const end = space < 0 ? line.length : space;
  return { text: line.slice(start, end), end };
}

/** The tuple that starts at ` src=` at `from`; its fields lie before `to`. */
function tupleAt(line: string, from: number, to: number): ConntrackTuple | undefined {
  const src = valueAt(line, from, ' src=', to);
  const dst = valueAt(line, from, ' dst=', to);
  if (!src || !dst) return undefined;
  const tuple: ConntrackTuple = {
    src,
    dst,
    sport: numberAt(line, from, ' sport=', to) ?? 0,
    dport: numberAt(line, from, ' dport=', to) ?? 0,
  };
  const packets = numberAt(line, from, ' packets=', to);
  if (packets !== undefined) {
    tuple.packets = packets;
    tuple.bytes = numberAt(line, from, ' bytes=', to) ?? 0;
  }
  return tuple;
}

/** The text of `key` (e.g. ` dst=`) between `from` and `to`, up to the next space. */
function valueAt(line: string, from: number, key: string, to: number): string | undefined {
  const at = line.indexOf(key, from);
  if (at < 0 || at >= to) return undefined;
  const start = at + key.length;
  const space = line.indexOf(' ', start);
  return line.slice(start, space < 0 || space > to ? to : space);
}

function numberAt(line: string, from: number, key: string, to: number): number | undefined {
  const at = line.indexOf(key, from);
  return at < 0 || at >= to ? undefined : digitsAt(line, at + key.length);
}

/** The decimal number whose digits start at `from`. */
function digitsAt(line: string, from: number): number {
  let n = 0;
  for (let i = from; i < line.length; i++) {
    const digit = line.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * conntrack's words when the kernel dropped events because its socket buffer was full (it
 * carries on reading): each such line is at least one lost event.
 */
export function isLostEventsWarning(line: string): boolean {
  return /ENOBUFS|losing events|No buffer space/i.test(line);
}
