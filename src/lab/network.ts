// The CNI set-up of each lab host, as on a real host: podnet's plugin installed where the
// runtime looks for plugins (`<lab>/cni/bin/podnet`, the lab's /opt/cni/bin) and its network
// configuration where the runtime looks for configs (`<host state>/net.d/10-podnet.conflist`,
// the host's /etc/cni/net.d), pointed at the host's own agent socket.
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFLIST_FILE, podnetConflist } from '../cni/conflist.js';
import { PLUGIN_TYPE } from '../cni/config.js';
import { OperationError } from '../util/errors.js';
import type { NetworkConfigList } from './cni-runtime.js';
import type { HostPlan } from './plan.js';
import { repoBinDir } from './paths.js';

export function netConfDir(hostStateDir: string): string {
  return join(hostStateDir, 'net.d');
}

export function cniBinDir(labDir: string): string {
  return join(labDir, 'cni', 'bin');
}

/** Where the lab's runtime looks for plugins: the lab's own directory, then Debian's. */
export function cniPath(labDir: string): string[] {
  return [cniBinDir(labDir), '/usr/lib/cni', '/opt/cni/bin'];
}

/** The network every lab host's pods join: podnet's plugin, talking to the host's agent. */
export function labNetwork(host: HostPlan): NetworkConfigList {
  return podnetConflist({ agentSocket: host.agentSocket });
}

export function writeNetwork(host: HostPlan, list: NetworkConfigList): void {
  const dir = netConfDir(host.stateDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CONFLIST_FILE), `${JSON.stringify(list, null, 2)}\n`);
}

/** The plugin binary `make build` compiles (the C client of the agent's CNI socket). */
export function pluginBuild(): string {
  return join(repoBinDir(), '..', 'dist', 'bin', 'podnet-cni');
}

/** Installs podnet's plugin for the lab's runtime: a link to this repo's build. */
export function installPlugin(labDir: string): void {
  const build = pluginBuild();
  if (!existsSync(build)) {
    throw new OperationError(`${build} is missing: build it with 'make build'`);
  }
  const dir = cniBinDir(labDir);
  mkdirSync(dir, { recursive: true });
  const plugin = join(dir, PLUGIN_TYPE);
  rmSync(plugin, { force: true });
  symlinkSync(build, plugin);
}
