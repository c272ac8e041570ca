// Pod routing in the real lab (`podnet lab up`): a host-gw lab in one zone, and one lab in two
// zones that starts with vxlan and is then moved to auto by its ClusterNetwork. In each, every
// pod reaches every other pod across hosts and zones; with `auto` the kernel holds a plain route to the same-zone
// peer and a VXLAN route to the other zone, and the wire (tcpdump on node-1's eth0) shows which
// pings are encapsulated; with `vxlan` large packets and a 10 MB TCP stream cross zones intact.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { podnetOk, sweepStaleLabs, until } from '../helpers/lab.js';
import { patchClusterNetwork } from '../helpers/cluster-network.js';
import { EchoLab, capture, podListener } from '../helpers/echo-lab.js';
import type { Node } from '../../src/api/types.js';

/** A Node's pod subnet. */
function podCIDR(lab: EchoLab, node: string): string {
  return (JSON.parse(podnetOk(['--lab', lab.name, 'get', 'node', node, '-o', 'json'])) as Node).spec
    .podCIDR!;
}

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

describe('routing lab: host-gw, 1 zone', () => {
  const lab = new EchoLab(['--backend', 'host-gw', '--zones', '1']);
  before(() => lab.up());
  after(() => lab.down());

  test('routing lab: host-gw, 1 zone, 3 nodes: every pod reaches every other pod by HTTP', () =>
    lab.allPairs());
});

describe('routing lab: 2 zones, vxlan then auto', () => {
  const lab = new EchoLab(['--backend', 'vxlan', '--zones', '2']);
  before(() => lab.up());
  after(() => lab.down());

  describe('routing lab: vxlan, 2 zones', () => {
    test('routing lab: vxlan, 2 zones, 3 nodes: every pod reaches every other pod by HTTP', () =>
      lab.allPairs());

    test('routing lab: vxlan: a ping with a 1400-byte payload crosses zones', () => {
      // node-1 is in zone 1, node-2 in zone 2.
      const r = lab.ping('echo-1', 'echo-2', ['-s', '1400']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1408 bytes from/);
      assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
    });

    test('routing lab: vxlan: 10 MB over TCP cross zones byte for byte', async () => {
      const port = '9000';
      // The receiver counts what arrives on the connection (`-e` hands it the socket as stdin;
      // busybox nc leaves stderr alone, so the count comes out of lab exec's stderr).
      const receiver = await podListener(lab.name, 'echo-2', port, 'wc -c >&2', 30);
      // Retried until the path carries it.
      await until('the 10 MB send to succeed', () => {
        const r = lab.exec('echo-1', [
          'timeout',
          '20',
          'sh',
          '-c',
          `dd if=/dev/zero bs=1M count=10 2>/dev/null | busybox nc ${lab.ip('echo-2')} ${port}`,
        ]);
        return r.status === 0 ? true : undefined;
      });
      const { code, stderr } = await receiver.done;
      assert.equal(code, 0, stderr);
      assert.equal(stderr.trim(), '10485760');
    });
  });

  describe('routing lab: auto, 2 zones', () => {
    /** podnet's route (proto 80) in `node`'s namespace to `cidr`, if any. */
    const routeTo = (node: string, cidr: string): { gateway?: string; dev?: string } | undefined =>
      (
        JSON.parse(
          execFileSync('ip', ['-n', `${lab.name}-${node}`, '-j', 'route', 'show', 'proto', '80'], {
            encoding: 'utf8',
          }),
        ) as { dst: string; gateway?: string; dev?: string }[]
      ).find((r) => r.dst === cidr);
    before(async () => {
      patchClusterNetwork(lab.name, { backend: 'auto' });
      // The zone peers (node-1 and node-3) stop tunnelling to each other: the move is done.
      const cidr1 = podCIDR(lab, 'node-1');
      const cidr3 = podCIDR(lab, 'node-3');
      await until('node-1 and node-3 to route to each other plainly', () =>
        routeTo('node-1', cidr3)?.dev === 'eth0' && routeTo('node-3', cidr1)?.dev === 'eth0'
          ? true
          : undefined,
      );
    });

    test('routing lab: auto, 2 zones, 3 nodes: every pod reaches every other pod by HTTP', () =>
      lab.allPairs());

    test('routing lab: auto: node-1 routes to its zone peer node-3 plainly via eth0 and to node-2 (other zone) through pn-vxlan', async () => {
      const [cidr2, cidr3] = [podCIDR(lab, 'node-2'), podCIDR(lab, 'node-3')];
      const routes = await until('routes to both peers', () => {
        const to2 = routeTo('node-1', cidr2);
        const to3 = routeTo('node-1', cidr3);
        return to2 && to3 ? { to2, to3 } : undefined;
      });
      assert.equal(routes.to3.gateway, '172.31.1.3');
      assert.equal(routes.to3.dev, 'eth0');
      assert.equal(routes.to2.dev, 'pn-vxlan');
    });

    test('routing lab: auto: on node-1 eth0 a same-zone pod ping is plain ICMP, a cross-zone one is UDP 8472', async () => {
      const ns = `${lab.name}-node-1`;
      const ping = (to: string) => () => {
        const r = lab.ping('echo-1', to);
        assert.equal(r.status, 0, r.stdout + r.stderr);
      };
      const [ip1, ip2, ip3] = ['echo-1', 'echo-2', 'echo-3'].map((p) =>
        lab.ip(p).replace(/\./g, '\\.'),
      );
      // Same zone (node-3): the pod IPs themselves are on the wire, and no VXLAN goes to node-3.
      const sameZone = await capture(
        ns,
        `(icmp and host ${lab.ip('echo-3')}) or (udp port 8472 and host 172.31.1.3)`,
        ping('echo-3'),
      );
      assert.ok(sameZone.length >= 6, sameZone.join('\n'));
      for (const line of sameZone) {
        assert.match(
          line,
          new RegExp(`IP (${ip1} > ${ip3}|${ip3} > ${ip1}): ICMP echo (request|reply)`),
          line,
        );
      }
      // Other zone (node-2): the ping leaves as UDP 8472 between the hosts; no bare pod ICMP.
      const otherZone = await capture(
        ns,
        `(icmp and host ${lab.ip('echo-2')}) or (udp port 8472 and host 172.31.2.2)`,
        ping('echo-2'),
      );
      assert.ok(otherZone.length >= 6, otherZone.join('\n'));
      for (const line of otherZone) {
        assert.match(line, /IP 172\.31\.\d+\.\d+\.\d+ > 172\.31\.\d+\.\d+\.\d+: /, line);
        assert.match(line, /(172\.31\.\d+\.\d+\.8472[ :]).*(OTV|UDP|VXLAN)/, line);
        assert.doesNotMatch(line, new RegExp(`${ip1}|${ip2}`), line);
      }
    });
  });
});
