// A real runtime: Debian's podman 4.3 (CNI backend, runc, cgroupfs) runs a busybox container
// on a host namespace with podnet's conflist, installed by `podnet cni install`. The container
// gets a podnet address, its Pod object is created in `default`, and it reaches a pod on a
// second host of the same zone (two host namespaces on one underlay bridge, routed by the
// agents' own routing controllers).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { startAgentNode, type AgentNode } from '../helpers/cni-node.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

const PODNET = new URL('../../../bin/podnet', import.meta.url).pathname;
let dir: string;
let store: Store;
const namespaces: string[] = [];
const agents: AgentNode[] = [];

function sh(netns: string, ...argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8' });
}

before(async () => {
  sweepStaleNamespaces();
  dir = mkdtempSync(join(tmpdir(), 'podnet-podman-test-'));
  store = await openStore(`sqlite:${join(dir, 'store.db')}`);
});

after(async () => {
  for (const a of agents) await a.stop('SIGKILL');
  namespaces.forEach(deleteNamespace);
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Underlay namespace with a bridge for zone 1, and two hosts plugged into it. */
function buildZone(): { hosts: string[] } {
  const underlay = uniqueName('u');
  const hosts = [uniqueName('h1'), uniqueName('h2')];
  namespaces.push(underlay, ...hosts);
  for (const ns of [underlay, ...hosts]) execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', underlay, 'link', 'add', 'br-z1', 'type', 'bridge']);
  execFileSync('ip', ['-n', underlay, 'link', 'set', 'br-z1', 'up']);
  hosts.forEach((h, i) => {
    execFileSync('ip', [
      '-n',
      h,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      `h${i + 1}`,
      'netns',
      underlay,
    ]);
    execFileSync('ip', ['-n', underlay, 'link', 'set', `h${i + 1}`, 'master', 'br-z1', 'up']);
    execFileSync('ip', ['-n', h, 'addr', 'add', `172.31.1.${i + 1}/24`, 'dev', 'eth0']);
    execFileSync('ip', ['-n', h, 'link', 'set', 'eth0', 'up']);
  });
  return { hosts };
}

/** A root filesystem of busybox-static and its applet links: no registry needed. */
function busyboxRootfs(): string {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'ip', 'nc', 'cat'])
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  return rootfs;
}

test('cni-podman: podman runs busybox with a podnet address that reaches a pod on another host', async () => {
  const { hosts } = buildZone();
  const [h1, h2] = hosts as [string, string];
  const storeUrl = `sqlite:${join(dir, 'store.db')}`;
  const a1 = await startAgentNode({
    name: 'node-1',
    stateDir: join(dir, 'node-1'),
    netns: h1,
    storeUrl,
    nodeIP: '172.31.1.1',
    zone: 'z1',
  });
  agents.push(a1);
  const a2 = await startAgentNode({
    name: 'node-2',
    stateDir: join(dir, 'node-2'),
    netns: h2,
    storeUrl,
    nodeIP: '172.31.1.2',
    zone: 'z1',
  });
  agents.push(a2);
  const cidr1 = (await getObject(store, 'Node', undefined, 'node-1'))!.spec.podCIDR!;
  const cidr2 = (await getObject(store, 'Node', undefined, 'node-2'))!.spec.podCIDR!;
  // The agents' routing controllers install the direct same-zone routes between the hosts.
  await waitForRoute(h1, cidr2, '172.31.1.2');
  await waitForRoute(h2, cidr1, '172.31.1.1');

  // A pod on host 2, made through the plugin, serving a page.
  const target = uniqueName('t');
  namespaces.push(target);
  execFileSync('ip', ['netns', 'add', target]);
  const added = await a2.call({
    command: 'ADD',
    containerID: 'target-1',
    netns: `/run/netns/${target}`,
    args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=target',
  });
  assert.equal(added.code, 0, added.stdout);
  const targetIP = (added.json!.ips as { address: string }[])[0]!.address.split('/')[0]!;
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'hello from node-2\n');
  execFileSync('ip', ['-n', target, 'link', 'set', 'lo', 'up']);
  sh(target, 'busybox', 'httpd', '-p', '8080', '-h', www);

  // podman on host 1: podnet installed into private dirs, CNI backend, runc, cgroupfs.
  const binDir = join(dir, 'cni-bin');
  const confDir = join(dir, 'net.d');
  execFileSync(PODNET, [
    'cni',
    'install',
    '--bin-dir',
    binDir,
    '--conf-dir',
    confDir,
    '--socket',
    a1.socket,
  ]);
  const containersConf = join(dir, 'containers.conf');
  writeFileSync(
    containersConf,
    [
      '[containers]',
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${binDir}"]`,
      '',
    ].join('\n'),
  );
  // nsenter, not `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts runc needs.
  const podman = spawnSync(
    'nsenter',
    [
      `--net=/run/netns/${h1}`,
      'podman',
      '--root',
      join(dir, 'storage'),
      '--runroot',
      join(dir, 'run'),
      '--network-config-dir',
      confDir,
      'run',
      '--rm',
      '--name',
      'box',
      '--network',
      'podnet',
      '--rootfs',
      busyboxRootfs(),
      // busybox-static's wget crashes in a bare rootfs (NSS); nc speaks the HTTP just as well.
      'sh',
      '-c',
      `ip -4 -o addr show dev eth0; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${targetIP} 8080`,
    ],
    { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF: containersConf }, timeout: 90_000 },
  );
  assert.equal(podman.status, 0, `podman failed: ${podman.stderr}\n${podman.stdout}`);
  const address = /inet (10\.244\.\d+\.\d+)\/32/.exec(podman.stdout)?.[1];
  assert.ok(address, `no podnet address in: ${podman.stdout}`);
  assert.ok(
    address.startsWith(cidr1.split('.').slice(0, 3).join('.')),
    `${address} not in ${cidr1}`,
  );
  assert.match(podman.stdout, /hello from node-2/);
  // podman's DEL on --rm removed the address, the link and the Pod podnet made for it.
  assert.deepEqual(a1.allocations(), []);
  assert.deepEqual(a1.podLinks(), []);
  assert.equal(await getObject(store, 'Pod', 'default', 'box'), undefined);
});

async function waitForRoute(netns: string, dst: string, via: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const routes = execFileSync('ip', ['-n', netns, 'route', 'show', dst], { encoding: 'utf8' });
    if (routes.includes(`via ${via}`)) return;
    if (Date.now() > deadline) throw new Error(`${netns}: no route to ${dst} via ${via}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
