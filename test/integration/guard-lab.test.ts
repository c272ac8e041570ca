// The node guard in a real lab, in both proxy modes (3 hosts in 2 zones, BGP between the
// hosts, etcd and the API server on the underlay): a pod that sends from an address not its
// own reaches nothing and is counted, while its own address keeps working; a pod cannot send
// VXLAN or IP-in-IP to a host; podnet's control ports on its own host, on another host and on
// the control plane are closed to pods (a BGP OPEN gets no session) while the hosts use them;
// the cluster DNS (kube-system) still reads the store. One lab serves both modes: it starts in
// iptables mode and its ClusterNetwork then moves it to nftables, and the cases issue #18 asks
// for in both modes run in each. The guard's table is the same in both, so the cases that only
// concern it run once: bringing pods up counts as no spoofing, a port the operator opens
// answers pods, a restarted agent leaves the table exactly as it was. With a BIRD fabric, a pod
// cannot open a session with its zone's router, which would see the pod masqueraded as its node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { ClusterNetwork, Node } from '../../src/api/types.js';
import type { ListDocument } from '../../src/api/list.js';
import type { NodeBgpStatus } from '../../src/bgp/status-store.js';
import { findProcess, startProcess, stopProcesses } from '../../src/lab/supervisor.js';
import { formatIP, hostRange, parseCidr } from '../../src/net/index.js';
import { moveToNftables } from '../helpers/cluster-network.js';
import { EchoLab, NODES, startChild } from '../helpers/echo-lab.js';
import { PODNET, podnet, podnetOk, sweepLeftovers, until } from '../helpers/lab.js';
import { agentMetricsText, metricValue } from '../helpers/agent-metrics.js';

const PROBE = new URL('../../../test/integration/python/guard_probe.py', import.meta.url).pathname;
const PYTHON = '/usr/bin/python3';
/** Control ports the test serves itself on each host address (BGP 179 is the agents' own). */
const SERVED_PORTS = [2379, 2380, 6443, 9101, 9153];
/** Where the lab runs etcd and the API server: zone 1's router. */
const CONTROL_PLANE = '172.31.1.254';

/** podnet_guard_drops_total{reason} from the agent in host namespace `ns`. */
function dropsIn(ns: string, reason: string): number {
  const drops = metricValue(agentMetricsText(ns), 'podnet_guard_drops_total', { reason });
  assert.ok(drops !== undefined, `no podnet_guard_drops_total{reason="${reason}"} in ${ns}`);
  return drops;
}

describe('guard, both proxy modes', () => {
  const lab = new EchoLab(['--proxy', 'iptables', '--routing', 'bgp', '--store', 'etcd']);
  const listeners: ReturnType<typeof startChild>[] = [];
  before(async () => {
    sweepLeftovers();
    await lab.up();
    // On each host's own address and on its pod gateway (on every pod veth of the host).
    for (const [node, ip] of ['node-1', 'node-2'].flatMap((n) => [
      [n, nodeIP(n)],
      [n, podGateway(n)],
    ])) {
      const l = startChild([
        'ip',
        'netns',
        'exec',
        hostNs(node!),
        PYTHON,
        PROBE,
        'listen',
        ip!,
        ...SERVED_PORTS.map(String),
      ]);
      listeners.push(l);
      await until(`listeners on ${ip}`, () => (l.stderr().includes('ready') ? true : undefined));
    }
  });
  after(() => {
    for (const l of listeners) l.kill();
    lab.down();
  });

  const hostNs = (node: string): string => `${lab.name}-${node}`;
  // A Node's address and subnet stay for the lab's life: read once, not per probe.
  const nodes = new Map<string, Node>();
  const nodeObject = (node: string): Node => {
    if (!nodes.has(node))
      nodes.set(
        node,
        JSON.parse(podnetOk(['--lab', lab.name, 'get', 'node', node, '-o', 'json'])) as Node,
      );
    return nodes.get(node)!;
  };
  const nodeIP = (node: string): string =>
    nodeObject(node).status!.addresses!.find((a) => a.type === 'InternalIP')!.address;
  /** The first address of the node's pod subnet, which every pod veth of the node carries. */
  const podGateway = (node: string): string =>
    formatIP(hostRange(parseCidr(nodeObject(node).spec.podCIDR!)).first);
  const inPod = (pod: string, args: string[]): string => {
    const r = lab.exec(pod, [PYTHON, PROBE, ...args]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const inHost = (node: string, args: string[]): string =>
    spawnSync('ip', ['netns', 'exec', hostNs(node), PYTHON, PROBE, ...args], {
      encoding: 'utf8',
    }).stdout.trim();
  const drops = (node: string, reason: string): number => dropsIn(hostNs(node), reason);

  /** The cases issue #18 asks for in both proxy modes, in the mode the lab runs. */
  const casesInEachMode = (): void => {
    test('a pod sending from a second address reaches nothing; its own address still works', async () => {
      const spoofed = lab.ip('echo-2'); // a neighbour's address
      const own = lab.ip('echo-1');
      const added = lab.exec('echo-1', ['ip', 'addr', 'add', `${spoofed}/32`, 'dev', 'eth0']);
      assert.equal(added.status, 0, added.stderr);
      try {
        const before = drops('node-1', 'spoofed');
        const ping = lab.exec('echo-1', [
          'ping',
          '-c',
          '2',
          '-W',
          '1',
          '-I',
          spoofed,
          lab.ip('echo-3'),
        ]);
        assert.notEqual(ping.status, 0, 'a ping from the borrowed address was answered');

        const listener = startChild([
          PODNET,
          'lab',
          'exec',
          '--name',
          lab.name,
          'echo-3',
          '--',
          PYTHON,
          PROBE,
          'udp-listen',
          '5999',
          '4',
        ]);
        await until('UDP listener', () => (listener.stderr().includes('ready') ? true : undefined));
        inPod('echo-1', ['udp', spoofed, lab.ip('echo-3'), '5999']);
        inPod('echo-1', ['udp', own, lab.ip('echo-3'), '5999']);
        const heard = (await listener.done).stdout.split('\n').filter((l) => /^\d/.test(l));
        assert.deepEqual(heard, [own], 'only the datagram from the pod own address arrives');

        assert.ok(drops('node-1', 'spoofed') >= before + 3, 'the spoofed packets were counted');
        assert.equal((await lab.http('echo-1', 'echo-3')).pod, 'echo-3');
      } finally {
        lab.exec('echo-1', ['ip', 'addr', 'del', `${spoofed}/32`, 'dev', 'eth0']);
      }
    });

    test('a pod cannot send VXLAN or IP-in-IP to a host', () => {
      const before = drops('node-1', 'tunnel');
      inPod('echo-1', ['udp', lab.ip('echo-1'), nodeIP('node-2'), '8472']);
      inPod('echo-1', ['ipip', nodeIP('node-2')]);
      inPod('echo-1', ['udp', lab.ip('echo-1'), nodeIP('node-1'), '8472']);
      assert.equal(drops('node-1', 'tunnel'), before + 3);
    });

    test('control ports are closed to pods on every host and the control plane, open to hosts', () => {
      const targets = [
        ...SERVED_PORTS.map((port) => [nodeIP('node-1'), port] as const),
        ...SERVED_PORTS.map((port) => [nodeIP('node-2'), port] as const),
        [podGateway('node-1'), 9101] as const,
        [podGateway('node-2'), 2379] as const,
        [podGateway('node-2'), 9153] as const,
        [CONTROL_PLANE, 2379] as const,
        [CONTROL_PLANE, 6443] as const,
      ];
      const before = drops('node-1', 'host-port');
      const each = ['tcp-each', ...targets.map(([ip, port]) => `${ip}:${port}`)];
      const fromHost = inHost('node-3', each).split('\n');
      const fromOwnHost = inHost('node-1', each).split('\n');
      const fromPod = inPod('echo-1', each).split('\n');
      targets.forEach(([ip, port], i) => {
        assert.equal(fromHost[i], 'connected', `host -> ${ip}:${port}`);
        assert.equal(fromOwnHost[i], 'connected', `own host -> ${ip}:${port}`);
        assert.equal(fromPod[i], 'timeout', `pod -> ${ip}:${port}`);
      });
      assert.ok(drops('node-1', 'host-port') >= before + targets.length);
      // The cluster DNS (kube-system) reads the store: it keeps the control plane.
      const dns = podnet([
        'lab',
        'exec',
        '--name',
        lab.name,
        '-n',
        'kube-system',
        'coredns-0',
        '--',
        PYTHON,
        PROBE,
        'tcp',
        CONTROL_PLANE,
        '2379',
      ]);
      assert.equal(dns.stdout.trim(), 'connected', dns.stderr);
    });

    test('a BGP OPEN from a pod gets no session, while the hosts keep theirs', () => {
      const hosts = ['node-1', 'node-2'];
      const opens = inPod('echo-1', ['tcp-each', 'bgp', ...hosts.map((n) => `${nodeIP(n)}:179`)]);
      assert.deepEqual(opens.split('\n'), ['timeout', 'timeout'], hosts.join(', '));
      const sessions = (
        JSON.parse(
          podnetOk(['--lab', lab.name, 'get', 'bgp', '-o', 'json']),
        ) as ListDocument<NodeBgpStatus>
      ).items;
      for (const s of sessions) {
        assert.ok(
          s.peers.length > 0 && s.peers.every((p) => p.state === 'Established'),
          JSON.stringify(s),
        );
        assert.ok(!s.peers.some((p) => p.address === lab.ip('echo-1')));
      }
    });
  };

  describe('guard, iptables proxy', () => {
    test('pods still reach pods on every host, in the zone and through the tunnel; bringing them up counted as no spoofing', async () => {
      await lab.allPairs();
      // Each pod's kernel probed its addresses and joined their groups from `::` as it came up.
      for (const node of NODES)
        assert.equal(drops(node, 'spoofed'), 0, `spoofed drops on ${node} from well-behaved pods`);
    });

    casesInEachMode();

    test('a port the operator opens answers pods, and closes again', async () => {
      const network = JSON.parse(
        podnetOk(['--lab', lab.name, 'get', 'clusternetwork', 'default', '-o', 'json']),
      ) as ClusterNetwork;
      const apply = (allowPorts: number[] | undefined): void => {
        const spec = { ...network.spec, hostProtection: allowPorts ? { allowPorts } : undefined };
        podnetOk(['--lab', lab.name, 'apply', '-f', '-'], {
          input: JSON.stringify({ ...network, metadata: { name: 'default' }, spec }),
        });
      };
      apply([9153]);
      try {
        for (const node of ['node-1', 'node-2']) {
          await until(`${node}:9153 open to pods`, () =>
            inPod('echo-1', ['tcp', nodeIP(node), '9153']) === 'connected' ? true : undefined,
          );
        }
        assert.equal(inPod('echo-1', ['tcp', nodeIP('node-2'), '9101']), 'timeout');
      } finally {
        apply(undefined);
      }
      await until('9153 closed again', () =>
        inPod('echo-1', ['tcp', nodeIP('node-2'), '9153']) === 'timeout' ? true : undefined,
      );
    });
  });

  describe('guard, nftables proxy', () => {
    // Spoofed drops on each host before the move: well-behaved pods add none after it.
    const spoofedBefore = new Map<string, number>();
    before(async () => {
      for (const node of NODES) spoofedBefore.set(node, drops(node, 'spoofed'));
      await moveToNftables(lab.name, NODES);
    });

    test('pods still reach pods on every host after the move; well-behaved pods count no spoofing', async () => {
      await lab.allPairs();
      for (const node of NODES)
        assert.equal(drops(node, 'spoofed'), spoofedBefore.get(node), `spoofed drops on ${node}`);
    });

    casesInEachMode();

    test('a restarted agent with nothing new changes nothing in the guard', async () => {
      // Handles (-a) change when an object is made again; packet counts change on their own.
      const listing = (): string =>
        spawnSync(
          'ip',
          ['netns', 'exec', hostNs('node-2'), 'nft', '-a', 'list', 'table', 'inet', 'podnet-guard'],
          {
            encoding: 'utf8',
          },
        ).stdout.replace(/packets \d+ bytes \d+/g, '');
      const ready = (): true | undefined =>
        spawnSync('ip', [
          'netns',
          'exec',
          hostNs('node-2'),
          'curl',
          '-sf',
          'http://127.0.0.1:9101/readyz',
        ]).status === 0
          ? true
          : undefined;
      const before = listing();
      assert.match(before, /pod-sources-v4/);
      const agent = findProcess(lab.lab.stateDir, 'agent-node-2')!;
      await stopProcesses(lab.lab.stateDir, [agent]);
      await startProcess(lab.lab.stateDir, { id: agent.id, argv: agent.argv, netns: agent.netns });
      await until('the restarted agent to be ready', ready, 60_000);
      assert.equal(listing(), before);
    });
  });
});

describe('guard, BGP fabric (BIRD) router', () => {
  const lab = new EchoLab(['--routing', 'bgp', '--fabric', 'bird']);
  before(async () => {
    sweepLeftovers();
    await lab.up();
  });
  after(() => lab.down());

  test("a pod's BGP OPEN to its zone's router gets no session, though masquerade would pass it off as its node", () => {
    // echo-2 runs on node-2, in zone 2, whose hosts peer with that zone's router address.
    const before = dropsIn(`${lab.name}-node-2`, 'host-port');
    const r = lab.exec('echo-2', [PYTHON, PROBE, 'tcp', '172.31.2.254', '179', 'bgp']);
    assert.equal(r.stdout.trim(), 'timeout', r.stderr);
    assert.ok(dropsIn(`${lab.name}-node-2`, 'host-port') > before);
    const sessions = (
      JSON.parse(
        podnetOk(['--lab', lab.name, 'get', 'bgp', '-o', 'json']),
      ) as ListDocument<NodeBgpStatus>
    ).items;
    for (const s of sessions)
      assert.ok(
        s.peers.length > 0 && s.peers.every((p) => p.state === 'Established'),
        JSON.stringify(s),
      );
  });
});
