// Decides how this kernel runs a backend, before anything is programmed: IP-in-IP by the
// kernel's own device where it has one, else by podnet's tc BPF programs; a backend it cannot
// run at all is refused naming the missing kernel option, rather than leaving the kernel's
// "Unknown device type" to be puzzled over.
import type { AutoTunnel } from '../api/types.js';
import { UsageError } from '../util/errors.js';
import { usesIpip } from './backends/auto.js';
import type { BackendDriver } from './desired.js';
import type { KernelFeatures } from './kernel.js';

export interface BackendSupport {
  /** IP-in-IP through the tc BPF programs on the underlay instead of an ipip device. */
  ipipBpf: boolean;
}

export async function checkBackendSupport(
  driver: BackendDriver,
  kernel: KernelFeatures,
  autoTunnel?: AutoTunnel,
): Promise<BackendSupport> {
  if (driver.needs !== 'ipip' && !usesIpip(driver.name, autoTunnel)) return { ipipBpf: false };
  const probe = await kernel.probeIpip();
  if (probe.ok) return { ipipBpf: false };
  if (kernel.hasIpipBpf()) return { ipipBpf: true };
  const config = kernel.kernelConfig('NET_IPIP');
  const where = config === undefined ? '' : ` (/proc/config.gz: CONFIG_NET_IPIP=${config})`;
  const said = (probe.detail ?? '').replace(/^Error: /, '').replace(/\.$/, '');
  throw new UsageError(
    `backend ${driver.name}: this kernel has no IP-in-IP support: CONFIG_NET_IPIP is not enabled${where}` +
      ` and 'ip link add type ipip' says "${said}", and podnet's BPF IP-in-IP program is not built` +
      ` (make build); use backend vxlan, or auto with autoTunnel vxlan, instead`,
  );
}
