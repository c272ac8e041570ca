// The first stage: every UDP response leaves through the response rate limiter (see
// rate-limit.ts), cache hits included. TCP is left alone: its client's address cannot be forged,
// and it is where a truncated answer sends a real client.
import type { DnsMetrics } from '../metrics.js';
import type { Stage } from '../pipeline.js';
import { clientNetwork, type ResponseRateLimiter } from '../rate-limit.js';
import { clientAddress } from '../recursion.js';
import { truncatedResponse } from '../response.js';
import { questionName } from '../wire.js';

export function rateLimitStage(
  limiter: ResponseRateLimiter,
  metrics: DnsMetrics | undefined,
): Stage {
  return (req, next) => {
    const ip = req.transport === 'udp' ? clientAddress(req.client) : undefined;
    if (ip) {
      const network = clientNetwork(ip);
      req.outgoing = (response, rcode) => {
        let qname: string;
        try {
          qname = questionName(response).toString('latin1').toLowerCase();
        } catch {
          return response; // a header-only error: nothing to amplify
        }
        const decision = limiter.decide(network, qname, rcode);
        if (decision === 'send') return response;
        metrics?.limited(decision);
        return decision === 'slip' ? truncatedResponse(response) : undefined;
      };
    }
    next();
  };
}
