// The kernel access routing is given, bound to one network namespace (absent: the namespace
// this process runs in).
import type { Change } from './netobjects.js';
import { applyChanges, type ApplyResult } from './routing-apply.js';
import { readHostState, readSysctls, type HostState } from './routing-read.js';
import type { WireguardRunOptions } from './wireguard.js';

export function routingKernel(
  netns?: string,
  wireguard?: WireguardRunOptions,
): {
  readHostState(opts: { devices: readonly string[]; nodeIP: string }): Promise<HostState>;
  readSysctls(keys: readonly string[]): Promise<Record<string, string>>;
  applyChanges(changes: readonly Change[]): Promise<ApplyResult>;
} {
  return {
    readHostState: (opts) => readHostState({ ...opts, netns, wireguard }),
    readSysctls: (keys) => readSysctls(keys, netns),
    applyChanges: (changes) => applyChanges(changes, { netns, wireguard }),
  };
}
