// `podnet trace` in a real lab (the demo's cluster, kept): a healthy path names each hop for
// same-host, same-zone and cross-zone pods; each broken case, made on purpose, is pointed at.
// The hosts' own processes are frozen while a problem is in place, so the agents' periodic
// repair cannot race the trace.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { podnet, podnetOk, sweepLeftovers, testLabName } from '../helpers/lab.js';
import { traceJson, withFault } from '../helpers/trace-lab.js';

const lab = testLabName();
const podIP: Record<string, string> = {};

const trace = (dest: string): ReturnType<typeof traceJson> =>
  traceJson(lab, ['-n', 'my-namespace', 'client', dest]);

before(() => {
  sweepLeftovers();
  podnetOk(['demo', '--name', lab, '--keep', '--ip-family', 'ipv4', '--requests', '3'], {
    timeoutMs: 240_000,
  });
  const pods = JSON.parse(
    podnetOk(['--lab', lab, 'get', 'pods', '-n', 'my-namespace', '-o', 'json']),
  ) as { items: { metadata: { name: string }; status: { podIP: string } }[] };
  for (const p of pods.items) podIP[p.metadata.name] = p.status.podIP;
});

after(() => podnet(['lab', 'down', '--name', lab]));

test('trace: a DNS name resolves, the service rule spreads over 3 pods, and each hop is named', () => {
  const { status, out } = trace('my-svc');
  assert.equal(status, 0, out.verdict.text);
  const text = out.hops.map((h) => `${h.step} ${h.detail}`).join('\n');
  assert.match(text, /dns my-svc\.my-namespace\.svc\.cluster\.local → 10\.96\./);
  assert.match(text, /service my-namespace\/my-svc .*echo-1 .*33\.3 %.*/);
  assert.match(text, /\[echo-1\] node-1: .* dev pn[0-9a-f]{11} \(same host\)/);
  assert.match(text, /\[echo-3\] node-1: .* via 172\.31\.1\.3 dev eth0 \(direct to node-3\)/);
  assert.match(
    text,
    /\[echo-2\] vxlan pn-vxlan VNI 1 port 8472: .* outer 172\.31\.1\.1 → 172\.31\.2\.2, MTU 1450/,
  );
  assert.match(text, /\[echo-2\] node-2: .* dev pn[0-9a-f]{11} \(the pod's veth, echo-2\)/);
  assert.match(text, /\[echo-3\] node-3: .* dev pn[0-9a-f]{11} \(the pod's veth, echo-3\)/);
});

test('trace: a service without ready endpoints is the broken step', () => {
  podnetOk(['--lab', lab, 'apply', '-f', '-'], {
    input: `apiVersion: v1
kind: Service
metadata: { name: empty, namespace: my-namespace }
spec:
  selector: { app: nobody }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`,
  });
  const { status, out } = trace('empty:80');
  assert.equal(status, 1);
  assert.match(out.verdict.text, /BROKEN at service: .*empty .* has no ready endpoints/);
});

test('trace: NetworkPolicy is judged after the DNAT and the deciding policy is named', () => {
  const policies = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-echo, namespace: my-namespace }
spec:
  podSelector: { matchLabels: { app: echo } }
  policyTypes: [Ingress]
`;
  const allowHttp = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: allow-http, namespace: my-namespace }
spec:
  podSelector: { matchLabels: { app: echo } }
  ingress: [{ from: [{ podSelector: {} }], ports: [{ port: http }] }]
`;
  try {
    podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: policies });
    const denied = trace('my-svc:80');
    assert.equal(denied.status, 1);
    assert.match(
      denied.out.verdict.text,
      /BROKEN at policy: \[echo-1\] TCP echo-1:8080 denied by my-namespace\/deny-echo \(ingress of echo-1\)/,
    );
    podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: allowHttp });
    const allowed = trace('my-svc:80');
    assert.equal(allowed.status, 0, allowed.out.verdict.text);
    const text = allowed.out.hops.map((h) => `${h.step} ${h.detail}`).join('\n');
    assert.match(
      text,
      /policy \[echo-2\] TCP echo-2:8080 allowed: egress of client: no policy isolates it; ingress of echo-2 allowed by my-namespace\/allow-http/,
    );
    // The named port is TCP: the same connection over UDP is denied by both isolating policies.
    const udp = traceJson(lab, ['-n', 'my-namespace', '--protocol', 'udp', 'client', 'my-svc:80']);
    assert.match(
      udp.out.verdict.text,
      /denied by my-namespace\/allow-http, my-namespace\/deny-echo \(ingress of echo-1\)/,
    );
  } finally {
    podnet([
      '--lab',
      lab,
      'delete',
      '-n',
      'my-namespace',
      'networkpolicy',
      'deny-echo',
      'allow-http',
    ]);
  }
});

const subnetOf = (ip: string): string => `${ip.split('.').slice(0, 3).join('.')}.0/24`;

const broken: [string, string[], () => string, string, () => string, RegExp][] = [
  [
    'a missing route',
    ['node-1'],
    () =>
      `ip route del 10.244.0.0/16 2>/dev/null; ip route show proto 80 | grep -v pn | grep 'via 172.31.1.3' | cut -d' ' -f1 | xargs -r -n1 ip route del`,
    '',
    () => podIP['echo-3']!,
    /BROKEN at route: node-1: no podnet route to .* falls to via 172\.31\.1\.254 dev eth0/,
  ],
  [
    'an MTU too small for the pods',
    ['node-1'],
    () => 'ip link set dev pn-vxlan mtu 1400',
    'ip link set dev pn-vxlan mtu 1450',
    () => podIP['echo-2']!,
    /BROKEN at encapsulation: pn-vxlan MTU 1400 is smaller than the pod's MTU 1450/,
  ],
  [
    'an rp_filter drop on an asymmetric path',
    ['node-2'],
    // The reply path to the client's subnet leaves by eth0 while requests arrive on pn-vxlan.
    () =>
      `sysctl -qw net.ipv4.conf.all.rp_filter=1 && ip route replace ${subnetOf(podIP['client']!)} via 172.31.2.254 dev eth0 proto 80`,
    'sysctl -qw net.ipv4.conf.all.rp_filter=0',
    () => podIP['echo-2']!,
    /BROKEN at delivery: node-2: rp_filter drops/,
  ],
  [
    'FORWARD policy DROP',
    ['node-1'],
    () => 'iptables -P FORWARD DROP',
    'iptables -P FORWARD ACCEPT',
    () => podIP['echo-3']!,
    /BROKEN at forward: node-1: iptables FORWARD policy is DROP/,
  ],
];

for (const [what, nodes, breakIt, mendIt, dest, expected] of broken) {
  test(`trace: points at ${what}`, async () => {
    await withFault(lab, nodes, breakIt(), mendIt, () => {
      const { status, out } = trace(dest());
      assert.equal(status, 1, JSON.stringify(out));
      assert.match(out.verdict.text, expected);
    });
    // The agents repair what the test broke by hand (routes within the reconcile period).
    const deadline = Date.now() + 30_000;
    while (!trace('my-svc').out.verdict.ok) {
      assert.ok(Date.now() < deadline, `${what}: the path was not repaired within 30 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });
}
