import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { DEFAULT_LAB_OPTIONS, planLab } from '../../src/lab/plan.js';
import { buildTopology } from '../../src/lab/up.js';
import { startLabEtcd } from '../../src/lab/etcd.js';
import { isRunning } from '../../src/kernel/processes.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { LABS_DIR, labDown, sweepStaleLabs, testLabName } from '../helpers/lab.js';

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

function etcdctl(netns: string | undefined, endpoint: string, args: string[]): string {
  const argv = ['etcdctl', '--endpoints', endpoint, '--dial-timeout', '5s', ...args];
  return netns
    ? execFileSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8' })
    : execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
}

test("lab: etcd runs on the underlay, reached by hosts over the lab's network and by the machine through a relay", async () => {
  const name = testLabName();
  const plan = planLab(LABS_DIR, name, { ...DEFAULT_LAB_OPTIONS, nodes: 2, store: 'etcd' });
  try {
    mkdirSync(plan.stateDir, { recursive: true });
    await buildTopology(plan);
    const etcd = await startLabEtcd(plan);
    assert.equal(etcd.hostStoreUrl, 'etcd:172.31.1.254:2379');
    assert.match(etcd.storeUrl, /^etcd:127\.0\.0\.1:\d+$/);
    // From the machine's namespace, through the relay.
    assert.equal(
      etcdctl(undefined, etcd.storeUrl.slice(5), ['put', 'podnet-lab-test', 'v1']).trim(),
      'OK',
    );
    // From node-2 in zone 2: through its zone's router, as a real host would.
    const got = etcdctl(`${name}-node-2`, '172.31.1.254:2379', [
      'get',
      'podnet-lab-test',
      '--print-value-only',
    ]);
    assert.equal(got.trim(), 'v1');
    assert.ok(etcd.processes.every((p) => isRunning(p)));
    labDown(name);
    assert.ok(
      etcd.processes.every((p) => !isRunning(p)),
      'etcd or its relay left running',
    );
    assert.equal(existsSync(plan.stateDir), false);
  } finally {
    labDown(name);
  }
});
