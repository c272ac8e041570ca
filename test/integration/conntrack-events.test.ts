// podnet-conntrack-events against the real kernel: a TCP connection in a namespace of the
// test's own, over IPv4 and over IPv6, yields a NEW and a DESTROY record with its tuple, the
// same connection id, and the DESTROY with counters and a lifetime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eachRecord } from '../../src/kernel/conntrack-events.js';
import { conntrackDecoder, type ConntrackRecord } from '../../src/kernel/conntrack-record.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';
import { waitFor } from '../helpers/wait.js';

const HELPER = fileURLToPath(new URL('../../bin/podnet-conntrack-events', import.meta.url));

/** conntrack follows a namespace's connections only once a rule there asks for their state. */
const TRACK_RULES = ['ip', 'ip6']
  .map(
    (family) =>
      `table ${family} t {\n chain c {\n  type filter hook output priority 0; ct state new accept\n }\n}\n`,
  )
  .join('');

/** Connects once to a listener on `host`, sends a few bytes, closes; prints both ports. */
const CONNECT = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam); s.bind((sys.argv[1], 0)); s.listen()
c = socket.socket(fam); c.connect(s.getsockname()[:2]); a, _ = s.accept()
c.sendall(b'hello'); a.recv(5)
print(c.getsockname()[1], s.getsockname()[1])
c.close(); a.close(); s.close()
`;

test('conntrack-events: a connection yields NEW and DESTROY records with its tuple, both families', async () => {
  sweepStaleNamespaces();
  const netns = uniqueName('ct');
  const inNetns = (...argv: string[]) =>
    execFileSync('ip', ['netns', 'exec', netns, ...argv], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  execFileSync('ip', ['netns', 'add', netns]);
  const helper = spawn('ip', ['netns', 'exec', netns, HELPER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: TRACK_RULES });
    inNetns(
      'sysctl',
      '-qw',
      'net.netfilter.nf_conntrack_acct=1',
      'net.netfilter.nf_conntrack_timestamp=1',
    );
    const records: ConntrackRecord[] = [];
    const decode = conntrackDecoder();
    eachRecord(helper.stdout!, (buf, at) => {
      const r = decode(buf, at);
      if (r) records.push(r);
    });
    await waitFor('the helper to subscribe', () => records.some((r) => r.type === 'READY'), 10_000);

    for (const host of ['127.0.0.1', '::1']) {
      const [client, server] = inNetns('python3', '-c', CONNECT, host)
        .trim()
        .split(' ')
        .map(Number);
      // A closed TCP connection waits out TIME_WAIT in the table; deleting it ends it now.
      inNetns(
        'conntrack',
        '-D',
        '-f',
        host.includes(':') ? 'ipv6' : 'ipv4',
        '-p',
        'tcp',
        '--dport',
        String(server),
      );
      const ofThis = (type: string) =>
        records.find(
          (r) =>
            r.type === type &&
            'original' in r &&
            r.original.src === host &&
            r.original.sport === client,
        );
      const opened = await waitFor(`NEW of ${host}`, () => ofThis('NEW'), 5000);
      const closed = await waitFor(`DESTROY of ${host}`, () => ofThis('DESTROY'), 5000);
      assert.ok(opened.type === 'NEW' && closed.type === 'DESTROY');
      assert.equal(opened.protocol, 'tcp');
      assert.deepEqual(opened.original, { src: host, dst: host, sport: client, dport: server });
      assert.deepEqual(opened.reply, { src: host, dst: host, sport: server, dport: client });
      assert.equal(closed.id, opened.id, 'one id from NEW to DESTROY');
      assert.ok((closed.original.packets ?? 0) >= 3, `sent packets ${closed.original.packets}`);
      assert.ok((closed.original.bytes ?? 0) > 5, `sent bytes ${closed.original.bytes}`);
      assert.ok((closed.reply.packets ?? 0) >= 2, `received packets ${closed.reply.packets}`);
      assert.ok(closed.lifetime !== undefined && closed.lifetime >= 0 && closed.lifetime < 60);
      assert.ok(Math.abs(closed.time - Date.now() / 1000) < 60, 'read at the wall clock');
    }
  } finally {
    helper.kill();
    deleteNamespace(netns);
  }
});
