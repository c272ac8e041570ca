// podnet's DNS server with a fixed set of cluster objects (read from a JSON file) instead of a
// store: the benchmark measures only answering, and wire-level tests need no store.
// Usage: node dist/test/helpers/dns-serve.js OBJECTS.json PORT WORKERS [UPSTREAM:PORT]
// (DNS_LISTEN sets the address, default 0.0.0.0).
import { readFileSync } from 'node:fs';
import type { KubeObject } from '../../src/api/types.js';
import { runDns } from '../../src/dns/run.js';
import { parseCidr } from '../../src/net/index.js';

const [file, port, workers, upstream] = process.argv.slice(2);
const objects = JSON.parse(readFileSync(file!, 'utf8')) as KubeObject[];
const [uhost, uport] = (upstream ?? '').split(':');

await runDns({
  listen: process.env.DNS_LISTEN ?? '0.0.0.0',
  port: Number(port),
  domain: 'cluster.local',
  ttl: 5,
  upstreams: upstream ? [{ host: uhost!, port: Number(uport) }] : [],
  // Only the test's own clients reach it, and the benchmark measures answering: no limits.
  recursionAllow: [parseCidr('0.0.0.0/0')],
  rateLimit: { perSecond: 0, slip: 0 },
  metrics: '',
  workers: Number(workers ?? 1),
  source: async (index) => {
    index.replaceAll(objects);
    return { stop: async () => {} };
  },
});
