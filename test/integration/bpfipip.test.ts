// IP-in-IP on a kernel without the ipip module (`lab up --backend ipip --zones 2`): the tc BPF
// programs on each host's underlay carry pod traffic between zones. Pods exchange HTTP and
// 10 MB byte for byte; the underlay carries their TCP inside protocol-4 packets; the route MTU
// lets a full-size DF packet through and answers one byte more with fragmentation-needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { podnetOk } from '../helpers/lab.js';
import { echoLabForFile, startCapture } from '../helpers/echo-lab.js';
import { hostNs, traceJson } from '../helpers/trace-lab.js';

const echo = echoLabForFile(['--backend', 'ipip', '--zones', '2']);

test('bpf ipip: every pod reaches every other pod by HTTP, across hosts and zones', () =>
  echo.allPairs());

test('bpf ipip: 10 MB over TCP across zones arrive byte for byte', () =>
  echo.sendTenMegabytes('echo-1', 'echo-2'));

test("bpf ipip: the underlay carries the pods' TCP inside protocol-4 packets between the hosts", async () => {
  const td = await startCapture(hostNs(echo.name, 'node-1'), 'eth0', 'ip proto 4');
  const r = echo.exec('echo-1', [
    'timeout',
    '5',
    'busybox',
    'wget',
    '-q',
    '-O',
    '-',
    `http://${echo.ip('echo-2')}:8080/`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const stdout = await td.stop();
  const out = new RegExp(
    `IP 172\\.31\\.1\\.\\d+ > 172\\.31\\.2\\.\\d+: IP ${echo.ip('echo-1').replaceAll('.', '\\.')}\\.\\d+ > ${echo.ip('echo-2').replaceAll('.', '\\.')}\\.8080: Flags \\[S\\]`,
  );
  const back = new RegExp(
    `IP 172\\.31\\.2\\.\\d+ > 172\\.31\\.1\\.\\d+: IP ${echo.ip('echo-2').replaceAll('.', '\\.')}\\.8080 > `,
  );
  assert.match(stdout, out);
  assert.match(stdout, back);
});

test('bpf ipip: a full-size DF ping crosses, one byte more is answered with fragmentation-needed', () => {
  // From the host: its route to the peer's pods carries the MTU the pods are given (1480).
  const run = (size: number) =>
    spawnSync(
      'ip',
      [
        'netns',
        'exec',
        hostNs(echo.name, 'node-1'),
        'ping',
        '-c',
        '2',
        '-W',
        '2',
        '-M',
        'do',
        '-s',
        String(size),
        echo.ip('echo-2'),
      ],
      { encoding: 'utf8' },
    );
  const full = run(1480 - 28);
  assert.equal(full.status, 0, full.stdout + full.stderr);
  const over = run(1480 - 28 + 1);
  assert.notEqual(over.status, 0);
  assert.match(over.stdout + over.stderr, /mtu ?= ?1480/i);
  const plan = podnetOk(['--lab', echo.name, 'plan', '--node', 'node-1']);
  assert.match(plan, /^# IP-in-IP: tc BPF programs on eth0 \(the kernel has no ipip device\)$/m);
});

test('bpf ipip: trace names the tc BPF encapsulation both ways', () => {
  const t = traceJson(echo.name, ['echo-1', echo.ip('echo-2')]);
  assert.equal(t.status, 0, t.out.verdict.text);
  const hops = t.out.hops.filter((h) => h.step === 'encapsulation');
  assert.deepEqual(
    hops.map((h) => h.detail),
    [
      'ipip (tc BPF) on eth0: outer 172.31.1.1 → 172.31.2.2 (node-2)',
      'ipip (tc BPF) on eth0: outer 172.31.2.2 → 172.31.1.1 (node-1)',
    ],
  );
});
