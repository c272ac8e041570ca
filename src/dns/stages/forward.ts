// The last stage when upstreams are configured: the query goes to them as it came.
import type { Forwarder } from '../forwarder.js';
import type { Stage } from '../pipeline.js';
import { RCODES } from '../response.js';

export function forwardStage(forwarder: Forwarder): Stage {
  return (req) => {
    forwarder
      .resolve(req.msg, req.transport, req.cacheKey)
      .then(
        (response) => req.respond(response, 'forward', response[3]! & 0x0f),
        () => req.fail(RCODES.SERVFAIL, 'forward'),
      )
      .catch(() => {
        /* the reply could not be sent (socket closed): nothing left to do */
      });
  };
}
