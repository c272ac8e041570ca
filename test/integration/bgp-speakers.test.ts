// podnet speakers in namespaces, one process each: full iBGP mesh, a route reflector with
// three clients, a ring of reflectors that settles after a withdrawal, and what happens to
// routes when a peer dies, freezes, says goodbye or restarts gracefully.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withBgpNet, inNs, until, type BgpNet, type SpeakerHandle } from '../helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../helpers/names.js';

before(() => {
  sweepStaleNamespaces();
});

const AS = 64512;
const subnet = (i: number) => `10.244.${i}.0/24`;

function config(net: BgpNet, i: number, peers: object[], extra: object = {}) {
  return {
    asNumber: AS,
    bgpId: net.address(i),
    holdTime: 9,
    connectRetryTime: 1,
    idleHoldTime: 1,
    localPrefixes: [subnet(i)],
    peers,
    ...extra,
  };
}

const peer = (net: BgpNet, j: number, extra: object = {}) => ({
  address: net.address(j),
  asNumber: AS,
  ...extra,
});

async function learnedEquals(s: SpeakerHandle, want: Record<string, string>): Promise<boolean> {
  return (
    JSON.stringify(Object.entries(await s.learned()).sort()) ===
    JSON.stringify(Object.entries(want).sort())
  );
}

test("bgp speakers: full iBGP mesh of 3: every host has every other host's subnet; pods reach pods", () =>
  withBgpNet(3, async (net) => {
    const all = [0, 1, 2];
    for (const i of all) net.addPodAddress(i, `10.244.${i}.1`);
    const speakers = await Promise.all(
      all.map((i) =>
        net.speaker(
          i,
          config(
            net,
            i,
            all.filter((j) => j !== i).map((j) => peer(net, j)),
            { installRoutes: true },
          ),
        ),
      ),
    );
    for (const i of all) {
      const want = Object.fromEntries(
        all.filter((j) => j !== i).map((j) => [subnet(j), net.address(j)]),
      );
      await until(`host ${i} learns the others`, () => learnedEquals(speakers[i]!, want));
      const peers = (await speakers[i]!.status()).peers;
      assert.deepEqual(
        peers.map((p) => [p.state, p.kind, p.prefixesReceived, p.prefixesAdvertised]),
        [
          ['Established', 'ibgp', 1, 1],
          ['Established', 'ibgp', 1, 1],
        ],
      );
    }
    // Installed in each kernel (proto 80), and pod addresses answer across hosts.
    for (const i of all) {
      for (const j of all.filter((x) => x !== i)) {
        await until(`route ${i}→${j}`, () =>
          execFileSync('ip', ['-n', net.hosts[i]!, 'route', 'show', subnet(j)], {
            encoding: 'utf8',
          }).includes(`via ${net.address(j)} dev eth0 proto 80`),
        );
        inNs(net.hosts[i]!, ['ping', '-c', '1', '-W', '2', '-I', `10.244.${i}.1`, `10.244.${j}.1`]);
      }
    }
  }));

test('bgp speakers: one route reflector, three clients, no mesh: all routes everywhere', () =>
  withBgpNet(4, async (net) => {
    const rr = await net.speaker(
      0,
      config(
        net,
        0,
        [1, 2, 3].map((j) => peer(net, j, { rrClient: true })),
        { routeReflector: true },
      ),
    );
    const clients = await Promise.all(
      [1, 2, 3].map((i) => net.speaker(i, config(net, i, [peer(net, 0)]))),
    );
    for (const [n, s] of [rr, ...clients].entries()) {
      const want = Object.fromEntries(
        [0, 1, 2, 3].filter((j) => j !== n).map((j) => [subnet(j), net.address(j)]),
      );
      await until(`host ${n} has all routes`, () => learnedEquals(s, want));
    }
    // A reflected route carries its originator and the reflector's cluster id.
    const r = (await clients[0]!.status()).routes.find((x) => x.prefix === subnet(2))!;
    assert.equal(r.from, net.address(0));
    assert.equal(r.nextHop, net.address(2));
    assert.equal(r.originatorId, net.address(2));
    assert.deepEqual(r.clusterList, [net.address(0)]);
    // Clients have exactly one session each: no mesh.
    assert.equal((await clients[1]!.status()).peers.length, 1);
  }));

test('bgp speakers: a ring of reflectors settles after a withdrawal (ORIGINATOR_ID/CLUSTER_LIST)', () =>
  withBgpNet(3, async (net) => {
    // Host i treats host i+1 as its client: 0 → 1 → 2 → 0. Without the reflection loop checks
    // this ring keeps re-reflecting a withdrawn route (see bgp-rib's ring test, which removes
    // them and loops); with them every copy dies.
    const speakers = await Promise.all(
      [0, 1, 2].map((i) =>
        net.speaker(
          i,
          config(net, i, [peer(net, (i + 1) % 3, { rrClient: true }), peer(net, (i + 2) % 3)], {
            routeReflector: true,
            localPrefixes: i === 0 ? ['10.99.0.0/24'] : [],
          }),
        ),
      ),
    );
    await until('everyone has the prefix', async () => {
      for (const s of speakers.slice(1)) if (!(await s.learned())['10.99.0.0/24']) return false;
      return true;
    });
    // Withdraw it: restart host 0's speaker without the prefix (SIGINT says goodbye).
    await speakers[0]!.kill('SIGINT');
    const settled = await until(
      'withdrawal settles',
      async () => {
        for (const s of speakers.slice(1)) if ((await s.learned())['10.99.0.0/24']) return false;
        return true;
      },
      10000,
    );
    assert.ok(settled);
    // And it stays gone: message counters stop moving (no UPDATE chasing its tail).
    const count = async () => {
      let n = 0;
      for (const s of speakers.slice(1))
        for (const p of (await s.status(false)).peers) n += p.messagesIn;
      return n;
    };
    const before = await count();
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await count()) - before <= 4, 'only keepalives may arrive once settled');
    for (const s of speakers.slice(1)) assert.equal((await s.learned())['10.99.0.0/24'], undefined);
  }));

/** Host 1 watches host 0's subnet; returns how long after `act` it disappeared. */
async function timeToWithdraw(
  s: SpeakerHandle,
  act: () => Promise<void>,
  ms = 20000,
): Promise<number> {
  const start = Date.now();
  await act();
  await until('route withdrawn', async () => !(subnet(0) in (await s.learned())), ms);
  return Date.now() - start;
}

test("bgp speakers: a killed or departing peer's routes go at once; a frozen one's after the hold time", () =>
  withBgpNet(2, async (net) => {
    const watcher = await net.speaker(1, config(net, 1, [peer(net, 0)], { holdTime: 3 }));
    const up = async (name: string) => {
      const s = await net.speaker(0, config(net, 0, [peer(net, 1)], { holdTime: 3 }), name);
      await until('learned', async () => (await watcher.learned())[subnet(0)] === net.address(0));
      return s;
    };
    // SIGKILL: the kernel resets the connection; no graceful restart was offered → at once.
    let s = await up('a');
    const killed = await timeToWithdraw(watcher, () => s.kill('SIGKILL'));
    assert.ok(killed < 1500, `withdrawn ${killed} ms after the kill`);
    // SIGINT: a Cease NOTIFICATION → at once.
    s = await up('b');
    const ceased = await timeToWithdraw(watcher, () => s.kill('SIGINT'));
    assert.ok(ceased < 1500, `withdrawn ${ceased} ms after the NOTIFICATION`);
    // SIGSTOP: nothing on the wire; the hold timer (3 s) has to expire.
    s = await up('c');
    const frozen = await timeToWithdraw(watcher, async () => {
      s.proc.kill('SIGSTOP');
    });
    assert.ok(frozen >= 2000 && frozen < 6000, `withdrawn ${frozen} ms after freezing (hold 3 s)`);
    const st = (await watcher.status()).peers[0]!;
    assert.match(st.lastError ?? '', /hold timer expired/);
    s.proc.kill('SIGKILL');
  }));

test('bgp speakers: graceful restart: no route leaves either kernel while a speaker restarts', () =>
  withBgpNet(2, async (net) => {
    const gr = { gracefulRestartTime: 20, installRoutes: true };
    const watcher = await net.speaker(1, config(net, 1, [peer(net, 0)], gr));
    const cfg = config(net, 0, [peer(net, 1)], gr);
    const first = await net.speaker(
      0,
      { ...cfg, localPrefixes: [subnet(0), '10.245.0.0/24'] },
      'first',
    );
    const kernelHas = (i: number, prefix: string) =>
      execFileSync('ip', ['-n', net.hosts[i]!, 'route', 'show', prefix, 'proto', '80'], {
        encoding: 'utf8',
      }).includes(prefix);
    await until(
      'routes installed on both hosts',
      () => kernelHas(1, subnet(0)) && kernelHas(1, '10.245.0.0/24') && kernelHas(0, subnet(1)),
    );
    // Watch both kernels continuously from here: neither route may disappear.
    let missing = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        if (!kernelHas(1, subnet(0)) || !kernelHas(0, subnet(1))) missing++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await first.kill('SIGKILL');
    await until(
      'peer seen away',
      async () => (await watcher.status()).peers[0]!.state !== 'Established',
    );
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await watcher.status()).peers[0]!.stalePrefixes, 2);
    // Back, restarting, without 10.245.0.0/24: End-of-RIB sweeps the stale leftover.
    await net.speaker(0, { ...cfg, restarting: true }, 'second');
    await until('refreshed', async () => {
      const st = await watcher.status();
      return (
        st.peers[0]!.state === 'Established' &&
        st.peers[0]!.stalePrefixes === 0 &&
        Object.keys(await watcher.learned()).length === 1 &&
        !kernelHas(1, '10.245.0.0/24')
      );
    });
    await new Promise((r) => setTimeout(r, 500));
    watching = false;
    await watch;
    assert.equal(missing, 0, 'a route left the kernel while the speaker restarted');
    assert.ok(kernelHas(0, subnet(1)) && kernelHas(1, subnet(0)));
  }));
