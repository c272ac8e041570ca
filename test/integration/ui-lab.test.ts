// The map in a real browser (Debian's Chromium, headless, driven by puppeteer-core) on the demo's
// cluster: what it shows, how fast it follows the store, a stopped agent, a trace drawn hop by
// hop, the demo's requests as flows, the token off loopback and that nothing but a trace is
// accepted. Screenshots go to PODNET_TEST_OUTPUT (default /tmp/podnet-test-output/ui).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { findProcess, startProcess, stopProcesses } from '../../src/lab/supervisor.js';
import {
  DEMO_MANIFEST,
  labDown,
  labUp,
  PODNET,
  podnetOk,
  readLab,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { traceJson } from '../helpers/trace-lab.js';

/** What the page's script shows of the map (window.podnetMap), read in the browser. */
interface MapCounts {
  zones: number;
  hosts: string[];
  pods: string[];
  endpoints: number;
  links: string[];
}

const CHROMIUM = process.env.PODNET_CHROMIUM ?? '/usr/bin/chromium';
const OUTPUT = join(process.env.PODNET_TEST_OUTPUT ?? '/tmp/podnet-test-output', 'ui');

describe('ui lab', () => {
  const name = testLabName();
  const env = { ...process.env };
  let browser: Browser;
  let page: Page;
  let url: string;
  const ok = (args: string[], input?: string): string =>
    podnetOk(['--lab', name, ...args], { input });
  const row = (id: string): string => `tr[data-id="${id}"]`;
  const shot = (file: string) => page.screenshot({ path: join(OUTPUT, file) });

  before(async () => {
    sweepStaleLabs();
    sweepStaleNamespaces();
    mkdirSync(OUTPUT, { recursive: true });
    // Inherited by the agents: a silent node is NotReady after 4 s rather than 40.
    process.env.PODNET_NODE_LEASE_SECONDS = '4';
    labUp(name);
    url = readLab(name)!.uiUrl!;
    ok(['apply', '-f', DEMO_MANIFEST]);
    await until(
      'the demo pods to run',
      () => {
        const pods = JSON.parse(ok(['get', 'pods', '-n', 'my-namespace', '-o', 'json'])) as {
          items: { status?: { phase?: string } }[];
        };
        return pods.items.length === 4 && pods.items.every((p) => p.status?.phase === 'Running')
          ? true
          : undefined;
      },
      90_000,
    );
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
  });
  after(async () => {
    await browser?.close();
    labDown(name);
    process.env = env;
  });

  test('ui: lab up and lab status print the map URL, which serves the page on loopback', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(podnetOk(['lab', 'status', '--name', name]), new RegExp(`^map: ${url}$`, 'm'));
    const res = await fetch(url);
    assert.equal(res.status, 200);
  });

  test("ui: the demo's map shows 3 hosts in 2 zones, the demo's pods and my-svc in front of them", async () => {
    const counts = (await page.evaluate(`(() => {
      const { cy } = window.podnetMap;
      return {
        zones: cy.nodes('[kind = "zone"]').length,
        hosts: cy.nodes('[kind = "host"]').map((n) => n.parent().id()),
        pods: cy
          .nodes('[kind = "pod"]')
          .map((n) => n.id())
          .filter((id) => id.startsWith('pod/my-namespace/')),
        endpoints: cy
          .edges('[kind = "endpoint"]')
          .filter((e) => e.source().id() === 'svc/my-namespace/my-svc').length,
        links: cy.edges('[kind = "link"]').map((e) => e.data('label')),
      };
    })()`)) as MapCounts;
    assert.equal(counts.zones, 2);
    assert.equal(counts.hosts.length, 3);
    assert.equal(new Set(counts.hosts).size, 2, 'hosts sit in two zones');
    assert.deepEqual(counts.pods.sort(), [
      'pod/my-namespace/client',
      'pod/my-namespace/echo-1',
      'pod/my-namespace/echo-2',
      'pod/my-namespace/echo-3',
    ]);
    assert.equal(counts.endpoints, 3);
    assert.deepEqual(counts.links.sort(), ['VXLAN', 'VXLAN', 'direct route']);
    // The same, as tables.
    for (const id of ['host/node-1', 'host/node-2', 'host/node-3', 'svc/my-namespace/my-svc']) {
      assert.ok(await page.$(row(id)), `${id} has no row`);
    }
    await shot('map.png');
  });

  test('ui: a pod applied afterwards appears within 2 s, and goes after delete', async () => {
    const id = 'pod/my-namespace/late';
    ok(
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: { name: late, namespace: my-namespace, labels: { app: late } }
spec:
  nodeName: node-2
  containers: [{ name: main, image: busybox, command: [sleep, "3600"] }]
`,
    );
    // Timed from the command's return: its own start-up on a busy machine is not the map's.
    await page.waitForSelector(row(id), { timeout: 2000 });
    await shot('pod-added.png');
    ok(['delete', 'pod', 'late', '-n', 'my-namespace']);
    await page.waitForSelector(row(id), { hidden: true, timeout: 10_000 });
  });

  test('ui: a trace from client to my-svc draws every hop on the map and in the table', async () => {
    const expected = traceJson(name, ['-n', 'my-namespace', 'client', 'my-svc:80']).out;
    await page.select('#trace-pod', 'my-namespace/client');
    await page.type('#trace-dest', 'my-svc:80');
    await page.click('#trace-run');
    await page.waitForSelector('table[data-kind="trace"] tbody tr', { timeout: 60_000 });
    const drawn = (await page.evaluate(`(() => {
      const { cy } = window.podnetMap;
      return {
        rows: [...document.querySelectorAll('table[data-kind="trace"] tbody tr')].map(
          (r) => r.children[0].textContent,
        ),
        traced: cy.$('.traced').map((e) => e.id()),
      };
    })()`)) as { rows: string[]; traced: string[] };
    assert.deepEqual(
      drawn.rows,
      expected.hops.map((h) => h.step),
    );
    for (const id of ['pod/my-namespace/client', 'svc/my-namespace/my-svc', 'host/node-1']) {
      assert.ok(drawn.traced.includes(id), `${id} is not drawn: ${drawn.traced.join(' ')}`);
    }
    await shot('trace.png');
  });

  test("ui: the flows view lists the demo's 30 requests with their pods, drawn as edges with rates", async () => {
    const svc = JSON.parse(ok(['get', 'svc', 'my-svc', '-n', 'my-namespace', '-o', 'json'])) as {
      spec: { clusterIP: string };
    };
    const requests = `for i in $(seq 30); do timeout 3 busybox wget -q -O - http://${svc.spec.clusterIP}/ >/dev/null; done`;
    podnetOk(
      ['lab', 'exec', '--name', name, '-n', 'my-namespace', 'client', '--', 'sh', '-c', requests],
      {
        timeoutMs: 180_000,
      },
    );
    const demoRows = `[...document.querySelectorAll('table[data-kind="flow"] tbody tr')]
      .map((tr) => [...tr.cells].map((c) => c.textContent))
      .filter((cells) => cells[2] === 'my-namespace/my-svc:80')`;
    await page.waitForFunction(`${demoRows}.length >= 30`, { timeout: 15_000 });
    const rows = (await page.evaluate(demoRows)) as string[][];
    for (const [, source, , destination, protocol, , verdict] of rows) {
      assert.match(source!, /^my-namespace\/client:\d+$/);
      assert.match(destination!, /^my-namespace\/echo-[123]:8080$/);
      assert.equal(protocol, 'tcp');
      assert.equal(verdict, 'forwarded');
    }
    // The client's edges to the echo pods behind my-svc (it also asks the cluster DNS).
    const edges = (await page.evaluate(`window.podnetMap.cy
      .edges('[kind = "flow"]')
      .filter((e) => e.source().id() === 'pod/my-namespace/client')
      .map((e) => [e.target().id(), e.data('label')])
      .filter(([target]) => target.startsWith('pod/my-namespace/echo-'))`)) as [string, string][];
    assert.ok(edges.length >= 1, 'no flow edge from the client to an echo pod');
    for (const [, label] of edges) assert.match(label, /^\d+\.\d\/s$/);
    await shot('flows.png');
    // Another namespace's flows only: the demo's requests leave the table and the map (the
    // client's DNS queries to kube-system stay).
    await page.select('#flow-namespace', 'kube-system');
    assert.equal(((await page.evaluate(demoRows)) as string[][]).length, 0);
    const echoEdges = `window.podnetMap.cy.edges('[kind = "flow"]').filter((e) => e.target().id().startsWith('pod/my-namespace/echo-')).length`;
    assert.equal(await page.evaluate(echoEdges), 0);
    await page.select('#flow-namespace', '');
  });

  test('ui: read-only: every method but GET, and POST anywhere but the trace, is refused', async () => {
    for (const path of ['', 'api/map', 'api/events', 'api/trace']) {
      for (const method of ['PUT', 'DELETE', 'PATCH', ...(path === 'api/trace' ? [] : ['POST'])]) {
        const res = await fetch(`${url}${path}`, {
          method,
          body: method === 'DELETE' ? null : '{}',
        });
        assert.equal(res.status, 405, `${method} /${path}`);
      }
    }
  });

  test('ui: off loopback the map refuses every request without its token', async () => {
    const child = spawn(PODNET, ['--lab', name, 'ui', '--listen', '0.0.0.0:0', '--no-doctor'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const printed = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => resolve(b.toString()));
        child.once('exit', (code) => reject(new Error(`podnet ui exited ${code}`)));
      });
      const m = /http:\/\/0\.0\.0\.0:(\d+)\/\?token=(\S+)/.exec(printed);
      assert.ok(m, printed);
      const base = `http://127.0.0.1:${m[1]}`;
      for (const path of ['/', '/app.js', '/api/map', '/api/events']) {
        assert.equal((await fetch(`${base}${path}`)).status, 401, path);
        assert.equal((await fetch(`${base}${path}?token=wrong`)).status, 401, path);
      }
      const trace = await fetch(`${base}/api/trace`, { method: 'POST', body: '{}' });
      assert.equal(trace.status, 401);
      assert.equal((await fetch(`${base}/api/map?token=${m[2]}`)).status, 200);
      const bearer = await fetch(`${base}/api/map`, {
        headers: { authorization: `Bearer ${m[2]}` },
      });
      assert.equal(bearer.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('ui: a host whose agent is stopped turns NotReady on the map', async () => {
    const stateDir = readLab(name)!.stateDir;
    const agent = findProcess(stateDir, 'agent-node-3')!;
    await stopProcesses(stateDir, [agent]);
    try {
      await page.waitForSelector(`${row('host/node-3')}.bad`, { timeout: 60_000 });
      const colour = (await page.evaluate(
        `window.podnetMap.cy.getElementById('host/node-3').data('colour')`,
      )) as string;
      assert.equal(colour, '#c62828');
      await shot('node-notready.png');
    } finally {
      await startProcess(stateDir, { id: agent.id, argv: agent.argv, netns: agent.netns });
    }
  });
});
