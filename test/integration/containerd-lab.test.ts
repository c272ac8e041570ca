// Pods started as kubelet starts them: a lab whose hosts each run a private containerd, its
// CRI plugin calling podnet's plugin. Three hosts in two zones; one lab for every test.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '../../src/api/types.js';
import type { LabState } from '../../src/lab/state.js';
import { containerdPaths } from '../../src/lab/containerd.js';
import { findProcess } from '../../src/lab/supervisor.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  labDown,
  labUp,
  podnet,
  podnetOk,
  rootNetwork,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';

function webYaml(name: string, node: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: default, labels: {app: web}}`,
    'spec:',
    `  nodeName: ${node}`,
    '  containers: [{name: web, image: busybox, command: [httpd, -f, -p, "8080", -h, /www]}]',
  ].join('\n');
}

const SERVICE = [
  'apiVersion: v1',
  'kind: Service',
  'metadata: {name: web, namespace: default}',
  'spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}',
].join('\n');

describe('containerd lab', () => {
  const name = testLabName();
  let lab: LabState;
  let rootBefore: ReturnType<typeof rootNetwork>;

  before(() => {
    sweepStaleLabs();
    sweepStaleNamespaces();
    rootBefore = rootNetwork();
    lab = labUp(name, ['--nodes', '3', '--zones', '2', '--runtime', 'containerd']);
  });
  after(() => {
    labDown(name);
    assert.equal(
      readFileSync('/proc/self/mountinfo', 'utf8').includes(`/labs/${name}/`),
      false,
      'mounts of the lab are left',
    );
    assert.deepEqual(rootNetwork(), rootBefore, 'the root namespace changed');
  });

  const host = (node: string) => lab.hosts.find((h) => h.name === node)!;
  const netnsDir = (node: string) => containerdPaths(host(node).stateDir).netnsDir;
  const sandboxNetns = (node: string): string[] =>
    readdirSync(netnsDir(node)).map((n) => join(netnsDir(node), n));
  const getPod = (pod: string): Pod | undefined => {
    const r = podnet(['--lab', lab.name, 'get', 'pod', pod, '-o', 'json']);
    return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
  };
  const running = async (pod: string): Promise<string> => {
    const p = await until(
      `pod ${pod} to run`,
      () => {
        const p = getPod(pod);
        const ready = p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return p?.status?.phase === 'Running' && p.status.podIP && ready ? p : undefined;
      },
      60_000,
    );
    return p.status!.podIP!;
  };
  /** The netns (containerd's cni-<uuid>) holding `ip` on eth0, on `node`. */
  const netnsOf = (node: string, ip: string): string | undefined =>
    sandboxNetns(node).find((ns) =>
      execFileSync('nsenter', [`--net=${ns}`, 'ip', '-4', '-o', 'addr', 'show'], {
        encoding: 'utf8',
      }).includes(` ${ip}/`),
    );
  /** An HTTP request from inside a pod's network namespace; the status line, or undefined. */
  const http = (fromNetns: string, ip: string, port: number): string | undefined => {
    const r = spawnSync(
      'nsenter',
      [`--net=${fromNetns}`, 'timeout', '5', 'busybox', 'nc', ip, String(port)],
      { input: 'GET / HTTP/1.0\r\n\r\n', encoding: 'utf8' },
    );
    return r.stdout.split('\r\n')[0] || undefined;
  };

  test('pods on three hosts get podnet addresses through containerd and reach each other and a service by name', async () => {
    podnetOk(['--lab', lab.name, 'apply', '-f', '-'], {
      input:
        ['node-1', 'node-2', 'node-3'].map((n, i) => webYaml(`web-${i + 1}`, n)).join('\n---\n') +
        '\n---\n' +
        SERVICE,
    });
    const ips = await Promise.all(['web-1', 'web-2', 'web-3'].map(running));
    const nodes = JSON.parse(podnetOk(['--lab', lab.name, 'get', 'nodes', '-o', 'json'])) as {
      items: { metadata: { name: string }; spec: { podCIDR: string } }[];
    };
    for (const [i, ip] of ips.entries()) {
      const cidr = nodes.items.find((n) => n.metadata.name === `node-${i + 1}`)!.spec.podCIDR;
      const prefix = cidr.split('.').slice(0, 3).join('.');
      assert.ok(ip.startsWith(`${prefix}.`), `${ip} of web-${i + 1} is not in ${cidr}`);
    }
    const from = netnsOf('node-1', ips[0]!)!;
    assert.ok(from, 'web-1 has no namespace under its containerd state');
    // node-1 is in zone 1, node-2 in zone 2: across the zone router.
    assert.match(http(from, ips[1]!, 8080) ?? '', /^HTTP\/1\.[01] 404/);
    const answer = await until(
      'the service name to resolve',
      () => {
        const r = spawnSync(
          'nsenter',
          [`--net=${from}`, 'busybox', 'nslookup', 'web.default.svc.cluster.local', '10.96.0.10'],
          { encoding: 'utf8' },
        );
        return /^Address:\s+(10\.96\.\d+\.\d+)$/m.exec(r.stdout)?.[1];
      },
      30_000,
    );
    const serviceIP = answer;
    assert.match(
      await until('the service to answer', () => http(from, serviceIP, 80), 20_000),
      /^HTTP\/1\.[01] 404/,
    );
  });

  test('a pod deleted is torn down by StopPodSandbox/RemovePodSandbox: no namespace, veth or route left', async () => {
    const ip = await running('web-3');
    const netns = netnsOf('node-3', ip)!;
    const hostLinks = () =>
      execFileSync('ip', ['-n', host('node-3').netns, '-o', 'link', 'show'], { encoding: 'utf8' });
    const vethsBefore = hostLinks()
      .split('\n')
      .filter((l) => / pn[0-9a-f]{11}@/.test(l)).length;
    podnetOk(['--lab', lab.name, 'delete', 'pod', 'web-3']);
    await until('web-3 to be gone', () => (getPod('web-3') ? undefined : true), 60_000);
    assert.equal(existsSync(netns), false, 'the sandbox namespace is left');
    const vethsAfter = hostLinks()
      .split('\n')
      .filter((l) => / pn[0-9a-f]{11}@/.test(l)).length;
    assert.equal(vethsAfter, vethsBefore - 1, 'the host-side veth is left');
    const routes = execFileSync('ip', ['-n', host('node-3').netns, 'route', 'show'], {
      encoding: 'utf8',
    });
    assert.ok(!routes.includes(`${ip} `), `a route to ${ip} is left`);
  });

  test('a containerd restarted while pods run does not disturb them', async () => {
    const ip = await running('web-1');
    const target = await running('web-2');
    const from = netnsOf('node-1', ip)!;
    const proc = findProcess(lab.stateDir, 'containerd-node-1')!;
    process.kill(proc.pid, 'SIGKILL');
    await until('containerd to exit', () => (existsSync(`/proc/${proc.pid}`) ? undefined : true));
    podnetOk(['lab', 'repair', '--name', lab.name]);
    assert.notEqual(findProcess(lab.stateDir, 'containerd-node-1')!.pid, proc.pid);
    assert.match(http(from, target, 8080) ?? '', /^HTTP\/1\.[01] 404/);
    // The runner keeps the same sandbox: same address, no second one made.
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(getPod('web-1')!.status!.podIP, ip);
    assert.equal(sandboxNetns('node-1').filter((ns) => netnsOf('node-1', ip) === ns).length, 1);
  });
});
