// The top-of-rack pattern: a real router (BIRD, or FRR with zebra) between two zones peers eBGP
// with every host;
// hosts learn each other's pod subnets through it, install them, and cross-zone pod traffic
// goes through the router natively — captured on the router as plain, unencapsulated ICMP.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BgpNet, inNs, until } from '../helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { renderBirdFabric, renderFrrFabric, type FabricSpec } from '../../src/bgp/fabric.js';

before(() => {
  sweepStaleNamespaces();
});

const subnet = (i: number) => `10.244.${i + 1}.0/24`;
const podIP = (i: number) => `10.244.${i + 1}.1`;

async function fabric(router: 'bird' | 'frr'): Promise<void> {
  const net = new BgpNet(0, [2, 1]);
  try {
    const hosts = [0, 1, 2];
    const routerAddress = (i: number) => net.address(i).replace(/\.\d+$/, '.254');
    const spec: FabricSpec = {
      routerId: '172.31.1.254',
      routerAs: 65000,
      clusterAs: 64512,
      holdTime: 9,
      connectRetryTime: 1,
      hosts: hosts.map((i) => ({
        name: `host${i}`,
        address: net.address(i),
        routerAddress: routerAddress(i),
      })),
    };
    /** The router's own view of a subnet: its next hop. */
    let routerView: (prefix: string) => string | undefined;
    if (router === 'bird') {
      const bird = net.bird(net.router, renderBirdFabric(spec), 'fabric');
      routerView = (prefix) => /via (\S+) on/.exec(bird.ctl('show', 'route', 'for', prefix))?.[1];
    } else {
      const frr = await net.frr(net.router, renderFrrFabric(spec), { name: 'fabric', zebra: true });
      routerView = (prefix) => {
        const json = JSON.parse(frr.vtysh(`show bgp ipv4 unicast ${prefix} json`)) as {
          paths?: { nexthops: { ip: string }[] }[];
        };
        return json.paths?.[0]?.nexthops[0]?.ip;
      };
    }
    const speakers = [];
    for (const i of hosts) {
      net.addPodAddress(i, podIP(i));
      speakers.push(
        await net.speaker(i, {
          asNumber: 64512,
          bgpId: net.address(i),
          holdTime: 9,
          connectRetryTime: 1,
          installRoutes: true,
          localPrefixes: [subnet(i)],
          peers: [{ address: routerAddress(i), asNumber: 65000 }],
        }),
      );
    }
    // Every host learns the other subnets from the router, and installs them (proto 80).
    for (const i of hosts) {
      await until(`host ${i} routes`, () => {
        const routes = execFileSync('ip', ['-n', net.hosts[i]!, 'route', 'show', 'proto', '80'], {
          encoding: 'utf8',
        });
        return hosts.filter((j) => j !== i).every((j) => routes.includes(subnet(j)));
      });
    }
    // Cross-zone: host 0 reaches host 2's subnet through the router of its zone.
    const r02 = execFileSync('ip', ['-n', net.hosts[0]!, 'route', 'show', subnet(2)], {
      encoding: 'utf8',
    });
    assert.match(r02, /via 172\.31\.1\.254 dev eth0 proto 80/);
    // The router's own view: each host's subnet with that host as next hop.
    for (const i of hosts) {
      assert.equal(
        await until(`router has ${subnet(i)}`, () => routerView(subnet(i))),
        net.address(i),
      );
    }
    // A ping from a pod address in zone 1 to one in zone 2, captured on the router's zone-2
    // side: plain ICMP between the pod addresses (no VXLAN/IP-in-IP header around it).
    const capture = net.spawn(net.router, [
      'timeout',
      '15',
      'tcpdump',
      '-l',
      '-n',
      '-i',
      'eth2',
      '-c',
      '1',
      'icmp',
      'and',
      'src',
      podIP(0),
    ]);
    await until('tcpdump listening', () => capture.output().includes('listening on'));
    inNs(net.hosts[0]!, ['ping', '-c', '3', '-W', '2', '-I', podIP(0), podIP(2)]);
    await until(
      'captured',
      () => /IP 10\.244\.1\.1 > 10\.244\.3\.1: ICMP echo request/.test(capture.output()),
      10000,
    );
    assert.doesNotMatch(capture.output(), /VXLAN|ipip|proto 4|udp 8472/i);
    assert.equal(speakers.length, 3);
  } finally {
    await net.close();
  }
}

test('bgp fabric: BIRD between two zones carries pod routes natively, unencapsulated', () =>
  fabric('bird'));

test('bgp fabric: FRR (bgpd + zebra) between two zones does the same', () => fabric('frr'));
