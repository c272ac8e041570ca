import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { installPodnetCopy } from '../helpers/installed.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  LABS_DIR,
  PODNET,
  labDown,
  labUp,
  podnet,
  readLab,
  rootNetwork,
  sweepStaleLabs,
  testLabName,
} from '../helpers/lab.js';
import { listProcesses, startProcess } from '../../src/lab/supervisor.js';
import { isRunning, type ProcessIdentity } from '../../src/process/daemons.js';

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

function netnsOf(lab: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${lab}-`));
}

/** The lab's host and underlay namespaces, without its pods' (the cluster DNS pods among them). */
function hostNetnsOf(lab: string): string[] {
  return netnsOf(lab).filter(
    (n) => /^.*-(node-\d+|underlay)$/.test(n) && !n.includes('-kube-system-'),
  );
}

function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(text) && Number(p) !== process.pid) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Nothing of the lab is left: namespaces, state, /etc/netns files, processes. */
function assertGone(lab: string, recorded: ProcessIdentity[] = []): void {
  assert.deepEqual(netnsOf(lab), [], 'namespaces left');
  assert.equal(existsSync(`${LABS_DIR}/${lab}`), false, 'state dir left');
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
  assert.deepEqual(
    etc.filter((d) => d.startsWith(`${lab}-`)),
    [],
    '/etc/netns dirs left',
  );
  assert.deepEqual(processesMentioning(lab), [], 'processes left');
  assert.deepEqual(
    recorded.filter((p) => isRunning(p)),
    [],
    'recorded processes still running',
  );
}

function busyboxPing(netns: string, dst: string): { ttl: number } {
  const out = execFileSync(
    'ip',
    ['netns', 'exec', netns, 'busybox', 'ping', '-c', '1', '-W', '2', dst],
    { encoding: 'utf8' },
  );
  const m = /ttl=(\d+)/.exec(out);
  assert.ok(m, `no reply from ${dst}: ${out}`);
  return { ttl: Number(m[1]) };
}

test('lab: up then down leaves no namespace, interface, process or file behind; same zone is direct, other zones go through the router', () => {
  const rootBefore = rootNetwork();
  const name = testLabName();
  let recorded: ProcessIdentity[] = [];
  try {
    const lab = labUp(name);
    assert.equal(lab.phase, 'ready');
    assert.deepEqual(hostNetnsOf(name).sort(), [
      `${name}-node-1`,
      `${name}-node-2`,
      `${name}-node-3`,
      `${name}-underlay`,
    ]);
    assert.deepEqual(
      lab.hosts.map((h) => [h.name, h.zone, h.ip]),
      [
        ['node-1', 'zone-1', '172.31.1.1'],
        ['node-2', 'zone-2', '172.31.2.2'],
        ['node-3', 'zone-1', '172.31.1.3'],
      ],
    );
    assert.equal(lab.storeUrl, `sqlite:${LABS_DIR}/${name}/store.db`);
    recorded = listProcesses(lab.stateDir);
    // The lab's own daemons; pod containers (`pod-*`, the DNS pods) are their pod runner's and
    // may or may not have started by now.
    assert.deepEqual(
      listProcesses(lab.stateDir)
        .map((p) => p.id)
        .filter((id) => !id.startsWith('pod-'))
        .sort(),
      [
        'agent-node-1',
        'agent-node-2',
        'agent-node-3',
        'apiserver',
        'apiserver-relay',
        'dns-upstream',
        'kubelet-node-1',
        'kubelet-node-2',
        'kubelet-node-3',
        'ui',
      ],
    );
    assert.ok(recorded.every((p) => isRunning(p)));

    const n1 = lab.hosts[0]!.netns;
    const route = (dst: string): { gateway?: string; dev: string } =>
      JSON.parse(
        execFileSync('ip', ['-n', n1, '-j', 'route', 'get', dst], { encoding: 'utf8' }),
      )[0];
    // node-3 shares zone-1 with node-1: on link, no gateway, no hop.
    const direct = route('172.31.1.3');
    assert.equal(direct.dev, 'eth0');
    assert.equal(direct.gateway, undefined);
    assert.equal(busyboxPing(n1, '172.31.1.3').ttl, 64);
    // node-2 is in zone-2: through zone-1's router, which costs one hop of TTL.
    assert.equal(route('172.31.2.2').gateway, '172.31.1.254');
    assert.equal(busyboxPing(n1, '172.31.2.2').ttl, 63);
    // Forwarding is on inside the lab's namespaces only.
    const fwd = (ns: string): string =>
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.ip_forward'], {
        encoding: 'utf8',
      }).trim();
    assert.equal(fwd(n1), '1');
    assert.equal(fwd(`${name}-underlay`), '1');
    assert.deepEqual(rootNetwork(), rootBefore, 'the root namespace changed');
  } finally {
    labDown(name);
  }
  assertGone(name, recorded);
  assert.deepEqual(rootNetwork(), rootBefore);
  // Nothing to remove is success.
  labDown(name);
});

test('lab: down cleans up after a lab whose up was killed midway and left processes and pods', async () => {
  const name = testLabName();
  let recorded: ProcessIdentity[] = [];
  try {
    const child = spawn(PODNET, ['lab', 'up', '--name', name, '--ip-family', 'ipv4'], {
      stdio: 'ignore',
      env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
    });
    // Killed as soon as its first namespace shows up, so the kernel holds half a lab.
    for (let i = 0; i < 400 && netnsOf(name).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    // What a half-run test may leave: a pod namespace with its resolv.conf and processes.
    const pod = `${name}-node-1-default-stray`;
    execFileSync('ip', ['netns', 'add', pod]);
    mkdirSync(`/etc/netns/${pod}`, { recursive: true });
    writeFileSync(`/etc/netns/${pod}/resolv.conf`, 'nameserver 10.96.0.10\n');
    mkdirSync(`${LABS_DIR}/${name}`, { recursive: true });
    const stray = await startProcess(`${LABS_DIR}/${name}`, {
      id: 'stray',
      argv: ['sleep', '600'],
      netns: pod,
    });
    // And one nobody recorded.
    const hidden = spawn('ip', ['netns', 'exec', pod, 'sleep', '601'], {
      detached: true,
      stdio: 'ignore',
    });
    hidden.unref();
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(isRunning(stray));
    recorded = [stray];
  } finally {
    labDown(name);
  }
  assertGone(name, recorded);
});

function podnetAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PODNET, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

test('lab: two labs with different names coexist; a name coming up is refused, one that is up is repaired', async () => {
  const a = testLabName();
  const b = testLabName();
  try {
    // Two `lab up` of one name at once: exactly one builds it, the other leaves it alone.
    const race = await Promise.all([
      podnetAsync(['lab', 'up', '--name', a, '--nodes', '2', '--ip-family', 'ipv4']),
      podnetAsync(['lab', 'up', '--name', a, '--nodes', '2', '--ip-family', 'ipv4']),
    ]);
    assert.deepEqual(race.map((r) => r.status).sort(), [0, 2], JSON.stringify(race));
    assert.equal(readLab(a)?.phase, 'ready');
    labUp(b, ['--nodes', '2', '--zones', '1', '--backend', 'vxlan', '--proxy', 'nftables']);
    const la = readLab(a)!;
    const lb = readLab(b)!;
    assert.deepEqual(
      lb.hosts.map((h) => h.ip),
      ['172.31.1.1', '172.31.1.2'],
    );
    assert.equal(lb.options.backend, 'vxlan');
    assert.equal(lb.options.proxy, 'nftables');
    assert.equal(la.options.backend, 'auto');
    // Same addresses in both, each lab a world of its own.
    busyboxPing(`${a}-node-1`, '172.31.2.2');
    busyboxPing(`${b}-node-1`, '172.31.1.2');
    const status = JSON.parse(podnet(['lab', 'status', '-o', 'json']).stdout) as { name: string }[];
    assert.ok(status.some((s) => s.name === a) && status.some((s) => s.name === b));

    // `lab up` on a lab that is up repairs it: with every process alive, it restarts none,
    // and builds nothing (even when asked for another shape).
    const running = (): string[] =>
      listProcesses(la.stateDir)
        .map((p) => `${p.id} ${p.pid} ${p.startTime}`)
        .sort();
    const before = running();
    const again = podnet(['lab', 'up', '--name', a, '--nodes', '1']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(`^lab ${a}: every process is running; nothing to repair$`, 'm'),
    );
    assert.deepEqual(running(), before, 'lab up on a lab that is up restarted processes');
    assert.equal(hostNetnsOf(a).length, 3, 'lab up on a lab that is up rebuilt it');

    const recorded = listProcesses(la.stateDir);
    labDown(a);
    assertGone(a, recorded);
    assert.equal(hostNetnsOf(b).length, 3, 'taking one lab down touched the other');
    busyboxPing(`${b}-node-1`, '172.31.1.2');
  } finally {
    labDown(a);
    labDown(b);
  }
  assertGone(b);
});

test('lab: bad input is one line on stderr with exit code 2', async () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown flag', ['lab', 'up', '--no-such-flag'], /unknown option '--no-such-flag'/],
    ['--nodes 0', ['lab', 'up', '--nodes', '0'], /--nodes 0: must be a whole number/],
    ['bad name', ['lab', 'up', '--name', 'Bad_Name'], /--name "Bad_Name"/],
    ['long name', ['lab', 'up', '--name', 'a'.repeat(16)], /at most 15 characters/],
    ['bad backend', ['lab', 'up', '--backend', 'carrier-pigeon'], /--backend/],
  ];
  const run = (argv: string[]): Promise<{ status: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
  // Another user runs an installed podnet: this clone may be where only root can enter.
  const installed = installPodnetCopy();
  // One process each, all at once (node starts slowly here).
  const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const results = await Promise.all([
    ...cases.map(([, args]) => run([PODNET, ...args])),
    run([...asNobody, installed.bin, 'lab', 'up']),
  ]).finally(() => installed.remove());
  const all: [string, RegExp][] = [
    ...cases.map(([what, , m]): [string, RegExp] => [what, m]),
    ['not root', /needs root/],
  ];
  all.forEach(([what, message], i) => {
    const r = results[i]!;
    assert.equal(r.status, 2, `${what}: exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, what);
  });
});
