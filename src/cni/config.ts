// The network configuration a runtime passes on stdin: one plugin's entry of the conflist,
// with the runtime's additions (prevResult, runtimeConfig, GC's attachment lists).
import { CNI_ERR, CniError } from './errors.js';
import type { CniCommand } from './env.js';

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';
export const PLUGIN_TYPE = 'podnet';
export const DEFAULT_AGENT_SOCKET = '/run/podnet/agent.sock';

export interface Attachment {
  containerID: string;
  ifname: string;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  /** Unix socket of the node agent (the C shim reads it too). */
  agentSocket: string;
  prevResult?: unknown;
  /** GC: every attachment the runtime still knows about. */
  validAttachments?: Attachment[];
}

/** GC and STATUS exist from spec 1.1.0 on. */
const MIN_VERSION: Partial<Record<CniCommand, string>> = { GC: '1.1.0', STATUS: '1.1.0' };

/**
 * Parses stdin. Undecodable JSON is error 6, a missing or wrong field error 7, a version
 * podnet does not speak error 1 — each naming the field.
 */
export function parseNetConf(stdin: string, command: CniCommand): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(
      CNI_ERR.decode,
      'network configuration on stdin is not valid JSON',
      (err as Error).message,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(CNI_ERR.decode, 'network configuration on stdin is not a JSON object');
  }
  const conf = raw as Record<string, unknown>;
  const cniVersion = stringField(conf, 'cniVersion');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniError(
      CNI_ERR.incompatibleVersion,
      `cniVersion "${cniVersion}" is not supported by podnet (supported: ${SUPPORTED_VERSIONS.join(', ')})`,
    );
  }
  const min = MIN_VERSION[command];
  if (min && compareVersions(cniVersion, min) < 0) {
    throw new CniError(
      CNI_ERR.incompatibleVersion,
      `${command} needs cniVersion ${min} or later (the configuration says ${cniVersion})`,
    );
  }
  const type = stringField(conf, 'type');
  if (type !== PLUGIN_TYPE) {
    throw new CniError(
      CNI_ERR.invalidConfig,
      `type "${type}" is not "${PLUGIN_TYPE}": this configuration is for another plugin`,
    );
  }
  const agentSocket = conf.agentSocket ?? DEFAULT_AGENT_SOCKET;
  if (typeof agentSocket !== 'string' || !agentSocket.startsWith('/')) {
    throw new CniError(CNI_ERR.invalidConfig, 'agentSocket must be an absolute path');
  }
  const result: NetConf = { cniVersion, name: stringField(conf, 'name'), type, agentSocket };
  if (conf.prevResult !== undefined) result.prevResult = conf.prevResult;
  if (command === 'GC') result.validAttachments = attachments(conf['cni.dev/valid-attachments']);
  return result;
}

function stringField(conf: Record<string, unknown>, field: string): string {
  const value = conf[field];
  if (typeof value !== 'string' || value === '') {
    throw new CniError(
      CNI_ERR.invalidConfig,
      `network configuration: "${field}" is missing or not a string`,
    );
  }
  return value;
}

function attachments(value: unknown): Attachment[] {
  // A GC without the list would free every pod on the node: refuse instead.
  if (!Array.isArray(value)) {
    throw new CniError(
      CNI_ERR.invalidConfig,
      'GC: "cni.dev/valid-attachments" is missing or not a list',
    );
  }
  return value.map((a, i) => {
    const { containerID, ifname } = (a ?? {}) as Record<string, unknown>;
    if (typeof containerID !== 'string' || typeof ifname !== 'string') {
      throw new CniError(
        CNI_ERR.invalidConfig,
        `GC: "cni.dev/valid-attachments"[${i}] needs string containerID and ifname`,
      );
    }
    return { containerID, ifname };
  });
}

/** Compares dotted versions numerically (0.4.0 < 1.0.0 < 1.1.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
