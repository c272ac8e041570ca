import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storePodBinder } from '../../src/agent/pod-binder.js';
import { getObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';

test('pod binder: a dual-stack pod records both addresses in status.podIPs, the primary first', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    const binder = storePodBinder(store, 'node-1');
    const pod = { namespace: 'default', name: 'box' };
    await binder.bind(pod, '10.244.1.5', '172.31.1.1', 'c0ffee', ['fd00:10:244:1::5']);
    const made = await getObject(store, 'Pod', 'default', 'box');
    assert.equal(made?.status?.podIP, '10.244.1.5');
    assert.deepEqual(made?.status?.podIPs, [{ ip: '10.244.1.5' }, { ip: 'fd00:10:244:1::5' }]);
    // A second bind updates the Pod in place (a new sandbox of the same pod).
    await binder.bind(pod, '10.244.1.6', '172.31.1.1', 'c0ffee', ['fd00:10:244:1::6']);
    const updated = await getObject(store, 'Pod', 'default', 'box');
    assert.deepEqual(updated?.status?.podIPs, [{ ip: '10.244.1.6' }, { ip: 'fd00:10:244:1::6' }]);
  } finally {
    await store.close();
  }
});
