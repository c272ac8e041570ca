// What the kernel holds once a diff has been applied in full: the desired objects, in the
// reader's shape. The loop keeps this between reconciles so that a Node change is applied
// without listing the kernel again (a full read happens on the period, repairing any drift).
import type { ActualState, Change } from '../kernel/netobjects.js';
import type { DesiredState } from './desired.js';

export function stateAfter(
  desired: DesiredState,
  before: ActualState,
  changes: readonly Change[],
): ActualState {
  const sysctls = { ...before.sysctls };
  for (const c of changes) if (c.op === 'sysctl') sysctls[c.key] = c.value;
  return {
    routes: desired.routes.map((r) => ({ ...r })),
    links: desired.links.map((l) => ({
      name: l.name,
      kind: l.kind,
      mtu: l.mtu,
      mac: l.kind === 'vxlan' ? l.mac : (before.links.find((b) => b.name === l.name)?.mac ?? ''),
      up: true,
      addresses: [...l.addresses],
      vxlan:
        l.kind === 'vxlan'
          ? {
              vni: l.vni,
              port: l.port,
              local: l.local,
              underlayDev: l.underlayDev,
              learning: l.learning,
            }
          : undefined,
      ipip: l.kind === 'ipip' ? { local: l.local } : undefined,
    })),
    neighbours: desired.neighbours.map((n) => ({ ...n })),
    fdb: desired.fdb.map((e) => ({ ...e })),
    sysctls,
  };
}
