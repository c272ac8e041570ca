// The proxy inside the real agent, both modes: `podnet agent` runs in a host namespace
// against a sqlite store; Services and Pods written to the store become rules; a rule set the
// kernel rejects shows on the agent's /healthz while the old rules keep working. After each
// scenario the host's rules equal what a fresh proxier programs into the fakes from the store.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Pod, ProxyMode } from '../../src/api/types.js';
import { applyObject, keyOf } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { agentsCaughtUp, assertAgentProxyMatchesKernel } from '../helpers/agent-proxy-drift.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { buildTopology, type Topology } from '../helpers/proxy-topology.js';
import { waitFor } from '../helpers/wait.js';
import { webPod, webService } from '../helpers/web-objects.js';

before(() => sweepStaleNamespaces());

const PODNET = fileURLToPath(new URL('../../../bin/podnet', import.meta.url));

function backend(name: string, ip: string, ready: boolean): Pod {
  return webPod('test', name, ip, ready, { nodeName: 'h0' });
}

/** Every check here is quick and synchronous: polled every 100 ms for up to 20 s. */
function until(what: string, check: () => boolean): Promise<boolean> {
  return waitFor(what, check, 20_000, 100);
}

for (const mode of ['iptables', 'nftables'] as ProxyMode[]) {
  describe(`proxy agent ${mode}`, { concurrency: false }, () => {
    let topo: Topology;
    let store: Store;
    let dir: string;
    let agent: ChildProcess | undefined;
    const get = (path: string): string =>
      topo.exec(topo.hosts[0], ['curl', '-s', `http://127.0.0.1:9101${path}`]);
    const health = (): { ready: boolean; errors: Record<string, string> } => {
      try {
        return JSON.parse(get('/healthz')) as { ready: boolean; errors: Record<string, string> };
      } catch {
        return { ready: false, errors: {} };
      }
    };
    const reach = (n: number): Record<string, number> => {
      const r = topo.connect(topo.pods.c1!.ns, '10.96.0.20', 80, n, 'tcp');
      return r.counts;
    };

    before(async () => {
      topo = buildTopology([
        { name: 'c1', host: 0, n: 10 },
        { name: 'b1', host: 0, n: 3 },
        { name: 'b2', host: 1, n: 2 },
      ]);
      await topo.serve(['b1', 'b2'], 8080);
      dir = mkdtempSync(join(tmpdir(), 'pnt-proxy-agent-'));
      const url = `sqlite:${join(dir, 'store.db')}`;
      store = await openStore(url);
      const web = webService('test', [{ name: 'http', port: 80, targetPort: 8080 }]);
      await applyObject(store, web);
      await applyObject(store, backend('b1', topo.pods.b1!.ip, true));
      await applyObject(store, backend('b2', topo.pods.b2!.ip, true));
      agent = spawn(
        'ip',
        [
          'netns',
          'exec',
          topo.hosts[0],
          PODNET,
          '--store',
          url,
          'agent',
          '--node',
          'h0',
          '--state-dir',
          join(dir, 'state'),
          '--socket',
          join(dir, 'agent.sock'),
          '--metrics',
          '127.0.0.1:9101',
          '--proxy',
          mode,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PODNET_LOG_LEVEL: 'warn' } },
      );
      agent.stderr!.on('data', () => undefined);
      await until('the agent to be ready', () => health().ready);
    });
    afterEach(async () => {
      const host = { node: 'h0', ns: topo.hosts[0], metrics: '127.0.0.1:9101' };
      // A stopped agent has nothing left to catch up on: its rules are what it last made.
      if (agent) {
        await agentsCaughtUp(
          store,
          [host],
          [
            { kind: 'Service', namespace: 'test', name: 'web' },
            { kind: 'Pod', namespace: 'test', name: 'b1' },
          ],
        );
      }
      await assertAgentProxyMatchesKernel(store, host, mode, { stopped: !agent });
    });
    after(async () => {
      agent?.kill('SIGTERM');
      await store?.close();
      topo?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    test(`proxy agent ${mode}: services and pods in the store become rules`, () => {
      const counts = reach(60);
      assert.deepEqual(Object.keys(counts).sort(), ['b1', 'b2']);
    });

    test(`proxy agent ${mode}: a pod that stops being ready stops getting connections`, async () => {
      await applyObject(store, backend('b2', topo.pods.b2!.ip, false));
      await until('b2 to leave the service', () => reach(20).b2 === undefined);
      assert.deepEqual(reach(60), { b1: 60 });
      await applyObject(store, backend('b2', topo.pods.b2!.ip, true));
      await until('b2 to come back', () => (reach(30).b2 ?? 0) > 0);
    });

    test(`proxy agent ${mode}: a rejected rule set keeps the old rules and shows on /healthz`, async () => {
      const bad = webService('test', [{ port: 80, targetPort: 8080 }], {
        name: 'bad',
        clusterIP: '10.96.0.300',
      });
      // Written past validation on purpose: the kernel is the last line of defence.
      await store.put(keyOf(bad), JSON.stringify(bad));
      await until('the error on /healthz', () => /sync failed/.test(health().errors.proxy ?? ''));
      assert.deepEqual(Object.keys(reach(30)).sort(), ['b1', 'b2']);
      await store.delete(keyOf(bad));
      await until('the error to clear', () => health().errors.proxy === undefined);
    });

    test(`proxy agent ${mode}: sync metrics on /metrics`, () => {
      const text = get('/metrics');
      assert.match(text, /^podnet_sync_proxy_rules_duration_seconds_bucket\{.*mode="/m);
      assert.match(text, /^podnet_sync_proxy_rules_last_timestamp_seconds \d/m);
      assert.match(text, /^podnet_sync_proxy_rules_count\{kind="rules"\} \d+/m);
      assert.match(
        text,
        /^podnet_sync_proxy_rules_total\{reason="[^"]+",kind="full",result="ok"\} \d/m,
      );
    });

    test(`proxy agent ${mode}: rules stay when the agent stops`, async () => {
      const stopped = new Promise((r) => agent!.once('exit', r));
      agent!.kill('SIGTERM');
      await stopped;
      agent = undefined;
      assert.deepEqual(Object.keys(reach(30)).sort(), ['b1', 'b2']);
    });
  });
}
