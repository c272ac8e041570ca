// The container-runtime side of CNI, as libcni does it: find the network configuration list,
// exec each plugin with CNI_* in the environment and its configuration on stdin, chain ADD
// results as prevResult, run DEL in reverse order with the cached result, and report a plugin's
// error object as a message for people.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../process/run.js';
import { OperationError } from '../util/errors.js';
import { tryParseIP } from '../net/index.js';

export interface PluginConf {
  type: string;
  [field: string]: unknown;
}

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: CniDns;
}

/** One attachment of a pod to the network, as the runtime names it. */
export interface Attachment {
  containerId: string;
  /** Path of the pod's network namespace (`/run/netns/<name>`). */
  netnsPath: string;
  ifname: string;
  podNamespace: string;
  podName: string;
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** A plugin's error result, or a plugin that failed without one. */
export class CniCallError extends OperationError {
  constructor(
    readonly command: CniCommand,
    readonly plugin: string,
    readonly code: number | undefined,
    detail: string,
  ) {
    super(`CNI ${command} with plugin ${plugin} failed${code ? ` (code ${code})` : ''}: ${detail}`);
    this.name = 'CniCallError';
  }
}

/** The `CNI_ARGS` a Kubernetes runtime passes: unknown keys must be ignored by the plugin. */
export function cniArgs(a: Attachment): string {
  return [
    'IgnoreUnknown=1',
    `K8S_POD_NAMESPACE=${a.podNamespace}`,
    `K8S_POD_NAME=${a.podName}`,
    `K8S_POD_INFRA_CONTAINER_ID=${a.containerId}`,
  ].join(';');
}

export function cniEnv(
  command: CniCommand,
  a: Attachment,
  cniPath: string[],
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return {
    ...base,
    CNI_COMMAND: command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netnsPath,
    CNI_IFNAME: a.ifname,
    CNI_ARGS: cniArgs(a),
    CNI_PATH: cniPath.join(':'),
  };
}

/** What one plugin reads on stdin: its entry, with the list's name and version, and prevResult. */
export function pluginStdin(
  list: NetworkConfigList,
  plugin: PluginConf,
  prevResult?: CniResult,
): string {
  return JSON.stringify({
    ...plugin,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(prevResult ? { prevResult } : {}),
  });
}

/** The first `*.conflist` of a configuration directory, in name order (as runtimes pick it). */
export function loadNetworkConfigList(dir: string): NetworkConfigList {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.conflist'));
  } catch {
    files = [];
  }
  const first = files.sort()[0];
  if (!first) throw new OperationError(`no CNI network configuration (*.conflist) in ${dir}`);
  const list = JSON.parse(readFileSync(join(dir, first), 'utf8')) as NetworkConfigList;
  if (!list.name || !list.cniVersion || !Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new OperationError(`${join(dir, first)}: needs cniVersion, name and plugins`);
  }
  return list;
}

function findPlugin(type: string, cniPath: string[]): string {
  for (const dir of cniPath) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not in this directory */
    }
  }
  throw new OperationError(`CNI plugin ${type} not found in ${cniPath.join(':')}`);
}

const ANY_FAILURE = Array.from({ length: 255 }, (_, i) => i + 1);

/**
 * Where plugins run: the runtime's own network namespace (the host's). Giving it explicitly
 * means a caller elsewhere (a test in the root namespace) still wires the pod to its host.
 */
export interface Runtime {
  cniPath: string[];
  /** The host's network namespace; the caller's own when absent. */
  netns?: string;
}

async function execPlugin(
  command: CniCommand,
  list: NetworkConfigList,
  plugin: PluginConf,
  a: Attachment,
  rt: Runtime,
  prevResult?: CniResult,
): Promise<string> {
  const cniPath = rt.cniPath;
  const r = await run([findPlugin(plugin.type, cniPath)], {
    netns: rt.netns,
    env: cniEnv(command, a, cniPath),
    input: pluginStdin(list, plugin, prevResult),
    okCodes: ANY_FAILURE,
    timeoutMs: 60_000,
  });
  if (r.code === 0) return r.stdout;
  let code: number | undefined;
  let detail = r.stderr.trim() || `exit ${r.code}`;
  try {
    const err = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
    code = err.code;
    detail = [err.msg, err.details].filter(Boolean).join(': ') || detail;
  } catch {
    /* no error object on stdout */
  }
  throw new CniCallError(command, plugin.type, code, detail);
}

/** ADD through every plugin of the list; the last plugin's result is the attachment's result. */
export async function cniAdd(
  list: NetworkConfigList,
  a: Attachment,
  rt: Runtime,
): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) {
    const out = await execPlugin('ADD', list, plugin, a, rt, result);
    result = JSON.parse(out) as CniResult;
  }
  return result!;
}

/**
 * DEL through the plugins in reverse order, each with the cached ADD result. Every plugin is
 * called even when one fails (so each frees what it can); the first failure is reported.
 */
export async function cniDel(
  list: NetworkConfigList,
  a: Attachment,
  rt: Runtime,
  prevResult?: CniResult,
): Promise<void> {
  let first: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin('DEL', list, plugin, a, rt, prevResult);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

/** CHECK through every plugin with the cached ADD result (spec >= 0.4.0). */
export async function cniCheck(
  list: NetworkConfigList,
  a: Attachment,
  rt: Runtime,
  prevResult: CniResult,
): Promise<void> {
  for (const plugin of list.plugins) await execPlugin('CHECK', list, plugin, a, rt, prevResult);
}

/**
 * The pod's primary address from a result, without the prefix length: its IPv4 one, or its
 * IPv6 one on an IPv6-only cluster.
 */
export function podIPOf(result: CniResult): string | undefined {
  return podIPsOf(result)[0];
}

/** Every address of the result (a dual-stack pod has one per family), the IPv4 one first. */
export function podIPsOf(result: CniResult): string[] {
  const all = (result.ips ?? []).map((i) => i.address.split('/')[0]!);
  const ipv4 = all.filter((ip) => tryParseIP(ip)?.family === 4);
  return [...ipv4, ...all.filter((ip) => !ipv4.includes(ip))];
}
