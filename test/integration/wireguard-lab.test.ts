// The WireGuard backend in the lab (`lab up --backend wireguard --zones 2`; this kernel has no
// WireGuard, so every host runs wireguard-go): pods on three hosts in two zones talk over
// pn-wg; the underlay carries only UDP to port 51820 between the hosts, never a pod address or
// payload; a key rotated under a running connection leaves it intact while a peer holding the
// stale key delivers nothing; a host removed and added is a peer removed and added everywhere;
// an agent restart leaves the device as it was; Services, NetworkPolicy and trace work over the
// encrypted path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSocketDir } from '../../src/kernel/wireguard.js';
import { parseWireguardDump } from '../../src/kernel/wireguard-dump.js';
import type { ActualWireguard } from '../../src/kernel/netobjects.js';
import type { EndpointSlice } from '../../src/api/types.js';
import { wireguardSocketDir } from '../../src/lab/plan.js';
import { findProcess } from '../../src/lab/supervisor.js';
import { isRunning, signalGroup } from '../../src/process/daemons.js';
import { echoPodYaml, podnet, podnetOk, until } from '../helpers/lab.js';
import { echoLabForFile, podListener, podSender, startCapture } from '../helpers/echo-lab.js';
import { hostNs, traceJson } from '../helpers/trace-lab.js';

const echo = echoLabForFile(['--backend', 'wireguard', '--zones', '2']);

function host(node: string) {
  return echo.lab.hosts.find((h) => h.name === node)!;
}

/** `wg` inside a host, talking to that host's own wireguard-go. */
function wg(node: string, args: string[]): string {
  const argv = withSocketDir(['wg', ...args], wireguardSocketDir(host(node).stateDir));
  return execFileSync('ip', ['netns', 'exec', hostNs(echo.name, node), ...argv], {
    encoding: 'utf8',
  });
}

function dump(node: string): ActualWireguard {
  return parseWireguardDump(wg(node, ['show', 'pn-wg', 'dump']));
}

function publishedKey(node: string): string {
  const n = JSON.parse(podnetOk(['--lab', echo.name, 'get', 'node', node, '-o', 'json'])) as {
    metadata: { annotations?: Record<string, string> };
  };
  return n.metadata.annotations?.['podnet.io/wireguard-public-key'] ?? '';
}

function peerKeys(node: string): string[] {
  return dump(node)
    .peers.map((p) => p.publicKey)
    .sort();
}

/** Streams `lines` numbered lines, one every 100 ms, from echo-1 to echo-2; resolves with what echo-2 got. */
async function slowStream(port: string, lines: number): Promise<() => Promise<string>> {
  // The connection is the script's stdin (nc's own stdin is closed, which would end it).
  const receiver = await podListener(echo.name, 'echo-2', port, 'cat >&2', 60);
  const sender = podSender(
    echo.name,
    'echo-1',
    `i=0; while [ $i -lt ${lines} ]; do i=$((i+1)); echo line-$i; sleep 0.1; done | busybox nc ${echo.ip('echo-2')} ${port}`,
  );
  return async () => {
    const sent = await sender.done;
    assert.equal(sent.code, 0, sent.stderr);
    const got = await receiver.done;
    return got.stderr;
  };
}

test('wireguard: every pod reaches every other pod by HTTP, across hosts and zones', () =>
  echo.allPairs());

test('wireguard: 10 MB over TCP across zones arrive byte for byte', () =>
  echo.sendTenMegabytes('echo-1', 'echo-2'));

test('wireguard: the underlay sees only UDP to port 51820 between hosts, no pod address or payload', async () => {
  const marker = 'podnet-cleartext-marker';
  const td = await startCapture(
    hostNs(echo.name, 'node-1'),
    'eth0',
    'ip and not host 172.31.1.254',
    ['-A'],
  );
  for (const to of ['echo-2', 'echo-3']) {
    const r = echo.exec('echo-1', [
      'timeout',
      '5',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${echo.ip(to)}:8080/${marker}`,
    ]);
    assert.equal(r.status, 0, r.stderr);
  }
  const stdout = await td.stop();
  const packets = stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d+ IP /.test(l));
  assert.ok(packets.length >= 8, stdout);
  for (const line of packets) {
    assert.match(line, /IP 172\.31\.\d+\.\d+\.51820 > 172\.31\.\d+\.\d+\.51820: UDP/, line);
  }
  assert.doesNotMatch(stdout, /10\.244\.\d+\.\d+/);
  assert.ok(!stdout.includes(marker), 'the HTTP request crossed the underlay in the clear');
});

test('wireguard: a Service and trace work over the encrypted path', async () => {
  // A pod of its own on node-2 (another zone), behind a Service.
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], {
    input: [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: web-2, namespace: default, labels: {app: wg-web}}',
      'spec:',
      '  nodeName: node-2',
      '  containers:',
      "    - {name: echo, command: [podnet, serve-echo, --port, '8080']}",
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: wg-web, namespace: default}',
      'spec:',
      '  selector: {app: wg-web}',
      '  ports: [{port: 80, targetPort: 8080}]',
      '',
    ].join('\n'),
  });
  const svc = JSON.parse(
    podnetOk(['--lab', echo.name, 'get', 'service', 'wg-web', '-o', 'json']),
  ) as { spec: { clusterIP: string } };
  const answer = await until(
    'the Service to answer',
    () => {
      const r = echo.exec('echo-1', [
        'timeout',
        '3',
        'busybox',
        'wget',
        '-q',
        '-O',
        '-',
        `http://${svc.spec.clusterIP}/`,
      ]);
      return r.status === 0 ? (JSON.parse(r.stdout) as { pod: string }) : undefined;
    },
    60_000,
  );
  assert.equal(answer.pod, 'web-2');
  const t = traceJson(echo.name, ['echo-1', echo.ip('echo-2')]);
  assert.equal(t.status, 0, t.out.verdict.text);
  const hops = t.out.hops.filter((h) => h.step === 'encapsulation');
  assert.deepEqual(
    hops.map((h) => h.detail),
    [
      'wireguard pn-wg: encrypted to node-2 at 172.31.2.2:51820, MTU 1440',
      'wireguard pn-wg: encrypted to node-1 at 172.31.1.1:51820, MTU 1440',
    ],
  );
});

test('wireguard: NetworkPolicy holds over the encrypted path, judged after decryption', async () => {
  // web-2 and wg-web come from the test above; the receiving host judges the decrypted packet.
  const svc = JSON.parse(
    podnetOk(['--lab', echo.name, 'get', 'service', 'wg-web', '-o', 'json']),
  ) as { spec: { clusterIP: string } };
  const get = () =>
    echo.exec('echo-1', [
      'timeout',
      '2',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${svc.spec.clusterIP}/`,
    ]).status === 0;
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], {
    input: [
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {name: wg-deny, namespace: default}',
      'spec:',
      '  podSelector: {matchLabels: {app: wg-web}}',
      '  policyTypes: [Ingress]',
      '',
    ].join('\n'),
  });
  try {
    await until('the policy to shut web-2', () => (get() ? undefined : true), 30_000);
    const t = traceJson(echo.name, ['echo-1', `${svc.spec.clusterIP}:80`]);
    assert.equal(t.status, 1);
    assert.match(t.out.verdict.text, /denied by default\/wg-deny \(ingress of web-2\)/);
  } finally {
    podnet(['--lab', echo.name, 'delete', 'networkpolicy', 'wg-deny']);
  }
  await until('web-2 to answer again', () => (get() ? true : undefined), 30_000);
});

test('wireguard: plan shows wireguard-go and a handshake age for each peer', () => {
  const out = podnetOk(['--lab', echo.name, 'plan', '--node', 'node-1']);
  assert.match(out, /^# node-1 .*backend wireguard: nothing to change$/m);
  assert.match(out, /^# pn-wg: wireguard-go over TUN, 2 peer\(s\)$/m);
  assert.match(out, /^# peer node-2 at 172\.31\.2\.2:51820: handshake \d+s ago$/m);
});

test('wireguard: a key rotated under a running connection: it survives, and the stale key delivers nothing', async () => {
  const oldKey = publishedKey('node-2');
  const keep = mkdtempSync(join(tmpdir(), 'pn-wg-stale-'));
  const staleFile = join(keep, 'key');
  copyFileSync(join(host('node-2').stateDir, 'wireguard-private-key'), staleFile);
  try {
    const received = await slowStream('9001', 60);
    await new Promise((r) => setTimeout(r, 1500));
    podnetOk(['--lab', echo.name, 'wireguard', 'rotate', '--node', 'node-2']);
    const newKey = await until('node-2 to publish a new key', () => {
      const k = publishedKey('node-2');
      return k && k !== oldKey ? k : undefined;
    });
    await until("node-1 to hold node-2's new key", () =>
      peerKeys('node-1').includes(newKey) && !peerKeys('node-1').includes(oldKey)
        ? true
        : undefined,
    );
    const got = (await received()).split('\n').filter((l) => l.startsWith('line-'));
    assert.equal(got.length, 60, got.join(' '));
    assert.equal(got.at(-1), 'line-60');

    // node-2 goes back to its old key with its agent frozen (so that it cannot repair it; its
    // wireguard-go keeps running): node-1 knows only the new key, and not one packet from
    // echo-2 reaches echo-1.
    const agent2 = findProcess(echo.lab.stateDir, 'agent-node-2')!;
    process.kill(agent2.pid, 'SIGSTOP');
    try {
      wg('node-2', ['set', 'pn-wg', 'private-key', staleFile]);
      const td = await startCapture(
        hostNs(echo.name, 'node-1'),
        'pn-wg',
        `src ${echo.ip('echo-2')}`,
      );
      const ping = podnet([
        'lab',
        'exec',
        '--name',
        echo.name,
        'echo-2',
        '--',
        'timeout',
        '6',
        'busybox',
        'ping',
        '-c',
        '5',
        '-W',
        '1',
        echo.ip('echo-1'),
      ]);
      const stdout = await td.stop();
      assert.notEqual(ping.status, 0, 'a ping got through with the stale key');
      assert.equal(stdout.trim(), '', `packets from echo-2 arrived: ${stdout}`);
    } finally {
      process.kill(agent2.pid, 'SIGCONT');
    }
    // Thawed, node-2's agent puts its current key back and the path works again.
    await echo.http('echo-2', 'echo-1');
  } finally {
    rmSync(keep, { recursive: true, force: true });
  }
});

test('wireguard: an agent restart changes nothing on the device, and loses no handshake', async () => {
  await echo.http('echo-1', 'echo-2');
  const before = dump('node-1');
  const agent = findProcess(echo.lab.stateDir, 'agent-node-1')!;
  const logBefore = readFileSync(agent.log, 'utf8').length;
  signalGroup(agent, 'SIGKILL');
  await until('the agent to die', () => (isRunning(agent) ? undefined : true));
  const repair = podnet(['lab', 'repair', '--name', echo.name]);
  assert.equal(repair.status, 0, repair.stderr);
  const restarted = findProcess(echo.lab.stateDir, 'agent-node-1')!;
  // Wait for the new agent's first reconcile, then compare.
  await until('the restarted agent to be ready', () => {
    const r = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        hostNs(echo.name, 'node-1'),
        'sh',
        '-c',
        `curl -s http://${host('node-1').metricsAddress}/metrics || true`,
      ],
      { encoding: 'utf8' },
    );
    return /podnet_routing_reconciles_total\{result="ok"\} [1-9]/.test(r) ? true : undefined;
  });
  assert.notEqual(restarted.pid, agent.pid);
  const after = dump('node-1');
  assert.deepEqual(after.peers.map(withoutCounters), before.peers.map(withoutCounters));
  assert.equal(after.publicKey, before.publicKey);
  const sinceRestart = readFileSync(restarted.log, 'utf8').slice(logBefore);
  assert.match(sinceRestart, /"msg":"agent started"/);
  assert.doesNotMatch(sinceRestart, /"msg":"routing reconciled"/, 'the restart changed the kernel');
});

function withoutCounters(p: ActualWireguard['peers'][number]) {
  return {
    publicKey: p.publicKey,
    endpoint: p.endpoint,
    allowedIPs: p.allowedIPs,
    latestHandshake: p.latestHandshake,
  };
}

/** echo-3's endpoint conditions in the `wg-echo` service's slices, once it is listed. */
function echo3Endpoint(): { ready?: boolean; serving?: boolean } | undefined {
  const r = podnet(['--lab', echo.name, 'get', 'endpointslices', '-o', 'json']);
  if (r.status !== 0) return undefined;
  const slices = (JSON.parse(r.stdout) as { items: EndpointSlice[] }).items.filter(
    (s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'wg-echo',
  );
  const endpoint = slices
    .flatMap((s) => s.endpoints ?? [])
    .find((e) => e.targetRef?.name === 'echo-3');
  return endpoint?.conditions;
}

test('wireguard: a host removed and added again is a peer removed and added on every host; its pods stop being endpoints meanwhile', async () => {
  // A service in front of echo-3: while node-3 is gone, no host routes to its pods.
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], {
    input: echoPodYaml('echo-3', 'node-3').replace(
      '  namespace: default',
      '  namespace: default\n  labels: {app: wg-echo}',
    ),
  });
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], {
    input:
      'apiVersion: v1\nkind: Service\nmetadata: {name: wg-echo, namespace: default}\n' +
      'spec: {selector: {app: wg-echo}, ports: [{port: 80, targetPort: 8080}]}\n',
  });
  await until('echo-3 to be a ready endpoint', () => (echo3Endpoint()?.ready ? true : undefined));
  const key3 = publishedKey('node-3');
  const agent = findProcess(echo.lab.stateDir, 'agent-node-3')!;
  signalGroup(agent, 'SIGKILL');
  await until('the agent to die', () => (isRunning(agent) ? undefined : true));
  podnetOk(['--lab', echo.name, 'delete', 'node', 'node-3']);
  for (const node of ['node-1', 'node-2']) {
    await until(`${node} to drop node-3's peer`, () =>
      peerKeys(node).includes(key3) ? undefined : true,
    );
  }
  await until('echo-3 to be neither ready nor serving', () => {
    const c = echo3Endpoint();
    return c && c.ready === false && c.serving === false ? true : undefined;
  });
  const repair = podnet(['lab', 'repair', '--name', echo.name]);
  assert.equal(repair.status, 0, repair.stderr);
  for (const node of ['node-1', 'node-2']) {
    await until(
      `${node} to add node-3's peer again`,
      () => (peerKeys(node).includes(key3) ? true : undefined),
      60_000,
    );
  }
  await until('echo-3 to be a ready endpoint again', () =>
    echo3Endpoint()?.ready ? true : undefined,
  );
  await echo.http('echo-2', 'echo-3');
});
