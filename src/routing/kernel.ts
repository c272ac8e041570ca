// What routing needs of the kernel, as an interface its users inject: the real one runs `ip`,
// `bridge` and `sysctl` (src/kernel/), an in-memory fake lets the reconciler run in unit tests
// without root.
import type { FeatureCheck } from '../kernel/features.js';
import type { Change, IpipTunnel } from '../kernel/netobjects.js';
import type { ApplyResult } from '../kernel/routing-apply.js';
import type { HostState } from '../kernel/routing-read.js';

export interface RoutingKernel {
  /** podnet's routes, the named devices (with neighbours and FDB entries) and the underlay. */
  readHostState(opts: { devices: readonly string[]; nodeIP: string }): Promise<HostState>;
  /** Values of the keys that exist. */
  readSysctls(keys: readonly string[]): Promise<Record<string, string>>;
  /** Applies changes in order; independent ones go through when one fails, which is reported. */
  applyChanges(changes: readonly Change[]): Promise<ApplyResult>;
}

/** Whether this kernel can run a backend's devices. */
export interface KernelFeatures {
  probeIpip(): Promise<FeatureCheck>;
  probeWireguard(): Promise<FeatureCheck>;
  /** CONFIG_<option>: 'y', 'm', 'n', or undefined when the kernel does not say. */
  kernelConfig(option: string): string | undefined;
  /** podnet's tc BPF IP-in-IP program is built (it is verified when it is loaded). */
  hasIpipBpf(): boolean;
}

/** The tc BPF IP-in-IP programs on the underlay and the peers in their maps. */
export interface IpipDatapath {
  /** Attaches the programs where they are missing and brings their maps to `tunnels`. */
  sync(underlayDev: string, tunnels: readonly IpipTunnel[]): Promise<void>;
}
