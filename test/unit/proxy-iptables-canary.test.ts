// The iptables proxier's canary look: the canary chains every time, the jumps from the built-in
// chains every sixth look, each chain listed once: a flushed table is seen at the next look, a
// jump deleted by hand within six.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IptablesProxier } from '../../src/proxy/proxier.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import { CLUSTER } from '../helpers/proxy-topology.js';
import { webRule } from '../helpers/proxy-rules.js';

const NET = { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' };
const PORTALS = '-m comment --comment "podnet service portals" -j PODNET-SERVICES';

/** A programmed proxier whose kernel counts the chains it is asked to list. */
async function programmed(): Promise<{
  proxier: IptablesProxier;
  ipt: FakeIptables;
  listed: string[];
}> {
  const ipt = new FakeIptables();
  const listed: string[] = [];
  const listChain = ipt.listChain.bind(ipt);
  ipt.listChain = (table, chain) => {
    listed.push(`${table} ${chain}`);
    return listChain(table, chain);
  };
  const proxier = new IptablesProxier(NET, ipt);
  await proxier.sync([webRule(1)], true);
  return { proxier, ipt, listed };
}

test('the first look reads the canaries and each built-in chain with a jump, once each', async () => {
  const { proxier, listed } = await programmed();
  assert.equal(await proxier.intact(), true);
  assert.deepEqual(listed.sort(), [
    'filter FORWARD',
    'filter INPUT',
    'filter OUTPUT',
    'filter PODNET-CANARY',
    'nat OUTPUT',
    'nat PODNET-CANARY',
    'nat POSTROUTING',
    'nat PREROUTING',
  ]);
});

test('a jump deleted by hand is found at the sixth look after the one that read the jumps', async () => {
  const { proxier, ipt, listed } = await programmed();
  assert.equal(await proxier.intact(), true);
  ipt.deleteRule('nat', 'PREROUTING', PORTALS);
  for (let look = 2; look <= 6; look++) {
    listed.length = 0;
    assert.equal(await proxier.intact(), true, `look ${look} reads only the canaries`);
    assert.deepEqual(listed.sort(), ['filter PODNET-CANARY', 'nat PODNET-CANARY']);
  }
  assert.equal(await proxier.intact(), false, 'the seventh look reads the jumps');
});

test('a flushed table is seen at the next look, jumps read or not', async () => {
  const { proxier, ipt } = await programmed();
  assert.equal(await proxier.intact(), true);
  ipt.flush('nat');
  assert.equal(await proxier.intact(), false);
});
