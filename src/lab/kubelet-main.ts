// `podnet lab kubelet --node N`: the pod runner process of one lab host. Binds the runner to
// the lab's store: an informer over Pods, and status writes with compare-and-swap.
import { createLogger } from '../util/log.js';
import { OperationError } from '../util/errors.js';
import { podHostOf } from './pods.js';
import { readLabState } from './state.js';
import { startKubelet, type PodSource, type StatusWriter } from './kubelet.js';

export async function runKubelet(labDir: string, node: string): Promise<void> {
  const state = readLabState(labDir);
  if (!state) throw new OperationError(`no lab.json in ${labDir}`);
  const log = createLogger('podnet-kubelet', { lab: state.name, node });
  const host = podHostOf(state, node, log);
  const { source, writeStatus } = await storeBinding(state.storeUrl);
  const kubelet = startKubelet(host, source, writeStatus);
  log.info('pod runner started');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  // Pods keep running: a restarted runner takes them over from their records.
  await kubelet.stop();
  log.info('pod runner stopped; pods left running');
}

/** Interim until the store lands in main: the runner has no source of Pod objects yet. */
async function storeBinding(
  storeUrl: string,
): Promise<{ source: PodSource; writeStatus: StatusWriter }> {
  throw new OperationError(`store ${storeUrl}: no store backend is built yet`);
}
