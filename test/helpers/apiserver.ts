// `podnet apiserver` on 127.0.0.1 (a free port) over a store, with its admin kubeconfig, and
// kubectl (the machine's 1.32, or the 1.20 `make` unpacks) pointed at it with a private
// discovery cache.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

/** The kubectl versions the API server is tested with, newest first. */
export const KUBECTLS = [
  { version: '1.32', bin: 'kubectl' },
  {
    version: '1.20',
    bin: new URL('../../../tools/kubectl-1.20/usr/bin/kubectl', import.meta.url).pathname,
  },
] as const;

export interface RunningApiServer {
  url: string;
  /** The server's process, for a benchmark that reads its CPU time. */
  pid: number;
  dir: string;
  kubeconfig: string;
  storeUrl: string;
  /** The kubectl binary `kubectl` runs. */
  kubectlBin: string;
  /** kubectl with the admin kubeconfig; never prompts (stdin is closed or `input`). */
  kubectl(args: string[], input?: string): CommandResult;
  /** podnet with the same store. */
  podnet(args: string[], input?: string): CommandResult;
  /** A raw HTTPS request, with the admin's certificate unless `anonymous`. */
  fetch(
    path: string,
    opts?: {
      /** Another client certificate than the admin's. */
      cert?: Buffer;
      key?: Buffer;
      anonymous?: boolean;
      method?: string;
      body?: string;
      headers?: Record<string, string>;
      timeoutMs?: number;
    },
  ): Promise<{ status: number; body: string }>;
  /** Ends the server (SIGTERM, then SIGKILL after a grace period); never waits for ever. */
  stop(): Promise<void>;
}

export interface CommandResult {
  code: number | null;
  out: string;
  err: string;
}

/** The output of a command that must have exited 0; fails with all it printed otherwise. */
export function ok(r: CommandResult): string {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.out}\n${r.err}`);
  return r.out;
}

export type TempApiServer = RunningApiServer & { close(): Promise<void> };

/**
 * An API server in a new temporary folder named `prefix…`, over `storeUrl` or else a new SQLite
 * store in that folder, driven by `kubectlBin` (the machine's kubectl unless told); `close` stops
 * it and removes the folder.
 */
export async function startTempApiServer(
  prefix: string,
  {
    storeUrl,
    kubectlBin,
    stopGraceMs,
  }: { storeUrl?: string; kubectlBin?: string; stopGraceMs?: number } = {},
): Promise<TempApiServer> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const api = await startApiServer(dir, storeUrl ?? `sqlite:${join(dir, 'store.db')}`, kubectlBin, {
    stopGraceMs,
  });
  return {
    ...api,
    close: async () => {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Compacts the store behind `api` up to its current revision, as etcd does to old history; then a
 * watch of `path` from `oldRevision` must get 410 Expired, and a watch from a fresh list must see
 * the label the client puts on `pod` (in my-namespace) meanwhile, and nothing else.
 */
export async function checkRelistAfterCompaction(
  api: RunningApiServer,
  path: string,
  oldRevision: string,
  pod: string,
): Promise<void> {
  const store = await openStore(api.storeUrl);
  try {
    const { revision } = await store.list('/');
    await store.compact(revision);
  } finally {
    await store.close();
  }
  const old = await api.fetch(`${path}?watch=1&resourceVersion=${oldRevision}`, {
    timeoutMs: 5000,
  });
  assert.equal(old.status, 200);
  const event = JSON.parse(old.body.trim().split('\n')[0]!) as {
    type: string;
    object: { code: number; reason: string };
  };
  assert.equal(event.type, 'ERROR');
  assert.equal(event.object.code, 410);
  assert.equal(event.object.reason, 'Expired');

  const list = JSON.parse((await api.fetch(path)).body) as {
    metadata: { resourceVersion: string };
    items: unknown[];
  };
  assert.ok(list.items.length > 0);
  const watching = api.fetch(
    `${path}?watch=1&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=2`,
    { timeoutMs: 8000 },
  );
  // Let the watch start before the change it should see.
  await new Promise((r) => setTimeout(r, 300));
  ok(api.kubectl(['label', 'pod', '-n', 'my-namespace', pod, 'after=relist']));
  const events = (await watching).body
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.object.metadata.name}`),
    [`MODIFIED ${pod}`],
  );
}

export async function startApiServer(
  dir: string,
  storeUrl: string,
  kubectlBin = 'kubectl',
  { stopGraceMs = STOP_GRACE_MS }: { stopGraceMs?: number } = {},
): Promise<RunningApiServer> {
  const pki = join(dir, 'pki');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'apiserver.log');
  const child: ChildProcess = spawn(
    podnet,
    ['--store', storeUrl, 'apiserver', '--port', '0', '--state-dir', pki],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PODNET_STORE: '' } },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const urlFile = join(pki, 'server-url');
  // The file is made before its line is written: wait for the line.
  const written = () => existsSync(urlFile) && readFileSync(urlFile, 'utf8').endsWith('\n');
  // Up to 60 s: on a loaded machine, making the PKI and loading the modules alone can take 20.
  for (let i = 0; i < 600 && !written(); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!written()) {
    child.kill('SIGKILL');
    throw new Error(`podnet apiserver did not start:\n${stderr}`);
  }
  const url = readFileSync(urlFile, 'utf8').trim();
  const cli = (bin: string, args: string[], env: NodeJS.ProcessEnv, input?: string) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', input: input ?? '', env, timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const kubeconfig = join(dir, 'kubeconfig');
  const made = cli(podnet, ['apiserver', 'kubeconfig', '--state-dir', pki], process.env);
  if (made.code !== 0) throw new Error(`podnet apiserver kubeconfig: ${made.err}`);
  writeFileSync(kubeconfig, made.out);
  const kubeEnv = { ...process.env, KUBECONFIG: kubeconfig, HOME: dir };
  const ca = readFileSync(join(pki, 'ca.crt'));
  const cert = readFileSync(join(pki, 'admin.crt'));
  const key = readFileSync(join(pki, 'admin.key'));
  return {
    url,
    pid: child.pid!,
    dir,
    kubeconfig,
    storeUrl,
    kubectlBin,
    kubectl: (args, input) =>
      cli(kubectlBin, ['--cache-dir', join(dir, 'kube-cache'), ...args], kubeEnv, input),
    podnet: (args, input) =>
      cli(podnet, ['--store', storeUrl, ...args], { ...process.env, PODNET_STORE: '' }, input),
    fetch: (path, opts = {}) =>
      new Promise((resolve, reject) => {
        const req = request(
          `${url}${path}`,
          {
            method: opts.method ?? 'GET',
            ca,
            ...(opts.anonymous ? {} : { cert: opts.cert ?? cert, key: opts.key ?? key }),
            headers: opts.headers,
            timeout: opts.timeoutMs ?? 10_000,
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${path}: no answer in time`)));
        req.on('error', reject);
        req.end(opts.body);
      }),
    stop: async () => {
      await endServer(child, stopGraceMs);
      writeFileSync(log, stderr);
    },
  };
}

/** How long a stop waits for the server to exit on SIGTERM before it kills it. */
const STOP_GRACE_MS = 10_000;

/**
 * Ends the server: SIGTERM, then SIGKILL if it has not exited within `graceMs` (a server stuck
 * in a loop or stopped never runs its SIGTERM handler). A server that has already ended, by an
 * exit or by a signal (the OOM killer's SIGKILL), is not waited for: its `exit` event has
 * passed and would never come again. Either way the caller's own error, if it is stopping
 * after one, is not held up behind a server that will not go.
 */
async function endServer(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    if (child.signalCode !== null)
      process.stderr.write(
        `podnet apiserver (pid ${child.pid}) had been killed by ${child.signalCode}\n`,
      );
    return;
  }
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    gone.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (!late) return;
  process.stderr.write(
    `podnet apiserver (pid ${child.pid}) did not exit within ${graceMs} ms of SIGTERM: killed\n`,
  );
  child.kill('SIGKILL');
  await gone;
}
