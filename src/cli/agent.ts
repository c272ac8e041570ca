// `podnet agent`: the per-node daemon.
import type { Command } from 'commander';
import { isIP } from '../net/index.js';
import { UsageError } from '../util/errors.js';
import { requireRoot, resolveStoreUrl } from './context.js';

function parseAddressList(flag: string): (value: string) => string[] {
  return (value) => {
    const addresses = value.split(',').filter(Boolean);
    const bad = addresses.find((a) => !isIP(a));
    if (bad !== undefined || addresses.length === 0)
      throw new UsageError(`${flag} ${value}: give IP addresses separated by commas`);
    return addresses;
  };
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the node agent (routes, services, CNI back end) on this host')
    .requiredOption('--node <name>', "this node's name")
    .option('--state-dir <dir>', 'durable state of this node', '/var/lib/podnet')
    .option('--socket <path>', 'unix socket for the CNI plugin', '/run/podnet/agent.sock')
    .option('--metrics <addr>', 'metrics and health address', '127.0.0.1:9101')
    .option('--zone <zone>', 'zone label to publish on the Node')
    .option('--node-ip <ip>', "InternalIP to publish (default: the default route's source)")
    .option('--backend <backend>', 'override the ClusterNetwork backend on this node')
    .option('--proxy <mode>', 'override the ClusterNetwork proxy mode on this node')
    .option(
      '--control-plane <addresses>',
      'comma-separated addresses of the API server and store, closed to pods like the nodes',
      parseAddressList('--control-plane'),
    )
    .option(
      '--wireguard-socket-dir <dir>',
      "wireguard-go's control socket directory (default /run/wireguard)",
    )
    .action(async (opts, cmd: Command) => {
      requireRoot('podnet agent');
      const { runAgent } = await import('../agent/agent.js');
      const overrides: Record<string, string> = {};
      if (opts.backend) overrides.backend = opts.backend;
      if (opts.proxy) overrides.proxy = opts.proxy;
      await runAgent({
        nodeName: opts.node,
        storeUrl: resolveStoreUrl(cmd),
        stateDir: opts.stateDir,
        socketPath: opts.socket,
        metricsAddress: opts.metrics,
        zone: opts.zone,
        nodeIP: opts.nodeIp,
        controlPlane: opts.controlPlane,
        wireguardSocketDir: opts.wireguardSocketDir,
        overrides,
      });
    });
}
