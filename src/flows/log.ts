// An agent's flows: a bounded ring, newest last, each record carrying the sequence number of
// its latest change so that a reader asks only for what changed since its last look.
import type { ConntrackEvent } from '../net/conntrack-event.js';
import {
  closeFlow,
  openFlow,
  reportsFlow,
  toFlow,
  unconfirmedFlow,
  type FlowRecord,
} from './record.js';
import type { Flow, UnconfirmedConnection } from './types.js';
import type { ClusterView } from './view.js';

/** What an event did to the log, for the agent's counters. */
export interface FlowChange {
  record: FlowRecord;
  opened: boolean;
  closed: boolean;
}

export class FlowLog {
  /**
   * By key, in the order of their latest change (a Map keeps insertion order): conntrack's
   * flows by the kernel's number for the connection, so that an event builds no key.
   */
  private readonly flows = new Map<number | string, FlowRecord>();
  private seq = 0;

  constructor(private readonly capacity: number) {}

  get latest(): number {
    return this.seq;
  }

  /** Applies one conntrack event; undefined when it is not this agent's to report. */
  apply(view: ClusterView, ev: ConntrackEvent): FlowChange | undefined {
    const known = this.flows.get(ev.id);
    if (!known) {
      if (!reportsFlow(view, ev)) return undefined;
      const record = openFlow(view, ev, ++this.seq);
      this.put(record);
      return { record, opened: true, closed: ev.type === 'DESTROY' };
    }
    if (ev.type !== 'DESTROY' || !Number.isNaN(known.endMs)) return undefined;
    closeFlow(known, ev, ++this.seq);
    this.put(known);
    return { record: known, opened: false, closed: true };
  }

  /** Keeps a connection a rule refused or denied, which no conntrack event will ever name. */
  addUnconfirmed(view: ClusterView, c: UnconfirmedConnection): Flow {
    const record = unconfirmedFlow(view, c, ++this.seq);
    this.put(record);
    return toFlow(record);
  }

  /** Flows that began or changed after `since`, oldest first. */
  since(since = 0): Flow[] {
    const out: Flow[] = [];
    for (const record of [...this.flows.values()].reverse()) {
      if (record.seq <= since) break;
      out.push(toFlow(record));
    }
    return out.reverse();
  }

  private put(record: FlowRecord): void {
    this.flows.delete(record.key);
    this.flows.set(record.key, record);
    if (this.flows.size > this.capacity) {
      const oldest = this.flows.keys().next().value;
      if (oldest !== undefined) this.flows.delete(oldest);
    }
  }
}
