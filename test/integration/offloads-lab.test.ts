// The offloads the agent keeps, in a real lab: set on a new host's underlay, tunnel and pod
// veths; repaired after `ethtool -K` turns one off by hand; shown by `podnet plan` (the
// command that would turn it back on) and by `podnet doctor` while the agent is frozen.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  echoPodYaml,
  labDown,
  labUp,
  podnet,
  podnetOk,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { freezeHost } from '../helpers/trace-lab.js';
import type { Verdict } from '../../src/diagnose/doctor.js';

const name = testLabName();
const host = `${name}-node-1`;

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
  labUp(name, ['--nodes', '2', '--zones', '1', '--backend', 'vxlan']);
});

after(() => labDown(name));

function inHost(argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', host, ...argv], { encoding: 'utf8' });
}

/** Whether `feature` of `dev` in node-1 is on. */
function featureOn(dev: string, feature: string): boolean {
  const [table] = JSON.parse(inHost(['ethtool', '--json', '-k', dev])) as Record<
    string,
    { active: boolean }
  >[];
  return table![feature]!.active;
}

function podVeth(): string | undefined {
  const links = JSON.parse(inHost(['ip', '-j', 'link', 'show', 'type', 'veth'])) as {
    ifname: string;
  }[];
  return links.map((l) => l.ifname).find((n) => /^pn[0-9a-f]{11}$/.test(n));
}

function offloadsVerdict(): Verdict {
  const r = podnet(['--lab', name, 'doctor', '--node', 'node-1', '-o', 'json']);
  assert.notEqual(r.stdout, '', r.stderr);
  const { verdicts } = JSON.parse(r.stdout) as { verdicts: Verdict[] };
  return verdicts.find((v) => v.check === 'offloads')!;
}

const KEPT: [string, string][] = [
  ['eth0', 'generic-receive-offload'],
  ['eth0', 'rx-udp-gro-forwarding'],
  ['eth0', 'tx-udp_tnl-segmentation'],
  ['pn-vxlan', 'generic-receive-offload'],
];

test('offloads: a new host gets them on its underlay, tunnel and pod veths', async () => {
  podnetOk(['--lab', name, 'apply', '-f', '-'], { input: echoPodYaml('echo', 'node-1') });
  const veth = await until('the pod veth', podVeth);
  await until('the offloads to be on', () =>
    [...KEPT, [veth, 'generic-receive-offload'] as [string, string]].every(([d, f]) =>
      featureOn(d, f),
    )
      ? true
      : undefined,
  );
  assert.equal(offloadsVerdict().ok, true);
});

test('offloads: turned off by hand, plan and doctor show it and the agent turns it back on', async () => {
  const veth = await until('the pod veth', podVeth);
  freezeHost(name, 'node-1', 'SIGSTOP');
  try {
    inHost(['ethtool', '-K', 'eth0', 'rx-udp-gro-forwarding', 'off']);
    inHost(['ethtool', '-K', veth, 'gro', 'off']);
    const plan = podnetOk(['--lab', name, 'plan', '--node', 'node-1']);
    assert.match(plan, /^ethtool -K eth0 rx-udp-gro-forwarding on$/m);
    assert.match(plan, new RegExp(`^ethtool -K ${veth} generic-receive-offload on$`, 'm'));
    const verdict = offloadsVerdict();
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /eth0 rx-udp-gro-forwarding/);
    assert.match(verdict.fix ?? '', /ethtool -K eth0 rx-udp-gro-forwarding on/);
  } finally {
    freezeHost(name, 'node-1', 'SIGCONT');
  }
  await until(
    'the agent to repair them',
    () =>
      featureOn('eth0', 'rx-udp-gro-forwarding') && featureOn(veth, 'generic-receive-offload')
        ? true
        : undefined,
    30_000,
  );
  assert.doesNotMatch(podnetOk(['--lab', name, 'plan', '--node', 'node-1']), /^ethtool/m);
  assert.match(offloadsVerdict().detail, /generic-receive-offload on \d+ link/);
});
