// The first stage: every UDP response leaves through the response rate limiter (see
// rate-limit.ts), cache hits included. TCP is left alone: its client's address cannot be forged,
// and it is where a truncated answer sends a real client.
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
    const network = req.transport === 'udp' ? networkOf(req.client) : '';
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
