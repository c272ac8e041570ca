import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service } from '../../src/api/types.js';
import { clusterServicePorts, servicePortRules } from '../../src/proxy/from-services.js';
import { endpointHash, nameHash, serviceHash } from '../../src/proxy/model.js';

function service(spec: Partial<Service['spec']>, name = 'web'): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }], ...spec },
  };
}

const pod = (ip: string, port: number, ready = true, terminating = false) => ({
  ip,
  port,
  ready,
  serving: ready || terminating,
  terminating,
});
const endpoints = {
  ports: [
    {
      name: 'http',
      protocol: 'TCP' as const,
      // 10.244.3.4 resolves the named target port to another number (targetPort by name).
      endpoints: [
        pod('10.244.2.7', 8080),
        pod('10.244.1.3', 8080),
        pod('10.244.3.9', 8080, false),
        pod('10.244.3.4', 9090),
      ],
    },
    {
      name: 'dns',
      protocol: 'UDP' as const,
      endpoints: [pod('10.244.2.7', 53), pod('10.244.1.3', 53)],
    },
  ],
};

test('a ClusterIP service port gets its ready endpoints, sorted, per named port', () => {
  const [rule] = servicePortRules(service({}), endpoints);
  assert.deepEqual(rule, {
    name: 'shop/web:http',
    clusterIP: '10.96.0.20',
    protocol: 'TCP',
    port: 80,
    endpoints: [
      { ip: '10.244.1.3', port: 8080 },
      { ip: '10.244.2.7', port: 8080 },
      { ip: '10.244.3.4', port: 9090 },
    ],
  });
});

test('not-ready addresses are never endpoints', () => {
  const [rule] = servicePortRules(service({}), endpoints);
  assert.ok(!rule!.endpoints.some((e) => e.ip === '10.244.3.9'));
});

test('with no ready endpoint, those serving while they terminate take the connections', () => {
  const draining = {
    ports: [
      {
        name: 'http',
        protocol: 'TCP' as const,
        endpoints: [
          pod('10.244.1.3', 8080, false, true),
          pod('10.244.2.7', 8080, false),
          { ...pod('10.244.3.4', 8080, false, true), serving: false },
        ],
      },
    ],
  };
  const [rule] = servicePortRules(service({}), draining);
  assert.deepEqual(rule!.endpoints, [{ ip: '10.244.1.3', port: 8080 }]);
  const [mixed] = servicePortRules(service({}), {
    ports: [
      {
        ...draining.ports[0]!,
        endpoints: [...draining.ports[0]!.endpoints, pod('10.244.9.9', 80)],
      },
    ],
  });
  assert.deepEqual(mixed!.endpoints, [{ ip: '10.244.9.9', port: 80 }]);
});

test('UDP ports match endpoints by name and protocol', () => {
  const [rule] = servicePortRules(
    service({ ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
    endpoints,
  );
  assert.equal(rule!.protocol, 'UDP');
  assert.deepEqual(
    rule!.endpoints.map((e) => e.port),
    [53, 53],
  );
});

test('NodePort and ClientIP affinity carry over; the default timeout is 3 h', () => {
  const [rule] = servicePortRules(
    service({
      type: 'NodePort',
      sessionAffinity: 'ClientIP',
      ports: [{ name: 'http', port: 80, nodePort: 30080 }],
    }),
    endpoints,
  );
  assert.equal(rule!.nodePort, 30080);
  assert.equal(rule!.affinitySeconds, 10800);
  const [timed] = servicePortRules(
    service({
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    }),
    endpoints,
  );
  assert.equal(timed!.affinitySeconds, 60);
  assert.equal(timed!.nodePort, undefined);
});

test('headless and ExternalName services get no rules', () => {
  assert.deepEqual(servicePortRules(service({ clusterIP: 'None' }), endpoints), []);
  assert.deepEqual(
    servicePortRules(service({ type: 'ExternalName', externalName: 'example.org' }), endpoints),
    [],
  );
});

test('a service without endpoints object has ports with no endpoints', () => {
  const [rule] = servicePortRules(service({}), undefined);
  assert.deepEqual(rule!.endpoints, []);
});

test('cluster ports come out in a stable order whatever the input order', () => {
  const a = service({ clusterIP: '10.96.0.30' }, 'b-svc');
  const b = service({ clusterIP: '10.96.0.31' }, 'a-svc');
  const names = (list: Service[]): string[] =>
    clusterServicePorts(list, () => endpoints).map((r) => r.name);
  assert.deepEqual(names([a, b]), names([b, a]));
  assert.deepEqual(names([a, b]), ['shop/a-svc:http', 'shop/b-svc:http']);
});

test('chain name hashes are 16 base32 characters, stable, and differ per endpoint', () => {
  const rule = { name: 'shop/web:http', protocol: 'TCP' as const };
  assert.match(serviceHash(rule), /^[A-Z2-7]{16}$/);
  assert.equal(serviceHash(rule), serviceHash({ ...rule }));
  assert.notEqual(serviceHash(rule), serviceHash({ ...rule, protocol: 'UDP' }));
  assert.notEqual(
    endpointHash(rule, { ip: '10.244.1.3', port: 8080 }),
    endpointHash(rule, { ip: '10.244.1.4', port: 8080 }),
  );
  assert.equal(nameHash('a', 'b').length, 16);
});
