// `podnet apiserver` on 127.0.0.1 (a free port) over a store, with its admin kubeconfig, and
// kubectl (the machine's 1.32, or the 1.20 `make` unpacks) pointed at it with a private
// discovery cache.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

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
  dir: string;
  kubeconfig: string;
  storeUrl: string;
  /** The kubectl binary `kubectl` runs. */
  kubectlBin: string;
  /** kubectl with the admin kubeconfig; never prompts (stdin is closed or `input`). */
  kubectl(args: string[], input?: string): { code: number | null; out: string; err: string };
  /** podnet with the same store. */
  podnet(args: string[], input?: string): { code: number | null; out: string; err: string };
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
  stop(): Promise<void>;
}

export async function startApiServer(
  dir: string,
  storeUrl: string,
  kubectlBin = 'kubectl',
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
  for (let i = 0; i < 200 && !existsSync(urlFile); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!existsSync(urlFile)) {
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
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
      writeFileSync(log, stderr);
    },
  };
}
