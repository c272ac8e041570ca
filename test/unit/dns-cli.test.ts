import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseUpstreams } from '../../src/cli/dns.js';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

test('dns cli: upstreams are IP[:PORT] lists', () => {
  assert.deepEqual(parseUpstreams(''), []);
  assert.deepEqual(parseUpstreams('172.31.255.53,10.0.0.1:5353'), [
    { host: '172.31.255.53', port: 53 },
    { host: '10.0.0.1', port: 5353 },
  ]);
  // IPv6 bare or bracketed with a port, kept in the canonical text a socket reports replies from.
  assert.deepEqual(parseUpstreams('FD00:0:0::53,[fd00::53]:5353,[::1]'), [
    { host: 'fd00::53', port: 53 },
    { host: 'fd00::53', port: 5353 },
    { host: '::1', port: 53 },
  ]);
  for (const bad of [
    'resolver.local',
    '10.0.0.1:0',
    '10.0.0.300',
    '10.0.0.1:53:1',
    '10.0.0.1,',
    '[10.0.0.1]:53',
    '[fd00::53]:',
    '[fd00::53]:70000',
    'fd00::53]:53',
    'fd00::53%eth0',
  ]) {
    assert.throws(() => parseUpstreams(bad), /--upstream .*expected an IP address/);
  }
});

test('dns cli: a bad flag is one line on stderr and exit code 2', () => {
  for (const args of [
    ['dns', '--upstream', 'nonsense', '--store', 'sqlite:/nonexistent/x.db'],
    ['dns', '--port', '70000', '--store', 'sqlite:/nonexistent/x.db'],
    ['dns', '--domain', 'bad domain', '--store', 'sqlite:/nonexistent/x.db'],
  ]) {
    const r = spawnSync(podnet, args, { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^error: --(upstream|port|domain) /);
  }
});

test('dns cli: a store that cannot be opened stops it at once with exit code 2', () => {
  const r = spawnSync(
    podnet,
    ['dns', '--store', 'bogus:x', '--listen', '127.0.0.1', '--port', '1'],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^error: store bogus:x/);
});
