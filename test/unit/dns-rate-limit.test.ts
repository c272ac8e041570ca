// Response rate limiting: a bucket per client network, question name and rcode; over the rate,
// every slip-th response truncated and the rest dropped; TCP and the cluster's own clients (pods,
// nodes) never limited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { QueryHandler } from '../../src/dns/handler.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { clientNetwork, ResponseRateLimiter } from '../../src/dns/rate-limit.js';
import type { Transport } from '../../src/dns/request.js';
import { parseIP } from '../../src/net/index.js';
import type { ClusterNetwork, Node } from '../../src/api/types.js';
import { fixtureObjects } from '../helpers/dns-fixtures.js';

const S = 'my-namespace.svc.cluster.local';

test('dns rate limit: a burst over the rate slips every second response and drops the rest', () => {
  let now = 0;
  const limiter = new ResponseRateLimiter({ perSecond: 3, slip: 2 }, () => now);
  const net = clientNetwork(parseIP('192.0.2.7'));
  const burst = Array.from({ length: 7 }, () => limiter.decide(net, 'a.example.', 0));
  assert.deepEqual(burst, ['send', 'send', 'send', 'drop', 'slip', 'drop', 'slip']);
  assert.equal(limiter.decide(net, 'b.example.', 0), 'send', 'another name has its own bucket');
  assert.equal(limiter.decide(net, 'a.example.', 3), 'send', 'another rcode has its own bucket');
  const other = clientNetwork(parseIP('192.0.3.7'));
  assert.equal(limiter.decide(other, 'a.example.', 0), 'send', 'another /24 has its own bucket');
  now += 1000 / 3;
  assert.equal(limiter.decide(net, 'a.example.', 0), 'send', 'a token back after 1/rate s');
  assert.equal(limiter.decide(net, 'a.example.', 0), 'drop');
});

test('dns rate limit: clients of one /24 share a bucket; slip 0 drops every limited one', () => {
  const limiter = new ResponseRateLimiter({ perSecond: 1, slip: 0 }, () => 0);
  const a = clientNetwork(parseIP('198.51.100.1'));
  const b = clientNetwork(parseIP('198.51.100.200'));
  assert.equal(a, b);
  assert.equal(limiter.decide(a, 'x.', 0), 'send');
  assert.deepEqual(
    [1, 2, 3].map(() => limiter.decide(b, 'x.', 0)),
    ['drop', 'drop', 'drop'],
  );
  const off = new ResponseRateLimiter({ perSecond: 0, slip: 2 });
  assert.equal(off.enabled, false);
});

function ask(
  handler: QueryHandler,
  name: string,
  transport: Transport,
  client: string,
  ednsSize?: number,
) {
  const msg = dnsPacket.encode({
    type: 'query',
    id: 9,
    flags: 256,
    questions: [{ name, type: 'A' }],
    additionals:
      ednsSize === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: ednsSize,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  });
  const replies: Buffer[] = [];
  handler.handle(msg, transport, (b) => replies.push(b), client);
  return replies.map((b) => dnsPacket.decode(b));
}

test('dns rate limit: the handler truncates or drops identical UDP answers, counted', async () => {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(fixtureObjects());
  const metrics = new DnsMetrics();
  const handler = new QueryHandler({
    index,
    domain: 'cluster.local',
    ttl: 5,
    metrics,
    rateLimit: { perSecond: 2, slip: 2 },
  });
  const udp = Array.from({ length: 6 }, () => ask(handler, `my-svc.${S}`, 'udp', '192.0.2.5'));
  const seen = udp.map((r) =>
    r.length === 0 ? 'dropped' : r[0]!.flag_tc ? `tc ${r[0]!.answers!.length}` : 'answered',
  );
  assert.deepEqual(seen, ['answered', 'answered', 'dropped', 'tc 0', 'dropped', 'tc 0']);
  const sizes = [1232, 4096].map((size) => ask(handler, `my-svc.${S}`, 'udp', '192.0.2.9', size));
  assert.deepEqual(
    sizes.map((r) => (r.length === 0 ? 'dropped' : r[0]!.flag_tc ? 'tc' : 'answered')),
    ['dropped', 'tc'],
    'another buffer size is the same question: limited too',
  );
  const tcp = ask(handler, `my-svc.${S}`, 'tcp', '192.0.2.5');
  assert.equal(tcp[0]?.answers?.length, 1, 'over TCP the client is answered in full');
  const text = await metrics.registry.metrics();
  assert.match(text, /podnet_dns_rate_limited_total\{action="slip"\} 3/);
  assert.match(text, /podnet_dns_rate_limited_total\{action="drop"\} 3/);
});

test('dns rate limit: the cluster’s pods (both families) and nodes are never limited, outside clients are', () => {
  const network: ClusterNetwork = {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: {
      clusterCIDR: '10.244.0.0/16',
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
      nodeSubnetPrefix: 24,
      serviceCIDR: '10.96.0.0/16',
      serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'],
      dnsIP: '10.96.0.10',
      domain: 'cluster.local',
      backend: 'vxlan',
      proxyMode: 'iptables',
      routing: 'store',
      mtu: 1500,
    },
  };
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1' },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: '172.31.1.1' }] },
  };
  const index = new ClusterIndex('cluster.local');
  index.replaceAll([...fixtureObjects(), network, node]);
  const handler = new QueryHandler({
    index,
    domain: 'cluster.local',
    ttl: 5,
    rateLimit: { perSecond: 2, slip: 0 },
  });
  const answered = (client: string): number =>
    Array.from({ length: 20 }, () => ask(handler, `my-svc.${S}`, 'udp', client)).filter(
      (r) => r.length === 1,
    ).length;
  assert.equal(answered('10.244.1.5'), 20, 'a pod');
  assert.equal(answered('::ffff:10.244.2.7'), 20, 'a pod on a dual-stack socket');
  assert.equal(answered('fd00:10:244:1::5'), 20, 'a pod’s IPv6 address');
  assert.equal(answered('172.31.1.1'), 20, 'a node');
  assert.equal(answered('172.31.1.2'), 2, 'a client outside the cluster, on the node’s /24');
  assert.equal(answered('fd00:99::5'), 2, 'an IPv6 client outside the cluster');
});
