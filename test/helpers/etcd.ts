// Real etcd for tests and benchmarks (Debian's etcd-server): one member or a cluster, every
// member on 127.0.0.1 with free ports and a temporary data dir, killed and removed by stop().
// Members can be killed (SIGKILL) and started again to test failures.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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

/** PEM files for a client port with TLS and client certificates (see makeTestCerts). */
export interface EtcdTls {
  ca: string;
  serverCert: string;
  serverKey: string;
}

/** Starts an etcd cluster of `size` members and waits until it has a leader. */
export async function startEtcd(size = 1, opts: { tls?: EtcdTls } = {}): Promise<EtcdCluster> {
  const scheme = opts.tls ? 'https' : 'http';
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
      clientUrl: `${scheme}://127.0.0.1:${client}`,
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
        ...(opts.tls
          ? [
              `--cert-file=${opts.tls.serverCert}`,
              `--key-file=${opts.tls.serverKey}`,
              `--trusted-ca-file=${opts.tls.ca}`,
              '--client-cert-auth',
            ]
          : []),
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
    storeUrl: `etcd:${members.map((m) => m.clientUrl.replace(/^https?:\/\//, '')).join(',')}`,
    endpoints: members.map((m) => m.clientUrl).join(','),
    kill,
    start: async (i) => {
      await start(i);
      await waitHealthy(members[i]!, 20_000, opts.tls);
    },
    stop: async () => {
      for (let i = 0; i < members.length; i++) await kill(i);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < size; i++) await start(i);
    for (const m of members) await waitHealthy(m, 20_000, opts.tls);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Waits until the member says it is healthy (it has a leader and answers). */
async function waitHealthy(m: EtcdMember, timeoutMs: number, tls?: EtcdTls): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (m.process && m.process.exitCode !== null) {
      throw new Error(`etcd ${m.name} exited: ${readFileSync(m.logFile, 'utf8').slice(-2000)}`);
    }
    if (tls) {
      // With client certificates only a client that has one can ask: etcdctl.
      const r = spawnSync(
        'etcdctl',
        [
          `--endpoints=${m.clientUrl}`,
          `--cacert=${tls.ca}`,
          `--cert=${tls.serverCert}`,
          `--key=${tls.serverKey}`,
          '--command-timeout=1s',
          'endpoint',
          'health',
        ],
        { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' },
      );
      if (r.status === 0) return;
    } else {
      try {
        const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not up yet
      }
    }
    if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A throw-away CA with a server certificate for 127.0.0.1 and a client certificate, made with
 * openssl in `dir` (EC keys: quick to make).
 */
export function makeTestCerts(dir: string): EtcdTls & { clientCert: string; clientKey: string } {
  const f = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=podnet-test-ca',
  );
  for (const [who, usage] of [
    ['server', 'serverAuth,clientAuth'],
    ['client', 'clientAuth'],
  ] as const) {
    writeFileSync(f(`${who}.ext`), `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
    openssl(
      'req',
      ...ec,
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
      '-subj',
      `/CN=${who}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${who}.pem`),
      '-days',
      '1',
      '-extfile',
      f(`${who}.ext`),
    );
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

/** Retries a store call while it throws: the store is coming back after an interruption. */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
