// `podnet install`: makes a host a podnet node without Kubernetes, in one command. It writes
// the systemd units for the agent and the cluster DNS, the settings file they read, and the
// CNI plugin with its conflist; starting them is left to systemctl, so nothing runs until the
// operator says so.
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { OperationError, UsageError, errorMessage } from '../util/errors.js';
import { isIPv4 } from '../net/index.js';
import { installCniFiles, replaceFile } from './cni.js';
import { globalOptions } from './context.js';
import { parseUpstreams } from './dns.js';
import {
  AGENT_UNIT,
  DNS_UNIT,
  SETTINGS_FILE,
  renderAgentUnit,
  renderDnsUnit,
  renderSettings,
  type HostSettings,
} from './systemd-units.js';

/** This podnet's own launcher: what the units run unless told otherwise. */
const THIS_PODNET = new URL('../../../bin/podnet', import.meta.url).pathname;
const UNIT_DIR = '/etc/systemd/system';

interface InstallFlags {
  root: string;
  node: string;
  zone?: string;
  nodeIp?: string;
  upstream?: string;
  podnet: string;
  stateDir: string;
  socket: string;
  binDir: string;
  confDir: string;
  portmap?: boolean;
}

/** The settings from the flags, refused with the flag's name when a unit could not carry them. */
function hostSettings(opts: InstallFlags, store: string | undefined): HostSettings {
  if (!store) {
    throw new UsageError(
      '--store: give the cluster store every host shares, e.g. --store etcd:10.0.0.1:2379 (or PODNET_STORE)',
    );
  }
  const values: [string, string | undefined][] = [
    ['--store', store],
    ['--node', opts.node],
    ['--zone', opts.zone],
    ['--node-ip', opts.nodeIp],
    ['--upstream', opts.upstream],
    ['--podnet', opts.podnet],
    ['--state-dir', opts.stateDir],
    ['--socket', opts.socket],
  ];
  for (const [flag, value] of values) {
    // Each value is one word of a unit's command line, read from an environment file.
    if (value !== undefined && (value === '' || /[\s"'\\$]/.test(value))) {
      throw new UsageError(`${flag} "${value}": must be one word without quotes, "\\" or "$"`);
    }
  }
  for (const [flag, path] of [
    ['--podnet', opts.podnet],
    ['--state-dir', opts.stateDir],
    ['--socket', opts.socket],
    ['--bin-dir', opts.binDir],
    ['--conf-dir', opts.confDir],
    ['--root', opts.root],
  ] as const) {
    if (!isAbsolute(path)) throw new UsageError(`${flag} ${path}: must be an absolute path`);
  }
  // Refused here rather than by a unit that keeps restarting.
  if (opts.upstream !== undefined) parseUpstreams(opts.upstream);
  if (opts.nodeIp !== undefined && !isIPv4(opts.nodeIp)) {
    throw new UsageError(`--node-ip ${opts.nodeIp}: must be an IPv4 address like 10.0.0.5`);
  }
  // The units hide /root and /home (ProtectHome), and the DNS runs as a user of its own.
  if (/^\/(root|home)(\/|$)/.test(opts.podnet)) {
    throw new UsageError(
      `--podnet ${opts.podnet}: services cannot run a program under /root or /home; ` +
        'put podnet where every user can read it (e.g. a clone in /opt/podnet) and install from there',
    );
  }
  return {
    podnet: opts.podnet,
    store,
    node: opts.node,
    zone: opts.zone,
    nodeIP: opts.nodeIp,
    stateDir: opts.stateDir,
    socket: opts.socket,
    upstream: opts.upstream,
  };
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description(
      'make this host a podnet node: systemd units for the agent and DNS, their settings, the CNI plugin',
    )
    .option('--root <dir>', 'install into this directory as if it were /', '/')
    .option('--node <name>', "this node's name", hostname())
    .option('--zone <zone>', 'zone label the agent publishes on the Node')
    .option(
      '--node-ip <ip>',
      "InternalIP the agent publishes (default: the default route's source)",
    )
    .option('--upstream <list>', 'resolvers the DNS forwards other names to: IP[:PORT],...')
    .option('--podnet <path>', 'the podnet program the units run', THIS_PODNET)
    .option('--state-dir <dir>', "the agent's durable state", '/var/lib/podnet')
    .option('--socket <path>', "the agent's socket for the CNI plugin", '/run/podnet/agent.sock')
    .option('--bin-dir <dir>', 'where the runtime looks for CNI plugins', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'where the runtime looks for network configs', '/etc/cni/net.d')
    .option('--portmap', 'chain the portmap plugin after podnet, for pods with a hostPort')
    .action((opts: InstallFlags, cmd: Command) => {
      const store = globalOptions(cmd).store ?? process.env.PODNET_STORE;
      const settings = hostSettings(opts, store);
      const under = (path: string) => join(opts.root, path);
      const files: [string, string][] = [
        [SETTINGS_FILE, renderSettings(settings)],
        [join(UNIT_DIR, AGENT_UNIT), renderAgentUnit(settings)],
        [join(UNIT_DIR, DNS_UNIT), renderDnsUnit(settings)],
      ];
      try {
        for (const [path, text] of files) {
          replaceFile(under(path), (tmp) => writeFileSync(tmp, text));
        }
      } catch (err) {
        throw new OperationError(`could not write the systemd units: ${errorMessage(err)}`);
      }
      const cni = installCniFiles({
        binDir: under(opts.binDir),
        confDir: under(opts.confDir),
        socket: opts.socket,
        portmap: opts.portmap,
      });
      const written = [...files.map(([path]) => under(path)), cni.plugin, cni.conflist];
      process.stdout.write(written.map((f) => `wrote ${f}\n`).join(''));
      process.stderr.write(
        `start them with: systemctl daemon-reload && systemctl enable --now ${AGENT_UNIT} ${DNS_UNIT}\n`,
      );
    });
}
