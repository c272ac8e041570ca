// `podnet cni install`: puts the CNI plugin where runtimes look for it and writes its conflist.
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { CONFLIST_FILE, renderConflist } from '../cni/conflist.js';
import { PLUGIN_TYPE } from '../cni/config.js';
import { OperationError, UsageError, errorMessage } from '../util/errors.js';

/** The C shim `make build` compiles (dist/bin/podnet-cni). */
const SHIM = new URL('../../bin/podnet-cni', import.meta.url).pathname;

export function registerCni(program: Command): void {
  const cni = program.command('cni').description('the CNI plugin container runtimes call');
  cni
    .command('install')
    .description(`install the "${PLUGIN_TYPE}" plugin binary and ${CONFLIST_FILE}`)
    .option('--bin-dir <dir>', 'where the runtime looks for plugins', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'where the runtime looks for network configs', '/etc/cni/net.d')
    .option('--socket <path>', "the node agent's socket", '/run/podnet/agent.sock')
    .action((opts: { binDir: string; confDir: string; socket: string }) => {
      if (!isAbsolute(opts.socket)) {
        throw new UsageError(`--socket ${opts.socket}: must be an absolute path`);
      }
      if (!existsSync(SHIM)) {
        throw new OperationError(`${SHIM} is missing: build it with 'make build'`);
      }
      const plugin = join(opts.binDir, PLUGIN_TYPE);
      const conflist = join(opts.confDir, CONFLIST_FILE);
      try {
        mkdirSync(opts.binDir, { recursive: true });
        mkdirSync(opts.confDir, { recursive: true });
        // Copy then rename: a runtime may be executing the old binary right now.
        copyFileSync(SHIM, `${plugin}.tmp`);
        renameSync(`${plugin}.tmp`, plugin);
        writeFileSync(`${conflist}.tmp`, renderConflist({ agentSocket: opts.socket }));
        renameSync(`${conflist}.tmp`, conflist);
      } catch (err) {
        throw new OperationError(`could not install the CNI plugin: ${errorMessage(err)}`);
      }
      process.stdout.write(`installed ${plugin}\nwrote ${conflist}\n`);
    });
}
