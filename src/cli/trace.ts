// `podnet trace [-n NS] POD DEST[:PORT]`: the path from a pod to a DNS name, service IP or pod
// IP as the kernel will take it, hop by hop, and the first broken step (src/diagnose/trace.ts).
import type { Command } from 'commander';
import type { Node, Pod, Service } from '../api/types.js';
import type { HostPathFacts, Hop } from '../diagnose/trace.js';
import { isIPv4 } from '../net/index.js';
import { UsageError } from '../util/errors.js';
import { labFor, requireRoot, resolveLab, resolveStoreUrl } from './context.js';

/** `name`, `name:port`, `ip`, `ip:port`. */
export function parseDestination(text: string): { host: string; port?: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(text)!;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (!m[1] || (port !== undefined && (port < 1 || port > 65535))) {
    throw new UsageError(
      `${text}: give DEST as a DNS name, service IP or pod IP, with an optional :PORT (1-65535)`,
    );
  }
  return { host: m[1], port };
}

/** The names a pod's resolver tries for `name` (search list, ndots:5). */
export function searchCandidates(name: string, namespace: string, domain: string): string[] {
  const bare = name.replace(/\.$/, '');
  if (name.endsWith('.') || bare.split('.').length - 1 >= 5) return [bare];
  return [`${bare}.${namespace}.svc.${domain}`, `${bare}.svc.${domain}`, `${bare}.${domain}`, bare];
}

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('show the path from a pod to a name, service IP or pod IP as the kernel takes it')
    .argument('<pod>', 'source pod')
    .argument('<dest>', 'DNS name, service IP or pod IP, with an optional :PORT')
    .option('-n, --namespace <ns>', "the source pod's namespace", 'default')
    .option('-o, --output <format>', 'json for one JSON document')
    .action(
      async (
        podName: string,
        destText: string,
        opts: { namespace: string; output?: string },
        cmd: Command,
      ) => {
        requireRoot('podnet trace');
        const dest = parseDestination(destText);
        const [{ openStore }, objects, { serviceEndpoints }, facts, path, diag] = await Promise.all(
          [
            import('../store/open.js'),
            import('../store/objects.js'),
            import('../api/endpoints.js'),
            import('../kernel/host-facts.js'),
            import('../kernel/path-facts.js'),
            import('../diagnose/trace.js'),
          ],
        );
        const { SERVICE_DISPATCH, servicePortListed } = await import('../proxy/programmed.js');
        const lab = labFor(cmd);
        const hostNs = (node: string): string | undefined => (lab ? `${lab}-${node}` : undefined);
        const store = await openStore(resolveStoreUrl(cmd));
        try {
          const [network, pods, services, nodes] = await Promise.all([
            objects.getClusterNetwork(store),
            objects.listObjects(store, 'Pod').then((r) => r.items as Pod[]),
            objects.listObjects(store, 'Service').then((r) => r.items as Service[]),
            objects.listObjects(store, 'Node').then((r) => r.items as Node[]),
          ]);
          const source = pods.find(
            (p) => p.metadata.name === podName && p.metadata.namespace === opts.namespace,
          );
          if (!source?.status?.podIP || !source.spec.nodeName) {
            throw new UsageError(
              `pod ${opts.namespace}/${podName} is not running (see 'podnet get pods -n ${opts.namespace}')`,
            );
          }
          const srcNode = source.spec.nodeName;
          const srcIP = source.status.podIP;
          const hops: Hop[] = [];

          // 1. Name resolution, asked of the cluster DNS from the pod's own namespace.
          let destIP = dest.host;
          if (!isIPv4(dest.host)) {
            let podNetns = hostNs(srcNode);
            if (lab) {
              const { findPodRecord } = await import('../lab/pods.js');
              podNetns =
                findPodRecord(resolveLab(cmd).stateDir, opts.namespace, podName)?.netns ?? podNetns;
            }
            const answer = await path.askDns(
              podNetns,
              network.dnsIP,
              searchCandidates(dest.host, opts.namespace, network.domain),
            );
            if (!answer) {
              hops.push({
                step: 'dns',
                ok: false,
                detail: `${dest.host}: no A record from the cluster DNS ${network.dnsIP} through the search path`,
              });
              return print(opts.output, hops, diag.verdict(hops));
            }
            hops.push({
              step: 'dns',
              ok: true,
              detail: `${answer.name} → ${answer.ip} (cluster DNS ${network.dnsIP})`,
            });
            destIP = answer.ip;
          }

          // 2. A service IP is DNATed on the source host to one of its endpoints.
          let targets: { ip: string; pod?: string; node?: string }[] = [];
          const svc = services.find((s) => s.spec.clusterIP === destIP);
          if (svc) {
            const set = serviceEndpoints(svc, pods);
            const port = set.ports.find((p) => dest.port === undefined || p.port === dest.port);
            if (!port)
              throw new UsageError(`service ${svc.metadata.name} has no port ${dest.port}`);
            const mode = network.proxyMode;
            const where = SERVICE_DISPATCH.nftables;
            const listing =
              mode === 'iptables'
                ? await path.iptablesTableText(hostNs(srcNode), SERVICE_DISPATCH.iptables.table)
                : await path.nftMapText(hostNs(srcNode), where.family, where.table, where.map);
            const programmed = servicePortListed(mode, listing, destIP, port.port);
            const endpoints = port.endpoints.map((e) => ({
              pod: e.podName,
              ip: e.ip,
              port: e.port,
              node: e.nodeName,
            }));
            hops.push(
              diag.serviceHop({
                name: `${svc.metadata.namespace}/${svc.metadata.name}`,
                clusterIP: destIP,
                port: port.port,
                endpoints,
                ruleProgrammed: programmed,
                mode,
              }),
            );
            targets = endpoints.map((e) => ({ ip: e.ip, pod: e.pod, node: e.node }));
          } else {
            const pod = pods.find((p) => p.status?.podIP === destIP);
            targets = [{ ip: destIP, pod: pod?.metadata.name, node: pod?.spec.nodeName }];
          }

          // 3. Each pod-to-pod path, from the source host's route to the remote pod's veth.
          const hostFacts = async (
            node: string,
            dst: string,
            from?: { src: string; iif: string },
          ): Promise<HostPathFacts> => {
            const ns = hostNs(node);
            const [host, route] = await Promise.all([
              facts.readHostFacts(ns),
              path.routeGet(ns, dst, from),
            ]);
            const dev = host.links.find((l) => l.ifname === route.dev);
            const tunnel =
              dev?.kind === 'vxlan' && route.gateway
                ? await path.vxlanHop(ns, route.gateway, dev.ifname)
                : undefined;
            const accepts = (flag: string): boolean =>
              host.forwardRules.some(
                (r) => r.includes(`${flag} ${network.clusterCIDR}`) && r.endsWith('-j ACCEPT'),
              );
            const rp = (key: string): number => Number(host.sysctls[key] ?? 0);
            return {
              node,
              route,
              links: host.links,
              forwardPolicy: host.forwardPolicy,
              forwardAccepts: accepts('-s') && accepts('-d'),
              tunnel,
              rpFilterStrict:
                from !== undefined &&
                Math.max(
                  rp('net.ipv4.conf.all.rp_filter'),
                  rp(`net.ipv4.conf.${from.iif}.rp_filter`),
                ) === 1,
            };
          };
          const nodeIPOf = (name?: string): string | undefined =>
            nodes
              .find((n) => n.metadata.name === name)
              ?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
          const srcVeth = (await path.routeGet(hostNs(srcNode), srcIP)).dev;
          for (const t of targets.length > 0 ? targets : []) {
            const from = srcVeth ? { src: srcIP, iif: srcVeth } : undefined;
            const sourceHost = await hostFacts(srcNode, t.ip, from);
            const podMtu = sourceHost.links.find((l) => l.ifname === srcVeth)?.mtu;
            let destinationHost: HostPathFacts | undefined;
            if (t.node && t.node !== srcNode && nodes.some((n) => n.metadata.name === t.node)) {
              const tunnel = sourceHost.tunnel ? sourceHost.route.dev : undefined;
              const srcNodeIP = nodes
                .find((n) => n.metadata.name === srcNode)
                ?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
              const incoming =
                tunnel ??
                (srcNodeIP ? (await path.routeGet(hostNs(t.node), srcNodeIP)).dev : undefined);
              destinationHost = await hostFacts(
                t.node,
                t.ip,
                incoming ? { src: srcIP, iif: incoming } : undefined,
              );
            }
            const pathHops = diag.tracePath({
              source: { pod: podName, ip: srcIP, node: srcNode, mtu: podMtu },
              destination: { ...t, nodeIP: nodeIPOf(t.node) },
              sourceHost,
              destinationHost,
            });
            hops.push(
              ...pathHops.map((h) => ({
                ...h,
                detail: targets.length > 1 ? `[${t.pod ?? t.ip}] ${h.detail}` : h.detail,
              })),
            );
          }
          return print(opts.output, hops, diag.verdict(hops));
        } finally {
          await store.close();
        }
      },
    );
}

function print(
  output: string | undefined,
  hops: Hop[],
  verdict: { ok: boolean; text: string },
): void {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify({ hops, verdict }, null, 2)}\n`);
  } else {
    for (const h of hops)
      process.stdout.write(`${h.ok ? 'ok  ' : 'FAIL'}  ${h.step.padEnd(13)} ${h.detail}\n`);
    process.stdout.write(`${verdict.text}\n`);
  }
  if (!verdict.ok) process.exitCode = 1;
}
