// The CNI_* environment a runtime sets for each call, parsed and checked against the spec.
// A missing or malformed variable is error 4 naming the variable, before anything is allocated.
import { CNI_ERR, CniError } from './errors.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  containerID: string;
  /** Path of the container's network namespace; empty when not given (allowed for DEL). */
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs (e.g. K8S_POD_NAMESPACE, K8S_POD_NAME). */
  args: Record<string, string>;
  path: string[];
}

/** Which variables each command needs (as the reference plugins' skel requires them). */
const REQUIRED: Record<CniCommand, (keyof typeof VARS)[]> = {
  ADD: ['containerID', 'netns', 'ifname', 'path'],
  CHECK: ['containerID', 'netns', 'ifname', 'path'],
  DEL: ['containerID', 'ifname', 'path'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

const VARS = {
  containerID: 'CNI_CONTAINERID',
  netns: 'CNI_NETNS',
  ifname: 'CNI_IFNAME',
  path: 'CNI_PATH',
} as const;

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function parseCniEnv(env: Record<string, string | undefined>): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CNI_ERR.invalidEnv, 'CNI_COMMAND is not set');
  if (!(CNI_COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(
      CNI_ERR.invalidEnv,
      `CNI_COMMAND "${command}" is not one of ${CNI_COMMANDS.join(', ')}`,
    );
  }
  const cmd = command as CniCommand;
  for (const field of REQUIRED[cmd]) {
    if (!env[VARS[field]]) {
      throw new CniError(CNI_ERR.invalidEnv, `${VARS[field]} is not set (${cmd} needs it)`);
    }
  }
  const parsed: CniEnv = {
    command: cmd,
    containerID: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname: env.CNI_IFNAME ?? '',
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
  if (parsed.containerID && !CONTAINER_ID.test(parsed.containerID)) {
    throw new CniError(
      CNI_ERR.invalidEnv,
      `CNI_CONTAINERID "${parsed.containerID}" is not valid (a letter or digit, then letters, digits, _ . -)`,
    );
  }
  if (parsed.ifname) checkInterfaceName(parsed.ifname);
  if (parsed.netns && !parsed.netns.startsWith('/')) {
    throw new CniError(CNI_ERR.invalidEnv, `CNI_NETNS "${parsed.netns}" is not an absolute path`);
  }
  return parsed;
}

/** The kernel's rules for an interface name: 1-15 bytes, no '/', ':' or white space, not . or .. */
function checkInterfaceName(name: string): void {
  if (name.length > 15 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new CniError(
      CNI_ERR.invalidEnv,
      `CNI_IFNAME "${name}" is not a valid interface name (at most 15 characters, no '/', ':' or spaces)`,
    );
  }
}

/** `K=V;K2=V2` → { K: V, K2: V2 }. */
export function parseCniArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new CniError(CNI_ERR.invalidEnv, `CNI_ARGS "${text}": "${pair}" is not KEY=VALUE`);
    }
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return args;
}
