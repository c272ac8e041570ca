import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { eachLine } from '../../src/kernel/conntrack-events.js';

test('lines are cut from each read; a line split across reads is joined once whole', async () => {
  const stream = new PassThrough();
  const lines: string[] = [];
  eachLine(stream, (line) => lines.push(line));
  for (const chunk of ['[1] NEW a\n[2] DES', 'TROY', ' b\n[3] NEW c\n', '[4]', ' NEW d\n\n'])
    stream.write(chunk);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(lines, ['[1] NEW a', '[2] DESTROY b', '[3] NEW c', '[4] NEW d', '']);
});
