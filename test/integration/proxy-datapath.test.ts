// Service load balancing through real kernels, in both modes: two hosts and their pods as
// namespaces (test/helpers/proxy-topology.ts), the sync loop driven with the proxy's model.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { HealthState } from '../../src/agent/controller.js';
import type { ProxyMode } from '../../src/api/types.js';
import { netfilterKernel } from '../../src/kernel/netfilter.js';
import type { ServicePortRule } from '../../src/proxy/model.js';
import { createProxier } from '../../src/proxy/proxier.js';
import { ProxySyncer } from '../../src/proxy/syncer.js';
import { createLogger } from '../../src/util/log.js';
import {
  assertProxyFakeMatchesKernel,
  teeIptables,
  teeNftables,
  type Disagreements,
} from '../helpers/fake-drift.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  CHI2_P001,
  CLUSTER,
  buildTopology,
  chiSquareUniform,
  type Topology,
} from '../helpers/proxy-topology.js';

before(() => sweepStaleNamespaces());

const PORT = 8080;
const BACKENDS = ['b1', 'b2', 'b3'];

function svc(
  name: string,
  clusterIP: string,
  endpoints: string[],
  topo: Topology,
  extra: Partial<ServicePortRule> = {},
): ServicePortRule {
  return {
    name: `test/${name}:`,
    clusterIP,
    protocol: 'TCP',
    port: 80,
    endpoints: endpoints.map((p) => ({ ip: topo.pods[p]!.ip, port: PORT })),
    ...extra,
  };
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 15000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const mode of ['iptables', 'nftables'] as ProxyMode[]) {
  describe(`proxy ${mode}`, { concurrency: false }, () => {
    let topo: Topology;
    let syncers: ProxySyncer[] = [];
    let scaled = BACKENDS;
    let udpScaled = BACKENDS;
    let broken = false;
    const health = new HealthState();
    const log = createLogger('proxy-test', { mode });
    log.level = 'warn';

    const rules = (): ServicePortRule[] => {
      const list = [
        svc('web', '10.96.0.20', BACKENDS, topo, { nodePort: 30080 }),
        svc('dns', '10.96.0.21', udpScaled, topo, { protocol: 'UDP', port: 53 }),
        svc('sticky', '10.96.0.22', BACKENDS, topo, { affinitySeconds: 60 }),
        svc('empty', '10.96.0.23', [], topo, { nodePort: 30083 }),
        svc('scale', '10.96.0.24', scaled, topo),
      ];
      if (broken) list.push(svc('bad', '10.96.0.300', ['b1'], topo));
      return list;
    };
    // Host 0's proxier also programs in-memory fakes through the same transactions: after each
    // scenario the fake must hold what the kernel holds (the fakes cannot drift from it).
    const fakeNft = new FakeNftables();
    const fakeIpt = new FakeIptables();
    const disagreements: Disagreements = [];
    const newSyncer = (host: string): ProxySyncer => {
      const nodePodCIDR = `10.244.${topo.hosts.indexOf(host) + 1}.0/24`;
      const real = netfilterKernel(host);
      const kernel =
        host === topo.hosts[0]
          ? {
              ...real,
              nftables: teeNftables(real.nftables, fakeNft, disagreements),
              iptables: teeIptables(real.iptables, fakeIpt, disagreements),
            }
          : real;
      const syncer = new ProxySyncer(createProxier(mode, { ...CLUSTER, nodePodCIDR }, kernel), {
        log,
        conntrack: kernel.conntrack,
        minIntervalMs: 50,
        checkIntervalMs: 200,
        onSynced: (error) => health.setError(`proxy-${host}`, error),
      });
      syncer.start();
      return syncer;
    };
    const syncAll = async (reason: string): Promise<void> => {
      for (const s of syncers) s.update(rules(), reason);
      await Promise.all(syncers.map((s) => s.idle()));
    };
    // A digest of podnet's rules as the kernel lists them, without counters, timestamps and
    // the clients an affinity set has learned (kernel-made, and forgotten on a full nft sync).
    const checksum = (host: string): string => {
      let text: string;
      try {
        text =
          mode === 'iptables'
            ? topo.exec(host, ['iptables-save'])
            : topo.exec(host, ['nft', 'list', 'table', 'ip', 'podnet']);
      } catch {
        return 'missing';
      }
      const kept: string[] = [];
      let inAffinitySet = false;
      let skipping = false;
      for (const line of text.split('\n')) {
        if (line.startsWith('#') || line.startsWith('table ') || line === '}') continue;
        if (/^\s*set aff-/.test(line)) inAffinitySet = true;
        else if (/^\s*(set|map|chain) /.test(line)) inAffinitySet = false;
        if (inAffinitySet && /^\s*elements = /.test(line)) skipping = true;
        if (!skipping) kept.push(line.replace(/\[\d+:\d+\]/g, ''));
        else if (line.trimEnd().endsWith('}')) skipping = false;
      }
      // nft lists objects in creation order; what matters is what they are.
      const blocks =
        mode === 'nftables'
          ? kept
              .join('\n')
              .split(/\n\s*\n/)
              .map((b) => b.trim())
              .filter(Boolean)
              .sort()
          : kept;
      return createHash('sha256').update(blocks.join('\n')).digest('hex');
    };
    const c1 = (): string => topo.pods.c1!.ns;

    before(async () => {
      topo = buildTopology([
        { name: 'c1', host: 0, n: 10, extra: Array.from({ length: 12 }, (_, i) => 50 + i) },
        { name: 'b1', host: 0, n: 3 },
        { name: 'b2', host: 1, n: 2 },
        { name: 'b3', host: 1, n: 3 },
      ]);
      await topo.serve(BACKENDS, PORT);
      syncers = topo.hosts.map(newSyncer);
      await syncAll('start');
    });
    afterEach(async () => {
      assert.deepEqual(disagreements, []);
      await assertProxyFakeMatchesKernel(
        mode,
        { nftables: fakeNft, iptables: fakeIpt },
        topo.hosts[0],
      );
    });
    after(async () => {
      await Promise.all(syncers.map((s) => s.stop()));
      topo?.destroy();
    });

    test(`proxy ${mode}: ClusterIP TCP spreads 300 new connections over 3 pods evenly`, () => {
      const r = topo.connect(c1(), '10.96.0.20', 80, 300, 'tcp');
      assert.deepEqual(r.errors, {});
      const counts = BACKENDS.map((b) => r.counts[b] ?? 0);
      for (const n of counts) assert.ok(n >= 60 && n <= 141, `each 20-47 %: ${counts}`);
      assert.ok(chiSquareUniform(counts) < CHI2_P001[2]!, `chi-square: ${counts}`);
    });

    test(`proxy ${mode}: ClusterIP UDP spreads 300 new flows over 3 pods evenly`, () => {
      const r = topo.connect(c1(), '10.96.0.21', 53, 300, 'udp');
      assert.deepEqual(r.errors, {});
      const counts = BACKENDS.map((b) => r.counts[b] ?? 0);
      for (const n of counts) assert.ok(n >= 60 && n <= 141, `each 20-47 %: ${counts}`);
      assert.ok(chiSquareUniform(counts) < CHI2_P001[2]!, `chi-square: ${counts}`);
    });

    test(`proxy ${mode}: NodePort answers on every host address, from pods and other hosts`, () => {
      const [h0, h1] = topo.hosts;
      const [ip0, ip1] = topo.hostIPs;
      for (const [from, to] of [
        [c1(), ip0],
        [c1(), ip1],
        [h0, ip0],
        [h0, ip1],
        [h1, ip0],
        [h1, ip1],
      ] as const) {
        const r = topo.connect(from, to, 30080, 30, 'tcp');
        assert.deepEqual(r.errors, {}, `${from} → ${to}:30080`);
        assert.ok(
          Object.keys(r.counts).length >= 2,
          `${to}:30080 spreads: ${JSON.stringify(r.counts)}`,
        );
      }
    });

    test(`proxy ${mode}: ClientIP affinity pins each client while clients spread`, () => {
      const one = topo.connect(c1(), '10.96.0.22', 80, 30, 'tcp');
      assert.deepEqual(one.errors, {});
      assert.equal(
        Object.keys(one.counts).length,
        1,
        `one client, one pod: ${JSON.stringify(one.counts)}`,
      );
      const many = topo.connect(c1(), '10.96.0.22', 80, 60, 'tcp', topo.pods.c1!.extra);
      assert.deepEqual(many.errors, {});
      const chosen = new Set<string>();
      for (const [src, counts] of Object.entries(many.bySource)) {
        assert.equal(Object.keys(counts).length, 1, `${src} stays on one pod`);
        chosen.add(Object.keys(counts)[0]!);
      }
      assert.ok(chosen.size >= 2, `12 clients land on more than one pod: ${[...chosen]}`);
    });

    test(`proxy ${mode}: a pod reaches itself through its own service (hairpin)`, () => {
      const r = topo.connect(topo.pods.b1!.ns, '10.96.0.20', 80, 30, 'tcp');
      assert.deepEqual(r.errors, {});
      assert.ok((r.counts.b1 ?? 0) > 0, `b1 reached itself: ${JSON.stringify(r.counts)}`);
    });

    test(`proxy ${mode}: a service without ready pods refuses at once`, () => {
      const r = topo.connect(c1(), '10.96.0.23', 80, 5, 'tcp');
      assert.deepEqual(r.errors, { ECONNREFUSED: 5 });
      assert.ok(Math.max(...r.ms) < 1000, `refused, no timeout: ${r.ms}`);
      const np = topo.connect(topo.hosts[1], topo.hostIPs[0], 30083, 3, 'tcp');
      assert.deepEqual(np.errors, { ECONNREFUSED: 3 });
    });

    test(`proxy ${mode}: scaling 3 → 1 → 3 never sends a new connection to a removed pod`, async () => {
      const before = topo.connect(c1(), '10.96.0.24', 80, 60, 'tcp');
      assert.deepEqual(Object.keys(before.counts).sort(), BACKENDS);
      scaled = ['b2'];
      await syncAll('scale down');
      const down = topo.connect(c1(), '10.96.0.24', 80, 60, 'tcp');
      assert.deepEqual(down.counts, { b2: 60 });
      scaled = BACKENDS;
      await syncAll('scale up');
      const up = topo.connect(c1(), '10.96.0.24', 80, 90, 'tcp');
      assert.deepEqual(Object.keys(up.counts).sort(), BACKENDS);
    });

    test(`proxy ${mode}: an open connection keeps its pod while endpoints change`, async () => {
      const held = await topo.hold(c1(), '10.96.0.24', 80, 3);
      // Take every other pod out of the service, then the held one too: its connection is
      // already translated (conntrack) and stays on it; new connections go elsewhere.
      scaled = BACKENDS.filter((b) => b === held.first);
      await syncAll('keep only the held pod');
      scaled = BACKENDS.filter((b) => b !== held.first);
      await syncAll('remove the held pod');
      const fresh = topo.connect(c1(), '10.96.0.24', 80, 30, 'tcp');
      assert.equal(fresh.counts[held.first], undefined);
      const { answers, error } = await held.done;
      assert.equal(error, undefined);
      assert.deepEqual(Object.keys(answers), [held.first]);
      assert.ok(answers[held.first]! >= 10, `pinged throughout: ${JSON.stringify(answers)}`);
      scaled = BACKENDS;
      await syncAll('scale back');
    });

    test(`proxy ${mode}: UDP flows to removed pods are deleted from conntrack`, async () => {
      topo.connect(c1(), '10.96.0.21', 53, 30, 'udp');
      const flowsTo = (ip: string): number =>
        topo
          .exec(topo.hosts[0], ['conntrack', '-L', '-p', 'udp', '--dst-nat', ip])
          .split('\n')
          .filter(Boolean).length;
      assert.ok(flowsTo(topo.pods.b3!.ip) > 0, 'flows to b3 exist before');
      udpScaled = ['b1', 'b2'];
      await syncAll('udp scale down');
      assert.equal(flowsTo(topo.pods.b3!.ip), 0);
      assert.ok(flowsTo(topo.pods.b2!.ip) > 0, 'flows to kept pods stay');
      const r = topo.connect(c1(), '10.96.0.21', 53, 40, 'udp');
      assert.equal(r.counts.b3, undefined);
      udpScaled = BACKENDS;
      await syncAll('udp scale up');
    });

    test(`proxy ${mode}: a restarted sync against programmed rules changes nothing`, async () => {
      const host = topo.hosts[0];
      const sum = checksum(host);
      await syncers[0]!.stop();
      syncers[0] = newSyncer(host);
      await syncAll('restart');
      assert.equal(checksum(host), sum);
    });

    test(`proxy ${mode}: rules flushed by hand are repaired`, async () => {
      const host = topo.hosts[0];
      const sum = checksum(host);
      if (mode === 'iptables') {
        topo.exec(host, ['iptables', '-t', 'nat', '-F']);
        topo.exec(host, ['iptables', '-t', 'filter', '-F']);
        fakeIpt.flush('nat');
        fakeIpt.flush('filter');
      } else {
        topo.exec(host, ['nft', 'flush', 'ruleset']);
        fakeNft.flushRuleset();
      }
      assert.notEqual(checksum(host), sum);
      await until('the rules to be repaired', () => checksum(host) === sum);
      const r = topo.connect(c1(), '10.96.0.20', 80, 20, 'tcp');
      assert.deepEqual(r.errors, {});
    });

    if (mode === 'iptables') {
      test(`proxy ${mode}: a jump into podnet's chains deleted by hand is put back`, async () => {
        const host = topo.hosts[0];
        const sum = checksum(host);
        topo.exec(host, [
          'iptables',
          '-t',
          'nat',
          '-D',
          'PREROUTING',
          '-m',
          'comment',
          '--comment',
          'podnet service portals',
          '-j',
          'PODNET-SERVICES',
        ]);
        fakeIpt.deleteRule(
          'nat',
          'PREROUTING',
          '-m comment --comment "podnet service portals" -j PODNET-SERVICES',
        );
        assert.notEqual(checksum(host), sum);
        await until('the jump to be put back', () => checksum(host) === sum);
        const r = topo.connect(c1(), '10.96.0.20', 80, 20, 'tcp');
        assert.deepEqual(r.errors, {});
      });
    }

    test(`proxy ${mode}: a rule set the kernel rejects leaves the old one and is reported`, async () => {
      const host = topo.hosts[0];
      const sum = checksum(host);
      broken = true;
      for (const s of syncers) s.update(rules(), 'bad service');
      await until(
        'the error on the health report',
        () => !!health.report().errors[`proxy-${host}`],
      );
      assert.match(health.report().errors[`proxy-${host}`]!, new RegExp(`${mode} sync failed`));
      assert.equal(checksum(host), sum);
      const r = topo.connect(c1(), '10.96.0.20', 80, 20, 'tcp');
      assert.deepEqual(r.errors, {});
      broken = false;
      await syncAll('fixed');
      await until('the error to clear', () => !health.report().errors[`proxy-${host}`]);
    });
  });
}
