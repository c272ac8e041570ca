// `lab up --routing bgp --fabric bird|frr`: a real BGP router in the underlay namespace, which
// is every zone's router, peering eBGP with every host (the top-of-rack pattern). Hosts then
// peer only with their zone's router (one BGPPeer per zone, no node-to-node mesh) and
// cross-zone pod traffic is routed natively through it, unencapsulated.
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BGPPeer } from '../api/types.js';
import { DEFAULT_BGP } from '../bgp/cluster.js';
import { renderBirdFabric, renderFrrFabric, type FabricSpec } from '../bgp/fabric.js';
import { isRunning } from '../process/daemons.js';
import { OperationError, UsageError } from '../util/errors.js';
import type { LabOptions, LabPlan } from './plan.js';
import { startProcess, type ProcessRecord } from './supervisor.js';
import { pollUntil } from './wait.js';

/** The fabric router's AS (a private AS apart from the cluster's). */
export const FABRIC_AS = 65000;

/** Why these options cannot make a lab, or undefined when they can. */
export function fabricProblem(options: Pick<LabOptions, 'fabric' | 'routing'>): string | undefined {
  if (options.fabric === 'none') return undefined;
  if (options.routing !== 'bgp') {
    return `--fabric ${options.fabric}: a fabric carries BGP routes, add --routing bgp (or use --fabric none)`;
  }
  return undefined;
}

export function validateFabric(options: Pick<LabOptions, 'fabric' | 'routing'>): void {
  const problem = fabricProblem(options);
  if (problem) throw new UsageError(problem);
}

/** The router's configuration: one eBGP session per host, from its zone's router address. */
export function fabricSpec(plan: LabPlan): FabricSpec {
  return {
    routerId: plan.zones[0]!.router,
    routerAs: FABRIC_AS,
    clusterAs: DEFAULT_BGP.asNumber,
    ...(plan.options.ipFamily === 'ipv6' ? { ipv6Only: true } : {}),
    hosts: plan.hosts.map((h) => ({
      name: h.name,
      address: h.ip,
      routerAddress: h.router,
      ...(h.ipv6 ? { ipv6: { address: h.ipv6.address, routerAddress: h.ipv6.router } } : {}),
    })),
  };
}

/**
 * One BGPPeer per zone: the hosts of a zone peer with that zone's router address (its IPv6 one
 * on an IPv6-only cluster, whose sessions run over IPv6).
 */
export function fabricPeers(plan: LabPlan): BGPPeer[] {
  if (plan.options.fabric === 'none') return [];
  const v6only = plan.options.ipFamily === 'ipv6';
  return plan.zones.map((z) => ({
    apiVersion: 'podnet.io/v1',
    kind: 'BGPPeer',
    metadata: { name: `fabric-${z.zone}` },
    spec: {
      peerIP: v6only && z.ipv6 ? z.ipv6.router : z.router,
      asNumber: FABRIC_AS,
      nodeSelector: { 'topology.kubernetes.io/zone': z.zone },
    },
  }));
}

export interface FabricDaemon {
  /** Supervisor id (`fabric-bird`, `fabric-zebra`, `fabric-bgpd`). */
  id: string;
  argv: string[];
  /** A file the daemon creates once it is up (its control socket). */
  readyFile: string;
}

export interface FabricLayout {
  /** Configs, pid files and control sockets: under the lab directory, so `lab down` removes them. */
  dir: string;
  files: { path: string; text: string }[];
  /** In start order: each one is up before the next starts. */
  daemons: FabricDaemon[];
  /** zebra drops to user frr and must create its files in `dir`. */
  ownedByFrr: boolean;
}

export function fabricDir(labDir: string): string {
  return join(labDir, 'fabric');
}

/** birdc's control socket of a lab's BIRD fabric. */
export function birdSocket(labDir: string): string {
  return join(fabricDir(labDir), 'bird.ctl');
}

/** The socket through which FRR's zebra takes routes from bgpd, for FRR daemons run in `dir`. */
export function zservSocket(dir: string): string {
  return join(dir, 'zserv.api');
}

/**
 * FRR's zebra with its config (zebra.conf), pid file and sockets in `dir`. It refuses to run as
 * root without the frrvty group, so it runs as frr: `dir` must be frr's.
 */
export function zebraArgv(dir: string): string[] {
  return [
    '/usr/lib/frr/zebra',
    '-f',
    join(dir, 'zebra.conf'),
    '-i',
    join(dir, 'zebra.pid'),
    '-z',
    zservSocket(dir),
    '--vty_socket',
    dir,
    '-u',
    'frr',
    '-g',
    'frr',
  ];
}

/**
 * FRR's bgpd with its config (bgpd.conf), pid file and vty socket in `dir`, handing its routes
 * to zebra (zebraArgv in the same `dir`) or, without zebra, to no kernel at all (-Z).
 */
export function bgpdArgv(dir: string, opts: { zebra: boolean }): string[] {
  return [
    '/usr/lib/frr/bgpd',
    '-f',
    join(dir, 'bgpd.conf'),
    '-i',
    join(dir, 'bgpd.pid'),
    ...(opts.zebra ? ['-z', zservSocket(dir)] : ['-Z']),
    '-S',
    '--vty_socket',
    dir,
    '-u',
    'root',
    '-g',
    'root',
  ];
}

export function fabricLayout(plan: LabPlan): FabricLayout | undefined {
  const dir = fabricDir(plan.stateDir);
  const spec = fabricSpec(plan);
  if (plan.options.fabric === 'bird') {
    const conf = join(dir, 'bird.conf');
    const sock = birdSocket(plan.stateDir);
    return {
      dir,
      files: [{ path: conf, text: renderBirdFabric(spec) }],
      daemons: [
        {
          id: 'fabric-bird',
          argv: ['bird', '-f', '-c', conf, '-s', sock, '-P', join(dir, 'bird.pid')],
          readyFile: sock,
        },
      ],
      ownedByFrr: false,
    };
  }
  if (plan.options.fabric === 'frr') {
    return {
      dir,
      files: [
        { path: join(dir, 'zebra.conf'), text: '' },
        { path: join(dir, 'bgpd.conf'), text: renderFrrFabric(spec) },
      ],
      daemons: [
        // zebra installs what bgpd selects in the underlay's kernel.
        { id: 'fabric-zebra', argv: zebraArgv(dir), readyFile: zservSocket(dir) },
        {
          id: 'fabric-bgpd',
          argv: bgpdArgv(dir, { zebra: true }),
          readyFile: join(dir, 'bgpd.vty'),
        },
      ],
      ownedByFrr: true,
    };
  }
  return undefined;
}

/** uid and gid of a local user, from /etc/passwd. */
function userIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new OperationError(`user ${user} not found: is FRR installed (apt-get install frr)?`);
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** Starts the lab's fabric router in the underlay namespace and waits until each daemon is up. */
export async function startFabric(plan: LabPlan, timeoutMs = 20_000): Promise<ProcessRecord[]> {
  const layout = fabricLayout(plan);
  if (!layout) return [];
  mkdirSync(layout.dir, { recursive: true });
  for (const f of layout.files) writeFileSync(f.path, f.text);
  if (layout.ownedByFrr) {
    const { uid, gid } = userIds('frr');
    chownSync(layout.dir, uid, gid);
    for (const f of layout.files) chownSync(f.path, uid, gid);
  }
  const started: ProcessRecord[] = [];
  for (const d of layout.daemons) {
    const p = await startProcess(plan.stateDir, {
      id: d.id,
      argv: d.argv,
      netns: plan.underlayNetns,
    });
    started.push(p);
    const up = await pollUntil(() => {
      if (!isRunning(p)) throw new OperationError(`${d.id} exited (log: ${p.log})`);
      return existsSync(d.readyFile) ? true : undefined;
    }, timeoutMs);
    if (!up) throw new OperationError(`${d.id} not up after ${timeoutMs / 1000}s (log: ${p.log})`);
  }
  return started;
}
