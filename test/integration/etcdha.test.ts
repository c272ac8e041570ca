// The lab's store on a 3-member etcd over TLS with client certificates (`lab up --store etcd
// --tls`), with traffic by service name from a pod on each host and a writer putting through
// podnet's store client from a host: a client without a certificate is refused; a follower
// SIGKILLed costs no write and no request; the leader SIGKILLed, writes resume within a bound.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findProcess } from '../../src/lab/supervisor.js';
import { ChaosLab } from '../helpers/chaos-lab.js';
import { EtcdChaos } from '../helpers/etcd-chaos.js';
import { podnet, sweepLeftovers } from '../helpers/lab.js';

/** Puts per second of the writer; requests per second of each client pod. */
const RATE = 20;
/** Loose: the election takes about a second here (etcd's 1 s election timeout); CI is busier. */
const LEADER_LOSS_WRITE_GAP_MS = 10_000;

const chaos = new ChaosLab(2, ['--store', 'etcd', '--tls']);
const etcd = new EtcdChaos(chaos);
before(async () => {
  sweepLeftovers();
  await chaos.up();
  await Promise.all([chaos.startTraffic(RATE), etcd.startWriter(RATE)]);
});
after(async () => {
  etcd.stop();
  await chaos.down();
});

test('etcd over TLS: every lab process presents a certificate; a client without one is refused', async () => {
  const lab = chaos.lab;
  assert.equal(lab.etcdMembers?.length, 3);
  for (const id of ['agent-node-1', 'agent-node-2', 'apiserver']) {
    const argv = findProcess(lab.stateDir, id)!.argv.join(' ');
    assert.match(argv, /etcd:\S+\?ca=\S+&cert=\S+&key=\S+/, `${id} connects with a certificate`);
  }
  assert.match(
    await etcd.etcdctl(['get', '/podnet/nodes/', '--prefix', '--keys-only']),
    /\/podnet\/nodes\/node-1/,
    'etcdctl with the client certificate reads',
  );
  await assert.rejects(
    etcd.etcdctl(['--command-timeout=2s', 'get', '/podnet/', '--prefix', '--keys-only'], {
      withCert: false,
    }),
    'etcdctl without --cert is refused',
  );
  // podnet's store client with the CA only: exit 1 and one line that says what is missing.
  const caOnly = lab.storeUrl.replace(/&cert=.*$/, '&timeout=3000');
  const r = podnet(['--store', caOnly, 'get', 'nodes']);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, /etcd asks for a client certificate: give cert=FILE&key=FILE/);
});

test('lab up: --etcd-members and --tls only with --store etcd, and an odd number of members', () => {
  const cases: [string[], RegExp][] = [
    [['--tls'], /--etcd-members and --tls are for --store etcd/],
    [['--store', 'etcd', '--etcd-members', '2'], /--etcd-members 2: use 1, 3, 5/],
  ];
  for (const [flags, message] of cases) {
    const r = podnet(['lab', 'up', '--name', 'pnt-usage', ...flags]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('an etcd follower SIGKILLed: no failed request and no failed write', async (t) => {
  const f = await etcd.memberLost('follower');
  t.diagnostic(
    `${f.member}: writes ${f.writes.ok} ok ${f.writes.failed} failed, gap ${f.writes.gapMs} ms; ` +
      `requests ${f.traffic.ok} ok ${f.traffic.failed} failed, gap ${f.traffic.gapMs} ms`,
  );
  assert.ok(f.writes.ok > 0 && f.traffic.ok > 0, 'writes and traffic flowed');
  // A put the killed member had taken goes again through another member.
  assert.equal(f.writes.failed, 0, `failed writes (first: ${f.writes.firstError})`);
  assert.equal(f.traffic.failed, 0, 'failed requests');
});

test('the etcd leader SIGKILLed: writes resume within the bound', async (t) => {
  const f = await etcd.memberLost('leader');
  t.diagnostic(
    `${f.member} (leader): writes ${f.writes.ok} ok ${f.writes.failed} failed, ` +
      `longest write gap ${f.writes.gapMs} ms (first error: ${f.writes.firstError ?? 'none'}); ` +
      `requests ${f.traffic.ok} ok ${f.traffic.failed} failed, gap ${f.traffic.gapMs} ms`,
  );
  assert.ok(f.writes.ok > 0, 'writes went on');
  assert.ok(
    f.writes.gapMs <= LEADER_LOSS_WRITE_GAP_MS,
    `longest write gap ${f.writes.gapMs} ms, bound ${LEADER_LOSS_WRITE_GAP_MS} ms`,
  );
});
