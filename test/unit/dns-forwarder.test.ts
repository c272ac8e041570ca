// The forwarder against a small upstream on loopback (port 0: the kernel picks a free one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import dnsPacket, { type Answer } from 'dns-packet';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { Forwarder } from '../../src/dns/forwarder.js';
import { QueryHandler } from '../../src/dns/handler.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import type { Transport } from '../../src/dns/request.js';
import { parseCidr, type Cidr } from '../../src/net/index.js';
import { fixtureObjects } from '../helpers/dns-fixtures.js';

interface Upstream {
  udp: Socket;
  tcp: Server;
  port: number;
  queries: string[];
  close(): Promise<void>;
}

/** Answers `big.example.org` with 100 A records (TC over UDP), `nx.example.org` NXDOMAIN. */
async function upstream(opts: { silent?: boolean; host?: string } = {}): Promise<Upstream> {
  const host = opts.host ?? '127.0.0.1';
  const queries: string[] = [];
  const answer = (msg: Buffer, transport: Transport): Buffer => {
    const q = dnsPacket.decode(msg);
    const name = q.questions![0]!.name;
    queries.push(`${transport} ${name}`);
    let answers: Answer[] = [{ type: 'A', name, ttl: 60, data: '192.0.2.1' }];
    let flags = 0;
    let authorities: Answer[] = [];
    if (name.toLowerCase() === 'nx.example.org') {
      answers = [];
      flags = 3; // NXDOMAIN
      authorities = [
        {
          type: 'SOA',
          name: 'example.org',
          ttl: 30,
          data: {
            mname: 'ns.example.org',
            rname: 'h.example.org',
            serial: 1,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 30,
          },
        },
      ];
    }
    if (name.toLowerCase() === 'big.example.org') {
      answers = Array.from({ length: 100 }, (_, i) => ({
        type: 'A' as const,
        name,
        ttl: 60,
        data: `192.0.2.${i + 1}`,
      }));
      if (transport === 'udp') {
        answers = [];
        flags |= dnsPacket.TRUNCATED_RESPONSE;
      }
    }
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags,
      questions: q.questions,
      answers,
      authorities,
    });
  };
  const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  udp.on('message', (msg, r) => {
    if (!opts.silent) udp.send(answer(msg, 'udp'), r.port, r.address);
  });
  await new Promise<void>((r) => udp.bind(0, host, () => r()));
  const port = udp.address().port;
  const tcp = createServer((c) => {
    c.on('data', (b) => {
      const resp = answer(b.subarray(2, 2 + b.readUInt16BE(0)), 'tcp');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(resp.length);
      c.end(Buffer.concat([len, resp]));
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });
  return {
    udp,
    tcp,
    port,
    queries,
    close: async () => {
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

function handlerWith(
  ports: number[],
  timeoutMs = 300,
  recursionAllow?: Cidr[],
  host = '127.0.0.1',
): { handler: QueryHandler; fwd: Forwarder; metrics: DnsMetrics } {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(fixtureObjects());
  const fwd = new Forwarder({
    upstreams: ports.map((port) => ({ host, port })),
    timeoutMs,
  });
  const metrics = new DnsMetrics();
  const handler = new QueryHandler({
    index,
    domain: 'cluster.local',
    ttl: 5,
    forwarder: fwd,
    metrics,
    recursionAllow,
  });
  return { handler, fwd, metrics };
}

function ask(
  handler: QueryHandler,
  name: string,
  transport: Transport = 'udp',
  id = 7,
  client = '',
) {
  const msg = dnsPacket.encode({ type: 'query', id, flags: 256, questions: [{ name, type: 'A' }] });
  return new Promise<dnsPacket.DecodedPacket & { rcode: string }>((resolve) =>
    handler.handle(msg, transport, (b) => resolve(dnsPacket.decode(b) as never), client),
  );
}

test('dns forwarder: outside names refused to clients outside the ranges, cached or not', async () => {
  const up = await upstream();
  const { handler, fwd, metrics } = handlerWith([up.port], 300, [parseCidr('198.51.100.0/24')]);
  try {
    const pod = await ask(handler, 'www.example.org', 'udp', 1, '10.244.1.5');
    assert.equal(pod.rcode, 'NOERROR', 'a pod is forwarded');
    assert.equal(
      (await ask(handler, 'www.example.org', 'udp', 2, '198.51.100.9')).rcode,
      'NOERROR',
    );
    const outsider = await ask(handler, 'www.example.org', 'udp', 3, '203.0.113.5');
    assert.equal(outsider.rcode, 'REFUSED', 'not even from the forwarder cache');
    assert.equal((await ask(handler, 'www.example.org', 'tcp', 4, '203.0.113.5')).rcode, 'REFUSED');
    const cluster = await ask(
      handler,
      'my-svc.my-namespace.svc.cluster.local',
      'udp',
      5,
      '203.0.113.5',
    );
    assert.equal(cluster.rcode, 'NOERROR', 'cluster names are answered for anyone');
    assert.deepEqual(up.queries, ['udp www.example.org']);
    const text = await metrics.registry.metrics();
    assert.match(text, /podnet_dns_recursion_refused_total 2/);
  } finally {
    fwd.close();
    await up.close();
  }
});

test('dns forwarder: answers come from upstream once, then from the cache, TTL aging', async () => {
  const up = await upstream();
  const { handler, fwd } = handlerWith([up.port]);
  try {
    const a = await ask(handler, 'www.Example.org', 'udp', 1);
    assert.equal(a.id, 1);
    assert.equal(a.answers?.[0]?.type === 'A' && a.answers[0].data, '192.0.2.1');
    const b = await ask(handler, 'WWW.example.ORG', 'udp', 2);
    assert.equal(b.id, 2);
    assert.equal(b.questions?.[0]?.name, 'WWW.example.ORG', 'the asker case comes back');
    assert.deepEqual(up.queries, ['udp www.Example.org'], 'the second answer came from the cache');
    const ttl = b.answers?.[0] && 'ttl' in b.answers[0] ? b.answers[0].ttl : -1;
    assert.ok(ttl !== undefined && ttl <= 60 && ttl >= 58);
    // negative answers are cached too
    assert.equal((await ask(handler, 'nx.example.org')).rcode, 'NXDOMAIN');
    assert.equal((await ask(handler, 'nx.example.org')).rcode, 'NXDOMAIN');
    assert.equal(up.queries.filter((q) => q.endsWith('nx.example.org')).length, 1);
  } finally {
    fwd.close();
    await up.close();
  }
});

test('dns forwarder: an upstream at an IPv6 address answers over UDP and, when truncated, TCP', async () => {
  const up = await upstream({ host: '::1' });
  const { handler, fwd } = handlerWith([up.port], 300, undefined, '::1');
  try {
    const a = await ask(handler, 'www.example.org');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(a.answers?.[0]?.type === 'A' && a.answers[0].data, '192.0.2.1');
    const tcp = await ask(handler, 'big.example.org', 'tcp');
    assert.equal(tcp.answers?.length, 100);
    assert.deepEqual(up.queries, [
      'udp www.example.org',
      'udp big.example.org',
      'tcp big.example.org',
    ]);
  } finally {
    fwd.close();
    await up.close();
  }
});

test('dns forwarder: a truncated upstream answer goes to UDP clients as is, TCP clients get all', async () => {
  const up = await upstream();
  const { handler, fwd } = handlerWith([up.port]);
  try {
    const udp = await ask(handler, 'big.example.org', 'udp');
    assert.equal(udp.flag_tc, true);
    const tcp = await ask(handler, 'big.example.org', 'tcp');
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 100);
    assert.deepEqual(up.queries, [
      'udp big.example.org',
      'udp big.example.org',
      'tcp big.example.org',
    ]);
  } finally {
    fwd.close();
    await up.close();
  }
});

test('dns forwarder: a silent upstream is skipped for the next; none answering is SERVFAIL', async () => {
  const dead = await upstream({ silent: true });
  const live = await upstream();
  const both = handlerWith([dead.port, live.port]);
  const deadOnly = handlerWith([dead.port], 200);
  try {
    const a = await ask(both.handler, 'www.example.org');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(live.queries.length, 1);
    assert.equal((await ask(deadOnly.handler, 'www.example.org')).rcode, 'SERVFAIL');
  } finally {
    both.fwd.close();
    deadOnly.fwd.close();
    await dead.close();
    await live.close();
  }
});

test('dns forwarder: an ExternalName answer carries the CNAME target addresses', async () => {
  const up = await upstream();
  const { handler, fwd } = handlerWith([up.port]);
  try {
    const r = await ask(handler, 'ext.my-namespace.svc.cluster.local');
    assert.deepEqual(
      r.answers?.map((a) => `${a.name} ${a.type} ${'data' in a ? String(a.data) : ''}`),
      ['ext.my-namespace.svc.cluster.local CNAME db.example.org', 'db.example.org A 192.0.2.1'],
    );
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flag_aa, true);
  } finally {
    fwd.close();
    await up.close();
  }
});
