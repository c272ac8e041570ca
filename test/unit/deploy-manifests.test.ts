// The manifests in deploy/kubernetes/ agree with each other and keep the agent's privileges to
// what it needs: settings that must match across files are compared, not trusted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { containsIP, parseCidr, parseIP } from '../../src/net/index.js';
import { deployManifests } from '../helpers/deploy-manifests.js';

interface Container {
  name: string;
  command?: string[];
  securityContext?: { privileged?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
}
interface PodSpec {
  hostNetwork?: boolean;
  serviceAccountName?: string;
  initContainers?: Container[];
  containers: Container[];
}
interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    selector?: Record<string, string> & { matchLabels?: Record<string, string> };
    clusterIP?: string;
    dnsIP?: string;
    serviceCIDR?: string;
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
  subjects?: { kind: string; name: string; namespace?: string }[];
  roleRef?: { name: string };
}

const objects: Obj[] = deployManifests().flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj),
);

function one(kind: string, name: string): Obj {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `${kind} ${name}`);
  return found[0]!;
}

test('the agent runs on the host network with NET_ADMIN, NET_RAW and SYS_ADMIN only', () => {
  const pod = one('DaemonSet', 'podnet-agent').spec!.template!.spec;
  assert.equal(pod.hostNetwork, true);
  const [agent] = pod.containers;
  assert.equal(agent!.securityContext?.privileged, false);
  assert.deepEqual(agent!.securityContext?.capabilities, {
    drop: ['ALL'],
    add: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'],
  });
  const [install] = pod.initContainers!;
  assert.deepEqual(install!.securityContext?.capabilities, { drop: ['ALL'] });
  assert.match(install!.command!.join(' '), /podnet cni install --portmap /);
});

test('the DNS Service is at ClusterNetwork dnsIP, inside serviceCIDR, selecting the DNS pods', () => {
  const network = one('ClusterNetwork', 'default').spec!;
  const service = one('Service', 'kube-dns');
  assert.equal(service.metadata.namespace, 'kube-system');
  assert.equal(service.spec!.clusterIP, network.dnsIP);
  assert.ok(containsIP(parseCidr(network.serviceCIDR!), parseIP(network.dnsIP!)));
  const podLabels = one('Deployment', 'podnet-dns').spec!.template!.metadata.labels;
  for (const [key, value] of Object.entries(service.spec!.selector!)) {
    assert.equal(podLabels[key], value, `pods lack the Service's selector ${key}=${value}`);
  }
  assert.equal(podLabels['k8s-app'], 'kube-dns');
});

test('each workload runs as its own ServiceAccount, bound to the ClusterRole of its name', () => {
  for (const [kind, name] of [
    ['DaemonSet', 'podnet-agent'],
    ['Deployment', 'podnet-dns'],
  ] as const) {
    const workload = one(kind, name);
    const account = workload.spec!.template!.spec.serviceAccountName!;
    assert.equal(account, name);
    assert.equal(one('ServiceAccount', account).metadata.namespace, workload.metadata.namespace);
    const binding = one('ClusterRoleBinding', name);
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: account, namespace: workload.metadata.namespace },
    ]);
    one('ClusterRole', binding.roleRef!.name);
  }
});
