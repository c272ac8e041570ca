// Reading one line of `conntrack -E -e NEW,DESTROY -o timestamp,id`, e.g.
//   [1700000000.306582]	    [NEW] tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.20
//     sport=40918 dport=80 [UNREPLIED] src=10.244.2.7 dst=10.244.1.5 sport=8080 dport=40918
//     id=3206261315
// The first tuple is the packet as the client sent it, the second the reply the kernel expects
// (after DNAT its source is the chosen endpoint). The kernel adds packets= and bytes= after each
// tuple, and delta-time=, only on DESTROY, when accounting and timestamps are on. The line is
// read once, left to right, without a regular expression: a busy node prints thousands a second.

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
  /** The connection's id in the kernel's table: stable from NEW to DESTROY. */
  id: string;
  original: ConntrackTuple;
  reply: ConntrackTuple;
  /** Seconds the connection lived (DESTROY with timestamps on). */
  lifetime?: number;
}

/** The protocols a flow can be (conntrack names others too; they are no flows). */
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'icmp']);

/** One event line, or undefined for anything else (conntrack's summary, a blank line). */
export function parseConntrackEvent(line: string): ConntrackEvent | undefined {
  const timeEnd = line.indexOf(']');
  if (line.charCodeAt(0) !== 0x5b /* [ */ || timeEnd < 0) return undefined;
  const typeStart = line.indexOf('[', timeEnd) + 1;
  const typeEnd = line.indexOf(']', typeStart);
  if (typeStart === 0 || typeEnd < 0) return undefined;
  const type = line.slice(typeStart, typeEnd);
  if (type !== 'NEW' && type !== 'DESTROY') return undefined;
  const tuples: ConntrackTuple[] = [];
  let protocol: string | undefined;
  let id: string | undefined;
  let lifetime: number | undefined;
  let tuple: ConntrackTuple | undefined;
  for (const token of line.slice(typeEnd + 1).split(' ')) {
    const eq = token.indexOf('=');
    if (eq < 0) {
      // The protocol's name comes before the tuples (after the family, with `-o extended`).
      if (!protocol && PROTOCOLS.has(token)) protocol = token;
      continue;
    }
    const value = token.slice(eq + 1);
    switch (token.slice(0, eq)) {
      case 'src':
        tuple = { src: value, dst: '', sport: 0, dport: 0 };
        tuples.push(tuple);
        break;
      case 'dst':
        if (tuple) tuple.dst = value;
        break;
      case 'sport':
        if (tuple) tuple.sport = Number(value);
        break;
      case 'dport':
        if (tuple) tuple.dport = Number(value);
        break;
      case 'packets':
        if (tuple) tuple.packets = Number(value);
        break;
      case 'bytes':
        if (tuple) tuple.bytes = Number(value);
        break;
      case 'delta-time':
        lifetime = Number(value);
        break;
      // ICMP tuples carry an id= of their own; the connection's id is the last one on the line.
      case 'id':
        id = value;
    }
  }
  const [original, reply] = tuples;
  if (!protocol || !original?.dst || !reply?.dst || id === undefined) return undefined;
  return {
    type,
    time: Number(line.slice(1, timeEnd)),
    protocol,
    id,
    original,
    reply,
    ...(lifetime !== undefined ? { lifetime } : {}),
  };
}

/**
 * conntrack's words when the kernel dropped events because its socket buffer was full (it
 * carries on reading): each such line is at least one lost event.
 */
export function isLostEventsWarning(line: string): boolean {
  return /ENOBUFS|losing events|No buffer space/i.test(line);
}
