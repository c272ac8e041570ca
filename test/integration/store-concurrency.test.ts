// 8 processes × 500 compare-and-swap increments of one key end at exactly 4000 on both
// backends, and a watcher sees every value from 1 to 4000 once, in order (no lost update).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { startEtcd } from '../helpers/etcd.js';

const PROCESSES = 8;
const INCREMENTS = 500;
const worker = new URL('../helpers/cas-worker.js', import.meta.url).pathname;

function runWorker(url: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [worker, url, key, String(INCREMENTS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`worker exited with ${code}`)),
    );
  });
}

async function eightWriters(url: string): Promise<void> {
  const key = `/concurrency/${process.pid}/counter`;
  const store = await openStore(url);
  try {
    const start = await store.put(key, '0');
    const values: number[] = [];
    const w = store.watch(key, start + 1, {
      onEvents: (es) => es.forEach((e) => e.type === 'put' && values.push(Number(e.kv.value))),
      onError: (e) => assert.fail(e.message),
    });
    const t0 = Date.now();
    const conflicts = await Promise.all(
      Array.from({ length: PROCESSES }, () => runWorker(url, key)),
    );
    const seconds = (Date.now() - t0) / 1000;
    const total = PROCESSES * INCREMENTS;
    assert.equal((await store.get(key))!.value, String(total));
    const deadline = Date.now() + 10_000;
    while (values.length < total && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await w.cancel();
    assert.deepEqual(
      values,
      Array.from({ length: total }, (_, i) => i + 1),
    );
    process.stderr.write(
      `# ${url.split(':')[0]}: ${total} increments in ${seconds.toFixed(1)} s, ${conflicts.reduce((a, b) => a + b, 0)} conflicts retried\n`,
    );
  } finally {
    await store.close();
  }
}

test('concurrency: 8 processes × 500 CAS increments = 4000 on sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-cas-'));
  try {
    await eightWriters(`sqlite:${join(dir, 'store.db')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('concurrency: 8 processes × 500 CAS increments = 4000 on etcd', async () => {
  const cluster = await startEtcd(1);
  try {
    await eightWriters(cluster.storeUrl);
  } finally {
    await cluster.stop();
  }
});
