import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { eachRecord } from '../../src/kernel/conntrack-events.js';
import { RECORD_BYTES } from '../../src/kernel/conntrack-record.js';

test('records are read where they lie; one split across reads is joined once whole', async () => {
  const stream = new PassThrough();
  const seen: number[] = [];
  eachRecord(stream, (buf, at) => seen.push(buf[at]!));
  const bytes = Buffer.alloc(4 * RECORD_BYTES);
  for (let i = 0; i < 4; i++) bytes[i * RECORD_BYTES] = i + 1;
  const cuts = [0, 10, RECORD_BYTES + 5, 3 * RECORD_BYTES, 3 * RECORD_BYTES + 1, 4 * RECORD_BYTES];
  for (let i = 1; i < cuts.length; i++) stream.write(bytes.subarray(cuts[i - 1], cuts[i]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [1, 2, 3, 4]);
});
