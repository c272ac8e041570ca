// The node guard's table: what it holds for a node's pods, nodes and opened ports, and how a
// sync against the fake nft changes only what differs (elements for pod churn, nothing at all
// for an unchanged restart, one rewritten chain for a rule someone deleted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONTROL_PORTS,
  desiredGuard,
  protectedNodeAddresses,
  protectedPortElements,
  syncGuard,
  type GuardInput,
  type GuardKernel,
} from '../../src/policy/guard.js';
import type { Node } from '../../src/api/types.js';
import { validateObject } from '../../src/api/validate.js';
import { FakeGuardKernel } from '../helpers/fake-guard.js';
import { traceGuard, type GuardPacket, type GuardVerdict } from '../helpers/guard-tracer.js';

const input = (over: Partial<GuardInput> = {}): GuardInput => ({
  pods: [
    { hostVeth: 'pn0123456789a', ip: '10.244.1.5' },
    { hostVeth: 'pn0123456789b', ip: '10.244.1.6' },
  ],
  protectedAddresses: ['172.31.1.1', '172.31.2.1', '172.31.1.1', 'fd00::1', 'etcd.example'],
  controlPorts: CONTROL_PORTS,
  allowPorts: [],
  ...over,
});

const elements = (i: GuardInput, set: string): string[] =>
  desiredGuard(i).sets.find((s) => s.name === set)!.elements;

test('guard: each pod veth may send only its own address, per family', () => {
  const i = input({ pods: [...input().pods, { hostVeth: 'pn0123456789c', ip: 'fd00:10::5' }] });
  assert.deepEqual(elements(i, 'pod-sources-v4'), [
    '"pn0123456789a" . 10.244.1.5',
    '"pn0123456789b" . 10.244.1.6',
  ]);
  assert.deepEqual(elements(i, 'pod-sources-v6'), ['"pn0123456789c" . fd00:10::5']);
});

test('guard: node and control-plane addresses are protected once each; names are skipped', () => {
  assert.deepEqual(elements(input(), 'node-addresses-v4'), ['172.31.1.1', '172.31.2.1']);
  assert.deepEqual(elements(input(), 'node-addresses-v6'), ['fd00::1']);
});

test('guard: control ports for TCP and UDP, minus what the operator opened', () => {
  assert.deepEqual(protectedPortElements(CONTROL_PORTS, []), [
    '6 . 179',
    '6 . 2379-2380',
    '6 . 6443',
    '6 . 9101',
    '6 . 9153',
    '17 . 179',
    '17 . 2379-2380',
    '17 . 6443',
    '17 . 9101',
    '17 . 9153',
  ]);
  assert.deepEqual(
    protectedPortElements(
      [
        { first: 2379, last: 2380 },
        { first: 2381, last: 2381 },
        { first: 6443, last: 6443 },
      ],
      [2380, 6443],
    ),
    ['6 . 2379', '6 . 2381', '17 . 2379', '17 . 2381'],
  );
});

test('guard: the first sync creates the table; an unchanged restart sends nothing', async () => {
  const kernel = new FakeGuardKernel();
  assert.equal((await syncGuard(kernel, input())).changed, true);
  const table = kernel.nft.tables.get('inet podnet-guard')!;
  assert.deepEqual(table.chains.get('prerouting')!.rules.slice(-1), [
    'counter name "spoofed" drop',
  ]);
  assert.deepEqual([...kernel.packets.keys()], ['spoofed', 'tunnel', 'host-port']);
  // A restarted agent reads the same table back: nothing to do, no nft call.
  assert.equal((await syncGuard(kernel, input())).changed, false);
  assert.equal(kernel.transactions.length, 1);
});

test('guard: pods coming and going change elements, never rules', async () => {
  const kernel = new FakeGuardKernel();
  await syncGuard(kernel, input());
  const pods = [
    { hostVeth: 'pn0123456789a', ip: '10.244.1.5' },
    { hostVeth: 'pn0123456789d', ip: '10.244.1.9' },
  ];
  assert.equal((await syncGuard(kernel, input({ pods }))).changed, true);
  const script = kernel.transactions.at(-1)!;
  assert.doesNotMatch(script, / rule | chain /);
  assert.match(
    script,
    /^delete element inet podnet-guard pod-sources-v4 \{ "pn0123456789b" \. 10\.244\.1\.6 \}$/m,
  );
  assert.match(
    script,
    /^add element inet podnet-guard pod-sources-v4 \{ "pn0123456789d" \. 10\.244\.1\.9 \}$/m,
  );
  assert.deepEqual(await kernel.listSet('pod-sources-v4'), [
    '"pn0123456789a" . 10.244.1.5',
    '"pn0123456789d" . 10.244.1.9',
  ]);
});

test('guard: an opened port leaves the set, and closing it again puts it back', async () => {
  const kernel = new FakeGuardKernel();
  await syncGuard(kernel, input());
  await syncGuard(kernel, input({ allowPorts: [6443] }));
  assert.match(
    kernel.transactions.at(-1)!,
    /^delete element inet podnet-guard protected-ports \{ 6 \. 6443, 17 \. 6443 \}$/m,
  );
  await syncGuard(kernel, input());
  assert.ok((await kernel.listSet('protected-ports'))!.includes('6 . 6443'));
});

test('guard: a chain changed behind its back is rewritten, alone, in one transaction', async () => {
  const kernel = new FakeGuardKernel();
  await syncGuard(kernel, input());
  await kernel.nft.run('flush chain inet podnet-guard forward\n');
  assert.equal((await syncGuard(kernel, input())).changed, true);
  const script = kernel.transactions.at(-1)!;
  assert.match(script, /^flush chain inet podnet-guard forward$/m);
  assert.doesNotMatch(script, /prerouting|input|element/);
  assert.equal(kernel.nft.tables.get('inet podnet-guard')!.chains.get('forward')!.rules.length, 6);
});

test('guard: a deleted table comes back whole, counters included', async () => {
  const kernel = new FakeGuardKernel();
  await syncGuard(kernel, input());
  kernel.nft.flushRuleset();
  kernel.packets.clear();
  assert.equal((await syncGuard(kernel, input())).changed, true);
  assert.deepEqual(await kernel.listSet('node-addresses-v4'), ['172.31.1.1', '172.31.2.1']);
  assert.equal(kernel.packets.size, 3);
});

test('guard: an opened port must be a port, and the error names the field', () => {
  const r = validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: { hostProtection: { allowPorts: [6443, 70000] } },
  });
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /spec\.hostProtection\.allowPorts\[1\]: must be 1-65535/);
});

test('guard: kube-system pods keep the control ports, and only those; none may spoof', () => {
  const pods = [
    { hostVeth: 'pn0123456789a', ip: '10.244.1.5', podNamespace: 'default' },
    { hostVeth: 'pn0123456789e', ip: '10.244.1.7', podNamespace: 'kube-system' },
  ];
  const table = desiredGuard(input({ pods }));
  assert.deepEqual(elements(input({ pods }), 'host-access-v4'), ['10.244.1.7']);
  assert.deepEqual(elements(input({ pods }), 'pod-sources-v4'), [
    '"pn0123456789a" . 10.244.1.5',
    '"pn0123456789e" . 10.244.1.7',
  ]);
  for (const name of ['input', 'forward']) {
    const rules = table.chains.find((c) => c.name === name)!.rules;
    assert.equal(rules[2], 'ip saddr @host-access-v4 accept', name);
  }
});

/** The guard of a node with pods a (10.244.1.5) and b (10.244.1.6), walked by the tracer. */
async function tracedGuard(
  over: Partial<GuardInput> = {},
): Promise<(chain: string, p: GuardPacket) => GuardVerdict> {
  const kernel = new FakeGuardKernel();
  await syncGuard(kernel, input(over));
  const table = kernel.nft.tables.get('inet podnet-guard')!;
  return (chain, p) => traceGuard(table, chain, p);
}

const fromA = { iif: 'pn0123456789a', proto: 17, dport: 53 };

test('guard: a pod sends only from its own address, whatever it poses as', async () => {
  const trace = await tracedGuard();
  const pre = (p: Partial<GuardPacket>): GuardVerdict =>
    trace('prerouting', { ...fromA, src: '10.244.1.5', dst: '10.244.2.9', ...p });
  assert.deepEqual(pre({}), { verdict: 'accept', counter: undefined });
  assert.deepEqual(pre({ src: '10.244.1.6' }), { verdict: 'drop', counter: 'spoofed' }); // b's
  assert.deepEqual(pre({ src: '10.244.1.77' }), { verdict: 'drop', counter: 'spoofed' });
  assert.deepEqual(pre({ src: '10.244.1.6', iif: 'pn0123456789b' }).verdict, 'accept');
  // IPv6: neighbour discovery from link-local passes, router advertisements do not.
  const nd = { src: 'fe80::1', dst: 'ff02::1', proto: 58 } as const;
  assert.equal(pre({ ...nd, icmpv6Type: 'nd-neighbor-solicit' }).verdict, 'accept');
  assert.deepEqual(pre({ ...nd, icmpv6Type: 'nd-router-advert' }), {
    verdict: 'drop',
    counter: 'spoofed',
  });
  assert.equal(pre({ src: 'fd00:10::9', dst: 'fd00:10::1', proto: 58 }).verdict, 'drop');
  // A pod coming up probes its addresses and joins their solicited-node groups from `::`
  // (RFC 4862, RFC 3810): neither is spoofing. Anything else from `::` is.
  const tentative = { src: '::', dst: 'ff02::16', proto: 58 } as const;
  assert.equal(pre({ ...tentative, icmpv6Type: 'mld2-listener-report' }).verdict, 'accept');
  assert.equal(pre({ ...tentative, icmpv6Type: 'nd-neighbor-solicit' }).verdict, 'accept');
  assert.deepEqual(pre({ ...tentative, icmpv6Type: 'echo-request' }), {
    verdict: 'drop',
    counter: 'spoofed',
  });
});

test('guard: tunnels from pods are dropped; what the tunnels (and WireGuard) deliver is not judged', async () => {
  const trace = await tracedGuard();
  const pre = (p: Partial<GuardPacket>): GuardVerdict =>
    trace('prerouting', { ...fromA, src: '10.244.1.5', dst: '172.31.2.1', ...p });
  assert.deepEqual(pre({ dport: 8472 }), { verdict: 'drop', counter: 'tunnel' });
  assert.deepEqual(pre({ proto: 4, dport: undefined }), { verdict: 'drop', counter: 'tunnel' });
  for (const iif of ['pn-vxlan', 'pn-ipip', 'pn-wg', 'eth0'])
    assert.equal(pre({ iif, src: '10.244.2.9', dst: '10.244.1.5', dport: 8472 }).verdict, 'accept');
});

test('guard: control ports of every node are closed to pods, opened ones and add-ons excepted', async () => {
  const pods = [
    { hostVeth: 'pn0123456789a', ip: '10.244.1.5', podNamespace: 'default' },
    { hostVeth: 'pn0123456789e', ip: '10.244.1.7', podNamespace: 'kube-system' },
  ];
  const trace = await tracedGuard({ pods, allowPorts: [6443] });
  const tcp = (chain: string, p: Partial<GuardPacket>): GuardVerdict =>
    trace(chain, { iif: 'pn0123456789a', src: '10.244.1.5', dst: '172.31.2.1', proto: 6, ...p });
  const drop = { verdict: 'drop', counter: 'host-port' };
  assert.deepEqual(tcp('forward', { dport: 2379 }), drop); // another node
  assert.deepEqual(tcp('forward', { dport: 179, proto: 17 }), drop);
  assert.deepEqual(tcp('input', { dst: '10.244.1.1', dport: 9101 }), drop); // own host, any address
  assert.equal(tcp('forward', { dport: 6443 }).verdict, 'accept'); // opened
  assert.equal(tcp('forward', { dport: 8080 }).verdict, 'accept');
  assert.equal(tcp('forward', { dst: '10.244.2.9', dport: 2379 }).verdict, 'accept'); // a pod
  assert.equal(tcp('forward', { iif: 'eth0', src: '172.31.3.1', dport: 2379 }).verdict, 'accept');
  const dns = { iif: 'pn0123456789e', src: '10.244.1.7' };
  assert.equal(tcp('forward', { ...dns, dport: 2379 }).verdict, 'accept');
  assert.equal(tcp('input', { ...dns, dport: 9101 }).verdict, 'accept');
});

test('guard: a node is protected on its addresses and on its pod gateway', () => {
  const node = (name: string, ip: string, podCIDR?: string): Node => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: {
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
    },
  });
  assert.deepEqual(
    protectedNodeAddresses([
      node('node-1', '172.31.1.1', '10.244.1.0/24'),
      node('node-2', '172.31.2.1'),
    ]),
    ['172.31.1.1', '10.244.1.1', '172.31.2.1'],
  );
});

test('guard: from the table it programmed, a new pod costs one nft run and no listing; a table gone behind its back is read and rebuilt', async () => {
  const kernel = new FakeGuardKernel();
  let reads = 0;
  const counted: GuardKernel = {
    run: (script) => kernel.run(script),
    list: () => (reads++, kernel.list()),
    counters: () => (reads++, kernel.counters()),
  };
  const first = await syncGuard(counted, input());
  reads = 0;
  const pods = [{ hostVeth: 'pn0123456789f', ip: '10.244.1.20' }];
  const next = await syncGuard(counted, input({ pods }), first.table);
  assert.equal(next.changed, true);
  assert.equal(reads, 0);
  assert.match(
    kernel.transactions.at(-1)!,
    /^add element .* "pn0123456789f" \. 10\.244\.1\.20 \}$/m,
  );
  assert.equal((await syncGuard(counted, input({ pods }), next.table)).changed, false);
  assert.equal(reads, 0);

  // Gone behind its back: the next pod's script fails, so the pass reads and rebuilds.
  kernel.nft.flushRuleset();
  const more = [...pods, { hostVeth: 'pn01234567890', ip: '10.244.1.21' }];
  const repaired = await syncGuard(counted, input({ pods: more }), next.table);
  assert.equal(repaired.changed, true);
  assert.ok(reads > 0);
  assert.deepEqual(await kernel.listSet('pod-sources-v4'), [
    '"pn01234567890" . 10.244.1.21',
    '"pn0123456789f" . 10.244.1.20',
  ]);
});
