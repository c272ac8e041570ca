import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, parseNetConf } from '../../src/cni/config.js';
import { cniErrorCode } from '../helpers/cni-errors.js';

const conf = (extra: object = {}) =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'podnet', ...extra });

test('cni-config: a plain config parses with the default agent socket', () => {
  const c = parseNetConf(conf(), 'ADD');
  assert.equal(c.cniVersion, '1.0.0');
  assert.equal(c.agentSocket, '/run/podnet/agent.sock');
  assert.equal(
    parseNetConf(conf({ agentSocket: '/tmp/a.sock' }), 'ADD').agentSocket,
    '/tmp/a.sock',
  );
});

test('cni-config: undecodable stdin is error 6', () => {
  assert.equal(
    cniErrorCode(() => parseNetConf('{"cniVersion":', 'ADD')),
    6,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf('[1,2]', 'ADD')),
    6,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf('', 'ADD')),
    6,
  );
});

test('cni-config: missing or wrong fields are error 7', () => {
  assert.equal(
    cniErrorCode(() => parseNetConf(conf({ name: undefined }), 'ADD')),
    7,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf(conf({ type: 'ptp' }), 'ADD')),
    7,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf(conf({ agentSocket: 'rel.sock' }), 'ADD')),
    7,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf(JSON.stringify({ name: 'x', type: 'podnet' }), 'ADD')),
    7,
  );
});

test('cni-config: an unknown cniVersion is error 1; GC and STATUS need 1.1.0', () => {
  assert.equal(
    cniErrorCode(() => parseNetConf(conf({ cniVersion: '0.3.1' }), 'ADD')),
    1,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf(conf({ cniVersion: '9.0.0' }), 'ADD')),
    1,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf(conf(), 'GC')),
    1,
  );
  assert.equal(
    cniErrorCode(() => parseNetConf(conf(), 'STATUS')),
    1,
  );
  for (const v of ['0.4.0', '1.0.0', '1.1.0']) {
    assert.equal(parseNetConf(conf({ cniVersion: v }), 'ADD').cniVersion, v);
  }
});

test('cni-config: GC reads the valid attachments and refuses a config without them', () => {
  const valid = [{ containerID: 'a', ifname: 'eth0' }];
  const c = parseNetConf(conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }), 'GC');
  assert.deepEqual(c.validAttachments, valid);
  assert.equal(
    cniErrorCode(() => parseNetConf(conf({ cniVersion: '1.1.0' }), 'GC')),
    7,
  );
  const bad = conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 1 }] });
  assert.equal(
    cniErrorCode(() => parseNetConf(bad, 'GC')),
    7,
  );
});

test('cni-config: versions compare numerically', () => {
  assert.ok(compareVersions('0.4.0', '1.0.0') < 0);
  assert.ok(compareVersions('1.10.0', '1.9.0') > 0);
  assert.equal(compareVersions('1.1.0', '1.1.0'), 0);
});
