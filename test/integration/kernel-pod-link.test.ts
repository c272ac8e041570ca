// podnet-pod-link configures a pod's end in a namespace given by path, as containerd names
// them, and answers each request with exactly its own outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PodLinkSession } from '../../src/kernel/pod-link-session.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

function ip(netns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', netns, ...args], { encoding: 'utf8' });
}

test('kernel-pod-link: the pod end up with its /32 and routes; failures named, in order', async () => {
  sweepStaleNamespaces();
  const netns = uniqueName('pod');
  execFileSync('ip', ['netns', 'add', netns]);
  const links = new PodLinkSession();
  try {
    ip(netns, 'link', 'add', 'host0', 'type', 'veth', 'peer', 'name', 'eth0');
    const end = { netns: `/run/netns/${netns}`, ifname: 'eth0', gateway: '10.244.1.1' };
    const results = await Promise.allSettled([
      links.configure({ ...end, podIP: '10.244.1.5' }),
      links.configure({ ...end, podIP: '10.244.1.5' }),
      links.configure({ ...end, ifname: 'nosuch0', podIP: '10.244.1.6' }),
      links.configure({ ...end, netns: `/run/netns/${netns}-gone`, podIP: '10.244.1.7' }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected', 'rejected'],
    );
    const reasons = results.slice(1).map((r) => String((r as PromiseRejectedResult).reason));
    assert.match(reasons[0]!, /addr add: File exists/);
    assert.match(reasons[1]!, /link nosuch0: No such device/);
    assert.match(reasons[2]!, /open namespace: No such file or directory/);

    assert.match(ip(netns, '-o', 'link', 'show', 'dev', 'eth0'), /[<,]UP[,>]/);
    assert.match(ip(netns, '-o', 'addr', 'show', 'dev', 'eth0'), /inet 10\.244\.1\.5\/32 /);
    const routes = ip(netns, 'route', 'show');
    assert.match(routes, /^default via 10\.244\.1\.1 dev eth0/m);
    assert.match(routes, /^10\.244\.1\.1 dev eth0 scope link/m);
  } finally {
    links.close();
    deleteNamespace(netns);
  }
});
