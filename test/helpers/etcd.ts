// Real etcd for tests and benchmarks (Debian's etcd-server): one member or a cluster, every
// member on 127.0.0.1 with free ports and a temporary data dir, killed and removed by stop().
// Members can be killed (SIGKILL) and started again to test failures.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  process?: ChildProcess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** `etcd:127.0.0.1:P1,127.0.0.1:P2,...` */
  storeUrl: string;
  /** Client endpoints for etcdctl: `http://127.0.0.1:P1,...` */
  endpoints: string;
  kill(i: number): Promise<void>;
  start(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
let exitHook = false;

/** Starts an etcd cluster of `size` members and waits until it has a leader. */
export async function startEtcd(size = 1): Promise<EtcdCluster> {
  if (!exitHook) {
    // Never leave an etcd behind, even when a test fails before its finally.
    process.once('exit', () => running.forEach((p) => p.kill('SIGKILL')));
    exitHook = true;
  }
  // tmpfs where there is one: etcd fsyncs every write, and tests measure podnet, not the disk.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const root = mkdtempSync(join(base, 'podnet-etcd-'));
  const token = `podnet-test-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const [client, peer] = [await freePort(), await freePort()];
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${client}`,
      peerUrl: `http://127.0.0.1:${peer}`,
      dataDir: join(root, `m${i}`),
      logFile: join(root, `m${i}.log`),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const start = async (i: number): Promise<void> => {
    const m = members[i]!;
    const log = openSync(m.logFile, 'a');
    const proc = spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${m.clientUrl}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        '--initial-cluster-state=new',
        // Faster failure detection than the defaults, still safe on a busy 2-core machine.
        '--heartbeat-interval=100',
        '--election-timeout=1000',
        '--logger=zap',
        '--log-level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    m.process = proc;
  };

  const kill = async (i: number): Promise<void> => {
    const p = members[i]!.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };

  const cluster: EtcdCluster = {
    members,
    storeUrl: `etcd:${members.map((m) => m.clientUrl.replace('http://', '')).join(',')}`,
    endpoints: members.map((m) => m.clientUrl).join(','),
    kill,
    start: async (i) => {
      await start(i);
      await waitHealthy(members[i]!, 20_000);
    },
    stop: async () => {
      for (let i = 0; i < members.length; i++) await kill(i);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < size; i++) await start(i);
    for (const m of members) await waitHealthy(m, 20_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Waits until the member says it is healthy (it has a leader and answers). */
async function waitHealthy(m: EtcdMember, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (m.process && m.process.exitCode !== null) {
      throw new Error(`etcd ${m.name} exited: ${readFileSync(m.logFile, 'utf8').slice(-2000)}`);
    }
    try {
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
