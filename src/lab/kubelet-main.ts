// `podnet lab kubelet --node N`: the pod runner process of one lab host. Binds the runner to
// the lab's store: an informer over Pods, and status writes with compare-and-swap.
import { createLogger } from '../util/log.js';
import { OperationError } from '../util/errors.js';
import { podHostOf } from './pods.js';
import { readLabState } from './state.js';
import {
  startKubelet,
  type Kubelet,
  type PodRemover,
  type PodSource,
  type StatusWriter,
} from './kubelet.js';
import { openSource } from '../kube/open.js';
import { labSourceUrl } from './kube-accounts.js';
import { startInformer } from '../store/informer.js';
import { updateObject } from '../store/objects.js';
import { finishPodDeletion } from '../registry/delete.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { DEFAULT_CLUSTER_NETWORK } from '../api/types.js';
import { dirname, join } from 'node:path';
import { repoBinDir } from './paths.js';
import { containerdPaths } from './containerd.js';
import type { CriHost } from './cri-kubelet.js';
import type { Pod } from '../api/types.js';
import type { LabState } from './state.js';

export async function runKubelet(labDir: string, node: string): Promise<void> {
  const state = readLabState(labDir);
  if (!state) throw new OperationError(`no lab.json in ${labDir}`);
  const log = createLogger('podnet-kubelet', { lab: state.name, node });
  const store = await openSource(labSourceUrl(state, { role: 'pod-runner', host: node }), {
    onRefused: (err) => {
      log.error({ err: err.message }, 'the Kubernetes API refused this pod runner');
      process.exit(1);
    },
  });
  // Informer changes reach the runner once it exists (the informer starts first).
  const changed = { notify: (): void => {} };
  const { source, writeStatus } = await storeBinding(store, () => changed.notify(), log);
  const removePod = async (pod: Pod): Promise<void> => {
    await finishPodDeletion(store, pod);
  };
  const kubelet =
    state.options.runtime === 'containerd'
      ? await startContainerdRunner(state, node, log, source, writeStatus, removePod)
      : startKubelet(
          podHostOf(state, node, log),
          source,
          writeStatus,
          removePod,
          undefined,
          backoffBaseSeconds(),
        );
  changed.notify = kubelet.trigger;
  log.info('pod runner started');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  // Pods keep running: a restarted runner takes them over from their records.
  await kubelet.stop();
  await store.close();
  log.info('pod runner stopped; pods left running');
}

function labHost(state: LabState, node: string): LabState['hosts'][number] {
  const host = state.hosts.find((h) => h.name === node);
  if (!host) throw new OperationError(`--node ${node}: lab ${state.name} has no such host`);
  return host;
}

/**
 * The runner over containerd's CRI. Its gRPC client is loaded only here: on the lab's own
 * runtime it would cost every pod runner's start the gRPC and protobuf modules.
 */
async function startContainerdRunner(
  state: LabState,
  node: string,
  log: Logger,
  source: PodSource,
  writeStatus: StatusWriter,
  removePod: PodRemover,
): Promise<Kubelet> {
  const [{ CriClient }, { startCriKubelet }] = await Promise.all([
    import('./cri-client.js'),
    import('./cri-kubelet.js'),
  ]);
  const cri = new CriClient(containerdPaths(labHost(state, node).stateDir).socket);
  return startCriKubelet(cri, criHostOf(state, node, log), source, writeStatus, removePod);
}

function criHostOf(state: LabState, node: string, log: Logger): CriHost {
  const host = labHost(state, node);
  return {
    node,
    hostIP: host.ip,
    dns: { ip: DEFAULT_CLUSTER_NETWORK.dnsIP, domain: DEFAULT_CLUSTER_NETWORK.domain },
    logDir: join(containerdPaths(host.stateDir).dir, 'pods'),
    share: {
      binDir: repoBinDir(),
      readOnly: [dirname(repoBinDir()), '/usr', '/lib', '/lib64'],
      readWrite: [state.stateDir],
      env: {
        PODNET_STORE: state.hostStoreUrl,
        PODNET_LAB: state.name,
        NODE_NAME: node,
        HOST_IP: host.ip,
      },
    },
    backoffBaseSeconds: backoffBaseSeconds(),
    log,
  };
}

/**
 * The crash-loop back-off's first delay: kubelet's 10 s, or `PODNET_BACKOFF_BASE_SECONDS`
 * (tests shorten it so that a crash loop shows in seconds).
 */
function backoffBaseSeconds(): number | undefined {
  const v = Number(process.env.PODNET_BACKOFF_BASE_SECONDS);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Pods from an informer over the lab's store; status written with compare-and-swap. */
async function storeBinding(
  store: Store,
  onChange: () => void,
  log: Logger,
): Promise<{ source: PodSource; writeStatus: StatusWriter }> {
  const informer = startInformer(store, 'Pod', {
    onChange,
    onError: (message) => log.warn({ err: message }, 'pod watch failed; listing again'),
  });
  const source: PodSource = {
    synced: informer.synced,
    list: () => [...informer.cache.values()],
    stop: () => informer.stop(),
  };
  const writeStatus: StatusWriter = async (pod, status) => {
    await updateObject(store, 'Pod', pod.metadata.namespace, pod.metadata.name, (current) => {
      // Only the pod the status was computed for: a pod replaced meanwhile keeps its own.
      if (pod.metadata.uid && current.metadata.uid !== pod.metadata.uid) return undefined;
      // The runner owns the why of a pod's state: a reason or message it no longer gives goes.
      const next = { ...current.status, ...status };
      if (status.reason === undefined) delete next.reason;
      if (status.message === undefined) delete next.message;
      return { ...current, status: next };
    });
  };
  return { source, writeStatus };
}
