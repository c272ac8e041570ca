// host-gw across zones (`lab up --backend host-gw --zones 2`): doctor fails on the peers the
// backend cannot reach, naming the backend that would, and trace gives that as the reason for a
// cross-zone destination while a same-zone one is OK. After doctor's fix (backend auto) the
// peers are routed through the tunnel, the running pods are resized to fit it, and doctor
// passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { echoLabForFile } from '../helpers/echo-lab.js';
import { PODNET, until } from '../helpers/lab.js';
import { doctorJson, traceJson } from '../helpers/trace-lab.js';

const echo = echoLabForFile(['--backend', 'host-gw', '--zones', '2']);

const trace = (to: string): ReturnType<typeof traceJson> =>
  traceJson(echo.name, ['echo-1', echo.ip(to)]);

const doctor = (node: string): ReturnType<typeof doctorJson> => doctorJson(echo.name, node);

const advice =
  'backend host-gw needs every node on one L2 segment; backend auto (direct where on-link, VXLAN elsewhere) or vxlan reaches them';

test('host-gw across zones: doctor fails on the unreachable peer with the backend that works', async () => {
  // The agent publishes its condition after its first reconcile.
  const d = await until('node-1 to publish its condition', () => {
    const r = doctor('node-1');
    return r.failed.length > 0 ? r : undefined;
  });
  assert.equal(d.status, 1);
  assert.deepEqual(
    d.failed.map((v) => [v.check, v.detail, v.fix]),
    [
      [
        'peers',
        `node-1 cannot route to node-2 (172.31.2.2 is not on-link (outside eth0's 172.31.1.1/24)): ${advice}`,
        "podnet get clusternetwork default -o yaml | sed 's/backend: host-gw/backend: auto/' | podnet apply -f -",
      ],
    ],
  );
});

test('host-gw across zones: trace gives the condition as the reason; the same zone is OK', () => {
  const cross = trace('echo-2');
  assert.equal(cross.status, 1);
  assert.equal(
    cross.out.verdict.text,
    `BROKEN at route: node-1: no podnet route to ${echo.ip('echo-2')} (node-2's subnet): it falls to via 172.31.1.254 dev eth0, not to 172.31.2.2; node-1's routing reports: cannot route to node-2 (172.31.2.2 is not on-link (outside eth0's 172.31.1.1/24)) — ${advice}`,
  );
  const same = trace('echo-3');
  assert.equal(same.status, 0, same.out.verdict.text);
  assert.equal(
    same.out.hops[0]!.detail,
    `node-1: ${echo.ip('echo-3')} via 172.31.1.3 dev eth0 (direct to node-3)`,
  );
});

test('host-gw across zones: after the fix, peers are routed through the tunnel, running pods fit it, doctor passes', async () => {
  // doctor's fix, as a person would run it: the pods stay, the agents resize their veths.
  execSync(
    `${PODNET} --lab ${echo.name} get clusternetwork default -o yaml | sed 's/backend: host-gw/backend: auto/' | ${PODNET} --lab ${echo.name} apply -f -`,
    { stdio: 'pipe' },
  );
  // Until its pod is resized, trace rightly calls the tunnel too small for it.
  const cross = await until('the path to node-2 through the tunnel to be OK', () => {
    const t = trace('echo-2');
    return t.status === 0 && t.out.hops.some((h) => h.step === 'encapsulation') ? t : undefined;
  });
  assert.match(
    cross.out.hops.find((h) => h.step === 'encapsulation')!.detail,
    /^vxlan pn-vxlan .* MTU 1450$/,
  );
  const same = trace('echo-3');
  assert.equal(same.status, 0, same.out.verdict.text);
  // mtu-pods among them: every pod veth on node-1 now fits the tunnel.
  const d = await until('doctor to pass on node-1', () => {
    const r = doctor('node-1');
    return r.status === 0 ? r : undefined;
  });
  assert.deepEqual(d.failed, []);
});
