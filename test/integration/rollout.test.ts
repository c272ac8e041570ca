// The staged rollout of a changed ClusterNetwork on one 3-host lab (one zone, VXLAN), cases in
// sequence: a change that passes the up-front checks but meets a path that drops full-size
// packets fails the canary's probe, is rolled back, and the other hosts never change; a backend
// change vxlan -> host-gw rolls out under running connections with no stall over 1 s; the
// routing source goes store -> bgp -> store with no podnet route ever deleted on any host; the
// proxy mode goes iptables -> nftables under a running connection to a service, and the
// NetworkPolicy datapath moves with it, never letting a denied connection through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ANNOTATION_NETWORK_SETTINGS } from '../../src/api/node-settings.js';
import type { ClusterNetwork, Node } from '../../src/api/types.js';
import { podNetns } from '../../src/lab/plan.js';
import { echoPodYaml, podnetOk, until } from '../helpers/lab.js';
import { sharedLab } from '../helpers/shared-lab.js';
import { sh, tcpStream, watchKernel, type TestPod } from '../helpers/routing-topology.js';

const name = sharedLab(['--nodes', '3', '--zones', '1', '--backend', 'vxlan']);
const HOSTS = ['node-1', 'node-2', 'node-3'];
const PODS = { 'node-1': 'pod-a', 'node-2': 'pod-b', 'node-3': 'pod-c' } as const;

const getJson = <T>(...args: string[]): T =>
  JSON.parse(podnetOk(['--lab', name, 'get', ...args, '-o', 'json'])) as T;
const network = (): ClusterNetwork => getJson<ClusterNetwork>('clusternetwork', 'default');
const mtuOf = (ns: string, dev: string): number | undefined => {
  const r = JSON.parse(sh(`ip -j -n ${ns} link show dev ${dev} 2>/dev/null || echo '[]'`)) as {
    mtu: number;
  }[];
  return r[0]?.mtu;
};
const podOn = (host: keyof typeof PODS): TestPod => {
  const pod = PODS[host];
  const ip = getJson<{ status?: { podIP?: string } }>('pod', pod).status?.podIP;
  return { ns: podNetns(name, host, 'default', pod), ip: ip! };
};
const settingsLeft = (): string[] =>
  getJson<{ items: Node[] }>('nodes')
    .items.filter((n) => n.metadata.annotations?.[ANNOTATION_NETWORK_SETTINGS])
    .map((n) => n.metadata.name);

/** `podnet apply --rollout` of the ClusterNetwork with `change`, without blocking the loop. */
function rollout(
  change: Partial<ClusterNetwork['spec']>,
  flags: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cn = network();
  const manifest = JSON.stringify({
    apiVersion: cn.apiVersion,
    kind: cn.kind,
    metadata: { name: 'default' },
    spec: { ...cn.spec, ...change },
  });
  const child = spawn(
    'bin/podnet',
    ['--lab', name, 'apply', '-f', '-', '--rollout', '--step-timeout', '60', ...flags],
    { env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) } },
  );
  child.stdin.end(manifest);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Sets the MTU of the zone's bridge and every port on it (the switch between the hosts). */
function zoneLinkMTU(mtu: number): void {
  const underlay = `${name}-underlay`;
  const bridge = 'br1'; // zone 1's bridge in the underlay namespace (src/lab/plan.ts)
  const ports = (
    JSON.parse(sh(`ip -j -n ${underlay} link show master ${bridge}`)) as { ifname: string }[]
  ).map((p) => p.ifname);
  for (const dev of [...ports, bridge]) sh(`ip -n ${underlay} link set dev ${dev} mtu ${mtu}`);
}

/** The service in front of node-2's pod, for the proxy-mode leg (the stream's own port). */
const SERVICE = { name: 'rollout-svc', port: 80, targetPort: 18080 };

/**
 * Isolates node-2's pod: every pod of `default` may still reach it (the rollout's probes are
 * pings, which no port rule can let in), except one labelled as the intruder, which may not.
 */
const POLICY_YAML = [
  'apiVersion: networking.k8s.io/v1',
  'kind: NetworkPolicy',
  `metadata: {name: rollout-no-intruder, namespace: default}`,
  `spec: {podSelector: {matchLabels: {app: ${SERVICE.name}}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchExpressions: [{key: role, operator: DoesNotExist}]}}]}]}`,
  '',
].join('\n');
/**
 * The intruder, on node-3. Its name sorts after pod-c, so that the rollout keeps probing from
 * pod-c (the first running pod of a host).
 */
const INTRUDER = 'pod-x';
/** Nothing listens there: an unfiltered try is refused by the pod itself, and counted. */
const DENIED_PORT = 18081;

/**
 * Tries a connection from `from` to ip:port every 20 ms (300 ms each) until stop(), which
 * says how many tries reached the port: connected, or refused by the pod itself.
 */
function connectAttempts(from: TestPod, ip: string, port: number) {
  const script = `const net=require('net');let reached=0,tries=0;const t=setInterval(()=>{tries++;const s=net.connect({host:'${ip}',port:${port}});const done=(r)=>{if(r)reached++;s.destroy()};s.setTimeout(300,()=>done(false));s.once('connect',()=>done(true));s.once('error',(e)=>done(e.code==='ECONNREFUSED'))},20);process.stdin.on('end',()=>{clearInterval(t);setTimeout(()=>{console.log(JSON.stringify({reached,tries}));process.exit(0)},400)});process.stdin.resume()`;
  const child = spawn('ip', ['netns', 'exec', from.ns, process.execPath, '-e', script]);
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const ended = new Promise<{ reached: number; tries: number }>((resolve) =>
    child.on('close', () => resolve(JSON.parse(out) as { reached: number; tries: number })),
  );
  return {
    stop: () => {
      child.stdin.end();
      return ended;
    },
  };
}

test('rollout: set-up: a pod on every host, pod MTU 1350 (VXLAN over mtu 1400)', async () => {
  const serviceYaml = [
    'apiVersion: v1',
    'kind: Service',
    `metadata: {name: ${SERVICE.name}, namespace: default}`,
    `spec: {selector: {app: ${SERVICE.name}}, ports: [{port: ${SERVICE.port}, targetPort: ${SERVICE.targetPort}, protocol: TCP}]}`,
    '',
  ].join('\n');
  const pods = HOSTS.map((h) => echoPodYaml(PODS[h as keyof typeof PODS], h));
  pods[1] = pods[1]!.replace(
    '  namespace: default',
    `  namespace: default\n  labels: {app: ${SERVICE.name}}`,
  );
  podnetOk(['--lab', name, 'apply', '-f', '-'], { input: [...pods, serviceYaml].join('---\n') });
  const cn = network();
  cn.spec.mtu = 1400;
  podnetOk(['--lab', name, 'apply', '-f', '-'], { input: JSON.stringify(cn) });
  for (const host of HOSTS) {
    await until(`${host}'s pod running at MTU 1350`, () => {
      const pod = getJson<{ status?: { phase?: string } }>('pod', PODS[host as keyof typeof PODS]);
      if (pod.status?.phase !== 'Running') return undefined;
      return mtuOf(podOn(host as keyof typeof PODS).ns, 'eth0') === 1350 ? true : undefined;
    });
  }
});

test('rollout: a path that drops full-size packets fails the canary, which is rolled back; no other host changes', async () => {
  zoneLinkMTU(1400); // the hosts' own links stay at 1500: an MTU black hole between them
  const watches = ['node-2', 'node-3'].map((h) => watchKernel(`${name}-${h}`));
  try {
    const r = await rollout({ mtu: 1500 });
    const others = await Promise.all(watches.map((w) => w.stop()));
    assert.equal(r.code, 1, `exit 1 for a failed check; stderr: ${r.stderr}`);
    assert.match(
      r.stderr,
      /1450-byte packet with fragmentation forbidden .* does not reach node-2/,
    );
    assert.match(
      r.stderr,
      /rolled back node-1; the other hosts and the cluster-wide settings never changed/,
    );
    assert.deepEqual(others, [[], []], 'node-2 and node-3 saw no podnet kernel change');
    assert.equal(mtuOf(`${name}-node-1`, 'pn-vxlan'), 1350, 'the canary tunnel is back');
    assert.equal(mtuOf(podOn('node-1').ns, 'eth0'), 1350, "the canary's pod is back");
    for (const host of ['node-2', 'node-3'] as const) {
      assert.equal(mtuOf(podOn(host).ns, 'eth0'), 1350);
    }
    assert.equal(network().spec.mtu, 1400, 'the cluster-wide object never changed');
    assert.deepEqual(settingsLeft(), []);
  } finally {
    zoneLinkMTU(1500);
  }
});

test('rollout: vxlan -> host-gw under running connections: no stall over 1 s, every host moved', async () => {
  const [a, b, c] = [podOn('node-1'), podOn('node-2'), podOn('node-3')];
  const streams = [tcpStream(a, b, 12), tcpStream(c, a, 12)];
  await until('both streams flowing', () => {
    const out = sh(
      `ip netns exec ${b.ns} ss -Htn state established; ip netns exec ${a.ns} ss -Htn state established`,
    );
    return out.split('\n').filter(Boolean).length >= 2 ? true : undefined;
  });
  const r = await rollout({ backend: 'host-gw' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rolled out: node-1 first, then 2 batch\(es\)/);
  const figures = await Promise.all(streams);
  for (const f of figures) {
    assert.ok(f.maxGapMs < 1000, `longest stall ${f.maxGapMs} ms`);
    assert.ok(f.bytes > 100 * 1024, `the connection carried data (${f.bytes} bytes)`);
  }
  process.stderr.write(
    `rollout vxlan->host-gw: longest stall ${figures.map((f) => f.maxGapMs).join(', ')} ms\n`,
  );
  assert.equal(network().spec.backend, 'host-gw');
  assert.deepEqual(settingsLeft(), []);
  for (const host of HOSTS) {
    await until(`${host} without its VXLAN device`, () =>
      mtuOf(`${name}-${host}`, 'pn-vxlan') === undefined ? true : undefined,
    );
    const routes = sh(`ip -n ${name}-${host} route show proto 80`);
    assert.match(routes, /via 172\.31\.1\.\d+ dev eth0/, `${host} routes directly: ${routes}`);
  }
});

test('rollout: routing store -> bgp -> store hands every route over without deleting one', async () => {
  const watches = HOSTS.map((h) => watchKernel(`${name}-${h}`));
  const toBgp = await rollout({ routing: 'bgp' }, ['--batch', '2']);
  assert.equal(toBgp.code, 0, toBgp.stderr);
  assert.equal(network().spec.routing, 'bgp');
  const toStore = await rollout({ routing: 'store' }, ['--batch', '2']);
  assert.equal(toStore.code, 0, toStore.stderr);
  assert.equal(network().spec.routing, 'store');
  const events = await Promise.all(watches.map((w) => w.stop()));
  for (const [i, lines] of events.entries()) {
    const deleted = lines.filter((l) => l.startsWith('Deleted') && l.includes('proto 80'));
    assert.deepEqual(deleted, [], `${HOSTS[i]}: no podnet route deleted`);
  }
  const [a, b] = [podOn('node-1'), podOn('node-2')];
  assert.ok(sh(`ip netns exec ${a.ns} ping -c1 -W2 ${b.ip}`).includes('1 received'));
});

test('rollout: proxyMode iptables -> nftables under a connection to a service: no stall over 1 s; policy moves too, never open', async () => {
  const clusterIP = getJson<{ spec: { clusterIP: string } }>('service', SERVICE.name).spec
    .clusterIP;
  const [a, b] = [podOn('node-1'), podOn('node-2')];
  const intruderYaml = echoPodYaml(INTRUDER, 'node-3').replace(
    '  namespace: default',
    '  namespace: default\n  labels: {role: intruder}',
  );
  podnetOk(['--lab', name, 'apply', '-f', '-'], {
    input: [intruderYaml, POLICY_YAML].join('---\n'),
  });
  const intruder = await until(`${INTRUDER} running`, () => {
    const status = getJson<{ status?: { phase?: string; podIP?: string } }>('pod', INTRUDER).status;
    return status?.phase === 'Running' && status.podIP
      ? { ns: podNetns(name, 'node-3', 'default', INTRUDER), ip: status.podIP }
      : undefined;
  });
  await until('node-2 enforcing the policy in iptables', () =>
    sh(`ip netns exec ${name}-node-2 iptables-save -t filter`).includes('PODNET-NP-')
      ? true
      : undefined,
  );
  const denied = connectAttempts(intruder, b.ip, DENIED_PORT);
  // Through node-1's rules (the canary's, moved first): the connection's DNAT is in conntrack.
  const stream = tcpStream(a, b, 8, { ip: clusterIP, ...SERVICE });
  await until('the stream to the service flowing', () =>
    sh(`ip netns exec ${b.ns} ss -Htn state established '( sport = :${SERVICE.targetPort} )'`)
      .split('\n')
      .filter(Boolean).length >= 1
      ? true
      : undefined,
  );
  const r = await rollout({ proxyMode: 'nftables' }, ['--batch', '2']);
  const attempts = await denied.stop();
  assert.equal(r.code, 0, r.stderr);
  process.stderr.write(`rollout iptables->nftables: denied port ${JSON.stringify(attempts)}\n`);
  assert.equal(attempts.reached, 0, 'a denied connection got through while the policy moved');
  assert.ok(attempts.tries > 20, `tried through the move (${attempts.tries} tries)`);
  const f = await stream;
  process.stderr.write(`rollout iptables->nftables: longest stall ${f.maxGapMs} ms\n`);
  assert.ok(f.maxGapMs < 1000, `longest stall ${f.maxGapMs} ms`);
  assert.ok(f.bytes > 100 * 1024, `the connection carried data (${f.bytes} bytes)`);
  assert.equal(network().spec.proxyMode, 'nftables');
  assert.deepEqual(settingsLeft(), []);
  for (const host of HOSTS) {
    const ns = `${name}-${host}`;
    await until(`${host} without iptables service rules`, () =>
      sh(`ip netns exec ${ns} iptables-save -t nat`).includes('PODNET-SERVICES') ? undefined : true,
    );
    assert.match(sh(`ip netns exec ${ns} nft list table ip podnet`), new RegExp(clusterIP));
    await until(`${host} without iptables policy chains and sets`, () =>
      sh(`ip netns exec ${ns} iptables-save -t filter; ip netns exec ${ns} ipset list -n`).includes(
        'PODNET-NP-',
      )
        ? undefined
        : true,
    );
  }
  assert.match(
    sh(`ip netns exec ${name}-node-2 nft list table ip podnet-policy`),
    /drop/,
    "node-2's pod isolated in nftables",
  );
  podnetOk(['--lab', name, 'delete', 'networkpolicy', 'rollout-no-intruder', '-n', 'default']);
  podnetOk(['--lab', name, 'delete', 'pod', INTRUDER, '-n', 'default']);
});
