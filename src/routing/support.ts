// Refuses a backend this kernel cannot run, before anything is programmed, naming the missing
// kernel option rather than leaving the kernel's "Unknown device type" to be puzzled over.
import { UsageError } from '../util/errors.js';
import type { BackendDriver } from './desired.js';
import type { KernelFeatures } from './kernel.js';

export async function checkBackendSupport(
  driver: BackendDriver,
  kernel: KernelFeatures,
): Promise<void> {
  if (driver.needs !== 'ipip') return;
  const probe = await kernel.probeIpip();
  if (probe.ok) return;
  const config = kernel.kernelConfig('NET_IPIP');
  const where = config === undefined ? '' : ` (/proc/config.gz: CONFIG_NET_IPIP=${config})`;
  const said = (probe.detail ?? '').replace(/^Error: /, '').replace(/\.$/, '');
  throw new UsageError(
    `backend ${driver.name}: this kernel has no IP-in-IP support: CONFIG_NET_IPIP is not enabled${where}` +
      ` and 'ip link add type ipip' says "${said}"; use backend vxlan or auto instead`,
  );
}
