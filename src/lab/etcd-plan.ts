// The lab's etcd cluster as plain data: its members (each on its own address in zone 1 of the
// underlay, the way a control plane's etcd machines sit in one zone), the certificates when it
// runs over TLS, and the store URL every lab process is given. Pure; etcd.ts starts it.
import { join } from 'node:path';
import { addToIP, formatIP, parseIPv4 } from '../net/index.js';
import { UsageError } from '../util/errors.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** Members when `lab up --store etcd` is not told otherwise: survives the loss of one. */
export const DEFAULT_ETCD_MEMBERS = 3;
/** Odd sizes only: an even member adds no fault tolerance, only one more vote to wait for. */
export const ETCD_MEMBER_COUNTS = [1, 3, 5];

export interface EtcdMemberPlan {
  /** etcd's member name and the lab's process id for it: `etcd-<n>` (`etcd` alone when one). */
  name: string;
  /** Its address on zone 1's bridge: the first member has the zone router's own. */
  address: string;
  /** `ADDRESS:2379`, as the store URL names it. */
  endpoint: string;
  clientUrl: string;
  peerUrl: string;
}

/** Where `lab up --store etcd --tls` keeps the CA and the certificates it makes. */
export interface EtcdPkiPaths {
  dir: string;
  ca: string;
  caKey: string;
  /** The client certificate every lab process (and `podnet` on the machine) presents. */
  clientCert: string;
  clientKey: string;
  /** A member's server (and peer) certificate and key. */
  memberCert(name: string): string;
  memberKey(name: string): string;
}

export function etcdPkiPaths(stateDir: string): EtcdPkiPaths {
  const dir = join(stateDir, 'etcd-pki');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    memberCert: (name) => join(dir, `${name}.crt`),
    memberKey: (name) => join(dir, `${name}.key`),
  };
}

export function validateEtcdMembers(count: number): number {
  if (!ETCD_MEMBER_COUNTS.includes(count)) {
    throw new UsageError(
      `--etcd-members ${count}: use ${ETCD_MEMBER_COUNTS.join(', ')} (an odd number keeps a majority)`,
    );
  }
  return count;
}

/**
 * The members, counting down from zone 1's router address (.254, .253, ...): host addresses
 * count up from .1 and stop at .250, so they never meet.
 */
export function planEtcdMembers(
  zone1Router: string,
  count: number,
  tls: boolean,
): EtcdMemberPlan[] {
  const scheme = tls ? 'https' : 'http';
  const first = parseIPv4(zone1Router);
  return Array.from({ length: count }, (_, i) => {
    const address = formatIP(addToIP(first, -i));
    return {
      name: count === 1 ? 'etcd' : `etcd-${i + 1}`,
      address,
      endpoint: `${address}:${ETCD_CLIENT_PORT}`,
      clientUrl: `${scheme}://${address}:${ETCD_CLIENT_PORT}`,
      peerUrl: `${scheme}://${address}:${ETCD_PEER_PORT}`,
    };
  });
}

/** `etcd:A:2379,B:2379,...`, with the CA and client certificate when the cluster runs TLS. */
export function etcdStoreUrl(endpoints: readonly string[], pki?: EtcdPkiPaths): string {
  const url = `etcd:${endpoints.join(',')}`;
  if (!pki) return url;
  return `${url}?ca=${pki.ca}&cert=${pki.clientCert}&key=${pki.clientKey}`;
}

/** One member's command line: the whole cluster is named up front, so all start at once. */
export function etcdMemberArgv(
  member: EtcdMemberPlan,
  members: readonly EtcdMemberPlan[],
  dataDir: string,
  clusterToken: string,
  pki?: EtcdPkiPaths,
): string[] {
  const tls = pki
    ? [...tlsFlags('', member.name, pki), ...tlsFlags('peer-', member.name, pki)]
    : [];
  return [
    'etcd',
    '--name',
    member.name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    member.clientUrl,
    '--advertise-client-urls',
    member.clientUrl,
    '--listen-peer-urls',
    member.peerUrl,
    '--initial-advertise-peer-urls',
    member.peerUrl,
    '--initial-cluster',
    members.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    '--initial-cluster-token',
    clusterToken,
    '--initial-cluster-state',
    'new',
    ...tls,
    '--log-level',
    'warn',
  ];
}

/**
 * etcd's certificate flags for one side: `''` for clients, `'peer-'` for the other members.
 * Both sides check the caller's certificate against the lab's CA and show the member's own.
 */
function tlsFlags(prefix: '' | 'peer-', member: string, pki: EtcdPkiPaths): string[] {
  return [
    `--${prefix}client-cert-auth`,
    `--${prefix}trusted-ca-file`,
    pki.ca,
    `--${prefix}cert-file`,
    pki.memberCert(member),
    `--${prefix}key-file`,
    pki.memberKey(member),
  ];
}
