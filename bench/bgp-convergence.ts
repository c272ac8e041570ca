// How fast a joining host becomes reachable: in an 11-host lab (2 zones), the time from a
// host joining until every other host has the route to its pod subnet in its kernel, for the
// store path (`--routing store`, the anchor) and the BGP path (`--routing bgp`), same run.
//
// A join, the same for both paths: the last host's agent is stopped and its Node object deleted
// (as `podnet delete node` does, subnet lease freed), and we wait until no other host routes to
// its pod subnet any more; then its agent is started again from the lab's own record of it.
// The figure runs from the moment its Node object appears in the store (the join becoming
// visible; seen by a watch polling every 5 ms) to the last of the other hosts installing the
// route, as timestamped by one `ip -ts monitor route` per host, started before the first join
// (no polling). The time from the agent's start is printed beside it.
// Percentiles are nearest-rank: with the default 20 joins, p99 is the slowest join.
// BGP_CONVERGENCE_JOINS, BGP_CONVERGENCE_NODES change the run; BGP_CONVERGENCE_KEEP_LOGS=1
// copies the agents' logs to /tmp (they are always kept when a join fails).
// Goal: < 1 s p99 for both.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { Node } from '../src/api/types.js';
import { releaseNodeSubnets } from '../src/ipam/subnet-lease.js';
import type { LabState } from '../src/lab/state.js';
import { findProcess, startProcess, stopProcesses } from '../src/lab/supervisor.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { deleteObject } from '../src/store/objects.js';
import { startInformer } from '../src/store/informer.js';
import { labDown, labUp, sweepStaleLabs, testLabName } from '../test/helpers/lab.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';

const NODES = Number(process.env.BGP_CONVERGENCE_NODES ?? 11);
const JOINS = Number(process.env.BGP_CONVERGENCE_JOINS ?? 20);
const JOIN_TIMEOUT_MS = 60_000;

interface RouteEvent {
  netns: string;
  /** Wall-clock ms, from ip's own timestamp of the netlink message. */
  at: number;
  deleted: boolean;
  prefix: string;
}

/** One long-running `ip -ts monitor route` per namespace; events go to every listener. */
class RouteMonitors {
  private readonly procs: ChildProcess[] = [];
  private readonly listeners = new Set<(e: RouteEvent) => void>();
  /** Every event since the last clear(): a route may go in before we know the prefix. */
  private events: RouteEvent[] = [];

  async start(namespaces: string[]): Promise<void> {
    const ready: Promise<void>[] = [];
    for (const netns of namespaces) {
      // TZ=UTC: -ts prints local time without a zone.
      const p = spawn('ip', ['-n', netns, '-ts', 'monitor', 'route'], {
        env: { ...process.env, TZ: 'UTC' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      this.procs.push(p);
      ready.push(new Promise((resolve) => p.once('spawn', () => resolve())));
      createInterface({ input: p.stdout! }).on('line', (line) => {
        const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\] (Deleted )?(\S+) /.exec(line);
        if (!m || !line.includes(' proto 80')) return;
        const at = Date.parse(`${m[1]}Z`) + Number(m[2]) / 1000;
        const ev = { netns, at, deleted: Boolean(m[3]), prefix: m[4]! };
        this.events.push(ev);
        for (const l of this.listeners) l(ev);
      });
    }
    await Promise.all(ready);
    // ip has opened its netlink socket shortly after it started; give it that moment.
    await new Promise((r) => setTimeout(r, 300));
  }

  clear(): void {
    this.events = [];
  }

  /**
   * Resolves with the time each of `namespaces` installed `prefix` (first add after `since`),
   * counting what arrived since the last clear().
   */
  installed(namespaces: string[], prefix: string, since: number): Promise<Map<string, number>> {
    return new Promise((resolve, reject) => {
      const seen = new Map<string, number>();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const missing = namespaces.filter((n) => !seen.has(n));
        reject(new Error(`${prefix} not installed after ${JOIN_TIMEOUT_MS} ms in ${missing}`));
      }, JOIN_TIMEOUT_MS);
      const listener = (e: RouteEvent): void => {
        if (e.deleted || e.prefix !== prefix || e.at < since || seen.has(e.netns)) return;
        seen.set(e.netns, e.at);
        if (seen.size === namespaces.length) {
          clearTimeout(timer);
          this.listeners.delete(listener);
          resolve(seen);
        }
      };
      this.listeners.add(listener);
      for (const e of this.events) listener(e);
    });
  }

  stop(): void {
    for (const p of this.procs) p.kill('SIGTERM');
  }
}

function routesTo(netns: string, prefix: string): boolean {
  const out = execFileSync('ip', ['-n', netns, 'route', 'show', 'proto', '80', 'exact', prefix], {
    encoding: 'utf8',
  });
  return out.trim() !== '';
}

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>) {
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Join {
  /** Node visible in the store → last other host installed the route. */
  fromVisible: number;
  /** Agent started → last other host installed the route. */
  fromStart: number;
  /** Node visible → first other host installed the route. */
  firstFromVisible: number;
}

/** One lab, `joins` joins of its last host (plus one not counted, to warm up). */
async function measure(routing: 'store' | 'bgp', name: string): Promise<Join[]> {
  const t0 = Date.now();
  const lab: LabState = labUp(name, [
    '--nodes',
    String(NODES),
    '--zones',
    '2',
    '--routing',
    routing,
  ]);
  process.stderr.write(`lab ${name} (--routing ${routing}) up in ${Date.now() - t0} ms\n`);
  const joiner = lab.hosts[lab.hosts.length - 1]!;
  const others = lab.hosts.slice(0, -1).map((h) => h.netns);
  const agentId = `agent-${joiner.name}`;
  const monitors = new RouteMonitors();
  // The lab's store, watched more often than the agents' 20 ms so the join is seen promptly.
  const store = new SqliteStore(lab.hostStoreUrl.slice('sqlite:'.length), { pollMs: 5 });
  const appeared: ((node: Node, at: number) => void)[] = [];
  const nodes = startInformer(store, 'Node', {
    onChange: (c) => {
      if (c.type === 'added' && c.name === joiner.name) {
        const at = Date.now();
        for (const f of appeared.splice(0)) f(c.object, at);
      }
    },
  });
  const joins: Join[] = [];
  try {
    await nodes.synced;
    await monitors.start(others);
    for (let k = 0; k <= JOINS; k++) {
      // Leave: the agent stops, its Node goes; every other host drops the route.
      const record = findProcess(lab.stateDir, agentId);
      if (!record) throw new Error(`no process record ${agentId}`);
      await stopProcesses(lab.stateDir, [record]);
      const prefix = nodes.cache.get(joiner.name)?.spec.podCIDR;
      if (!prefix) throw new Error(`${joiner.name} has no pod subnet`);
      await deleteObject(store, 'Node', undefined, joiner.name);
      await releaseNodeSubnets(store, joiner.name);
      await until(`every host to drop ${prefix}`, () =>
        others.some((ns) => routesTo(ns, prefix)) ? undefined : true,
      ).catch((err: unknown) => {
        const still = others.filter((ns) => routesTo(ns, prefix));
        throw new Error(`${String(err)} (still routed by ${still.join(', ')})`);
      });

      // Join: the same agent again, as the lab started it.
      const visible = new Promise<{ node: Node; at: number }>((resolve) =>
        appeared.push((node, at) => resolve({ node, at })),
      );
      monitors.clear();
      const started = Date.now();
      await startProcess(lab.stateDir, {
        id: agentId,
        argv: record.argv,
        ...(record.netns ? { netns: record.netns } : {}),
      });
      const { node, at: seenAt } = await visible;
      const subnet = node.spec.podCIDR!;
      const installed = await monitors.installed(others, subnet, started);
      const times = [...installed.values()];
      const last = Math.max(...times);
      const join = {
        fromVisible: last - seenAt,
        fromStart: last - started,
        firstFromVisible: Math.min(...times) - seenAt,
      };
      if (k > 0) joins.push(join);
      process.stderr.write(
        `${routing} join ${k}${k === 0 ? ' (warm-up)' : ''}: ${subnet} on all ${others.length} ` +
          `hosts ${join.fromVisible.toFixed(0)} ms after the Node appeared ` +
          `(${join.fromStart.toFixed(0)} ms after the agent started)\n`,
      );
      // The next leave starts from a settled cluster: the joined agent is Ready again.
      await until(`${joiner.name} Ready`, () =>
        nodes.cache.get(joiner.name)?.status?.conditions?.find((c) => c.type === 'Ready')
          ?.status === 'True'
          ? true
          : undefined,
      );
    }
    keepLogs(lab, process.env.BGP_CONVERGENCE_KEEP_LOGS === '1');
    return joins;
  } catch (err) {
    keepLogs(lab, true);
    throw err;
  } finally {
    monitors.stop();
    await nodes.stop();
    await store.close();
    labDown(name);
  }
}

/** The agents' logs say why a join was slow or failed; they would go with the lab. */
function keepLogs(lab: LabState, keep: boolean): void {
  if (!keep) return;
  const kept = `/tmp/bgp-convergence-${lab.name}-logs`;
  cpSync(join(lab.stateDir, 'logs'), kept, { recursive: true });
  process.stderr.write(`lab logs kept in ${kept}\n`);
}

/** Nearest-rank percentile (with 20 samples p99 is the maximum). */
function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  sweepStaleLabs();
  sweepStaleNamespaces();
  const labs: string[] = [];
  // A ^C still takes the labs down (the finally blocks do not run on a signal).
  const onSignal = (): void => {
    for (const name of labs) {
      try {
        labDown(name);
      } catch {
        /* reported by lab down itself */
      }
    }
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: Record<'store' | 'bgp', Join[]> = { store: [], bgp: [] };
  for (const routing of ['store', 'bgp'] as const) {
    const name = testLabName();
    labs.push(name);
    results[routing] = await measure(routing, name);
    labs.pop();
  }

  const row = (label: string, v: number[]): string =>
    `${label.padEnd(34)}${[50, 90, 99]
      .map((p) => pct(v, p).toFixed(0).padStart(7))
      .join('')}${Math.max(...v)
      .toFixed(0)
      .padStart(7)}`;
  console.log(
    `${NODES} hosts, 2 zones; ${JOINS} joins of one host per path; ms until all ${NODES - 1} others route to it`,
  );
  console.log(`${''.padEnd(34)}    p50    p90    p99    max`);
  for (const routing of ['store', 'bgp'] as const) {
    const j = results[routing];
    console.log(
      row(
        `${routing}: Node visible → last host`,
        j.map((x) => x.fromVisible),
      ),
    );
    console.log(
      row(
        `${routing}: Node visible → first host`,
        j.map((x) => x.firstFromVisible),
      ),
    );
    console.log(
      row(
        `${routing}: agent start → last host`,
        j.map((x) => x.fromStart),
      ),
    );
  }
  console.log(
    `load average: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  // Anchor: the store path; podnet's figure: the BGP path.
  const figure = (metric: string, p: number, f: (j: Join) => number, goal = ''): string => {
    const bgp = pct(results.bgp.map(f), p);
    const store = pct(results.store.map(f), p);
    return (
      `BENCH bgp-convergence ${metric}=${bgp.toFixed(0)} anchor=${store.toFixed(0)} ` +
      `ratio=${(bgp / store).toFixed(2)}${goal}`
    );
  };
  const storeP99 = pct(
    results.store.map((j) => j.fromVisible),
    99,
  );
  console.log(
    figure(
      'bgp_p99_ms',
      99,
      (j) => j.fromVisible,
      ` store_p99_ms=${storeP99.toFixed(0)} goal_ms=1000`,
    ),
  );
  console.log(figure('bgp_p50_ms', 50, (j) => j.fromVisible));
  console.log(figure('bgp_from_agent_start_p99_ms', 99, (j) => j.fromStart));
}

await main();
