// `podnet lab up --routing bgp --fabric bird|frr`: a real router (BIRD 2, or FRR's bgpd with
// zebra) in the underlay namespace peers with every host; hosts learn each other's pod subnets
// through it, pods in different zones talk through it natively (a capture on the underlay shows
// the pod addresses themselves, no VXLAN or IP-in-IP), and `lab down` leaves nothing behind.
// The lab is dual-stack: the same sessions carry IPv6 unicast (multiprotocol over IPv4), every
// host installs the others' IPv6 pod subnets with proto 80, and pods talk over IPv6 too. On an
// IPv6-only lab the sessions run over IPv6 (TCP between the segment's IPv6 addresses) and carry
// IPv6 alone, and the same holds with no IPv4 in the pod network. There, with BIRD, the
// sessions are then signed with TCP-MD5 over IPv6 (BIRD's `password`, the BGPPeers'
// passwordFile): they come back keyed, and a wrong key gets none.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BGPPeer, Node, Pod } from '../../src/api/types.js';
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

/** The hosts' sessions as podnet reports them. */
function bgpSessions(name: string): NodeBgpStatus[] {
  return (
    JSON.parse(podnetOk(['--lab', name, 'get', 'bgp', '-o', 'json'])) as ListDocument<NodeBgpStatus>
  ).items;
}

/**
 * TCP-MD5 over IPv6 transport: BIRD's hosts template and every zone's BGPPeer given one key,
 * every session comes back Established after the key; a wrong key in the file takes them down
 * and none comes back (the kernel drops the unsigned or mis-signed segments).
 */
async function keyedOverIPv6(name: string, labDir: string, underlay: string): Promise<void> {
  const KEY = 'fabric ipv6 secret';
  const birdConf = join(labDir, 'fabric', 'bird.conf');
  const keyFile = join(labDir, 'bgp-fabric.key');
  writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
  writeFileSync(
    birdConf,
    readFileSync(birdConf, 'utf8').replace(
      'template bgp podnet_host {',
      `template bgp podnet_host {\n  password "${KEY}";`,
    ),
  );
  // SYNs on the zone-1 bridge from now on (IPv6, no extension header: TCP flags at byte 53).
  const capture = startChild([
    'timeout',
    '90',
    'ip',
    'netns',
    'exec',
    underlay,
    'tcpdump',
    '-i',
    'br1',
    '-n',
    '-l',
    '-v',
    '-c',
    '200',
    'ip6 and tcp port 179 and ip6[53] & 2 != 0',
  ]);
  await until('tcpdump to listen', () =>
    capture.stderr().includes('listening on') ? true : undefined,
  );
  execFileSync('birdc', ['-s', join(labDir, 'fabric', 'bird.ctl'), 'configure'], {
    encoding: 'utf8',
  });
  const keyedAt = Date.now();
  for (const zone of ['zone-1', 'zone-2']) {
    const peer = JSON.parse(
      podnetOk(['--lab', name, 'get', 'bgppeer', `fabric-${zone}`, '-o', 'json']),
    ) as BGPPeer;
    assert.ok(peer.spec.peerIP.includes(':'), `fabric-${zone} is an IPv6 peer`);
    peer.spec.passwordFile = keyFile;
    podnetOk(['--lab', name, 'apply', '-f', '-'], { input: JSON.stringify(peer) });
  }
  await until(
    'every host Established with its router again, keyed, over IPv6',
    () =>
      routerEstablished('bird', labDir, underlay, 'ipv6') === 3 &&
      NODES.every((n) => {
        const s = bgpSessions(name).find((x) => x.node === n)?.peers[0];
        return (
          s?.state === 'Established' &&
          s.address === ROUTER6[n] &&
          Date.parse(s.establishedSince ?? '') >= keyedAt - 1000
        );
      })
        ? true
        : undefined,
    60_000,
  );
  // The kernel signs them: the new sessions' SYNs on the wire carry the MD5 option.
  capture.kill();
  const syns = (await capture.done).stdout;
  assert.match(syns, /md5/i, `a keyed SYN of a new session: ${syns}`);

  writeFileSync(keyFile, 'not the fabric key\n');
  await until('the keyed sessions to go down', () =>
    routerEstablished('bird', labDir, underlay, 'ipv6') === 0 ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(routerEstablished('bird', labDir, underlay, 'ipv6'), 0, 'no session, wrong key');
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

    if (v6only && fabric === 'bird') await keyedOverIPv6(name, lab.stateDir, underlay);
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

test('bgp lab fabric: IPv6-only, BIRD: sessions over IPv6 carry the IPv6 pod subnets; proto 80 routes; pods talk across zones over IPv6; TCP-MD5 keys them', () =>
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
