// The routing loop with IP-in-IP on the BPF programs, against an in-memory host and a recorded
// datapath: the maps are filled before the routes lead pod traffic to them; a datapath the
// kernel refuses leaves the routes as they were and is reported; leaving IP-in-IP empties them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { AutoTunnel } from '../../src/api/types.js';
import type { IpipTunnel } from '../../src/kernel/netobjects.js';
import type { IpipDatapath, KernelFeatures } from '../../src/routing/kernel.js';
import { RoutingLoop } from '../../src/routing/loop.js';
import { backendDriver } from '../../src/routing/backends/registry.js';
import { checkBackendSupport } from '../../src/routing/support.js';
import type { ReconcileResult } from '../../src/routing/reconcile.js';
import { FakeRoutingKernel } from '../helpers/fake-routing.js';
import { makeNode } from '../helpers/routing-nodes.js';

const UNDERLAY = {
  dev: 'eth0',
  address: '172.31.1.1',
  prefixLength: 24,
  mtu: 1500,
  gateway: '172.31.1.254',
};
const nodes = [
  makeNode('n1', '10.244.1.0/24', '172.31.1.1', { zone: 'a' }),
  makeNode('n2', '10.244.2.0/24', '172.31.1.2', { zone: 'a' }),
  makeNode('n3', '10.244.3.0/24', '172.31.2.3', { zone: 'b' }),
];

/** A kernel without the ipip module, with the BPF programs built. */
const features: KernelFeatures = {
  probeIpip: () => Promise.resolve({ ok: false, detail: 'Error: Unknown device type.' }),
  probeWireguard: () => Promise.resolve({ ok: false }),
  kernelConfig: () => 'n',
  hasIpipBpf: () => true,
};

interface Sync {
  dev: string;
  tunnels: IpipTunnel[];
  /** The podnet routes the host had when the maps were written. */
  routesThen: number;
}

function harness(refuse?: string) {
  const host = new FakeRoutingKernel(UNDERLAY);
  const syncs: Sync[] = [];
  const datapath: IpipDatapath = {
    sync: (dev, tunnels) => {
      syncs.push({ dev, tunnels: [...tunnels], routesThen: host.routes.length });
      return refuse ? Promise.reject(new Error(refuse)) : Promise.resolve();
    },
  };
  const results: (ReconcileResult | Error)[] = [];
  let backend = 'ipip';
  let autoTunnel: AutoTunnel | undefined;
  const loop = new RoutingLoop({
    selfName: 'n1',
    kernel: host,
    features,
    ipipDatapath: datapath,
    periodMs: 3_600_000,
    vtepMac: '02:00:00:00:01:01',
    log: pino({ level: 'silent' }),
    snapshot: () => ({ nodes, backend, autoTunnel }),
    onResult: (r) => results.push(r),
  });
  return {
    host,
    syncs,
    results,
    setBackend: (b: string, tunnel?: AutoTunnel) => {
      backend = b;
      autoTunnel = tunnel;
    },
    async run(reason: string) {
      loop.trigger(reason);
      await loop.idle();
      return results.at(-1)!;
    },
    stop: () => loop.stop(),
  };
}

test('routing loop: ipip on the BPF programs fills their maps before routing the peers out of the underlay', async () => {
  const h = harness();
  try {
    const result = await h.run('start');
    assert.ok(!(result instanceof Error), String(result));
    assert.deepEqual(h.syncs, [
      {
        dev: 'eth0',
        tunnels: [
          { podCIDR: '10.244.2.0/24', remote: '172.31.1.2', local: '172.31.1.1' },
          { podCIDR: '10.244.3.0/24', remote: '172.31.2.3', local: '172.31.1.1' },
        ],
        routesThen: 0,
      },
    ]);
    assert.deepEqual(h.host.routes, [
      { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: true, mtu: 1480 },
      { dst: '10.244.3.0/24', gateway: '172.31.1.254', dev: 'eth0', onlink: true, mtu: 1480 },
    ]);
    const again = await h.run('period');
    assert.deepEqual((again as ReconcileResult).changes, []);
  } finally {
    await h.stop();
  }
});

test('routing loop: BPF programs the kernel refuses leave the routes as they were, and the error is reported', async () => {
  const h = harness('BPF IP-in-IP: tc could not load tc/ipip_encap on eth0: verifier said no');
  try {
    const result = await h.run('start');
    assert.ok(result instanceof Error);
    assert.match(result.message, /could not load tc\/ipip_encap/);
    assert.deepEqual(h.host.routes, []);
    assert.deepEqual(h.host.applied, []);
  } finally {
    await h.stop();
  }
});

test('routing loop: leaving ipip for host-gw empties the BPF maps once', async () => {
  const h = harness();
  try {
    await h.run('start');
    h.setBackend('host-gw');
    await h.run('backend');
    await h.run('node changed');
    assert.deepEqual(
      h.syncs.map((s) => s.tunnels.length),
      [2, 0],
    );
    assert.equal(h.host.routes.find((r) => r.dst === '10.244.2.0/24')?.mtu, undefined);
  } finally {
    await h.stop();
  }
});

test('routing loop: auto with autoTunnel ipip routes the zone directly and hands only the other zone to the programs', async () => {
  const h = harness();
  try {
    h.setBackend('auto', 'ipip');
    const result = await h.run('start');
    assert.ok(!(result instanceof Error), String(result));
    assert.deepEqual(
      h.syncs.map((s) => s.tunnels),
      [[{ podCIDR: '10.244.3.0/24', remote: '172.31.2.3', local: '172.31.1.1' }]],
    );
    assert.deepEqual(h.host.routes, [
      { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: false },
      { dst: '10.244.3.0/24', gateway: '172.31.1.254', dev: 'eth0', onlink: true, mtu: 1480 },
    ]);
    assert.deepEqual([...h.host.links.keys()], ['eth0']);
  } finally {
    await h.stop();
  }
});

test('routing: auto through IP-in-IP on a kernel with neither the ipip module nor the BPF programs is refused', async () => {
  const bare: KernelFeatures = { ...features, hasIpipBpf: () => false };
  await assert.rejects(
    checkBackendSupport(backendDriver('auto'), bare, 'ipip'),
    /backend auto: this kernel has no IP-in-IP support.*use backend vxlan, or auto with autoTunnel vxlan, instead/,
  );
  assert.deepEqual(await checkBackendSupport(backendDriver('auto'), bare, 'vxlan'), {
    ipipBpf: false,
  });
  assert.deepEqual(await checkBackendSupport(backendDriver('auto'), features, 'ipip'), {
    ipipBpf: true,
  });
});
