// The agent's BGP controller with TCP-MD5 BGPPeers, on loopback addresses (no root needed for
// TCP_MD5SIG): two routers (speakers behind their own TCP-MD5 helper) keyed for the node; the
// node's controller reads each key from its BGPPeer's passwordFile, re-reads it while running
// (a changed key drops only that router's session), and restarts a helper that died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { BgpController, withKeys, type BgpClusterView } from '../../src/agent/bgp.js';
import { HealthState, type AgentContext } from '../../src/agent/controller.js';
import type { BGPPeer, Node } from '../../src/api/types.js';
import { Speaker } from '../../src/bgp/speaker.js';
import { keyChangeLines, startTcpMd5Relay, type TcpMd5Relay } from '../../src/kernel/tcp-md5.js';
import { createLogger } from '../../src/util/log.js';
import { waitFor } from '../helpers/wait.js';

const NET = 150 + (process.pid % 50);
const NODE_IP = `127.${NET}.2.1`;
const routerIP = (i: number) => `127.${NET}.2.${10 + i}`;
const KEYS = ['router one key', 'router two key'];

async function freePort(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Process ids of this process's children running the TCP-MD5 helper on `address`. */
function helperPids(address: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (ppid === process.pid && argv[0]!.endsWith('podnet-bgp-md5') && argv[1] === address) {
        pids.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const until = (what: string, cond: () => boolean, ms = 20000): Promise<true> =>
  waitFor(what, cond, ms, 25);

test('tcp-md5 key changes are the fewest helper lines: removals, then new or changed keys', () => {
  const from = new Map([
    ['10.0.0.1', 'a'],
    ['10.0.0.2', 'b'],
  ]);
  const to = new Map([
    ['10.0.0.2', 'b2'],
    ['10.0.0.3', 'c c'],
  ]);
  assert.equal(keyChangeLines(from, to), '10.0.0.1\n10.0.0.2 b2\n10.0.0.3 c c\n');
  assert.equal(keyChangeLines(to, to), '');
});

test('bgp controller keys: a peer whose key file cannot be read is left out, never unsigned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pn-keys-'));
  try {
    writeFileSync(join(dir, 'good'), 'sesame\n');
    writeFileSync(join(dir, 'empty'), '\n');
    const { peers, problems } = withKeys([
      { address: '10.0.0.1', asNumber: 65000 },
      { address: '10.0.0.2', asNumber: 65000, passwordFile: join(dir, 'good') },
      { address: '10.0.0.3', asNumber: 65000, passwordFile: join(dir, 'empty') },
      { address: '10.0.0.4', asNumber: 65000, passwordFile: join(dir, 'missing') },
    ]);
    assert.deepEqual(peers, [
      { address: '10.0.0.1', asNumber: 65000 },
      { address: '10.0.0.2', asNumber: 65000, password: 'sesame' },
    ]);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^peer 10\.0\.0\.3: passwordFile: .*one line of 1 to 80 bytes$/);
    assert.match(problems[1]!, /^peer 10\.0\.0\.4: passwordFile: .*no such file/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bgp controller: keyed BGPPeers, a key change drops only that session, a dead helper is restarted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pn-md5-'));
  const port = await freePort(NODE_IP);
  const log = createLogger('test', {});
  log.level = 'fatal';
  const keyFile = (i: number) => join(dir, `router-${i}.key`);
  const routers: { speaker: Speaker; relay: TcpMd5Relay }[] = [];
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n0' },
    spec: { podCIDR: '10.244.0.0/24' },
    status: { addresses: [{ type: 'InternalIP', address: NODE_IP }] },
  };
  const bgpPeers: BGPPeer[] = [0, 1].map((i) => ({
    apiVersion: 'podnet.io/v1',
    kind: 'BGPPeer',
    metadata: { name: `router-${i}` },
    spec: { peerIP: routerIP(i), asNumber: 65000, passwordFile: keyFile(i) },
  }));
  const view: BgpClusterView = {
    nodes: () => [node],
    bgpPeers: () => bgpPeers,
    settings: () => ({ holdTime: 9, gracefulRestartTime: 30 }),
    clusterCIDRs: () => ['10.244.0.0/16'],
    onChange: () => undefined,
  };
  let routed: Node[] = [];
  const metrics = new Registry();
  const controller = new BgpController({
    view,
    port,
    keyCheckIntervalMs: 100,
    routeTo: (n) => (routed = n),
  });
  try {
    for (const i of [0, 1]) {
      writeFileSync(keyFile(i), `${KEYS[i]}\n`, { mode: 0o600 });
      const keys = new Map([[NODE_IP, KEYS[i]!]]);
      const relayDir = mkdtempSync(join(dir, 'r'));
      const relay = await startTcpMd5Relay({
        listenAddress: routerIP(i),
        listenPort: port,
        keys,
        dir: relayDir,
      });
      const speaker = new Speaker(
        {
          asNumber: 65000,
          bgpId: routerIP(i),
          listenAddress: routerIP(i),
          listenPort: port,
          holdTime: 9,
          connectRetryTime: 1,
          idleHoldTime: 1,
          tcpMd5: relay,
        },
        log,
      );
      await speaker.listen();
      speaker.setLocalPrefixes([`10.250.${i}.0/24`]);
      speaker.setPeers([{ address: NODE_IP, asNumber: 64512, port, password: KEYS[i] }]);
      routers.push({ speaker, relay });
    }
    const ctx = {
      options: { nodeName: 'n0' },
      store: undefined,
      log,
      metrics,
      health: new HealthState(),
    } as unknown as AgentContext;
    await controller.start(ctx);
    const session = (i: number) => routers[i]!.speaker.status()[0]!;
    const learnt = () =>
      routed
        .slice(1)
        .map((n) => n.spec.podCIDR)
        .sort()
        .join(' ');
    await until('both routers Established', () =>
      [0, 1].every((i) => session(i).state === 'Established'),
    );
    await until('their routes learnt', () => learnt() === '10.250.0.0/24 10.250.1.0/24');
    const since = session(1).establishedSince;

    // Router 0's key file now holds another key: only router 0's session goes.
    writeFileSync(keyFile(0), 'not the key\n');
    await until('router 0 down', () => session(0).state !== 'Established');
    await new Promise((r) => setTimeout(r, 3000));
    assert.notEqual(session(0).state, 'Established', 'no session with the wrong key');
    assert.equal(session(1).state, 'Established');
    assert.equal(session(1).establishedSince, since, "router 1's session untouched");

    // The right key again: back.
    writeFileSync(keyFile(0), `${KEYS[0]}\n`);
    await until('router 0 back', () => session(0).state === 'Established');

    // The helper killed: its sessions go down, it is restarted and counted, they come back.
    const [helper, ...others] = helperPids(NODE_IP);
    assert.ok(helper !== undefined && others.length === 0, 'one helper for the node');
    process.kill(helper, 'SIGKILL');
    await until('router 1 saw the session drop', () => session(1).establishedSince !== since);
    await until('both back', () => [0, 1].every((i) => session(i).state === 'Established'));
    assert.notDeepEqual(helperPids(NODE_IP), [helper]);
    const text = await metrics.metrics();
    assert.match(text, /podnet_bgp_md5_helper_restarts_total 1/);
    for (const shown of [text, JSON.stringify(controller.current()!.status())]) {
      for (const key of KEYS) assert.ok(!shown.includes(key), 'keys are never shown');
    }
  } finally {
    await controller.stop();
    for (const r of routers) {
      await r.speaker.stop({ restarting: false });
      await r.relay.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
