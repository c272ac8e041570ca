// The 19-octet message header (RFC 4271 §4.1): checking it, cutting a byte stream into whole
// messages, and putting it in front of a body.
import {
  BgpMessageError,
  ErrorCode,
  HEADER_LENGTH,
  HeaderSubcode,
  MAX_MESSAGE_LENGTH,
  MessageType,
} from './message.js';

/** Smallest and largest length of each message type (RFC 4271 §4, RFC 2918 §3). */
const LENGTH_BOUNDS: Record<number, [number, number]> = {
  [MessageType.OPEN]: [29, MAX_MESSAGE_LENGTH],
  [MessageType.UPDATE]: [23, MAX_MESSAGE_LENGTH],
  [MessageType.NOTIFICATION]: [21, MAX_MESSAGE_LENGTH],
  [MessageType.KEEPALIVE]: [19, 19],
  [MessageType.ROUTE_REFRESH]: [23, 23],
};

export function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

/**
 * Checks the 19-octet header at `pos` and returns the message length and type
 * (RFC 4271 §6.1): bad marker → 1/1, bad length → 1/2 with the length field, unknown type → 1/3.
 */
export function readHeader(buf: Buffer, pos: number): { length: number; type: number } {
  for (let i = 0; i < 16; i++) {
    if (buf[pos + i] !== 0xff) {
      throw new BgpMessageError(
        ErrorCode.HEADER,
        HeaderSubcode.NOT_SYNCHRONIZED,
        Buffer.alloc(0),
        'message header marker is not all ones',
      );
    }
  }
  const length = buf.readUInt16BE(pos + 16);
  const type = buf[pos + 18]!;
  const bounds = LENGTH_BOUNDS[type];
  if (!bounds) {
    throw new BgpMessageError(
      ErrorCode.HEADER,
      HeaderSubcode.BAD_TYPE,
      Buffer.from([type]),
      `unknown message type ${type}`,
    );
  }
  if (length < bounds[0] || length > bounds[1]) {
    throw new BgpMessageError(
      ErrorCode.HEADER,
      HeaderSubcode.BAD_LENGTH,
      u16(length),
      `message length ${length} is outside ${bounds[0]}..${bounds[1]} for type ${type}`,
    );
  }
  return { length, type };
}

/**
 * Splits a byte stream into whole messages. `rest` holds the bytes of a message not yet
 * complete. Throws BgpMessageError on a bad header.
 */
export function frameMessages(stream: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let pos = 0;
  while (stream.length - pos >= HEADER_LENGTH) {
    const { length } = readHeader(stream, pos);
    if (stream.length - pos < length) break;
    messages.push(stream.subarray(pos, pos + length));
    pos += length;
  }
  return { messages, rest: stream.subarray(pos) };
}

export function withHeader(type: number, body: Buffer): Buffer {
  const length = HEADER_LENGTH + body.length;
  if (length > MAX_MESSAGE_LENGTH) throw new Error(`BGP message of ${length} octets is too long`);
  const out = Buffer.alloc(length, 0xff);
  out.writeUInt16BE(length, 16);
  out[18] = type;
  body.copy(out, HEADER_LENGTH);
  return out;
}
