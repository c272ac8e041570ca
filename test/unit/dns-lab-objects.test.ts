import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RESOLVER_IP,
  clusterDnsObjects,
  resolverArgv,
  resolverRouteBatch,
} from '../../src/lab/cluster-dns.js';

test('dns lab: kube-system/kube-dns at 10.96.0.10 with dns, dns-tcp and metrics ports', () => {
  const objs = clusterDnsObjects({ nodes: ['node-1', 'node-2'] });
  assert.deepEqual(
    objs.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    [
      'Namespace /kube-system',
      'Service kube-system/kube-dns',
      'Pod kube-system/coredns-0',
      'Pod kube-system/coredns-1',
    ],
  );
  const svc = objs[1]!;
  assert.ok(svc.kind === 'Service');
  assert.equal(svc.spec.clusterIP, '10.96.0.10');
  assert.deepEqual(
    svc.spec.ports?.map((p) => `${p.name} ${p.port}/${p.protocol}`),
    ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP'],
  );
  const pod = objs[2]!;
  assert.ok(pod.kind === 'Pod');
  assert.equal(pod.spec.nodeName, 'node-1');
  assert.deepEqual(pod.metadata.labels, svc.spec.selector);
  assert.deepEqual(pod.spec.containers[0]!.command?.slice(0, 4), [
    'podnet',
    'dns',
    '--upstream',
    `${RESOLVER_IP}:53`,
  ]);
});

test('dns lab: in a dual-stack lab kube-dns takes the DNS address of both families', () => {
  const svc = clusterDnsObjects({
    nodes: ['node-1'],
    dnsIPs: ['10.96.0.10', 'fd00:10:96::a'],
  }).find((o) => o.kind === 'Service');
  assert.ok(svc?.kind === 'Service');
  assert.equal(svc.spec.clusterIP, '10.96.0.10');
  assert.deepEqual(svc.spec.clusterIPs, ['10.96.0.10', 'fd00:10:96::a']);
  assert.deepEqual(svc.spec.ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(svc.spec.ipFamilyPolicy, 'RequireDualStack');
});

test('dns lab: the upstream resolver never forwards and answers only made-up names', () => {
  const argv = resolverArgv('/run/x.pid');
  assert.ok(argv.includes('--no-resolv'));
  assert.ok(argv.includes(`--listen-address=${RESOLVER_IP}`));
  assert.ok(argv.some((a) => a.startsWith('--host-record=www.example.test,')));
  assert.ok(!argv.some((a) => a.startsWith('--server')));
});

test('dns lab: replies from the resolver reach pods by source routing only', () => {
  assert.deepEqual(resolverRouteBatch([{ podCIDR: '10.244.1.0/24', nodeIP: '172.31.0.1' }]), [
    `addr replace ${RESOLVER_IP}/32 dev lo`,
    `rule add from ${RESOLVER_IP} lookup 53 priority 530`,
    'route replace 10.244.1.0/24 via 172.31.0.1 table 53',
  ]);
});
