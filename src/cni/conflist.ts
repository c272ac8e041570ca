// The network configuration list runtimes load (`10-podnet.conflist`), for a real host or a
// lab host: the plugin `podnet`, pointed at the agent socket of the host it runs on, and
// optionally the reference `portmap` plugin chained after it for pods' `hostPort`s.
import { DEFAULT_AGENT_SOCKET, PLUGIN_TYPE } from './config.js';

export const CONFLIST_FILE = '10-podnet.conflist';

export interface ConflistOptions {
  /** The node agent's socket on this host (a lab host has its own). */
  agentSocket?: string;
  /** Network name runtimes show (podman's `--network NAME`). */
  name?: string;
  /** 1.0.0 by default: the newest that Debian 12's podman and containerd (libcni 1.1) accept. */
  cniVersion?: '0.4.0' | '1.0.0' | '1.1.0';
  /** Chain `portmap`, which runtimes pass the pod's hostPorts to (`portMappings`). */
  portmap?: boolean;
}

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: (
    | { type: typeof PLUGIN_TYPE; agentSocket: string }
    | { type: 'portmap'; capabilities: { portMappings: true } }
  )[];
}

/** The conflist as an object (what the lab's runtime reads), ... */
export function podnetConflist(opts: ConflistOptions = {}): Conflist {
  return {
    cniVersion: opts.cniVersion ?? '1.0.0',
    name: opts.name ?? 'podnet',
    plugins: [
      { type: PLUGIN_TYPE, agentSocket: opts.agentSocket ?? DEFAULT_AGENT_SOCKET },
      ...(opts.portmap
        ? [{ type: 'portmap' as const, capabilities: { portMappings: true as const } }]
        : []),
    ],
  };
}

/** ... and as the file runtimes load. */
export function renderConflist(opts: ConflistOptions = {}): string {
  return `${JSON.stringify(podnetConflist(opts), null, 2)}\n`;
}
