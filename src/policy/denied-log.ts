// The log of denied connections: packets an isolation or admin Deny chain sent to the log group
// before dropping them, turned into one line per connection (policy, 5-tuple, pod names) and kept
// in a bounded ring for `podnet logs policy`. A refused connection never reaches conntrack (its
// first packet is dropped), so every retransmission looks new to the kernel: the first packet
// of each 5-tuple is kept and repeats within a window are left out.
import type { PolicyType } from '../api/types.js';

export interface DeniedConnection {
  /** ISO time the first packet was logged. */
  time: string;
  direction: PolicyType;
  /** `namespace/name` of every policy isolating the pod that refused it, or `anp/NAME rule RULE`. */
  policies: string[];
  protocol: string;
  source: Endpoint;
  destination: Endpoint;
}

export interface Endpoint {
  ip: string;
  port: number;
  /** `namespace/name` when the address is a known pod's. */
  pod?: string;
}

const PROTOCOL_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

export function protocolName(number: number): string {
  return PROTOCOL_NAMES[number] ?? `proto-${number}`;
}

/** One line for people: `TCP 10.244.2.5:40112 (y/b) -> 10.244.1.3:80 (x/a) denied by …`. */
export function formatDenied(c: DeniedConnection): string {
  const end = (e: Endpoint) => `${e.ip}${e.port ? `:${e.port}` : ''}${e.pod ? ` (${e.pod})` : ''}`;
  const whose = c.direction === 'Ingress' ? c.destination : c.source;
  return `${c.time} ${c.protocol} ${end(c.source)} -> ${end(c.destination)} denied by ${c.policies.join(', ')} (${c.direction.toLowerCase()} of ${whose.pod ?? whose.ip})`;
}

/** The recent denied connections, oldest first, at most `capacity` of them. */
export class DeniedLog {
  private readonly entries: DeniedConnection[] = [];
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly capacity = 1000,
    private readonly repeatWindowMs = 10_000,
  ) {}

  /** Keeps `c` unless its 5-tuple was kept within the window; says whether it was kept. */
  add(c: DeniedConnection, nowMs = Date.parse(c.time)): boolean {
    const key = `${c.protocol} ${c.source.ip}:${c.source.port} ${c.destination.ip}:${c.destination.port}`;
    const last = this.seen.get(key);
    if (last !== undefined && nowMs - last < this.repeatWindowMs) return false;
    this.seen.set(key, nowMs);
    if (this.seen.size > this.capacity * 4)
      for (const [k, at] of this.seen) if (nowMs - at >= this.repeatWindowMs) this.seen.delete(k);
    this.entries.push(c);
    if (this.entries.length > this.capacity) this.entries.shift();
    return true;
  }

  recent(): DeniedConnection[] {
    return [...this.entries];
  }
}
