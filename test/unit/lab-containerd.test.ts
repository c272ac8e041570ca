import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/api/types.js';
import { tarArchive } from '../../src/lab/tar.js';
import { sandboxActions, sandboxIP } from '../../src/lab/cri-pods.js';
import type { Sandbox } from '../../src/lab/cri-client.js';
import { containerdConfig, containerdPaths } from '../../src/lab/containerd.js';
import { mountsUnder } from '../../src/kernel/mounts.js';

const pod = (name: string, uid: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', uid },
  spec: { containers: [{ name: 'c' }] },
});
const sandbox = (name: string, uid: string, ready = true): Sandbox => ({
  id: `id-${name}-${uid}`,
  metadata: { name, uid, namespace: 'default', attempt: 0 },
  state: ready ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
  labels: {},
});

test('tar: headers carry a valid checksum and data is padded to 512-byte blocks', () => {
  const t = tarArchive([{ kind: 'file', path: 'a', mode: 0o644, data: Buffer.from('hi') }]);
  assert.equal(t.length, 512 + 512 + 1024);
  const h = t.subarray(0, 512);
  const stored = parseInt(h.subarray(148, 154).toString(), 8);
  const copy = Buffer.from(h);
  copy.fill(' ', 148, 156);
  assert.equal(
    stored,
    [...copy].reduce((a, b) => a + b, 0),
  );
  assert.equal(t.subarray(512, 514).toString(), 'hi');
});

test('sandboxes: runs the missing, removes the unwanted, replaced and not ready, keeps the rest', () => {
  const actions = sandboxActions(
    [pod('keep', 'u1'), pod('new', 'u2'), pod('replaced', 'u4'), pod('died', 'u5')],
    [
      sandbox('keep', 'u1'),
      sandbox('gone', 'u3'),
      sandbox('replaced', 'old'),
      sandbox('died', 'u5', false),
    ],
  );
  assert.deepEqual(
    actions.run.map((p) => p.metadata.name),
    ['new', 'replaced', 'died'],
  );
  assert.deepEqual(
    actions.remove.map((s) => s.metadata.name),
    ['gone', 'replaced', 'died'],
  );
});

test('sandbox IP: absent until the CNI result gave one', () => {
  assert.equal(
    sandboxIP({ ...sandbox('a', 'u'), network: { ip: '', additional_ips: [] } }),
    undefined,
  );
  assert.equal(
    sandboxIP({ ...sandbox('a', 'u'), network: { ip: '10.244.1.2', additional_ips: [] } }),
    '10.244.1.2',
  );
});

test('containerd config: everything under the host directory, namespaces in its state', () => {
  const p = containerdPaths('/run/podnet/labs/l/hosts/node-1');
  const text = containerdConfig(p, { binDir: '/b', confDir: '/c' }, 'img:1');
  for (const line of [
    'root = "/run/podnet/labs/l/hosts/node-1/containerd/root"',
    '  address = "/run/podnet/labs/l/hosts/node-1/containerd/containerd.sock"',
    '  netns_mounts_under_state_dir = true',
    '  bin_dir = "/b"',
    '  conf_dir = "/c"',
    '  sandbox_image = "img:1"',
  ]) {
    assert.ok(text.split('\n').includes(line), line);
  }
  assert.ok(p.netnsDir.startsWith(p.state));
});

test('mounts under a directory: deepest first, escapes undone, the directory itself excluded', () => {
  const info = [
    '1 0 8:1 / / rw - ext4 /dev/vda rw',
    '2 1 0:4 / /run/x rw - tmpfs t rw',
    '3 1 0:5 / /run/x/a\\040b rw - nsfs nsfs rw',
    '4 1 0:6 / /run/x/a\\040b/c rw - tmpfs t rw',
    '5 1 0:7 / /run/xy rw - tmpfs t rw',
  ].join('\n');
  assert.deepEqual(mountsUnder('/run/x', info), ['/run/x/a b/c', '/run/x/a b']);
});
