// A small multi-host network for routing tests, all in namespaces this test owns: an underlay
// namespace with one bridge per zone that also routes between zones (zone z: 172.31.z.0/24,
// router .254), host namespaces with eth0 on their zone's bridge, and pod namespaces wired to
// their host the way a ptp CNI plugin does (pod /32, host-side /32 route, gateway .1 onlink).
import { exec as execCb, execFileSync, spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import type { Node } from '../../src/api/types.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from './names.js';
import { makeNode } from './routing-nodes.js';

const execAsync = promisify(execCb);

export interface TestPod {
  ns: string;
  ip: string;
}

export interface TestHost {
  name: string;
  ns: string;
  zone: number;
  ip: string;
  podCIDR: string;
  vtepMac: string;
  pods: TestPod[];
}

export interface Topology {
  underlay: string;
  hosts: TestHost[];
  nodes(): Node[];
  destroy(): void;
}

/** Runs a shell command line; throws with its stderr when it fails. */
export function sh(cmd: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Like sh, without blocking the event loop (reconcile loops keep running meanwhile). */
export async function shAsync(cmd: string, timeoutMs = 60_000): Promise<string> {
  const { stdout } = await execAsync(cmd, { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout;
}

export function buildTopology(
  zones: number[],
  opts: { podsPerHost?: number; podMTU?: number } = {},
): Topology {
  const podsPerHost = opts.podsPerHost ?? 1;
  const created: string[] = [];
  const netns = (suffix: string): string => {
    const name = uniqueName(suffix);
    sh(`ip netns add ${name}`);
    created.push(name);
    return name;
  };
  const destroy = (): void => {
    for (const name of created.reverse()) deleteNamespace(name);
  };
  try {
    const underlay = netns('u');
    sh(`ip netns exec ${underlay} sysctl -qw net.ipv4.ip_forward=1`);
    sh(`ip -n ${underlay} link set lo up`);
    for (const z of new Set(zones)) {
      sh(`ip -n ${underlay} link add br${z} type bridge`);
      sh(`ip -n ${underlay} addr add 172.31.${z}.254/24 dev br${z}`);
      sh(`ip -n ${underlay} link set br${z} up`);
    }
    const hosts = zones.map((zone, i): TestHost => {
      const n = i + 1;
      const ns = netns(`h${n}`);
      const ip = `172.31.${zone}.${10 + n}`;
      sh(`ip -n ${underlay} link add h${n} type veth peer name eth0 netns ${ns}`);
      sh(`ip -n ${underlay} link set h${n} master br${zone} up`);
      sh(`ip -n ${ns} link set lo up`);
      sh(`ip -n ${ns} addr add ${ip}/24 dev eth0`);
      sh(`ip -n ${ns} link set eth0 up`);
      sh(`ip -n ${ns} route add default via 172.31.${zone}.254`);
      const host: TestHost = {
        name: `node-${n}`,
        ns,
        zone,
        ip,
        podCIDR: `10.244.${n}.0/24`,
        vtepMac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
        pods: [],
      };
      for (let k = 0; k < podsPerHost; k++)
        host.pods.push(addPod(host, k, netns, opts.podMTU ?? 1450));
      return host;
    });
    return {
      underlay,
      hosts,
      nodes: () =>
        hosts.map((h) =>
          makeNode(h.name, h.podCIDR, h.ip, { zone: `zone-${h.zone}`, mac: h.vtepMac }),
        ),
      destroy,
    };
  } catch (err) {
    destroy();
    throw err;
  }
}

/**
 * buildTopology for one test file: sweeps what killed runs left before its tests, and destroys
 * every topology it built after them, whether they passed or not.
 */
export function topologyBuilder(): typeof buildTopology {
  const built: Topology[] = [];
  before(() => {
    sweepStaleNamespaces();
  });
  after(() => {
    for (const t of built) t.destroy();
  });
  return (zones, opts) => {
    const t = buildTopology(zones, opts);
    built.push(t);
    return t;
  };
}

function addPod(host: TestHost, k: number, netns: (s: string) => string, mtu: number): TestPod {
  const n = host.podCIDR.split('.')[2];
  const ns = netns(`p${n}${k}`);
  const ip = `10.244.${n}.${k + 2}`;
  const gw = `10.244.${n}.1`;
  sh(`ip -n ${host.ns} link add p${k} mtu ${mtu} type veth peer name eth0 netns ${ns}`);
  sh(`ip -n ${host.ns} addr add ${gw}/32 dev p${k}`);
  sh(`ip -n ${host.ns} link set p${k} up`);
  // proto 80, as the CNI plugin makes it: routing must leave it alone.
  sh(`ip -n ${host.ns} route add ${ip}/32 dev p${k} proto 80`);
  sh(`ip -n ${ns} link set lo up`);
  sh(`ip -n ${ns} addr add ${ip}/32 dev eth0`);
  sh(`ip -n ${ns} link set eth0 mtu ${mtu} up`);
  sh(`ip -n ${ns} route add default via ${gw} dev eth0 onlink`);
  return { ns, ip };
}

/** True when one ping from `from` (a namespace) reaches `ip`. */
export async function pings(from: string, ip: string, size = 56): Promise<boolean> {
  try {
    await shAsync(`ip netns exec ${from} ping -c1 -W2 -s ${size} -M do ${ip}`);
    return true;
  } catch {
    return false;
  }
}

/** Every pod pinging every other pod: returns the pairs that failed ("from -> to"). */
export async function unreachablePairs(hosts: TestHost[], size = 56): Promise<string[]> {
  const pods = hosts.flatMap((h) => h.pods);
  const failed: string[] = [];
  for (const a of pods) {
    for (const b of pods) {
      if (a !== b && !(await pings(a.ns, b.ip, size))) failed.push(`${a.ip} -> ${b.ip}`);
    }
  }
  return failed;
}

/** Polls `check` until it returns true or `ms` pass; returns whether it did. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  ms: number,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `ip route show proto 80` of a namespace, as "dst via gateway dev". */
export function podnetRoutes(ns: string): string[] {
  const routes = JSON.parse(sh(`ip -n ${ns} -j route show proto 80`) || '[]') as {
    dst: string;
    gateway?: string;
    dev: string;
  }[];
  // Routing's routes have a gateway; the pods' host routes (also proto 80) have none.
  return routes.filter((r) => r.gateway).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`);
}

/**
 * One TCP connection from pod `from` to pod `to` on a random port, each end a `node -e` script
 * given the port: the receiver starts first (the sender gets half a second to find it
 * listening); resolves with what the receiver printed.
 */
async function tcpExchange(
  from: TestPod,
  to: TestPod,
  receiver: (port: number) => string,
  sender: (port: number) => string,
  fixedPort?: number,
): Promise<string> {
  const port = fixedPort ?? 20000 + Math.floor(Math.random() * 20000);
  const received = shAsync(`ip netns exec ${to.ns} node -e "${receiver(port)}"`);
  await new Promise((r) => setTimeout(r, 500));
  await shAsync(`ip netns exec ${from.ns} node -e "${sender(port)}"`);
  return received;
}

/**
 * Sends `bytes` over one TCP connection from pod `from` to pod `to` (node's net module in each
 * namespace) and returns how many bytes the receiver counted.
 */
export async function tcpTransfer(from: TestPod, to: TestPod, bytes: number): Promise<number> {
  const received = await tcpExchange(
    from,
    to,
    (port) =>
      `let n=0;const s=require('net').createServer(c=>{c.on('data',d=>n+=d.length);c.on('end',()=>{console.log(n);s.close()})}).listen(${port});setTimeout(()=>process.exit(3),30000).unref()`,
    (port) =>
      `const c=require('net').connect(${port},'${to.ip}',()=>{c.end(Buffer.alloc(${bytes},7))});c.on('error',e=>{console.error(e.message);process.exit(1)})`,
  );
  return Number(received.trim());
}

/**
 * Keeps one TCP connection from pod `from` to pod `to` busy for `seconds` (1 KB every 10 ms)
 * and resolves with the bytes received and the longest silence the receiver saw. With
 * `service`, the connection goes to that service's address and port, whose target port `to`
 * listens on.
 */
export async function tcpStream(
  from: TestPod,
  to: TestPod,
  seconds: number,
  service?: { ip: string; port: number; targetPort: number },
): Promise<{ bytes: number; maxGapMs: number }> {
  const received = await tcpExchange(
    from,
    to,
    (port) =>
      `let n=0,last=0,gap=0;const s=require('net').createServer(c=>{last=Date.now();c.on('data',d=>{const t=Date.now();gap=Math.max(gap,t-last);last=t;n+=d.length});c.on('end',()=>{console.log(JSON.stringify({bytes:n,maxGapMs:gap}));s.close()})}).listen(${port});setTimeout(()=>process.exit(3),${(seconds + 30) * 1000}).unref()`,
    (port) =>
      `const c=require('net').connect(${service?.port ?? port},'${service?.ip ?? to.ip}',()=>{const t=setInterval(()=>c.write(Buffer.alloc(1024,1)),10);setTimeout(()=>{clearInterval(t);c.end()},${seconds * 1000})});c.on('error',e=>{console.error(e.message);process.exit(1)})`,
    service?.targetPort,
  );
  return JSON.parse(received) as { bytes: number; maxGapMs: number };
}

/**
 * Watches a host's podnet kernel objects (routes with proto 80, anything on pn-vxlan, FDB
 * entries) with `ip monitor`/`bridge monitor`; stop() returns the events seen.
 */
export function watchKernel(ns: string): { stop(): Promise<string[]> } {
  const procs = [
    spawn('ip', ['-n', ns, 'monitor', 'route', 'neigh', 'link', 'address'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
    spawn('bridge', ['-n', ns, 'monitor', 'fdb'], { stdio: ['ignore', 'pipe', 'ignore'] }),
  ];
  const lines: string[] = [];
  for (const p of procs) {
    p.stdout.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  }
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300));
      for (const p of procs) p.kill();
      // The kernel gives a new tunnel device an IPv6 link-local address on its own, some time
      // after it comes up, and makes and ages out multicast neighbours (ff02::2 for its router
      // solicitations) on it: that is not podnet changing anything.
      return lines.filter(
        (l) =>
          /proto 80|pn-vxlan|pn-ipip|self permanent/.test(l) &&
          !/inet6 fe80:|fe80:\S* dev \S+ table local proto kernel|^(Deleted )?ff02:\S* dev /.test(
            l,
          ),
      );
    },
  };
}
