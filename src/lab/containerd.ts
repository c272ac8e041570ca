// containerd as a lab host's container runtime, the way kubelet's nodes run it: one private
// instance per host (its own config, root, state and socket under the host's directory;
// never the machine's service), started inside the host's network namespace so that its CRI
// plugin calls podnet's plugin there, with podnet's conflist. `nsenter --net=` keeps it in
// the machine's mount namespace, where the pods' namespace mounts must be seen.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../util/errors.js';
import { run } from '../process/run.js';
import { pidsInNetns } from '../kernel/netns.js';
import { ensureSharedMount, unmountUnder } from '../kernel/mounts.js';
import { signalPid } from '../process/daemons.js';
import { SANDBOX_IMAGE, labImages } from './images.js';
import { cniBinDir, netConfDir } from './network.js';
import type { HostPlan } from './plan.js';
import { startProcess, type ProcessRecord } from './supervisor.js';
import { pollUntil } from './wait.js';

/** Where Debian's containernetworking-plugins are. */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';

/** Kubernetes' CRI namespace in containerd: images and sandboxes kubelet sees live there. */
export const CRI_NAMESPACE = 'k8s.io';

export interface ContainerdPaths {
  dir: string;
  config: string;
  root: string;
  state: string;
  socket: string;
  runcRoot: string;
  /** Where the CRI plugin mounts the pods' network namespaces (`cni-<uuid>`). */
  netnsDir: string;
}

export function containerdPaths(hostStateDir: string): ContainerdPaths {
  const dir = join(hostStateDir, 'containerd');
  const state = join(dir, 'state');
  return {
    dir,
    config: join(dir, 'config.toml'),
    root: join(dir, 'root'),
    state,
    socket: join(dir, 'containerd.sock'),
    runcRoot: join(dir, 'runc'),
    netnsDir: join(state, 'io.containerd.grpc.v1.cri', 'netns'),
  };
}

export interface ContainerdCni {
  binDir: string;
  confDir: string;
}

/**
 * The instance's config. The pods' namespaces are mounted under its state directory (so a
 * lab's sandboxes are found, and swept, by path); OOM score adjustments are restricted because
 * the lab itself runs in a container that may not lower them; the image store is overlayfs.
 */
export function containerdConfig(
  p: ContainerdPaths,
  cni: ContainerdCni,
  sandboxImage: string,
): string {
  const cri = '[plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${JSON.stringify(p.root)}`,
    `state = ${JSON.stringify(p.state)}`,
    '[grpc]',
    `  address = ${JSON.stringify(p.socket)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${p.socket}.ttrpc`)}`,
    '[metrics]',
    '  address = ""',
    `${cri}]`,
    '  netns_mounts_under_state_dir = true',
    '  restrict_oom_score_adj = true',
    '  disable_tcp_service = true',
    `  sandbox_image = ${JSON.stringify(sandboxImage)}`,
    `${cri}.cni]`,
    `  bin_dir = ${JSON.stringify(cni.binDir)}`,
    `  conf_dir = ${JSON.stringify(cni.confDir)}`,
    '  max_conf_num = 1',
    `${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `${cri}.containerd.runtimes.runc.options]`,
    `  Root = ${JSON.stringify(p.runcRoot)}`,
    '',
  ].join('\n');
}

/**
 * Writes the host's config and starts its containerd; resolves once the socket answers and
 * the lab's images are imported. The CRI plugin finds podnet's plugin in the lab's bin
 * directory (Debian's plugins have their own, /usr/lib/cni, used by the benchmark's anchor).
 */
export async function startContainerd(
  labDir: string,
  host: Pick<HostPlan, 'name' | 'netns' | 'stateDir'>,
  cni: ContainerdCni = { binDir: cniBinDir(labDir), confDir: netConfDir(host.stateDir) },
): Promise<ProcessRecord> {
  const p = containerdPaths(host.stateDir);
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(p.config, containerdConfig(p, cni, SANDBOX_IMAGE));
  rmSync(p.socket, { force: true });
  linkLoopback(cni.binDir);
  // Before the agents start: they check the namespaces containerd will mount here.
  mkdirSync(p.netnsDir, { recursive: true });
  await ensureSharedMount(p.netnsDir);
  const proc = await startContainerdProcess(labDir, host, p);
  await importImages(p);
  return proc;
}

/** Starts (or starts again) the host's containerd from its config; waits for its socket. */
export async function startContainerdProcess(
  labDir: string,
  host: { name: string; netns: string },
  p: ContainerdPaths,
): Promise<ProcessRecord> {
  const proc = await startProcess(labDir, {
    id: `containerd-${host.name}`,
    argv: ['containerd', '--config', p.config],
    netns: host.netns,
    enter: 'nsenter',
  });
  const up = await pollUntil(async () => {
    if (!existsSync(p.socket)) return undefined;
    const r = await run(['ctr', '--address', p.socket, 'version'], { okCodes: [1] });
    return r.code === 0 ? true : undefined;
  }, 20_000);
  if (!up) throw new OperationError(`containerd of ${host.name} did not answer on ${p.socket}`);
  return proc;
}

/**
 * containerd's CRI plugin brings up every sandbox's loopback with the `loopback` plugin, from
 * its one plugin directory: Debian's is linked in beside podnet's.
 */
function linkLoopback(binDir: string): void {
  const link = join(binDir, 'loopback');
  if (existsSync(link)) return;
  mkdirSync(binDir, { recursive: true });
  symlinkSync(join(DEBIAN_CNI_DIR, 'loopback'), link);
}

async function importImages(p: ContainerdPaths): Promise<void> {
  for (const { spec, archive } of labImages()) {
    const file = join(p.dir, `${spec.name.replace(/[^A-Za-z0-9.-]/g, '_')}.tar`);
    writeFileSync(file, archive);
    await run(['ctr', '--address', p.socket, '-n', CRI_NAMESPACE, 'images', 'import', file]);
    rmSync(file, { force: true });
  }
}

/**
 * What a host's containerd leaves when it is gone without having removed its sandboxes: the
 * pods' processes (found by the namespaces mounted under its state directory) are killed and
 * every mount under its directory undone, so that the directory can be removed.
 */
export async function sweepContainerd(hostStateDir: string): Promise<number> {
  const p = containerdPaths(hostStateDir);
  if (!existsSync(p.dir)) return 0;
  let netns: string[] = [];
  try {
    netns = readdirSync(p.netnsDir).map((n) => join(p.netnsDir, n));
  } catch {
    /* no sandbox was ever made */
  }
  const pids = [...pidsInNetns(netns).values()].flat();
  for (const pid of pids) signalPid(pid, 'SIGKILL');
  await unmountUnder(p.dir);
  return pids.length;
}
