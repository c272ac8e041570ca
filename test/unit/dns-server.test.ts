// The sockets on loopback (port 0: a free port), without root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { QueryHandler } from '../../src/dns/handler.js';
import { startDnsServer } from '../../src/dns/server.js';
import { defaultWorkers } from '../../src/dns/workers.js';
import { createLogger } from '../../src/util/log.js';
import { fixtureObjects } from '../helpers/dns-fixtures.js';

const S = 'my-namespace.svc.cluster.local';

async function start() {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(fixtureObjects());
  const handler = new QueryHandler({ index, domain: 'cluster.local', ttl: 5 });
  return startDnsServer({ host: '127.0.0.1', port: 0, handler, log: createLogger('test') });
}

function query(id: number, name: string): Buffer {
  return dnsPacket.encode({ type: 'query', id, questions: [{ name, type: 'A' }] });
}

test('dns server: UDP and TCP on the same port', async () => {
  const server = await start();
  try {
    const udp = createSocket('udp4');
    const reply = new Promise<Buffer>((r) => udp.once('message', r));
    udp.send(query(1, `my-svc.${S}`), server.port, '127.0.0.1');
    const a = dnsPacket.decode(await reply);
    udp.close();
    assert.equal(a.answers?.[0]?.type === 'A' && a.answers[0].data, '10.96.0.20');
  } finally {
    await server.close();
  }
});

test('dns server: TCP takes pipelined queries, split anywhere, and answers each', async () => {
  const server = await start();
  try {
    const frames = [1, 2, 3].map((id) => {
      const q = query(id, id === 2 ? `db.${S}` : `my-svc.${S}`);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      return Buffer.concat([len, q]);
    });
    const all = Buffer.concat(frames);
    const sock = connect(server.port, '127.0.0.1');
    const got: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const done = new Promise<void>((resolve) => {
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (got.length === 3) resolve();
      });
    });
    // one byte, then the rest across the frame boundaries
    sock.write(all.subarray(0, 1));
    await new Promise((r) => setTimeout(r, 20));
    sock.write(all.subarray(1, 40));
    await new Promise((r) => setTimeout(r, 20));
    sock.end(all.subarray(40));
    await done;
    sock.destroy();
    assert.deepEqual(
      got.map((b) => dnsPacket.decode(b).id),
      [1, 2, 3],
    );
    assert.equal(dnsPacket.decode(got[1]!).answers?.length, 2);
  } finally {
    await server.close();
  }
});

test('dns server: workers bind the same port with SO_REUSEPORT, and each answers', async () => {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(fixtureObjects());
  const handler = new QueryHandler({ index, domain: 'cluster.local', ttl: 5 });
  const log = createLogger('test');
  const first = await startDnsServer({ host: '127.0.0.1', port: 0, handler, log, reusePort: true });
  const opts = { host: '127.0.0.1', port: first.port, handler, log };
  try {
    // Without SO_REUSEPORT the port is taken; with it a second socket joins the first.
    await assert.rejects(startDnsServer(opts), /EADDRINUSE/);
    const second = await startDnsServer({ ...opts, reusePort: true });
    try {
      await first.close();
      const udp = createSocket('udp4');
      const reply = new Promise<Buffer>((r) => udp.once('message', r));
      udp.send(query(7, `my-svc.${S}`), second.port, '127.0.0.1');
      const a = dnsPacket.decode(await reply);
      udp.close();
      assert.equal(a.answers?.[0]?.type === 'A' && a.answers[0].data, '10.96.0.20');
    } finally {
      await second.close();
    }
  } catch (err) {
    await first.close().catch(() => {});
    throw err;
  }
});

test('dns workers: one per core by default, at least one, at most 16', () => {
  assert.equal(defaultWorkers(1), 1);
  assert.equal(defaultWorkers(2), 2);
  assert.equal(defaultWorkers(64), 16);
  assert.equal(defaultWorkers(0), 1);
});
