// Bad input from a raw TCP peer: each malformed message gets the NOTIFICATION RFC 4271 §6
// names, or RFC 7606's treat-as-withdraw; 10,000 random mutations never crash the speaker;
// a well-behaved session (BIRD) beside it is never disturbed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { withBgpNet, until } from '../helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../helpers/names.js';

before(() => {
  sweepStaleNamespaces();
});

const MARKER = 'ff'.repeat(16);
function msg(type: number, body: string): string {
  const b = body.replace(/\s+/g, '');
  return (
    MARKER +
    (19 + b.length / 2).toString(16).padStart(4, '0') +
    type.toString(16).padStart(2, '0') +
    b
  );
}
function attrs(...parts: string[]): string {
  const b = parts.join('').replace(/\s+/g, '');
  return (b.length / 2).toString(16).padStart(4, '0') + b;
}
/** NLRI bytes of 10.99.k.0/24. */
const nlri = (k: number) => `18 0a63${k.toString(16).padStart(2, '0')}`;
const prefix = (k: number) => `10.99.${k}.0/24`;

const RAW_AS = 65010; // 0xfdf2
const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fdf2';
const NEXT_HOP = '40 03 04 ac1e0002'; // 172.30.0.2
const announce = (k: number, ...extra: string[]) =>
  msg(2, '0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, ...extra) + nlri(k));

test('bgp malformed: right NOTIFICATION or treat-as-withdraw, fuzzing never crashes, BIRD unaffected', () =>
  withBgpNet(3, async (net) => {
    const bird = net.bird(
      2,
      `router id ${net.address(2)};
protocol device {}
protocol static { ipv4; route 10.250.0.0/24 blackhole; }
protocol bgp podnet {
  local ${net.address(2)} as 65000;
  neighbor ${net.address(0)} as 64512;
  hold time 9; connect retry time 1;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`,
    );
    const speaker = await net.speaker(0, {
      asNumber: 64512,
      bgpId: net.address(0),
      holdTime: 9,
      connectRetryTime: 1,
      idleHoldTime: 0,
      localPrefixes: ['10.244.1.0/24'],
      peers: [
        { address: net.address(1), asNumber: RAW_AS, passive: true },
        { address: net.address(2), asNumber: 65000 },
      ],
    });
    const birdPeer = async () =>
      (await speaker.status(false)).peers.find((p) => p.address === net.address(2))!;
    await until('BIRD session', async () => (await birdPeer()).state === 'Established');
    const birdSince = (await birdPeer()).uptime!;
    const birdUpAt = Date.now() - birdSince * 1000;

    const raw = net.rawPeer(1);
    const who = { host: net.address(0), port: 179, as: RAW_AS, id: net.address(1) };
    const establish = async () =>
      assert.deepEqual(await raw.request({ cmd: 'establish', ...who }), { ok: true });

    // Session resets: [name, bytes, code, subcode, data?]
    const resets: [string, string, number, number, string?][] = [
      ['bad marker', '00' + msg(4, '').slice(2), 1, 1],
      ['truncated header (length 18)', MARKER + '0012 04', 1, 2, '0012'],
      ['KEEPALIVE with a body', MARKER + '0014 04 00', 1, 2, '0014'],
      ['unknown message type', msg(9, ''), 1, 3, '09'],
      ['withdrawn length past the message', msg(2, '0010 18 0a6301 0000'), 3, 1],
      ['total attribute length past the message', msg(2, '0000 0040' + ORIGIN), 3, 1],
      ['unknown well-known attribute', announce(1, '40 63 02 abcd'), 3, 2, '406302abcd'],
      [
        'prefix longer than 32 bits',
        msg(2, '0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP) + '21 0a630100 00'),
        3,
        10,
      ],
      ['OPEN in Established', msg(1, '04 fdf2 005a ac1e0002 00'), 5, 3],
    ];
    for (const [name, hex, code, subcode, data] of resets) {
      await establish();
      const r = (await raw.request({
        cmd: 'send',
        hex: hex.replace(/\s+/g, ''),
        waitMs: 3000,
      })) as {
        notification: [number, number, string] | null;
      };
      assert.ok(r.notification, `${name}: no NOTIFICATION`);
      assert.deepEqual(r.notification.slice(0, 2), [code, subcode], name);
      if (data !== undefined) assert.equal(r.notification[2], data, `${name}: data`);
    }

    // Treat-as-withdraw (RFC 7606): no NOTIFICATION, the UPDATE's prefixes are withdrawn.
    const withdrawals: [string, number, string][] = [
      ['ORIGIN 7', 11, msg(2, '0000' + attrs('40 01 01 07', AS_PATH, NEXT_HOP) + nlri(11))],
      [
        'AS_PATH loop (our AS)',
        12,
        msg(2, '0000' + attrs(ORIGIN, '40 02 0a 02 02 0000fdf2 0000fc00', NEXT_HOP) + nlri(12)),
      ],
      ['missing NEXT_HOP', 13, msg(2, '0000' + attrs(ORIGIN, AS_PATH) + nlri(13))],
      ['COMMUNITIES of 3 octets', 14, announce(14, 'c0 08 03 fdf200')],
      ['attribute length past the attributes', 15, announce(15, 'c0 08 08 fdf20001')],
      [
        'malformed AS_PATH segment',
        16,
        msg(2, '0000' + attrs(ORIGIN, '40 02 06 02 05 0000fdf2', NEXT_HOP) + nlri(16)),
      ],
    ];
    await establish();
    for (const [, k] of withdrawals)
      await raw.request({ cmd: 'send', hex: announce(k).replace(/\s+/g, ''), waitMs: 10 });
    // Attribute-discard: a bad ATOMIC_AGGREGATE is dropped, the route stays.
    await raw.request({
      cmd: 'send',
      hex: announce(17, '40 06 01 00').replace(/\s+/g, ''),
      waitMs: 10,
    });
    await until('valid announcements learnt', async () => {
      const l = await speaker.learned();
      return [11, 12, 13, 14, 15, 16, 17].every((k) => l[prefix(k)] === net.address(1));
    });
    for (const [name, , hex] of withdrawals) {
      const r = (await raw.request({ cmd: 'send', hex: hex.replace(/\s+/g, ''), waitMs: 300 })) as {
        notification: unknown;
        closed: boolean;
      };
      assert.equal(r.notification, null, `${name}: must not reset the session`);
      assert.equal(r.closed, false, name);
    }
    await until('treat-as-withdraw applied', async () => {
      const l = await speaker.learned();
      return withdrawals.every(([, k]) => !(prefix(k) in l)) && l[prefix(17)] === net.address(1);
    });
    const rawPeer = (await speaker.status(false)).peers.find((p) => p.address === net.address(1))!;
    assert.equal(rawPeer.state, 'Established');
    assert.ok(rawPeer.prefixesRejected >= 1, 'the AS_PATH loop counts as rejected');

    // 10,000 random mutations of valid UPDATEs, bounded in time.
    const base = [
      announce(20),
      announce(21, '80 04 04 00000064', 'c0 08 08 fdf20001 fdf20002'),
      msg(2, '0004 18 0a6314 0000'),
      msg(2, '0000' + attrs('80 0e 0d 0001 01 04 ac1e0002 00 18 0a6316', ORIGIN, AS_PATH)),
      msg(2, '0000' + attrs('80 0f 07 0001 01 18 0a6316')),
    ].map((h) => h.replace(/\s+/g, ''));
    const started = Date.now();
    const fuzz = (await raw.request({ cmd: 'fuzz', ...who, seed: 7606, count: 10000, base })) as {
      sent: number;
      sessions: number;
      notifications: Record<string, number>;
      ms: number;
    };
    const elapsed = Date.now() - started;
    assert.equal(fuzz.sent, 10000, JSON.stringify(fuzz) + speaker.output().slice(-3000));
    assert.ok(elapsed < 120000, `fuzzing took ${elapsed} ms`);
    for (const key of Object.keys(fuzz.notifications)) {
      assert.ok(
        ['1', '2', '3', '5'].includes(key.split('/')[0]!),
        `unexpected NOTIFICATION ${key}`,
      );
    }
    assert.ok(fuzz.sessions > 1, 'some mutations must have reset the session');
    process.stderr.write(`fuzz: ${JSON.stringify(fuzz)}\n`);

    // The speaker is alive and answers; the BIRD session never went down.
    assert.equal(speaker.proc.exitCode, null);
    const after = await birdPeer();
    assert.equal(after.state, 'Established');
    const upAt = Date.now() - after.uptime! * 1000;
    assert.ok(Math.abs(upAt - birdUpAt) < 2500, 'BIRD session was not re-established');
    assert.match(bird.ctl('show', 'protocols', 'podnet'), /Established/);
    await establish();
  }));
