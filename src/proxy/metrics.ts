// Sync metrics in kube-proxy's shape, on the agent's registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ProxyMetrics {
  duration: Histogram<'mode' | 'kind'>;
  lastSync: Gauge;
  objects: Gauge<'kind'>;
  syncs: Counter<'reason' | 'kind' | 'result'>;
}

export function proxyMetrics(registry: Registry): ProxyMetrics {
  const registers = [registry];
  return {
    duration: new Histogram({
      name: 'podnet_sync_proxy_rules_duration_seconds',
      help: 'How long one sync of service rules into the kernel took',
      labelNames: ['mode', 'kind'],
      buckets: [
        0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1, 2, 4, 8, 16, 32,
      ],
      registers,
    }),
    lastSync: new Gauge({
      name: 'podnet_sync_proxy_rules_last_timestamp_seconds',
      help: 'When the last successful sync of service rules finished (unix seconds)',
      registers,
    }),
    objects: new Gauge({
      name: 'podnet_sync_proxy_rules_count',
      help: 'Rules (iptables rules, nft rules) and nft set/map elements podnet has programmed',
      labelNames: ['kind'],
      registers,
    }),
    syncs: new Counter({
      name: 'podnet_sync_proxy_rules_total',
      help: 'Syncs of service rules, by why they ran, full or partial, and outcome',
      labelNames: ['reason', 'kind', 'result'],
      registers,
    }),
  };
}
