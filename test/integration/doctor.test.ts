// `podnet doctor` in a real lab: silent on a healthy host, and each problem it checks for,
// made on purpose in a host namespace, is found with its fix. The host's own processes are
// frozen while a problem is in place, so the agent's periodic repair cannot race the check.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { labDown, labUp, podnet, readLab, sweepStaleLabs, testLabName } from '../helpers/lab.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { freezeHost } from '../helpers/trace-lab.js';
import type { Verdict } from '../../src/diagnose/doctor.js';

const name = testLabName();
const host = `${name}-node-2`;

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
  labUp(name);
});

after(() => labDown(name));

function doctor(): { status: number | null; verdicts: Verdict[] } {
  const r = podnet(['--lab', name, 'doctor', '--node', 'node-2', '-o', 'json']);
  assert.notEqual(r.stdout, '', r.stderr);
  return { status: r.status, verdicts: (JSON.parse(r.stdout) as { verdicts: Verdict[] }).verdicts };
}

function sh(cmd: string): void {
  execFileSync('ip', ['netns', 'exec', host, 'sh', '-c', cmd], { stdio: 'pipe' });
}

test('doctor: a healthy lab host passes every check and exits 0', () => {
  const { status, verdicts } = doctor();
  assert.deepEqual(
    verdicts.filter((v) => !v.ok),
    [],
  );
  assert.equal(status, 0);
});

const problems: [string, string | string[], string, string, RegExp][] = [
  [
    'ip_forward off',
    'ip_forward',
    'sysctl -qw net.ipv4.ip_forward=0',
    'sysctl -qw net.ipv4.ip_forward=1',
    /ip_forward=1/,
  ],
  [
    'strict rp_filter on the tunnel',
    'rp_filter',
    'sysctl -qw net.ipv4.conf.pn-vxlan.rp_filter=1',
    'sysctl -qw net.ipv4.conf.pn-vxlan.rp_filter=0',
    /pn-vxlan\.rp_filter=2/,
  ],
  [
    'FORWARD policy DROP',
    'forward-policy',
    'iptables -P FORWARD DROP',
    'iptables -P FORWARD ACCEPT',
    /iptables -I FORWARD -s 10\.244\.0\.0\/16 -j ACCEPT/,
  ],
  [
    'a bridge that skips iptables',
    'bridge-nf-call',
    'ip link add pntbr0 type bridge && sysctl -qw net.bridge.bridge-nf-call-iptables=0',
    'ip link del pntbr0 && sysctl -qw net.bridge.bridge-nf-call-iptables=1',
    /bridge-nf-call-iptables=1/,
  ],
  [
    // The kernel refuses a VXLAN MTU above its underlay's, so the underlay shrinks under it.
    // Pods sized for the old underlay no longer fit either.
    'a tunnel MTU larger than the underlay allows',
    ['mtu-tunnel', 'mtu-pods'],
    'ip link set dev eth0 mtu 1400',
    'ip link set dev eth0 mtu 1500',
    /ip link set dev pn-vxlan mtu 1350/,
  ],
  [
    // A new device MAC makes the kernel flush the device's neighbours: routing's are gone too.
    'a changed VTEP MAC',
    ['kernel-state', 'vtep-mac'],
    'ip link set dev pn-vxlan address 02:00:00:00:be:ef',
    '',
    /ip link set dev pn-vxlan address /,
  ],
  [
    'a stale podnet route',
    'stale-routes',
    'ip route add 10.244.200.0/24 via 172.31.2.254 proto 80',
    'ip route del 10.244.200.0/24 proto 80',
    /ip route del 10\.244\.200\.0\/24 proto 80/,
  ],
];

for (const [what, check, breakIt, mendIt, fix] of problems) {
  test(`doctor: finds ${what}, names the fix, exits 1`, async () => {
    freezeHost(name, 'node-2', 'SIGSTOP');
    const macBefore = execFileSync('ip', ['-n', host, '-j', 'link', 'show', 'pn-vxlan'], {
      encoding: 'utf8',
    });
    const mac = (JSON.parse(macBefore) as { address: string }[])[0]!.address;
    try {
      sh(breakIt);
      const { status, verdicts } = doctor();
      const failed = verdicts.filter((v) => !v.ok);
      assert.deepEqual(
        failed.map((v) => v.check),
        [check].flat(),
        JSON.stringify(failed),
      );
      assert.ok(
        failed.some((v) => fix.test(v.fix ?? '')),
        JSON.stringify(failed),
      );
      assert.equal(status, 1);
    } finally {
      sh(mendIt || `ip link set dev pn-vxlan address ${mac}`);
      freezeHost(name, 'node-2', 'SIGCONT');
    }
    // What the fault took with it (neighbours) the agent puts back within its resync period.
    const deadline = Date.now() + 15_000;
    while (doctor().status !== 0) {
      assert.ok(Date.now() < deadline, `${what}: not repaired within 15 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });
}

test('doctor: finds two nodes publishing the same VTEP MAC', async () => {
  const { openStore } = await import('../../src/store/open.js');
  const { getObject, updateObject } = await import('../../src/store/objects.js');
  const store = await openStore(readLab(name)!.storeUrl);
  freezeHost(name, 'node-2', 'SIGSTOP');
  freezeHost(name, 'node-3', 'SIGSTOP');
  const key = 'podnet.io/vtep-mac';
  const own = (await getObject(store, 'Node', undefined, 'node-3'))!.metadata.annotations![key]!;
  const node2 = (await getObject(store, 'Node', undefined, 'node-2'))!.metadata.annotations![key]!;
  const setMac = (mac: string) =>
    updateObject(store, 'Node', undefined, 'node-3', (n) => {
      n.metadata.annotations = { ...n.metadata.annotations, [key]: mac };
      return n;
    });
  try {
    await setMac(node2);
    const { status, verdicts } = doctor();
    const failed = verdicts.filter((v) => !v.ok);
    // Routing on node-2 now wants node-3's neighbour at the MAC node-3 claims: not what the
    // kernel holds, so the kernel-state check names it too.
    assert.deepEqual(
      failed.map((v) => v.check),
      ['kernel-state', 'vtep-mac'],
    );
    assert.match(failed[1]!.detail, /nodes node-2, node-3 publish the same VTEP MAC/);
    assert.equal(status, 1);
  } finally {
    await setMac(own);
    freezeHost(name, 'node-3', 'SIGCONT');
    freezeHost(name, 'node-2', 'SIGCONT');
    await store.close();
  }
});
