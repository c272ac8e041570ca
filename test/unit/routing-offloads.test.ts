import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkFeatures } from '../../src/kernel/link-features.js';
import {
  desiredOffloads,
  offloadCommands,
  planOffloads,
  reconcileOffloads,
  type OffloadKernel,
} from '../../src/routing/offloads.js';

const POD_VETH = 'pn0123456789a';

const wantedOf = (names: string[]): string[] =>
  desiredOffloads({ underlay: 'eth0', names }).map((w) => `${w.dev} ${w.feature}`);

test('offloads: host-gw wants GRO on the underlay and on every pod veth, nothing else', () => {
  assert.deepEqual(wantedOf(['lo', 'eth0', POD_VETH, 'veth-other', 'pn-short']), [
    'eth0 generic-receive-offload',
    'eth0 rx-udp-gro-forwarding',
    `${POD_VETH} generic-receive-offload`,
  ]);
});

test('offloads: a VXLAN tunnel adds UDP-tunnel segmentation on the underlay and GRO on itself', () => {
  assert.deepEqual(wantedOf(['eth0', 'pn-vxlan']), [
    'eth0 generic-receive-offload',
    'eth0 rx-udp-gro-forwarding',
    'eth0 tx-udp_tnl-segmentation',
    'eth0 tx-udp_tnl-csum-segmentation',
    'pn-vxlan generic-receive-offload',
  ]);
  assert.ok(wantedOf(['eth0', 'pn-ipip']).includes('pn-ipip generic-receive-offload'));
});

const features = (on: string[], fixed: string[] = []): LinkFeatures =>
  Object.fromEntries([
    ...['generic-receive-offload', 'rx-udp-gro-forwarding', 'tx-udp_tnl-segmentation'].map(
      (f) => [f, { active: on.includes(f), fixed: false }] as const,
    ),
    ...fixed.map((f) => [f, { active: false, fixed: true }] as const),
  ]);

test('offloads: only features that differ are changed, one ethtool call per device', () => {
  const wanted = desiredOffloads({ underlay: 'eth0', names: ['eth0', 'pn-vxlan', POD_VETH] });
  const plan = planOffloads(
    wanted,
    new Map([
      ['eth0', features(['generic-receive-offload'], ['tx-udp_tnl-csum-segmentation'])],
      ['pn-vxlan', features(['generic-receive-offload'])],
      [POD_VETH, features([])],
    ]),
  );
  assert.deepEqual(offloadCommands(plan.changes), [
    'ethtool -K eth0 rx-udp-gro-forwarding on tx-udp_tnl-segmentation on',
    `ethtool -K ${POD_VETH} generic-receive-offload on`,
  ]);
  assert.deepEqual(
    plan.unsupported.map((w) => `${w.dev} ${w.feature}`),
    ['eth0 tx-udp_tnl-csum-segmentation'],
  );
  assert.equal(plan.settled.length, 2);
});

/** A kernel of devices with their features, where setting a feature that is fixed fails. */
function fakeKernel(
  devices: Map<string, LinkFeatures>,
): OffloadKernel & { calls: number; fullReads: string[] } {
  const kernel = {
    calls: 0,
    /** Devices whose every feature was read (ethtool -k, a process each). */
    fullReads: [] as string[],
    async readLinks() {
      return { names: [...devices.keys()], underlay: 'eth0' };
    },
    async readFeatures(devs: readonly string[]) {
      kernel.fullReads.push(...devs);
      return new Map(devs.flatMap((d) => (devices.has(d) ? [[d, devices.get(d)!] as const] : [])));
    },
    async readGro(devs: readonly string[]) {
      return new Map(
        devs.flatMap((d) => {
          const gro = devices.get(d)?.['generic-receive-offload'];
          return gro ? [[d, { ...gro }] as const] : [];
        }),
      );
    },
    async setFeatures(dev: string, wanted: Record<string, boolean>) {
      kernel.calls++;
      for (const [f, on] of Object.entries(wanted)) {
        const state = devices.get(dev)![f]!;
        if (state.fixed) throw new Error(`${dev} ${f} is fixed`);
        state.active = on;
      }
    },
  };
  return kernel;
}

test('offloads: a reconcile brings the kernel to what is wanted; the next changes nothing', async () => {
  const devices = new Map([
    ['eth0', features([])],
    [POD_VETH, features([])],
  ]);
  const kernel = fakeKernel(devices);
  const first = await reconcileOffloads(kernel, '172.31.1.11', { apply: true });
  assert.equal(first?.changes.length, 2);
  assert.equal(devices.get(POD_VETH)!['generic-receive-offload']!.active, true);
  // Turned off by hand: the next reconcile repairs it.
  devices.get('eth0')!['rx-udp-gro-forwarding']!.active = false;
  const repair = await reconcileOffloads(kernel, '172.31.1.11', { apply: true });
  assert.deepEqual(offloadCommands(repair!.changes), ['ethtool -K eth0 rx-udp-gro-forwarding on']);
  const settled = await reconcileOffloads(kernel, '172.31.1.11', { apply: true });
  assert.deepEqual(settled?.changes, []);
  assert.equal(kernel.calls, 3);
  // The pod veth's GRO is read with the others' in one request, never with an ethtool of its own.
  assert.ok(!kernel.fullReads.includes(POD_VETH));
  devices.get(POD_VETH)!['generic-receive-offload']!.active = false;
  const veth = await reconcileOffloads(kernel, '172.31.1.11', { apply: true });
  assert.deepEqual(offloadCommands(veth!.changes), [
    `ethtool -K ${POD_VETH} generic-receive-offload on`,
  ]);
});

test('offloads: planning alone changes nothing', async () => {
  const devices = new Map([['eth0', features([])]]);
  const plan = await reconcileOffloads(fakeKernel(devices), '172.31.1.11', { apply: false });
  assert.equal(plan?.changes.length, 1);
  assert.equal(devices.get('eth0')!['generic-receive-offload']!.active, false);
});
