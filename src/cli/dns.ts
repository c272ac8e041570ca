// `podnet dns`: the cluster DNS server, reading the cluster from the store.
import type { Command } from 'commander';
import { UsageError } from '../util/errors.js';
import { defaultWorkers, giveUp, MAX_WORKERS } from '../dns/workers.js';
import { formatIP, parseCidr, parseInput, tryParseIP, type Cidr } from '../net/index.js';
import type { Upstream } from '../dns/forwarder.js';
import { parseCount, resolveStoreUrl } from './context.js';

export function registerDns(program: Command): void {
  program
    .command('dns')
    .description('run the cluster DNS server (records per the Kubernetes DNS spec, forwarding)')
    .option(
      '--listen <addrs>',
      'addresses to answer on (UDP and TCP), comma-separated; the default takes both families',
      '0.0.0.0,::',
    )
    .option('--port <n>', 'port to answer on', parseCount('--port', 1, 65535), 53)
    .option(
      '--upstream <list>',
      'resolvers for names outside the cluster: IP[:PORT],... (IPv6 as IP or [IP]:PORT)',
      '',
    )
    .option(
      '--recursion-allow <cidrs>',
      'ranges beside the cluster (pods, services, nodes) that may resolve outside names: CIDR,...',
      '',
    )
    .option(
      '--rate-limit <n>',
      'identical UDP answers a second per client /24 outside the cluster (its pods and nodes are never limited) before they are slipped or dropped (0: off)',
      parseCount('--rate-limit', 0, 1_000_000),
      50,
    )
    .option(
      '--rate-limit-slip <n>',
      'every n-th limited answer goes out truncated, so real clients retry over TCP (0: drop all)',
      parseCount('--rate-limit-slip', 0, 10),
      2,
    )
    .option('--metrics <addr>', 'metrics and health address (empty: none)', '0.0.0.0:9153')
    .option('--domain <domain>', 'cluster domain', 'cluster.local')
    .option('--ttl <seconds>', 'TTL of cluster records', parseCount('--ttl', 0, 86400), 5)
    .option(
      '--workers <n>',
      'processes answering queries (default: one per core)',
      parseCount('--workers', 1, MAX_WORKERS),
    )
    .action(async (opts, cmd: Command) => {
      const upstreams = parseUpstreams(opts.upstream as string);
      const recursionAllow = parseRanges(opts.recursionAllow as string);
      const domain = parseDomain(opts.domain as string);
      const storeUrl = resolveStoreUrl(cmd);
      const [{ runDns }, { openSource }, { storeSource }] = await Promise.all([
        import('../dns/run.js'),
        import('../kube/open.js'),
        import('../dns/store-source.js'),
      ]);
      // A store URL that cannot work is a usage error now, not SERVFAIL forever.
      await (await openSource(storeUrl, { onRefused: refusedExit })).close();
      await runDns({
        listen: opts.listen,
        port: opts.port,
        domain,
        ttl: opts.ttl,
        upstreams,
        recursionAllow,
        rateLimit: { perSecond: opts.rateLimit, slip: opts.rateLimitSlip },
        metrics: opts.metrics,
        workers: opts.workers ?? defaultWorkers(),
        source: async (index, log) =>
          storeSource(await openSource(storeUrl, { onRefused: refusedExit }))(index, log),
      });
    });
}

/** Refused credentials or permissions do not heal by retrying: say which, and stop. */
function refusedExit(err: Error): never {
  giveUp(`podnet dns: ${err.message}`);
}

/**
 * `IP[:PORT],...` → upstreams (an IPv6 address bare or as `[IP]:PORT`); names what is wrong
 * otherwise. Addresses are kept in their canonical text, the form a socket reports a reply's
 * source in, so the forwarder can match answers to the upstream asked.
 */
export function parseUpstreams(text: string): Upstream[] {
  if (text.trim() === '') return [];
  return text.split(',').map((item) => {
    const upstream = parseUpstream(item.trim());
    if (!upstream) {
      throw new UsageError(
        `--upstream ${item}: expected an IP address with an optional port, e.g. 172.31.0.53:53, fd00::53 or [fd00::53]:53`,
      );
    }
    return upstream;
  });
}

function parseUpstream(item: string): Upstream | undefined {
  const bare = tryParseIP(item);
  if (bare) return { host: formatIP(bare), port: 53 };
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(item) ?? /^([^:[\]]+):(\d+)$/.exec(item);
  const ip = m ? tryParseIP(m[1]!) : undefined;
  const port = Number(m?.[2] ?? 53);
  // Brackets only around IPv6, as in a URL; an IPv4 address with a port goes without.
  if (!ip || ip.family !== (item.startsWith('[') ? 6 : 4)) return undefined;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: formatIP(ip), port };
}

/** `CIDR,...` → ranges; names the one that is wrong otherwise. */
export function parseRanges(text: string): Cidr[] {
  if (text.trim() === '') return [];
  return text.split(',').map((item) => parseInput(parseCidr, item.trim(), '--recursion-allow'));
}

function parseDomain(text: string): string {
  const domain = text.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
    throw new UsageError(`--domain ${text}: expected a DNS name such as cluster.local`);
  }
  return domain;
}
