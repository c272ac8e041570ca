// The flows the map shows, kept current by following `podnet flows -f -o json` (which asks every
// agent for what changed since its last look): the newest connections by id, and every second
// that anything changed (or while edges still have a rate to decay) the rows and edges for the
// browser.
import type { Flow } from '../../flows/types.js';
import { followLines } from '../../process/follow.js';
import { flowEdges, type FlowEdge } from './flow-edges.js';

/** Connections kept for the table and the edges. */
const KEPT = 1000;
/** Rows sent to the browser (the newest). */
const ROWS = 300;
const PUBLISH_MS = 1000;
/** Rates are connections a second over this window. */
export const RATE_WINDOW_MS = 10_000;

export interface FlowsView {
  flows: Flow[];
  edges: FlowEdge[];
}

export class LiveFlows {
  private readonly flows = new Map<string, Flow>();
  private readonly subscribers = new Set<(view: FlowsView) => void>();
  private follower: { stop(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private changed = false;
  private current: FlowsView = { flows: [], edges: [] };

  /** `command` runs `podnet` with the flags naming the cluster. */
  constructor(
    private readonly command: string[],
    private readonly onError: (message: string) => void,
  ) {}

  start(): void {
    this.follower = followLines([...this.command, 'flows', '-f', '-o', 'json'], {
      onLine: (line) => this.add(line),
      onExit: (reason) => this.onError(`flows: ${reason}`),
    });
    this.timer = setInterval(() => this.publish(), PUBLISH_MS);
  }

  view(): FlowsView {
    return this.current;
  }

  subscribe(fn: (view: FlowsView) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  stop(): void {
    clearInterval(this.timer);
    this.follower?.stop();
  }

  private add(line: string): void {
    let flow: Flow;
    try {
      flow = JSON.parse(line) as Flow;
    } catch {
      return;
    }
    this.flows.delete(flow.id);
    this.flows.set(flow.id, flow);
    if (this.flows.size > KEPT) this.flows.delete(this.flows.keys().next().value!);
    this.changed = true;
  }

  private publish(): void {
    if (!this.changed && this.current.edges.length === 0) return;
    this.changed = false;
    const all = [...this.flows.values()];
    this.current = {
      flows: all.slice(-ROWS),
      edges: flowEdges(all, Date.now(), RATE_WINDOW_MS),
    };
    for (const fn of this.subscribers) fn(this.current);
  }
}
