// The chaos run's lab: an echo pod and a client pod on every host, a service over the echo pods,
// each client requesting it by DNS name at a fixed rate (chaos-client.ts), and the faults the
// run injects into it one after another. Shared by the short run in the integration tests and
// bench/chaos.ts.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CLUSTER_NETWORK, type EndpointSlice, type Pod } from '../../src/api/types.js';
import { findPodRecord } from '../../src/lab/pods.js';
import type { LabState } from '../../src/lab/state.js';
import { findProcess } from '../../src/lab/supervisor.js';
import { openStore } from '../../src/store/open.js';
import { listObjects } from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import type { ChaosRequest } from './chaos-client.js';
import { faultFigures, type FaultFigures, type FaultWindow } from './chaos-figures.js';
import { labDown, labUp, PODNET, podnet, podnetOk, testLabName } from './lab.js';
import { waitFor } from './wait.js';

const execFileAsync = promisify(execFile);
const CLIENT = fileURLToPath(new URL('./chaos-client.js', import.meta.url));
export const SERVICE_NAME = 'chaos-echo.default.svc.cluster.local.';
const DNS_NAMESPACE = 'kube-system';
/** Traffic watched after each fault is cleared. */
const RECOVERY_WINDOW_MS = 3000;

export interface DnsFault extends FaultFigures {
  endpointGoneMs: number;
  conntrackGoneMs: number;
}

/** A host's stream of UDP conntrack DESTROY events for the cluster DNS address. */
interface ConntrackDestroys {
  /** When (epoch ms) the last entry translated to `ip` went, heard so far; undefined if none. */
  lastAt(ip: string): Promise<number | undefined>;
  stop(): void;
}

/**
 * Listens in `netns` for destroyed UDP conntrack entries to the cluster DNS address, each
 * stamped by conntrack as it arrives; resolves once conntrack listens.
 */
async function listenForDestroys(netns: string): Promise<ConntrackDestroys> {
  const argv = ['netns', 'exec', netns, 'conntrack', '-E', '-e', 'DESTROY', '-o', 'timestamp'];
  argv.push('-p', 'udp', '--orig-dst', DEFAULT_CLUSTER_NETWORK.dnsIP);
  const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
  // conntrack prints nothing when it starts listening; it is given a moment to subscribe.
  await new Promise((r) => setTimeout(r, 200));
  return {
    async lastAt(ip: string): Promise<number | undefined> {
      // Events already sent may still be in the pipe.
      await new Promise((r) => setTimeout(r, 50));
      let last: number | undefined;
      for (const line of text.split('\n')) {
        // `[1796660220.043453] [DESTROY] udp 17 src=C dst=DNS sport=... src=POD dst=C ...`
        const m =
          /^\[(\d+\.\d+)\]\s+\[DESTROY\].*? src=\S+ dst=\S+ sport=\d+ dport=\d+ .*?src=(\S+) /.exec(
            line,
          );
        if (m?.[2] === ip) last = Math.max(last ?? 0, Math.round(Number(m[1]) * 1000));
      }
      return last;
    },
    stop: () => child.kill(),
  };
}

export function chaosManifest(hosts: readonly string[]): string {
  const docs = [
    [
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: chaos-echo, namespace: default}',
      'spec:',
      '  selector: {app: chaos-echo}',
      '  ports: [{port: 8080, targetPort: 8080, protocol: TCP}]',
    ],
  ];
  hosts.forEach((node, i) => {
    const pod = (name: string, labels: string, command: string): string[] => [
      'apiVersion: v1',
      'kind: Pod',
      `metadata: {name: ${name}, namespace: default, labels: {${labels}}}`,
      'spec:',
      `  nodeName: ${node}`,
      `  containers: [{name: main, command: ${command}}]`,
    ];
    docs.push(
      pod(`chaos-echo-${i + 1}`, 'app: chaos-echo', "[podnet, serve-echo, --port, '8080']"),
    );
    docs.push(pod(`chaos-client-${i + 1}`, 'app: chaos-client', '[sleep, infinity]'));
  });
  return docs.map((d) => `${d.join('\n')}\n`).join('---\n');
}

export class ChaosLab {
  readonly name = testLabName();
  lab!: LabState;
  /** What each client (by host) recorded so far. */
  readonly requests = new Map<string, ChaosRequest[]>();
  private readonly clients: ChildProcess[] = [];
  /** The lab's store, opened once for polling. */
  private store: Store | undefined;

  constructor(
    readonly hosts: number,
    readonly flags: string[] = [],
  ) {}

  async up(): Promise<void> {
    this.lab = labUp(this.name, ['--nodes', String(this.hosts), '--zones', '2', ...this.flags]);
    podnetOk(['--lab', this.name, 'apply', '-f', '-'], {
      input: chaosManifest(this.lab.hosts.map((h) => h.name)),
    });
    await waitFor('the chaos pods to run', () => this.allRunning(), 120_000, 200);
  }

  async down(): Promise<void> {
    this.stopTraffic();
    await this.store?.close();
    labDown(this.name);
  }

  private allRunning(): boolean {
    const r = podnet(['--lab', this.name, 'get', 'pods', '-A', '-o', 'json']);
    if (r.status !== 0) return false;
    const pods = (JSON.parse(r.stdout) as { items: Pod[] }).items;
    const ready = (p: Pod): boolean =>
      p.status?.phase === 'Running' &&
      (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    return pods.length >= 2 * this.hosts && pods.every(ready);
  }

  /** Starts a client in every host's client pod; resolves once each has had an answer. */
  async startTraffic(perSecond: number): Promise<void> {
    this.lab.hosts.forEach((h, i) => {
      const records: ChaosRequest[] = [];
      this.requests.set(h.name, records);
      const argv = ['lab', 'exec', '--name', this.name, `chaos-client-${i + 1}`, '--'];
      // Its own process group, so that stopping it takes the client in the pod with it.
      const child = spawn(
        PODNET,
        [...argv, process.execPath, CLIENT, SERVICE_NAME, '8080', String(perSecond)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          detached: true,
          env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
        },
      );
      let partial = '';
      child.stdout!.on('data', (b: Buffer) => {
        const lines = (partial + b.toString()).split('\n');
        partial = lines.pop()!;
        for (const line of lines) records.push(JSON.parse(line) as ChaosRequest);
      });
      this.clients.push(child);
    });
    await waitFor(
      'every client to get answers',
      () => [...this.requests.values()].every((rs) => rs.some((r) => r.ok)),
      30_000,
      100,
    );
  }

  stopTraffic(): void {
    for (const c of this.clients.splice(0)) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** Waits until every request started before `at` has ended (answered, failed or timed out). */
  async settled(at: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'the requests in flight to end',
      () =>
        [...this.requests.values()].every((rs) => rs.some((r) => r.start > at)) ? true : undefined,
      timeoutMs,
      100,
    );
  }

  /** SIGKILLs the agent of `host`, then `lab repair` starts it again; resolves once it is ready. */
  async killAgent(host: string): Promise<void> {
    const proc = findProcess(this.lab.stateDir, `agent-${host}`)!;
    process.kill(proc.pid, 'SIGKILL');
    await waitFor('the agent to exit', () => !existsSync(`/proc/${proc.pid}`), 10_000);
    podnetOk(['lab', 'repair', '--name', this.name]);
    const h = this.host(host);
    // A bound, not a wait: a restart takes ~1 s, but over 30 s on a machine at load 70.
    await waitFor('the restarted agent to be ready', () => agentReady(h.netns), 90_000, 50);
  }

  /**
   * SIGKILLs the program of a DNS pod (not the shim that records its exit, as a runtime's
   * shim outlives its container).
   */
  killDnsPod(pod: string): void {
    const record = findPodRecord(this.lab.stateDir, DNS_NAMESPACE, pod)!;
    const pids = execFileSync('ip', ['netns', 'pids', record.netns], { encoding: 'utf8' })
      .split('\n')
      .filter((pid) => pid && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sh');
    for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
  }

  /** The address of a DNS pod. */
  dnsPodIP(pod: string): string {
    return findPodRecord(this.lab.stateDir, DNS_NAMESPACE, pod)!.podIP!;
  }

  /** Whether `ip` is a ready endpoint of the cluster DNS in the store. */
  async dnsEndpointReady(ip: string): Promise<boolean> {
    this.store ??= await openStore(this.lab.storeUrl);
    const { items } = await listObjects(this.store, 'EndpointSlice', DNS_NAMESPACE);
    return items.some((s: EndpointSlice) =>
      s.endpoints.some((e) => e.addresses.includes(ip) && e.conditions?.ready !== false),
    );
  }

  /**
   * When the UDP conntrack entries of the DNS service translated to `ip` were gone from host
   * namespace `netns` (ms since `from`): the ones that would keep sending a client's queries
   * there. (The pod's own host also tracks the already translated packets passing through to
   * it; those steer nothing.) Polling only confirms they are gone; the time is that of the
   * last one's DESTROY event, as `destroyed` heard it, so that the poll's own pace (a process
   * per look) does not count. Infinity when they are still there after 10 s.
   */
  private async conntrackGoneOn(
    netns: string,
    ip: string,
    from: number,
    destroyed: ConntrackDestroys,
  ): Promise<number> {
    const argv = ['netns', 'exec', netns, 'conntrack', '-L', '-p', 'udp'];
    argv.push('--orig-dst', DEFAULT_CLUSTER_NETWORK.dnsIP, '--reply-src', ip);
    for (;;) {
      const { stdout } = await execFileAsync('ip', argv, { encoding: 'utf8' });
      const entries = stdout.split('\n').filter((l) => l.startsWith('udp'));
      if (entries.length === 0) {
        const polled = Date.now();
        const last = await destroyed.lastAt(ip);
        return (last ?? polled) - from;
      }
      // Still there after 10 s: they stay until they time out, reported as never gone.
      if (Date.now() - from > 10_000) return Number.POSITIVE_INFINITY;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Takes the underlay side of `host`'s link down (the host sees its carrier lost) or up. */
  setUnderlayLink(host: string, up: boolean): void {
    const index = this.lab.hosts.findIndex((h) => h.name === host) + 1;
    execFileSync('ip', [
      '-n',
      this.lab.underlay.netns,
      'link',
      'set',
      `h${index}`,
      up ? 'up' : 'down',
    ]);
  }

  /** Traffic after a fault for the recovery window, once every request in it has ended. */
  async windowFrom(from: number, clearedAt: number): Promise<FaultWindow> {
    await new Promise((r) => setTimeout(r, RECOVERY_WINDOW_MS));
    const to = Date.now();
    await this.settled(to);
    return { from, to, clearedAt };
  }

  /** The agent of `host` SIGKILLed and started again by `lab repair`. */
  async agentKilled(host: string): Promise<FaultFigures> {
    const from = Date.now();
    await this.killAgent(host);
    return faultFigures(this.requests, await this.windowFrom(from, Date.now()));
  }

  /**
   * A DNS pod SIGKILLed: the figures, and how long until its endpoint left the store and the
   * UDP conntrack entries to it left every host.
   */
  async dnsPodKilled(pod: string): Promise<DnsFault> {
    const ip = this.dnsPodIP(pod);
    const listeners = await Promise.all(this.lab.hosts.map((h) => listenForDestroys(h.netns)));
    // Connected before the kill: on etcd over TLS a first connection alone takes ~0.5 s.
    await this.dnsEndpointReady(ip);
    try {
      const from = Date.now();
      this.killDnsPod(pod);
      while (await this.dnsEndpointReady(ip)) {
        if (Date.now() - from > 10_000) throw new Error(`the killed ${pod} stays a ready endpoint`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const endpointGoneMs = Date.now() - from;
      // Right away: once the runner has restarted the pod and it is ready again, new entries to
      // it are rightly made.
      const conntrackGoneMs = Math.max(
        ...(await Promise.all(
          this.lab.hosts.map((h, i) => this.conntrackGoneOn(h.netns, ip, from, listeners[i]!)),
        )),
      );
      const figures = faultFigures(this.requests, await this.windowFrom(from, from));
      return { ...figures, endpointGoneMs, conntrackGoneMs };
    } finally {
      for (const l of listeners) l.stop();
    }
  }

  /** `host`'s underlay link down for `ms`: figures for that host's client and for the others. */
  async linkDown(host: string, ms: number): Promise<{ own: FaultFigures; others: FaultFigures }> {
    const from = Date.now();
    this.setUnderlayLink(host, false);
    await new Promise((r) => setTimeout(r, ms));
    this.setUnderlayLink(host, true);
    const w = await this.windowFrom(from, Date.now());
    const own = new Map([[host, this.requests.get(host)!]]);
    const others = new Map([...this.requests].filter(([h]) => h !== host));
    return { own: faultFigures(own, w), others: faultFigures(others, w) };
  }

  host(name: string): LabState['hosts'][number] {
    return this.lab.hosts.find((h) => h.name === name)!;
  }
}

function agentReady(netns: string): boolean {
  try {
    execFileSync(
      'ip',
      ['netns', 'exec', netns, 'curl', '-sf', '-m', '1', 'http://127.0.0.1:9101/readyz'],
      { stdio: 'ignore' },
    );
    return true;
  } catch {
    return false;
  }
}
