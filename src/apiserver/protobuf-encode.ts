// The few protocol-buffer wire forms the OpenAPI v2 document needs: a message is a list of
// fields, each a string, a varint or an embedded message, written in field-number order.

export type Field =
  { no: number; string: string } | { no: number; varint: number } | { no: number; message: Buffer };

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** Wire type 0 is a varint, 2 a length-delimited string or message. */
function tag(no: number, wireType: 0 | 2): Buffer {
  return varint(no * 8 + wireType);
}

function delimited(no: number, bytes: Buffer): Buffer[] {
  return [tag(no, 2), varint(bytes.length), bytes];
}

/** Encodes a message; fields come out in the order given. */
export function message(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if ('string' in f) parts.push(...delimited(f.no, Buffer.from(f.string, 'utf8')));
    else if ('message' in f) parts.push(...delimited(f.no, f.message));
    else parts.push(tag(f.no, 0), varint(f.varint));
  }
  return Buffer.concat(parts);
}
