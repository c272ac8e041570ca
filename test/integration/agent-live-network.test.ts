// A changed ClusterNetwork reaches every agent while it runs: a long-lived TCP connection
// between pods on two hosts (through VXLAN, the hosts are in different zones) keeps carrying
// data while the MTU and the DNS IP change; running pods and the tunnel are resized in place,
// and a pod started afterwards gets the new MTU and nameserver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { ClusterNetwork } from '../../src/api/types.js';
import { podNetns } from '../../src/lab/plan.js';
import { echoPodYaml, podnet, podnetOk, until } from '../helpers/lab.js';
import { sharedLab } from '../helpers/shared-lab.js';
import { sh, tcpStream } from '../helpers/routing-topology.js';
import { agentMetric } from '../helpers/agent-metrics.js';

const name = sharedLab(['--nodes', '2', '--zones', '2']);
const NODES = ['node-1', 'node-2'];

const podIP = (pod: string): string | undefined => {
  const r = podnet(['--lab', name, 'get', 'pod', pod, '-o', 'json']);
  return r.status === 0
    ? (JSON.parse(r.stdout) as { status?: { podIP?: string } }).status?.podIP
    : undefined;
};
const mtuOf = (ns: string, dev: string): number =>
  (JSON.parse(sh(`ip -j -n ${ns} link show dev ${dev}`)) as { mtu: number }[])[0]!.mtu;
const podNs = (host: string, pod: string): string => podNetns(name, host, 'default', pod);
/** The revision of the ClusterNetwork every handler of `host`'s agent has finished with. */
const processed = (host: string): number =>
  agentMetric(`${name}-${host}`, 'podnet_informer_processed_revision', { kind: 'ClusterNetwork' });

test('live ClusterNetwork: MTU and DNS IP change on every agent; no connection drops', async () => {
  podnetOk(['--lab', name, 'apply', '-f', '-'], {
    input: `${echoPodYaml('client', 'node-1')}---\n${echoPodYaml('server', 'node-2')}`,
  });
  const serverIP = await until('the server pod to have an IP', () => podIP('server'));
  const clientIP = await until('the client pod to have an IP', () => podIP('client'));
  const client = { ns: podNs('node-1', 'client'), ip: clientIP };
  const server = { ns: podNs('node-2', 'server'), ip: serverIP };
  await until('the pods to have their network', () =>
    mtuOf(client.ns, 'eth0') === 1450 && mtuOf(server.ns, 'eth0') === 1450 ? true : undefined,
  );
  for (const host of NODES) assert.equal(mtuOf(`${name}-${host}`, 'pn-vxlan'), 1450);

  const stream = tcpStream(client, server, 8);
  await new Promise((r) => setTimeout(r, 2000)); // the connection is established and busy
  const cn = JSON.parse(
    podnetOk(['--lab', name, 'get', 'clusternetwork', 'default', '-o', 'json']),
  ) as ClusterNetwork;
  cn.spec = { ...cn.spec, mtu: 1400, dnsIP: '10.96.0.53' };
  podnetOk(['--lab', name, 'apply', '-f', '-'], { input: JSON.stringify(cn) });
  const revision = Number(
    (
      JSON.parse(
        podnetOk(['--lab', name, 'get', 'clusternetwork', 'default', '-o', 'json']),
      ) as ClusterNetwork
    ).metadata.resourceVersion,
  );
  // Every agent has finished with the change: what it does about it is done by now.
  await until('every agent to process the change', () =>
    NODES.every((h) => processed(h) >= revision) ? true : undefined,
  );
  for (const host of NODES) {
    assert.equal(mtuOf(`${name}-${host}`, 'pn-vxlan'), 1350, `${host}: tunnel resized`);
  }
  assert.equal(mtuOf(client.ns, 'eth0'), 1350, 'the running client pod was resized');
  assert.equal(mtuOf(server.ns, 'eth0'), 1350, 'the running server pod was resized');

  const { bytes } = await stream;
  assert.ok(bytes > 300 * 1024, `the connection kept carrying data (${bytes} bytes)`);

  podnetOk(['--lab', name, 'apply', '-f', '-'], { input: echoPodYaml('late', 'node-1') });
  await until('the new pod to have an IP', () => podIP('late'));
  const late = podNs('node-1', 'late');
  assert.equal(mtuOf(late, 'eth0'), 1350, 'a new pod gets the new MTU');
  // The address is written during the CNI ADD; the runner writes the pod's resolver after it.
  const resolv = await until('the new pod to have its resolver', () =>
    existsSync(`/etc/netns/${late}/resolv.conf`)
      ? readFileSync(`/etc/netns/${late}/resolv.conf`, 'utf8')
      : undefined,
  );
  assert.match(resolv, /^nameserver 10\.96\.0\.53$/m, 'a new pod gets the new DNS IP');
});

test('apply --plan: a ClusterNetwork change is planned per host from its kernel, and one that would cut running pods is refused; nothing is applied', () => {
  const get = (): ClusterNetwork =>
    JSON.parse(
      podnetOk(['--lab', name, 'get', 'clusternetwork', 'default', '-o', 'json']),
    ) as ClusterNetwork;
  const before = get();
  const changed = (spec: Partial<ClusterNetwork['spec']>): string =>
    JSON.stringify({ ...before, spec: { ...before.spec, ...spec } });

  const plan = podnetOk(['--lab', name, 'apply', '--plan', '-f', '-'], {
    input: changed({ backend: 'vxlan', mtu: 1450 }),
  });
  assert.match(plan, /^# ClusterNetwork default: backend auto -> vxlan, mtu 1400 -> 1450$/m);
  for (const host of NODES) {
    assert.match(
      plan,
      new RegExp(`^# ${host} \\(namespace ${name}-${host}\\), backend vxlan: `, 'm'),
    );
  }
  // The tunnel is sized from the new MTU on each host: the plan says so as the command it runs.
  assert.match(plan, /^ip link set pn-vxlan mtu 1400 up$/m);
  assert.match(plan, /^# pod MTU 1350 -> 1400: /m);

  const tooBig = podnet(['--lab', name, 'apply', '--plan', '-f', '-'], {
    input: changed({ mtu: 9000 }),
  });
  assert.equal(tooBig.status, 2, tooBig.stderr);
  assert.match(
    tooBig.stderr,
    /mtu 9000 is above the underlay MTU of node-1 \(1500\), node-2 \(1500\)/,
  );

  const moved = changed({ clusterCIDR: '10.245.0.0/16' });
  for (const argv of [['apply', '--plan'], ['apply']]) {
    const r = podnet(['--lab', name, ...argv, '-f', '-'], { input: moved });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /clusterCIDRs 10\.245\.0\.0\/16 would no longer hold running pod default\/\w+ \(10\.244\./,
    );
    assert.match(
      r.stderr,
      /would no longer hold the subnet of node node-1 \(10\.244\.\d+\.0\/24\)/,
    );
  }
  assert.equal(get().metadata.resourceVersion, before.metadata.resourceVersion, 'nothing applied');
});
