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

test('bgp cli: get bgp shows uptime as of now, from when the session was established, not as of the last publication', async () => {
  const { openStore } = await import('../../src/store/open.js');
  const { publishStatus } = await import('../../src/bgp/status-store.js');
  const dir = mkdtempSync(join(tmpdir(), 'pnt-bgp-uptime-'));
  const url = `sqlite:${join(dir, 'store.db')}`;
  try {
    const store = await openStore(url);
    const since = new Date(Date.now() - 10 * 60_000).toISOString();
    // Published once, 9 minutes ago (uptime 60 s then); nothing about the session changed since.
    await publishStatus(store, 'node-1', [
      {
        address: '172.31.1.2',
        asNumber: 64512,
        kind: 'ibgp',
        rrClient: false,
        state: 'Established',
        uptime: 60,
        establishedSince: since,
        prefixesReceived: 1,
        prefixesAdvertised: 1,
        prefixesRejected: 0,
        stalePrefixes: 0,
        messagesIn: 3,
        messagesOut: 3,
      },
    ]);
    await store.close();
    const table = spawnSync(podnet, ['--store', url, 'get', 'bgp'], { encoding: 'utf8' });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /node-1\s+172\.31\.1\.2\s+64512\s+ibgp\s+Established\s+10m\s/);
    const json = spawnSync(podnet, ['--store', url, 'get', 'bgp', '-o', 'json'], {
      encoding: 'utf8',
    });
    const uptime = (JSON.parse(json.stdout) as { items: { peers: { uptime: number }[] }[] })
      .items[0]!.peers[0]!.uptime;
    assert.ok(uptime >= 600 && uptime < 620, `uptime ${uptime}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
