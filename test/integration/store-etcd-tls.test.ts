// etcd with TLS and client certificates, reached through `etcd:H:P?ca=F&cert=F&key=F`; without
// the client certificate the store says it is unavailable, within the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { WatchEvent } from '../../src/store/store.js';
import { StoreUnavailableError } from '../../src/util/errors.js';
import { makeTestCerts, startEtcd } from '../helpers/etcd.js';

/** This process's established TCP connections to `port` on the loopback, from /proc. */
function connectionsTo(port: number): number {
  const mine = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) mine.add(m[1]!);
    } catch {
      // closed since listed
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/self/net/tcp', '/proc/self/net/tcp6']
    .flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').slice(1))
    .map((row) => row.trim().split(/\s+/))
    .filter((c) => c[2]!.endsWith(`:${hexPort}`) && c[3] === '01' && mine.has(c[9]!)).length;
}

test('etcd over TLS with client certificates: put, get, watch; no certificate, no store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-tls-'));
  const certs = makeTestCerts(dir);
  const cluster = await startEtcd(1, { tls: certs });
  try {
    const url = `${cluster.storeUrl}?ca=${certs.ca}&cert=${certs.clientCert}&key=${certs.clientKey}`;
    const store = await openStore(url);
    try {
      const got: WatchEvent[] = [];
      const w = store.watch('/tls/', 0, {
        onEvents: (e) => got.push(...e),
        onError: (e) => assert.fail(e.message),
      });
      await new Promise((r) => setTimeout(r, 200));
      const rev = await store.put('/tls/k', 'secret');
      assert.equal((await store.get('/tls/k'))?.modRevision, rev);
      const deadline = Date.now() + 5000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(got[0]?.type === 'put' && got[0].kv.value, 'secret');
      // The watch has a connection of its own, apart from the one reads and writes take.
      assert.equal(connectionsTo(Number(new URL(cluster.members[0]!.clientUrl).port)), 2);
      await w.cancel();
    } finally {
      await store.close();
    }

    const noClientCert = await openStore(`${cluster.storeUrl}?ca=${certs.ca}&timeout=2000`);
    try {
      const t0 = Date.now();
      await assert.rejects(noClientCert.get('/tls/k'), StoreUnavailableError);
      assert.ok(Date.now() - t0 < 3000, 'fails within the timeout');
    } finally {
      await noClientCert.close();
    }
    await assert.rejects(
      openStore(`${cluster.storeUrl}?ca=${join(dir, 'missing.pem')}`),
      /ca .*missing\.pem: cannot read it/,
    );
    await assert.rejects(
      openStore(`${cluster.storeUrl}?cert=${certs.clientCert}`),
      /give cert and key together/,
    );
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
