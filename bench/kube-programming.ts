// Network-programming latency (Kubernetes' SLI: from a Service or endpoint change in the API to
// the node's rules in place) with 1,000 services present, through the Kubernetes source and,
// in the same run, through podnet's own store (the anchor). Two one-node labs: one whose agent
// reads the store, one (`--api kubernetes`) whose agent reads podnet's API server with its own
// token. Each sample moves one service's endpoint to a new address, written through the API
// (HTTPS, as kubectl would) or into the store (as `podnet apply`), and times until the node's
// iptables rules DNAT to it. Goals: p99 < 1 s and within 1.2x of the store path.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { EndpointSlice, KubeObject, Service } from '../src/api/types.js';
import { applyManifest } from '../src/registry/apply.js';
import { openStore } from '../src/store/open.js';
import { getClusterNetwork, getObject, updateObject } from '../src/store/objects.js';
import type { Store } from '../src/store/store.js';
import { labDown, labUp, sweepLeftovers, testLabName } from '../test/helpers/lab.js';
import type { LabState } from '../src/lab/state.js';
import { percentile } from './lib/stats.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const NS = 'bench';
const run = promisify(execFile);

function service(i: number): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: NS },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
}

/** Endpoint `n` of the benchmark: addresses in a range no pod of the lab uses. */
function endpointIP(n: number): string {
  return `10.250.${(n >> 8) & 255}.${n & 255}`;
}

function slice(i: number, ip: string): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${i}-bench`,
      namespace: NS,
      labels: {
        'kubernetes.io/service-name': `svc-${i}`,
        'endpointslice.kubernetes.io/managed-by': 'bench',
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
  };
}

/** Whether the node's NAT rules send some service to `ip` (polled until they do). */
async function programmed(lab: LabState, ip: string): Promise<boolean> {
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', lab.hosts[0]!.netns, 'iptables-save', '-t', 'nat'],
    { maxBuffer: 64 << 20 },
  );
  return stdout.includes(`--to-destination ${ip}:8080`);
}

/** Milliseconds from `change()` being called until the node's rules DNAT to `ip`. */
async function latency(lab: LabState, ip: string, change: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await change();
  for (;;) {
    if (await programmed(lab, ip)) return performance.now() - start;
    if (performance.now() - start > 30_000) throw new Error(`${ip} not programmed in 30 s`);
  }
}

/** The admin's HTTPS client of a lab's API server (its kubeconfig holds the credentials). */
function apiClient(lab: LabState) {
  const config = parse(readFileSync(lab.apiServer!.kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const { server, 'certificate-authority-data': ca } = config.clusters[0]!.cluster;
  const user = config.users[0]!.user;
  const agent = new Agent({
    keepAlive: true,
    ca: Buffer.from(ca, 'base64'),
    cert: Buffer.from(user['client-certificate-data'], 'base64'),
    key: Buffer.from(user['client-key-data'], 'base64'),
  });
  return (method: string, path: string, body?: unknown) =>
    new Promise<KubeObject>((resolve, reject) => {
      const req = request(
        `${server}${path}`,
        { method, agent, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () =>
            (res.statusCode ?? 500) < 300
              ? resolve(JSON.parse(text) as KubeObject)
              : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

/** The 1,000 services and their slices, written into the lab's store before measuring. */
async function populate(store: Store): Promise<void> {
  const network = await getClusterNetwork(store);
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } };
  await applyManifest(store, [ns], network);
  for (let i = 0; i < SERVICES; i += 100) {
    const batch: KubeObject[] = [];
    for (let j = i; j < Math.min(SERVICES, i + 100); j++) {
      batch.push(service(j), slice(j, endpointIP(j)));
    }
    await applyManifest(store, batch, network);
  }
}

interface Path {
  lab: LabState;
  /** Moves service `i`'s endpoint to `ip`, through this path. */
  move(i: number, ip: string): Promise<void>;
  samples: number[];
}

async function main(): Promise<void> {
  sweepLeftovers();
  const names = [testLabName(), testLabName()];
  const labs: LabState[] = [];
  const stores: Store[] = [];
  try {
    labs.push(labUp(names[0]!, ['--nodes', '1', '--zones', '1']));
    labs.push(labUp(names[1]!, ['--nodes', '1', '--zones', '1', '--api', 'kubernetes']));
    for (const lab of labs) stores.push(await openStore(lab.storeUrl));
    await Promise.all(stores.map(populate));
    // Every service programmed on both nodes before the first sample.
    for (const lab of labs) {
      const deadline = performance.now() + 120_000;
      while (!(await programmed(lab, endpointIP(SERVICES - 1)))) {
        if (performance.now() > deadline) {
          throw new Error(`${lab.name}: ${SERVICES} services not programmed in 120 s`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const call = apiClient(labs[1]!);
    const store: Path = {
      lab: labs[0]!,
      samples: [],
      move: async (i, ip) => {
        await updateObject(stores[0]!, 'EndpointSlice', NS, `svc-${i}-bench`, (s) => ({
          ...s,
          endpoints: [{ addresses: [ip], conditions: { ready: true } }],
        }));
      },
    };
    const kube: Path = {
      lab: labs[1]!,
      samples: [],
      move: async (i, ip) => {
        const path = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/svc-${i}-bench`;
        const current = (await call('GET', path)) as EndpointSlice;
        await call('PUT', path, {
          ...current,
          endpoints: [{ addresses: [ip], conditions: { ready: true } }],
        });
      },
    };
    // Interleaved, so that load on the machine falls on both paths alike.
    for (let n = 0; n < SAMPLES; n++) {
      const i = (n * 37) % SERVICES;
      const ip = endpointIP(SERVICES + n + 1);
      for (const path of [store, kube]) {
        path.samples.push(await latency(path.lab, ip, () => path.move(i, ip)));
      }
    }
    if (!(await getObject(stores[1]!, 'EndpointSlice', NS, 'svc-0-bench'))) {
      throw new Error('the slices went missing from the Kubernetes lab');
    }
    const p = (s: number[], q: number) => percentile(s, q).toFixed(0);
    console.log(`${SERVICES} services present, ${SAMPLES} endpoint changes per path`);
    console.log('path                 p50 ms  p99 ms  max ms');
    for (const [label, path] of [
      ['podnet store', store],
      ['Kubernetes source', kube],
    ] as const) {
      console.log(
        `${label.padEnd(20)} ${p(path.samples, 50).padStart(6)}  ${p(path.samples, 99).padStart(6)}  ${p(path.samples, 100).padStart(6)}`,
      );
    }
    const kubeP99 = percentile(kube.samples, 99);
    const storeP99 = percentile(store.samples, 99);
    console.log(
      `BENCH kube-programming p99_ms=${kubeP99.toFixed(0)} anchor_p99_ms=${storeP99.toFixed(0)} ratio=${(kubeP99 / storeP99).toFixed(2)}`,
    );
  } finally {
    for (const s of stores) await s.close();
    for (const lab of labs) labDown(lab.name);
  }
}

await main();
