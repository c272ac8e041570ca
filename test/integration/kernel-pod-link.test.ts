// podnet-pod-link wires a pod's veth in one request: the pair made with its pod end straight in
// a namespace given by path (as containerd names them), both ends configured, each request
// answered with exactly its own outcome, and a failure leaving no half-made veth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PodLinkSession } from '../../src/kernel/pod-link-session.js';
import { InterfaceExistsError } from '../../src/kernel/pod-veth.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

function ip(netns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', netns, ...args], { encoding: 'utf8' });
}

test('kernel-pod-link: one request makes the pair and configures both ends; failures leave nothing', async () => {
  sweepStaleNamespaces();
  const host = uniqueName('host');
  const pod = uniqueName('pod');
  for (const ns of [host, pod]) execFileSync('ip', ['netns', 'add', ns]);
  const links = new PodLinkSession(host);
  try {
    const veth = {
      netns: `/run/netns/${pod}`,
      ifname: 'eth0',
      mtu: 1450,
      hostVeth: 'pn0123456789a',
      hostMac: '02:01:02:03:04:05',
      podMac: '0a:58:0a:f4:01:05',
      podIP: '10.244.1.5',
      gateway: '10.244.1.1',
      podIPv6: 'fd00:10:244:1::5',
    };
    const other = { ...veth, hostVeth: 'pn0123456789b', hostMac: '02:01:02:03:04:06' };
    const results = await Promise.allSettled([
      links.wire(veth),
      // The pod has its eth0 now: the CNI spec's "interface exists", and nothing is made.
      links.wire({ ...other, podIP: '10.244.1.6' }),
      // The pair is made, then the host route to 10.244.1.5 exists already: all of it goes.
      links.wire({ ...other, ifname: 'eth1' }),
      links.wire({ ...other, netns: `/run/netns/${pod}-gone`, podIP: '10.244.1.7' }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected', 'rejected'],
    );
    const reasons = results.slice(1).map((r) => (r as PromiseRejectedResult).reason as Error);
    assert.ok(reasons[0] instanceof InterfaceExistsError);
    assert.match(reasons[0].message, /interface eth0 already exists in \/run\/netns\//);
    assert.match(reasons[1]!.message, /host route add: File exists/);
    assert.match(reasons[2]!.message, /open namespace: No such file or directory/);

    // No half-made veth: the host has only the first pair's end, the pod only eth0.
    const hostLinks = ip(host, '-o', 'link', 'show');
    assert.doesNotMatch(hostLinks, /pn0123456789b/);
    assert.doesNotMatch(ip(pod, '-o', 'link', 'show'), /eth1/);

    // The host end: up, MTU and MAC, the gateway and the routes to the pod marked proto 80,
    // the link-local IPv6 gateway without DAD, a permanent neighbour for the pod, no RAs.
    const hostEnd = ip(host, '-o', 'link', 'show', 'dev', 'pn0123456789a');
    assert.match(hostEnd, /[<,]UP[,>].* mtu 1450 .*link\/ether 02:01:02:03:04:05 /);
    const hostAddrs = ip(host, '-o', 'addr', 'show', 'dev', 'pn0123456789a');
    assert.match(hostAddrs, /inet 10\.244\.1\.1\/32 /);
    assert.match(hostAddrs, /inet6 fe80::1\/64 scope link nodad/);
    assert.match(
      ip(host, 'route', 'show'),
      /^10\.244\.1\.5 dev pn0123456789a proto 80 scope link/m,
    );
    assert.match(ip(host, '-6', 'route', 'show'), /^fd00:10:244:1::5 dev pn0123456789a proto 80 /m);
    assert.match(
      ip(host, '-6', 'neigh', 'show', 'dev', 'pn0123456789a'),
      /^fd00:10:244:1::5 lladdr 0a:58:0a:f4:01:05 PERMANENT/m,
    );
    const acceptRA = execFileSync(
      'nsenter',
      [`--net=/run/netns/${host}`, 'cat', '/proc/sys/net/ipv6/conf/pn0123456789a/accept_ra'],
      { encoding: 'utf8' },
    );
    assert.equal(acceptRA.trim(), '0');

    // The pod end: made in the pod's namespace, up, its addresses and routes via the gateways.
    assert.match(
      ip(pod, '-o', 'link', 'show', 'dev', 'eth0'),
      /[<,]UP[,>].* mtu 1450 .*link\/ether 0a:58:0a:f4:01:05 /,
    );
    const podAddrs = ip(pod, '-o', 'addr', 'show', 'dev', 'eth0');
    assert.match(podAddrs, /inet 10\.244\.1\.5\/32 /);
    assert.match(podAddrs, /inet6 fd00:10:244:1::5\/128 scope global nodad/);
    const routes = ip(pod, 'route', 'show');
    assert.match(routes, /^default via 10\.244\.1\.1 dev eth0/m);
    assert.match(routes, /^10\.244\.1\.1 dev eth0 scope link/m);
    assert.match(ip(pod, '-6', 'route', 'show'), /^default via fe80::1 dev eth0 /m);
    assert.match(
      ip(pod, '-6', 'neigh', 'show', 'dev', 'eth0'),
      /^fe80::1 lladdr 02:01:02:03:04:05 PERMANENT/m,
    );
    // Nothing of the pair ever showed in this process's own namespace.
    assert.doesNotMatch(readFileSync('/proc/net/dev', 'utf8'), /pn0123456789/);
  } finally {
    links.close();
    deleteNamespace(host);
    deleteNamespace(pod);
  }
});
