import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
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
  withLab,
} from '../helpers/lab.js';
import { startProcess } from '../../src/lab/supervisor.js';
import { isRunning } from '../../src/kernel/processes.js';

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

function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = execFileSync('cat', [`/proc/${p}/cmdline`], { encoding: 'utf8' });
      if (cmd.includes(text) && Number(p) !== process.pid) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Nothing of the lab is left: namespaces, state, /etc/netns files, processes. */
function assertGone(lab: string): void {
  assert.deepEqual(netnsOf(lab), [], 'namespaces left');
  assert.equal(existsSync(`${LABS_DIR}/${lab}`), false, 'state dir left');
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
  assert.deepEqual(
    etc.filter((d) => d.startsWith(`${lab}-`)),
    [],
    '/etc/netns dirs left',
  );
  assert.deepEqual(processesMentioning(`${LABS_DIR}/${lab}/`), [], 'processes left');
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

test('lab: up then down leaves no namespace, interface, process or file behind', () => {
  const rootBefore = rootNetwork();
  const name = testLabName();
  try {
    const lab = labUp(name);
    assert.equal(lab.phase, 'ready');
    assert.deepEqual(netnsOf(name).sort(), [
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
    assert.deepEqual(rootNetwork(), rootBefore, 'the root namespace got new interfaces');
  } finally {
    labDown(name);
  }
  assertGone(name);
  assert.deepEqual(rootNetwork(), rootBefore);
  // Nothing to remove is success.
  labDown(name);
});

test('lab: down cleans up after a lab whose up was killed midway and left processes and pods', async () => {
  const name = testLabName();
  try {
    // `lab up` killed at a random early point.
    const child = spawn(PODNET, ['lab', 'up', '--name', name], {
      stdio: 'ignore',
      env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
    });
    // Killed as soon as its first namespace shows up, so the kernel holds half a lab.
    for (let i = 0; i < 400 && netnsOf(name).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    // What a half-run test may leave: a pod namespace with its resolv.conf and a process.
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
    const hidden = spawn('ip', ['netns', 'exec', pod, 'sleep', '601'], {
      detached: true,
      stdio: 'ignore',
    });
    hidden.unref();
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(isRunning(stray));
  } finally {
    labDown(name);
  }
  assertGone(name);
});

test('lab: two labs with different names coexist', () => {
  const a = testLabName();
  const b = testLabName();
  try {
    labUp(a, ['--nodes', '2']);
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
    labDown(a);
    assertGone(a);
    assert.equal(netnsOf(b).length, 3, 'taking one lab down touched the other');
    busyboxPing(`${b}-node-1`, '172.31.1.2');
  } finally {
    labDown(a);
    labDown(b);
  }
  assertGone(b);
});

test('lab: same-zone hosts reach each other directly, other zones only through the router', async () => {
  await withLab(['--nodes', '3', '--zones', '2'], (lab) => {
    const n1 = lab.hosts[0]!.netns;
    const route = (dst: string): { gateway?: string; dev: string } =>
      JSON.parse(
        execFileSync('ip', ['-n', n1, '-j', 'route', 'get', dst], { encoding: 'utf8' }),
      )[0];
    // node-3 shares zone-1 with node-1: on link, no gateway, one hop.
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
    assert.equal(fwd(`${lab.name}-underlay`), '1');
  });
});

test('lab: bad input is one line on stderr with exit code 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown flag', ['lab', 'up', '--no-such-flag'], /unknown option '--no-such-flag'/],
    ['--nodes 0', ['lab', 'up', '--nodes', '0'], /--nodes 0: must be a whole number/],
    ['bad name', ['lab', 'up', '--name', 'Bad_Name'], /--name "Bad_Name"/],
    ['long name', ['lab', 'up', '--name', 'a'.repeat(16)], /at most 15 characters/],
    ['bad backend', ['lab', 'up', '--backend', 'carrier-pigeon'], /--backend/],
  ];
  for (const [what, args, message] of cases) {
    const r = podnet(args);
    assert.equal(r.status, 2, `${what}: exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, what);
  }
  const nonRoot = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', PODNET, 'lab', 'up'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(nonRoot.status, 2, nonRoot.stderr);
  assert.match(nonRoot.stderr, /needs root/);
  assert.equal(nonRoot.stderr.trim().split('\n').length, 1);
});

test('lab: up refuses a name that is already up, and leaves that lab alone', async () => {
  await withLab(['--nodes', '1', '--zones', '1'], (lab) => {
    const r = podnet(['lab', 'up', '--name', lab.name, '--nodes', '1']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /already up/);
    assert.equal(netnsOf(lab.name).length, 2);
  });
});
