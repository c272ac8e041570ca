// The etcd faults of the chaos run, on a ChaosLab whose store is the lab's 3-member etcd: a
// writer puts through podnet's store client from a host's namespace (as an agent does) while a
// member is SIGKILLed — a follower, or the leader — and `lab repair` starts it again. Beside it,
// for the benchmark's anchor, etcd's own client (`etcdctl put` in a loop) writes the same way.
// Shared by test/integration/etcdha.test.ts and bench/chaos.ts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { etcdPkiPaths, type EtcdMemberPlan } from '../../src/lab/etcd-plan.js';
import { findProcess } from '../../src/lab/supervisor.js';
import type { ChaosLab } from './chaos-lab.js';
import { faultFigures, type FaultFigures } from './chaos-figures.js';
import { podnetOk } from './lab.js';
import {
  endedBy,
  writeFigures,
  type StoreWrite,
  type WriteFigures,
} from './store-write-figures.js';
import { waitFor } from './wait.js';

const execFileAsync = promisify(execFile);
const WRITER = fileURLToPath(new URL('./store-writer.js', import.meta.url));
/** Where podnet's writer puts (100 keys, each its write's start time). */
export const WRITER_PREFIX = '/chaos/writer/';

export interface EtcdFault {
  member: string;
  traffic: FaultFigures;
  writes: WriteFigures;
  /** etcd's own client's writes over the same window, when its loop runs (the anchor). */
  etcdctl?: WriteFigures;
}

export interface EtcdctlOptions {
  /** Present the lab's client certificate (default true). */
  withCert?: boolean;
  endpoints?: string[];
}

export class EtcdChaos {
  /** What podnet's writer and the etcdctl loop recorded so far. */
  readonly writes: StoreWrite[] = [];
  readonly etcdctlWrites: StoreWrite[] = [];
  private readonly children: ChildProcess[] = [];
  private etcdctlTimer: NodeJS.Timeout | undefined;

  constructor(private readonly chaos: ChaosLab) {}

  private get members(): EtcdMemberPlan[] {
    return this.chaos.lab.etcdMembers ?? [];
  }

  /** etcdctl's endpoints (every member unless told) and TLS flags for the lab's cluster. */
  etcdctlFlags(opts: EtcdctlOptions = {}): string[] {
    const endpoints = opts.endpoints ?? this.members.map((m) => m.clientUrl);
    const flags = [`--endpoints=${endpoints.join(',')}`];
    if (!this.chaos.lab.options.etcdTls) return flags;
    const pki = etcdPkiPaths(this.chaos.lab.stateDir);
    flags.push(`--cacert=${pki.ca}`);
    if (opts.withCert !== false) flags.push(`--cert=${pki.clientCert}`, `--key=${pki.clientKey}`);
    return flags;
  }

  /** Runs etcdctl in the first host's namespace (on the lab's network, like the agents). */
  async etcdctl(args: string[], opts: EtcdctlOptions = {}): Promise<string> {
    const netns = this.chaos.lab.hosts[0]!.netns;
    const argv = ['netns', 'exec', netns, 'etcdctl', ...this.etcdctlFlags(opts), ...args];
    const { stdout } = await execFileAsync('ip', argv, {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    return stdout;
  }

  /** Starts podnet's writer in the first host's namespace; resolves once a put has ended ok. */
  async startWriter(perSecond: number): Promise<void> {
    const host = this.chaos.lab.hosts[0]!;
    const prefix = WRITER_PREFIX;
    // DEP0123: as bin/podnet, for the store client's TLS to an IP address.
    const node = [process.execPath, '--disable-warning=DEP0123'];
    const argv = ['netns', 'exec', host.netns, ...node, WRITER];
    const child = spawn('ip', [...argv, this.chaos.lab.hostStoreUrl, prefix, String(perSecond)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    let partial = '';
    child.stdout!.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.writes.push(JSON.parse(line) as StoreWrite);
    });
    this.children.push(child);
    await waitFor('the store writer to write', () => this.writes.some((w) => w.ok), 30_000, 50);
  }

  /** etcd's own client at the same rate: one `etcdctl put` per write (the anchor). */
  startEtcdctlWriter(perSecond: number): void {
    let n = 0;
    this.etcdctlTimer = setInterval(() => {
      const start = Date.now();
      const seq = n++;
      this.etcdctl([
        '--command-timeout=5s',
        'put',
        `/chaos/etcdctl/${seq % 100}`,
        String(start),
      ]).then(
        () => this.etcdctlWrites.push({ seq, start, ms: Date.now() - start, ok: true }),
        (err: { stderr?: string }) =>
          this.etcdctlWrites.push({
            seq,
            start,
            ms: Date.now() - start,
            ok: false,
            error: String(err.stderr ?? err).trim(),
          }),
      );
    }, 1000 / perSecond);
  }

  /** Stops etcdctl's loop (a process per write), leaving podnet's writer running. */
  stopEtcdctlWriter(): void {
    clearInterval(this.etcdctlTimer);
    this.etcdctlTimer = undefined;
  }

  stop(): void {
    this.stopEtcdctlWriter();
    for (const c of this.children.splice(0)) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** The member that leads now, as the members report it. */
  async leader(): Promise<EtcdMemberPlan> {
    const statuses = JSON.parse(await this.etcdctl(['endpoint', 'status', '-w', 'json'])) as {
      Endpoint: string;
      Status: { header: { member_id: number | string }; leader: number | string };
    }[];
    const leading = statuses.find(
      (s) => String(s.Status.leader) === String(s.Status.header.member_id),
    );
    const member = this.members.find((m) => m.clientUrl === leading?.Endpoint);
    if (!member) throw new Error(`no member leads: ${JSON.stringify(statuses)}`);
    return member;
  }

  /**
   * SIGKILLs a follower or the leader, watches writes and traffic for the fault window, then
   * has `lab repair` start the member again and waits until it is healthy.
   */
  async memberLost(which: 'follower' | 'leader'): Promise<EtcdFault> {
    const leader = await this.leader();
    const member = which === 'leader' ? leader : this.members.find((m) => m !== leader)!;
    const proc = findProcess(this.chaos.lab.stateDir, member.name)!;
    const from = Date.now();
    process.kill(proc.pid, 'SIGKILL');
    await waitFor('the member to exit', () => !existsSync(`/proc/${proc.pid}`), 10_000);
    const w = await this.chaos.windowFrom(from, from);
    await waitFor('the writes in flight to end', () => this.ended(w.to), 30_000, 50);
    const fault: EtcdFault = {
      member: member.name,
      traffic: faultFigures(this.chaos.requests, w),
      writes: writeFigures(this.writes, w),
      ...(this.etcdctlTimer ? { etcdctl: writeFigures(this.etcdctlWrites, w) } : {}),
    };
    podnetOk(['lab', 'repair', '--name', this.chaos.name]);
    await this.waitHealthy(member);
    return fault;
  }

  private ended(at: number): boolean {
    return endedBy(this.writes, at) && (!this.etcdctlTimer || endedBy(this.etcdctlWrites, at));
  }

  private async waitHealthy(member: EtcdMemberPlan, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.etcdctl(['--command-timeout=1s', 'endpoint', 'health'], {
          endpoints: [member.clientUrl],
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${member.name} not healthy: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
