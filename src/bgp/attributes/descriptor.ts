// What podnet knows of one path attribute, in one place: its type code and name, the flags it
// must arrive with, what a malformed instance costs (RFC 7606 §7), and how its value is read,
// written and shown. The decoder and encoder walk a table of these instead of switching on
// type codes in several places.
import {
  AttrFlag,
  type AsPathSegment,
  type CodecContext,
  type ErrorAction,
  type PathAttributes,
  type UpdateMessage,
  UpdateSubcode,
} from '../message.js';

/** Why a value was refused: the NOTIFICATION subcode RFC 4271 §6.3 names, and a reason. */
export interface Malformed {
  subcode: number;
  reason: string;
}

/** What decoding one UPDATE's path attributes builds up. */
export interface AttributeDecoding {
  ctx: CodecContext;
  attributes: PathAttributes;
  /** The UPDATE being decoded: the MP attributes add NLRI and withdrawals to it. */
  update: UpdateMessage;
  /** AS4_PATH from a 2-octet speaker, merged into AS_PATH once every attribute is read. */
  as4Path?: AsPathSegment[];
  /** The AFI of an MP_UNREACH_NLRI that withdrew nothing (End-of-RIB, RFC 4724 §2). */
  emptyUnreachAfi?: number;
}

export interface AttributeDescriptor {
  code: number;
  /** As the RFCs spell it, for reasons and logs. */
  name: string;
  /** The optional and transitive bits it must arrive with, and is sent with (RFC 4271 §5). */
  flags: number;
  /** What a malformed instance costs (RFC 7606 §7). */
  onMalformed: ErrorAction;
  /** The value length it must have, when that is fixed. */
  length?: (ctx: CodecContext) => number;
  /** Reads a value whose flags (and fixed length) were checked; undefined when it is good. */
  decode(value: Buffer, into: AttributeDecoding): Malformed | undefined;
  /** The value to send for `attrs`, or undefined when it is not sent. */
  encode?(attrs: PathAttributes, ctx: CodecContext): Buffer | undefined;
  /** The value in `attrs` for people, or undefined when it is absent. */
  format?(attrs: PathAttributes): string | undefined;
}

/** One attribute on the wire: flags, type, a one- or two-octet length, the value. */
export function attributeBytes(flags: number, typeCode: number, value: Buffer): Buffer {
  const extended = value.length > 255;
  const head = Buffer.alloc(extended ? 4 : 3);
  head[0] = (flags & ~AttrFlag.EXTENDED_LENGTH) | (extended ? AttrFlag.EXTENDED_LENGTH : 0);
  head[1] = typeCode;
  if (extended) head.writeUInt16BE(value.length, 2);
  else head[2] = value.length;
  return Buffer.concat([head, value]);
}

/**
 * MULTI_EXIT_DISC and LOCAL_PREF: one 32-bit number, kept in `field` of the path attributes
 * and sent whenever it is set. A value of the wrong length is a withdrawal (RFC 7606 §7.4, §7.5).
 */
export function numberAttribute(
  code: number,
  name: string,
  flags: number,
  field: 'med' | 'localPref',
): AttributeDescriptor {
  return {
    code,
    name,
    flags,
    onMalformed: 'treat-as-withdraw',
    length: () => 4,
    decode(value, into) {
      into.attributes[field] = value.readUInt32BE(0);
      return undefined;
    },
    encode: (attrs) => {
      const value = attrs[field];
      return value === undefined ? undefined : u32(value);
    },
    format: (attrs) => attrs[field]?.toString(),
  };
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** A non-empty list of 32-bit words (RFC 7606 §7.8, §7.10), or why it is not one. */
export function readWords(value: Buffer, typeCode: number): number[] | Malformed {
  if (value.length === 0 || value.length % 4 !== 0) {
    return {
      subcode: UpdateSubcode.OPTIONAL_ATTRIBUTE,
      reason: `attribute ${typeCode} length ${value.length}`,
    };
  }
  const words: number[] = [];
  for (let i = 0; i < value.length; i += 4) words.push(value.readUInt32BE(i));
  return words;
}
