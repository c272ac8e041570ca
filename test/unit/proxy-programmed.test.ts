import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVICE_DISPATCH, servicePortListed } from '../../src/proxy/programmed.js';

test('iptables: a service port is listed when PODNET-SERVICES dispatches its IP and port', () => {
  const save = [
    '*nat',
    ':PODNET-SERVICES - [0:0]',
    '-A PODNET-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/web:http" -j PODNET-SVC-X',
    'COMMIT',
  ].join('\n');
  assert.equal(servicePortListed('iptables', save, '10.96.0.20', 80), true);
  assert.equal(servicePortListed('iptables', save, '10.96.0.20', 8), false);
  assert.equal(servicePortListed('iptables', save, '10.96.0.2', 80), false);
});

test('nftables: a service port is listed when the dispatch map has its key', () => {
  assert.deepEqual(SERVICE_DISPATCH.nftables, {
    family: 'ip',
    table: 'podnet',
    map: 'service-ips',
  });
  const map = 'elements = { 10.96.0.20 . tcp . 80 : goto backends-tcp-n3 }';
  assert.equal(servicePortListed('nftables', map, '10.96.0.20', 80), true);
  assert.equal(servicePortListed('nftables', map, '10.96.0.21', 80), false);
  assert.equal(servicePortListed('nftables', '', '10.96.0.20', 80), false);
});
