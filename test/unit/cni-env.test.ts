import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCniArgs, parseCniEnv } from '../../src/cni/env.js';
import { cniErrorCode } from '../helpers/cni-errors.js';

const base = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0',
};

test('cni-env: a full ADD environment parses', () => {
  const env = parseCniEnv(base);
  assert.equal(env.command, 'ADD');
  assert.equal(env.containerID, 'abc123');
  assert.deepEqual(env.path, ['/opt/cni/bin', '/usr/lib/cni']);
  assert.deepEqual(env.args, {
    IgnoreUnknown: '1',
    K8S_POD_NAMESPACE: 'shop',
    K8S_POD_NAME: 'web-0',
  });
});

test('cni-env: each missing variable is error 4 naming it', () => {
  for (const v of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']) {
    const env: Record<string, string | undefined> = { ...base, [v]: undefined };
    assert.equal(
      cniErrorCode(() => parseCniEnv(env)),
      4,
      v,
    );
    assert.throws(() => parseCniEnv(env), new RegExp(v));
  }
});

test('cni-env: DEL needs no netns; VERSION needs nothing but the command', () => {
  assert.equal(parseCniEnv({ ...base, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, '');
  assert.equal(parseCniEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
  assert.equal(parseCniEnv({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }).command, 'GC');
});

test('cni-env: malformed values are error 4', () => {
  for (const bad of [
    { CNI_COMMAND: 'FROB' },
    { CNI_CONTAINERID: '-bad' },
    { CNI_IFNAME: 'a-very-long-name-x' },
    { CNI_IFNAME: 'eth/0' },
    { CNI_NETNS: 'relative/path' },
    { CNI_ARGS: 'K8S_POD_NAME' },
  ]) {
    assert.equal(
      cniErrorCode(() => parseCniEnv({ ...base, ...bad })),
      4,
      JSON.stringify(bad),
    );
  }
});

test('cni-env: CNI_ARGS keeps values with = and skips empty pairs', () => {
  assert.deepEqual(parseCniArgs('A=b=c;;B='), { A: 'b=c', B: '' });
  assert.deepEqual(parseCniArgs(''), {});
});
