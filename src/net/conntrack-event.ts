// A conntrack event as podnet reads it: the kernel's room decodes podnet-conntrack-events'
// records into exactly this shape, and the flow log names its connection. It sits here, with
// the other address shapes, because both rooms use it and neither may import the other.

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
  /** Seconds since the epoch, with microseconds, when the event was read. */
  time: number;
  /** One a flow can be: tcp, udp, sctp or icmp. */
  protocol: string;
  /** The connection's id in the kernel's table (32 bits): stable from NEW to DESTROY. */
  id: number;
  /** The packet as the client sent it. */
  original: ConntrackTuple;
  /** The reply the kernel expects: after DNAT its source is the chosen endpoint. */
  reply: ConntrackTuple;
  /** Seconds the connection lived (DESTROY with timestamps on). */
  lifetime?: number;
}
