// An IPv6-only cluster (`lab up --ip-family ipv6`, 3 hosts in 2 zones): the pods have IPv6
// addresses alone, the demo's request flow (a pod calls the service by name, the kernel
// spreads the calls over pods on every host, over IPv6) works with no IPv4 in the pod network,
// and the cluster DNS answers AAAA for the service and A with no address. The cluster encrypts
// with WireGuard (`--encryption wireguard`): its peers are the hosts' IPv6 underlay addresses, so
// between hosts the underlay carries only UDP to port 51820 over IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Service } from '../../src/api/types.js';
import { parseIP } from '../../src/net/index.js';
import { podNetns } from '../../src/lab/plan.js';
import { startCapture } from '../helpers/echo-lab.js';
import { podExec, podnetOk } from '../helpers/lab.js';
import { sharedLabWithPods } from '../helpers/shared-lab.js';

const NODES = ['node-1', 'node-2', 'node-3'];
const PODS = ['echo-1', 'echo-2', 'echo-3'];
const SERVICE_NAME = 'my-svc.default.svc.cluster.local';

/** The demo's echo pod on `node`, listening on IPv6 (there is no IPv4 to listen on). */
function echoYaml(pod: string, node: string): string {
  return `apiVersion: v1
kind: Pod
metadata: { name: ${pod}, namespace: default, labels: { app: echo } }
spec:
  nodeName: ${node}
  containers:
    - name: echo
      command: [podnet, serve-echo, --port, '8080', --address, '::']
      ports: [{ name: http, containerPort: 8080 }]
`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: my-svc, namespace: default }
spec:
  selector: { app: echo }
  ports: [{ name: http, protocol: TCP, port: 80, targetPort: http }]
`;

const { name, podIPs } = sharedLabWithPods(
  [
    ...['--nodes', '3', '--zones', '2', '--backend', 'auto', '--ip-family', 'ipv6'],
    ...['--encryption', 'wireguard'],
  ],
  [...PODS.map((p, i) => echoYaml(p, NODES[i]!)), SERVICE].join('---\n'),
  PODS,
);

const podNs = (pod: string): string => {
  const node = NODES[PODS.indexOf(pod)]!;
  return podNetns(name, node, 'default', pod);
};

/** Runs `argv` in a pod's namespace with its resolv.conf, as `podnet lab exec` does. */
function inPod(pod: string, argv: string[]): string {
  const r = podExec(name, pod, argv);
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')} in ${pod} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function clusterIPs(): string[] {
  const svc = JSON.parse(
    podnetOk(['--lab', name, 'get', 'service', 'my-svc', '-o', 'json']),
  ) as Service;
  return svc.spec.clusterIPs ?? [svc.spec.clusterIP!];
}

test('v6only: pods have IPv6 addresses alone, and their resolver is the IPv6 cluster DNS', () => {
  for (const pod of PODS) {
    const ips = podIPs.get(pod)!;
    assert.deepEqual(
      ips.map((ip) => parseIP(ip).family),
      [6],
      `${pod}: status.podIPs ${ips.join(', ')}`,
    );
    const ipv4 = spawnSync('ip', ['-n', podNs(pod), '-4', '-o', 'addr', 'show'], {
      encoding: 'utf8',
    }).stdout;
    const devices = ipv4
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/\s+/)[1]);
    assert.deepEqual(devices, ['lo'], `${pod}: IPv4 on ${devices.join(', ')}`);
    const resolv = readFileSync(`/etc/netns/${podNs(pod)}/resolv.conf`, 'utf8');
    const nameservers = resolv.match(/^nameserver .*$/gm) ?? [];
    assert.deepEqual(nameservers, ['nameserver fd00:10:96::a'], `${pod}: ${resolv}`);
  }
  assert.deepEqual(
    clusterIPs().map((ip) => parseIP(ip).family),
    [6],
  );
});

test('v6only: a pod calls the service by name and reaches the pods on every host over IPv6', () => {
  // One shell in the client pod for all the calls: each answer names the pod that served it.
  const calls = 30;
  const out = inPod('echo-1', [
    'sh',
    '-c',
    `for i in $(seq ${calls}); do curl -s -m 3 http://${SERVICE_NAME}/; echo; done`,
  ]);
  const answers = out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { pod: string; ip: string });
  assert.equal(answers.length, calls, out);
  assert.deepEqual([...new Set(answers.map((a) => a.pod))].sort(), PODS, out);
  for (const a of answers) assert.equal(parseIP(a.ip).family, 6, a.ip);
});

test('v6only: the cluster DNS answers AAAA with the cluster IP, and A with no address', () => {
  const [clusterIP] = clusterIPs();
  const aaaa = inPod('echo-2', ['dig', '+short', '+time=2', '+tries=2', 'AAAA', SERVICE_NAME]);
  assert.deepEqual(aaaa.trim().split('\n'), [clusterIP]);
  const a = inPod('echo-2', ['dig', '+time=2', '+tries=2', 'A', SERVICE_NAME]);
  assert.match(a, /status: NOERROR/);
  assert.match(a, /ANSWER: 0,/);
});

test('v6only: trace of the service by name resolves AAAA through the cluster DNS and follows it to every pod', () => {
  const [clusterIP] = clusterIPs();
  const r = podnetOk(
    ['--lab', name, 'trace', 'echo-1', 'my-svc:80', '--family', 'ipv6', '-o', 'json'],
    { timeoutMs: 120_000 },
  );
  const { hops, verdict } = JSON.parse(r) as {
    hops: { step: string; ok: boolean; detail: string }[];
    verdict: { ok: boolean; text: string };
  };
  const lines = hops.map((h) => `${h.step}: ${h.detail}`).join('\n');
  assert.ok(verdict.ok, `${verdict.text}\n${lines}`);
  const dns = hops.find((h) => h.step === 'dns');
  assert.match(dns?.detail ?? '', new RegExp(`^${SERVICE_NAME} → ${clusterIP} `), lines);
  const service = hops.find((h) => h.step === 'service')?.detail ?? '';
  for (const pod of PODS) {
    const [ip] = podIPs.get(pod)!;
    assert.ok(service.includes(`${pod} [${ip}]:8080`), `${pod} in: ${service}`);
  }
});

test('v6only: WireGuard peers at IPv6 underlay addresses; between hosts the underlay sees only UDP 51820', async () => {
  const hostNs = `${name}-node-1`;
  const routes = JSON.parse(
    execFileSync('ip', ['-n', hostNs, '-j', '-6', 'route', 'show', 'proto', '80'], {
      encoding: 'utf8',
    }),
  ) as { dst: string; gateway?: string; dev: string }[];
  const peerRoutes = routes.filter((r) => r.gateway !== undefined);
  assert.equal(peerRoutes.length, 2, JSON.stringify(routes));
  for (const r of peerRoutes) assert.equal(r.dev, 'pn-wg', JSON.stringify(r));
  // node-3 shares node-1's segment: without encryption it would be a plain route.
  const node3 = 'fd00:172:31:1::3';
  const td = await startCapture(hostNs, 'eth0', `host ${node3} and not icmp6`);
  const echo3 = podIPs.get('echo-3')![0]!;
  const answer = inPod('echo-1', ['curl', '-s', '-m', '3', `http://[${echo3}]:8080/`]);
  assert.equal((JSON.parse(answer) as { pod: string }).pod, 'echo-3');
  const stdout = await td.stop();
  const packets = stdout.split('\n').filter((l) => / IP6 /.test(l));
  assert.ok(packets.length >= 4, stdout);
  for (const line of packets) {
    assert.match(line, /IP6 fd00:172:31:1::[13]\.51820 > fd00:172:31:1::[13]\.51820: UDP/, line);
  }
  assert.doesNotMatch(stdout, /fd00:10:244:/);
});
