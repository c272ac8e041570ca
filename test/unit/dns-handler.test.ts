import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket, { type Packet } from 'dns-packet';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { QueryHandler } from '../../src/dns/handler.js';
import type { Transport } from '../../src/dns/request.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { fixtureObjects, pod, service, withSlices } from '../helpers/dns-fixtures.js';
import type { KubeObject } from '../../src/api/types.js';
import { ednsOpt } from '../helpers/dns-packets.js';

const S = 'my-namespace.svc.cluster.local';

function setup(objects = fixtureObjects()): { index: ClusterIndex; handler: QueryHandler } {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(objects);
  const handler = new QueryHandler({ index, domain: 'cluster.local', ttl: 5 });
  return { index, handler };
}

/** The wire form of an A query for my-svc, as a client would send it. */
function myServiceQuery(id: number, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    questions: [{ name: `my-svc.${S}`, type: 'A' }],
    ...extra,
  });
}

function raw(handler: QueryHandler, msg: Buffer, transport: Transport = 'udp'): Buffer[] {
  const out: Buffer[] = [];
  handler.handle(msg, transport, (b) => out.push(b));
  return out;
}

function ask(
  handler: QueryHandler,
  name: string,
  type = 'A',
  opts: { id?: number; edns?: number; transport?: Transport } = {},
) {
  const packet: Packet = {
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as 'A', class: 'IN' }],
  };
  if (opts.edns !== undefined) {
    packet.additionals = [ednsOpt(opts.edns)];
  }
  const out = raw(handler, dnsPacket.encode(packet), opts.transport);
  assert.equal(out.length, 1, 'exactly one response');
  return {
    buf: out[0]!,
    packet: dnsPacket.decode(out[0]!) as dnsPacket.DecodedPacket & { rcode: string },
  };
}

test('dns handler: A answer, ID and RD echoed, AA and RA set', () => {
  const { handler } = setup();
  const { packet } = ask(handler, `my-svc.${S}`, 'A', { id: 777 });
  assert.equal(packet.id, 777);
  assert.equal(packet.rcode, 'NOERROR');
  assert.equal(packet.flag_qr, true);
  assert.equal(packet.flag_aa, true);
  assert.equal(packet.flag_rd, true);
  assert.equal(packet.flag_ra, true);
  assert.deepEqual(
    packet.answers?.map((a) => [
      a.name,
      a.type,
      'data' in a ? a.data : undefined,
      'ttl' in a ? a.ttl : 0,
    ]),
    [[`my-svc.${S}`, 'A', '10.96.0.20', 5]],
  );
});

test('dns handler: a cached answer is patched with the asker ID and case', () => {
  const { handler } = setup();
  const first = ask(handler, `my-svc.${S}`, 'A', { id: 1 });
  const second = ask(handler, `My-Svc.MY-namespace.svc.cluster.LOCAL`, 'A', { id: 2 });
  assert.equal(second.packet.id, 2);
  assert.equal(second.packet.questions?.[0]?.name, 'My-Svc.MY-namespace.svc.cluster.LOCAL');
  assert.equal(second.packet.answers?.[0]?.name, 'My-Svc.MY-namespace.svc.cluster.LOCAL');
  assert.equal(first.buf.length, second.buf.length);
  // the cache must not leak the second asker's case into the first form
  const third = ask(handler, `my-svc.${S}`, 'A', { id: 3 });
  assert.equal(third.packet.answers?.[0]?.name, `my-svc.${S}`);
});

test('dns handler: NXDOMAIN carries the zone SOA in authority', () => {
  const { handler } = setup();
  for (let i = 0; i < 2; i++) {
    const { packet } = ask(handler, `example.com.${S}`);
    assert.equal(packet.rcode, 'NXDOMAIN');
    assert.deepEqual(packet.answers, []);
    assert.equal(packet.authorities?.[0]?.type, 'SOA');
    assert.equal(packet.authorities?.[0]?.name, 'cluster.local');
  }
});

test('dns handler: EDNS queries get an OPT record back', () => {
  const { handler } = setup();
  const { packet } = ask(handler, `my-svc.${S}`, 'A', { edns: 4096 });
  const opt = packet.additionals?.find((a) => a.type === 'OPT');
  assert.ok(opt && opt.type === 'OPT' && opt.udpPayloadSize === 1232);
  const plain = ask(handler, `my-svc.${S}`, 'A');
  assert.equal(plain.packet.additionals?.length, 0);
});

function bigHeadless(n: number) {
  const objects: KubeObject[] = [
    service('big', 'many', { clusterIP: 'None', selector: { app: 'many' } }),
  ];
  for (let i = 0; i < n; i++) {
    objects.push(
      pod('big', `p${i}`, `10.244.${10 + Math.floor(i / 200)}.${i % 200}`, { app: 'many' }),
    );
  }
  return [...fixtureObjects(), ...withSlices(objects)];
}

test('dns handler: an answer too big for UDP is truncated with TC; TCP gets all 300', () => {
  const { handler } = setup(bigHeadless(300));
  for (const edns of [undefined, 1232, 4096]) {
    for (let i = 0; i < 2; i++) {
      const { packet, buf } = ask(handler, 'many.big.svc.cluster.local', 'A', { edns });
      assert.equal(packet.flag_tc, true, `TC with EDNS ${edns}`);
      assert.ok(buf.length <= (edns ?? 512));
    }
  }
  const tcp = ask(handler, 'many.big.svc.cluster.local', 'A', { transport: 'tcp' });
  assert.equal(tcp.packet.flag_tc, false);
  assert.equal(tcp.packet.answers?.length, 300);
});

test('dns handler: malformed queries get FORMERR, responses are never answered', () => {
  const { handler } = setup();
  const good = myServiceQuery(9);
  // question cut short
  const cut = good.subarray(0, 20);
  let out = raw(handler, cut);
  assert.equal(out.length, 1);
  assert.equal(dnsPacket.decode(out[0]!).id, 9);
  assert.equal(out[0]![3]! & 0x0f, 1, 'FORMERR');
  // two questions
  const two = dnsPacket.encode({
    type: 'query',
    id: 10,
    questions: [
      { name: 'a.cluster.local', type: 'A' },
      { name: 'b.cluster.local', type: 'A' },
    ],
  });
  out = raw(handler, two);
  assert.equal(out[0]![3]! & 0x0f, 1);
  // a compression pointer in the question
  const ptr = Buffer.from(good);
  ptr[12] = 0xc0;
  ptr[13] = 0x0c;
  out = raw(handler, ptr);
  assert.equal(out[0]![3]! & 0x0f, 1);
  // a response (QR set) and a runt get nothing
  const resp = Buffer.from(good);
  resp[2] = resp[2]! | 0x80;
  assert.equal(raw(handler, resp).length, 0);
  assert.equal(raw(handler, Buffer.from([1, 2, 3])).length, 0);
});

test('dns handler: other opcodes get NOTIMP, EDNS version 1 gets BADVERS', () => {
  const { handler } = setup();
  const q = myServiceQuery(5);
  q[2] = (2 << 3) | (q[2]! & 0x87); // opcode STATUS
  const out = raw(handler, q);
  assert.equal(out[0]![3]! & 0x0f, 4);
  const v1 = myServiceQuery(6, { additionals: [ednsOpt(1232, 1)] });
  const r = dnsPacket.decode(raw(handler, v1)[0]!);
  const opt = r.additionals?.find((a) => a.type === 'OPT');
  assert.ok(opt && opt.type === 'OPT' && opt.extendedRcode === 1, 'BADVERS = 16');
});

test('dns handler: names outside the zone are REFUSED without upstreams', () => {
  const { handler } = setup();
  assert.equal(ask(handler, 'example.com').packet.rcode, 'REFUSED');
});

test('dns handler: the cache follows the index (new service answers, deleted one stops)', () => {
  const { index, handler } = setup();
  assert.equal(ask(handler, `late.${S}`).packet.rcode, 'NXDOMAIN');
  index.apply(service('my-namespace', 'late', { clusterIP: '10.96.0.99' }));
  const after = ask(handler, `late.${S}`).packet;
  assert.equal(after.rcode, 'NOERROR');
  assert.equal(after.answers?.[0]?.type === 'A' && after.answers[0].data, '10.96.0.99');
  index.remove('Service', 'my-namespace', 'late');
  assert.equal(ask(handler, `late.${S}`).packet.rcode, 'NXDOMAIN');
});

test('dns handler: SERVFAIL until the first sync, and that SERVFAIL is not cached', () => {
  const index = new ClusterIndex('cluster.local');
  const handler = new QueryHandler({ index, domain: 'cluster.local', ttl: 5 });
  assert.equal(ask(handler, `my-svc.${S}`).packet.rcode, 'SERVFAIL');
  index.replaceAll(fixtureObjects());
  assert.equal(ask(handler, `my-svc.${S}`).packet.rcode, 'NOERROR');
});

test('dns handler: metrics count queries by type and rcode, and cache hits', async () => {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(fixtureObjects());
  const metrics = new DnsMetrics();
  const handler = new QueryHandler({ index, domain: 'cluster.local', ttl: 5, metrics });
  ask(handler, `my-svc.${S}`);
  ask(handler, `my-svc.${S}`);
  ask(handler, `nope.${S}`, 'AAAA');
  const text = await metrics.registry.metrics();
  assert.match(text, /podnet_dns_requests_total\{type="A",rcode="NOERROR",source="cluster"\} 2/);
  assert.match(
    text,
    /podnet_dns_requests_total\{type="AAAA",rcode="NXDOMAIN",source="cluster"\} 1/,
  );
  assert.match(text, /podnet_dns_cache_hits_total\{cache="cluster"\} 1/);
  assert.match(text, /podnet_dns_request_duration_seconds_count 3/);
});

test('dns handler: random and mutated packets never throw and only get responses', () => {
  const { handler } = setup();
  const seed = dnsPacket.encode({
    type: 'query',
    id: 1,
    questions: [{ name: `_http._tcp.my-svc.${S}`, type: 'SRV' }],
    additionals: [ednsOpt(1232)],
  });
  let rnd = 12345;
  const next = () => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 20_000; i++) {
    let msg: Buffer;
    if (i % 2 === 0) {
      msg = Buffer.from(seed);
      for (let k = next() % 4; k >= 0; k--) msg[next() % msg.length] = next() & 0xff;
      if (i % 6 === 0) msg = msg.subarray(0, next() % msg.length);
    } else {
      msg = Buffer.alloc(next() % 80);
      for (let k = 0; k < msg.length; k++) msg[k] = next() & 0xff;
    }
    for (const transport of ['udp', 'tcp'] as const) {
      for (const out of raw(handler, msg, transport)) {
        assert.ok(out[2]! & 0x80, 'a response');
        assert.equal(out.readUInt16BE(0), msg.readUInt16BE(0));
      }
    }
  }
  assert.equal(ask(handler, `my-svc.${S}`).packet.answers?.length, 1);
});

test('dns handler: a dot inside a label never matches a cluster name', () => {
  const { handler } = setup();
  // "my-svc.my-namespace" as ONE label, then svc.cluster.local
  const label = Buffer.from('my-svc.my-namespace');
  const name = Buffer.concat([
    Buffer.from([label.length]),
    label,
    Buffer.from([3]),
    Buffer.from('svc'),
    Buffer.from([7]),
    Buffer.from('cluster'),
    Buffer.from([5]),
    Buffer.from('local'),
    Buffer.from([0]),
  ]);
  const header = Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const out = raw(handler, Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])]));
  assert.equal(out[0]![3]! & 0x0f, 3, 'NXDOMAIN');
  // a 46-byte label (length byte 0x2e) is an ordinary name
  const long = `${'a'.repeat(46)}.my-namespace.svc.cluster.local`;
  assert.equal(ask(handler, long).packet.rcode, 'NXDOMAIN');
  const ok = setup([
    ...fixtureObjects(),
    service('my-namespace', 'a'.repeat(46), { clusterIP: '10.96.0.46' }),
  ]);
  assert.equal(ask(ok.handler, long).packet.answers?.length, 1);
});

test('dns handler: NOTIFY and other opcodes get NOTIMP even without a question', () => {
  const { handler } = setup();
  const notify = Buffer.from([0, 8, 4 << 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const out = raw(handler, notify);
  assert.equal(out[0]![3]! & 0x0f, 4);
});
