// The IPv6 pod datapath in one dual-stack lab (`lab up --ip-family dual`, 3 hosts in 2 zones,
// backend auto): pods reach each other over both families, node-1 routes its zone peer's IPv6
// pods directly and the other zone's through pn-vxlan6, a new pod's first IPv6 connection
// works the moment its ADD returns, a pod's Router Advertisement is dropped, and neither
// `plan` nor an agent restart finds anything to change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Node, Pod } from '../../src/api/types.js';
import { containsIP, formatIP, parseCidr, parseIP } from '../../src/net/index.js';
import { hostVethName } from '../../src/kernel/pod-veth.js';
import { findProcess, startProcess, stopProcesses } from '../../src/lab/supervisor.js';
import { deleteNamespace, uniqueName } from '../helpers/names.js';
import {
  labDown,
  labUp,
  podnet,
  podnetOk,
  sweepLeftovers,
  testLabName,
  until,
  type EchoAnswer,
} from '../helpers/lab.js';
import { startChild } from '../helpers/echo-lab.js';
import type { LabState } from '../../src/lab/state.js';

const PROBE = new URL('../../../test/integration/python/ipv6_probe.py', import.meta.url).pathname;
const PYTHON = '/usr/bin/python3';
const NODES = ['node-1', 'node-2', 'node-3'];
const PODS = ['echo-1', 'echo-2', 'echo-3'];
/** New pods whose first IPv6 connection is timed. */
const FIRST_CONNECT_PODS = 5;

const name = testLabName();
let lab: LabState;
/** Each pod's addresses from status.podIPs: IPv4 first, then IPv6. */
const addresses = new Map<string, { v4: string; v6: string }>();

/** Each node's spec.podCIDRs: IPv4 first, then IPv6. */
const subnets = new Map<string, string[]>();

const hostNs = (node: string): string => `${name}-${node}`;

/** An echo pod on `node` that serves both families (`--address ::`). */
function dualEchoYaml(pod: string, node: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${pod}`,
    '  namespace: default',
    'spec:',
    `  nodeName: ${node}`,
    '  containers:',
    '    - name: echo',
    "      command: [podnet, serve-echo, --port, '8080', --address, '::']",
    '',
  ].join('\n');
}

/** Every pod's addresses from status.podIPs, once all run, are ready and have both. */
function allPodIPs(): Map<string, { v4: string; v6: string }> | undefined {
  const r = podnet(['--lab', name, 'get', 'pods', '-o', 'json']);
  if (r.status !== 0) return undefined;
  const found = new Map<string, { v4: string; v6: string }>();
  for (const p of (JSON.parse(r.stdout) as { items: Pod[] }).items) {
    const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const ips = (p.status?.podIPs ?? []).map((i) => parseIP(i.ip));
    const v4 = ips.find((ip) => ip.family === 4);
    const v6 = ips.find((ip) => ip.family === 6);
    if (ready && v4 && v6) found.set(p.metadata.name, { v4: formatIP(v4), v6: formatIP(v6) });
  }
  return PODS.every((pod) => found.has(pod)) ? found : undefined;
}

/** The agent's metric `metric` (summed over its labels) in host namespace `ns`. */
function metricSum(ns: string, metric: string, labels = ''): number {
  const text = spawnSync(
    'ip',
    ['netns', 'exec', ns, 'curl', '-s', 'http://127.0.0.1:9101/metrics'],
    { encoding: 'utf8' },
  ).stdout;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) {
      if (labels && !line.includes(labels)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

function ipv6Routes(ns: string): { dst: string; gateway?: string; dev?: string }[] {
  return JSON.parse(
    execFileSync('ip', ['-n', ns, '-6', '-j', 'route', 'show', 'proto', '80'], {
      encoding: 'utf8',
    }),
  ) as { dst: string; gateway?: string; dev?: string }[];
}

before(async () => {
  sweepLeftovers();
  lab = labUp(name, ['--nodes', '3', '--zones', '2', '--backend', 'auto', '--ip-family', 'dual']);
  podnetOk(['--lab', name, 'apply', '-f', '-'], {
    input: PODS.map((p, i) => dualEchoYaml(p, NODES[i]!)).join('---\n'),
  });
  for (const [pod, ips] of await until('the pods to run', allPodIPs)) addresses.set(pod, ips);
  const nodes = JSON.parse(podnetOk(['--lab', name, 'get', 'nodes', '-o', 'json'])) as {
    items: Node[];
  };
  for (const node of nodes.items) subnets.set(node.metadata.name, node.spec.podCIDRs ?? []);
});

after(() => labDown(name));

test('v6wire: every pod has one address per family, from its node’s subnets', () => {
  for (const [i, pod] of PODS.entries()) {
    const [v4cidr, v6cidr] = subnets.get(NODES[i]!)!.map((c) => parseCidr(c));
    const ips = addresses.get(pod)!;
    assert.ok(containsIP(v4cidr!, parseIP(ips.v4)), `${pod} ${ips.v4}`);
    assert.ok(containsIP(v6cidr!, parseIP(ips.v6)), `${pod} ${ips.v6}`);
  }
});

test('v6wire: every pod reaches every other pod by HTTP over IPv4 and over IPv6', async () => {
  for (const from of PODS) {
    const targets = PODS.filter((to) => to !== from);
    const urls = targets.flatMap((to) => {
      const { v4, v6 } = addresses.get(to)!;
      return [`http://${v4}:8080/`, `http://[${v6}]:8080/`];
    });
    // One exec per pod: each GET's answer on its own line, in the order of the URLs.
    const script = urls.map((u) => `timeout 3 busybox wget -q -O - ${u}; echo`).join('; ');
    const answers = await until(`HTTP from ${from} to every other pod`, () => {
      const r = podnet(['lab', 'exec', '--name', name, from, '--', 'sh', '-c', script]);
      const lines = r.stdout.trim().split('\n');
      if (lines.length !== urls.length || lines.some((l) => !l.startsWith('{'))) return undefined;
      return lines.map((l) => (JSON.parse(l) as EchoAnswer).pod);
    });
    assert.deepEqual(
      answers,
      targets.flatMap((to) => [to, to]),
      `${from}: ${urls.join(' ')}`,
    );
  }
});

test('v6wire: node-1 routes its zone peer’s IPv6 pods via the peer’s ULA and the other zone’s through pn-vxlan6', () => {
  const subnet = (node: string): string => subnets.get(node)![1]!;
  const routes = ipv6Routes(hostNs('node-1'));
  const to3 = routes.find((r) => r.dst === subnet('node-3'));
  const to2 = routes.find((r) => r.dst === subnet('node-2'));
  assert.deepEqual([to3?.gateway, to3?.dev], ['fd00:172:31:1::3', 'eth0'], JSON.stringify(routes));
  assert.equal(to2?.dev, 'pn-vxlan6', JSON.stringify(routes));
});

test('v6wire: a new pod’s first IPv6 connection, right after its ADD returns, succeeds within 50 ms', () => {
  const host = lab.hosts.find((h) => h.name === 'node-1')!;
  const conflist = JSON.parse(
    readFileSync(join(host.stateDir, 'net.d', '10-podnet.conflist'), 'utf8'),
  ) as { cniVersion: string; name: string; plugins: object[] };
  const dir = mkdtempSync(join(tmpdir(), 'pnt-v6wire-'));
  const conf = join(dir, 'conf.json');
  writeFileSync(
    conf,
    JSON.stringify({
      cniVersion: conflist.cniVersion,
      name: conflist.name,
      ...conflist.plugins[0],
    }),
  );
  const plugin = join(lab.stateDir, 'cni', 'bin', 'podnet');
  const times: number[] = [];
  try {
    // New pods on node-1, each connecting to the pod in the other zone (through pn-vxlan6).
    const target = addresses.get('echo-2')!.v6;
    for (let i = 0; i < FIRST_CONNECT_PODS; i++) {
      const netns = uniqueName('v6first');
      execFileSync('ip', ['netns', 'add', netns]);
      try {
        const out = execFileSync(
          'ip',
          [
            'netns',
            'exec',
            hostNs('node-1'),
            PYTHON,
            PROBE,
            'add-connect',
            plugin,
            conf,
            `/run/netns/${netns}`,
            netns,
            target,
            '8080',
          ],
          { encoding: 'utf8' },
        );
        const r = JSON.parse(out) as {
          added: boolean;
          connected: unknown;
          ms: number;
          connect_ms: number;
          error?: string;
          result?: { ips: { address: string; gateway: string }[] };
        };
        assert.ok(r.added, r.error);
        assert.equal(r.connected, true, `first connection to ${target}: ${String(r.connected)}`);
        assert.deepEqual(
          r.result?.ips.map((ip) => ip.gateway.includes(':')),
          [false, true],
          JSON.stringify(r.result),
        );
        assert.equal(r.result?.ips[1]!.gateway, 'fe80::1');
        // One SYN answered: a lost first packet (no neighbour, an address still tentative, the
        // guard not yet letting the pod out) would cost the kernel's 1 s retransmission.
        assert.ok(r.connect_ms < 1000, `connect took ${r.connect_ms.toFixed(1)} ms`);
        times.push(r.ms);
      } finally {
        // DEL as a runtime would: a pod left to the orphan scan would go at the agent restart below.
        spawnSync('ip', ['netns', 'exec', hostNs('node-1'), plugin], {
          input: readFileSync(conf),
          env: {
            ...process.env,
            CNI_COMMAND: 'DEL',
            CNI_CONTAINERID: netns,
            CNI_NETNS: `/run/netns/${netns}`,
            CNI_IFNAME: 'eth0',
            CNI_PATH: dirname(plugin),
            CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${netns}`,
          },
        });
        deleteNamespace(netns);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stderr.write(
    `v6wire: first IPv6 connect after ADD: ${times.map((t) => t.toFixed(1)).join(', ')} ms\n`,
  );
  // The median: on a loaded machine one probe process may wait for a CPU longer than that.
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  assert.ok(median < 50, `median first IPv6 connect ${median.toFixed(1)} ms`);
});

test('v6wire: a Router Advertisement from a pod is dropped by the guard and installs nothing on the host', async () => {
  const ns = hostNs('node-1');
  const veth = hostVethName('default/echo-1/eth0');
  assert.equal(
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', `net.ipv6.conf.${veth}.accept_ra`], {
      encoding: 'utf8',
    }).trim(),
    '0',
  );
  const dropped = metricSum(ns, 'podnet_guard_drops_total', 'reason="spoofed"');
  const sent = podnetOk([
    'lab',
    'exec',
    '--name',
    name,
    'echo-1',
    '--',
    PYTHON,
    PROBE,
    'ra',
    'eth0',
  ]);
  assert.equal(sent.trim(), 'sent');
  await until('the guard to count the advertisement', () =>
    metricSum(ns, 'podnet_guard_drops_total', 'reason="spoofed"') > dropped ? true : undefined,
  );
  const routes = execFileSync('ip', ['-n', ns, '-6', 'route', 'show'], { encoding: 'utf8' });
  assert.doesNotMatch(routes, /2001:db8:bad|proto ra/, routes);
});

test('v6wire: plan on a settled host has nothing to change for either family', () => {
  const plan = JSON.parse(podnetOk(['--lab', name, 'plan', '--node', 'node-1', '-o', 'json'])) as {
    commands: string[];
    problems: unknown[];
  };
  assert.deepEqual(plan.commands, []);
  assert.deepEqual(plan.problems, []);
});

test('v6wire: an agent restart changes no IPv6 route', async () => {
  const ns = hostNs('node-1');
  const before = ipv6Routes(ns);
  const monitor = startChild(['ip', '-n', ns, '-6', 'monitor', 'route']);
  try {
    await new Promise((r) => setTimeout(r, 200));
    const agent = findProcess(lab.stateDir, 'agent-node-1')!;
    await stopProcesses(lab.stateDir, [agent]);
    await startProcess(lab.stateDir, { id: agent.id, argv: agent.argv, netns: agent.netns });
    // The new agent has reconciled once it counts a reconcile; it must have changed nothing.
    await until(
      'the restarted agent to reconcile',
      () =>
        metricSum(ns, 'podnet_routing_reconciles_total', 'result="ok"') > 0 ? true : undefined,
      90_000,
    );
    assert.equal(metricSum(ns, 'podnet_routing_kernel_changes_total'), 0);
  } finally {
    monitor.kill();
  }
  const { stdout } = await monitor.done;
  assert.equal(stdout.trim(), '', `IPv6 route changes during the restart:\n${stdout}`);
  assert.deepEqual(ipv6Routes(ns), before);
});
