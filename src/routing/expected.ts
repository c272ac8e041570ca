// What the kernel holds once a diff has been applied in full: the desired objects, in the
// reader's shape. The loop keeps this between reconciles so that a Node change is applied
// without listing the kernel again (a full read happens on the period, repairing any drift).
import type { ActualState, ActualWireguard, Change, WireguardLink } from '../kernel/netobjects.js';
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
      kind: l.kind === 'wireguard' && l.userspace ? 'tun' : l.kind,
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
      wireguard: l.kind === 'wireguard' ? wireguardAfter(l, before) : undefined,
    })),
    neighbours: desired.neighbours.map((n) => ({ ...n })),
    fdb: desired.fdb.map((e) => ({ ...e })),
    sysctls,
  };
}

/** The device's peers as wanted, keeping the handshake times of those that were there. */
function wireguardAfter(link: WireguardLink, before: ActualState): ActualWireguard {
  const had = before.links.find((b) => b.name === link.name)?.wireguard;
  const old = new Map((had?.peers ?? []).map((p) => [p.publicKey, p]));
  return {
    publicKey: link.publicKey,
    listenPort: link.listenPort,
    peers: link.peers.map((p) => ({
      ...p,
      allowedIPs: [...p.allowedIPs],
      latestHandshake: old.get(p.publicKey)?.latestHandshake ?? 0,
      rxBytes: old.get(p.publicKey)?.rxBytes ?? 0,
      txBytes: old.get(p.publicKey)?.txBytes ?? 0,
    })),
  };
}
