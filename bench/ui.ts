// The map's benchmark, on a store holding 100 hosts in 4 zones and 3,000 pods (objects only),
// served in-process and opened in Debian's Chromium (headless):
// - Largest Contentful Paint of the page. Goal: <= 2.5 s (Core Web Vitals' "good").
// - time to the whole map: from opening the page until the map and its tables are drawn (LCP
//   does not see the map, a canvas).
// - map update latency: a pod written to the store until its row is in the browser's DOM, one
//   pod at a time. Goal: p99 < 1 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { LABEL_ZONE, type Node } from '../src/api/types.js';
import { openStore } from '../src/store/open.js';
import { createObject } from '../src/store/objects.js';
import { LiveMap } from '../src/ui/server/live-map.js';
import { OnDemand } from '../src/ui/server/on-demand.js';
import { startUiServer } from '../src/ui/server/server.js';
import { benchPod } from './lib/pods.js';
import { percentile } from './lib/stats.js';

const HOSTS = 100;
const ZONES = 4;
const PODS = 3000;
const UPDATES = 50;
const CHROMIUM = process.env.PODNET_CHROMIUM ?? '/usr/bin/chromium';

function benchNode(i: number): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${i}`, labels: { [LABEL_ZONE]: `zone-${(i % ZONES) + 1}` } },
    spec: { podCIDR: `10.244.${i}.0/24` },
    status: {
      addresses: [{ type: 'InternalIP', address: `172.31.${(i % ZONES) + 1}.${i + 1}` }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-ui-'));
const store = await openStore(`sqlite:${join(dir, 'store.db')}`);
const live = new LiveMap(store, (m) => process.stderr.write(`${m}\n`));
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  for (let i = 0; i < HOSTS; i++) await createObject(store, benchNode(i));
  for (let i = 0; i < PODS; i++) {
    const pod = benchPod('bench', `pod-${i}`, i);
    pod.spec.nodeName = `node-${i % HOSTS}`;
    await createObject(store, pod);
  }
  await live.start();
  const { server, url } = await startUiServer({
    listen: { host: '127.0.0.1', port: 0 },
    live,
    podnet: () => Promise.reject(new Error('no trace in the benchmark')),
    // Nothing runs in the background of the benchmark's map.
    watched: new OnDemand(() => () => undefined, 0),
    onError: (m) => process.stderr.write(`${m}\n`),
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    await page.evaluateOnNewDocument(`
      window.__lcp = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__lcp = e.startTime;
      }).observe({ type: 'largest-contentful-paint', buffered: true });
    `);
    const opened = performance.now();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    const ready = performance.now() - opened;
    await new Promise((r) => setTimeout(r, 1000));
    const lcp = (await page.evaluate('window.__lcp')) as number;

    const latencies: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      const pod = benchPod('bench', `late-${i}`, i);
      pod.spec.nodeName = `node-${i % HOSTS}`;
      const started = performance.now();
      await createObject(store, pod);
      await page.waitForSelector(`tr[data-id="pod/bench/late-${i}"]`, { timeout: 30_000 });
      latencies.push(performance.now() - started);
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    process.stdout.write(
      `map of ${HOSTS} hosts in ${ZONES} zones, ${PODS} pods\n` +
        `  largest contentful paint   ${lcp.toFixed(0)} ms   (goal <= 2500)\n` +
        `  whole map drawn            ${ready.toFixed(0)} ms\n` +
        `  update to DOM p50 / p99    ${p50.toFixed(0)} / ${p99.toFixed(0)} ms   (goal p99 < 1000)\n`,
    );
    process.stdout.write(`BENCH ui lcp_ms=${lcp.toFixed(0)} goal=<=2500\n`);
    process.stdout.write(`BENCH ui map_ready_ms=${ready.toFixed(0)}\n`);
    process.stdout.write(`BENCH ui update_to_dom_p99_ms=${p99.toFixed(0)} goal=<1000\n`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
} finally {
  await browser.close();
  await live.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
