// The eBPF data path in a lab (3 hosts, host-gw), switched on live with `datapath: ebpf`: pods
// exchange HTTP and 10 MB byte for byte on one host and across hosts, with the programs'
// counters showing the redirects; a spoofed source is dropped; a pod a NetworkPolicy holds is
// still filtered; a service answers on its ClusterIP, translated by the programs and spread over
// its backends on two hosts; a TCP connection open across an agent restart (SIGKILL)
// carries on; a pod's DNS query (UDP) to the cluster DNS is translated by the programs; and
// service connections stay open across live switches of `datapath` both ways,
// the programs draining theirs after a switch back to `kernel`. One lab for every case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { findProcess } from '../../src/lab/supervisor.js';
import { isRunning, signalGroup } from '../../src/process/daemons.js';
import { datapathDevices } from '../../src/kernel/bpf-datapath.js';
import { agentMetric } from '../helpers/agent-metrics.js';
import { switchDatapath as switchTo } from '../helpers/cluster-network.js';
import { echoLabForFile, podListener, podSender, startChild } from '../helpers/echo-lab.js';
import { PODNET, echoGetOnce, podnet, podnetOk, runningPodIPs, until } from '../helpers/lab.js';
import { hostNs } from '../helpers/trace-lab.js';

const PROBE = new URL('../../../test/integration/python/guard_probe.py', import.meta.url).pathname;
const PYTHON = '/usr/bin/python3';

const echo = echoLabForFile(['--backend', 'host-gw', '--zones', '1']);

/** A second echo pod on node-1, behind a service (with web-2 on node-2): the same-host peer of echo-1. */
const WEB = [
  'apiVersion: v1',
  'kind: Pod',
  'metadata: {name: web, namespace: default, labels: {app: web}}',
  'spec:',
  '  nodeName: node-1',
  '  containers:',
  "    - {name: echo, command: [podnet, serve-echo, --port, '8080']}",
  '---',
  'apiVersion: v1',
  'kind: Pod',
  'metadata: {name: web-2, namespace: default, labels: {app: web}}',
  'spec:',
  '  nodeName: node-2',
  '  containers:',
  "    - {name: echo, command: [podnet, serve-echo, --port, '8080']}",
  '---',
  'apiVersion: v1',
  'kind: Service',
  'metadata: {name: web, namespace: default}',
  'spec:',
  '  selector: {app: web}',
  // Port 81 for the live-switch case's streams, whose receivers listen on 9100.
  '  ports: [{name: http, port: 80, targetPort: 8080}, {name: stream, port: 81, targetPort: 9100}]',
  '',
].join('\n');

const DENY_WEB = [
  'apiVersion: networking.k8s.io/v1',
  'kind: NetworkPolicy',
  'metadata: {name: deny-web, namespace: default}',
  'spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}',
  '',
].join('\n');

/** One of `node`'s agent metrics (0 when absent). */
const metric = (node: string, name: string, labels: Record<string, string> = {}): number =>
  agentMetric(hostNs(echo.name, node), name, labels);
const packets = (node: string, action: string): number =>
  metric(node, 'podnet_ebpf_datapath_packets_total', { action });

let webIP = '';

/** Switches the cluster's `datapath` live and waits until every agent runs the new one. */
const switchDatapath = (to: 'kernel' | 'ebpf'): Promise<void> =>
  switchTo(echo.name, ['node-1', 'node-2', 'node-3'], to);

test('ebpf datapath: switched on live, every agent runs it', async () => {
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], { input: WEB });
  await switchDatapath('ebpf');
  webIP = await until('web to run', () => runningPodIPs(echo.name, 'web')?.[0]);
  const plan = podnetOk(['--lab', echo.name, 'plan', '--node', 'node-1']);
  assert.match(plan, /^# datapath: ebpf/m);
});

test('ebpf datapath: HTTP between every pair, and 10 MB byte for byte on one host and across hosts, redirected', async () => {
  await echo.allPairs();
  const peer = packets('node-1', 'redirect_peer');
  const neigh = packets('node-1', 'redirect_neigh');
  echo.ips.set('web', webIP);
  await echo.sendTenMegabytes('echo-1', 'web');
  await echo.sendTenMegabytes('echo-1', 'echo-2');
  echo.ips.delete('web');
  // 10 MB is at least 160 packets even merged to 64 KB each (GSO and GRO merge more the busier
  // the machine is): at least 100 must have skipped the kernel on each way it can.
  assert.ok(packets('node-1', 'redirect_peer') - peer > 100, 'same host: bpf_redirect_peer');
  assert.ok(packets('node-1', 'redirect_neigh') - neigh > 100, 'to node-2: bpf_redirect_neigh');
  assert.ok(packets('node-2', 'redirect_peer') > 100, 'from the underlay into echo-2');
});

test('ebpf datapath: a service answers on its ClusterIP, from this host and another', async () => {
  const svc = JSON.parse(podnetOk(['--lab', echo.name, 'get', 'service', 'web', '-o', 'json'])) as {
    spec: { clusterIP: string };
  };
  for (const from of ['echo-1', 'echo-2']) {
    const answer = await until(`${from} to reach web by its ClusterIP`, () =>
      echoGetOnce(echo.name, from, `http://${svc.spec.clusterIP}:80/`),
    );
    assert.match(answer.pod, /^web(-2)?$/);
  }
});

test('ebpf datapath: pods reach a service by ClusterIP through the programs, spread over its backends', async () => {
  await until('web-2 to run', () => runningPodIPs(echo.name, 'web-2')?.[0]);
  const svc = JSON.parse(podnetOk(['--lab', echo.name, 'get', 'service', 'web', '-o', 'json'])) as {
    spec: { clusterIP: string };
  };
  const url = `http://${svc.spec.clusterIP}:80/`;
  // Both backends in the programs' map first (the agent writes it on the endpoints' change).
  await until('web-2 to be a backend', () =>
    echoGetOnce(echo.name, 'echo-1', url)?.pod === 'web-2' ? true : undefined,
  );
  const before = { dnat: packets('node-1', 'service_dnat'), rev: packets('node-1', 'reverse_nat') };
  const requests = 20;
  const r = echo.exec('echo-1', [
    'sh',
    '-c',
    `for i in $(seq ${requests}); do timeout 3 busybox wget -q -O - ${url} && echo; done`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const answered = r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { pod: string }).pod);
  assert.equal(answered.length, requests);
  assert.deepEqual([...new Set(answered)].sort(), ['web', 'web-2'], 'spread over both hosts');
  // Every connection's SYN and at least one more packet translated by from_pod; at least its
  // SYN-ACK given back the ClusterIP by to_pod.
  assert.ok(packets('node-1', 'service_dnat') - before.dnat >= 2 * requests, 'DNAT in BPF');
  assert.ok(packets('node-1', 'reverse_nat') - before.rev >= requests, 'reverse NAT in BPF');
  // The kernel's NAT took none of them: conntrack saw them to the backends, never the ClusterIP.
  const tracked = spawnSync(
    'ip',
    ['netns', 'exec', hostNs(echo.name, 'node-1'), 'conntrack', '-L', '-d', svc.spec.clusterIP],
    { encoding: 'utf8' },
  );
  assert.equal(tracked.stdout.trim(), '', 'no conntrack entry to the ClusterIP');
});

test('ebpf datapath: a spoofed source is dropped by the program and counted', () => {
  const spoofed = echo.ip('echo-2');
  const added = echo.exec('echo-1', ['ip', 'addr', 'add', `${spoofed}/32`, 'dev', 'eth0']);
  assert.equal(added.status, 0, added.stderr);
  try {
    const before = packets('node-1', 'drop_spoofed');
    const sent = echo.exec('echo-1', [PYTHON, PROBE, 'udp', spoofed, echo.ip('echo-3'), '5999']);
    assert.equal(sent.status, 0, sent.stderr);
    assert.equal(packets('node-1', 'drop_spoofed'), before + 1);
  } finally {
    echo.exec('echo-1', ['ip', 'addr', 'del', `${spoofed}/32`, 'dev', 'eth0']);
  }
});

test('ebpf datapath: a pod a NetworkPolicy holds is still filtered, and reached again once it goes', async () => {
  podnetOk(['--lab', echo.name, 'apply', '-f', '-'], { input: DENY_WEB });
  try {
    for (const from of ['echo-1', 'echo-2']) {
      await until(`${from} -> web denied`, () =>
        echoGetOnce(echo.name, from, `http://${webIP}:8080/`) ? undefined : true,
      );
    }
    // Not for a moment let through: every try of a while is denied.
    for (let i = 0; i < 2; i++) {
      assert.equal(echoGetOnce(echo.name, 'echo-2', `http://${webIP}:8080/`), undefined);
    }
    assert.equal((await echo.http('echo-2', 'echo-3')).pod, 'echo-3');
  } finally {
    podnetOk(['--lab', echo.name, 'delete', 'networkpolicy', 'deny-web']);
  }
  await until('web reached again', () => echoGetOnce(echo.name, 'echo-2', `http://${webIP}:8080/`));
});

test('ebpf datapath: a TCP connection open across an agent restart carries on', async () => {
  const port = '9001';
  const receiver = await podListener(echo.name, 'echo-2', port, 'md5sum >&2', 60);
  const sentFile = `/tmp/pn-sent-${echo.name}-restart`;
  // 1 MB, a pause the restart happens in, 1 MB more: one connection, byte for byte.
  const script = `(head -c 1048576 /dev/urandom; sleep 8; head -c 1048576 /dev/urandom) | tee ${sentFile} | busybox nc ${echo.ip('echo-2')} ${port}`;
  const sender = podSender(echo.name, 'echo-1', script);
  await new Promise((r) => setTimeout(r, 2000)); // the first megabyte crosses
  const agent = findProcess(echo.lab.stateDir, 'agent-node-1')!;
  signalGroup(agent, 'SIGKILL');
  await until('the agent to die', () => (isRunning(agent) ? undefined : true));
  const repair = podnet(['lab', 'repair', '--name', echo.name]);
  assert.equal(repair.status, 0, repair.stderr);
  assert.equal((await sender.done).code, 0, sender.stderr());
  const { code, stderr } = await receiver.done;
  assert.equal(code, 0, stderr);
  const sent = echo.exec('echo-1', ['sh', '-c', `md5sum < ${sentFile}; rm -f ${sentFile}`]);
  assert.equal(stderr.trim().split(/\s+/)[0], sent.stdout.trim().split(/\s+/)[0]);
  await until('the restarted agent to run the data path', () =>
    metric('node-1', 'podnet_ebpf_datapath_active') === 1 ? true : undefined,
  );
});

test('ebpf datapath: a pod asks the cluster DNS over UDP through the programs', () => {
  const clusterIP = (name: string, ns: string) =>
    (
      JSON.parse(
        podnetOk(['--lab', echo.name, 'get', 'service', name, '-n', ns, '-o', 'json']),
      ) as {
        spec: { clusterIP: string };
      }
    ).spec.clusterIP;
  const dns = clusterIP('kube-dns', 'kube-system');
  const before = { dnat: packets('node-1', 'service_dnat'), rev: packets('node-1', 'reverse_nat') };
  // From a known source port, so that conntrack's view of this one query can be read.
  const port = '35353';
  const r = echo.exec('echo-1', [
    'dig',
    '+short',
    '+time=3',
    '+tries=2',
    '-b',
    `${echo.ip('echo-1')}#${port}`,
    `@${dns}`,
    'web.default.svc.cluster.local',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), clusterIP('web', 'default'), 'answered');
  // The query translated by from_pod, the answer given the service's address by to_pod.
  assert.ok(packets('node-1', 'service_dnat') > before.dnat, 'DNAT in BPF');
  assert.ok(packets('node-1', 'reverse_nat') > before.rev, 'reverse NAT in BPF');
  const tracked = spawnSync(
    'ip',
    ['netns', 'exec', hostNs(echo.name, 'node-1'), 'conntrack', '-L', '-p', 'udp', '--sport', port],
    { encoding: 'utf8' },
  ).stdout;
  assert.match(tracked, /dport=53 /, 'the kernel forwarded it');
  assert.doesNotMatch(tracked, new RegExp(`dst=${dns.replaceAll('.', '\\.')} `), 'as translated');
});

/** `node -e script` in a pod, as a child of this test. */
const inPod = (pod: string, script: string) =>
  startChild([
    PODNET,
    'lab',
    'exec',
    '--name',
    echo.name,
    pod,
    '--',
    process.execPath,
    '-e',
    script,
  ]);

test('ebpf datapath: open service connections survive switching to kernel and back, both ways', async (t) => {
  const clusterIP = (
    JSON.parse(podnetOk(['--lab', echo.name, 'get', 'service', 'web', '-o', 'json'])) as {
      spec: { clusterIP: string };
    }
  ).spec.clusterIP;
  const stop = `/tmp/pnt-${echo.name}-stream-stop`;
  // On each backend: one line per connection once it ends, with the longest silence in it.
  const receivers = ['web', 'web-2'].map((pod) =>
    inPod(
      pod,
      `const fs=require('fs');require('net').createServer(c=>{let n=0,last=Date.now(),gap=0;const port=c.remotePort;c.on('data',d=>{const t=Date.now();gap=Math.max(gap,t-last);last=t;n+=d.length});c.on('end',()=>{console.log(JSON.stringify({port,bytes:n,maxGapMs:gap}));c.end()});c.on('error',()=>{})}).listen(9100,()=>console.error('listening'));setInterval(()=>fs.existsSync('${stop}-receivers')&&process.exit(0),100);setTimeout(()=>process.exit(3),120000)`,
    ),
  );
  // One connection from echo-1, 1 KB every 10 ms until told to stop; its port as it connects.
  const sender = () =>
    inPod(
      'echo-1',
      `const fs=require('fs');let n=0;const c=require('net').connect(81,'${clusterIP}',()=>{console.error('port '+c.localPort);const t=setInterval(()=>{if(fs.existsSync('${stop}')){clearInterval(t);console.log(JSON.stringify({port:c.localPort,bytes:n}));c.end();return}c.write(Buffer.alloc(1024,1));n+=1024},10)});c.on('error',e=>{console.error('error '+e.message);process.exit(1)});c.on('close',()=>process.exit(0));setTimeout(()=>process.exit(3),120000)`,
    );
  const portOf = (s: ReturnType<typeof sender>) =>
    until('the stream to connect', () => /^port (\d+)$/m.exec(s.stderr())?.[1]);
  const node1 = hostNs(echo.name, 'node-1');
  const trackedToClusterIP = (port: string) =>
    spawnSync('ip', ['netns', 'exec', node1, 'conntrack', '-L', '-d', clusterIP], {
      encoding: 'utf8',
    }).stdout.includes(`sport=${port} `);
  const pause = () => new Promise((r) => setTimeout(r, 500));
  try {
    for (const r of receivers) {
      await until('the receivers to listen on 9100', () =>
        r.stderr().includes('listening') ? true : undefined,
      );
    }
    // The programs know the port once a connection to it is translated.
    await until('the programs to translate the stream port', () => {
      const before = packets('node-1', 'service_dnat');
      const probe = `const c=require('net').connect(81,'${clusterIP}',()=>c.end());c.on('close',()=>process.exit(0));c.on('error',()=>process.exit(1))`;
      echo.exec('echo-1', [process.execPath, '-e', probe]);
      return packets('node-1', 'service_dnat') > before ? true : undefined;
    });
    // B begins on the eBPF path: translated by the programs, conntrack never sees the ClusterIP.
    const b = sender();
    const bPort = await portOf(b);
    assert.equal(trackedToClusterIP(bPort), false, 'B translated in BPF');
    await pause();
    await switchDatapath('kernel');
    // The programs stay on node-1 to carry B, the only connection they translated.
    await until('node-1 to drain B', () =>
      metric('node-1', 'podnet_ebpf_datapath_draining_translations') >= 2 ? true : undefined,
    );
    assert.ok((await datapathDevices(node1)).pod.length > 0, 'programs kept for the drain');
    const doctor = podnet(['--lab', echo.name, 'doctor', '--node', 'node-1']).stdout;
    assert.match(doctor, /ebpf-datapath .*draining: .* for [1-9]\d* service connection/, doctor);
    // A begins on the kernel path: conntrack's DNAT.
    const a = sender();
    const aPort = await portOf(a);
    assert.equal(trackedToClusterIP(aPort), true, 'A translated by the kernel');
    await pause();
    await switchDatapath('ebpf');
    await pause();
    await switchDatapath('kernel');
    await pause();
    writeFileSync(stop, '');
    const sent = new Map<string, number>();
    for (const s of [a, b]) {
      const { code, stdout, stderr } = await s.done;
      assert.equal(code, 0, stderr);
      const { port, bytes } = JSON.parse(stdout) as { port: number; bytes: number };
      sent.set(String(port), bytes);
    }
    writeFileSync(`${stop}-receivers`, '');
    const got = new Map<string, { bytes: number; maxGapMs: number }>();
    for (const r of receivers) {
      const { stdout } = await r.done;
      for (const line of stdout.split('\n').filter((l) => l.trim())) {
        const { port, ...rest } = JSON.parse(line) as {
          port: number;
          bytes: number;
          maxGapMs: number;
        };
        got.set(String(port), rest);
      }
    }
    for (const [name, port] of [
      ['A (kernel -> ebpf -> kernel)', aPort],
      ['B (ebpf -> kernel -> ebpf -> kernel)', bPort],
    ] as const) {
      // The same connection from start to end: one port, every byte the sender wrote.
      assert.ok(sent.get(port)! > 100_000, `${name}: sent`);
      assert.equal(
        got.get(port)?.bytes,
        sent.get(port),
        `${name}: received on the same connection`,
      );
      assert.ok(got.get(port)!.maxGapMs < 1000, `${name}: stalled ${got.get(port)!.maxGapMs} ms`);
      t.diagnostic(
        `${name}: ${sent.get(port)} bytes, longest silence ${got.get(port)!.maxGapMs} ms`,
      );
    }
    // B has ended: the drain ends, and the programs come off.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const programs = Object.values(await datapathDevices(node1)).flat();
      const draining = metric('node-1', 'podnet_ebpf_datapath_draining_translations');
      if (draining === 0 && programs.length === 0) break;
      assert.ok(Date.now() < deadline, `drain not over: ${draining}, on ${programs.join(' ')}`);
      await pause();
    }
  } finally {
    writeFileSync(stop, '');
    writeFileSync(`${stop}-receivers`, '');
    await Promise.all(receivers.map((r) => r.done));
    rmSync(stop, { force: true });
    rmSync(`${stop}-receivers`, { force: true });
  }
});
