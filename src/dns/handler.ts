// One query in, one response out, through a pipeline of stages: the caches of encoded answers
// (the hot path: no decoding), parsing, the cluster's own zones, and the upstream resolvers.
// Each query is a DnsRequest the stages read and answer.
import { ClientRanges } from './client-ranges.js';
import type { ClusterIndex } from './cluster-index.js';
import type { Forwarder } from './forwarder.js';
import type { DnsMetrics } from './metrics.js';
import { pipeline } from './pipeline.js';
import { DnsRequest, type Reply, type Transport } from './request.js';
import { ResponseRateLimiter, type RateLimitOptions } from './rate-limit.js';
import { RCODES } from './response.js';
import { AnswerCache } from './stages/cache.js';
import { ClusterAnswers } from './stages/cluster.js';
import { forwardStage } from './stages/forward.js';
import { parseQuery } from './stages/parse.js';
import { rateLimitStage } from './stages/rate-limit.js';
import { RecursionGuard } from './stages/recursion.js';
import type { Cidr } from '../net/index.js';

export interface HandlerOptions {
  index: ClusterIndex;
  /** The cluster domain, lower-case, no trailing dot. */
  domain: string;
  ttl: number;
  forwarder?: Forwarder;
  metrics?: DnsMetrics;
  /** Entries in the cache of encoded cluster answers. */
  cacheSize?: number;
  /**
   * Ranges beside the cluster's own (pods, services, nodes) whose clients may have names outside
   * the cluster resolved; undefined lets every client (a server only its own tests reach).
   */
  recursionAllow?: readonly Cidr[];
  /** Response rate limiting of UDP answers to clients outside the cluster; none when undefined. */
  rateLimit?: RateLimitOptions;
}

export class QueryHandler {
  private readonly serve: (req: DnsRequest) => void;

  constructor(private readonly opts: HandlerOptions) {
    const { index, domain, ttl, forwarder, metrics } = opts;
    const guard = opts.recursionAllow
      ? new RecursionGuard(index, opts.recursionAllow, metrics)
      : undefined;
    const cache = new AnswerCache(index, opts.cacheSize ?? 50_000, forwarder, guard);
    const cluster = new ClusterAnswers({ index, domain, ttl, cache, forwarder });
    const limiter = opts.rateLimit ? new ResponseRateLimiter(opts.rateLimit) : undefined;
    this.serve = pipeline([
      ...(limiter?.enabled ? [rateLimitStage(limiter, new ClientRanges(index, []), metrics)] : []),
      cache.stage,
      parseQuery,
      cluster.stage,
      ...(guard ? [guard.stage] : []),
      // Without upstreams, names outside the cluster are refused at the end of the pipeline.
      ...(forwarder ? [forwardStage(forwarder)] : []),
    ]);
  }

  /**
   * Answers one message from `client` (an address); never throws (a bug answers SERVFAIL).
   * Responses go to `reply`.
   */
  handle(msg: Buffer, transport: Transport, reply: Reply, client = ''): void {
    const req = new DnsRequest(msg, transport, reply, this.opts.metrics, client);
    try {
      this.serve(req);
    } catch {
      req.fail(RCODES.SERVFAIL, 'error');
    }
  }
}
