// The first stage: every UDP response leaves through the response rate limiter (see
// rate-limit.ts), cache hits included. TCP is left alone: its client's address cannot be forged,
// and it is where a truncated answer sends a real client. The cluster's own clients (pods and
// nodes) are left alone too: an answer to one of them cannot be aimed at a victim outside the
// cluster, and a pod's burst of lookups is ordinary work, where a dropped answer would cost it
// the resolver's whole timeout (glibc's 5 s).
import type { ClientRanges } from '../client-ranges.js';
import type { DnsMetrics } from '../metrics.js';
import type { Stage } from '../pipeline.js';
import { clientNetwork, type ResponseRateLimiter } from '../rate-limit.js';
import { clientAddress } from '../recursion.js';
import { truncatedResponse } from '../response.js';
import { questionName } from '../wire.js';

/** Client networks remembered per address before the memo starts over. */
const MAX_CLIENTS = 10_000;

export function rateLimitStage(
  limiter: ResponseRateLimiter,
  cluster: ClientRanges,
  metrics: DnsMetrics | undefined,
): Stage {
  // address → its network (or '' for none): parsing an address costs more than answering.
  const networks = new Map<string, string>();
  const networkOf = (client: string): string => {
    let network = networks.get(client);
    if (network === undefined) {
      const ip = clientAddress(client);
      network = ip ? clientNetwork(ip) : '';
      if (networks.size >= MAX_CLIENTS) networks.clear();
      networks.set(client, network);
    }
    return network;
  };
  return (req, next) => {
    const network =
      req.transport === 'udp' && !cluster.contains(req.client) ? networkOf(req.client) : '';
    if (network) {
      req.outgoing = (response, rcode) => {
        // Name, type and class from the cache stage's scan (its key without the client's
        // buffer size, which a flood could vary), else the name alone.
        const key = req.cacheKey;
        let question = key?.slice(0, key.lastIndexOf('|'));
        if (question === undefined) {
          try {
            question = questionName(response).toString('latin1').toLowerCase();
          } catch {
            return response; // a header-only error: nothing to amplify
          }
        }
        const decision = limiter.decide(network, question, rcode);
        if (decision === 'send') return response;
        metrics?.limited(decision);
        return decision === 'slip' ? truncatedResponse(response) : undefined;
      };
    }
    next();
  };
}
