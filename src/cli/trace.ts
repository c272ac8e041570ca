// `podnet trace [-n NS] POD DEST[:PORT]`: the path from a pod to a DNS name, service IP or pod
// IP as the kernel will take it, hop by hop there and back, and the first broken step
// (src/diagnose/trace.ts). This file reads the facts; the diagnosis is pure.
import { ipipBpfTunnel } from '../kernel/bpf-ipip.js';
import { usesIpip } from '../routing/backends/auto.js';
import type { Command } from 'commander';
import type {
  AdminNetworkPolicy,
  BaselineAdminNetworkPolicy,
  ClusterNetwork,
  EndpointSlice,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  Protocol,
  Service,
} from '../api/types.js';
import type { NodeBgpStatus } from '../bgp/status-store.js';
import type { Endpoint, HostPathFacts, Hop, Leg } from '../diagnose/trace.js';
import { isIP, tryParseIP, type Family } from '../net/index.js';
import { UsageError } from '../util/errors.js';
import { labFor, requireRoot, resolveLab, resolveStoreUrl } from './context.js';
import { outputOption } from './output.js';

/** `name`, `name:port`, `ip`, `ip:port`, and for IPv6 `ip` or `[ip]:port`. */
export function parseDestination(text: string): { host: string; port?: number } {
  if (isIP(text)) return { host: text, port: undefined };
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(text);
  const m = bracketed ?? /^(.*?)(?::(\d+))?$/.exec(text)!;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (!m[1] || (bracketed && !isIP(m[1])) || (port !== undefined && (port < 1 || port > 65535))) {
    throw new UsageError(
      `${text}: give DEST as a DNS name, service IP or pod IP, with an optional :PORT (1-65535); an IPv6 address with a port as [IP]:PORT`,
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
    .option('--protocol <protocol>', 'TCP, UDP or SCTP, for judging NetworkPolicy', 'TCP')
    .option(
      '--family <family>',
      "ipv4 or ipv6: the address a DNS name resolves to (A or AAAA); default the pod's first address's",
    )
    .addOption(outputOption(['json']))
    .action(
      async (
        podName: string,
        destText: string,
        opts: { namespace: string; protocol: string; family?: string; output?: string },
        cmd: Command,
      ) => {
        requireRoot('podnet trace');
        const dest = parseDestination(destText);
        const protocol = parseProtocol(opts.protocol);
        const family = parseFamily(opts.family, dest.host);
        const [{ openStore }, objects, { readStatuses }] = await Promise.all([
          import('../store/open.js'),
          import('../store/objects.js'),
          import('../bgp/status-store.js'),
        ]);
        const store = await openStore(resolveStoreUrl(cmd), { create: false });
        try {
          const [
            network,
            pods,
            services,
            slices,
            nodes,
            bgp,
            policies,
            namespaces,
            adminPolicies,
            baselinePolicies,
          ] = await Promise.all([
            objects.getClusterNetwork(store),
            objects.listObjects(store, 'Pod').then((r) => r.items as Pod[]),
            objects.listObjects(store, 'Service').then((r) => r.items as Service[]),
            objects.listObjects(store, 'EndpointSlice').then((r) => r.items),
            objects.listObjects(store, 'Node').then((r) => r.items as Node[]),
            readStatuses(store),
            objects.listObjects(store, 'NetworkPolicy').then((r) => r.items as NetworkPolicy[]),
            objects.listObjects(store, 'Namespace').then((r) => r.items as Namespace[]),
            objects
              .listObjects(store, 'AdminNetworkPolicy')
              .then((r) => r.items as AdminNetworkPolicy[]),
            objects
              .listObjects(store, 'BaselineAdminNetworkPolicy')
              .then((r) => r.items as BaselineAdminNetworkPolicy[]),
          ]);
          const source = pods.find(
            (p) => p.metadata.name === podName && p.metadata.namespace === opts.namespace,
          );
          if (!source?.status?.podIP || !source.spec.nodeName) {
            throw new UsageError(
              `pod ${opts.namespace}/${podName} is not running (see 'podnet get pods -n ${opts.namespace}')`,
            );
          }
          const lab = labFor(cmd);
          const families = await import('../diagnose/trace-families.js');
          const tracer = await pathTracer({
            lab,
            network,
            nodes,
            pods,
            bgp,
            policies,
            namespaces,
            adminPolicies,
            baselinePolicies,
            source,
          });
          const hops = await traceFrom(tracer, families, {
            cmd,
            lab,
            network,
            pods,
            services,
            slices,
            source,
            dest,
            protocol,
            family: family ?? families.defaultFamilyOf(source),
          });
          print(opts.output, hops, tracer.verdict(hops));
        } finally {
          await store.close();
        }
      },
    );
}

interface TraceInput {
  cmd: Command;
  lab?: string;
  network: ClusterNetwork['spec'];
  pods: Pod[];
  services: Service[];
  slices: EndpointSlice[];
  source: Pod;
  dest: { host: string; port?: number };
  protocol: Protocol;
  /** The family a DNS name is resolved to. */
  family: Family;
}

/** `--family ipv4|ipv6`; it picks the record a name resolves to, so an address must agree. */
export function parseFamily(text: string | undefined, host: string): Family | undefined {
  if (text === undefined) return undefined;
  const family = ({ ipv4: 4, ipv6: 6 } as const)[text.toLowerCase()];
  if (family === undefined) throw new UsageError(`--family ${text}: give ipv4 or ipv6`);
  const given = tryParseIP(host);
  if (given && given.family !== family) {
    throw new UsageError(`--family ${text}: ${host} is an IPv${given.family} address`);
  }
  return family;
}

function parseProtocol(text: string): Protocol {
  const upper = text.toUpperCase();
  if (upper === 'TCP' || upper === 'UDP' || upper === 'SCTP') return upper;
  throw new UsageError(`--protocol ${text}: give TCP, UDP or SCTP`);
}

type Families = typeof import('../diagnose/trace-families.js');

/** DNS, then the service choice, then each pod-to-pod path. */
async function traceFrom(tracer: PathTracer, families: Families, t: TraceInput): Promise<Hop[]> {
  const { network, source, dest } = t;
  const namespace = source.metadata.namespace!;
  // The packet leaves from the source pod's address of the destination's family.
  const fromIn = (ip: string): Endpoint & { node: string } => {
    const family = families.familyOfText(ip) ?? 4;
    const address = families.podAddressFor(source, family);
    if (!address) {
      throw new UsageError(
        `pod ${namespace}/${source.metadata.name} has no IPv${family} address to reach ${ip} from`,
      );
    }
    return { ...tracer.endpoint(address, source), node: source.spec.nodeName! };
  };
  const hops: Hop[] = [];
  let destIP = dest.host;
  if (!isIP(dest.host)) {
    // Name resolution, asked of the cluster DNS from the pod's own namespace.
    let podNetns = tracer.hostNs(source.spec.nodeName!);
    if (t.lab) {
      const { findPodRecord } = await import('../lab/pods.js');
      podNetns =
        findPodRecord(resolveLab(t.cmd).stateDir, namespace, source.metadata.name)?.netns ??
        podNetns;
    }
    const question = families.dnsQuestionFor(network, t.family);
    const answer = await tracer.path.askDns(
      podNetns,
      question,
      searchCandidates(dest.host, namespace, network.domain),
    );
    if (!answer) {
      // No answer: the way to the DNS server is traced first, so that what blocks it is
      // named rather than blamed on the records.
      const toDns = await serviceHops(
        tracer,
        families,
        { ...t, protocol: 'UDP' },
        fromIn(question.server),
        question.server,
        53,
        'dns ',
      );
      const blocked = toDns.some((h) => !h.ok);
      hops.push(...toDns, {
        step: 'dns',
        ok: false,
        detail: blocked
          ? `${dest.host}: no answer from the cluster DNS ${question.server}: the path to it is broken (above)`
          : `${dest.host}: no ${question.type} record from the cluster DNS ${question.server} through the search path`,
      });
      return hops;
    }
    hops.push({
      step: 'dns',
      ok: true,
      detail: `${answer.name} → ${answer.ip} (cluster DNS ${question.server})`,
    });
    destIP = answer.ip;
  }
  const from = fromIn(destIP);
  if (families.serviceWithClusterIP(t.services, destIP)) {
    hops.push(...(await serviceHops(tracer, families, t, from, destIP, dest.port, '')));
  } else {
    const pod = families.podWithAddress(t.pods, destIP);
    const target = { ...tracer.endpoint(destIP, pod), port: dest.port };
    hops.push(...(await tracer.paths(from, [target], '', t.protocol)));
  }
  return hops;
}

/** A service IP is DNATed on the source host to one of its endpoints; each is traced. */
async function serviceHops(
  tracer: PathTracer,
  families: Families,
  t: TraceInput,
  from: Endpoint & { node: string },
  clusterIP: string,
  wantedPort: number | undefined,
  label: string,
): Promise<Hop[]> {
  const { endpointsFromSlices, usableEndpoints } = await import('../api/slice-endpoints.js');
  const svc = families.serviceWithClusterIP(t.services, clusterIP);
  if (!svc) {
    return [{ step: 'service', ok: false, detail: `no Service has the cluster IP ${clusterIP}` }];
  }
  const set = endpointsFromSlices(svc, t.slices);
  const port = set.ports.find((p) => wantedPort === undefined || p.port === wantedPort);
  if (!port) throw new UsageError(`service ${svc.metadata.name} has no port ${wantedPort}`);
  const mode = t.network.proxyMode;
  const ns = tracer.hostNs(from.node);
  const family = families.familyOfText(clusterIP) ?? 4;
  const { serviceDispatch, servicePortListed } = await import('../proxy/programmed.js');
  const dispatch = serviceDispatch(family);
  const nft = dispatch.nftables;
  const listing =
    mode === 'iptables'
      ? await tracer.path.iptablesTableText(ns, dispatch.iptables.table, family)
      : await tracer.path.nftMapText(ns, nft.family, nft.table, nft.map);
  const programmed = servicePortListed(mode, listing, clusterIP, port.port);
  // A cluster IP is DNATed to endpoints of its own family (one slice per family). By pod name,
  // so that the list and the paths after it read the same on every run.
  const endpoints = usableEndpoints(port.endpoints)
    .filter((e) => families.familyOfText(e.ip) === family)
    .map((e) => ({
      // A hand-written slice may name no pod: the address stands for it.
      pod: e.podName ?? e.ip,
      ip: e.ip,
      port: e.port,
      node: e.nodeName,
    }))
    .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  const hop = tracer.diag.serviceHop({
    name: `${svc.metadata.namespace}/${svc.metadata.name}`,
    clusterIP,
    port: port.port,
    endpoints,
    ruleProgrammed: programmed,
    mode,
  });
  const targets = endpoints.map((e) => ({
    ...tracer.endpoint(e.ip, families.podWithAddress(t.pods, e.ip)),
    port: e.port,
  }));
  return [
    { ...hop, detail: `${label ? `[${label.trim()}] ` : ''}${hop.detail}` },
    ...(await tracer.paths(from, targets, label, t.protocol)),
  ];
}

interface PathTracer {
  diag: typeof import('../diagnose/trace.js');
  path: typeof import('../kernel/path-facts.js');
  hostNs(node: string): string | undefined;
  endpoint(ip: string, pod?: Pod): Endpoint;
  /**
   * Hops of every path from `from` to each target (at its port after DNAT), labelled when
   * there are several: NetworkPolicy's verdict first, then the kernel's path.
   */
  paths(
    from: Endpoint & { node: string },
    targets: (Endpoint & { port?: number })[],
    label: string,
    protocol: Protocol,
  ): Promise<Hop[]>;
  verdict(hops: Hop[]): { ok: boolean; text: string };
}

/** Reads, per host, what the path needs; the routing's view of nodes decides who owns an IP. */
async function pathTracer(c: {
  lab?: string;
  network: ClusterNetwork['spec'];
  nodes: Node[];
  pods: Pod[];
  bgp: NodeBgpStatus[];
  policies: NetworkPolicy[];
  namespaces: Namespace[];
  adminPolicies: AdminNetworkPolicy[];
  baselinePolicies: BaselineAdminNetworkPolicy[];
  source: Pod;
}): Promise<PathTracer> {
  const [
    facts,
    path,
    diag,
    { bgpRouteOrigin },
    families,
    { NETWORK_UNAVAILABLE },
    { evaluate, isolatingPolicies },
    { policyHop },
  ] = await Promise.all([
    import('../kernel/host-facts.js'),
    import('../kernel/path-facts.js'),
    import('../diagnose/trace.js'),
    import('../diagnose/origin.js'),
    import('../diagnose/trace-families.js'),
    import('../routing/condition.js'),
    import('../policy/evaluate.js'),
    import('../diagnose/policy.js'),
  ]);
  const { network, nodes } = c;
  const hostNs = (node: string): string | undefined => (c.lab ? `${c.lab}-${node}` : undefined);
  /** The node's underlay address of `family`: the next hop of a direct route to its pods. */
  const nodeIP = (name: string | undefined, family: Family): string | undefined => {
    const node = nodes.find((n) => n.metadata.name === name);
    return node && families.nodeAddressFor(node, family);
  };
  const ownerOf = (ip: string): string | undefined =>
    nodes.find((node) => families.nodeOwns(node, ip))?.metadata.name;
  const unreachable = (node: string): string | undefined => {
    const cond = nodes
      .find((n) => n.metadata.name === node)
      ?.status?.conditions?.find((x) => x.type === NETWORK_UNAVAILABLE && x.status === 'True');
    return cond?.message;
  };
  /**
   * NetworkPolicy on the first packet to `to`, or nothing when no policy could apply. Without a
   * port only the absence of isolation can be told.
   */
  const judgePolicy = (to: Endpoint & { port?: number }, protocol: Protocol): Hop | undefined => {
    const cluster = {
      pods: c.pods,
      namespaces: c.namespaces,
      policies: c.policies,
      adminPolicies: c.adminPolicies,
      baselinePolicies: c.baselinePolicies,
      nodes,
    };
    const target = families.podWithAddress(c.pods, to.ip);
    // Admin policies may speak about any pod: with any at all, every connection is judged.
    const isolated =
      c.adminPolicies.length + c.baselinePolicies.length > 0 ||
      isolatingPolicies(c.source, 'Egress', c.policies).length > 0 ||
      (target !== undefined && isolatingPolicies(target, 'Ingress', c.policies).length > 0);
    if (!isolated) return undefined;
    const destination = to.pod ?? to.ip;
    if (to.port === undefined) {
      return {
        step: 'policy',
        ok: true,
        detail: `NetworkPolicy isolates ${c.source.metadata.name} or ${destination}: give DEST:PORT to judge this connection`,
      };
    }
    const verdict = evaluate(
      {
        src: { pod: c.source },
        dst: target ? { pod: target } : { ip: to.ip },
        protocol,
        port: to.port,
      },
      cluster,
    );
    return policyHop({
      verdict,
      source: c.source.metadata.name,
      destination,
      protocol,
      port: to.port,
    });
  };
  /** The host-side device of a pod's veth: the route the host has to the pod's IP. */
  const vethOf = async (e: Endpoint & { node: string }): Promise<string | undefined> => {
    if (!e.pod) return undefined;
    const r = await path.routeGet(hostNs(e.node), e.ip);
    return r.ok && r.dev?.startsWith('pn') ? r.dev : undefined;
  };
  const hostFacts = async (
    node: string,
    dst: string,
    from?: { src: string; iif: string },
  ): Promise<HostPathFacts> => {
    const ns = hostNs(node);
    const family = families.familyOfText(dst) ?? 4;
    const [host, route] = await Promise.all([
      facts.readHostFacts(ns, family),
      path.routeGet(ns, dst, from),
    ]);
    const dev = host.links.find((l) => l.ifname === route.dev);
    const tunnel =
      dev?.kind === 'vxlan' && route.gateway
        ? await path.vxlanHop(ns, route.gateway, dev.ifname)
        : undefined;
    // Without a tunnel device (podnet's and pod veths are pn*), IP-in-IP is the tc BPF program
    // on the route's device.
    const ipipBpf =
      usesIpip(network.backend, network.autoTunnel) &&
      route.ok &&
      route.dev &&
      !route.dev.startsWith('pn')
        ? await ipipBpfTunnel(route.dev, dst, ns)
        : undefined;
    const accepts = (flag: string): boolean =>
      host.forwardRules.some(
        (r) =>
          r.includes(`${flag} ${families.clusterCIDRFor(network, family)}`) &&
          r.endsWith('-j ACCEPT'),
      );
    const rp = (key: string): number => Number(host.sysctls[key] ?? 0);
    const bgp = network.routing === 'bgp';
    return {
      node,
      route,
      links: host.links,
      forwardPolicy: host.forwardPolicy,
      forwardAccepts: accepts('-s') && accepts('-d'),
      ipForward:
        host.sysctls[family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'] !== '0',
      tunnel,
      ipipBpf,
      podnetRoutes: host.podnetRoutes,
      routeOrigin:
        bgp && route.ok && !tunnel
          ? bgpRouteOrigin(
              route.gateway,
              nodes,
              c.bgp.find((b) => b.node === node),
            )
          : undefined,
      unreachable: unreachable(node),
      // IPv6 has no rp_filter (its reverse-path check is a firewall rule podnet does not add).
      rpFilterStrict:
        family === 4 &&
        from !== undefined &&
        Math.max(rp('net.ipv4.conf.all.rp_filter'), rp(`net.ipv4.conf.${from.iif}.rp_filter`)) ===
          1,
    };
  };
  /** One direction: the sender's host as the packet leaves its veth, the receiver's as it arrives. */
  const leg = async (
    direction: Leg['direction'],
    from: Endpoint & { node: string },
    to: Endpoint,
  ): Promise<Leg> => {
    const veth = await vethOf(from);
    const out = await hostFacts(from.node, to.ip, veth ? { src: from.ip, iif: veth } : undefined);
    let incoming: HostPathFacts | undefined;
    if (to.node && to.node !== from.node) {
      // Through a tunnel the packet arrives on the peer's device of the same name; otherwise
      // on whichever device faces the sender's host.
      const fromIP = nodeIP(from.node, families.familyOfText(from.ip) ?? 4);
      const iif = out.tunnel
        ? out.route.dev
        : fromIP
          ? (await path.routeGet(hostNs(to.node), fromIP)).dev
          : undefined;
      incoming = await hostFacts(to.node, to.ip, iif ? { src: from.ip, iif } : undefined);
    }
    const mtu = veth ? out.links.find((l) => l.ifname === veth)?.mtu : undefined;
    return { direction, from: { ...from, mtu }, to, out, in: incoming };
  };
  return {
    diag,
    path,
    hostNs,
    endpoint(ip, pod) {
      const node = pod?.spec.nodeName ?? ownerOf(ip);
      const family = families.familyOfText(ip) ?? 4;
      return { ip, pod: pod?.metadata.name, node, nodeIP: nodeIP(node, family) };
    },
    async paths(from, targets, label, protocol) {
      const hops: Hop[] = [];
      for (const to of targets) {
        const tag = label || targets.length > 1 ? `[${label}${to.pod ?? to.ip}] ` : '';
        const policy = judgePolicy(to, protocol);
        if (policy) hops.push({ ...policy, detail: `${tag}${policy.detail}` });
        const request = await leg('request', from, to);
        // The reply comes back from a pod on another host; to a bare IP there is none to trace.
        const reply =
          to.pod && to.node && to.node !== from.node
            ? await leg('reply', { ...to, node: to.node }, from)
            : undefined;
        hops.push(
          ...diag
            .tracePath({
              clusterCIDR: families.clusterCIDRFor(network, families.familyOfText(to.ip) ?? 4),
              backend: network.backend,
              request,
              reply,
            })
            .map((h) => ({ ...h, detail: `${tag}${h.detail}` })),
        );
      }
      return hops;
    },
    verdict: diag.verdict,
  };
}

function print(
  output: string | undefined,
  hops: Hop[],
  verdict: { ok: boolean; text: string },
): void {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify({ hops, verdict }, null, 2)}\n`);
  } else {
    for (const h of hops) {
      const step = h.direction === 'reply' ? `${h.step} ←` : h.step;
      process.stdout.write(`${h.ok ? 'ok  ' : 'FAIL'}  ${step.padEnd(15)} ${h.detail}\n`);
    }
    process.stdout.write(`${verdict.text}\n`);
  }
  if (!verdict.ok) process.exitCode = 1;
}
