import assert from 'node:assert/strict';
import { test } from 'node:test';
import { comesAndGoesWithPods, parseLinkLine } from '../../src/kernel/link-watch.js';

const tail = ' mtu 1500 qdisc noqueue state UP group default \\    link/ether 76:23:85:c1:54:40';

test('a link is up with UP and LOWER_UP and a carrier', () => {
  assert.deepEqual(parseLinkLine(`2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP>${tail}`), {
    ifname: 'eth0',
    up: true,
  });
  assert.deepEqual(parseLinkLine(`3: v1@v2: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN>${tail}`), {
    ifname: 'v1',
    up: false,
  });
  assert.deepEqual(
    parseLinkLine(`2: v2@v1: <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP>${tail}`)?.up,
    false,
  );
  assert.deepEqual(parseLinkLine(`2: eth0: <BROADCAST,MULTICAST>${tail}`)?.up, false);
  assert.deepEqual(parseLinkLine(`Deleted 4: d1: <BROADCAST,NOARP,UP,LOWER_UP>${tail}`), {
    ifname: 'd1',
    up: false,
  });
  assert.equal(parseLinkLine('    link/ether 76:23:85:c1:54:40'), undefined);
});

test("pod veths, podnet's and other CNI plugins', are not watched; the underlay and the rest are", () => {
  for (const ifname of ['pn0123456789a', 'pn-vxlan', 'veth96e59f7b'])
    assert.equal(comesAndGoesWithPods(ifname), true, ifname);
  for (const ifname of ['eth0', 'ens5', 'veth0', 'vethpeer1234', 'bond0'])
    assert.equal(comesAndGoesWithPods(ifname), false, ifname);
});
