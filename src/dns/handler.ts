// One query in, one response out. Hot names come from a cache of encoded responses (keyed by
// the lower-cased question, type, class and the client's size limit) patched for the asker;
// the full decoder, the record logic and the encoder run only on a miss. The cache is dropped
// whenever the cluster index changes, so it never serves a stale cluster answer.
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import type { ClusterIndex } from './cluster-index.js';
import type { Forwarder } from './forwarder.js';
import type { DnsMetrics } from './metrics.js';
import {
  answerQuestion,
  type AnswerResult,
  bare,
  nxdomain,
  reverseZonesFor,
  type Rcode,
  type Result,
  type ZoneConfig,
  zoneOf,
} from './records.js';
import {
  HEADER,
  indexResponse,
  patchResponse,
  scanQuery,
  udpLimit,
  type EncodedResponse,
} from './wire.js';

export type Transport = 'udp' | 'tcp';
export type Reply = (response: Buffer) => void;

export interface HandlerOptions {
  index: ClusterIndex;
  /** The cluster domain, lower-case, no trailing dot. */
  domain: string;
  ttl: number;
  forwarder?: Forwarder;
  metrics?: DnsMetrics;
  /** Entries in the cache of encoded cluster answers. */
  cacheSize?: number;
}

/** The UDP payload size this server advertises in its own OPT record. */
export const SERVER_UDP_SIZE = 1232;

const RCODES: Record<Rcode, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  REFUSED: 5,
};
const NOTIMP = 4;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_CD = 0x0010;

export class QueryHandler {
  private readonly cache = new Map<string, EncodedResponse>();
  private cacheVersion = -1;
  private zone: ZoneConfig;
  private readonly cacheSize: number;

  constructor(private readonly opts: HandlerOptions) {
    this.cacheSize = opts.cacheSize ?? 50_000;
    this.zone = this.zoneConfig();
  }

  /** Answers one message; never throws (a bug answers SERVFAIL). Responses go to `reply`. */
  handle(msg: Buffer, transport: Transport, reply: Reply): void {
    const started = performance.now();
    const metrics = this.opts.metrics;
    try {
      if (this.cacheVersion !== this.opts.index.version) this.invalidate();
      const scanned = scanQuery(msg, transport);
      if (scanned) {
        const hit = this.cache.get(scanned.key);
        if (hit) {
          reply(patchResponse(hit, msg, scanned.nameEnd));
          metrics?.query(scanned.qtype, hit.buf[3]! & 0x0f, 'cluster', true, started);
          return;
        }
        const fwd = this.opts.forwarder?.cached(scanned, msg);
        if (fwd) {
          reply(fwd);
          metrics?.query(scanned.qtype, fwd[3]! & 0x0f, 'forward', true, started);
          return;
        }
      }
      this.slowPath(msg, transport, scanned?.key, reply, started);
    } catch {
      this.safeReply(msg, RCODES.SERVFAIL, reply);
      metrics?.query(0, RCODES.SERVFAIL, 'error', false, started);
    }
  }

  private slowPath(
    msg: Buffer,
    transport: Transport,
    cacheKey: string | undefined,
    reply: Reply,
    started: number,
  ): void {
    const metrics = this.opts.metrics;
    if (msg.length < HEADER || msg[2]! & 0x80) return; // no header, or a response: never answer
    if ((msg[2]! >> 3) & 0x0f) {
      // Only standard queries (opcode 0): NOTIFY, UPDATE and the like are not implemented.
      this.safeReply(msg, NOTIMP, reply);
      metrics?.query(0, NOTIMP, 'error', false, started);
      return;
    }
    let query: ReturnType<typeof dnsPacket.decode>;
    let rawName: Buffer;
    try {
      query = dnsPacket.decode(msg);
      rawName = questionName(msg);
      if (query.questions?.length !== 1) throw new Error('not one question');
    } catch {
      this.safeReply(msg, RCODES.FORMERR, reply);
      metrics?.query(0, RCODES.FORMERR, 'error', false, started);
      return;
    }
    const q = query.questions[0]!;
    const opt = query.additionals?.find((a) => a.type === 'OPT');
    const ednsSize = opt?.type === 'OPT' ? opt.udpPayloadSize : undefined;
    const qtype = msg.readUInt16BE(HEADER + rawName.length);
    if (opt?.type === 'OPT' && opt.ednsVersion !== 0) {
      // BADVERS (16): extended rcode 1 in the OPT record, 0 in the header.
      const resp = this.encode(msg, rawName, bare('NOERROR', false), ednsSize, 1);
      reply(resp);
      metrics?.query(qtype, 16, 'error', false, started);
      return;
    }
    const name = dotInLabel(rawName) ? undefined : q.name;
    let result: Result;
    if (name === undefined) {
      const inZone = zoneOf(q.name.toLowerCase(), this.zone);
      result = inZone ? nxdomain(inZone.zone, this.zone) : { kind: 'forward' };
    } else {
      result = answerQuestion(
        { name, type: q.type, class: q.class ?? 'IN' },
        this.opts.index,
        this.zone,
      );
    }
    if (result.kind === 'forward') {
      this.forward(msg, transport, qtype, cacheKey, reply, started);
      return;
    }
    const target = externalTarget(result, q.type, this.zone);
    if (target && this.opts.forwarder) {
      // An ExternalName service: resolvers expect the target's addresses with the CNAME.
      this.chase(result, target, q.type, this.opts.forwarder)
        .catch(() => result) // the upstream failed: the CNAME alone
        .then((chased) =>
          this.finish(msg, rawName, transport, chased, ednsSize, undefined, reply, qtype, started),
        )
        .catch(() => this.safeReply(msg, RCODES.SERVFAIL, reply));
      return;
    }
    this.finish(msg, rawName, transport, result, ednsSize, cacheKey, reply, qtype, started);
  }

  /** Encodes, truncates for UDP when too big, remembers what can be reused, and replies. */
  private finish(
    msg: Buffer,
    rawName: Buffer,
    transport: Transport,
    result: AnswerResult,
    ednsSize: number | undefined,
    cacheKey: string | undefined,
    reply: Reply,
    qtype: number,
    started: number,
  ): void {
    const limit = transport === 'tcp' ? 65535 : udpLimit(ednsSize);
    let resp = this.encode(msg, rawName, result, ednsSize, 0);
    if (resp.length > limit) {
      resp = this.encode(
        msg,
        rawName,
        { ...result, answers: [], authorities: [], additionals: [] },
        ednsSize,
        0,
        FLAG_TC,
      );
    } else if (cacheKey && result.rcode !== 'SERVFAIL') {
      const indexed = indexResponse(resp);
      if (indexed) this.remember(cacheKey, indexed);
    }
    reply(resp);
    this.opts.metrics?.query(qtype, RCODES[result.rcode], 'cluster', false, started);
  }

  /** Appends the upstream's answer for an ExternalName's target to the CNAME. */
  private async chase(
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
    const resp =
      (scanned && forwarder.cached(scanned, query)) ??
      (await forwarder.resolve(query, 'tcp', scanned?.key));
    const answers = dnsPacket.decode(resp).answers ?? [];
    return { ...result, answers: [...result.answers, ...answers] };
  }

  private forward(
    msg: Buffer,
    transport: Transport,
    qtype: number,
    cacheKey: string | undefined,
    reply: Reply,
    started: number,
  ): void {
    const fwd = this.opts.forwarder;
    const metrics = this.opts.metrics;
    if (!fwd) {
      this.safeReply(msg, RCODES.REFUSED, reply);
      metrics?.query(qtype, RCODES.REFUSED, 'refused', false, started);
      return;
    }
    fwd
      .resolve(msg, transport, cacheKey)
      .then(
        (resp) => {
          reply(resp);
          metrics?.query(qtype, resp[3]! & 0x0f, 'forward', false, started);
        },
        () => {
          this.safeReply(msg, RCODES.SERVFAIL, reply);
          metrics?.query(qtype, RCODES.SERVFAIL, 'forward', false, started);
        },
      )
      .catch(() => {
        /* the reply could not be sent (socket closed): nothing left to do */
      });
  }

  /**
   * Encodes a result for this query. The question section is the query's own bytes, so the
   * asker gets back exactly what it sent (case and all).
   */
  private encode(
    msg: Buffer,
    rawName: Buffer,
    result: AnswerResult,
    ednsSize: number | undefined,
    extendedRcode: number,
    extraFlags = 0,
  ): Buffer {
    const additionals: Answer[] = [...result.additionals];
    if (ednsSize !== undefined) {
      additionals.push({
        type: 'OPT',
        name: '.',
        udpPayloadSize: SERVER_UDP_SIZE,
        extendedRcode,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      });
    }
    const flags =
      (msg.readUInt16BE(2) & (FLAG_RD | FLAG_CD)) |
      FLAG_RA |
      (result.authoritative ? FLAG_AA : 0) |
      extraFlags |
      RCODES[result.rcode];
    const packet: Packet = {
      type: 'response',
      id: msg.readUInt16BE(0),
      flags,
      questions: [{ name: 'x', type: 'A', class: 'IN' }], // replaced by the query's own bytes
      answers: result.answers,
      authorities: result.authorities,
      additionals,
    };
    const body = dnsPacket.encode(packet);
    const question = msg.subarray(HEADER, HEADER + rawName.length + 4);
    return Buffer.concat([body.subarray(0, HEADER), question, body.subarray(HEADER + 3 + 4)]);
  }

  /** A response with only a header (and the question when it can be read): FORMERR, SERVFAIL... */
  private safeReply(msg: Buffer, rcode: number, reply: Reply): void {
    if (msg.length < HEADER || msg[2]! & 0x80) return;
    let question: Buffer = Buffer.alloc(0);
    try {
      const raw = questionName(msg);
      if (msg.readUInt16BE(4) >= 1 && HEADER + raw.length + 4 <= msg.length) {
        question = msg.subarray(HEADER, HEADER + raw.length + 4);
      }
    } catch {
      /* no readable question: header only */
    }
    const out = Buffer.alloc(HEADER + question.length);
    out.writeUInt16BE(msg.readUInt16BE(0), 0);
    out.writeUInt16BE(
      0x8000 | (msg.readUInt16BE(2) & (0x7800 | FLAG_RD | FLAG_CD)) | FLAG_RA | rcode,
      2,
    );
    out.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
    question.copy(out, HEADER);
    reply(out);
  }

  private remember(key: string, resp: EncodedResponse): void {
    if (this.cache.size >= this.cacheSize) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, resp);
  }

  private invalidate(): void {
    this.cache.clear();
    this.cacheVersion = this.opts.index.version;
    this.zone = this.zoneConfig();
  }

  private zoneConfig(): ZoneConfig {
    const net = this.opts.index.network;
    const cidrs = net ? [net.serviceCIDR, net.clusterCIDR] : ['10.96.0.0/16', '10.244.0.0/16'];
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

/** A label holding a dot: its name cannot be written as text, and nothing in the zone has it. */
function dotInLabel(raw: Buffer): boolean {
  for (let off = 0; raw[off]! > 0; off += raw[off]! + 1) {
    if (raw.subarray(off + 1, off + 1 + raw[off]!).includes(0x2e)) return true;
  }
  return false;
}

/** The question name's raw bytes (uncompressed labels up to the root), or throws. */
function questionName(msg: Buffer): Buffer {
  let off = HEADER;
  for (;;) {
    const l = msg[off];
    if (l === undefined) throw new RangeError('question name runs past the end');
    if (l === 0) break;
    if (l > 63) throw new RangeError('compressed or extended label in the question');
    off += l + 1;
  }
  if (off + 1 - HEADER > 255) throw new RangeError('question name longer than 255 bytes');
  return msg.subarray(HEADER, off + 1);
}
