// Services and DNS on IPv6 through real kernels, in namespaces this test wires by hand: a host
// H with two endpoint pods and a client pod on veths (both families, ptp style), and an outside
// client X on H's underlay. Both proxy modes program a dual-stack service with one proxier per
// family; podnet's DNS server answers on both families from H.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Family } from '../../src/net/index.js';
import type { KubeObject, ProxyMode, Service, ServicePort } from '../../src/api/types.js';
import { netfilterKernel } from '../../src/kernel/netfilter.js';
import { servicePortRules, type ServicePortsEndpoints } from '../../src/proxy/from-services.js';
import type { ProxyNetwork } from '../../src/proxy/model.js';
import { createProxier } from '../../src/proxy/proxier.js';
import { ProxySyncer } from '../../src/proxy/syncer.js';
import { createLogger } from '../../src/util/log.js';
import { digIn } from '../helpers/dns-netns.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';
import { CHI2_P001, chiSquareUniform, type ConnectResult } from '../helpers/proxy-topology.js';
import { waitFor } from '../helpers/wait.js';
import { dualStackWebService } from '../helpers/web-objects.js';

const ECHO = fileURLToPath(new URL('../helpers/echo-main.js', import.meta.url));
const DNS_SERVE = fileURLToPath(new URL('../helpers/dns-serve.js', import.meta.url));

const NETS: Record<Family, ProxyNetwork> = {
  4: { family: 4, clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16' },
  6: { family: 6, clusterCIDR: 'fd00:10:244::/56', serviceCIDR: 'fd00:10:96::/112' },
};
const HOST = { 4: '172.31.0.1', 6: 'fd00:31::1' };
const OUTSIDE = { 4: '172.31.0.2', 6: 'fd00:31::2' };
const GATEWAY = { 4: '10.244.1.1', 6: 'fd00:10:244:1::1' };
const NODE_POD_CIDR = { 4: '10.244.1.0/24', 6: 'fd00:10:244:1::/64' };
const PODS = {
  p1: { 4: '10.244.1.5', 6: 'fd00:10:244:1::5' },
  p2: { 4: '10.244.1.6', 6: 'fd00:10:244:1::6' },
  client: { 4: '10.244.1.9', 6: 'fd00:10:244:1::9' },
};
const PORT = 8080;

const service = (name: string, clusterIPs: string[], ports: ServicePort[]): Service =>
  dualStackWebService('ns', ports, { name, clusterIPs, selector: { app: name } });

const WEB = service(
  'web',
  ['10.96.0.20', 'fd00:10:96::20'],
  [{ name: 'http', protocol: 'TCP', port: 80, targetPort: PORT, nodePort: 30080 }],
);
const ECHO_UDP = service(
  'echo',
  ['10.96.0.21', 'fd00:10:96::21'],
  [{ name: 'udp', protocol: 'UDP', port: 53, targetPort: PORT }],
);
const EMPTY = service(
  'empty',
  ['10.96.0.22', 'fd00:10:96::22'],
  [{ name: 'http', protocol: 'TCP', port: 80, targetPort: PORT }],
);

/** Both pods of both families behind the named port, as the slices would list them. */
function endpointsOf(portName: string, pods: (keyof typeof PODS)[]): ServicePortsEndpoints {
  const ips = pods.flatMap((p) => [PODS[p][4], PODS[p][6]]);
  return {
    ports: [
      {
        name: portName,
        protocol: portName === 'udp' ? 'UDP' : 'TCP',
        endpoints: ips.map((ip) => ({
          ip,
          port: PORT,
          ready: true,
          serving: true,
          terminating: false,
        })),
      },
    ],
  };
}

describe('services and DNS on IPv6', { concurrency: false }, () => {
  const ns = { host: '', p1: '', p2: '', client: '', outside: '' };
  const children: ChildProcess[] = [];
  let dir = '';
  const log = createLogger('services-ipv6-test');
  log.level = 'warn';

  const exec = (where: string, argv: string[]): string =>
    execFileSync('ip', ['netns', 'exec', where, ...argv], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const batch = (where: string, lines: string[]): void => {
    execFileSync('ip', ['-n', where, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  };
  const connect = (from: string, ip: string, port: number, count: number, proto = 'tcp') =>
    JSON.parse(
      exec(from, [process.execPath, ECHO, 'connect', ip, String(port), String(count), proto]),
    ) as ConnectResult;

  before(async () => {
    sweepStaleNamespaces();
    for (const key of Object.keys(ns) as (keyof typeof ns)[]) {
      ns[key] = uniqueName(key);
      execFileSync('ip', ['netns', 'add', ns[key]]);
      // No duplicate address detection: an address is usable the moment it is added.
      exec(ns[key], ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
      exec(ns[key], ['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
    }
    exec(ns.host, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    exec(ns.host, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    batch(ns.host, [
      'link set lo up',
      `link add u0 type veth peer name u0 netns ${ns.outside}`,
      `addr add ${HOST[4]}/24 dev u0`,
      `addr add ${HOST[6]}/64 dev u0 nodad`,
      'link set u0 up',
      // As on a real host, service addresses are routable before any DNAT.
      'route add default dev u0',
      'route add ::/0 dev u0',
    ]);
    batch(ns.outside, [
      'link set lo up',
      `addr add ${OUTSIDE[4]}/24 dev u0`,
      `addr add ${OUTSIDE[6]}/64 dev u0 nodad`,
      'link set u0 up',
    ]);
    for (const pod of ['p1', 'p2', 'client'] as const) {
      const hostIf = `v${pod}`;
      batch(ns.host, [
        `link add ${hostIf} type veth peer name eth0 netns ${ns[pod]}`,
        `addr add ${GATEWAY[4]}/32 dev ${hostIf}`,
        `addr add ${GATEWAY[6]}/128 dev ${hostIf} nodad`,
        `link set ${hostIf} up`,
        `route add ${PODS[pod][4]}/32 dev ${hostIf}`,
        `route add ${PODS[pod][6]}/128 dev ${hostIf}`,
      ]);
      batch(ns[pod], [
        'link set lo up',
        `addr add ${PODS[pod][4]}/32 dev eth0`,
        `addr add ${PODS[pod][6]}/128 dev eth0 nodad`,
        'link set eth0 up',
        `route add ${GATEWAY[4]} dev eth0`,
        `route add default via ${GATEWAY[4]} src ${PODS[pod][4]}`,
        `route add ${GATEWAY[6]}/128 dev eth0`,
        `route add ::/0 via ${GATEWAY[6]} dev eth0 src ${PODS[pod][6]}`,
      ]);
    }
    // Each endpoint answers its name over TCP and UDP on both families.
    await Promise.all(
      (['p1', 'p2'] as const).map(
        (pod) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(
              'ip',
              ['netns', 'exec', ns[pod], process.execPath, ECHO, 'serve', pod, String(PORT), '::'],
              { stdio: ['ignore', 'pipe', 'inherit'] },
            );
            children.push(child);
            child.once('error', reject);
            child.stdout!.once('data', () => resolve());
          }),
      ),
    );
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const name of Object.values(ns)) if (name) deleteNamespace(name);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['nftables', 'iptables'] as ProxyMode[]) {
    test(`${mode}: a dual-stack service spreads over both endpoints on its IPv6 cluster IP, NodePort and IPv4 beside it`, async () => {
      let udpPods: (keyof typeof PODS)[] = ['p1', 'p2'];
      const rulesFor = (family: Family) => [
        ...servicePortRules(WEB, endpointsOf('http', ['p1', 'p2']), family),
        ...servicePortRules(ECHO_UDP, endpointsOf('udp', udpPods), family),
        ...servicePortRules(EMPTY, undefined, family),
      ];
      const syncers = ([4, 6] as Family[]).map((family) => {
        const kernel = netfilterKernel(ns.host, family);
        const syncer = new ProxySyncer(
          createProxier(mode, { ...NETS[family], nodePodCIDR: NODE_POD_CIDR[family] }, kernel),
          { log, conntrack: kernel.conntrack, minIntervalMs: 0 },
        );
        return { family, syncer };
      });
      const syncAll = async (reason: string): Promise<void> => {
        for (const s of syncers) s.syncer.update(() => rulesFor(s.family), reason);
        await Promise.all(syncers.map((s) => s.syncer.idle()));
      };
      try {
        await syncAll('start');

        // The IPv6 cluster IP, from a pod: a few hundred connections, uniform over both.
        const v6 = connect(ns.client, 'fd00:10:96::20', 80, 300);
        assert.deepEqual(v6.errors, {});
        assert.deepEqual(Object.keys(v6.counts).sort(), ['p1', 'p2']);
        const chi2 = chiSquareUniform([v6.counts.p1!, v6.counts.p2!]);
        assert.ok(
          chi2 < CHI2_P001[1]!,
          `chi-square ${chi2.toFixed(2)} over ${JSON.stringify(v6.counts)}`,
        );

        // The NodePort on the host's IPv6 address, from outside the cluster (masqueraded).
        const nodePort = connect(ns.outside, HOST[6], 30080, 40);
        assert.deepEqual(nodePort.errors, {});
        assert.deepEqual(Object.keys(nodePort.counts).sort(), ['p1', 'p2']);

        // The same service's IPv4 cluster IP and NodePort work beside it.
        const v4 = connect(ns.client, '10.96.0.20', 80, 40);
        assert.deepEqual(v4.errors, {});
        assert.deepEqual(Object.keys(v4.counts).sort(), ['p1', 'p2']);
        assert.deepEqual(connect(ns.outside, HOST[4], 30080, 10).errors, {});

        // No endpoints: refused at once, on IPv6 too.
        const refused = connect(ns.client, 'fd00:10:96::22', 80, 3);
        assert.deepEqual(refused.errors, { ECONNREFUSED: 3 }, JSON.stringify(refused));

        // UDP flows to an IPv6 endpoint that goes away are deleted from conntrack.
        const udp = connect(ns.client, 'fd00:10:96::21', 53, 20, 'udp');
        assert.deepEqual(Object.keys(udp.counts).sort(), ['p1', 'p2'], JSON.stringify(udp));
        const flowsTo = (ip: string): number =>
          exec(ns.host, ['conntrack', '-L', '-f', 'ipv6', '-p', 'udp', '--reply-src', ip])
            .split('\n')
            .filter(Boolean).length;
        assert.ok(flowsTo(PODS.p2[6]) > 0, 'flows to p2 before it goes');
        udpPods = ['p1'];
        await syncAll('endpointslice echo');
        assert.equal(flowsTo(PODS.p2[6]), 0, 'no flow to p2 after it went');
        assert.ok(flowsTo(PODS.p1[6]) > 0, 'the flows to p1 stay');

        // Someone flushes the IPv6 rules only: the IPv6 loop notices and rewrites them in full.
        const [v4loop, v6loop] = syncers.map((s) => s.syncer);
        exec(
          ns.host,
          mode === 'nftables'
            ? ['nft', 'delete table ip6 podnet-canary']
            : ['ip6tables', '-t', 'nat', '-F', 'PODNET-CANARY'],
        );
        assert.equal(await v4loop!.checkCanary(), true);
        assert.equal(await v6loop!.checkCanary(), false);
        await v6loop!.idle();
        assert.equal(await v6loop!.checkCanary(), true);
      } finally {
        await Promise.all(syncers.map((s) => s.syncer.stop()));
        // The other mode starts from clean tables in this test's own host namespace.
        for (const table of ['ip podnet', 'ip podnet-canary', 'ip6 podnet', 'ip6 podnet-canary']) {
          exec(ns.host, ['nft', `add table ${table}; delete table ${table}`]);
        }
        for (const program of ['iptables', 'ip6tables']) {
          for (const table of ['nat', 'filter']) {
            exec(ns.host, [program, '-t', table, '-F']);
            exec(ns.host, [program, '-t', table, '-X']);
          }
        }
        exec(ns.host, ['conntrack', '-F']);
      }
    });
  }

  test('dns: AAAA, A and ip6.arpa PTR from a server listening on both families', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pnt-dns6-'));
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
      WEB,
      {
        apiVersion: 'podnet.io/v1',
        kind: 'ClusterNetwork',
        metadata: { name: 'default' },
        spec: {
          clusterCIDR: NETS[4].clusterCIDR,
          clusterCIDRs: [NETS[4].clusterCIDR, NETS[6].clusterCIDR],
          nodeSubnetPrefix: 24,
          serviceCIDR: NETS[4].serviceCIDR,
          serviceCIDRs: [NETS[4].serviceCIDR, NETS[6].serviceCIDR],
          dnsIP: '10.96.0.10',
          domain: 'cluster.local',
          backend: 'host-gw',
          proxyMode: 'nftables',
          routing: 'store',
          mtu: 1500,
        },
      },
    ];
    const file = join(dir, 'objects.json');
    writeFileSync(file, JSON.stringify(objects));
    const server = spawn(
      'ip',
      ['netns', 'exec', ns.host, process.execPath, DNS_SERVE, file, '53', '1'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DNS_LISTEN: '0.0.0.0,::' } },
    );
    children.push(server);
    const name = 'web.ns.svc.cluster.local';
    const aaaa = await waitFor(
      'the DNS server to answer over IPv6',
      () => {
        try {
          const out = digIn(ns.outside, HOST[6], ['+short', 'AAAA', name], { time: 1, tries: 1 });
          return out.trim() || false;
        } catch {
          return false;
        }
      },
      10_000,
      50,
    );
    assert.equal(aaaa, 'fd00:10:96::20');
    assert.equal(digIn(ns.outside, HOST[4], ['+short', 'A', name]).trim(), '10.96.0.20');
    assert.equal(digIn(ns.outside, HOST[4], ['+short', 'AAAA', name]).trim(), 'fd00:10:96::20');
    assert.equal(digIn(ns.outside, HOST[6], ['+short', '-x', 'fd00:10:96::20']).trim(), `${name}.`);
  });
});
