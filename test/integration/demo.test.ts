// `podnet demo` end to end, non-interactively, asserting on its machine-readable summary.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABS_DIR, podnet, readLab, sweepStaleLabs, testLabName } from '../helpers/lab.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import type { DemoFlow, DemoSummary } from '../../src/lab/demo.js';

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

test('demo (dual-stack by default): my-svc resolves to its cluster IP of each family (A, AAAA), requests by name spread over all 3 pods in each, each path is the one its zone calls for, trace follows the name, and the lab is removed', () => {
  const name = testLabName();
  try {
    const r = podnet(['demo', '--name', name, '--requests', '30', '--output', 'json'], {
      timeoutMs: 300_000,
    });
    assert.equal(r.status, 0, r.stderr);
    // A person reads the story: the lab's JSON log lines stay in its log files (unless -v).
    const logLines = r.stderr.split('\n').filter((line) => /^\s*\{.*"(level|msg)"/.test(line));
    assert.deepEqual(logLines, [], 'JSON log lines in the demo');
    const summary = JSON.parse(r.stdout) as DemoSummary;
    assert.equal(summary.ipFamily, 'dual');
    assert.deepEqual(
      summary.flows.map((f) => f.family),
      ['ipv4', 'ipv6'],
    );
    const [v4, v6] = summary.flows as [DemoFlow, DemoFlow];
    assert.match(v4.serviceIP, /^10\.96\./);
    assert.match(v6.serviceIP, /^fd00:10:96::/);
    for (const flow of summary.flows) {
      const what = `${flow.family}: ${JSON.stringify(flow)}`;
      // The client asked the cluster DNS for the name (A, AAAA) and got that cluster IP.
      assert.deepEqual(flow.dnsAnswer, [flow.serviceIP], what);
      assert.equal(flow.answered, 30, what);
      for (const pod of ['echo-1', 'echo-2', 'echo-3']) {
        assert.ok(flow.spread[pod]! > 0, `${pod} served no request: ${what}`);
      }
      // The client host's own conntrack shows the DNAT to each of the three pod IPs.
      assert.deepEqual(Object.keys(flow.dnat).sort(), flow.paths.map((p) => p.podIP).sort(), what);
      // client on node-1 (zone 1): echo-1 is local, echo-3 shares zone 1, echo-2 is in zone 2.
      assert.deepEqual(
        flow.paths.map((p) => [p.pod, p.kind]),
        [
          ['echo-1', 'local'],
          ['echo-2', 'vxlan'],
          ['echo-3', 'direct'],
        ],
        what,
      );
      assert.ok(flow.trace.ok, `trace: ${what}`);
      assert.ok(flow.trace.dns.includes(`→ ${flow.serviceIP} `), `trace's DNS step: ${what}`);
    }
    assert.equal(summary.labRemoved, true);
    assert.equal(readLab(name), undefined, 'lab state left behind');
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.doesNotMatch(left, new RegExp(`^${name}-`, 'm'), 'lab namespaces left behind');
  } finally {
    podnet(['lab', 'down', '--name', name]);
  }
});

test('demo --keep --ip-family ipv6: the flow works over IPv6 alone, and every Try line it prints runs as printed (exit 0), even with another lab up', () => {
  const name = testLabName();
  // A second lab on the machine: commands that count on "the one lab that is up" would refuse.
  const other = testLabName();
  try {
    // On an IPv6-only lab: the request flow with no IPv4 in the pod network, and Try lines
    // (dig, trace) that must work there too.
    const r = podnet(
      ['demo', '--name', name, '--requests', '3', '--keep', '--ip-family', 'ipv6', '-o', 'json'],
      { timeoutMs: 240_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as DemoSummary;
    assert.deepEqual(
      summary.flows.map((f) => [f.family, f.answered, f.trace.ok]),
      [['ipv6', 3, true]],
      r.stdout,
    );
    assert.ok(summary.tryCommands.length >= 4, r.stdout);
    mkdirSync(join(LABS_DIR, other));
    const info = JSON.parse(readFileSync(join(LABS_DIR, name, 'lab.json'), 'utf8')) as object;
    writeFileSync(join(LABS_DIR, other, 'lab.json'), JSON.stringify({ ...info, name: other }));
    for (const argv of summary.tryCommands) {
      const t = podnet(argv, { timeoutMs: 60_000 });
      assert.equal(t.status, 0, `podnet ${argv.join(' ')}: ${t.stderr}`);
    }
    assert.equal(readLab(name), undefined, 'the last Try line removes the lab');
  } finally {
    rmSync(join(LABS_DIR, other), { recursive: true, force: true });
    podnet(['lab', 'down', '--name', name]);
  }
});

test('demo: bad input is one line and exit code 2', () => {
  const r = podnet(['demo', '--requests', '0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--requests 0: must be a whole number from 3 to 1000/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('demo: Ctrl-C while it runs removes the lab', async () => {
  const name = testLabName();
  const { spawn } = await import('node:child_process');
  const { PODNET } = await import('../helpers/lab.js');
  const child = spawn(PODNET, ['demo', '--name', name], {
    env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (b: Buffer) => {
        stderr += b.toString();
        // Interrupt once the lab exists and pods are being applied.
        if (stderr.includes('2/7')) resolve();
      });
      child.once('exit', () =>
        reject(new Error(`demo ended before it was interrupted: ${stderr}`)),
      );
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 130);
    assert.equal(readLab(name), undefined, 'lab state left behind');
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.doesNotMatch(left, new RegExp(`^${name}-`, 'm'), 'lab namespaces left behind');
  } finally {
    child.kill('SIGKILL');
    podnet(['lab', 'down', '--name', name]);
  }
});
