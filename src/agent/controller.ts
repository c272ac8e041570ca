// The node agent is a set of controllers sharing one context. Each controller owns one job
// (node registration, CNI, routing, proxy, BGP) and is started by agent.ts once the
// controllers it needs have started.
import type { Registry } from 'prom-client';
import type { Logger } from '../util/log.js';
import type { InformerCache } from '../store/shared-informers.js';
import type { Store } from '../store/store.js';
import type { HttpRoutes } from './http.js';

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
  /** Addresses of the API server and store: the node guard closes control ports on them too. */
  controlPlane?: string[];
  /** wireguard-go's control socket directory, where not the machine's /run/wireguard. */
  wireguardSocketDir?: string;
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

export interface AgentContext {
  options: AgentOptions;
  store: Store;
  /** The agent's one list+watch per kind: controllers add handlers, never informers. */
  informers: InformerCache;
  log: Logger;
  metrics: Registry;
  health: HealthState;
  /** JSON endpoints on the metrics port (e.g. the flow log's /flows). */
  http: HttpRoutes;
}

export interface Controller {
  readonly name: string;
  start(ctx: AgentContext): Promise<void>;
  /** Stops watching and timers; never tears down what it put in the kernel. */
  stop(): Promise<void>;
}
