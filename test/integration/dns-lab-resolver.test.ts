// The lab's upstream resolver design on a small topology of its own: an underlay namespace
// (the zone router, with dnsmasq on RESOLVER_IP), a host behind it, and a DNS pod behind the
// host running podnet's server with the resolver as its upstream. The resolver's replies reach
// the pod by source routing alone: the underlay keeps no route to pods for anything else.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EXTERNAL_NAMES,
  RESOLVER_IP,
  resolverArgv,
  resolverRouteBatch,
} from '../../src/lab/cluster-dns.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';
import { fixtureObjects } from '../helpers/dns-fixtures.js';
import { digIn, spawnDnsServe } from '../helpers/dns-netns.js';

const underlay = uniqueName('und');
const host = uniqueName('host');
const podNs = uniqueName('pod');
const dir = mkdtempSync(join(tmpdir(), 'podnet-dns-lab-'));
const children: ChildProcess[] = [];

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input });
}

/** A veth `dev` in `ns` whose other end is `eth0` in `peerNs`. */
function vethTo(ns: string, dev: string, peerNs: string): void {
  sh(['ip', '-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peerNs]);
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  sweepStaleNamespaces();
  for (const ns of [underlay, host, podNs]) {
    sh(['ip', 'netns', 'add', ns]);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  for (const ns of [underlay, host]) {
    sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }
  // underlay <-> host (the zone's L2), host <-> pod (the pod's veth)
  vethTo(underlay, 'zone0', host);
  vethTo(host, 'pod0', podNs);
  sh(
    ['ip', '-batch', '-', '-n', underlay],
    'addr add 172.31.0.254/24 dev zone0\nlink set zone0 up\n',
  );
  sh(
    ['ip', '-batch', '-', '-n', host],
    [
      'addr add 172.31.0.1/24 dev eth0',
      'link set eth0 up',
      'route add default via 172.31.0.254',
      'addr add 10.244.1.1/32 dev pod0',
      'link set pod0 up',
      'route add 10.244.1.5/32 dev pod0',
      '',
    ].join('\n'),
  );
  sh(
    ['ip', '-batch', '-', '-n', podNs],
    [
      'addr add 10.244.1.5/24 dev eth0',
      'link set eth0 up',
      'route add 10.244.1.1/32 dev eth0',
      'route replace default via 10.244.1.1 dev eth0 onlink',
      '',
    ].join('\n'),
  );
  // What the lab hook does in its underlay: the resolver's address and its reply routes.
  sh(
    ['ip', '-batch', '-', '-n', underlay],
    `${resolverRouteBatch([{ podCIDR: '10.244.1.0/24', nodeIP: '172.31.0.1' }]).join('\n')}\n`,
  );
  children.push(
    spawn('ip', ['netns', 'exec', underlay, ...resolverArgv(join(dir, 'dnsmasq.pid'))], {
      stdio: 'ignore',
    }),
  );
  // The DNS pod: podnet's server with the underlay resolver as its upstream.
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(fixtureObjects()));
  children.push(spawnDnsServe(podNs, join(dir, 'objects.json'), `${RESOLVER_IP}:53`));
  await until(() => {
    try {
      return /status: NOERROR/.test(digIn(podNs, '127.0.0.1', ['www.example.test']));
    } catch {
      return false;
    }
  }, 20_000);
});

after(() => {
  for (const c of children) c.kill('SIGTERM');
  for (const ns of [podNs, host, underlay]) deleteNamespace(ns);
  rmSync(dir, { recursive: true, force: true });
});

test('dns lab resolver: a pod reaches the underlay resolver; it knows only made-up names', () => {
  const www = digIn(podNs, RESOLVER_IP, ['www.example.test']);
  assert.match(
    www,
    new RegExp(`IN\\s+A\\s+${EXTERNAL_NAMES['www.example.test']!.replace(/\./g, '\\.')}`),
  );
  assert.match(digIn(podNs, RESOLVER_IP, ['nothing.example.test']), /status: NXDOMAIN/);
  // never forwards: a real name is refused, not resolved
  assert.match(digIn(podNs, RESOLVER_IP, ['debian.org']), /status: REFUSED/);
});

test('dns lab resolver: the DNS pod forwards external names to it and serves cluster names', () => {
  const out = digIn(podNs, '127.0.0.1', ['api.example.test']);
  assert.match(out, /status: NOERROR/);
  assert.match(out, /192\.0\.2\.81/);
  assert.match(
    digIn(podNs, '127.0.0.1', ['my-svc.my-namespace.svc.cluster.local']),
    /10\.96\.0\.20/,
  );
});

test('dns lab resolver: only the resolver source address may route to pods', () => {
  const main = sh(['ip', '-n', underlay, 'route', 'show', 'table', 'main']);
  assert.doesNotMatch(main, /10\.244\./);
  const viaResolver = sh(['ip', '-n', underlay, 'route', 'get', '10.244.1.5', 'from', RESOLVER_IP]);
  assert.match(viaResolver, /via 172\.31\.0\.1/);
});
