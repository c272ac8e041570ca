// `podnet cni install`: puts the CNI plugin where runtimes look for it and writes its conflist
// (and, for podman, the containers.conf drop-in that points podman at both).
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { Option, type Command } from 'commander';
import { CONFLIST_FILE, renderConflist } from '../cni/conflist.js';
import { PLUGIN_TYPE } from '../cni/config.js';
import { PODMAN_DROP_IN, renderPodmanDropIn } from '../cni/podman.js';
import { OperationError, UsageError, errorMessage } from '../util/errors.js';

/** The C shim `make build` compiles (dist/bin/podnet-cni). */
const SHIM = new URL('../../bin/podnet-cni', import.meta.url).pathname;

interface InstallFlags {
  binDir: string;
  confDir: string;
  socket: string;
  runtime?: 'podman';
  containersConf?: string;
  portmap?: boolean;
}

/** Writes beside the target, then renames: a runtime may be reading (or running) the old file. */
export function replaceFile(path: string, write: (tmp: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  write(`${path}.tmp`);
  renameSync(`${path}.tmp`, path);
}

/**
 * The plugin binary and its conflist, at `binDir` and `confDir` (already under any root the
 * caller installs into); returns the paths written.
 */
export function installCniFiles(opts: {
  binDir: string;
  confDir: string;
  socket: string;
  portmap?: boolean;
}): { plugin: string; conflist: string } {
  if (!existsSync(SHIM)) {
    throw new OperationError(`${SHIM} is missing: build it with 'make build'`);
  }
  const plugin = join(opts.binDir, PLUGIN_TYPE);
  const conflist = join(opts.confDir, CONFLIST_FILE);
  try {
    replaceFile(plugin, (tmp) => copyFileSync(SHIM, tmp));
    replaceFile(conflist, (tmp) =>
      writeFileSync(tmp, renderConflist({ agentSocket: opts.socket, portmap: opts.portmap })),
    );
  } catch (err) {
    throw new OperationError(`could not install the CNI plugin: ${errorMessage(err)}`);
  }
  return { plugin, conflist };
}

export function registerCni(program: Command): void {
  const cni = program.command('cni').description('the CNI plugin container runtimes call');
  cni
    .command('install')
    .description(`install the "${PLUGIN_TYPE}" plugin binary and ${CONFLIST_FILE}`)
    .option('--bin-dir <dir>', 'where the runtime looks for plugins', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'where the runtime looks for network configs', '/etc/cni/net.d')
    .option('--socket <path>', "the node agent's socket", '/run/podnet/agent.sock')
    .option('--portmap', 'chain the portmap plugin after podnet, for pods with a hostPort')
    .addOption(
      new Option(
        '--runtime <runtime>',
        'also configure this runtime to use them (podman: a containers.conf drop-in)',
      ).choices(['podman']),
    )
    .option(
      '--containers-conf <file>',
      `with --runtime podman: the drop-in to write (default ${PODMAN_DROP_IN})`,
    )
    .action((opts: InstallFlags) => {
      for (const [flag, path] of [
        ['--socket', opts.socket],
        ['--bin-dir', opts.binDir],
        ['--conf-dir', opts.confDir],
      ] as const) {
        if (!isAbsolute(path)) throw new UsageError(`${flag} ${path}: must be an absolute path`);
      }
      if (opts.containersConf !== undefined && opts.runtime !== 'podman') {
        throw new UsageError('--containers-conf: only with --runtime podman');
      }
      const dropIn =
        opts.runtime === 'podman' ? (opts.containersConf ?? PODMAN_DROP_IN) : undefined;
      const { plugin, conflist } = installCniFiles(opts);
      try {
        if (dropIn) {
          replaceFile(dropIn, (tmp) =>
            writeFileSync(tmp, renderPodmanDropIn({ binDir: opts.binDir, confDir: opts.confDir })),
          );
        }
      } catch (err) {
        throw new OperationError(`could not install the CNI plugin: ${errorMessage(err)}`);
      }
      process.stdout.write(
        `installed ${plugin}\nwrote ${conflist}\n${dropIn ? `wrote ${dropIn}\n` : ''}`,
      );
    });
}
