// podnet's plugin as containerd's CRI plugin (go-cni over libcni) calls it, held to the CNI
// spec: the result containerd caches is the agent's allocation; CHECK, which containerd 1.6
// never calls, passes when called with containerd's cached config and result as libcni would;
// DEL repeated after containerd's own succeeds and leaves nothing; an exited container is
// restarted with back-off; and a sandbox whose containerd state was wiped has its address
// reclaimed by the agent's sweep. One host.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '../../src/api/types.js';
import type { LabState } from '../../src/lab/state.js';
import { containerdPaths } from '../../src/lab/containerd.js';
import { CriClient, type Sandbox } from '../../src/lab/cri-client.js';
import { findProcess, logFile } from '../../src/lab/supervisor.js';
import { PodIPAllocator, type PodAllocation } from '../../src/ipam/pod-ips.js';
import { pidsInNetns } from '../../src/kernel/netns.js';
import { unmountUnder } from '../../src/kernel/mounts.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import { callPlugin } from '../helpers/cni-node.js';
import {
  labDown,
  labUp,
  podnet,
  podnetOk,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';
import { agentMetric } from '../helpers/agent-metrics.js';

/** libcni's cache of what it passed and got back, per network, container and interface. */
interface CniCache {
  kind: string;
  containerId: string;
  config: string;
  ifName: string;
  networkName: string;
  cniArgs?: [string, string][];
  result: { cniVersion: string; ips: { address: string; gateway?: string }[] };
}

/** go-cni keeps libcni's default cache directory: the machine's, not the runtime's state. */
const CNI_CACHE = '/var/lib/cni/results';
const ORPHAN_SCAN_SECONDS = 2;

function podYaml(name: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: default}`,
    'spec:',
    '  nodeName: node-1',
    '  containers: [{name: web, image: busybox, command: [httpd, -f, -p, "8080"]}]',
  ].join('\n');
}

describe('containerd calls podnet as the CNI spec says', () => {
  const name = testLabName();
  let lab: LabState;
  let cri: CriClient;

  before(() => {
    sweepStaleLabs();
    sweepStaleNamespaces();
    // The agents inherit it through `lab up`: a lost sandbox is then swept in seconds.
    process.env.PODNET_ORPHAN_SCAN_SECONDS = String(ORPHAN_SCAN_SECONDS);
    // And the pod runner's crash-loop back-off starts at a second, not kubelet's ten.
    process.env.PODNET_BACKOFF_BASE_SECONDS = '1';
    lab = labUp(name, ['--nodes', '1', '--runtime', 'containerd']);
    cri = new CriClient(containerdPaths(host().stateDir).socket);
  });
  after(() => {
    cri?.close();
    labDown(name);
    delete process.env.PODNET_ORPHAN_SCAN_SECONDS;
    delete process.env.PODNET_BACKOFF_BASE_SECONDS;
  });

  const host = () => lab.hosts[0]!;
  const allocations = (): PodAllocation[] =>
    PodIPAllocator.open(join(host().stateDir, 'ipam', 'pods')).list();
  const getPod = (pod: string): Pod | undefined => {
    const r = podnet(['--lab', lab.name, 'get', 'pod', pod, '-o', 'json']);
    return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
  };
  const running = (pod: string): Promise<string> =>
    until(
      `pod ${pod} to run`,
      () => {
        const s = getPod(pod)?.status;
        const ready = s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return s?.phase === 'Running' && ready ? s.podIP : undefined;
      },
      60_000,
    );
  const sandboxOf = async (pod: string): Promise<Sandbox> =>
    (await cri.listPodSandbox()).find(
      (s) => s.metadata.name === pod && s.state === 'SANDBOX_READY',
    )!;
  const cacheFile = (sandbox: string) => join(CNI_CACHE, `podnet-${sandbox}-eth0`);
  const readCache = (sandbox: string) =>
    JSON.parse(readFileSync(cacheFile(sandbox), 'utf8')) as CniCache;
  const cniCalls = (command: string): number =>
    agentMetric(host().netns, 'podnet_cni_call_duration_seconds_count', { command });

  /** The plugin called as libcni calls it from a cache entry: its conflist, args and result. */
  const callFromCache = (
    command: 'CHECK' | 'DEL',
    cache: CniCache,
    netns: string,
    prevResult: unknown = cache.result,
  ) => {
    const list = JSON.parse(Buffer.from(cache.config, 'base64').toString()) as {
      cniVersion: string;
      name: string;
      plugins: Record<string, unknown>[];
    };
    const config = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0], prevResult };
    return callPlugin(
      {
        CNI_COMMAND: command,
        CNI_CONTAINERID: cache.containerId,
        CNI_NETNS: netns,
        CNI_IFNAME: cache.ifName,
        CNI_ARGS: (cache.cniArgs ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
        CNI_PATH: join(lab.stateDir, 'cni', 'bin'),
      },
      JSON.stringify(config),
    );
  };

  test('ADD: the result containerd caches and reports is the address the agent allocated', async () => {
    podnetOk(['--lab', lab.name, 'apply', '-f', '-'], { input: podYaml('web-1') });
    const ip = await running('web-1');
    const sandbox = await sandboxOf('web-1');
    const mine = allocations().find((a) => a.containerID === sandbox.id);
    assert.ok(mine, `the agent holds no address for sandbox ${sandbox.id}`);
    assert.equal(mine.ip, ip);
    assert.equal(mine.podName, 'web-1');
    assert.equal(mine.podNamespace, 'default');
    const cache = readCache(sandbox.id);
    assert.equal(cache.kind, 'cniCacheV1');
    assert.equal(cache.networkName, 'podnet');
    assert.equal(cache.containerId, sandbox.id);
    assert.equal(cache.result.cniVersion, '1.0.0');
    assert.deepEqual(
      cache.result.ips.map((i) => i.address.split('/')[0]),
      [mine.ip],
    );
    assert.equal((await cri.podSandboxStatus(sandbox.id)).network?.ip, ip);
    assert.ok(cniCalls('ADD') >= 1, 'the agent counted no ADD');
  });

  test("CHECK: containerd's status path never calls it; called as libcni would, it passes, and fails on a result that is not the pod's", async () => {
    await running('web-1');
    const sandbox = await sandboxOf('web-1');
    for (let i = 0; i < 3; i++) await cri.podSandboxStatus(sandbox.id);
    assert.equal(cniCalls('CHECK'), 0, 'containerd 1.6 called CHECK');
    const cache = readCache(sandbox.id);
    const netns = allocations().find((a) => a.containerID === sandbox.id)!.netns;
    const ok = await callFromCache('CHECK', cache, netns);
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout, '');
    const [first] = cache.result.ips;
    const wrong = { ...cache.result, ips: [{ ...first, address: '10.244.250.250/24' }] };
    const bad = await callFromCache('CHECK', cache, netns, wrong);
    assert.notEqual(bad.code, 0, 'CHECK passed with an address the pod does not have');
    assert.ok(cniCalls('CHECK') >= 2);
  });

  test("DEL: containerd's teardown, then the same DEL twice more, all succeed and leave nothing", async () => {
    await running('web-1');
    const sandbox = await sandboxOf('web-1');
    const cache = readCache(sandbox.id);
    const mine = allocations().find((a) => a.containerID === sandbox.id)!;
    const before = cniCalls('DEL');
    podnetOk(['--lab', lab.name, 'delete', 'pod', 'web-1']);
    await until('web-1 to be gone', () => (getPod('web-1') ? undefined : true), 60_000);
    assert.ok(cniCalls('DEL') > before, 'containerd sent no DEL');
    assert.equal(existsSync(cacheFile(sandbox.id)), false, 'libcni kept the cache after DEL');
    for (let i = 0; i < 2; i++) {
      const again = await callFromCache('DEL', cache, mine.netns);
      assert.equal(again.code, 0, `DEL #${i + 2}: ${again.stdout}`);
      assert.equal(again.stdout, '');
    }
    assert.equal(allocations().filter((a) => a.containerID === sandbox.id).length, 0);
    const links = execFileSync('ip', ['-n', host().netns, '-o', 'link', 'show'], {
      encoding: 'utf8',
    });
    assert.ok(!links.includes(mine.hostVeth), `${mine.hostVeth} is left`);
    const routes = execFileSync('ip', ['-n', host().netns, 'route', 'show'], { encoding: 'utf8' });
    assert.ok(!routes.includes(`${mine.ip} `), `a route to ${mine.ip} is left`);
  });

  test('a container that exits is started again in its sandbox, with back-off, as a new attempt', async () => {
    podnetOk(['--lab', lab.name, 'apply', '-f', '-'], {
      input: podYaml('crash').replace('[httpd, -f, -p, "8080"]', '[sh, -c, "sleep 1; exit 3"]'),
    });
    const status = await until(
      'crash to be restarted twice',
      () => {
        const c = getPod('crash')?.status?.containerStatuses?.[0];
        return c && c.restartCount >= 2 ? c : undefined;
      },
      60_000,
    );
    assert.equal(status.lastState?.terminated?.exitCode, 3);
    const sandbox = await sandboxOf('crash');
    // One container per name is kept: each attempt replaces the one before.
    assert.equal((await cri.listContainers(sandbox.id)).length, 1);
    podnetOk(['--lab', lab.name, 'delete', 'pod', 'crash']);
    await until('crash to be gone', () => (getPod('crash') ? undefined : true), 60_000);
  });

  test("a sandbox whose containerd state was wiped has its address reclaimed by the agent's sweep", async () => {
    podnetOk(['--lab', lab.name, 'apply', '-f', '-'], { input: podYaml('web-2') });
    const ip = await running('web-2');
    const sandbox = await sandboxOf('web-2');
    const p = containerdPaths(host().stateDir);
    // containerd dies, and everything it knew of its running sandboxes goes with its state.
    const proc = findProcess(lab.stateDir, `containerd-${host().name}`)!;
    process.kill(proc.pid, 'SIGKILL');
    await until('containerd to exit', () => (existsSync(`/proc/${proc.pid}`) ? undefined : true));
    const lost = allocations().filter((a) => a.netns.startsWith(p.netnsDir));
    wipeContainerdState(p);
    await unmountUnder(p.state);
    for (const entry of readdirSync(p.state)) {
      // The namespaces' directory is a shared mount the agent sees them through; it stays.
      if (entry !== 'io.containerd.grpc.v1.cri') rmSync(join(p.state, entry), { recursive: true });
    }
    const agentLog = logFile(lab.stateDir, `agent-${host().name}`);
    const reclaimed = await until(
      'the agent to reclaim the lost address',
      () =>
        readFileSync(agentLog, 'utf8')
          .split('\n')
          .filter((l) => l.includes('gone without a DEL'))
          .map((l) => JSON.parse(l) as { ip: string; containerID: string; pod?: string })
          .find((l) => l.containerID === sandbox.id),
      (ORPHAN_SCAN_SECONDS + 10) * 1000,
    );
    assert.equal(reclaimed.ip, ip);
    assert.equal(reclaimed.pod, 'default/web-2');
    assert.equal(allocations().filter((a) => a.containerID === sandbox.id).length, 0);
    // Its namespace may outlive it in the kernel: the sweep took the host end away itself.
    for (const a of lost) {
      const link = spawnSync('ip', ['-n', host().netns, 'link', 'show', 'dev', a.hostVeth]);
      assert.notEqual(link.status, 0, `host veth ${a.hostVeth} of a reclaimed pod is left`);
    }
  });
});

/**
 * What a wiped containerd leaves: the sandboxes' processes (found by the namespaces mounted
 * under its state) and their shims are killed, so the pods' namespaces, and their veths, go.
 */
function wipeContainerdState(p: ReturnType<typeof containerdPaths>): void {
  const netns = readdirSync(p.netnsDir).map((n) => join(p.netnsDir, n));
  for (const pid of [...pidsInNetns(netns).values()].flat()) process.kill(pid, 'SIGKILL');
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes('containerd-shim') && cmdline.includes(p.socket)) {
      process.kill(Number(pid), 'SIGKILL');
    }
  }
  for (const ns of netns) {
    execFileSync('umount', ['-l', ns]);
    rmSync(ns);
  }
}
