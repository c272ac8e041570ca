import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSpeakerConfig } from '../../src/bgp/config.js';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

test('bgp cli: a bad speaker config is one line naming the field, exit 2, nothing started', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pnt-bgp-cli-'));
  try {
    const file = join(dir, 'speaker.yaml');
    writeFileSync(
      file,
      'asNumber: 64512\nbgpId: 10.0.0.1\npeers:\n  - { address: 10.0.0.300, asNumber: 65000 }\n',
    );
    const r = spawnSync(podnet, ['bgp', 'speaker', '--config', file], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /field peers\.0\.address: must be an IPv4 address/);
    const missing = spawnSync(podnet, ['bgp', 'speaker', '--config', join(dir, 'nope.yaml')], {
      encoding: 'utf8',
    });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--config .*nope\.yaml: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bgp config: fields are checked one by one', () => {
  const ok = parseSpeakerConfig(
    'asNumber: 4200000000\nbgpId: 10.0.0.1\nholdTime: 0\nlocalPrefixes: [10.244.1.0/24]\n',
    'x',
  );
  assert.equal(ok.speaker.asNumber, 4200000000);
  assert.deepEqual(ok.localPrefixes, ['10.244.1.0/24']);
  assert.throws(
    () => parseSpeakerConfig('asNumber: 1\nbgpId: 10.0.0.1\nholdTime: 2\n', 'x'),
    /field holdTime: must be 0 or 3\.\.65535 seconds/,
  );
  assert.throws(
    () => parseSpeakerConfig('asNumber: 1\nbgpId: 10.0.0.1\nlocalPrefixes: [10.1.0.0/33]\n', 'x'),
    /field localPrefixes\.0: must be an IPv4 CIDR/,
  );
  assert.throws(
    () => parseSpeakerConfig('asNumber: 1\nbgpId: 10.0.0.1\nbogus: 1\n', 'x'),
    /x: field/,
  );
  assert.throws(() => parseSpeakerConfig('{', 'x'), /x: not YAML or JSON/);
  // Leading zeros were once read as decimal here, while inet_aton reads them as octal.
  assert.throws(
    () => parseSpeakerConfig('asNumber: 1\nbgpId: 010.0.0.1\n', 'x'),
    /^UsageError: x: field bgpId: must be an IPv4 address: four decimal octets without leading zeros$/,
  );
});
