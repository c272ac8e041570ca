// The device features (offloads) the agent keeps on the links pod traffic crosses, decided from
// which links there are, and the difference from what ethtool reads. Each one lets the kernel
// carry one large packet where it would otherwise carry many MTU-sized ones through forwarding
// and the tunnel:
// - GRO on veths: a veth only coalesces what it receives when GRO is on (it then runs NAPI);
//   off is its default, so forwarded pod and underlay traffic crosses the host segment by segment.
// - rx-udp-gro-forwarding on the underlay: UDP the host forwards is coalesced too, not only UDP
//   a local socket (the VXLAN one) receives.
// - UDP-tunnel segmentation on the underlay: VXLAN hands the device whole TSO-sized packets and
//   the device segments them after encapsulation, instead of VXLAN segmenting before.
// Devices whose driver fixes a feature (`[fixed]` in `ethtool -k`) are left as they are.
import type { FeatureState, LinkFeatures } from '../kernel/link-features.js';
import { IPIP_DEVICE } from './backends/ipip.js';
import { VXLAN_DEVICE } from './backends/vxlan.js';

/** Host-side pod veths: `pn` + 11 hex characters of a hash of the pod's key. */
const POD_VETH = /^pn[0-9a-f]{11}$/;

export interface OffloadLinks {
  /** The device holding the node's InternalIP. */
  underlay: string;
  /** Every link of the host, of which the pod veths and podnet's tunnels are tuned. */
  names: readonly string[];
}

export interface WantedFeature {
  dev: string;
  feature: string;
  on: boolean;
}

const GRO = 'generic-receive-offload';
const UDP_GRO_FORWARDING = 'rx-udp-gro-forwarding';
const UDP_TUNNEL_SEGMENTATION = ['tx-udp_tnl-segmentation', 'tx-udp_tnl-csum-segmentation'];

export function podVeths(names: readonly string[]): string[] {
  return names.filter((n) => POD_VETH.test(n));
}

/** The features podnet wants on this host's links. */
export function desiredOffloads({ underlay, names }: OffloadLinks): WantedFeature[] {
  const on = (dev: string, feature: string): WantedFeature => ({ dev, feature, on: true });
  const wanted = [on(underlay, GRO), on(underlay, UDP_GRO_FORWARDING)];
  if (names.includes(VXLAN_DEVICE)) {
    wanted.push(...UDP_TUNNEL_SEGMENTATION.map((f) => on(underlay, f)), on(VXLAN_DEVICE, GRO));
  }
  if (names.includes(IPIP_DEVICE)) wanted.push(on(IPIP_DEVICE, GRO));
  for (const veth of podVeths(names)) wanted.push(on(veth, GRO));
  return wanted;
}

/** The features to change on one device, in one ethtool call. */
export interface OffloadChange {
  dev: string;
  features: Record<string, boolean>;
}

export interface OffloadPlan {
  changes: OffloadChange[];
  /** Wanted features already as wanted. */
  settled: WantedFeature[];
  /** Wanted features the device does not have or its driver does not let change. */
  unsupported: WantedFeature[];
}

export function planOffloads(
  wanted: readonly WantedFeature[],
  actual: ReadonlyMap<string, LinkFeatures>,
): OffloadPlan {
  const plan: OffloadPlan = { changes: [], settled: [], unsupported: [] };
  const byDev = new Map<string, OffloadChange>();
  for (const w of wanted) {
    const state = actual.get(w.dev)?.[w.feature];
    if (state?.active === w.on) plan.settled.push(w);
    else if (!state || state.fixed) plan.unsupported.push(w);
    else {
      let change = byDev.get(w.dev);
      if (!change) {
        change = { dev: w.dev, features: {} };
        byDev.set(w.dev, change);
        plan.changes.push(change);
      }
      change.features[w.feature] = w.on;
    }
  }
  return plan;
}

/** The changes as the commands a person would type. */
export function offloadCommands(changes: readonly OffloadChange[]): string[] {
  return changes.map(
    (c) =>
      `ethtool -K ${c.dev} ${Object.entries(c.features)
        .map(([f, on]) => `${f} ${on ? 'on' : 'off'}`)
        .join(' ')}`,
  );
}

/** "gro on 3 links, ..." — what is in place, for doctor's passing line. */
export function describeSettled(settled: readonly WantedFeature[]): string {
  const devs = new Map<string, number>();
  for (const w of settled) devs.set(w.feature, (devs.get(w.feature) ?? 0) + 1);
  return [...devs].map(([f, n]) => `${f} on ${n} link(s)`).join(', ');
}

/** What the offload reconcile needs of the kernel (src/kernel/link-features.ts, or a fake). */
export interface OffloadKernel {
  readLinks(nodeIP: string): Promise<{ names: string[]; underlay?: string }>;
  readFeatures(devs: readonly string[]): Promise<Map<string, LinkFeatures>>;
  /** GRO alone, of many devices at once (the pods' veths). */
  readGro(devs: readonly string[]): Promise<Map<string, FeatureState>>;
  setFeatures(dev: string, features: Record<string, boolean>): Promise<void>;
}

/**
 * Reads the host's links and their features and plans the difference; with `apply`, makes it.
 * Undefined while no link holds the node's address yet.
 */
export async function reconcileOffloads(
  kernel: OffloadKernel,
  nodeIP: string,
  opts: { apply: boolean },
): Promise<OffloadPlan | undefined> {
  const links = await kernel.readLinks(nodeIP);
  if (!links.underlay) return undefined;
  const wanted = desiredOffloads({ underlay: links.underlay, names: links.names });
  // A pod veth is wanted for GRO alone, read for all veths at once: a host of 110 pods would
  // otherwise start 110 ethtools on every check.
  const veths = new Set(podVeths(links.names));
  const devs = [...new Set(wanted.map((w) => w.dev))];
  const [features, gro] = await Promise.all([
    kernel.readFeatures(devs.filter((d) => !veths.has(d))),
    kernel.readGro(devs.filter((d) => veths.has(d))),
  ]);
  for (const [dev, state] of gro) features.set(dev, { [GRO]: state });
  const plan = planOffloads(wanted, features);
  if (opts.apply) {
    for (const c of plan.changes) await kernel.setFeatures(c.dev, c.features);
  }
  return plan;
}
