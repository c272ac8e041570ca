// The scale bench's live heap: the sum of a heap snapshot's own sizes, read through the
// snapshot's own field list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { liveBytes, type HeapSnapshot } from '../../bench/lib/scale-heap.js';

test('scale heap: sums self_size wherever the snapshot puts it in a node', () => {
  const snapshot: HeapSnapshot = {
    snapshot: { meta: { node_fields: ['type', 'name', 'id', 'self_size', 'edge_count'] } },
    nodes: [0, 0, 1, 100, 2, 3, 1, 2, 40, 0, 3, 2, 3, 7, 0],
  };
  assert.equal(liveBytes(snapshot), 147);
});

test('scale heap: a real snapshot of this process sums to its heap, not its resident size', () => {
  const file = writeHeapSnapshot(join(tmpdir(), `podnet-unit-${process.pid}.heapsnapshot`));
  try {
    const bytes = liveBytes(JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot);
    const { heapTotal } = process.memoryUsage();
    assert.ok(bytes > 1024 * 1024, `${bytes} bytes live`);
    assert.ok(bytes <= heapTotal, `${bytes} live > ${heapTotal} in the heap`);
  } finally {
    rmSync(file, { force: true });
  }
});
