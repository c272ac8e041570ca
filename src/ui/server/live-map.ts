// The map kept current from the store: one informer per kind the map draws and the BGP status
// watch; every change rebuilds the map (a pure function of the caches, cheap beside a browser's
// redraw) and hands subscribers only the difference. Changes that arrive together are built
// once, a few milliseconds later.
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork } from '../../api/types.js';
import { InformerCache } from '../../store/shared-informers.js';
import type { Store } from '../../store/store.js';
import { watchBgpStatuses, type BgpStatusWatch } from './bgp-watch.js';
import {
  buildMap,
  diffMap,
  MapMemo,
  type Finding,
  type MapElement,
  type MapPatch,
} from './map-model.js';

const BATCH_MS = 20;

export class LiveMap {
  private readonly informers: InformerCache;
  private readonly bgp: BgpStatusWatch;
  private readonly findings = new Map<string, Finding[]>();
  private readonly subscribers = new Set<(patch: MapPatch) => void>();
  private current: MapElement[] = [];
  private readonly memo = new MapMemo();
  private pending: NodeJS.Timeout | undefined;
  private synced = false;

  constructor(
    store: Store,
    private readonly onError: (message: string) => void,
  ) {
    this.informers = new InformerCache(store, { onError: (kind, m) => onError(`${kind}: ${m}`) });
    for (const kind of ['Node', 'Pod', 'Service', 'EndpointSlice', 'ClusterNetwork'] as const) {
      this.informers.informer(kind).addHandler(() => this.schedule());
    }
    this.bgp = watchBgpStatuses(store, () => this.schedule(), onError);
  }

  /** Resolves once every kind is listed; the map is complete from then on. */
  async start(): Promise<void> {
    await Promise.all(
      (['Node', 'Pod', 'Service', 'EndpointSlice', 'ClusterNetwork'] as const).map(
        (k) => this.informers.informer(k).synced,
      ),
    );
    this.synced = true;
    this.rebuild();
  }

  elements(): MapElement[] {
    return this.current;
  }

  nodeNames(): string[] {
    return [...this.informers.informer('Node').cache.values()].map((n) => n.metadata.name);
  }

  /** Failing doctor checks of one node (replacing what it had). */
  setFindings(node: string, findings: Finding[]): void {
    this.findings.set(node, findings);
    this.schedule();
  }

  subscribe(fn: (patch: MapPatch) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async stop(): Promise<void> {
    clearTimeout(this.pending);
    await Promise.all([this.informers.stop(), this.bgp.stop()]);
  }

  private schedule(): void {
    if (!this.synced || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.rebuild();
    }, BATCH_MS);
  }

  private rebuild(): void {
    const values = <T>(m: ReadonlyMap<string, T>): T[] => [...m.values()];
    const networks = values(this.informers.informer('ClusterNetwork').cache) as ClusterNetwork[];
    const spec = networks.find((n) => n.metadata.name === 'default')?.spec;
    try {
      const next = buildMap(
        {
          network: { ...DEFAULT_CLUSTER_NETWORK, ...spec },
          nodes: values(this.informers.informer('Node').cache),
          pods: values(this.informers.informer('Pod').cache),
          services: values(this.informers.informer('Service').cache),
          slices: values(this.informers.informer('EndpointSlice').cache),
          bgp: values(this.bgp.statuses),
          findings: this.findings,
        },
        this.memo,
      );
      const patch = diffMap(this.current, next);
      this.current = next;
      if (patch.upsert.length === 0 && patch.remove.length === 0) return;
      for (const fn of this.subscribers) fn(patch);
    } catch (err) {
      this.onError(`building the map: ${(err as Error).message}`);
    }
  }
}
