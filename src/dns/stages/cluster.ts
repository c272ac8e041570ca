// Answers questions about the cluster's zones from the cluster index (records.ts decides the
// answer); anything outside them goes on to the next stage. An ExternalName's CNAME is
// followed through the forwarder, as resolvers expect the target's addresses with it.
import dnsPacket from 'dns-packet';
import { clusterCIDRsOf, serviceCIDRsOf } from '../../api/cluster-families.js';
import type { ClusterIndex } from '../cluster-index.js';
import type { Forwarder } from '../forwarder.js';
import type { Stage } from '../pipeline.js';
import {
  answerQuestion,
  nxdomain,
  reverseZonesFor,
  zoneOf,
  type AnswerResult,
  type Result,
  type ZoneConfig,
} from '../records.js';
import type { DnsRequest } from '../request.js';
import { encodeResult, FLAG_RD, FLAG_TC, RCODES } from '../response.js';
import { scanQuery } from '../wire.js';
import type { AnswerCache } from './cache.js';

export interface ClusterAnswerOptions {
  index: ClusterIndex;
  /** The cluster domain, lower-case, no trailing dot. */
  domain: string;
  ttl: number;
  /** Where answers are kept for the next asker. */
  cache: AnswerCache;
  /** For the targets of ExternalName services. */
  forwarder: Forwarder | undefined;
}

export class ClusterAnswers {
  private zone: ZoneConfig;
  private version: number;

  constructor(private readonly opts: ClusterAnswerOptions) {
    this.version = opts.index.version;
    this.zone = this.zoneConfig();
  }

  readonly stage: Stage = (req, next) => {
    if (this.version !== this.opts.index.version) {
      this.version = this.opts.index.version;
      this.zone = this.zoneConfig();
    }
    const q = req.question!;
    let result: Result;
    if (q.name === undefined) {
      const inZone = zoneOf(q.text.toLowerCase(), this.zone);
      result = inZone ? nxdomain(inZone.zone, this.zone) : { kind: 'forward' };
    } else {
      result = answerQuestion(
        { name: q.name, type: q.type, class: q.class },
        this.opts.index,
        this.zone,
      );
    }
    if (result.kind === 'forward') {
      next();
      return;
    }
    const target = externalTarget(result, q.type, this.zone);
    const forwarder = this.opts.forwarder;
    if (target && forwarder) {
      chase(result, target, q.type, forwarder)
        .catch(() => result) // the upstream failed: the CNAME alone
        .then((chased) => this.finish(req, chased, false))
        .catch(() => req.sendError(RCODES.SERVFAIL));
      return;
    }
    this.finish(req, result, true);
  };

  /** Encodes, truncates for UDP when too big, keeps what can be reused, and replies. */
  private finish(req: DnsRequest, result: AnswerResult, cacheable: boolean): void {
    let response = encodeResult(req, result);
    if (response.length > req.sizeLimit) {
      const empty = { ...result, answers: [], authorities: [], additionals: [] };
      response = encodeResult(req, empty, 0, FLAG_TC);
    } else if (cacheable && req.cacheKey && result.rcode !== 'SERVFAIL') {
      this.opts.cache.remember(req.cacheKey, response);
    }
    req.respond(response, 'cluster', RCODES[result.rcode]);
  }

  private zoneConfig(): ZoneConfig {
    const net = this.opts.index.network;
    const cidrs = net
      ? [...serviceCIDRsOf(net), ...clusterCIDRsOf(net)]
      : ['10.96.0.0/16', '10.244.0.0/16'];
    return { domain: this.opts.domain, reverseZones: reverseZonesFor(cidrs), ttl: this.opts.ttl };
  }
}

/** The CNAME target to resolve for an address query, when the answer is one CNAME out of the zone. */
function externalTarget(result: AnswerResult, qtype: string, zone: ZoneConfig): string | undefined {
  if (qtype !== 'A' && qtype !== 'AAAA') return undefined;
  const only = result.answers.length === 1 ? result.answers[0] : undefined;
  if (only?.type !== 'CNAME') return undefined;
  const target = only.data.toLowerCase();
  return zoneOf(target, zone) ? undefined : target;
}

/** Appends the upstream's answer for an ExternalName's target to the CNAME. */
async function chase(
  result: AnswerResult,
  target: string,
  type: string,
  forwarder: Forwarder,
): Promise<AnswerResult> {
  const query = dnsPacket.encode({
    type: 'query',
    id: 0,
    flags: FLAG_RD,
    questions: [{ name: target, type: type as 'A', class: 'IN' }],
  });
  const scanned = scanQuery(query, 'udp');
  const response =
    (scanned && forwarder.cached(scanned, query)) ??
    (await forwarder.resolve(query, 'tcp', scanned?.key));
  const answers = dnsPacket.decode(response).answers ?? [];
  return { ...result, answers: [...result.answers, ...answers] };
}
