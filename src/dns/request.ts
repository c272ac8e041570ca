// One query as the stages see it: the message and how it came (protocol, reply path), what
// the fast scan found, and — once parsed — the question, EDNS size, DO bit and the size the
// response must fit. Stages answer through respond(), which also counts the query.
import type { DnsMetrics, Source } from './metrics.js';
import { errorResponse } from './response.js';
import { udpLimit, type ScannedQuery } from './wire.js';

export type Transport = 'udp' | 'tcp';
export type Reply = (response: Buffer) => void;
/** What becomes of a response on its way out: itself, another (truncated) one, or nothing. */
export type OutgoingFilter = (response: Buffer, rcode: number) => Buffer | undefined;

/** The one question of a parsed query. */
export interface Question {
  /** As text; undefined when a label holds a dot, which no name in the zone has. */
  name: string | undefined;
  /** As text, for the cluster's records and the forwarder; exactly as the asker wrote it. */
  text: string;
  type: string;
  class: string;
  /** The name's raw bytes, copied into responses so the asker gets back its own case. */
  raw: Buffer;
}

export class DnsRequest {
  /** performance.now() at arrival, for the latency metric. */
  readonly started = performance.now();
  /** Set by the cache stage for a plain query the caches can answer (see scanQuery). */
  scanned: ScannedQuery | undefined;
  /** Set by the parse stage. */
  question: Question | undefined;
  /** The numeric question type once known (0 before), for metrics. */
  qtype = 0;
  /** The client's EDNS0 UDP payload size, or undefined without EDNS (set when parsed). */
  ednsSize: number | undefined;
  /** The DO bit of the client's OPT record (RFC 3225), copied into the response's. */
  dnssecOk = false;
  /** Set by a stage that may hold back responses (the rate limiter). */
  outgoing: OutgoingFilter | undefined;

  constructor(
    readonly msg: Buffer,
    readonly transport: Transport,
    private readonly reply: Reply,
    private readonly metrics: DnsMetrics | undefined,
    /** The client's address as the socket reports it ('' when unknown). */
    readonly client = '',
  ) {}

  /** Key of this query in the answer caches, when it is simple enough to be cached. */
  get cacheKey(): string | undefined {
    return this.scanned?.key;
  }

  /** Octets the response may take before it must be truncated. */
  get sizeLimit(): number {
    return this.transport === 'tcp' ? 65535 : udpLimit(this.ednsSize);
  }

  /** Sends the response and counts the query once. */
  respond(response: Buffer, source: Source, rcode: number, cacheHit = false): void {
    this.send(response, rcode);
    this.count(source, rcode, cacheHit);
  }

  /** Sends a header-only error response (when the message deserves one) and counts it. */
  fail(rcode: number, source: Source): void {
    this.sendError(rcode);
    this.count(source, rcode);
  }

  /** Sends a header-only error response without counting, for a query already counted. */
  sendError(rcode: number): void {
    const response = errorResponse(this.msg, rcode);
    if (response) this.send(response, rcode);
  }

  private send(response: Buffer, rcode: number): void {
    const out = this.outgoing ? this.outgoing(response, rcode) : response;
    if (out) this.reply(out);
  }

  /** Counts the query without sending anything (the reply could not be built or sent). */
  count(source: Source, rcode: number, cacheHit = false): void {
    this.metrics?.query(this.qtype, rcode, source, cacheHit, this.started);
  }
}
