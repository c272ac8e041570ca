import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from '../../src/api/types.js';
import type { ConntrackEvent, ConntrackTuple } from '../../src/net/conntrack-event.js';
import { flowLine, matchesFlow } from '../../src/flows/filter.js';
import { FlowLog, type FlowChange } from '../../src/flows/log.js';
import { toFlow } from '../../src/flows/record.js';
import { clusterView, subnetOf, type ClusterView, type ViewInput } from '../../src/flows/view.js';
import { webPod, webService } from '../helpers/web-objects.js';

function node(name: string, podCIDR: string): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDR } };
}

const input: ViewInput = {
  self: 'node-1',
  pods: [
    webPod('my-namespace', 'client', '10.244.1.5', true, { nodeName: 'node-1' }),
    webPod('my-namespace', 'echo-1', '10.244.1.6', true, { nodeName: 'node-1' }),
    webPod('my-namespace', 'echo-2', '10.244.2.7', true, { nodeName: 'node-2' }),
    webPod('my-namespace', 'echo-3', '10.244.3.8', true, { nodeName: 'node-3' }),
  ],
  services: [
    webService('my-namespace', [{ port: 80, nodePort: 30080 }], { name: 'my-svc' }),
    webService('my-namespace', [{ port: 80 }], { name: 'empty', clusterIP: '10.96.0.30' }),
  ],
  nodes: [
    node('node-1', '10.244.1.0/24'),
    node('node-2', '10.244.2.0/24'),
    node('node-3', '10.244.3.0/24'),
  ],
  routes: [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0' },
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-vxlan' },
    { dst: '10.244.1.6', dev: 'pnabc' },
  ],
  routing: 'store',
  backend: 'auto',
  tunnels: { 'pn-vxlan': 'vxlan', 'pn-ipip': 'ipip' },
};

/** Packets and bytes of each direction, as the kernel reports them when it destroys an entry. */
interface Counters {
  sent: [number, number];
  received: [number, number];
}

/** An event of a TCP connection from `src` to `dst`, answered from `replySrc` (after DNAT). */
function ev(
  type: 'NEW' | 'DESTROY',
  src: string,
  dst: string,
  replySrc: string,
  counters?: Counters,
): ConntrackEvent {
  const end = (text: string) => {
    const [ip, port] = text.split(':');
    return { ip: ip!, port: Number(port) };
  };
  const [s, d, r] = [end(src), end(dst), end(replySrc)];
  const tuple = (t: ConntrackTuple, count?: [number, number]): ConntrackTuple =>
    count ? { ...t, packets: count[0], bytes: count[1] } : t;
  return {
    type,
    time: 1700000000.5,
    protocol: 'tcp',
    id: s.port,
    original: tuple({ src: s.ip, dst: d.ip, sport: s.port, dport: d.port }, counters?.sent),
    reply: tuple({ src: r.ip, dst: s.ip, sport: r.port, dport: s.port }, counters?.received),
    ...(type === 'DESTROY' ? { lifetime: 0 } : {}),
  };
}

/** A log and view with one connection of the client through my-svc to echo-3 on node-3. */
function serviceConnection(): { log: FlowLog; view: ClusterView; change: FlowChange } {
  const log = new FlowLog(10);
  const view = clusterView(input);
  const change = log.apply(
    view,
    ev('NEW', '10.244.1.5:40000', '10.96.0.20:80', '10.244.3.8:8080'),
  )!;
  return { log, view, change };
}

const flowOf = (change: FlowChange | undefined) => toFlow(change!.record);

test('a connection through a service names client, service and the chosen pod, with the path', () => {
  const { change: c } = serviceConnection();
  assert.equal(c.opened, true);
  assert.equal(flowOf(c).source.pod, 'my-namespace/client');
  assert.deepEqual(flowOf(c).service, {
    namespace: 'my-namespace',
    name: 'my-svc',
    ip: '10.96.0.20',
    port: 80,
  });
  assert.equal(flowOf(c).destination.pod, 'my-namespace/echo-3');
  assert.equal(flowOf(c).destination.node, 'node-3');
  assert.equal(flowOf(c).path, 'vxlan');
  assert.equal(flowOf(c).verdict, 'forwarded');
  assert.equal(flowOf(c).state, 'open');
  assert.equal(
    flowLine(flowOf(c)),
    '22:13:20.500 my-namespace/client:40000 → my-namespace/my-svc:80 → my-namespace/echo-3:8080 tcp vxlan forwarded open',
  );
});

test('paths: local on one host, direct by next hop, external off the pod network', () => {
  const log = new FlowLog(10);
  const view = clusterView(input);
  const path = (src: string, dst: string) => flowOf(log.apply(view, ev('NEW', src, dst, dst))).path;
  assert.equal(path('10.244.1.5:1', '10.244.1.6:8080'), 'local');
  assert.equal(path('10.244.1.5:2', '10.244.2.7:8080'), 'direct');
  assert.equal(path('10.244.1.5:3', '172.31.1.2:22'), 'external');
  const bgp = clusterView({ ...input, routing: 'bgp' });
  assert.equal(
    flowOf(log.apply(bgp, ev('NEW', '10.244.1.5:4', '10.244.2.7:8080', '10.244.2.7:8080'))).path,
    'bgp',
  );
});

test('one host reports a connection: the client’s, or the server’s for a client off the pod network', () => {
  const log = new FlowLog(10);
  const view = clusterView(input);
  // A client on node-2 is node-2's to report, even to a pod here.
  assert.equal(
    log.apply(view, ev('NEW', '10.244.2.7:1', '10.244.1.6:8080', '10.244.1.6:8080')),
    undefined,
  );
  // From outside through a node port, to a pod here: this node reports it, with the service.
  const c = log.apply(view, ev('NEW', '172.31.9.9:5', '172.31.1.1:30080', '10.244.1.6:8080'))!;
  assert.equal(flowOf(c).service?.name, 'my-svc');
  assert.equal(flowOf(c).path, 'external');
});

test('DESTROY closes the flow with counters; since() returns only what changed', () => {
  const log = new FlowLog(10);
  const view = clusterView(input);
  log.apply(view, ev('NEW', '10.244.1.5:40000', '10.96.0.20:80', '10.244.2.7:8080'));
  const seen = log.latest;
  const destroy = ev('DESTROY', '10.244.1.5:40000', '10.96.0.20:80', '10.244.2.7:8080', {
    sent: [6, 412],
    received: [4, 880],
  });
  const c = log.apply(view, destroy)!;
  assert.equal(c.closed, true);
  assert.equal(flowOf(c).end, new Date(1700000000500).toISOString(), 'ends when the kernel let go');
  assert.deepEqual(flowOf(c).traffic, {
    sent: { packets: 6, bytes: 412 },
    received: { packets: 4, bytes: 880 },
  });
  assert.deepEqual(
    log.since(seen).map((f) => f.state),
    ['closed'],
  );
  assert.equal(log.since(0).length, 1);
});

test('the ring keeps the newest flows; a second DESTROY changes nothing', () => {
  const log = new FlowLog(2);
  const view = clusterView(input);
  for (const port of [1, 2, 3])
    log.apply(view, ev('NEW', `10.244.1.5:${port}`, '10.244.1.6:80', '10.244.1.6:80'));
  assert.deepEqual(
    log.since().map((f) => f.source.port),
    [2, 3],
  );
  const destroy = ev('DESTROY', '10.244.1.5:3', '10.244.1.6:80', '10.244.1.6:80');
  assert.equal(log.apply(view, destroy)?.closed, true);
  const seen = log.latest;
  assert.equal(log.apply(view, destroy), undefined);
  assert.equal(log.latest, seen);
});

test('filters by namespace, pod, service and verdict', () => {
  const log = new FlowLog(10);
  const view = clusterView(input);
  const flow = flowOf(
    log.apply(view, ev('NEW', '10.244.1.5:40000', '10.96.0.20:80', '10.244.2.7:8080')),
  );
  assert.ok(matchesFlow(flow, { namespace: 'my-namespace', pod: 'echo-2', service: 'my-svc' }));
  assert.ok(matchesFlow(flow, { pod: 'my-namespace/client', verdict: 'forwarded' }));
  assert.ok(!matchesFlow(flow, { namespace: 'other' }));
  assert.ok(!matchesFlow(flow, { service: 'empty' }));
  assert.ok(!matchesFlow(flow, { verdict: 'refused' }));
});

test('a connection refused for no endpoints is a closed flow to the service, on this host', () => {
  const log = new FlowLog(10);
  const flow = log.addUnconfirmed(clusterView(input), {
    time: '2025-01-01T10:00:00.000Z',
    protocol: 'tcp',
    source: { ip: '10.244.1.5', port: 40001 },
    destination: { ip: '10.96.0.30', port: 80 },
    verdict: 'refused',
    reason: 'no endpoints',
  });
  assert.deepEqual(flow.service, {
    namespace: 'my-namespace',
    name: 'empty',
    ip: '10.96.0.30',
    port: 80,
  });
  assert.equal(flow.state, 'closed');
  assert.ok(matchesFlow(flow, { verdict: 'refused', service: 'empty' }));
  assert.equal(
    flowLine(flow),
    '10:00:00.000 my-namespace/client:40001 → my-namespace/empty:80 tcp local refused (no endpoints)',
  );
  assert.deepEqual(log.since(0), [flow]);
});

test('a connection a policy denied names the policy and both pods', () => {
  const log = new FlowLog(10);
  const flow = log.addUnconfirmed(clusterView(input), {
    time: '2025-01-01T10:00:00.000Z',
    protocol: 'tcp',
    source: { ip: '10.244.2.7', port: 40002 },
    destination: { ip: '10.244.1.6', port: 8080 },
    verdict: 'denied',
    reason: 'ingress of my-namespace/echo-1',
    policies: ['my-namespace/deny-all'],
  });
  assert.ok(matchesFlow(flow, { verdict: 'denied', pod: 'echo-1' }));
  assert.equal(
    flowLine(flow),
    '10:00:00.000 my-namespace/echo-2:40002 → my-namespace/echo-1:8080 tcp direct denied by my-namespace/deny-all (ingress of my-namespace/echo-1)',
  );
});

test('a view remembers where addresses lie, within a bound, and still answers rightly', () => {
  const view = clusterView(input);
  for (let i = 0; i < 5000; i++) subnetOf(view, `172.16.${i >> 8}.${i & 255}`);
  assert.ok(view.placed.size <= 4096, `${view.placed.size} addresses remembered`);
  assert.equal(subnetOf(view, '10.244.3.8')?.node, 'node-3');
  assert.equal(subnetOf(view, '10.244.3.8')?.path, 'vxlan', 'the second look-up is the same');
  assert.equal(subnetOf(view, '172.16.0.1'), undefined);
  assert.equal(subnetOf(view, '172.16.0.1'), undefined, 'an address in no subnet, remembered');
});

test('a record refers to the view’s pod and service rather than copies of them', () => {
  const { view, change: c } = serviceConnection();
  assert.equal(c.record.sourcePod, view.pods.get('10.244.1.5'));
  assert.equal(c.record.service, view.services.get('tcp/10.96.0.20:80'));
});
