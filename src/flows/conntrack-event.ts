// Reading one line of `conntrack -E -o extended,timestamp,id`, e.g.
//   [1700000000.306582]	    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5
//     dst=10.96.0.20 sport=40918 dport=80 [UNREPLIED] src=10.244.2.7 dst=10.244.1.5
//     sport=8080 dport=40918 id=3206261315
// The first tuple is the packet as the client sent it, the second the reply the kernel expects
// (after DNAT its source is the chosen endpoint). The kernel adds packets= and bytes= after each
// tuple, and delta-time=, only on DESTROY, when accounting and timestamps are on.

export type ConntrackEventType = 'NEW' | 'UPDATE' | 'DESTROY';

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
  /** TCP state (SYN_SENT, ESTABLISHED, TIME_WAIT, ...); undefined for other protocols. */
  state?: string;
  original: ConntrackTuple;
  reply: ConntrackTuple;
  /** The kernel saw traffic both ways (its [UNREPLIED] flag is absent). */
  replied: boolean;
  assured: boolean;
  /** Seconds the connection lived (DESTROY with timestamps on). */
  lifetime?: number;
}

const EVENT_LINE =
  /^\[(\d+(?:\.\d+)?)\]\s+\[(NEW|UPDATE|DESTROY)\]\s+(\S+)\s+\d+\s+(\S+)\s+\d+\s+(.*)$/;

/** One event line, or undefined for anything else (conntrack's summary, a blank line). */
export function parseConntrackEvent(line: string): ConntrackEvent | undefined {
  const m = EVENT_LINE.exec(line.trim());
  if (!m) return undefined;
  const [, time, type, , protocol, rest] = m;
  const tuples: Partial<ConntrackTuple>[] = [];
  let state: string | undefined;
  let id: string | undefined;
  let lifetime: number | undefined;
  let replied = true;
  let assured = false;
  for (const token of rest!.split(/\s+/)) {
    if (token === '[UNREPLIED]') replied = false;
    else if (token === '[ASSURED]') assured = true;
    const eq = token.indexOf('=');
    if (eq < 0) {
      // A TCP (or SCTP, DCCP) state comes before the first tuple; the flags are bracketed.
      if (tuples.length === 0 && /^[A-Z_]+$/.test(token)) state = token;
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (key === 'src') tuples.push({ src: value });
    const tuple = tuples[tuples.length - 1];
    if (key === 'dst' && tuple) tuple.dst = value;
    else if (key === 'sport' && tuple) tuple.sport = Number(value);
    else if (key === 'dport' && tuple) tuple.dport = Number(value);
    else if (key === 'packets' && tuple) tuple.packets = Number(value);
    else if (key === 'bytes' && tuple) tuple.bytes = Number(value);
    else if (key === 'delta-time') lifetime = Number(value);
    // ICMP tuples carry an id= of their own; the connection's id is the last one on the line.
    else if (key === 'id') id = value;
  }
  const [original, reply] = tuples;
  if (!original?.dst || !reply?.dst || id === undefined) return undefined;
  return {
    type: type as ConntrackEventType,
    time: Number(time),
    protocol: protocol!,
    id,
    state,
    original: completeTuple(original),
    reply: completeTuple(reply),
    replied,
    assured,
    lifetime,
  };
}

function completeTuple(t: Partial<ConntrackTuple>): ConntrackTuple {
  return {
    src: t.src!,
    dst: t.dst!,
    sport: t.sport ?? 0,
    dport: t.dport ?? 0,
    ...(t.packets !== undefined ? { packets: t.packets } : {}),
    ...(t.bytes !== undefined ? { bytes: t.bytes } : {}),
  };
}

/**
 * conntrack's words when the kernel dropped events because its socket buffer was full (it
 * carries on reading): each such line is at least one lost event.
 */
export function isLostEventsWarning(line: string): boolean {
  return /ENOBUFS|losing events|No buffer space/i.test(line);
}
