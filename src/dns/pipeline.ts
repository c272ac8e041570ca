// Stages a query passes through, in order, as CoreDNS chains its plugins: each stage either
// answers the request or hands it to the next one. What none of them answers is refused.
import type { DnsRequest } from './request.js';
import { RCODES } from './response.js';

export type Stage = (req: DnsRequest, next: () => void) => void;

/** One function that runs `stages` in order for a request. */
export function pipeline(stages: readonly Stage[]): (req: DnsRequest) => void {
  const run = (req: DnsRequest, i: number): void => {
    const stage = stages[i];
    if (stage) stage(req, () => run(req, i + 1));
    else req.fail(RCODES.REFUSED, 'refused');
  };
  return (req) => run(req, 0);
}
