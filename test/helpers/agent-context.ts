// An agent's context for controller unit tests: a real store and informers, a silent log, and
// options that point nowhere real; a test overrides only the options its controller reads.
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { HealthState, type AgentContext } from '../../src/agent/controller.js';
import { HttpRoutes } from '../../src/agent/http.js';
import type { InformerCache } from '../../src/store/shared-informers.js';

export function testAgentContext(
  store: AgentContext['store'],
  informers: InformerCache,
  options: Partial<AgentContext['options']> = {},
  metrics = new Registry(),
): AgentContext {
  return {
    options: {
      nodeName: 'node-1',
      storeUrl: 'sqlite:/nonexistent',
      stateDir: '/nonexistent',
      socketPath: '/nonexistent',
      metricsAddress: '127.0.0.1:9101',
      overrides: {},
      ...options,
    },
    store,
    informers,
    log: pino({ level: 'silent' }),
    metrics,
    health: new HealthState(),
    http: new HttpRoutes(),
  };
}

/** The store revision an object was written at, for waitForRevision. */
export const revisionOf = (o: { metadata: { resourceVersion?: string } }): number =>
  Number(o.metadata.resourceVersion);
