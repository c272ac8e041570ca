import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/api/types.js';
import { cniArgs, cniEnv, pluginStdin, podIPOf } from '../../src/lab/cni-runtime.js';
import { podActions, podStatus, statusUpToDate, tornDown } from '../../src/lab/kubelet.js';
import { containerIdOf, podEnv, podResolvConf, type PodRecord } from '../../src/lab/pods.js';
import { labNetwork } from '../../src/lab/network.js';
import { DEFAULT_LAB_OPTIONS, planLab } from '../../src/lab/plan.js';

function pod(name: string, uid = `uid-${name}`, namespace = 'default'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', command: ['sleep', '1'] }] },
  };
}

function record(name: string, uid = `uid-${name}`, podIP: string | null = '10.244.1.9'): PodRecord {
  return {
    namespace: 'default',
    name,
    uid,
    node: 'node-1',
    netns: `lab-node-1-default-${name}`,
    containerId: uid,
    ifname: 'eth0',
    ...(podIP ? { podIP } : {}),
    processes: [],
    createdAt: '2026-01-01T00:00:00Z',
  };
}

const attachment = {
  containerId: 'abc',
  netnsPath: '/run/netns/lab-node-1-default-web',
  ifname: 'eth0',
  podNamespace: 'default',
  podName: 'web',
};

test('cni runtime: environment and CNI_ARGS as a Kubernetes runtime sets them', () => {
  assert.equal(
    cniArgs(attachment),
    'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc',
  );
  const env = cniEnv('ADD', attachment, ['/a', '/b'], { PATH: '/usr/bin' });
  assert.deepEqual(env, {
    PATH: '/usr/bin',
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'abc',
    CNI_NETNS: '/run/netns/lab-node-1-default-web',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: cniArgs(attachment),
    CNI_PATH: '/a:/b',
  });
});

test('cni runtime: each plugin gets its entry with the list name, version and prevResult', () => {
  const list = { cniVersion: '1.0.0', name: 'podnet', plugins: [{ type: 'ptp', mtu: 1500 }] };
  assert.deepEqual(JSON.parse(pluginStdin(list, list.plugins[0]!)), {
    type: 'ptp',
    mtu: 1500,
    cniVersion: '1.0.0',
    name: 'podnet',
  });
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.244.1.2/24' }] };
  assert.deepEqual(JSON.parse(pluginStdin(list, list.plugins[0]!, prev)).prevResult, prev);
  assert.equal(podIPOf(prev), '10.244.1.2');
  // An IPv6-only cluster's pod has its IPv6 address as its one address; IPv4 comes first otherwise.
  assert.equal(podIPOf({ cniVersion: '1.0.0', ips: [{ address: 'fd00::2/128' }] }), 'fd00::2');
  const dual = { cniVersion: '1.0.0', ips: [{ address: 'fd00::2/128' }, prev.ips[0]!] };
  assert.equal(podIPOf(dual), '10.244.1.2');
});

test("pods: each host's pods join podnet's network through the host's own agent socket", () => {
  const plan = planLab('/l', 'lab', DEFAULT_LAB_OPTIONS);
  assert.deepEqual(labNetwork(plan.hosts[1]!).plugins, [
    { type: 'podnet', agentSocket: '/l/lab/hosts/node-2/agent.sock' },
  ]);
});

test('pods: resolv.conf points at the cluster DNS with the Kubernetes search path', () => {
  const defaults = { dnsIP: '10.96.0.10', domain: 'cluster.local' };
  assert.equal(
    podResolvConf({ nameservers: ['10.96.0.10'], options: ['ndots:5'] }, 'shop', defaults),
    'nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
  );
  assert.equal(
    podResolvConf(undefined, 'default', { dnsIP: '10.96.0.53', domain: 'k.test' }),
    'nameserver 10.96.0.53\nsearch default.svc.k.test svc.k.test k.test\noptions ndots:5\n',
  );
});

test('pods: processes get the pod identity, the repo bin on PATH and container env', () => {
  const p = pod('web');
  p.spec.containers[0]!.env = [{ name: 'GREETING', value: 'hi' }];
  const env = podEnv(
    {
      binDir: '/repo/bin',
      node: 'node-1',
      hostIP: '172.31.1.1',
      storeUrl: 'sqlite:/s',
      lab: 'lab',
    },
    p,
    '10.244.1.5',
    p.spec.containers[0]!,
    '/usr/bin',
  );
  assert.equal(env.PATH, '/repo/bin:/usr/bin');
  assert.equal(env.POD_NAME, 'web');
  assert.equal(env.POD_NAMESPACE, 'default');
  assert.equal(env.POD_IP, '10.244.1.5');
  assert.equal(env.NODE_NAME, 'node-1');
  assert.equal(env.PODNET_STORE, 'sqlite:/s');
  assert.equal(env.GREETING, 'hi');
});

test('pods: the CNI container id is the uid, or a stable hash when there is none', () => {
  assert.equal(containerIdOf(pod('web', '1234-abcd')), '1234-abcd');
  const noUid = pod('web');
  delete noUid.metadata.uid;
  assert.match(containerIdOf(noUid), /^[0-9a-f]{32}$/);
  assert.equal(containerIdOf(noUid), containerIdOf(structuredClone(noUid)));
});

test('kubelet: starts missing pods, removes pods gone, replaced or half made', () => {
  const a = podActions(
    [pod('keep'), pod('new'), pod('replaced', 'uid-2'), pod('half')],
    [record('keep'), record('gone'), record('replaced', 'uid-1'), record('half', 'uid-half', null)],
  );
  assert.deepEqual(a.start.map((p) => p.metadata.name).sort(), ['half', 'new', 'replaced']);
  assert.deepEqual(a.stop.map((r) => r.name).sort(), ['gone', 'half', 'replaced']);
  const none = podActions([pod('keep')], [record('keep')]);
  assert.deepEqual(none, { start: [], stop: [] });
});

test('kubelet: a pod being deleted is finished only once no record of it is left on the host', () => {
  const terminating = [pod('stopping'), pod('done'), pod('never-started')];
  const left = [record('stopping'), record('other')];
  assert.deepEqual(
    tornDown(terminating, left).map((p) => p.metadata.name),
    ['done', 'never-started'],
  );
});

test('kubelet: a running pod reports phase, IPs and Ready; equal status is not rewritten', () => {
  const running = {
    name: 'c',
    state: { running: { startedAt: '2026-01-01T00:00:01.000Z' } },
    ready: true,
    restartCount: 0,
  };
  const want = podStatus(record('web'), '172.31.1.1', [running]);
  assert.equal(want.phase, 'Running');
  assert.equal(want.podIP, '10.244.1.9');
  assert.deepEqual(want.podIPs, [{ ip: '10.244.1.9' }]);
  assert.ok(want.conditions!.some((c) => c.type === 'Ready' && c.status === 'True'));
  const p = pod('web');
  assert.equal(statusUpToDate(p, want), false);
  p.status = structuredClone(want);
  assert.equal(statusUpToDate(p, want), true);
  const crashed = { ...running, state: { waiting: { reason: 'CrashLoopBackOff' } }, ready: false };
  const after = podStatus(record('web'), '172.31.1.1', [crashed]);
  assert.equal(statusUpToDate(p, after), false);
  assert.deepEqual(
    after.conditions!.find((c) => c.type === 'Ready'),
    {
      type: 'Ready',
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [c]',
    },
  );
});
