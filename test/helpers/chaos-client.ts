// The chaos run's traffic, run inside a client pod's namespace:
//   node chaos-client.js NAME PORT PER_SECOND
// Opens a new connection per request at a fixed rate (open loop: a stalled request does not
// hold back the next), resolving NAME through the pod's resolv.conf each time (glibc, as a
// workload would), and prints one JSON line per request once it ends (see ChaosRequest).
import { lookup } from 'node:dns';
import { get } from 'node:http';

/** One request as printed: start (epoch ms), how long it took, and who answered or why not. */
export interface ChaosRequest {
  start: number;
  ms: number;
  lookupMs: number;
  ok: boolean;
  /** The echo pod that answered. */
  pod?: string;
  /** What failed: `lookup` (DNS) or `http`, and the error code. */
  stage?: 'lookup' | 'http';
  error?: string;
}

const REQUEST_TIMEOUT_MS = 15_000;

function once(name: string, port: number): void {
  const start = Date.now();
  const done = (r: Omit<ChaosRequest, 'start' | 'ms'>): void => {
    process.stdout.write(`${JSON.stringify({ start, ms: Date.now() - start, ...r })}\n`);
  };
  // IPv4 only: one A question per lookup, as the service has only an IPv4 cluster IP.
  lookup(name, { family: 4 }, (err, address) => {
    const lookupMs = Date.now() - start;
    if (err) return done({ lookupMs, ok: false, stage: 'lookup', error: err.code ?? 'ERROR' });
    const req = get({ host: address, port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => {
        try {
          done({ lookupMs, ok: true, pod: (JSON.parse(body) as { pod: string }).pod });
        } catch {
          done({ lookupMs, ok: false, stage: 'http', error: 'BAD_ANSWER' });
        }
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error(), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      done({ lookupMs, ok: false, stage: 'http', error: e.code ?? 'ERROR' }),
    );
  });
}

// getaddrinfo runs on libuv's thread pool (4 threads by default): lookups stuck in a resolver
// timeout would hold back every other request and show as a gap podnet did not cause.
process.env.UV_THREADPOOL_SIZE = '128';
const [name, portText, rateText] = process.argv.slice(2);
if (!name || !Number(portText) || !Number(rateText)) {
  process.stderr.write('usage: chaos-client NAME PORT PER_SECOND\n');
  process.exit(2);
}
setInterval(() => once(name, Number(portText)), 1000 / Number(rateText));
