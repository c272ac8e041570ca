// An agent's flows: a bounded ring, newest last, each record carrying the sequence number of
// its latest change so that a reader asks only for what changed since its last look.
import type { ConntrackEvent } from './conntrack-event.js';
import { closeFlow, openFlow, reportsFlow, unconfirmedFlow } from './record.js';
import type { Flow, UnconfirmedConnection } from './types.js';
import type { ClusterView } from './view.js';

/** What an event did to the log, for the agent's counters. */
export interface FlowChange {
  flow: Flow;
  opened: boolean;
  closed: boolean;
}

export class FlowLog {
  /** By id, in the order of their latest change (a Map keeps insertion order). */
  private readonly flows = new Map<string, Flow>();
  private seq = 0;

  constructor(private readonly capacity: number) {}

  get latest(): number {
    return this.seq;
  }

  /** Applies one conntrack event; undefined when it is not this agent's to report. */
  apply(view: ClusterView, ev: ConntrackEvent): FlowChange | undefined {
    const id = `${view.self}/${ev.id}`;
    const known = this.flows.get(id);
    if (!known) {
      if (!reportsFlow(view, ev)) return undefined;
      const flow = openFlow(view, ev, ++this.seq);
      this.put(flow);
      return { flow, opened: true, closed: flow.state === 'closed' };
    }
    if (ev.type !== 'DESTROY' || known.state === 'closed') return undefined;
    const flow = closeFlow(known, ev, ++this.seq);
    this.put(flow);
    return { flow, opened: false, closed: true };
  }

  /** Keeps a connection a rule refused or denied, which no conntrack event will ever name. */
  addUnconfirmed(view: ClusterView, c: UnconfirmedConnection): Flow {
    const flow = unconfirmedFlow(view, c, ++this.seq);
    this.put(flow);
    return flow;
  }

  /** Flows that began or changed after `since`, oldest first. */
  since(since = 0): Flow[] {
    const out: Flow[] = [];
    for (const flow of [...this.flows.values()].reverse()) {
      if (flow.seq <= since) break;
      out.push(flow);
    }
    return out.reverse();
  }

  private put(flow: Flow): void {
    this.flows.delete(flow.id);
    this.flows.set(flow.id, flow);
    if (this.flows.size > this.capacity) {
      const oldest = this.flows.keys().next().value;
      if (oldest !== undefined) this.flows.delete(oldest);
    }
  }
}
