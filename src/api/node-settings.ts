// The ClusterNetwork settings a staged rollout moves one host at a time. While a rollout runs,
// a host's own settings sit on its Node and win over the cluster-wide object, which is written
// last; the agent says on the same Node which of them it has applied. Both live in the store,
// so an agent restarted mid-rollout starts with exactly what it was told.
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork, type Node } from './types.js';

type Spec = ClusterNetwork['spec'];

/** This host's settings during a rollout (JSON: `NodeSettings`). */
export const ANNOTATION_NETWORK_SETTINGS = 'podnet.io/network-settings';
/** The generation of this host's settings its agent has put in the kernel. */
export const ANNOTATION_NETWORK_APPLIED = 'podnet.io/network-applied';

/**
 * The settings a host can run apart from the rest of the cluster for a while, and that its
 * agent applies while it runs.
 */
export const PER_HOST_SETTINGS = ['backend', 'mtu', 'routing', 'proxyMode'] as const;
export type PerHostSetting = (typeof PER_HOST_SETTINGS)[number];

export type NodeSettings = Partial<Pick<Spec, PerHostSetting>> & {
  /** Names one rollout step: the agent reports it back once applied. */
  generation: string;
};

/** The generation a host runs the cluster-wide settings under (no settings of its own). */
export const CLUSTER_GENERATION = 'cluster';

/** The host's own settings, when a rollout gave it some (a malformed value counts as none). */
export function nodeSettingsOf(node: Node | undefined): NodeSettings | undefined {
  const text = node?.metadata.annotations?.[ANNOTATION_NETWORK_SETTINGS];
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const settings = parsed as Record<string, unknown>;
    if (typeof settings.generation !== 'string') return undefined;
    return settings as NodeSettings;
  } catch {
    return undefined;
  }
}

/** The settings this host should run: the cluster-wide ones, with the host's own on top. */
export function effectiveNetwork(spec: Spec | undefined, node: Node | undefined): Spec {
  const base = { ...DEFAULT_CLUSTER_NETWORK, ...spec };
  const own = nodeSettingsOf(node);
  if (!own) return base;
  const out = { ...base };
  for (const key of PER_HOST_SETTINGS) {
    if (own[key] !== undefined) Object.assign(out, { [key]: own[key] });
  }
  return out;
}

/** The generation the host should report once applied. */
export function wantedGeneration(node: Node | undefined): string {
  return nodeSettingsOf(node)?.generation ?? CLUSTER_GENERATION;
}

/** The generation the host's agent last reported applied. */
export function appliedGeneration(node: Node | undefined): string | undefined {
  return node?.metadata.annotations?.[ANNOTATION_NETWORK_APPLIED];
}
