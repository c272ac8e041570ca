// A host that changes proxy mode: the mode it no longer runs takes out all it had programmed
// for its family (jump rules and chains, or tables), leaving what other owners keep, and
// does nothing when there is nothing left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProxyNetwork, ServicePortRule } from '../../src/proxy/model.js';
import { createProxier } from '../../src/proxy/proxier.js';
import { FakeConntrack } from '../helpers/fake-conntrack.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import { FakeNftables } from '../helpers/fake-nftables.js';

const NETS: ProxyNetwork[] = [
  { clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16', nodePodCIDR: '10.244.1.0/24' },
  {
    family: 6,
    clusterCIDR: 'fd00:10:244::/56',
    serviceCIDR: 'fd00:10:96::/112',
    nodePodCIDR: 'fd00:10:244:1::/64',
  },
];

function webRules(net: ProxyNetwork): ServicePortRule[] {
  const six = net.family === 6;
  return [
    {
      name: 'shop/web:http',
      clusterIP: six ? 'fd00:10:96::20' : '10.96.0.20',
      protocol: 'TCP',
      port: 80,
      nodePort: 30080,
      endpoints: [{ ip: six ? 'fd00:10:244:1::5' : '10.244.1.5', port: 8080 }],
    },
    {
      name: 'shop/none:',
      clusterIP: six ? 'fd00:10:96::22' : '10.96.0.22',
      protocol: 'TCP',
      port: 82,
      endpoints: [],
    },
  ];
}

const kernelOf = () => ({
  nftables: new FakeNftables(),
  iptables: new FakeIptables(),
  conntrack: new FakeConntrack(),
});

for (const net of NETS) {
  const family = `IPv${net.family ?? 4}`;

  test(`proxy mode switch ${family}: to nftables, iptables takes out every jump and chain it had, not policy's`, async () => {
    const kernel = kernelOf();
    await createProxier('iptables', net, kernel).sync(webRules(net), true);
    // A network policy chain in the same table belongs to the policy controller.
    await kernel.iptables.restore(
      '*filter\n:PODNET-NP-FORWARD - [0:0]\n-A FORWARD -j PODNET-NP-FORWARD\nCOMMIT\n',
    );
    assert.ok(kernel.iptables.tables.nat.has('PODNET-SERVICES'));
    await createProxier('iptables', net, kernel).remove();
    for (const table of ['nat', 'filter'] as const) {
      const chains = [...kernel.iptables.tables[table]];
      assert.deepEqual(
        chains
          .filter(([c]) => c.startsWith('PODNET-') && !c.startsWith('PODNET-NP-'))
          .map(([c]) => c),
        [],
        `${table}: no proxy chain left`,
      );
      const jumps = chains.flatMap(([, rules]) => rules).filter((r) => /-j PODNET-(?!NP-)/.test(r));
      assert.deepEqual(jumps, [], `${table}: no jump into a proxy chain left`);
    }
    assert.deepEqual(kernel.iptables.tables.filter.get('FORWARD'), ['-j PODNET-NP-FORWARD']);
    // Nothing left: nothing sent.
    const sent = kernel.iptables.transactions.length;
    await createProxier('iptables', net, kernel).remove();
    assert.equal(kernel.iptables.transactions.length, sent);
  });

  test(`proxy mode switch ${family}: to iptables, nftables takes out its tables of this family only`, async () => {
    const kernel = kernelOf();
    const other = NETS.find((n) => n !== net)!;
    await createProxier('nftables', net, kernel).sync(webRules(net), true);
    await createProxier('nftables', other, kernel).sync(webRules(other), true);
    await createProxier('nftables', net, kernel).remove();
    const six = net.family === 6;
    assert.deepEqual(
      [...kernel.nftables.tables.keys()].sort(),
      six ? ['ip podnet', 'ip podnet-canary'] : ['ip6 podnet', 'ip6 podnet-canary'],
    );
    // Runs as well on a host that never had them.
    await createProxier('nftables', net, kernelOf()).remove();
  });
}
