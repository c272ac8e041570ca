import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Pod } from '../../src/api/types.js';
import { isRunning } from '../../src/process/daemons.js';
import { findProcess, listProcesses } from '../../src/lab/supervisor.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { labDown, labUp, podnet, podnetOk, sweepStaleLabs, testLabName } from '../helpers/lab.js';

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

test("lab: --store etcd runs etcd on the underlay, reached by hosts over the lab's network and by podnet through a relay", async () => {
  const name = testLabName();
  try {
    const lab = labUp(name, ['--nodes', '2', '--store', 'etcd', '--etcd-members', '1']);
    assert.equal(lab.options.store, 'etcd');
    assert.equal(lab.hostStoreUrl, 'etcd:172.31.1.254:2379');
    assert.match(lab.storeUrl, /^etcd:127\.0\.0\.1:\d+$/);
    // Agents talk to etcd over the underlay, like agents on real hosts.
    const agent = findProcess(lab.stateDir, 'agent-node-2')!;
    assert.ok(agent.argv.join(' ').includes('--store etcd:172.31.1.254:2379'));

    // podnet in the machine's namespace writes through the relay; node-2's pod runner
    // (zone 2, one routed hop from etcd) sees the Pod and runs it.
    podnetOk(['--lab', name, 'apply', '-f', '-'], {
      input: [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: web, namespace: default}',
        'spec:',
        '  nodeName: node-2',
        '  containers:',
        "    - {name: echo, command: [podnet, serve-echo, --port, '8080']}",
        '',
      ].join('\n'),
    });
    const deadline = Date.now() + 30_000;
    let pod: Pod | undefined;
    while (Date.now() < deadline) {
      const r = podnet(['--lab', name, 'get', 'pod', 'web', '-o', 'json']);
      pod = r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
      if (pod?.status?.phase === 'Running') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(pod?.status?.phase, 'Running');
    assert.match(pod!.status!.podIP!, /^10\.244\.\d+\.\d+$/);
    // The object is in etcd, seen from a host over the lab's network.
    const keys = etcdctl(`${name}-node-2`, '172.31.1.254:2379', [
      'get',
      '/podnet/',
      '--prefix',
      '--keys-only',
    ]);
    assert.match(keys, /\/podnet\/pods\/default\/web/);

    const procs = listProcesses(lab.stateDir);
    assert.deepEqual(
      procs
        .filter((p) => p.id.startsWith('etcd'))
        .map((p) => p.id)
        .sort(),
      ['etcd', 'etcd-relay'],
    );
    labDown(name);
    assert.deepEqual(
      procs.filter((p) => isRunning(p)).map((p) => p.id),
      [],
      'processes left running',
    );
  } finally {
    labDown(name);
  }
});
