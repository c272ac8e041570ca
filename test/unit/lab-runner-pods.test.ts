import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/api/types.js';
import { storePodBinder } from '../../src/agent/pod-binder.js';
import { runnerPods } from '../../src/lab/runner-pods.js';
import { createObject, listObjects } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';

function pod(name: string, nodeName: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName, containers: [{ name: 'c', command: ['sleep', '1000'] }] },
  };
}

test('lab runner: leaves alone the Pod the agent made for a bare runtime container, runs the pods placed on its node', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    await createObject(store, pod('web', 'node-1'));
    await createObject(store, pod('elsewhere', 'node-2'));
    // podman on node-1 runs a container named "box": the agent's binder makes its Pod.
    await storePodBinder(store, 'node-1').bind(
      { namespace: 'default', name: 'box' },
      '10.244.1.5',
      '172.31.1.1',
      'c0ffee',
    );
    const { items } = await listObjects(store, 'Pod');
    assert.deepEqual(
      items.map((p) => p.metadata.name).sort(),
      ['box', 'elsewhere', 'web'],
      'the binder made a Pod for the container',
    );
    assert.deepEqual(
      runnerPods(items, 'node-1').map((p) => p.metadata.name),
      ['web'],
    );
  } finally {
    await store.close();
  }
});
