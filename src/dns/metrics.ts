// Prometheus metrics of the DNS server: queries by type and rcode, cache hits, latency.
// Counting happens in plain maps on the hot path and reaches prom-client when scraped, so a
// query costs a map update rather than a label lookup in the registry.
import { Counter, Registry, type Metric } from 'prom-client';

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export type Source = 'cluster' | 'forward' | 'error' | 'refused';

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

const SOURCES: Source[] = ['cluster', 'forward', 'error', 'refused'];
const SOURCE_INDEX: Record<Source, number> = { cluster: 0, forward: 1, error: 2, refused: 3 };
const TYPE_SLOTS = 257; // query types 0-255, and one slot for every larger type
const RCODE_SLOTS = 32;
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5,
];

export type RateAction = 'slip' | 'drop';

export class DnsMetrics {
  readonly registry = new Registry();
  private readonly recursionRefused = new Counter({
    name: 'podnet_dns_recursion_refused_total',
    help: 'Queries for names outside the cluster refused because the client is outside its ranges',
    registers: [this.registry],
  });
  private readonly rateLimited = new Counter({
    name: 'podnet_dns_rate_limited_total',
    help: 'Responses held back by response rate limiting: sent truncated (slip) or dropped',
    labelNames: ['action'],
    registers: [this.registry],
  });
  /** Queries not yet handed to prom-client, by [type][rcode][source]. */
  private readonly pending = new Float64Array(TYPE_SLOTS * RCODE_SLOTS * SOURCES.length);
  private readonly pendingHits = new Float64Array(SOURCES.length);
  private readonly latency = new LatencyHistogram(
    'podnet_dns_request_duration_seconds',
    'Time from receiving a query to handing its response to the socket',
    LATENCY_BUCKETS,
  );

  constructor() {
    const pending = this.pending;
    const pendingHits = this.pendingHits;
    new Counter({
      name: 'podnet_dns_requests_total',
      help: 'DNS queries answered, by query type, response code and who answered',
      labelNames: ['type', 'rcode', 'source'],
      registers: [this.registry],
      collect() {
        pending.forEach((n, slot) => {
          if (n === 0) return;
          const source = SOURCES[slot % SOURCES.length]!;
          const rcode = Math.floor(slot / SOURCES.length) % RCODE_SLOTS;
          const qtype = Math.floor(slot / SOURCES.length / RCODE_SLOTS);
          this.inc({ type: typeName(qtype), rcode: rcodeName(rcode), source }, n);
        });
        pending.fill(0);
      },
    });
    new Counter({
      name: 'podnet_dns_cache_hits_total',
      help: 'DNS queries answered from a cache of encoded responses',
      labelNames: ['cache'],
      registers: [this.registry],
      collect() {
        pendingHits.forEach((n, i) => n > 0 && this.inc({ cache: SOURCES[i]! }, n));
        pendingHits.fill(0);
      },
    });
    this.registry.registerMetric(this.latency as unknown as Metric);
  }

  refused(): void {
    this.recursionRefused.inc();
  }

  limited(action: RateAction): void {
    this.rateLimited.inc({ action });
  }

  /** Counts one answered query; `started` is performance.now() at its arrival. */
  query(qtype: number, rcode: number, source: Source, cacheHit: boolean, started: number): void {
    const s = SOURCE_INDEX[source];
    const t = qtype < TYPE_SLOTS - 1 ? qtype : TYPE_SLOTS - 1;
    this.pending[(t * RCODE_SLOTS + (rcode & (RCODE_SLOTS - 1))) * SOURCES.length + s]! += 1;
    if (cacheHit) this.pendingHits[s]! += 1;
    this.latency.observe((performance.now() - started) / 1000);
  }
}

/**
 * A Prometheus histogram without labels, kept in a plain array: prom-client's own costs
 * several times more per observation than answering a cached query does.
 */
class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]!) {
        this.counts[i]! += 1;
        break;
      }
    }
    this.sum += seconds;
    this.count++;
  }

  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    let cumulative = 0;
    const values: MetricValue[] = this.bounds.map((le, i) => {
      cumulative += this.counts[i]!;
      return { value: cumulative, labels: { le }, metricName: `${this.name}_bucket` };
    });
    values.push({ value: this.count, labels: { le: '+Inf' }, metricName: `${this.name}_bucket` });
    values.push({ value: this.sum, labels: {}, metricName: `${this.name}_sum` });
    values.push({ value: this.count, labels: {}, metricName: `${this.name}_count` });
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
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
