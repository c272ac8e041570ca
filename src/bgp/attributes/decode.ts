// Reads the path attributes field of an UPDATE with the attribute table, and applies what
// RFC 7606 makes of each problem: a session reset (thrown), treat-as-withdraw (the NLRI are
// moved to the withdrawn routes) or attribute-discard (the attribute is left out).
import {
  AFI_IPV4,
  AFI_IPV6,
  AttrFlag,
  AttrType,
  UpdateSubcode,
  updateError,
  type CodecContext,
  type UpdateMessage,
} from '../message.js';
import { mergeAs4Path } from './as-path.js';
import type { AttributeDecoding, Malformed } from './descriptor.js';
import { attributeDescriptor } from './table.js';

export function treatAsWithdraw(update: UpdateMessage, subcode: number, reason: string): void {
  update.errors.push({ action: 'treat-as-withdraw', subcode, reason });
}

/** Fills update.attributes, MP NLRI and errors from the path attributes field. */
export function decodeAttributes(attrs: Buffer, ctx: CodecContext, update: UpdateMessage): void {
  const into: AttributeDecoding = {
    ctx,
    attributes: { origin: 0, asPath: [], unknown: [] },
    update,
  };
  const seen = new Set<number>();
  let attributeCount = 0;
  let pos = 0;
  while (pos < attrs.length) {
    const flags = attrs[pos]!;
    const headerLength = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    if (pos + headerLength > attrs.length) {
      // RFC 7606 §4: too few octets for an attribute header.
      treatAsWithdraw(update, UpdateSubcode.ATTRIBUTE_LENGTH, 'attribute header truncated');
      break;
    }
    const typeCode = attrs[pos + 1]!;
    const descriptor = attributeDescriptor(typeCode);
    const length = headerLength === 4 ? attrs.readUInt16BE(pos + 2) : attrs[pos + 2]!;
    const valueStart = pos + headerLength;
    if (valueStart + length > attrs.length) {
      // RFC 7606 §4: an attribute overrunning the field; the NLRI are still found.
      if (descriptor?.onMalformed === 'session-reset') {
        throw updateError(
          UpdateSubcode.ATTRIBUTE_LENGTH,
          `attribute ${typeCode} runs past the path attributes`,
          attrs.subarray(pos),
        );
      }
      treatAsWithdraw(
        update,
        UpdateSubcode.ATTRIBUTE_LENGTH,
        `attribute ${typeCode} length ${length} runs past the path attributes`,
      );
      break;
    }
    const whole = attrs.subarray(pos, valueStart + length);
    const value = attrs.subarray(valueStart, valueStart + length);
    pos = valueStart + length;
    attributeCount++;

    if (seen.has(typeCode)) {
      // RFC 7606 §3(g): a repeated MP attribute resets the session; others are dropped.
      if (descriptor?.onMalformed === 'session-reset') {
        throw updateError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `attribute ${typeCode} repeated`);
      }
      update.errors.push({
        action: 'attribute-discard',
        subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        reason: `attribute ${typeCode} repeated`,
      });
      continue;
    }
    seen.add(typeCode);

    if (!descriptor) {
      if (!(flags & AttrFlag.OPTIONAL)) {
        throw updateError(
          UpdateSubcode.UNRECOGNIZED_WELL_KNOWN,
          `unrecognized well-known attribute ${typeCode}`,
          Buffer.from(whole),
        );
      }
      // Optional non-transitive attributes we do not know are dropped quietly (RFC 4271 §5).
      if (flags & AttrFlag.TRANSITIVE) {
        into.attributes.unknown.push({ flags: flags & 0xf0, typeCode, value: Buffer.from(value) });
      }
      continue;
    }

    let problem: Malformed | undefined;
    const fixedLength = descriptor.length?.(ctx);
    if ((flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== descriptor.flags) {
      problem = {
        subcode: UpdateSubcode.ATTRIBUTE_FLAGS,
        reason: `attribute ${typeCode} has flags 0x${flags.toString(16)}`,
      };
    } else if (fixedLength !== undefined && length !== fixedLength) {
      problem = {
        subcode: UpdateSubcode.ATTRIBUTE_LENGTH,
        reason: `attribute ${typeCode} has length ${length}, not ${fixedLength}`,
      };
    } else {
      problem = descriptor.decode(value, into);
    }
    if (problem) {
      if (descriptor.onMalformed === 'session-reset') {
        throw updateError(problem.subcode, problem.reason, Buffer.from(whole));
      }
      update.errors.push({ action: descriptor.onMalformed, ...problem });
    }
  }
  finish(into, attributeCount, seen);
}

function finish(into: AttributeDecoding, attributeCount: number, seen: Set<number>): void {
  const { update, attributes } = into;
  if (into.as4Path) attributes.asPath = mergeAs4Path(attributes.asPath, into.as4Path);
  update.attributes = attributes;
  // End-of-RIB may also come as an UPDATE holding only an empty MP_UNREACH_NLRI (RFC 4724 §2).
  const onlyEmptyUnreach = attributeCount === 1 ? into.emptyUnreachAfi : undefined;
  update.endOfRib = onlyEmptyUnreach === AFI_IPV4 && update.nlri.length === 0;
  if (update.ipv6) update.ipv6.endOfRib = onlyEmptyUnreach === AFI_IPV6;
  if (update.endOfRib || update.ipv6?.endOfRib) delete update.attributes;
  checkMandatory(update, seen);
  if (update.errors.some((e) => e.action === 'treat-as-withdraw')) {
    update.withdrawn = [...update.withdrawn, ...update.nlri];
    update.nlri = [];
    delete update.mpNextHop;
    if (update.ipv6) {
      update.ipv6.withdrawn = [...update.ipv6.withdrawn, ...update.ipv6.nlri];
      update.ipv6.nlri = [];
      delete update.ipv6.nextHop;
    }
  }
}

/** RFC 4271 §6.3 / RFC 7606 §3(d): missing well-known attributes are a treat-as-withdraw. */
function checkMandatory(update: UpdateMessage, seen: Set<number>): void {
  const mpNlri = update.ipv6?.nlri.length ?? 0;
  if (update.nlri.length === 0 && mpNlri === 0) return;
  const needed: number[] = [AttrType.ORIGIN, AttrType.AS_PATH];
  // NEXT_HOP is needed only for NLRI in the classic field (RFC 4760 §3 makes MP NLRI carry it).
  if (update.nlri.length > 0 && update.mpNextHop === undefined) needed.push(AttrType.NEXT_HOP);
  for (const t of needed) {
    if (!seen.has(t)) {
      treatAsWithdraw(update, UpdateSubcode.MISSING_WELL_KNOWN, `missing attribute ${t}`);
      return;
    }
  }
}
