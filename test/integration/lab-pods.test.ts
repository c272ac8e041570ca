// Pods in the lab, the Kubernetes way: Pod objects applied with `podnet apply`, run by the
// host's pod runner through the CNI plugin. One lab (2 hosts in 2 zones) serves every test.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Pod } from '../../src/api/types.js';
import { isRunning } from '../../src/process/daemons.js';
import { findProcess, startProcess, stopProcesses } from '../../src/lab/supervisor.js';
import type { LabState } from '../../src/lab/state.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  PODNET,
  labDown,
  labUp,
  podnet,
  podnetOk,
  rootNetwork,
  sweepStaleLabs,
  testLabName,
  echoGet,
  echoPodYaml,
  until,
} from '../helpers/lab.js';

describe('lab pods', () => {
  const name = testLabName();
  let lab: LabState;
  let rootBefore: ReturnType<typeof rootNetwork>;

  before(() => {
    sweepStaleLabs();
    sweepStaleNamespaces();
    rootBefore = rootNetwork();
    lab = labUp(name, ['--nodes', '2', '--zones', '2']);
  });
  after(() => {
    labDown(name);
    assert.deepEqual(rootNetwork(), rootBefore, 'the root namespace changed');
  });

  const apply = (yaml: string): void => {
    podnetOk(['--lab', lab.name, 'apply', '-f', '-'], { input: yaml });
  };
  const getPod = (pod: string): Pod | undefined => {
    const r = podnet(['--lab', lab.name, 'get', 'pod', pod, '-o', 'json']);
    return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
  };
  /** Waits until the pod reports Running and Ready; returns its IP. */
  const running = async (pod: string): Promise<string> => {
    const p = await until(`pod ${pod} to run`, () => {
      const p = getPod(pod);
      const ready = p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return p?.status?.phase === 'Running' && p.status.podIP && ready ? p : undefined;
    });
    return p.status!.podIP!;
  };
  const exec = (pod: string, argv: string[]): ReturnType<typeof podnet> =>
    podnet(['lab', 'exec', '--name', lab.name, pod, '--', ...argv]);
  const http = (from: string, ip: string, timeoutMs?: number) =>
    echoGet(lab.name, from, ip, timeoutMs);

  test('lab: an applied Pod is wired through CNI on its node, reports Running, and when deleted is Terminating until its node has left no trace', async () => {
    apply(echoPodYaml('web', 'node-2'));
    const ip = await running('web');
    const node = JSON.parse(
      podnetOk(['--lab', lab.name, 'get', 'node', 'node-2', '-o', 'json']),
    ) as {
      spec: { podCIDR: string };
    };
    // Inside node-2's pod subnet (a /24 of 10.244.0.0/16).
    assert.equal(
      ip.split('.').slice(0, 3).join('.'),
      node.spec.podCIDR.split('.').slice(0, 3).join('.'),
    );
    assert.equal(getPod('web')!.status!.hostIP, '172.31.2.2');
    const netns = `${lab.name}-node-2-default-web`;
    const hostNs = `${lab.name}-node-2`;
    const vethsBefore = podVethsOf(hostNs).filter((v) => v !== webVeth(hostNs, ip));
    // The pod side of the wiring: eth0 with the pod IP.
    const addrs = execFileSync('ip', ['-n', netns, '-j', 'addr', 'show', 'eth0'], {
      encoding: 'utf8',
    });
    assert.ok(addrs.includes(`"${ip}"`));
    // lab exec: the pod's own resolv.conf, and the command's exit code passed through.
    const resolv = exec('web', ['cat', '/etc/resolv.conf']);
    assert.equal(resolv.status, 0, resolv.stderr);
    assert.equal(
      resolv.stdout,
      'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
    assert.equal(exec('web', ['sh', '-c', 'exit 7']).status, 7);
    const env = exec('web', [
      'sh',
      '-c',
      'echo $POD_NAME $POD_NAMESPACE $POD_IP $(command -v podnet)',
    ]);
    assert.equal(env.stdout.trim(), `web default ${ip} ${PODNET}`);
    const missing = exec('nope', ['true']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /pod default\/nope is not running/);
    assert.equal((await http('web', '127.0.0.1')).pod, 'web');
    const proc = findProcess(lab.stateDir, `pod-${netns}-echo`)!;
    assert.ok(isRunning(proc));

    // Graceful deletion: with node-2's pod runner away, nothing tears the pod down, so the
    // deleted pod stays, Terminating, with its namespace.
    const kubelet = findProcess(lab.stateDir, 'kubelet-node-2')!;
    await stopProcesses(lab.stateDir, [kubelet]);
    assert.equal(podnetOk(['--lab', lab.name, 'delete', 'pod', 'web']), 'pod "web" deleted\n');
    assert.ok(getPod('web')?.metadata.deletionTimestamp, 'no deletionTimestamp');
    assert.equal(getPod('web')?.metadata.deletionGracePeriodSeconds, 30);
    assert.match(podnetOk(['--lab', lab.name, 'get', 'pods']), /^web\s+0\/1\s+Terminating\s/m);
    assert.ok(existsSync(`/run/netns/${netns}`), 'torn down with no pod runner');
    // The runner back: it tears the pod down, and only then removes the object.
    await startProcess(lab.stateDir, {
      id: kubelet.id,
      argv: kubelet.argv,
      netns: kubelet.netns,
      enter: 'nsenter',
    });
    await until('the pod object to go', () => (getPod('web') ? undefined : true));
    assert.equal(existsSync(`/run/netns/${netns}`), false, 'pod object gone before its netns');
    assert.equal(existsSync(`/etc/netns/${netns}`), false, '/etc/netns dir left');
    assert.equal(isRunning(proc), false, 'pod process still running');
    const links = JSON.parse(
      execFileSync('ip', ['-n', hostNs, '-j', 'link'], { encoding: 'utf8' }),
    ) as { ifname: string }[];
    const podVeths = links.map((l) => l.ifname).filter((n) => /^pn[0-9a-f]{11}$/.test(n));
    assert.deepEqual(podVeths, vethsBefore, 'host-side veth left');
  });

  test('lab: pods on one host exchange HTTP through serve-echo', async () => {
    apply(`${echoPodYaml('a', 'node-1')}---\n${echoPodYaml('b', 'node-1')}`);
    const [ipA, ipB] = [await running('a'), await running('b')];
    assert.notEqual(ipA, ipB);
    assert.deepEqual(await http('a', ipB), {
      pod: 'b',
      namespace: 'default',
      ip: ipB,
      node: 'node-1',
    });
    assert.equal((await http('b', ipA)).pod, 'a');
  });

  test('lab: restarting the pod runner does not disturb running pods', async () => {
    apply(echoPodYaml('steady', 'node-1'));
    const ip = await running('steady');
    const podProc = findProcess(lab.stateDir, `pod-${lab.name}-node-1-default-steady-echo`)!;
    const kubelet = findProcess(lab.stateDir, 'kubelet-node-1')!;
    await stopProcesses(lab.stateDir, [kubelet]);
    assert.ok(isRunning(podProc), 'stopping the runner stopped a pod');
    const again = await startProcess(lab.stateDir, {
      id: kubelet.id,
      argv: kubelet.argv,
      netns: kubelet.netns,
      enter: 'nsenter',
    });
    // The new runner takes the pod over as it is, and does its job for new pods.
    apply(echoPodYaml('later', 'node-1'));
    await running('later');
    assert.ok(isRunning(podProc), 'the restarted runner replaced a running pod');
    assert.equal(getPod('steady')!.status!.podIP, ip);
    assert.equal((await http('later', ip)).pod, 'steady');
    assert.ok(isRunning(again));
  });

  test('lab: pods on two hosts in different zones exchange HTTP', async () => {
    apply(`${echoPodYaml('x', 'node-1')}---\n${echoPodYaml('y', 'node-2')}`);
    const [ipX, ipY] = [await running('x'), await running('y')];
    assert.equal((await http('x', ipY, 8000)).node, 'node-2');
    assert.equal((await http('y', ipX, 8000)).node, 'node-1');
  });
});

/** Host-side pod veths in a host namespace (`pn` + 11 hex), in kernel order. */
function podVethsOf(hostNs: string): string[] {
  const links = JSON.parse(
    execFileSync('ip', ['-n', hostNs, '-j', 'link'], { encoding: 'utf8' }),
  ) as {
    ifname: string;
  }[];
  return links.map((l) => l.ifname).filter((n) => /^pn[0-9a-f]{11}$/.test(n));
}

/** The host-side veth the kernel routes a pod IP to. */
function webVeth(hostNs: string, podIP: string): string | undefined {
  const [route] = JSON.parse(
    execFileSync('ip', ['-n', hostNs, '-j', 'route', 'get', podIP], { encoding: 'utf8' }),
  ) as { dev?: string }[];
  return route?.dev;
}
