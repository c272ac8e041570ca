// A node for CNI tests: a network namespace standing in for a host, a real `podnet agent`
// running inside it, and the real plugin binary called exactly as a runtime calls it
// (CNI_* environment, network config on stdin, result on stdout).
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;
export const PLUGIN = join(ROOT, 'dist/bin/podnet-cni');
const MAIN = join(ROOT, 'dist/src/cli/main.js');

export interface PluginAnswer {
  code: number;
  stdout: string;
  /** stdout parsed, when it is JSON. */
  json: Record<string, unknown> | undefined;
}

/** Runs the plugin binary with `env` as its CNI_* environment and `stdin` as its config. */
export function callPlugin(env: Record<string, string>, stdin: string): Promise<PluginAnswer> {
  if (!existsSync(PLUGIN)) throw new Error(`${PLUGIN} is missing: run 'make build' first`);
  return new Promise((resolve, reject) => {
    const child = spawn(PLUGIN, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.stdin.on('error', () => {
      /* a plugin may answer without reading all of stdin */
    });
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, json });
    });
    child.stdin.end(stdin);
  });
}

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
  containerID?: string;
  netns?: string;
  ifname?: string;
  args?: string;
}

export function cniEnv(call: CniCall): Record<string, string> {
  const env: Record<string, string> = {
    CNI_COMMAND: call.command,
    CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  };
  if (call.containerID !== undefined) env.CNI_CONTAINERID = call.containerID;
  if (call.netns !== undefined) env.CNI_NETNS = call.netns;
  env.CNI_IFNAME = call.ifname ?? 'eth0';
  if (call.args !== undefined) env.CNI_ARGS = call.args;
  return env;
}

export interface AgentNode {
  name: string;
  netns: string;
  stateDir: string;
  socket: string;
  storeUrl: string;
  nodeIP: string;
  process: ChildProcess;
  /** Network config for one plugin call, as a runtime would pass it. */
  conf(extra?: Record<string, unknown>): string;
  call(call: CniCall, extra?: Record<string, unknown>): Promise<PluginAnswer>;
  /** Allocation files in the agent's state dir. */
  allocations(): string[];
  /** The pod veths (pn*) in the host namespace. */
  podLinks(): string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the agent again on the same namespace, state dir and socket. */
  restart(): Promise<void>;
}

export interface AgentNodeOptions {
  name: string;
  /** The namespace standing in for the host; must exist. */
  netns: string;
  storeUrl: string;
  nodeIP: string;
  zone?: string;
  /** The agent's state dir (and socket); inside the test's temp dir, removed with it. */
  stateDir: string;
  env?: Record<string, string>;
}

/**
 * The agent's routing controller needs an interface holding the node's InternalIP (its
 * underlay); a veth pair with both ends in the host namespace stands in for one.
 */
export function holdAddress(netns: string, ip: string): void {
  const held = execFileSync('ip', ['-n', netns, '-o', 'addr', 'show'], { encoding: 'utf8' });
  if (held.includes(` ${ip}/`)) return;
  execFileSync('ip', ['-n', netns, '-batch', '-'], {
    input: [
      'link add ul0 type veth peer name ul1',
      `addr add ${ip}/24 dev ul0`,
      'link set ul0 up',
      'link set ul1 up',
    ].join('\n'),
  });
}

export async function startAgentNode(opts: AgentNodeOptions): Promise<AgentNode> {
  const stateDir = opts.stateDir;
  const socket = join(stateDir, 'agent.sock');
  execFileSync('ip', ['-n', opts.netns, 'link', 'set', 'lo', 'up']);
  holdAddress(opts.netns, opts.nodeIP);
  const launch = (): ChildProcess => {
    const argv = ['netns', 'exec', opts.netns, 'node', MAIN, '--store', opts.storeUrl, 'agent'];
    argv.push('--node', opts.name, '--state-dir', stateDir, '--socket', socket);
    argv.push('--metrics', '127.0.0.1:9101', '--node-ip', opts.nodeIP);
    if (opts.zone) argv.push('--zone', opts.zone);
    const child = spawn('ip', argv, {
      stdio: ['ignore', 'ignore', process.env.PODNET_TEST_LOGS ? 'inherit' : 'ignore'],
      env: { ...process.env, PODNET_LOG_LEVEL: 'warn', ...opts.env },
    });
    return child;
  };
  const node: AgentNode = {
    name: opts.name,
    netns: opts.netns,
    stateDir,
    socket,
    storeUrl: opts.storeUrl,
    nodeIP: opts.nodeIP,
    process: launch(),
    conf: (extra = {}) =>
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'podnet',
        type: 'podnet',
        agentSocket: socket,
        ...extra,
      }),
    call: (call, extra) => callPlugin(cniEnv(call), node.conf(extra)),
    allocations: () => readdirSync(join(stateDir, 'ipam', 'pods')),
    podLinks: () =>
      execFileSync('ip', ['-n', opts.netns, '-o', 'link', 'show'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => /^\d+: (pn[0-9a-f]{11})@/.exec(l)?.[1])
        .filter((n): n is string => n !== undefined),
    stop: (signal = 'SIGTERM') => stopProcess(node.process, signal),
    restart: async () => {
      node.process = launch();
      await waitForAgent(node);
    },
  };
  await waitForAgent(node);
  return node;
}

/** Waits until the agent answers STATUS with success (it holds a subnet, its socket is open). */
async function waitForAgent(node: AgentNode): Promise<void> {
  await waitFor(`agent ${node.name} to serve CNI`, 30_000, async () => {
    if (node.process.exitCode !== null) {
      throw new Error(`agent ${node.name} exited with ${node.process.exitCode}`);
    }
    const r = await node.call({ command: 'STATUS' }, { cniVersion: '1.1.0' });
    if (r.code !== 0) throw new Error(`STATUS answered ${r.stdout.trim()}`);
    return true;
  });
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Polls `check` until it returns true, failing after `timeoutMs` with what was awaited. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  pollMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
      if (/exited with/.test(String(err))) break;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Creates (or deletes) many network namespaces with one `ip -batch`. */
export function addNamespaces(names: string[]): void {
  execFileSync('ip', ['-batch', '-'], { input: names.map((n) => `netns add ${n}\n`).join('') });
}

/** Deletes namespaces; those already gone are skipped. */
export function deleteNamespaces(names: string[]): void {
  spawnSync('ip', ['-force', '-batch', '-'], {
    input: names.map((n) => `netns delete ${n}\n`).join(''),
    stdio: ['pipe', 'ignore', 'ignore'],
  });
}
