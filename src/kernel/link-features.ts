// Device features (offloads) as ethtool reads and sets them: `ethtool --json -k` lists every
// feature of a device with whether it is on and whether the driver lets it change (`fixed`);
// `ethtool -K` changes several of one device in one call.
import { OperationError } from '../util/errors.js';
import { run, runJson } from '../process/run.js';
import { POD_LINK_PROGRAM } from './pod-link-session.js';

export interface FeatureState {
  active: boolean;
  /** The driver does not let this feature change. */
  fixed: boolean;
}

/** One device's features by ethtool's name (`generic-receive-offload`, ...). */
export type LinkFeatures = Record<string, FeatureState>;

type EthtoolFeatures = Record<string, { active?: boolean; fixed?: boolean | null } | string>;

/** The features of each of `devs` that exists (a missing device is left out). */
export async function readLinkFeatures(
  netns: string | undefined,
  devs: readonly string[],
): Promise<Map<string, LinkFeatures>> {
  const read = await Promise.all(
    devs.map(async (dev) => {
      const r = await run(['ethtool', '--json', '-k', dev], { netns, okCodes: [1, 71, 255] });
      if (r.code !== 0) return undefined;
      const [table] = JSON.parse(r.stdout) as EthtoolFeatures[];
      const features: LinkFeatures = {};
      for (const [name, value] of Object.entries(table ?? {})) {
        if (typeof value === 'string') continue; // ifname
        features[name] = { active: value.active === true, fixed: value.fixed === true };
      }
      return [dev, features] as const;
    }),
  );
  return new Map(read.filter((x) => x !== undefined));
}

/** The states in podnet-pod-link's answer to `gro DEV...`, in the order asked. */
export function groStatesFromAnswer(
  answer: string,
  devs: readonly string[],
): Map<string, FeatureState> {
  const [ok, ...states] = answer.trim().split(' ');
  if (ok !== 'ok' || states.length !== devs.length) {
    throw new OperationError(`podnet-pod-link answered "${answer.trim()}" to a GRO read`);
  }
  const read = new Map<string, FeatureState>();
  devs.forEach((dev, i) => {
    if (states[i] !== '-') read.set(dev, { active: states[i] === 'on', fixed: false });
  });
  return read;
}

/**
 * GRO alone of each of `devs` that exists, all in one run of podnet-pod-link: for the pods'
 * veths, where `ethtool -k` would start a process per veth.
 */
export async function readGro(
  netns: string | undefined,
  devs: readonly string[],
): Promise<Map<string, FeatureState>> {
  if (devs.length === 0) return new Map();
  const r = await run([POD_LINK_PROGRAM], { netns, input: `gro ${devs.join(' ')}\n` });
  return groStatesFromAnswer(r.stdout, devs);
}

/** Turns features of one device on or off, all in one ethtool call. */
export async function setLinkFeatures(
  netns: string | undefined,
  dev: string,
  features: Record<string, boolean>,
): Promise<void> {
  const args = Object.entries(features).flatMap(([f, on]) => [f, on ? 'on' : 'off']);
  const r = await run(['ethtool', '-K', dev, ...args], { netns, okCodes: [0, 1, 71, 255] });
  if (r.code !== 0) {
    throw new OperationError(
      `failed to set features of ${dev} (${args.join(' ')}): ${r.stderr.trim() || `ethtool exited ${r.code}`}`,
    );
  }
}

interface AddrJson {
  ifname: string;
  addr_info?: { local: string }[];
}

/** Every link's name, and the one that holds `nodeIP` (the underlay device). */
export async function readTunedLinks(
  netns: string | undefined,
  nodeIP: string,
): Promise<{ names: string[]; underlay?: string }> {
  const links = await runJson<AddrJson[]>(['ip', '-j', 'addr', 'show'], { netns });
  return {
    names: links.map((l) => l.ifname),
    underlay: links.find((l) => l.addr_info?.some((a) => a.local === nodeIP))?.ifname,
  };
}

/** The offload reconcile's kernel access, bound to one namespace (absent: this process's). */
export function offloadKernel(netns?: string): {
  readLinks(nodeIP: string): Promise<{ names: string[]; underlay?: string }>;
  readFeatures(devs: readonly string[]): Promise<Map<string, LinkFeatures>>;
  readGro(devs: readonly string[]): Promise<Map<string, FeatureState>>;
  setFeatures(dev: string, features: Record<string, boolean>): Promise<void>;
} {
  return {
    readLinks: (nodeIP) => readTunedLinks(netns, nodeIP),
    readFeatures: (devs) => readLinkFeatures(netns, devs),
    readGro: (devs) => readGro(netns, devs),
    setFeatures: (dev, features) => setLinkFeatures(netns, dev, features),
  };
}
