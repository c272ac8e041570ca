// The VXLAN backend (`lab up --backend vxlan --zones 2`): every other host is behind pn-vxlan,
// in the same zone as in another. trace names the tunnel hop both ways and calls the path OK;
// with the FDB entry for a peer's VTEP gone (its agent frozen so that it cannot put it back),
// trace names the encapsulation step and doctor the missing entry with its fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { echoLabForFile } from '../helpers/echo-lab.js';
import { doctorJson, freezeHost, hostNs, traceJson } from '../helpers/trace-lab.js';

const echo = echoLabForFile(['--backend', 'vxlan', '--zones', '2']);

const trace = (to: string): ReturnType<typeof traceJson> =>
  traceJson(echo.name, ['echo-1', echo.ip(to)]);

const doctor = (node: string): ReturnType<typeof doctorJson> => doctorJson(echo.name, node);

for (const [to, where] of [
  ['echo-3', 'the same zone'],
  ['echo-2', 'another zone'],
] as const) {
  test(`vxlan: a pod in ${where} is reached through pn-vxlan, both ways, OK`, () => {
    const t = trace(to);
    assert.equal(t.status, 0, t.out.verdict.text);
    assert.match(t.out.verdict.text, /^OK/);
    const tunnels = t.out.hops.filter((h) => h.step === 'encapsulation');
    assert.deepEqual(
      tunnels.map((h) => h.direction),
      ['request', 'reply'],
    );
    for (const h of tunnels) {
      assert.ok(h.ok);
      assert.match(h.detail, /^vxlan pn-vxlan VNI 1 port 8472: inner → [0-9a-f:]{17}, outer /);
    }
    assert.ok(t.out.hops.some((h) => h.step === 'delivery' && h.ok && h.detail.includes(to)));
  });
}

test('vxlan: doctor passes on every host', () => {
  for (const node of ['node-1', 'node-2', 'node-3']) {
    const d = doctor(node);
    assert.deepEqual(
      d.failed.map((v) => v.check),
      [],
      `${node}: ${JSON.stringify(d.failed)}`,
    );
    assert.equal(d.status, 0);
  }
});

test('vxlan: a missing FDB entry is the broken encapsulation step, and doctor names it', () => {
  const fdb = execFileSync(
    'bridge',
    ['-n', hostNs(echo.name, 'node-1'), 'fdb', 'show', 'dev', 'pn-vxlan'],
    {
      encoding: 'utf8',
    },
  );
  const entry = fdb.split('\n').find((l) => l.includes('dst 172.31.2.2'));
  assert.ok(entry, `node-1 has an FDB entry for node-2's VTEP:\n${fdb}`);
  const mac = entry.split(' ')[0]!;
  freezeHost(echo.name, 'node-1', 'SIGSTOP');
  try {
    execFileSync('bridge', [
      '-n',
      hostNs(echo.name, 'node-1'),
      'fdb',
      'del',
      mac,
      'dev',
      'pn-vxlan',
      'dst',
      '172.31.2.2',
      'self',
    ]);
    const t = trace('echo-2');
    assert.equal(t.status, 1);
    const broken = t.out.hops.find((h) => !h.ok)!;
    assert.equal(broken.step, 'encapsulation');
    assert.equal(broken.direction, 'request');
    assert.equal(
      broken.detail,
      `pn-vxlan: no FDB entry for ${mac}: the outer destination is unknown`,
    );
    const d = doctor('node-1');
    assert.equal(d.status, 1);
    const state = d.failed.find((v) => v.check === 'kernel-state');
    assert.ok(state, JSON.stringify(d.failed));
    assert.match(
      state.detail,
      new RegExp(`missing FDB entry ${mac} → 172\\.31\\.2\\.2 on pn-vxlan`),
    );
    assert.match(
      state.fix ?? '',
      new RegExp(`bridge fdb (add|append|replace) ${mac} dev pn-vxlan dst 172\\.31\\.2\\.2`),
    );
  } finally {
    freezeHost(echo.name, 'node-1', 'SIGCONT');
  }
});
