import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KINDS } from '../../src/api/kinds.js';
import { publishStatus } from '../../src/bgp/status-store.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

test('get -o json: every noun without a NAME prints one v1 List, the BGP sessions too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-get-json-'));
  try {
    const path = join(dir, 'store.db');
    const store = new SqliteStore(path);
    await publishStatus(store, 'node-1', []);
    await store.close();
    const nouns = [...KINDS.map((k) => k.plural), 'endpoints', 'bgp'];
    for (const noun of nouns) {
      const r = spawnSync(podnet, ['--store', `sqlite:${path}`, 'get', noun, '-A', '-o', 'json'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `get ${noun}: ${r.stderr}`);
      const doc = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: unknown };
      assert.deepEqual(
        { apiVersion: doc.apiVersion, kind: doc.kind, items: Array.isArray(doc.items) },
        { apiVersion: 'v1', kind: 'List', items: true },
        `get ${noun} -o json`,
      );
    }
    const bgp = spawnSync(podnet, ['--store', `sqlite:${path}`, 'bgp', 'status', '-o', 'json'], {
      encoding: 'utf8',
    });
    const sessions = JSON.parse(bgp.stdout) as { kind: string; items: { node: string }[] };
    assert.equal(sessions.kind, 'List');
    assert.deepEqual(
      sessions.items.map((s) => s.node),
      ['node-1'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
