// An etcd store URL read into its parts, apart from the client: a process that only needs the
// hosts (the node guard closing their ports) then loads no gRPC.
import { UsageError } from '../util/errors.js';

/** How long any one store call may take before it fails with StoreUnavailableError. */
export const ETCD_TIMEOUT_MS = 5000;

export interface EtcdConfig {
  hosts: string[];
  /** TLS: CA, client certificate and key (PEM files). */
  ca?: string;
  cert?: string;
  key?: string;
  timeoutMs: number;
}

/** `etcd:H:P[,H:P...][?ca=F&cert=F&key=F&timeout=MS]` → config. */
export function parseEtcdUrl(url: string): EtcdConfig {
  const rest = url.replace(/^etcd:(\/\/)?/, '');
  const [hostPart = '', query = ''] = rest.split('?', 2);
  const hosts = hostPart.split(',').filter((h) => h !== '');
  const bad = hosts.find((h) => !/^(https?:\/\/)?[^\s:/]+:\d{1,5}$/.test(h));
  if (hosts.length === 0 || bad !== undefined) {
    throw new UsageError(
      `store ${url}: ${bad ? `${JSON.stringify(bad)} is not HOST:PORT` : 'no hosts'}; use etcd:HOST:PORT[,HOST:PORT...]`,
    );
  }
  const params = new URLSearchParams(query);
  const config: EtcdConfig = { hosts, timeoutMs: ETCD_TIMEOUT_MS };
  for (const [name, value] of params) {
    if (name === 'ca' || name === 'cert' || name === 'key') config[name] = value;
    else if (name === 'timeout' && /^\d+$/.test(value)) config.timeoutMs = Number(value);
    else
      throw new UsageError(`store ${url}: unknown option ${name}; known: ca, cert, key, timeout`);
  }
  if ((config.cert === undefined) !== (config.key === undefined)) {
    throw new UsageError(`store ${url}: give cert and key together`);
  }
  return config;
}
