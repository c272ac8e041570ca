// BGP-4 messages to bytes and back. Pure: no sockets, no clocks. A received message that breaks
// the session throws BgpMessageError carrying the NOTIFICATION RFC 4271 §6 asks for; an UPDATE
// whose attributes are merely malformed decodes with RFC 7606's lighter outcome recorded in
// `errors` (treat-as-withdraw or attribute-discard). OPEN lives in open.ts, UPDATE in update.ts.
import { readHeader, withHeader } from './framing.js';
import {
  BgpMessageError,
  ErrorCode,
  HEADER_LENGTH,
  MessageType,
  type CodecContext,
  type Message,
  type NotificationMessage,
  type RouteRefreshMessage,
} from './message.js';
import { decodeOpen } from './open.js';
import { decodeUpdate } from './update.js';

/** Decodes one whole message (header included), as framed by frameMessages. */
export function decodeMessage(msg: Buffer, ctx: CodecContext): Message {
  const { type } = readHeader(msg, 0);
  try {
    return decodeBody(type, msg, ctx);
  } catch (err) {
    if (err instanceof BgpMessageError) throw err;
    // A bounds check this decoder missed must still end in a NOTIFICATION, never a crash.
    const code = type === MessageType.OPEN ? ErrorCode.OPEN : ErrorCode.UPDATE;
    throw new BgpMessageError(code, 0, Buffer.alloc(0), `undecodable message: ${String(err)}`);
  }
}

function decodeBody(type: number, msg: Buffer, ctx: CodecContext): Message {
  const body = msg.subarray(HEADER_LENGTH);
  switch (type) {
    case MessageType.OPEN:
      return decodeOpen(body);
    case MessageType.UPDATE:
      return decodeUpdate(body, ctx);
    case MessageType.NOTIFICATION:
      return { type: 'notification', code: body[0]!, subcode: body[1]!, data: body.subarray(2) };
    case MessageType.KEEPALIVE:
      return { type: 'keepalive' };
    default:
      return { type: 'route-refresh', afi: body.readUInt16BE(0), safi: body[3]! };
  }
}

export function encodeKeepalive(): Buffer {
  return withHeader(MessageType.KEEPALIVE, Buffer.alloc(0));
}

export function encodeNotification(n: Omit<NotificationMessage, 'type'>): Buffer {
  return withHeader(
    MessageType.NOTIFICATION,
    Buffer.concat([Buffer.from([n.code, n.subcode]), n.data]),
  );
}

export function encodeRouteRefresh(r: Omit<RouteRefreshMessage, 'type'>): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt16BE(r.afi);
  body[3] = r.safi;
  return withHeader(MessageType.ROUTE_REFRESH, body);
}
