// Services in the real lab, in both proxy modes: they load-balance over pods on three hosts
// (TCP and UDP), NodePort answers on every host's address, a pod reaches itself through its
// own service, and a service without pods refuses at once. After each scenario every host's
// rules equal what a fresh proxier programs into the fakes from the lab's store. One lab serves
// both modes: it starts in iptables mode, and its ClusterNetwork then moves it to nftables, on
// the eBPF data path (#22: the same cases, the programs translating ClusterIPs).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, ProxyMode, Service } from '../../src/api/types.js';
import type { LabState } from '../../src/lab/state.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import {
  agentsCaughtUp,
  assertAgentProxyMatchesKernel,
  type RunningAgent,
} from '../helpers/agent-proxy-drift.js';
import { datapathPackets, moveToNftables, switchDatapath } from '../helpers/cluster-network.js';
import {
  labDown,
  labUp,
  podExec,
  podnet,
  podnetOk,
  sweepStaleLabs,
  testLabName,
} from '../helpers/lab.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { assertEvenSpread } from '../helpers/proxy-topology.js';

const ECHOES = ['echo-1', 'echo-2', 'echo-3'];
const NODES = ['node-1', 'node-2', 'node-3'];
const HOST_IPS = ['172.31.1.1', '172.31.2.2', '172.31.1.3'];
const NODE_PORT = 30080;

const pod = (name: string, node: string, labels: string, command: string): string =>
  [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    '  namespace: default',
    `  labels: ${labels}`,
    'spec:',
    `  nodeName: ${node}`,
    '  containers:',
    '    - name: main',
    `      command: ${command}`,
    '',
  ].join('\n');

const service = (name: string, app: string, nodePort?: number): string =>
  [
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    `  name: ${name}`,
    '  namespace: default',
    'spec:',
    ...(nodePort ? ['  type: NodePort'] : []),
    `  selector: { app: ${app} }`,
    '  ports:',
    `    - { name: http, protocol: TCP, port: 80, targetPort: 8080${nodePort ? `, nodePort: ${nodePort}` : ''} }`,
    '    - { name: echo, protocol: UDP, port: 81, targetPort: 8080 }',
    '',
  ].join('\n');

const WORKLOAD = [
  ...ECHOES.map((p, i) =>
    pod(p, `node-${i + 1}`, '{ app: echo }', "[podnet, serve-echo, --port, '8080']"),
  ),
  pod('client', 'node-2', '{ role: client }', '[sleep, infinity]'),
  service('web', 'echo'),
  service('web-np', 'echo', NODE_PORT),
  service('nobody', 'nothing-matches-this'),
].join('---\n');

// One UDP datagram per new socket (a new source port, so a new conntrack entry and a new
// random pick); prints the replying pod's name, or `timeout`.
const UDP_LOOP = `
const dgram = require('node:dgram');
const [ip, port, n] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < Number(n); i++) {
    const s = dgram.createSocket('udp4');
    const reply = await new Promise((resolve) => {
      const t = setTimeout(() => resolve('timeout'), 1000);
      s.on('message', (m) => { clearTimeout(t); resolve(JSON.parse(m.toString()).pod); });
      s.send('hi', Number(port), ip);
    });
    s.close();
    console.log(reply);
  }
})();
`;

// A TCP connect timed from inside the pod: prints `<error code or ok> <milliseconds>`.
const CONNECT = `
const net = require('node:net');
const t0 = process.hrtime.bigint();
const s = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
const done = (what) => { console.log(what, Number(process.hrtime.bigint() - t0) / 1e6); s.destroy(); };
s.setTimeout(5000, () => done('timeout'));
s.on('connect', () => done('ok'));
s.on('error', (e) => done(e.code));
`;

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function tally(lines: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of lines) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

/** All 3 pods reached, each 20-47 %, and a chi-square test against uniform at p = 0.001. */
function assertEven(counts: Record<string, number>, total: number): string {
  return assertEvenSpread(counts, ECHOES, total);
}

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

describe('proxy lab, iptables then nftables', { concurrency: false }, () => {
  const name = testLabName();
  const ips: Record<string, string> = {};
  let store: Store | undefined;
  let agents: RunningAgent[] = [];

  const exec = (from: string, argv: string[]): ReturnType<typeof podnet> =>
    podExec(name, from, argv);
  const sh = (from: string, script: string): string[] => {
    const r = exec(from, ['sh', '-c', script]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  const get = (url: string): string =>
    `timeout 3 busybox wget -q -O - ${url} | sed 's/.*"pod":"\\([^"]*\\)".*/\\1/'; echo`;
  const clusterIP = (svc: string): string =>
    (JSON.parse(podnetOk(['--lab', name, 'get', 'service', svc, '-o', 'json'])) as Service).spec
      .clusterIP!;
  before(async () => {
    const lab: LabState = labUp(name, ['--nodes', '3', '--zones', '2', '--proxy', 'iptables']);
    store = await openStore(lab.storeUrl);
    agents = lab.hosts.map((h) => ({ node: h.name, ns: h.netns, metrics: h.metricsAddress }));
    podnetOk(['--lab', name, 'apply', '-f', '-'], { input: WORKLOAD });
    for (const p of [...ECHOES, 'client']) {
      ips[p] = await until(`pod ${p} to run`, () => {
        const r = podnet(['--lab', name, 'get', 'pod', p, '-o', 'json']);
        const s = r.status === 0 ? (JSON.parse(r.stdout) as Pod).status : undefined;
        const ready = s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return s?.phase === 'Running' && ready ? s.podIP : undefined;
      });
    }
    // The client host's rules know all 3 pods once each has answered at least once.
    const ip = clusterIP('web');
    await until('all 3 pods behind the service', () => {
      const seen = new Set(sh('client', `for i in $(seq 12); do ${get(`http://${ip}:80/`)}; done`));
      return ECHOES.every((p) => seen.has(p)) ? true : undefined;
    });
  });
  after(async () => {
    await store?.close();
    labDown(name);
  });

  for (const mode of ['iptables', 'nftables'] as ProxyMode[]) {
    describe(`proxy lab ${mode}`, { concurrency: false }, () => {
      if (mode === 'nftables') {
        before(async () => {
          await moveToNftables(name, NODES);
          await switchDatapath(name, NODES, 'ebpf');
        });
      }
      afterEach(async () => {
        await agentsCaughtUp(store!, agents, [
          { kind: 'Service', namespace: 'default', name: 'web' },
          { kind: 'Pod', namespace: 'default', name: 'echo-1' },
        ]);
        // Each host's check waits for the slices to hold still: those waits overlap.
        await Promise.all(
          agents.map((agent) => assertAgentProxyMatchesKernel(store!, agent, mode)),
        );
      });

      test(`proxy lab ${mode}: 300 new TCP connections to a ClusterIP reach 3 pods on 3 hosts evenly`, (t) => {
        const ip = clusterIP('web');
        const lines = sh('client', `for i in $(seq 300); do ${get(`http://${ip}:80/`)}; done`);
        t.diagnostic(assertEven(tally(lines), 300));
      });

      test(`proxy lab ${mode}: 300 UDP exchanges with a ClusterIP reach 3 pods on 3 hosts evenly`, (t) => {
        const r = exec('client', ['node', '-e', UDP_LOOP, clusterIP('web'), '81', '300']);
        assert.equal(r.status, 0, r.stderr);
        t.diagnostic(assertEven(tally(r.stdout.split('\n').filter(Boolean)), 300));
      });

      test(`proxy lab ${mode}: a NodePort answers on every host's address, from a pod on another host`, () => {
        for (const host of HOST_IPS) {
          const lines = sh('client', get(`http://${host}:${NODE_PORT}/`));
          assert.ok(ECHOES.includes(lines[0]!), `NodePort on ${host}: ${JSON.stringify(lines)}`);
        }
      });

      test(`proxy lab ${mode}: a pod reaching its own service gets answers, also from itself (hairpin)`, () => {
        const ip = clusterIP('web');
        const counts = tally(
          sh('echo-1', `for i in $(seq 30); do ${get(`http://${ip}:80/`)}; done`),
        );
        assert.equal(
          ECHOES.reduce((a, p) => a + (counts[p] ?? 0), 0),
          30,
          `every request answered: ${JSON.stringify(counts)}`,
        );
        assert.ok(
          (counts['echo-1'] ?? 0) > 0,
          `never answered by itself: ${JSON.stringify(counts)}`,
        );
      });

      test(`proxy lab ${mode}: a service with no pods refuses a connect at once`, (t) => {
        const r = exec('client', ['node', '-e', CONNECT, clusterIP('nobody'), '80']);
        assert.equal(r.status, 0, r.stderr);
        const [what, ms] = r.stdout.trim().split(' ');
        assert.equal(what, 'ECONNREFUSED', r.stdout);
        assert.ok(Number(ms) < 500, `refused after ${ms} ms`);
        t.diagnostic(`refused after ${ms} ms`);
      });

      if (mode === 'nftables') {
        test(`proxy lab ${mode}: the eBPF programs translated the client's service traffic`, () => {
          assert.ok(datapathPackets(name, ['node-2'], ['service_dnat']) > 300, 'DNAT in BPF');
          assert.ok(datapathPackets(name, ['node-2'], ['reverse_nat']) > 0, 'reverse NAT in BPF');
        });
      }
    });
  }
});
