// What the lab's pod runner asks containerd for, as pure functions of Pod objects: kubelet's
// sandbox and container configs, which sandboxes to run or remove, and the Pod status read
// back from the CRI.
import type { ContainerStatus, Pod } from '../api/types.js';
import type {
  Container,
  ContainerConfig,
  ContainerStatus as CriContainerStatus,
  Sandbox,
  SandboxConfig,
  SandboxStatus,
} from './cri-client.js';
import { WORKLOAD_IMAGE } from './images.js';
import { criExit, criTime, type RestartStep } from './cri-restarts.js';

export interface ClusterDns {
  ip: string;
  domain: string;
}

/** kubelet's sandbox config: the pod's identity, ClusterFirst DNS, and the pod network. */
export function sandboxConfig(pod: Pod, dns: ClusterDns, logDir: string): SandboxConfig {
  const namespace = pod.metadata.namespace ?? 'default';
  return {
    metadata: {
      name: pod.metadata.name,
      uid: pod.metadata.uid ?? '',
      namespace,
      attempt: 0,
    },
    hostname: pod.spec.hostname ?? pod.metadata.name,
    log_directory: logDir,
    labels: {
      'io.kubernetes.pod.name': pod.metadata.name,
      'io.kubernetes.pod.namespace': namespace,
      'io.kubernetes.pod.uid': pod.metadata.uid ?? '',
    },
    annotations: {},
    dns_config: {
      servers: [dns.ip],
      searches: [`${namespace}.svc.${dns.domain}`, `svc.${dns.domain}`, dns.domain],
      options: ['ndots:5'],
    },
    linux: {},
  };
}

/**
 * What the lab lends every container, as its own runner does: podnet's programs (the repo and
 * the machine's libraries its Node.js needs, read-only) and the lab's store, so that a pod
 * such as the cluster DNS can run `podnet`.
 */
export interface LabShare {
  binDir: string;
  readOnly: string[];
  readWrite: string[];
  env: Record<string, string>;
}

/**
 * Each container of the pod, run from the lab's busybox image (no registry is reachable, so
 * `image` is not pulled): `command` and `args` as given, or the image's wait-forever default.
 */
export function containerConfigs(pod: Pod, share: LabShare): ContainerConfig[] {
  const mounts = [
    ...share.readOnly.map((p) => ({ container_path: p, host_path: p, readonly: true })),
    ...share.readWrite.map((p) => ({ container_path: p, host_path: p, readonly: false })),
  ];
  const base = {
    ...share.env,
    PATH: `${share.binDir}:/bin`,
    POD_NAME: pod.metadata.name,
    POD_NAMESPACE: pod.metadata.namespace ?? 'default',
  };
  return pod.spec.containers.map((c) => ({
    metadata: { name: c.name, attempt: 0 },
    image: { image: WORKLOAD_IMAGE },
    command: c.command ?? [],
    args: c.args ?? [],
    envs: [
      ...Object.entries(base).map(([key, value]) => ({ key, value: Buffer.from(value) })),
      ...(c.env ?? []).map((e) => ({ key: e.name, value: Buffer.from(e.value ?? '') })),
    ],
    labels: { 'io.kubernetes.container.name': c.name },
    mounts,
    log_path: `${c.name}.log`,
    linux: {},
  }));
}

function sameKey(pod: Pod, s: Sandbox): boolean {
  return (
    s.metadata.name === pod.metadata.name &&
    s.metadata.namespace === (pod.metadata.namespace ?? 'default')
  );
}

export interface SandboxActions {
  run: Pod[];
  remove: Sandbox[];
}

/**
 * What to change so the host's sandboxes are the node's pods: a sandbox with no pod, of a pod
 * replaced under its name (new uid), or no longer ready (its processes died) is removed; a pod
 * with no ready sandbox gets one, as kubelet makes a new sandbox when the old one is gone.
 */
export function sandboxActions(
  desired: readonly Pod[],
  sandboxes: readonly Sandbox[],
): SandboxActions {
  const remove: Sandbox[] = [];
  const kept = new Set<Pod>();
  for (const s of sandboxes) {
    const pod = desired.find((p) => sameKey(p, s));
    const replaced = pod?.metadata.uid !== undefined && pod.metadata.uid !== s.metadata.uid;
    if (!pod || replaced || s.state !== 'SANDBOX_READY') remove.push(s);
    else kept.add(pod);
  }
  return { run: desired.filter((p) => !kept.has(p)), remove };
}

/**
 * A CRI container's state as the Pod's containerStatuses say it; `step` (the runner's restart
 * decision) tells an exited container waiting out its back-off from one that ended for good.
 */
export function containerStatusOf(c: CriContainerStatus, step?: RestartStep): ContainerStatus {
  const last = step?.record.last;
  const base = {
    name: c.metadata.name,
    image: WORKLOAD_IMAGE,
    restartCount: c.metadata.attempt,
    ready: c.state === 'CONTAINER_RUNNING',
    started: c.state === 'CONTAINER_RUNNING',
  };
  if (c.state === 'CONTAINER_RUNNING') {
    return {
      ...base,
      state: { running: { startedAt: criTime(c.started_at) } },
      ...(last ? { lastState: { terminated: { ...last } } } : {}),
    };
  }
  if (c.state !== 'CONTAINER_EXITED') {
    return { ...base, state: { waiting: { reason: 'ContainerCreating' } } };
  }
  const exit = criExit(c);
  if (step?.action === 'wait') {
    const message = `back-off ${step.record.backoffSeconds}s restarting failed container=${c.metadata.name}`;
    return {
      ...base,
      state: { waiting: { reason: 'CrashLoopBackOff', message } },
      lastState: { terminated: exit },
    };
  }
  return { ...base, state: { terminated: exit } };
}

/** A container's config for its next run: the next attempt, with a log file of its own. */
export function restartedConfig(config: ContainerConfig, previous: Container): ContainerConfig {
  const attempt = previous.metadata.attempt + 1;
  return {
    ...config,
    metadata: { name: config.metadata.name, attempt },
    log_path: `${config.metadata.name}.${attempt}.log`,
  };
}

/** The latest attempt of each of the pod's containers in its sandbox, by container name. */
export function latestAttempts<T extends Container>(containers: readonly T[]): Map<string, T> {
  const latest = new Map<string, T>();
  for (const c of containers) {
    const seen = latest.get(c.metadata.name);
    if (!seen || seen.metadata.attempt < c.metadata.attempt) latest.set(c.metadata.name, c);
  }
  return latest;
}

/** Containers of the pod that were never created in this sandbox. */
export function missingContainers(pod: Pod, existing: readonly Container[]): string[] {
  const have = new Set(existing.map((c) => c.metadata.name));
  return pod.spec.containers.map((c) => c.name).filter((n) => !have.has(n));
}

/** The sandbox's address, as containerd got it from the CNI plugin. */
export function sandboxIP(status: SandboxStatus): string | undefined {
  const ip = status.network?.ip;
  return ip ? ip : undefined;
}
