// `podnet install --root DIR`: the units, settings and CNI files it writes, and systemd's own
// verdict on the units (`systemd-analyze verify`, which also checks that the program they run
// exists and is executable).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;
const shim = new URL('../../bin/podnet-cni', import.meta.url).pathname;
const roots: string[] = [];
// install refuses programs under /root and /home, which the units hide; a clone there is
// verified with a stand-in program instead.
const program = /^\/(root|home)(\/|$)/.test(podnet) ? '/bin/sh' : podnet;

after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function install(args: string[]): { code: number | null; out: string; err: string; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'pnt-install-'));
  roots.push(root);
  const r = spawnSync(podnet, ['install', '--root', root, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PODNET_STORE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr, root };
}

function verify(units: string[]): { code: number | null; err: string } {
  const r = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
}

const UNITS = ['podnet-agent.service', 'podnet-dns.service'];

test('install writes units systemd accepts, their settings, and the CNI plugin with portmap', () => {
  const { code, out, err, root } = install([
    '--store',
    'etcd:10.0.0.1:2379,10.0.0.2:2379',
    '--node',
    'host-1',
    '--zone',
    'rack-1',
    '--upstream',
    '192.0.2.53',
    '--portmap',
    '--podnet',
    program,
  ]);
  assert.equal(code, 0, err);
  const units = UNITS.map((u) => join(root, 'etc/systemd/system', u));
  assert.deepEqual(
    out.trim().split('\n'),
    [
      join(root, 'etc/podnet/podnet.env'),
      ...units,
      join(root, 'opt/cni/bin/podnet'),
      join(root, 'etc/cni/net.d/10-podnet.conflist'),
    ].map((f) => `wrote ${f}`),
  );
  assert.match(err, /systemctl daemon-reload && systemctl enable --now podnet-agent/);

  const checked = verify(units);
  assert.equal(checked.err, '');
  assert.equal(checked.code, 0);

  const agent = readFileSync(units[0]!, 'utf8');
  assert.match(agent, new RegExp(`^ExecStart=${program} agent \\$PODNET_AGENT_ARGS$`, 'm'));
  assert.match(agent, /^After=network-online\.target$/m);
  assert.match(agent, /^Restart=always$/m);
  assert.match(agent, /^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN$/m);
  const dns = readFileSync(units[1]!, 'utf8');
  assert.match(dns, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  assert.match(dns, /^DynamicUser=yes$/m);

  assert.equal(
    readFileSync(join(root, 'etc/podnet/podnet.env'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('PODNET_'))
      .join('\n'),
    [
      'PODNET_STORE=etcd:10.0.0.1:2379,10.0.0.2:2379',
      'PODNET_AGENT_ARGS=--node host-1 --zone rack-1 --state-dir /var/lib/podnet --socket /run/podnet/agent.sock',
      'PODNET_DNS_ARGS=--upstream 192.0.2.53',
    ].join('\n'),
  );

  const plugin = join(root, 'opt/cni/bin/podnet');
  accessSync(plugin, constants.X_OK);
  assert.ok(readFileSync(plugin).equals(readFileSync(shim)));
  const conflist = JSON.parse(readFileSync(join(root, 'etc/cni/net.d/10-podnet.conflist'), 'utf8'));
  assert.deepEqual(
    conflist.plugins.map((p: { type: string }) => p.type),
    ['podnet', 'portmap'],
  );
});

test('systemd-analyze refuses units whose program is missing, so the check above can fail', () => {
  const { code, err, root } = install([
    '--store',
    'etcd:10.0.0.1:2379',
    '--podnet',
    '/opt/none/podnet',
  ]);
  assert.equal(code, 0, err);
  const checked = verify(UNITS.map((u) => join(root, 'etc/systemd/system', u)));
  assert.notEqual(checked.code, 0);
  assert.match(checked.err, /\/opt\/none\/podnet is not executable/);
});

test('install refuses what the units could not carry, naming the flag (exit 2)', () => {
  const cases: [string[], RegExp][] = [
    [[], /--store: give the cluster store every host shares/],
    [['--store', 'etcd:10.0.0.1:2379', '--node', 'a b'], /--node "a b": must be one word/],
    [
      ['--store', 'etcd:10.0.0.1:2379', '--upstream', 'dns.example'],
      /--upstream dns\.example: expected an IP address/,
    ],
    [
      ['--store', 'etcd:10.0.0.1:2379', '--node-ip', '10.0.0.300'],
      /--node-ip 10\.0\.0\.300: must be an IPv4 address/,
    ],
    [
      ['--store', 'etcd:10.0.0.1:2379', '--podnet', 'bin/podnet'],
      /--podnet bin\/podnet: must be an absolute path/,
    ],
    [
      ['--store', 'etcd:10.0.0.1:2379', '--podnet', '/root/podnet/bin/podnet'],
      /services cannot run a program under \/root or \/home/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = install(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.equal(r.out, '');
  }
});
