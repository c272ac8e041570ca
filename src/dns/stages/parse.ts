// Reads the query a cache could not answer: only standard queries with one question are
// answered (NOTIMP, FORMERR otherwise), an EDNS version other than 0 gets BADVERS. Fills in the
// request's question, EDNS size and DO bit for the stages after it.
import dnsPacket from 'dns-packet';
import { bare } from '../records.js';
import type { Stage } from '../pipeline.js';
import { encodeResult, NOTIMP, RCODES } from '../response.js';
import { HEADER, questionName } from '../wire.js';

/** BADVERS (16): extended rcode 1 in the OPT record, 0 in the header (RFC 6891 §6.1.3). */
const BADVERS = 16;

export const parseQuery: Stage = (req, next) => {
  const { msg } = req;
  if (msg.length < HEADER || msg[2]! & 0x80) return; // no header, or a response: never answer
  if ((msg[2]! >> 3) & 0x0f) {
    // Only standard queries (opcode 0): NOTIFY, UPDATE and the like are not implemented.
    req.fail(NOTIMP, 'error');
    return;
  }
  let query: ReturnType<typeof dnsPacket.decode>;
  let raw: Buffer;
  try {
    query = dnsPacket.decode(msg);
    raw = questionName(msg);
    if (query.questions?.length !== 1) throw new Error('not one question');
  } catch {
    req.fail(RCODES.FORMERR, 'error');
    return;
  }
  const q = query.questions[0]!;
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  req.qtype = msg.readUInt16BE(HEADER + raw.length);
  req.question = {
    name: dotInLabel(raw) ? undefined : q.name,
    text: q.name,
    type: q.type,
    class: q.class ?? 'IN',
    raw,
  };
  if (opt?.type === 'OPT') {
    req.ednsSize = opt.udpPayloadSize;
    req.dnssecOk = opt.flag_do === true;
    if (opt.ednsVersion !== 0) {
      req.respond(encodeResult(req, bare('NOERROR', false), 1), 'error', BADVERS);
      return;
    }
  }
  next();
};

/** A label holding a dot: its name cannot be written as text, and nothing in the zone has it. */
function dotInLabel(raw: Buffer): boolean {
  for (let off = 0; raw[off]! > 0; off += raw[off]! + 1) {
    if (raw.subarray(off + 1, off + 1 + raw[off]!).includes(0x2e)) return true;
  }
  return false;
}
