// `lab up --backend cloud --route-limit 3` with 5 hosts: the guard's quota leaves room for
// three node routes. By default the other two are refused (condition, doctor, plan say so);
// with `overflow: vxlan` they are reached over VXLAN and every pod reaches every pod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_CLOUD_ROUTE, type ClusterNetwork, type Node } from '../../src/api/types.js';
import { echoGet, echoPodYaml, podnet, podnetOk, until } from '../helpers/lab.js';
import { sharedLab } from '../helpers/shared-lab.js';

process.env.PODNET_CLOUD_RESYNC_MS = '2000';
const lab = sharedLab(['--backend', 'cloud', '--nodes', '5', '--zones', '2', '--route-limit', '3']);

function nodes(): Node[] {
  return (JSON.parse(podnetOk(['--lab', lab, 'get', 'nodes', '-o', 'json'])) as { items: Node[] })
    .items;
}

function placed(as: string): Node[] {
  return nodes().filter((n) => n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE] === as);
}

test('past the route limit, nodes are refused by name, then reached over VXLAN', async () => {
  const refused = await until(
    'three routed, two refused',
    () =>
      placed('routed').length === 3 && placed('refused').length === 2
        ? placed('refused')
        : undefined,
    60_000,
  );
  for (const n of refused) {
    const condition = n.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
    assert.equal(condition?.status, 'True');
    assert.equal(condition?.reason, 'NoRouteCreated');
    assert.match(
      condition?.message ?? '',
      /route table rtb-\w+ is full: 4 of 4 routes \(AWS quota L-93826ACB\); raise the quota .* or set spec\.cloud\.overflow: vxlan/,
    );
    const doctor = podnet(['--lab', lab, 'doctor', '--node', n.metadata.name]);
    assert.equal(doctor.status, 1);
    assert.match(
      doctor.stdout,
      /FAIL\s+cloud-route\s+no cloud route for 10\.244\.\d+\.0\/24: route table rtb-\w+ is full/,
    );
  }
  const plan = podnetOk(['--lab', lab, 'plan', '--node', 'node-1']);
  assert.equal((plan.match(/: routed \(/g) ?? []).length, 3);
  assert.equal((plan.match(/: refused \(/g) ?? []).length, 2);

  // overflow: vxlan — the two are reached over VXLAN, every pod reaches every pod.
  const network = JSON.parse(
    podnetOk(['--lab', lab, 'get', 'clusternetwork', 'default', '-o', 'json']),
  ) as ClusterNetwork;
  network.spec.cloud = { ...network.spec.cloud!, overflow: 'vxlan' };
  podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: JSON.stringify(network) });
  await until('two on VXLAN', () => (placed('overflow').length === 2 ? true : undefined), 60_000);
  assert.equal(
    (podnetOk(['--lab', lab, 'plan', '--node', 'node-1']).match(/: overflow vxlan/g) ?? []).length,
    2,
  );

  const all = nodes().map((n, i) => ({ name: `echo-${i + 1}`, node: n.metadata.name }));
  for (const p of all)
    podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: echoPodYaml(p.name, p.node) });
  const ips = await until('pod IPs', () => {
    const out = JSON.parse(podnetOk(['--lab', lab, 'get', 'pods', '-o', 'json'])) as {
      items: { metadata: { name: string }; status?: { podIP?: string } }[];
    };
    const m = new Map(out.items.map((p) => [p.metadata.name, p.status?.podIP ?? '']));
    return all.every((p) => m.get(p.name)) ? m : undefined;
  });
  for (const from of all) {
    for (const to of all) {
      if (from === to) continue;
      assert.equal((await echoGet(lab, from.name, ips.get(to.name)!, 30_000)).pod, to.name);
    }
  }
});
