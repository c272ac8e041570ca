// Responses to a request: a stage's result encoded with the query's own question bytes, and
// the header-only error responses (FORMERR, SERVFAIL, ...) that need nothing parsed.
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import type { AnswerResult, Rcode } from './records.js';
import { HEADER, questionName } from './wire.js';

/** The UDP payload size this server advertises in its own OPT record. */
const SERVER_UDP_SIZE = 1232;

export const RCODES: Record<Rcode, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  REFUSED: 5,
};
export const NOTIMP = 4;
const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_CD = 0x0010;

/** What encoding needs of a parsed request. */
export interface ParsedQuery {
  msg: Buffer;
  question: { raw: Buffer } | undefined;
  ednsSize: number | undefined;
  dnssecOk: boolean;
}

/**
 * Encodes a result for a parsed request. The question section is the query's own bytes, so
 * the asker gets back exactly what it sent (case and all).
 */
export function encodeResult(
  req: ParsedQuery,
  result: AnswerResult,
  extendedRcode = 0,
  extraFlags = 0,
): Buffer {
  const { msg } = req;
  const rawName = req.question!.raw;
  const additionals: Answer[] = [...result.additionals];
  if (req.ednsSize !== undefined) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: SERVER_UDP_SIZE,
      extendedRcode,
      ednsVersion: 0,
      // dns-packet writes the OPT flags from `flags`; flag_do is only read back.
      flags: req.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
      flag_do: req.dnssecOk,
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

/**
 * A response with only a header (and the question when it can be read), or undefined for a
 * message that must get no answer at all (no header, or itself a response).
 */
export function errorResponse(msg: Buffer, rcode: number): Buffer | undefined {
  if (msg.length < HEADER || msg[2]! & 0x80) return undefined;
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
  return out;
}

/**
 * The response cut to its header and question with TC set: the asker learns only that it
 * should ask again over TCP.
 */
export function truncatedResponse(response: Buffer): Buffer {
  const end = HEADER + questionName(response).length + 4;
  const out = Buffer.from(response.subarray(0, end));
  out.writeUInt16BE(out.readUInt16BE(2) | FLAG_TC, 2);
  out.writeUInt16BE(1, 4);
  out.fill(0, 6, HEADER); // no answer, authority or additional records
  return out;
}
