// `podnet lab up --routing bgp --fabric bird|frr`: a real router (BIRD 2, or FRR's bgpd with
// zebra) in the underlay namespace peers with every host; hosts learn each other's pod subnets
// through it, pods in different zones talk through it natively (a capture on the underlay shows
// the pod addresses themselves, no VXLAN or IP-in-IP), and `lab down` leaves nothing behind.
// The lab is dual-stack: the same sessions carry IPv6 unicast (multiprotocol over IPv4), every
// host installs the others' IPv6 pod subnets with proto 80, and pods talk over IPv6 too. On an
// IPv6-only lab the sessions run over IPv6 (TCP between the segment's IPv6 addresses) and carry
// IPv6 alone, and the same holds with no IPv4 in the pod network.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, Pod } from '../../src/api/types.js';
import { parseCidr, parseIP } from '../../src/net/index.js';
import type { ListDocument } from '../../src/api/list.js';
import type { NodeBgpStatus } from '../../src/bgp/status-store.js';
import type { LabStatus } from '../../src/lab/status.js';
import { processStartTime } from '../../src/process/daemons.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  echoGet,
  LABS_DIR,
  podnet,
  podnetOk,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';
import { EchoLab, NODES, startChild } from '../helpers/echo-lab.js';

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

/** Each host's address (3 hosts dealt over 2 zones) and its zone router. */
const HOST_IP: Record<string, string> = {
  'node-1': '172.31.1.1',
  'node-2': '172.31.2.2',
  'node-3': '172.31.1.3',
};
const ROUTER: Record<string, string> = {
  'node-1': '172.31.1.254',
  'node-2': '172.31.2.254',
  'node-3': '172.31.1.254',
};

function inNetns(ns: string, argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
}

/** The same on the IPv6 underlay (a ULA /64 per zone, the router at ::fe). */
const HOST_IP6: Record<string, string> = {
  'node-1': 'fd00:172:31:1::1',
  'node-2': 'fd00:172:31:2::2',
  'node-3': 'fd00:172:31:1::3',
};
const ROUTER6: Record<string, string> = {
  'node-1': 'fd00:172:31:1::fe',
  'node-2': 'fd00:172:31:2::fe',
  'node-3': 'fd00:172:31:1::fe',
};

/** The router's own view of one prefix: its next hop, or undefined when it has none. */
type RouterView = (prefix: string) => string | undefined;

function birdView(labDir: string): RouterView {
  const sock = join(labDir, 'fabric', 'bird.ctl');
  return (prefix) =>
    /via (\S+) on/.exec(
      execFileSync('birdc', ['-s', sock, 'show', 'route', 'for', prefix], { encoding: 'utf8' }),
    )?.[1];
}

function frrView(labDir: string, underlay: string, afi: 'ipv4' | 'ipv6'): RouterView {
  return (prefix) => {
    const out = inNetns(underlay, [
      'vtysh',
      '--vty_socket',
      join(labDir, 'fabric'),
      '-c',
      `show bgp ${afi} unicast ${prefix} json`,
    ]);
    const json = JSON.parse(out) as { paths?: { nexthops: { ip: string }[] }[] };
    return json.paths?.[0]?.nexthops[0]?.ip;
  };
}

/** The router's sessions that are Established, per its own daemon. */
function routerEstablished(
  fabric: 'bird' | 'frr',
  labDir: string,
  underlay: string,
  afi: 'ipv4' | 'ipv6',
): number {
  if (fabric === 'bird') {
    const out = execFileSync(
      'birdc',
      ['-s', join(labDir, 'fabric', 'bird.ctl'), 'show', 'protocols'],
      { encoding: 'utf8' },
    );
    return out.split('\n').filter((l) => /^host_\S+\s+BGP\s.*Established/.test(l)).length;
  }
  const json = JSON.parse(
    inNetns(underlay, [
      'vtysh',
      '--vty_socket',
      join(labDir, 'fabric'),
      '-c',
      `show bgp ${afi} unicast summary json`,
    ]),
  ) as { peers?: Record<string, { state: string }> };
  return Object.values(json.peers ?? {}).filter((p) => p.state === 'Established').length;
}

async function fabricLab(fabric: 'bird' | 'frr', family: 'dual' | 'ipv6' = 'dual'): Promise<void> {
  // One echo pod per host: echo-1 on node-1 (zone-1), echo-2 on node-2 (zone-2), echo-3 on node-3.
  const echo = new EchoLab(['--routing', 'bgp', '--fabric', fabric, '--ip-family', family]);
  const v6only = family === 'ipv6';
  // Sessions, and the hosts' addresses routes name, in the family they run over.
  const router = v6only ? ROUTER6 : ROUTER;
  const hostIP = v6only ? HOST_IP6 : HOST_IP;
  const afi = v6only ? 'ipv6' : 'ipv4';
  const name = echo.name;
  const daemons = fabric === 'bird' ? ['fabric-bird'] : ['fabric-bgpd', 'fabric-zebra'];
  let fabricPids: { pid: number; startTime: number }[] = [];
  try {
    await echo.up();
    const lab = echo.lab;
    const underlay = lab.underlay.netns;
    assert.equal(lab.options.fabric, fabric);

    // `lab status` shows the router's daemons, running in the underlay.
    const status = JSON.parse(
      podnetOk(['lab', 'status', '--name', name, '-o', 'json']),
    ) as LabStatus;
    for (const id of daemons) {
      const p = status.processes.find((x) => x.id === id);
      assert.ok(p?.running, `${id} in lab status: ${JSON.stringify(status.processes)}`);
      assert.equal(p.netns, underlay);
    }
    fabricPids = status.processes
      .filter((p) => daemons.includes(p.id))
      .map((p) => ({ pid: p.pid, startTime: processStartTime(p.pid)! }));
    assert.match(podnetOk(['lab', 'status', '--name', name]), new RegExp(daemons[0]!));

    // Every host has one session, to its zone's router, Established (podnet's view and the
    // router's own).
    await until(
      'every host Established with its router',
      () => {
        const sessions = (
          JSON.parse(
            podnetOk(['--lab', name, 'get', 'bgp', '-o', 'json']),
          ) as ListDocument<NodeBgpStatus>
        ).items;
        const ok = NODES.every((n) => {
          const s = sessions.find((x) => x.node === n);
          return (
            s?.peers.length === 1 &&
            s.peers[0]!.address === router[n] &&
            s.peers[0]!.asNumber === 65000 &&
            s.peers[0]!.state === 'Established'
          );
        });
        return ok ? true : undefined;
      },
      60_000,
    );
    await until('the router sees 3 sessions Established', () =>
      routerEstablished(fabric, lab.stateDir, underlay, afi) === 3 ? true : undefined,
    );

    const nodes = (
      JSON.parse(podnetOk(['--lab', name, 'get', 'nodes', '-o', 'json'])) as { items: Node[] }
    ).items;
    const subnet = (n: string) => nodes.find((x) => x.metadata.name === n)!.spec.podCIDR!;

    // The router holds every host's pod subnet, with that host as next hop.
    const view = fabric === 'bird' ? birdView(lab.stateDir) : frrView(lab.stateDir, underlay, afi);
    for (const n of NODES) {
      const hop = await until(`router route for ${subnet(n)}`, () => view(subnet(n)));
      assert.equal(hop, hostIP[n], `router next hop for ${n}'s ${subnet(n)}`);
    }

    // Each host's kernel has the other hosts' subnets (proto 80, as routing installs them):
    // the other zone's via the host's router, the same zone's directly or via the router.
    // IPv6 is learnt over the same IPv4 sessions, its next hop the other host's IPv6 address or
    // the router's on the host's segment.
    const subnetOf = (n: string, family: 4 | 6) =>
      nodes
        .find((x) => x.metadata.name === n)!
        .spec.podCIDRs!.find((c) => parseCidr(c).family === family)!;
    const expectPeerRoutes = async (
      family: 4 | 6,
      hostIP: Record<string, string>,
      router: Record<string, string>,
    ) => {
      for (const n of NODES) {
        await until(`${n} routes to the other IPv${family} subnets`, () => {
          type Route = { dst: string; gateway?: string; dev?: string };
          const routes = JSON.parse(
            execFileSync(
              'ip',
              ['-n', `${name}-${n}`, '-j', `-${family}`, 'route', 'show', 'proto', '80'],
              { encoding: 'utf8' },
            ),
          ) as Route[];
          return NODES.filter((m) => m !== n).every((m) => {
            const r = routes.find((x) => x.dst === subnetOf(m, family));
            const hops = router[m] === router[n] ? [hostIP[m], router[n]] : [router[n]];
            return r?.gateway !== undefined && r.dev === 'eth0' && hops.includes(r.gateway);
          })
            ? true
            : undefined;
        });
      }
    };
    if (!v6only) await expectPeerRoutes(4, HOST_IP, ROUTER);
    await expectPeerRoutes(6, HOST_IP6, ROUTER6);

    // Pods on node-1 (zone-1), node-2 (zone-2) and node-3 (zone-1) talk by HTTP, both families.
    const ipv6Of = (pod: string): string => {
      const p = JSON.parse(podnetOk(['--lab', name, 'get', 'pod', pod, '-o', 'json'])) as Pod;
      return p.status!.podIPs!.map((i) => i.ip).find((ip) => parseIP(ip).family === 6)!;
    };
    for (const [from, to] of [
      ['echo-1', 'echo-2'],
      ['echo-2', 'echo-1'],
      ['echo-1', 'echo-3'],
      ['echo-3', 'echo-1'],
    ] as const) {
      if (!v6only) assert.equal((await echo.http(from, to)).pod, to);
      assert.equal((await echoGet(name, from, `[${ipv6Of(to)}]`)).pod, to, `${from} -> ${to}`);
    }
    /** The cross-zone request, in the lab's first family. */
    const echo1To2 = async (): Promise<string> =>
      (v6only
        ? await echoGet(name, 'echo-1', `[${echo.ip('echo-2')}]`)
        : await echo.http('echo-1', 'echo-2')
      ).pod;

    // No pn-vxlan for the cross-zone pod: node-1 reaches echo-2 via its router on eth0.
    const get = inNetns(`${name}-node-1`, ['ip', 'route', 'get', echo.ip('echo-2')]);
    assert.match(get, new RegExp(`via ${router['node-1']!.replace(/\./g, '\\.')} dev eth0`));
    assert.doesNotMatch(get, /pn-vxlan|pn-ipip/);

    // On the underlay's zone-2 bridge the cross-zone request carries the pod addresses, plain.
    const capture = startChild([
      'timeout',
      '20',
      'ip',
      'netns',
      'exec',
      underlay,
      'tcpdump',
      '-i',
      'br2',
      '-n',
      '-l',
      '-c',
      '40',
      `host ${echo.ip('echo-1')} or udp port 8472 or ip proto 4`,
    ]);
    await until('tcpdump to listen', () =>
      capture.stderr().includes('listening on') ? true : undefined,
    );
    assert.equal(await echo1To2(), 'echo-2');
    await new Promise((r) => setTimeout(r, 300));
    capture.kill();
    const lines = (await capture.done).stdout.split('\n').filter((l) => / IP6? /.test(l));
    const esc = (s: string) => s.replace(/\./g, '\\.');
    assert.ok(
      lines.some((l) =>
        new RegExp(
          `IP6? ${esc(echo.ip('echo-1'))}\\.\\d+ > ${esc(echo.ip('echo-2'))}\\.8080: `,
        ).test(l),
      ),
      lines.join('\n'),
    );
    for (const l of lines) assert.doesNotMatch(l, /\.8472[ :]|VXLAN|OTV|ipip|IPIP/, l);
  } finally {
    echo.down();
  }
  // `lab down` stopped the router's daemons and removed their files and namespaces.
  for (const p of fabricPids) {
    assert.notEqual(processStartTime(p.pid), p.startTime, `fabric pid ${p.pid} still running`);
  }
  assert.equal(existsSync(join(LABS_DIR, name)), false);
  assert.doesNotMatch(
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }),
    new RegExp(name),
  );
}

test('bgp lab fabric: --fabric bird peers every host with BIRD in the underlay; cross-zone pods talk natively, unencapsulated', () =>
  fabricLab('bird'));

test('bgp lab fabric: --fabric frr peers every host with FRR bgpd + zebra; cross-zone pods talk natively, unencapsulated', () =>
  fabricLab('frr'));

test('bgp lab fabric: IPv6-only, BIRD: sessions over IPv6 carry the IPv6 pod subnets; proto 80 routes; pods talk across zones over IPv6', () =>
  fabricLab('bird', 'ipv6'));

test('bgp lab fabric: IPv6-only, FRR: sessions over IPv6 carry the IPv6 pod subnets; proto 80 routes; pods talk across zones over IPv6', () =>
  fabricLab('frr', 'ipv6'));

test('bgp lab fabric: --fabric bird without --routing bgp exits 2 with one line', () => {
  const name = testLabName();
  const r = podnet(['lab', 'up', '--name', name, '--fabric', 'bird']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--fabric bird.*--routing bgp/);
  assert.equal(existsSync(join(LABS_DIR, name)), false);
});
