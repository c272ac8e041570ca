import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serviceDispatch, servicePortListed } from '../../src/proxy/programmed.js';

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
  assert.deepEqual(serviceDispatch(4).nftables, {
    family: 'ip',
    table: 'podnet',
    map: 'service-ips',
  });
  const map = 'elements = { 10.96.0.20 . tcp . 80 : goto backends-tcp-n3 }';
  assert.equal(servicePortListed('nftables', map, '10.96.0.20', 80), true);
  assert.equal(servicePortListed('nftables', map, '10.96.0.21', 80), false);
  assert.equal(servicePortListed('nftables', '', '10.96.0.20', 80), false);
});

test('IPv6: the service port is listed by ip6tables-save with a /128, and in the ip6 table’s map', () => {
  const save = [
    '*nat',
    '-A PODNET-SERVICES -d fd00:10:96::14/128 -p tcp -m tcp --dport 80 -m comment --comment "shop/web:http" -j PODNET-SVC-X',
  ].join('\n');
  assert.equal(servicePortListed('iptables', save, 'fd00:10:96::14', 80), true);
  assert.equal(servicePortListed('iptables', save, 'fd00:10:96::1', 80), false);
  assert.deepEqual(serviceDispatch(6).nftables, {
    family: 'ip6',
    table: 'podnet',
    map: 'service-ips',
  });
  const map = 'elements = { fd00:10:96::14 . tcp . 80 : goto backends-tcp-n3 }';
  assert.equal(servicePortListed('nftables', map, 'fd00:10:96::14', 80), true);
  assert.equal(servicePortListed('nftables', map, 'fd00:10:96::1', 80), false);
});
