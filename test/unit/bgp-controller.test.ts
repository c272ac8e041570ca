// The agent's BGP controller, three of them in one process on loopback addresses (127.x.0.N,
// one shared free port, no root): they mesh from Node objects, hand each other's subnets to
// routing, publish status in the store, export metrics, and leave gracefully.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { BgpController, type BgpClusterView } from '../../src/agent/bgp.js';
import { Speaker } from '../../src/bgp/speaker.js';
import { HealthState, type AgentContext } from '../../src/agent/controller.js';
import type { Node } from '../../src/api/types.js';
import type { Store } from '../../src/store/store.js';
import { readStatuses } from '../../src/bgp/status-store.js';
import { createLogger } from '../../src/util/log.js';
import { waitFor } from '../helpers/wait.js';

const NET = 100 + (process.pid % 50);
const ip = (i: number) => `127.${NET}.1.${i + 1}`;

function node(i: number, labels: Record<string, string> = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `n${i}`, labels },
    spec: { podCIDR: `10.244.${i}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: ip(i) }] },
  };
}

/** A store that keeps puts in a map: all the status publication needs. */
function memoryStore(): Store {
  const data = new Map<string, string>();
  let rev = 0;
  return {
    url: 'memory:',
    put: async (key: string, value: string) => {
      data.set(key, value);
      return ++rev;
    },
    list: async (prefix: string) => ({
      items: [...data]
        .filter(([k]) => k.startsWith(prefix))
        .map(([key, value]) => ({ key, value, modRevision: rev, createRevision: rev })),
      revision: rev,
    }),
  } as unknown as Store;
}

async function freePort(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The cluster as the controller sees it: these nodes, no BGPPeers, short timers. */
function clusterView(
  nodes: () => Node[],
  onChange: BgpClusterView['onChange'] = () => undefined,
): BgpClusterView {
  return {
    nodes,
    bgpPeers: () => [],
    settings: () => ({ holdTime: 9, gracefulRestartTime: 30 }),
    clusterCIDRs: () => ['10.244.0.0/16'],
    onChange,
  };
}

const quietLog = () => {
  const log = createLogger('test', {});
  log.level = 'warn';
  return log;
};

/** What an agent hands its controllers, for node n`i`. */
const agentContext = (i: number, store: Store, metrics = new Registry()) =>
  ({
    options: { nodeName: `n${i}` },
    store,
    log: quietLog(),
    metrics,
    health: new HealthState(),
  }) as unknown as AgentContext;

const until = (what: string, cond: () => boolean, ms = 15000): Promise<true> =>
  waitFor(what, cond, ms, 25);

test('bgp controller: nodes mesh, learn each other, feed routing, publish status and metrics', async () => {
  const nodes = [node(0), node(1), node(2)];
  const view = clusterView(() => nodes);
  const port = await freePort(ip(0));
  const store = memoryStore();
  const routed: Node[][] = [[], [], []];
  const registries = nodes.map(() => new Registry());
  const controllers = nodes.map(
    (_, i) => new BgpController({ view, port, routeTo: (n) => (routed[i] = n) }),
  );
  try {
    const ctx = (i: number, metrics = registries[i]!) => agentContext(i, store, metrics);
    for (const [i, c] of controllers.entries()) await c.start(ctx(i));
    const subnets = (i: number) =>
      routed[i]!.slice(1)
        .map((n) => `${n.spec.podCIDR} via ${n.status!.addresses![0]!.address}`)
        .sort();
    for (const i of [0, 1, 2]) {
      const want = [0, 1, 2].filter((j) => j !== i).map((j) => `10.244.${j}.0/24 via ${ip(j)}`);
      await until(`n${i} routes`, () => JSON.stringify(subnets(i)) === JSON.stringify(want));
      assert.equal(routed[i]![0]!.metadata.name, `n${i}`);
    }
    const text = await registries[0]!.metrics();
    assert.match(
      text,
      new RegExp(
        `podnet_bgp_session_established\\{peer="${ip(1).replace(/\./g, '\\.')}",peer_as="64512"\\} 1`,
      ),
    );
    assert.match(text, /podnet_bgp_loc_rib_routes 3/);
    await until('status published', () => false, 2500).catch(() => undefined);
    const statuses = await readStatuses(store);
    assert.deepEqual(
      statuses.map((s) => s.node),
      ['n0', 'n1', 'n2'],
    );
    assert.deepEqual(
      statuses[0]!.peers.map((p) => p.state),
      ['Established', 'Established'],
    );
    // With them, the routes routing was handed: what doctor and plan plan the kernel from.
    assert.deepEqual(statuses[0]!.routes, [
      { prefix: '10.244.1.0/24', nextHop: ip(1) },
      { prefix: '10.244.2.0/24', nextHop: ip(2) },
    ]);
    // Agent stop: no NOTIFICATION, so the others keep n0's subnet (graceful restart).
    await controllers[0]!.stop();
    await until('n1 sees n0 away', () =>
      controllers[1]!
        .current()!
        .status()
        .some((p) => p.address === ip(0) && p.state !== 'Established'),
    );
    assert.ok(subnets(1).includes(`10.244.0.0/24 via ${ip(0)}`), 'n0 subnet kept while away');
    // Back (restarting): routing hears nothing until both peers' End-of-RIB, then the whole
    // table at once, without waiting out the 30 s deferral limit.
    const calls: Node[][] = [];
    controllers[0] = new BgpController({ view, port, routeTo: (n) => calls.push(n) });
    const started = Date.now();
    await controllers[0].start(ctx(0, new Registry()));
    await until('n0 to route again', () => calls.length > 0, 20000);
    assert.ok(Date.now() - started < 15000, `first routes after ${Date.now() - started} ms`);
    assert.deepEqual(
      calls[0]!
        .slice(1)
        .map((n) => n.spec.podCIDR)
        .sort(),
      ['10.244.1.0/24', '10.244.2.0/24'],
    );
  } finally {
    for (const c of controllers) await c.stop();
  }
});

test('bgp controller: changes during a sync make one more pass, never a second speaker', async () => {
  // A route-reflector label is a new speaker setting: the speaker restarts. Two syncs at once
  // used to restart it twice over and leave the first new one running unseen, dialling the
  // same peers as the second, so that their sessions collided for ever.
  let labels: Record<string, string> = {};
  const nodes = (): Node[] => [node(0, labels), node(1)];
  let changed: (() => Promise<void>) | undefined;
  const view = clusterView(nodes, (listener) => (changed = listener));
  const live = new Set<Speaker>();
  const listen = Speaker.prototype.listen;
  const stop = Speaker.prototype.stop;
  Speaker.prototype.listen = function (this: Speaker) {
    live.add(this);
    return listen.call(this);
  };
  Speaker.prototype.stop = function (this: Speaker, options) {
    live.delete(this);
    return stop.call(this, options);
  };
  const controller = new BgpController({ view, port: await freePort(ip(0)), routeTo: () => {} });
  try {
    await controller.start(agentContext(0, memoryStore()));
    assert.equal(live.size, 1);
    labels = { 'podnet.io/route-reflector': 'true' };
    await Promise.all([changed!(), changed!(), changed!()]);
    assert.equal(live.size, 1, 'one speaker runs after the changes');
    assert.equal(controller.current()?.config.routeReflector, true);
    assert.ok(live.has(controller.current()!));
  } finally {
    await controller.stop();
    Speaker.prototype.listen = listen;
    Speaker.prototype.stop = stop;
  }
});

test('bgp controller: a burst of route changes is published a few times, not once per change', async () => {
  // A reflector converging with n peers changes its routes about n times; each publication
  // writes every peer and route, so publishing each change would cost n tables of n routes.
  const nodes = [node(0), node(1)];
  const view = clusterView(() => nodes);
  const port = await freePort(ip(0));
  const store = memoryStore();
  const writes = new Map<string, number>();
  const put = store.put.bind(store);
  store.put = (key: string, value: string) => {
    writes.set(key, (writes.get(key) ?? 0) + 1);
    return put(key, value);
  };
  const routed: Node[][] = [[], []];
  const controllers = nodes.map(
    (_, i) => new BgpController({ view, port, routeTo: (n) => (routed[i] = n) }),
  );
  try {
    for (const [i, c] of controllers.entries()) await c.start(agentContext(i, store));
    await until('n0 routes to n1', () => routed[0]!.length === 2);
    const before = new Map(writes);
    // n1 announces 40 more prefixes one at a time: n0 routes each as it comes.
    const extra: string[] = [];
    for (let k = 1; k <= 40; k++) {
      extra.push(`10.250.${k}.0/24`);
      controllers[1]!.current()!.setLocalPrefixes(['10.244.1.0/24', ...extra]);
      await until(`n0 routes ${k} extra prefixes`, () => routed[0]!.length === 2 + k);
    }
    const key = [...writes.keys()].find((k) => k.endsWith('/n0'))!;
    const published = (writes.get(key) ?? 0) - (before.get(key) ?? 0);
    assert.ok(published < 15, `n0 published its status ${published} times for 40 changes`);
  } finally {
    for (const c of controllers) await c.stop();
  }
});
