// `podnet trace`, `plan` and `doctor` with routes learnt by BGP (`--routing bgp --fabric bird`,
// proxy nftables): a route via the zone's router is the one BGP installed, each route says where
// it came from, and `plan` plans instead of refusing.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/api/types.js';
import type { Hop } from '../../src/diagnose/trace.js';
import { podnet, podnetOk, until } from '../helpers/lab.js';
import { sharedLab } from '../helpers/shared-lab.js';
import { traceJson } from '../helpers/trace-lab.js';

const BGP_LAB = ['--nodes', '3', '--routing', 'bgp', '--fabric', 'bird', '--proxy', 'nftables'];
const lab = sharedLab(BGP_LAB);
const ip: Record<string, string> = {};

/** An echo pod labelled `app: echo` on `node`. */
const echoPod = (name: string, node: string): string => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: default, labels: { app: echo } }
spec:
  nodeName: ${node}
  containers: [{ name: echo, command: [podnet, serve-echo, --port, '8080'] }]
`;

before(async () => {
  podnetOk(['--lab', lab, 'apply', '-f', '-'], {
    input: [
      echoPod('echo-1', 'node-1'),
      echoPod('echo-2', 'node-2'),
      echoPod('echo-3', 'node-3'),
      `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: default }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`,
    ].join('---\n'),
  });
  for (const name of ['echo-1', 'echo-2', 'echo-3']) {
    ip[name] = await until(`pod ${name} to run`, () => {
      const r = podnet(['--lab', lab, 'get', 'pod', name, '-o', 'json']);
      const p = r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
      return p?.status?.phase === 'Running' ? p.status.podIP : undefined;
    });
  }
});

const trace = (dest: string): ReturnType<typeof traceJson> => traceJson(lab, ['echo-1', dest]);

/** Retries while BGP is still converging (routes arrive a moment after the sessions). */
async function traceOk(dest: string): Promise<Hop[]> {
  return until(
    `trace to ${dest} to be OK`,
    () => {
      const t = trace(dest);
      return t.status === 0 ? t.out.hops : undefined;
    },
    30_000,
  );
}

test('bgp: a cross-zone route via the router is the one BGP installed, there and back', async () => {
  const hops = await traceOk(ip['echo-2']!);
  assert.deepEqual(
    hops.map((h) => `${h.direction} ${h.step} ${h.detail}`),
    [
      `request route node-1: ${ip['echo-2']} via 172.31.1.254 dev eth0 (learned by BGP from 172.31.1.254 AS 65000, next hop router 172.31.1.254)`,
      `request delivery ${hops[1]!.detail}`,
      `reply route node-2: ${ip['echo-1']} via 172.31.2.254 dev eth0 (learned by BGP from 172.31.2.254 AS 65000, next hop router 172.31.2.254)`,
      `reply delivery ${hops[3]!.detail}`,
    ],
  );
  assert.match(hops[1]!.detail, /^node-2: .* dev pn[0-9a-f]{11} \(the pod's veth, echo-2\)$/);
});

test('bgp: a same-zone route names the node BGP gives as next hop', async () => {
  const hops = await traceOk(ip['echo-3']!);
  assert.equal(
    hops[0]!.detail,
    `node-1: ${ip['echo-3']} via 172.31.1.3 dev eth0 (learned by BGP from 172.31.1.254 AS 65000, next hop node-3 172.31.1.3)`,
  );
});

test('bgp: a service through nftables reaches every pod over BGP routes', async () => {
  const svc = JSON.parse(podnetOk(['--lab', lab, 'get', 'svc', 'echo', '-o', 'json'])) as {
    spec: { clusterIP: string };
  };
  const hops = await traceOk(`${svc.spec.clusterIP}:80`);
  // Every endpoint, listed by pod name whatever order the store keeps them in.
  assert.equal(
    hops[0]!.detail,
    `default/echo ${svc.spec.clusterIP}:80 → DNAT at random (nftables) to ${['echo-1', 'echo-2', 'echo-3'].map((p) => `${p} ${ip[p]}:8080 (33.3 %)`).join(', ')}`,
  );
  assert.equal(hops.filter((h) => h.step === 'delivery').length, 4, 'two remote pods, both ways');
});

test('bgp: plan exits 0 and says where each route came from; doctor passes', async () => {
  const r = podnet(['--lab', lab, 'plan', '--node', 'node-1']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /backend auto: nothing to change/);
  assert.match(
    r.stdout,
    /^# 10\.244\.\d+\.0\/24: learned by BGP from 172\.31\.1\.254 AS 65000, next hop router 172\.31\.1\.254$/m,
  );
  assert.match(
    r.stdout,
    /^# 10\.244\.\d+\.0\/24: learned by BGP from 172\.31\.1\.254 AS 65000, next hop node-3 172\.31\.1\.3$/m,
  );
  const d = podnet(['--lab', lab, 'doctor', '--node', 'node-1']);
  assert.equal(d.status, 0, d.stdout);
  assert.match(d.stdout, /pass {2}bgp-routes {7}a BGP route to every other node's pod subnet/);
});
