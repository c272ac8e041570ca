// `podnet trace` and `podnet doctor` on faults made by hand in the demo's cluster (store
// routing, backend auto, proxy iptables): the way back, routes missing against the routing
// reconciler's own plan, the DNS server made unreachable, ip_forward, an underlay MTU, an
// address no node owns, strict rp_filter, unknown -o formats. The host's own processes are
// frozen while a fault is in place, so the agent's periodic repair cannot race the check; each
// fault is undone in `finally`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { podnet, podnetOk, sweepLeftovers, testLabName } from '../helpers/lab.js';
import { doctorJson, hostSh, traceJson, withFault } from '../helpers/trace-lab.js';

const lab = testLabName();
const podIP: Record<string, string> = {};
const podNode: Record<string, string> = {};
const nodeSubnet: Record<string, string> = {};
const nodeIP: Record<string, string> = {};

const trace = (dest: string): ReturnType<typeof traceJson> =>
  traceJson(lab, ['-n', 'my-namespace', 'client', dest]);
const doctor = (node: string): ReturnType<typeof doctorJson> => doctorJson(lab, node);

async function eventually(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!ok()) {
    assert.ok(Date.now() - started < timeoutMs, `${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return Date.now() - started;
}

before(() => {
  sweepLeftovers();
  podnetOk(['demo', '--name', lab, '--keep', '--ip-family', 'ipv4', '--requests', '3'], {
    timeoutMs: 240_000,
  });
  const pods = JSON.parse(podnetOk(['--lab', lab, 'get', 'pods', '-A', '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { nodeName: string }; status: { podIP: string } }[];
  };
  for (const p of pods.items) {
    podIP[p.metadata.name] = p.status.podIP;
    podNode[p.metadata.name] = p.spec.nodeName;
  }
  const nodes = JSON.parse(podnetOk(['--lab', lab, 'get', 'nodes', '-o', 'json'])) as {
    items: {
      metadata: { name: string };
      spec: { podCIDR: string };
      status: { addresses: { address: string }[] };
    }[];
  };
  for (const n of nodes.items) {
    nodeSubnet[n.metadata.name] = n.spec.podCIDR;
    nodeIP[n.metadata.name] = n.status.addresses[0]!.address;
  }
  // The cases below are written for the demo's placement: client on node-1, echo-2 on node-2
  // in the other zone.
  assert.equal(podNode['client'], 'node-1');
  assert.equal(podNode['echo-2'], 'node-2');
});

after(() => podnet(['lab', 'down', '--name', lab]));

test('healthy: the service path is OK both ways, with the replies traced; doctor passes', () => {
  const { status, out } = trace('my-svc');
  assert.equal(status, 0, out.verdict.text);
  assert.equal(out.verdict.text, 'OK: the kernel delivers this path both ways');
  const replies = out.hops.filter((h) => h.direction === 'reply').map((h) => h.detail);
  assert.ok(
    replies.some((d) =>
      new RegExp(
        `^\\[echo-2\\] node-1: ${podIP['client']} dev pn[0-9a-f]{11} \\(the pod's veth, client\\)$`,
      ).test(d),
    ),
    replies.join('\n'),
  );
  assert.match(
    replies.join('\n'),
    /\[echo-2\] node-2: 10\.244\.\d+\.\d+ via 10\.244\.\d+\.0 dev pn-vxlan \(tunnel\)/,
  );
  for (const node of ['node-1', 'node-2', 'node-3']) {
    const { status: code, failed } = doctor(node);
    assert.deepEqual(failed, [], node);
    assert.equal(code, 0);
  }
});

test("the return path: node-2 without node-1's subnet route breaks the reply, and doctor says what routing wants", async () => {
  const subnet = nodeSubnet['node-1']!;
  const gateway = subnet.replace(/\/\d+$/, '');
  await withFault(lab, ['node-2'], `ip route del ${subnet}`, '', () => {
    const { status, out } = trace(podIP['echo-2']!);
    assert.equal(status, 1);
    assert.equal(
      out.verdict.text,
      `BROKEN at reply route: node-2: no podnet route back to ${podIP['client']} (node-1's subnet): it falls to via 172.31.2.254 dev eth0, not to ${nodeIP['node-1']}`,
    );
    assert.ok(
      out.hops.filter((h) => h.direction === 'request').every((h) => h.ok),
      'the request direction is fine',
    );
    const d = doctor('node-2');
    assert.equal(d.status, 1);
    assert.deepEqual(
      d.failed.map((v) => [v.check, v.detail, v.fix]),
      [
        [
          'kernel-state',
          `missing route ${subnet} via ${gateway} dev pn-vxlan: the agent on node-2 puts this back within its resync period (10 s) while it runs`,
          `ip route add ${subnet} via ${gateway} dev pn-vxlan onlink proto 80`,
        ],
      ],
    );
  });
  // The agent's periodic reconcile (10 s) puts the route back; a little slack for the load.
  await eventually('the agent repairs the route', () => doctor('node-2').status === 0, 15_000);
  assert.equal(trace(podIP['echo-2']!).out.verdict.ok, true);
});

test('the right cause: FORWARD DROP on the client host is named on the way to the DNS server', async () => {
  await withFault(lab, ['node-1'], 'iptables -P FORWARD DROP', 'iptables -P FORWARD ACCEPT', () => {
    const { status, out } = trace('my-svc');
    assert.equal(status, 1);
    assert.doesNotMatch(out.verdict.text, /no A record/);
    assert.match(
      out.verdict.text,
      /^BROKEN at forward: \[dns coredns-\d\] node-1: iptables FORWARD policy is DROP and nothing accepts pod traffic/,
    );
    assert.deepEqual(out.hops.at(-1), {
      step: 'dns',
      ok: false,
      detail: 'my-svc: no answer from the cluster DNS 10.96.0.10: the path to it is broken (above)',
    });
  });
});

test('the right cause: peer routes deleted on the client host are named, not the DNS records', async () => {
  const peers = ['node-2', 'node-3'].map((n) => nodeSubnet[n]!);
  await withFault(lab, ['node-1'], peers.map((s) => `ip route del ${s}`).join(' && '), '', () => {
    const { status, out } = trace('my-svc');
    assert.equal(status, 1);
    assert.doesNotMatch(out.verdict.text, /no A record/);
    assert.match(
      out.verdict.text,
      /^BROKEN at route: \[(dns coredns-\d|echo-[23])\] node-1: no podnet route to 10\.244\.\d+\.\d+ \(node-[23]'s subnet\): it falls to via 172\.31\.1\.254 dev eth0/,
    );
  });
  await eventually('the agent repairs the routes', () => trace('my-svc').out.verdict.ok, 15_000);
});

test('the right cause: ip_forward=0 on the destination host names the sysctl', async () => {
  await withFault(
    lab,
    ['node-2'],
    'sysctl -qw net.ipv4.ip_forward=0',
    'sysctl -qw net.ipv4.ip_forward=1',
    () => {
      const { status, out } = trace(podIP['echo-2']!);
      assert.equal(status, 1);
      assert.equal(
        out.verdict.text,
        'BROKEN at forward: node-2: net.ipv4.ip_forward = 0: the host forwards no packet to or from its pods (sysctl -w net.ipv4.ip_forward=1)',
      );
    },
  );
});

test('the right cause: an underlay MTU below what pods send is not OK, and doctor flags it', async () => {
  await withFault(
    lab,
    ['node-1'],
    'ip link set dev eth0 mtu 1400',
    'ip link set dev eth0 mtu 1500',
    () => {
      const tunnel = trace(podIP['echo-2']!);
      assert.equal(tunnel.status, 1);
      assert.equal(
        tunnel.out.verdict.text,
        "BROKEN at encapsulation: node-1: pn-vxlan MTU 1450 plus 50 bytes of encapsulation exceeds eth0 MTU 1400: encapsulated packets over 1400 bytes are dropped (see 'podnet doctor --node node-1')",
      );
      const direct = trace(podIP['echo-3']!);
      assert.equal(
        direct.out.verdict.text,
        "BROKEN at mtu: node-1: eth0 MTU 1400 is smaller than the pod's MTU 1450: larger packets are dropped (see 'podnet doctor --node node-1')",
      );
      const d = doctor('node-1');
      assert.equal(d.status, 1);
      assert.deepEqual(
        d.failed.map((v) => v.check),
        ['mtu-tunnel', 'mtu-pods'],
      );
      assert.match(d.failed[1]!.fix!, /^ip link set dev pn[0-9a-f]{11} mtu 1350( && |$)/);
    },
  );
});

test('the right cause: an address in the cluster range that no node owns says so', () => {
  const { status, out } = trace('10.244.250.7');
  assert.equal(status, 1);
  assert.equal(
    out.verdict.text,
    'BROKEN at route: 10.244.250.7 is inside the cluster range 10.244.0.0/16, but no node owns a pod subnet containing it: no pod can have this address',
  );
});

test('rp_filter: doctor names exactly the devices the agent loosens, and the agent loosens them', async () => {
  const key = (dev: string): string => `net.ipv4.conf.${dev}.rp_filter`;
  await withFault(
    lab,
    ['node-2'],
    `sysctl -qw net.ipv4.conf.all.rp_filter=1 ${key('eth0')}=0 ${key('pn-vxlan')}=0`,
    '',
    () => {
      const d = doctor('node-2');
      assert.equal(d.status, 1);
      assert.deepEqual(
        d.failed.map((v) => [v.check, v.fix]),
        [
          [
            'rp_filter',
            'sysctl -w net.ipv4.conf.eth0.rp_filter=2 && sysctl -w net.ipv4.conf.pn-vxlan.rp_filter=2',
          ],
        ],
      );
    },
  );
  try {
    // The agent's rule is doctor's: once it has loosened eth0 and pn-vxlan (pod veths stay
    // strict: their traffic is symmetric), doctor passes and pods talk across hosts.
    await eventually('the agent loosens rp_filter', () => doctor('node-2').status === 0, 15_000);
    assert.equal(trace(podIP['echo-2']!).out.verdict.ok, true);
    const r = podnet([
      'lab',
      'exec',
      '--name',
      lab,
      '-n',
      'my-namespace',
      'client',
      '--',
      'timeout',
      '5',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${podIP['echo-2']}:8080/`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { pod: string }).pod, 'echo-2');
  } finally {
    hostSh(lab, 'node-2', 'sysctl -qw net.ipv4.conf.all.rp_filter=0');
  }
});

test('-o: trace, doctor and plan refuse unknown formats and yaml, naming the valid ones (exit 2)', () => {
  for (const args of [
    ['trace', '-n', 'my-namespace', 'client', 'my-svc'],
    ['doctor', '--node', 'node-1'],
    ['plan', '--node', 'node-1'],
  ]) {
    for (const format of ['bogus', 'yaml']) {
      const r = podnet(['--lab', lab, ...args, '-o', format]);
      assert.equal(r.status, 2, `${args[0]} -o ${format}`);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        new RegExp(`argument '${format}' is invalid\\. Allowed choices are json\\.`),
      );
    }
  }
});
