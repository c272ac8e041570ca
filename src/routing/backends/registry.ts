// Backends by name (flannel's registry): adding one is one module and one line here.
import type { Backend } from '../../api/types.js';
import { UsageError } from '../../util/errors.js';
import type { BackendDriver } from '../desired.js';
import { auto } from './auto.js';
import { cloud } from './cloud.js';
import { hostGw } from './hostgw.js';
import { ipip } from './ipip.js';
import { vxlan } from './vxlan.js';
import { wireguard } from './wireguard.js';

const registry: Record<Backend, BackendDriver> = {
  'host-gw': hostGw,
  vxlan,
  ipip,
  auto,
  cloud,
  wireguard,
};

export const BACKEND_NAMES = Object.keys(registry) as Backend[];

export function isBackend(name: string): name is Backend {
  return Object.hasOwn(registry, name);
}

/** The backend called `name`; `what` names where the name came from, for the error. */
export function backendDriver(name: string, what = 'backend'): BackendDriver {
  if (!isBackend(name)) {
    throw new UsageError(`${what} ${name}: unknown backend (valid: ${BACKEND_NAMES.join(', ')})`);
  }
  return registry[name];
}
