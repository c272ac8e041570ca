// IP-in-IP on a kernel without the ipip module (`lab up --backend ipip --zones 2`): the tc BPF
// programs on each host's underlay carry pod traffic between zones. Pods exchange HTTP and
// 10 MB byte for byte; the underlay carries their TCP inside protocol-4 packets; the route MTU
// lets a full-size DF packet through and answers one byte more with fragmentation-needed, to
// the host and to a pod whose packets the host forwards. Last, the same lab under backend auto
// with autoTunnel ipip: direct inside the zone, the programs across it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { podnetOk, until } from '../helpers/lab.js';
import { echoLabForFile, startCapture } from '../helpers/echo-lab.js';
import { hostNs, traceJson } from '../helpers/trace-lab.js';
import { podNetns } from '../../src/lab/plan.js';

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

test("bpf ipip: a pod's DF packet too big for the IP-in-IP path is answered by its host with fragmentation-needed", () => {
  // A pod whose interface is larger than the path (as one made before the cluster moved to
  // IP-in-IP would be) sends full-size frames: its host forwards them into a route of MTU
  // 1480, and must answer one byte over with ICMP fragmentation-needed naming 1480.
  const host = hostNs(echo.name, 'node-1');
  const pod = podNetns(echo.name, 'node-1', 'default', 'echo-1');
  const inPod = (argv: string[]) =>
    spawnSync('ip', ['netns', 'exec', pod, ...argv], { encoding: 'utf8' });
  const podLink = JSON.parse(inPod(['ip', '-j', 'link', 'show', 'eth0']).stdout) as {
    link_index: number;
  }[];
  const hostLinks = JSON.parse(
    spawnSync('ip', ['-n', host, '-j', 'link', 'show'], { encoding: 'utf8' }).stdout,
  ) as { ifindex: number; ifname: string }[];
  const veth = hostLinks.find((l) => l.ifindex === podLink[0]!.link_index)!.ifname;
  const setMtu = (mtu: number) => {
    assert.equal(inPod(['ip', 'link', 'set', 'eth0', 'mtu', String(mtu)]).status, 0);
    const r = spawnSync('ip', ['-n', host, 'link', 'set', veth, 'mtu', String(mtu)]);
    assert.equal(r.status, 0, String(r.stderr));
  };
  const ping = (size: number) =>
    inPod(['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(size), echo.ip('echo-2')]);
  try {
    setMtu(1500);
    const full = ping(1480 - 28);
    assert.equal(full.status, 0, full.stdout + full.stderr);
    const over = ping(1480 - 28 + 1);
    assert.notEqual(over.status, 0);
    assert.match(over.stdout, /Frag(mentation)? needed and DF set \(mtu = 1480\)/i);
    // The answer reached the pod's kernel: its path MTU to the peer pod is now 1480.
    const route = inPod(['ip', 'route', 'get', echo.ip('echo-2')]);
    assert.match(route.stdout, /\bmtu 1480\b/);
  } finally {
    setMtu(1480);
    inPod(['ip', 'route', 'flush', 'cache']);
  }
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

test('bpf ipip: backend auto with autoTunnel ipip routes the zone directly and only the other zone through the programs', async () => {
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], {
    input:
      'apiVersion: podnet.io/v1\nkind: ClusterNetwork\nmetadata: {name: default}\nspec: {backend: auto, autoTunnel: ipip}\n',
  });
  const host = hostNs(echo.name, 'node-1');
  const routeTo = (pod: string) =>
    spawnSync('ip', ['-n', host, 'route', 'get', echo.ip(pod)], { encoding: 'utf8' }).stdout;
  // node-3 shares node-1's zone: a plain route via it; node-2 stays behind the programs.
  await until('node-1 to route node-3 directly', () =>
    /via 172\.31\.1\.3 dev eth0/.test(routeTo('echo-3')) ? true : undefined,
  );
  assert.match(routeTo('echo-2'), /via 172\.31\.1\.254 dev eth0/);
  // The route can be in before the agent's sync that wrote it has finished: wait for it to end.
  const settled =
    /^# node-1 \(namespace .*\), backend auto \(ipip where not on-link\): nothing to change$/m;
  const plan = await until('node-1 to have nothing left to change', () => {
    const text = podnetOk(['--lab', echo.name, 'plan', '--node', 'node-1']);
    return settled.test(text) ? text : undefined;
  });
  assert.match(plan, /^# IP-in-IP: tc BPF programs on eth0 \(the kernel has no ipip device\)$/m);
  // Direct inside the zone, IP-in-IP across it, both ways.
  for (const [from, to] of [
    ['echo-1', 'echo-3'],
    ['echo-3', 'echo-2'],
    ['echo-2', 'echo-1'],
  ] as const) {
    assert.equal((await echo.http(from, to)).pod, to, `${from} -> ${to}`);
  }
});
