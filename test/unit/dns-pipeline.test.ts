import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { QueryHandler } from '../../src/dns/handler.js';
import { pipeline, type Stage } from '../../src/dns/pipeline.js';
import { DnsRequest } from '../../src/dns/request.js';
import { fixtureObjects } from '../helpers/dns-fixtures.js';
import { ednsOpt } from '../helpers/dns-packets.js';

function query(name: string, dnssecOk = false): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 99,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: 'A', class: 'IN' }],
    additionals: [{ ...ednsOpt(1232), flags: dnssecOk ? dnsPacket.DNSSEC_OK : 0 }],
  });
}

function serve(stages: Stage[], msg: Buffer): { replies: Buffer[]; seen: string[] } {
  const replies: Buffer[] = [];
  const seen: string[] = [];
  const traced = stages.map((stage, i): Stage => (req, next) => {
    seen.push(`stage ${i}`);
    stage(req, next);
  });
  pipeline(traced)(new DnsRequest(msg, 'udp', (b) => replies.push(b), undefined));
  return { replies, seen };
}

test('dns pipeline: stages run in order until one answers', () => {
  const pass: Stage = (_req, next) => next();
  const answer: Stage = (req) => req.respond(Buffer.from('answer'), 'cluster', 0);
  const { replies, seen } = serve([pass, answer, pass], query('a.example'));
  assert.deepEqual(seen, ['stage 0', 'stage 1']);
  assert.deepEqual(replies, [Buffer.from('answer')]);
});

test('dns pipeline: a question no stage answers is refused', () => {
  const pass: Stage = (_req, next) => next();
  const { replies, seen } = serve([pass, pass], query('a.example'));
  assert.deepEqual(seen, ['stage 0', 'stage 1']);
  assert.equal(replies.length, 1);
  const packet = dnsPacket.decode(replies[0]!) as dnsPacket.DecodedPacket & { rcode: string };
  assert.equal(packet.rcode, 'REFUSED');
  assert.equal(packet.id, 99);
});

test('dns handler: the DO bit of the query is copied into the response (RFC 3225 §3)', () => {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(fixtureObjects());
  const handler = new QueryHandler({ index, domain: 'cluster.local', ttl: 5 });
  const optOf = (dnssecOk: boolean) => {
    const replies: Buffer[] = [];
    handler.handle(query('my-svc.my-namespace.svc.cluster.local', dnssecOk), 'udp', (b) =>
      replies.push(b),
    );
    const packet = dnsPacket.decode(replies[0]!);
    return packet.additionals?.find((a) => a.type === 'OPT');
  };
  assert.equal(optOf(true)?.flag_do, true);
  assert.equal(optOf(false)?.flag_do, false);
});
