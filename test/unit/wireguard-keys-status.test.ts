import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANNOTATION_WIREGUARD_KEY } from '../../src/api/types.js';
import {
  lastRotation,
  loadWireguardKey,
  publicKeyOf,
  recordRotation,
  rotateWireguardKey,
} from '../../src/agent/wireguard-keys.js';
import type { ActualLink } from '../../src/kernel/netobjects.js';
import { describeWireguard, wireguardStatus } from '../../src/routing/wireguard-status.js';
import { makeNode } from '../helpers/routing-nodes.js';

test('wireguard keys: the public key is X25519 of the private one (RFC 7748 test vector)', () => {
  const alice = Buffer.from(
    '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    'hex',
  ).toString('base64');
  const expected = Buffer.from(
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    'hex',
  ).toString('base64');
  assert.equal(publicKeyOf(alice), expected);
});

test('wireguard keys: made once, mode 0600, kept across restarts; a rotation replaces it once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pn-wgkeys-'));
  try {
    const first = loadWireguardKey(dir);
    assert.equal(statSync(first.privateKeyFile).mode & 0o777, 0o600);
    assert.equal(loadWireguardKey(dir).publicKey, first.publicKey, 'a restart keeps the key');
    const private1 = readFileSync(first.privateKeyFile, 'utf8');
    assert.ok(!private1.includes(first.publicKey));
    assert.equal(lastRotation(dir), undefined);
    const second = rotateWireguardKey(dir);
    recordRotation(dir, '2026-12-06T04:00:00Z');
    assert.notEqual(second.publicKey, first.publicKey);
    assert.equal(statSync(second.privateKeyFile).mode & 0o777, 0o600);
    assert.equal(loadWireguardKey(dir).publicKey, second.publicKey);
    assert.equal(lastRotation(dir), '2026-12-06T04:00:00Z');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wireguard status: names each peer by the node publishing its key, with its handshake age', () => {
  const key2 = `${'b'.repeat(42)}A=`;
  const node2 = makeNode('node-2', '10.244.2.0/24', '172.31.1.2');
  node2.metadata.annotations = { [ANNOTATION_WIREGUARD_KEY]: key2 };
  const link: ActualLink = {
    name: 'pn-wg',
    kind: 'tun',
    mtu: 1440,
    mac: '',
    up: true,
    addresses: [],
    wireguard: {
      publicKey: `${'a'.repeat(42)}A=`,
      listenPort: 51820,
      peers: [
        {
          publicKey: key2,
          endpoint: '172.31.1.2:51820',
          allowedIPs: [],
          latestHandshake: 1000,
          rxBytes: 0,
          txBytes: 0,
        },
        {
          publicKey: `${'z'.repeat(42)}A=`,
          endpoint: '',
          allowedIPs: [],
          latestHandshake: 0,
          rxBytes: 0,
          txBytes: 0,
        },
      ],
    },
  };
  const status = wireguardStatus([link], [node2], 1042)!;
  assert.equal(status.implementation, 'wireguard-go');
  assert.deepEqual(describeWireguard(status), [
    'pn-wg: wireguard-go over TUN, 2 peer(s)',
    'peer node-2 at 172.31.1.2:51820: handshake 42s ago',
    `peer unknown key ${'z'.repeat(42)}A= at (no endpoint): no handshake yet`,
  ]);
  assert.equal(wireguardStatus([{ ...link, wireguard: undefined }], [], 0), undefined);
});
