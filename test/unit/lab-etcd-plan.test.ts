import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  etcdMemberArgv,
  etcdPkiPaths,
  etcdStoreUrl,
  planEtcdMembers,
  validateEtcdMembers,
} from '../../src/lab/etcd-plan.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { DEFAULT_LAB_OPTIONS, planLab } from '../../src/lab/plan.js';
import { UsageError } from '../../src/util/errors.js';

/** The value after `flag` in an argv. */
function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
}

test('lab etcd plan: members count down from the router; one member keeps the name etcd', () => {
  const three = planEtcdMembers('172.31.1.254', 3, false);
  assert.deepEqual(
    three.map((m) => [m.name, m.endpoint, m.peerUrl]),
    [
      ['etcd-1', '172.31.1.254:2379', 'http://172.31.1.254:2380'],
      ['etcd-2', '172.31.1.253:2379', 'http://172.31.1.253:2380'],
      ['etcd-3', '172.31.1.252:2379', 'http://172.31.1.252:2380'],
    ],
  );
  assert.deepEqual(
    planEtcdMembers('172.31.1.254', 1, true).map((m) => [m.name, m.clientUrl]),
    [['etcd', 'https://172.31.1.254:2379']],
  );
  assert.equal(validateEtcdMembers(5), 5);
  assert.throws(() => validateEtcdMembers(2), UsageError);
  assert.throws(() => validateEtcdMembers(2), /--etcd-members 2: use 1, 3, 5/);
});

test('lab etcd plan: every member is told the whole cluster; TLS asks clients and peers for certificates', () => {
  const members = planEtcdMembers('172.31.1.254', 3, true);
  const pki = etcdPkiPaths('/run/podnet/labs/x');
  const argv = etcdMemberArgv(members[1]!, members, '/d', 'tok', pki);
  assert.equal(
    flag(argv, '--initial-cluster'),
    'etcd-1=https://172.31.1.254:2380,etcd-2=https://172.31.1.253:2380,etcd-3=https://172.31.1.252:2380',
  );
  assert.equal(flag(argv, '--listen-client-urls'), 'https://172.31.1.253:2379');
  assert.equal(flag(argv, '--cert-file'), '/run/podnet/labs/x/etcd-pki/etcd-2.crt');
  assert.equal(flag(argv, '--peer-key-file'), '/run/podnet/labs/x/etcd-pki/etcd-2.key');
  assert.equal(flag(argv, '--trusted-ca-file'), '/run/podnet/labs/x/etcd-pki/ca.crt');
  assert.ok(argv.includes('--client-cert-auth') && argv.includes('--peer-client-cert-auth'));
  const plain = etcdMemberArgv(members[0]!, members, '/d', 'tok');
  assert.ok(!plain.some((a) => a.includes('cert')), 'no TLS flags without a PKI');
});

test('lab etcd plan: the store URL carries the CA and the client certificate with --tls', () => {
  const pki = etcdPkiPaths('/l');
  const url = etcdStoreUrl(['127.0.0.1:4001', '127.0.0.1:4002'], pki);
  assert.deepEqual(parseEtcdUrl(url), {
    hosts: ['127.0.0.1:4001', '127.0.0.1:4002'],
    ca: '/l/etcd-pki/ca.crt',
    cert: '/l/etcd-pki/client.crt',
    key: '/l/etcd-pki/client.key',
    timeoutMs: 5000,
  });
  const lab = planLab('/labs', 'x', {
    ...DEFAULT_LAB_OPTIONS,
    store: 'etcd',
    etcdMembers: 1,
    etcdTls: true,
  });
  assert.equal(
    lab.hostStoreUrl,
    'etcd:172.31.1.254:2379?ca=/labs/x/etcd-pki/ca.crt&cert=/labs/x/etcd-pki/client.crt&key=/labs/x/etcd-pki/client.key',
  );
});
