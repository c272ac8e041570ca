// OPEN messages (RFC 4271 §4.2) and the capabilities podnet reads and offers in them
// (RFC 5492): multiprotocol for IPv4 unicast and, when asked, IPv6 unicast (RFC 4760), route
// refresh (RFC 2918), 4-octet AS numbers (RFC 6793) and graceful restart (RFC 4724).
import { u16, withHeader } from './framing.js';
import { formatIPv4, ipv4Word } from './ipv4.js';
import {
  AFI_IPV4,
  AFI_IPV6,
  AS_TRANS,
  BgpMessageError,
  CapabilityCode,
  ErrorCode,
  MessageType,
  OpenSubcode,
  SAFI_UNICAST,
  type OpenMessage,
} from './message.js';

function openError(
  subcode: number,
  reason: string,
  data: Buffer = Buffer.alloc(0),
): BgpMessageError {
  return new BgpMessageError(ErrorCode.OPEN, subcode, data, reason);
}

export function decodeOpen(body: Buffer): OpenMessage {
  const version = body[0]!;
  // Data of an unsupported version error: the largest version we support (RFC 4271 §6.2).
  if (version !== 4)
    throw openError(OpenSubcode.UNSUPPORTED_VERSION, `BGP version ${version}`, u16(4));
  const myAs = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  if (holdTime === 1 || holdTime === 2) {
    throw openError(OpenSubcode.UNACCEPTABLE_HOLD_TIME, `hold time ${holdTime} is below 3`);
  }
  const id = body.readUInt32BE(5);
  if (id === 0) throw openError(OpenSubcode.BAD_BGP_ID, 'BGP identifier 0.0.0.0');
  const paramsLength = body[9]!;
  if (10 + paramsLength !== body.length) {
    throw openError(
      OpenSubcode.UNSPECIFIC,
      `optional parameters length ${paramsLength} does not match the message`,
    );
  }
  const open: OpenMessage = {
    type: 'open',
    version,
    asNumber: myAs,
    holdTime,
    bgpId: formatIPv4(id),
    multiprotocol: [],
    routeRefresh: false,
    fourOctetAs: false,
    otherCapabilities: [],
  };
  let pos = 10;
  while (pos < body.length) {
    if (pos + 2 > body.length || pos + 2 + body[pos + 1]! > body.length) {
      throw openError(OpenSubcode.UNSPECIFIC, 'optional parameter runs past the message');
    }
    const paramType = body[pos]!;
    const paramEnd = pos + 2 + body[pos + 1]!;
    if (paramType !== 2) {
      throw openError(
        OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
        `optional parameter type ${paramType}`,
        body.subarray(pos, paramEnd),
      );
    }
    decodeCapabilities(body.subarray(pos + 2, paramEnd), open);
    pos = paramEnd;
  }
  return open;
}

function decodeCapabilities(caps: Buffer, open: OpenMessage): void {
  let pos = 0;
  while (pos < caps.length) {
    if (pos + 2 > caps.length || pos + 2 + caps[pos + 1]! > caps.length) {
      throw openError(OpenSubcode.UNSPECIFIC, 'capability runs past its parameter');
    }
    const code = caps[pos]!;
    const data = caps.subarray(pos + 2, pos + 2 + caps[pos + 1]!);
    pos += 2 + data.length;
    const bad = (): BgpMessageError =>
      openError(OpenSubcode.UNSPECIFIC, `capability ${code} has bad length ${data.length}`);
    switch (code) {
      case CapabilityCode.MULTIPROTOCOL:
        if (data.length !== 4) throw bad();
        open.multiprotocol.push({ afi: data.readUInt16BE(0), safi: data[3]! });
        break;
      case CapabilityCode.ROUTE_REFRESH:
        open.routeRefresh = true;
        break;
      case CapabilityCode.FOUR_OCTET_AS:
        if (data.length !== 4) throw bad();
        open.fourOctetAs = true;
        open.asNumber = data.readUInt32BE(0);
        break;
      case CapabilityCode.GRACEFUL_RESTART: {
        if (data.length < 2 || (data.length - 2) % 4 !== 0) throw bad();
        const head = data.readUInt16BE(0);
        const families = [];
        for (let i = 2; i < data.length; i += 4) {
          families.push({
            afi: data.readUInt16BE(i),
            safi: data[i + 2]!,
            forwardingPreserved: (data[i + 3]! & 0x80) !== 0,
          });
        }
        open.gracefulRestart = {
          restarting: (head & 0x8000) !== 0,
          restartTime: head & 0x0fff,
          families,
        };
        break;
      }
      default:
        open.otherCapabilities.push({ code, data: Buffer.from(data) });
    }
  }
}

export interface OpenParams {
  asNumber: number;
  holdTime: number;
  bgpId: string;
  /** Offer IPv6 unicast beside IPv4 unicast. */
  ipv6Unicast?: boolean;
  /** Offer IPv4 unicast (default true; false on a session over IPv6). */
  ipv4Unicast?: boolean;
  /** Seconds, when graceful restart is offered. */
  gracefulRestart?: { restarting: boolean; restartTime: number; forwardingPreserved: boolean };
}

export function encodeOpen(p: OpenParams): Buffer {
  const caps: Buffer[] = [];
  const cap = (code: number, data: Buffer): void => {
    caps.push(Buffer.concat([Buffer.from([code, data.length]), data]));
  };
  const families = [
    ...(p.ipv4Unicast === false ? [] : [AFI_IPV4]),
    ...(p.ipv6Unicast ? [AFI_IPV6] : []),
  ];
  if (p.ipv4Unicast !== false) {
    cap(CapabilityCode.MULTIPROTOCOL, Buffer.from([0, AFI_IPV4, 0, SAFI_UNICAST]));
  }
  if (p.ipv6Unicast) cap(CapabilityCode.MULTIPROTOCOL, Buffer.from([0, AFI_IPV6, 0, SAFI_UNICAST]));
  cap(CapabilityCode.ROUTE_REFRESH, Buffer.alloc(0));
  const as4 = Buffer.alloc(4);
  as4.writeUInt32BE(p.asNumber);
  cap(CapabilityCode.FOUR_OCTET_AS, as4);
  if (p.gracefulRestart) {
    // Every family carried is listed: a peer keeps through our restart only the routes of
    // the families named here (RFC 4724 §3).
    const gr = Buffer.alloc(2 + 4 * families.length);
    gr.writeUInt16BE(
      (p.gracefulRestart.restarting ? 0x8000 : 0) | (p.gracefulRestart.restartTime & 0xfff),
    );
    families.forEach((afi, i) => {
      gr.writeUInt16BE(afi, 2 + 4 * i);
      gr[4 + 4 * i] = SAFI_UNICAST;
      gr[5 + 4 * i] = p.gracefulRestart!.forwardingPreserved ? 0x80 : 0;
    });
    cap(CapabilityCode.GRACEFUL_RESTART, gr);
  }
  // One capabilities parameter holding them all (RFC 5492 allows either form).
  const capBytes = Buffer.concat(caps);
  const body = Buffer.alloc(10);
  body[0] = 4;
  body.writeUInt16BE(p.asNumber > 0xffff ? AS_TRANS : p.asNumber, 1);
  body.writeUInt16BE(p.holdTime, 3);
  body.writeUInt32BE(ipv4Word(p.bgpId), 5);
  body[9] = capBytes.length + 2;
  return withHeader(
    MessageType.OPEN,
    Buffer.concat([body, Buffer.from([2, capBytes.length]), capBytes]),
  );
}
