// The first stage: hot names answered from caches of encoded responses without decoding the
// query — cluster answers kept here (keyed by the lower-cased question, type, class and the
// client's size limit, patched for the asker), forwarded answers from the forwarder's own
// cache. Cluster answers are dropped whenever the cluster index changes, so a stale cluster
// answer is never served.
import type { ClusterIndex } from '../cluster-index.js';
import type { Forwarder } from '../forwarder.js';
import type { Stage } from '../pipeline.js';
import type { RecursionGuard } from './recursion.js';
import { indexResponse, patchResponse, scanQuery, type EncodedResponse } from '../wire.js';

export class AnswerCache {
  private readonly entries = new Map<string, EncodedResponse>();
  private version = -1;

  constructor(
    private readonly index: ClusterIndex,
    private readonly size: number,
    private readonly forwarder: Forwarder | undefined,
    /** Asked before a forwarded answer is served: it is recursion like any other. */
    private readonly recursion: RecursionGuard | undefined,
  ) {}

  readonly stage: Stage = (req, next) => {
    if (this.version !== this.index.version) {
      this.entries.clear();
      this.version = this.index.version;
    }
    const scanned = scanQuery(req.msg, req.transport);
    req.scanned = scanned;
    if (scanned) {
      const hit = this.entries.get(scanned.key);
      if (hit) {
        req.qtype = scanned.qtype;
        req.respond(
          patchResponse(hit, req.msg, scanned.nameEnd),
          'cluster',
          hit.buf[3]! & 0x0f,
          true,
        );
        return;
      }
      const forwarded =
        this.recursion?.allows(req.client) === false
          ? undefined
          : this.forwarder?.cached(scanned, req.msg);
      if (forwarded) {
        req.qtype = scanned.qtype;
        req.respond(forwarded, 'forward', forwarded[3]! & 0x0f, true);
        return;
      }
    }
    next();
  };

  /** Keeps an encoded cluster answer for the next asker of the same question. */
  remember(key: string, response: Buffer): void {
    const indexed = indexResponse(response);
    if (!indexed) return;
    if (this.entries.size >= this.size) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, indexed);
  }
}
