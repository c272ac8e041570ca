// Two hosts and their pods as network namespaces, wired like a small cluster: each pod has a
// veth to its host (ptp style: pod /32, gateway .1 on the host side), the hosts share a veth
// "underlay" 172.31.0.0/24 and route each other's pod subnet. Nothing touches the root
// namespace. Used by the proxy integration tests and benchmarks.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deleteNamespace, uniqueName } from './names.js';

export const CLUSTER = { clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16' };

export interface PodSpec {
  name: string;
  host: 0 | 1;
  /** Last octet of the pod IP in its host's /24 (10.244.<host+1>.<n>). */
  n: number;
  /** Extra addresses (last octets) the pod may use as sources. */
  extra?: number[];
}

export interface PodInfo {
  ns: string;
  ip: string;
  extra: string[];
}

export interface Topology {
  hosts: [string, string];
  hostIPs: [string, string];
  pods: Record<string, PodInfo>;
  /** Runs a program inside a namespace and returns stdout. */
  exec(ns: string, argv: string[], input?: string): string;
  /** Starts the echo responder in each named pod; resolves when all listen. */
  serve(names: string[], port: number): Promise<void>;
  /** Opens `count` new connections from a pod (or host) namespace. */
  connect(
    fromNs: string,
    ip: string,
    port: number,
    count: number,
    proto: 'tcp' | 'udp',
    sources?: string[],
  ): ConnectResult;
  /** Opens one long-lived TCP connection; resolves with the first backend that answered. */
  hold(
    fromNs: string,
    ip: string,
    port: number,
    seconds: number,
  ): Promise<{ first: string; done: Promise<{ answers: Record<string, number>; error?: string }> }>;
  destroy(): void;
}

export interface ConnectResult {
  counts: Record<string, number>;
  errors: Record<string, number>;
  bySource: Record<string, Record<string, number>>;
  ms: number[];
}

const ECHO = fileURLToPath(new URL('./echo-main.js', import.meta.url));

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function buildTopology(podSpecs: PodSpec[]): Topology {
  const created: string[] = [];
  const children: ChildProcess[] = [];
  const addNs = (suffix: string): string => {
    const ns = uniqueName(suffix);
    ip(['netns', 'add', ns]);
    created.push(ns);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  };
  const sysctl = (ns: string, key: string, value: string): void => {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`]);
  };
  const topo: Topology = {
    hosts: ['', ''],
    hostIPs: ['172.31.0.1', '172.31.0.2'],
    pods: {},
    exec: (ns, argv, input) =>
      execFileSync('ip', ['netns', 'exec', ns, ...argv], {
        encoding: 'utf8',
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    serve: async (names, port) => {
      await Promise.all(
        names.map(
          (name) =>
            new Promise<void>((resolve, reject) => {
              const child = spawn(
                'ip',
                [
                  'netns',
                  'exec',
                  topo.pods[name]!.ns,
                  process.execPath,
                  ECHO,
                  'serve',
                  name,
                  String(port),
                ],
                {
                  stdio: ['ignore', 'pipe', 'inherit'],
                },
              );
              children.push(child);
              child.once('error', reject);
              child.stdout!.once('data', () => resolve());
            }),
        ),
      );
    },
    connect: (fromNs, dst, port, count, proto, sources = []) => {
      const out = topo.exec(fromNs, [
        process.execPath,
        ECHO,
        'connect',
        dst,
        String(port),
        String(count),
        proto,
        ...sources,
      ]);
      return JSON.parse(out) as ConnectResult;
    },
    hold: (fromNs, dst, port, seconds) =>
      new Promise((resolve, reject) => {
        const child = spawn(
          'ip',
          [
            'netns',
            'exec',
            fromNs,
            process.execPath,
            ECHO,
            'hold',
            dst,
            String(port),
            String(seconds),
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        children.push(child);
        let out = '';
        let answered = false;
        let finish: (v: { answers: Record<string, number>; error?: string }) => void;
        const done = new Promise<{ answers: Record<string, number>; error?: string }>(
          (r) => (finish = r),
        );
        child.stdout!.on('data', (b: Buffer) => {
          out += b.toString();
          const lines = out.split('\n');
          if (!answered && lines.length > 1) {
            answered = true;
            resolve({ first: lines[0]!, done });
          }
        });
        child.on('exit', () => {
          const last = out.trim().split('\n').at(-1) ?? '';
          if (!answered) reject(new Error(`hold ${dst}:${port} got no answer`));
          else finish(JSON.parse(last) as { answers: Record<string, number>; error?: string });
        });
      }),
    destroy: () => {
      for (const c of children) c.kill('SIGKILL');
      for (const ns of created) deleteNamespace(ns);
    },
  };
  try {
    const hosts = [addNs('h0'), addNs('h1')] as [string, string];
    topo.hosts = hosts;
    ip([
      '-n',
      hosts[0],
      'link',
      'add',
      'u0',
      'type',
      'veth',
      'peer',
      'name',
      'u0',
      'netns',
      hosts[1],
    ]);
    hosts.forEach((h, i) => {
      sysctl(h, 'net.ipv4.ip_forward', '1');
      ip(['-n', h, 'addr', 'add', `${topo.hostIPs[i]}/24`, 'dev', 'u0']);
      ip(['-n', h, 'link', 'set', 'u0', 'up']);
      const other = 1 - i;
      ip(['-n', h, 'route', 'add', `10.244.${other + 1}.0/24`, 'via', topo.hostIPs[other]!]);
      // Like a real host's default route: service IPs are routable before any DNAT, so the
      // FORWARD chain sees them (and iptables can refuse a service without endpoints).
      ip(['-n', h, 'route', 'add', 'default', 'dev', 'u0']);
    });
    for (const spec of podSpecs) {
      const host = hosts[spec.host];
      const ns = addNs(spec.name);
      const subnet = `10.244.${spec.host + 1}`;
      const podIP = `${subnet}.${spec.n}`;
      const extra = (spec.extra ?? []).map((n) => `${subnet}.${n}`);
      const hostIf = `v${spec.name}`.slice(0, 15);
      ip(['-n', host, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', host, 'addr', 'add', `${subnet}.1/32`, 'dev', hostIf]);
      ip(['-n', host, 'link', 'set', hostIf, 'up']);
      for (const a of [podIP, ...extra]) {
        ip(['-n', ns, 'addr', 'add', `${a}/32`, 'dev', 'eth0']);
        ip(['-n', host, 'route', 'add', `${a}/32`, 'dev', hostIf]);
      }
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'route', 'add', `${subnet}.1`, 'dev', 'eth0']);
      ip(['-n', ns, 'route', 'add', 'default', 'via', `${subnet}.1`, 'src', podIP]);
      topo.pods[spec.name] = { ns, ip: podIP, extra };
    }
  } catch (err) {
    topo.destroy();
    throw err;
  }
  return topo;
}

/** Chi-square statistic of observed counts against a uniform split. */
export function chiSquareUniform(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
}

/** Critical chi-square values at p = 0.001 by degrees of freedom. */
export const CHI2_P001: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266 };

/**
 * `total` requests over `pods`: every one answered by one of them, each pod 20-47 % of them,
 * and a chi-square test against a uniform split at p = 0.001. Returns a line for the log.
 */
export function assertEvenSpread(
  counts: Record<string, number>,
  pods: string[],
  total: number,
): string {
  const n = pods.map((p) => counts[p] ?? 0);
  assert.equal(
    n.reduce((a, b) => a + b, 0),
    total,
    `every request answered by one of ${pods.join(', ')}: ${JSON.stringify(counts)}`,
  );
  for (const c of n) assert.ok(c >= 0.2 * total && c <= 0.47 * total, `each 20-47 %: ${n}`);
  const chi2 = chiSquareUniform(n);
  const bound = CHI2_P001[pods.length - 1]!;
  assert.ok(chi2 < bound, `chi-square ${chi2.toFixed(2)} >= ${bound}: ${n}`);
  return `counts ${n.join('/')} chi-square ${chi2.toFixed(2)}`;
}
