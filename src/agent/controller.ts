// The node agent is a set of controllers sharing one context. Each controller owns one job
// (node registration, CNI, routing, proxy, BGP) and is started in order by agent.ts.
import type { Registry } from 'prom-client';
import type { Logger } from '../util/log.js';
import type { InformerCache } from '../store/shared-informers.js';
import type { Store } from '../store/store.js';

export interface AgentOptions {
  nodeName: string;
  storeUrl: string;
  /** Directory for this node's durable state (IPAM, VTEP MAC, ...). */
  stateDir: string;
  /** Unix socket the CNI plugin talks to. */
  socketPath: string;
  /** host:port for /metrics, /healthz, /readyz. */
  metricsAddress: string;
  /** Zone label to publish on this node's Node object, if known. */
  zone?: string;
  /** Address to publish as InternalIP; default: the address of the interface of the default route. */
  nodeIP?: string;
  /** Flags that override the ClusterNetwork for this agent (e.g. `--proxy`). */
  overrides: Record<string, string>;
}

/** Readiness per controller: /readyz is ready when every controller says so. */
export class HealthState {
  private readonly ready = new Map<string, boolean>();
  private readonly errors = new Map<string, string>();

  setReady(controller: string, ready: boolean): void {
    this.ready.set(controller, ready);
  }

  /** Records the last error a controller hit (cleared with undefined); shown on /healthz. */
  setError(controller: string, message: string | undefined): void {
    if (message === undefined) this.errors.delete(controller);
    else this.errors.set(controller, message);
  }

  isReady(): boolean {
    return [...this.ready.values()].every(Boolean);
  }

  report(): {
    ready: boolean;
    controllers: Record<string, boolean>;
    errors: Record<string, string>;
  } {
    return {
      ready: this.isReady(),
      controllers: Object.fromEntries(this.ready),
      errors: Object.fromEntries(this.errors),
    };
  }
}

/** A JSON document a controller serves on the agent's metrics address, at its path. */
export type AgentRoutes = Map<string, () => unknown>;

export interface AgentContext {
  options: AgentOptions;
  store: Store;
  /** The agent's one list+watch per kind: controllers add handlers, never informers. */
  informers: InformerCache;
  log: Logger;
  metrics: Registry;
  health: HealthState;
  /** Extra JSON documents served beside /metrics (absent where nothing serves them). */
  routes?: AgentRoutes;
}

export interface Controller {
  readonly name: string;
  start(ctx: AgentContext): Promise<void>;
  /** Stops watching and timers; never tears down what it put in the kernel. */
  stop(): Promise<void>;
}
