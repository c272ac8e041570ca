// `encryption: wireguard` over backend auto (`lab up --backend auto --encryption wireguard`):
// auto alone reaches a same-zone peer by a plain route, in the clear; encrypted, every peer —
// in the same zone as in another — is reached through pn-wg, and node-1's underlay carries
// nothing but UDP to port 51820 between hosts. The lab is dual-stack: each peer's allowed IPs
// are both its pod subnets, so IPv6 pods are encrypted too, over the same IPv4 endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Pod } from '../../src/api/types.js';
import { parseIP } from '../../src/net/index.js';
import { echoLabForFile, startCapture } from '../helpers/echo-lab.js';
import { echoGet, podnetOk } from '../helpers/lab.js';
import { hostNs } from '../helpers/trace-lab.js';

const echo = echoLabForFile([
  ...['--backend', 'auto', '--encryption', 'wireguard', '--zones', '2'],
  ...['--ip-family', 'dual'],
]);

test('encryption over auto: every pod reaches every other pod by HTTP', () => echo.allPairs());

test('encryption over auto: the same-zone peer (node-3) and the other-zone one (node-2) are both behind pn-wg', () => {
  for (const family of ['-4', '-6']) {
    const routes = JSON.parse(
      execFileSync(
        'ip',
        ['-n', hostNs(echo.name, 'node-1'), '-j', family, 'route', 'show', 'proto', '80'],
        { encoding: 'utf8' },
      ),
    ) as { dst: string; gateway?: string; dev: string }[];
    const peers = routes.filter((r) => r.gateway !== undefined);
    assert.equal(peers.length, 2, JSON.stringify(routes));
    for (const r of peers) assert.equal(r.dev, 'pn-wg', JSON.stringify(r));
  }
});

test('encryption over auto: on node-1 eth0 a same-zone HTTP exchange is only UDP 51820', async () => {
  const td = await startCapture(hostNs(echo.name, 'node-1'), 'eth0', 'host 172.31.1.3');
  const answer = await echo.http('echo-1', 'echo-3');
  assert.equal(answer.pod, 'echo-3');
  const stdout = await td.stop();
  const packets = stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d+ /.test(l));
  const ip = packets.filter((l) => / IP /.test(l));
  assert.ok(ip.length >= 4, stdout);
  for (const line of ip) {
    assert.match(line, /IP 172\.31\.1\.\d+\.51820 > 172\.31\.1\.\d+\.51820: UDP/, line);
  }
  assert.doesNotMatch(stdout, /10\.244\.\d+\.\d+/);
});

test('encryption over auto: an IPv6 exchange between pods rides the same IPv4 WireGuard endpoints', async () => {
  const echo3 = JSON.parse(
    podnetOk(['--lab', echo.name, 'get', 'pod', 'echo-3', '-o', 'json']),
  ) as Pod;
  const ipv6 = echo3.status!.podIPs!.map((p) => p.ip).find((ip) => parseIP(ip).family === 6)!;
  const td = await startCapture(
    hostNs(echo.name, 'node-1'),
    'eth0',
    'host 172.31.1.3 or host fd00:172:31:1::3 and not icmp6',
  );
  assert.equal((await echoGet(echo.name, 'echo-1', `[${ipv6}]`)).pod, 'echo-3');
  const stdout = await td.stop();
  const packets = stdout.split('\n').filter((l) => / IP6? /.test(l));
  assert.ok(packets.length >= 4, stdout);
  for (const line of packets) {
    assert.match(line, /IP 172\.31\.1\.\d+\.51820 > 172\.31\.1\.\d+\.51820: UDP/, line);
  }
  assert.doesNotMatch(stdout, /fd00:10:244:/);
});
