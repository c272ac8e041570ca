// Prometheus metrics of the DNS server: queries by type and rcode, cache hits, latency.
// Counting happens in plain maps on the hot path and reaches prom-client when scraped, so a
// query costs a map update rather than a label lookup in the registry.
import { Counter, Histogram, Registry } from 'prom-client';

export type Source = 'cluster' | 'forward' | 'error' | 'refused';

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export class DnsMetrics {
  readonly registry = new Registry();
  private readonly pending = new Map<string, number>();
  private readonly pendingHits = new Map<string, number>();
  private readonly latency: Histogram;

  constructor() {
    const pending = this.pending;
    const pendingHits = this.pendingHits;
    new Counter({
      name: 'podnet_dns_requests_total',
      help: 'DNS queries answered, by query type, response code and who answered',
      labelNames: ['type', 'rcode', 'source'],
      registers: [this.registry],
      collect() {
        for (const [key, n] of pending) {
          const [type, rcode, source] = key.split('|') as [string, string, string];
          this.inc({ type: typeName(Number(type)), rcode: rcodeName(Number(rcode)), source }, n);
        }
        pending.clear();
      },
    });
    new Counter({
      name: 'podnet_dns_cache_hits_total',
      help: 'DNS queries answered from a cache of encoded responses',
      labelNames: ['cache'],
      registers: [this.registry],
      collect() {
        for (const [cache, n] of pendingHits) this.inc({ cache }, n);
        pendingHits.clear();
      },
    });
    this.latency = new Histogram({
      name: 'podnet_dns_request_duration_seconds',
      help: 'Time from receiving a query to handing its response to the socket',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5],
      registers: [this.registry],
    });
  }

  query(qtype: number, rcode: number, source: Source, cacheHit: boolean, started: bigint): void {
    const key = `${qtype}|${rcode}|${source}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    if (cacheHit) this.pendingHits.set(source, (this.pendingHits.get(source) ?? 0) + 1);
    this.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }
}

const TYPE_NAMES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  64: 'SVCB',
  65: 'HTTPS',
  255: 'ANY',
};

/** Label values `A`, `SRV`, ... (rare types as `other`, to keep the label set small). */
function typeName(qtype: number): string {
  return TYPE_NAMES[qtype] ?? 'other';
}

function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? (rcode === 16 ? 'BADVERS' : String(rcode));
}
