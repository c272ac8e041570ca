// Who this node is in the cloud: its instance, network interface, VPC, subnet and zone, from
// the instance metadata service (IMDSv2: a session token first, then reads with it), or from
// the Node's spec.providerID (`aws:///<zone>/<instance-id>`) when metadata is out of reach.
import { OperationError } from '../util/errors.js';

export const DEFAULT_METADATA_ENDPOINT = 'http://169.254.169.254';
/** Seconds a metadata session token lives; podnet reads a handful of values at once. */
const TOKEN_TTL_SECONDS = 60;
const TIMEOUT_MS = 2000;

export interface CloudIdentity {
  instanceId: string;
  zone?: string;
  networkInterfaceId?: string;
  vpcId?: string;
  subnetId?: string;
}

export async function identityFromMetadata(
  endpoint = DEFAULT_METADATA_ENDPOINT,
): Promise<CloudIdentity> {
  const base = endpoint.replace(/\/+$/, '');
  const fail = (what: string): never => {
    throw new OperationError(`instance metadata at ${base}: ${what}`);
  };
  const request = async (path: string, init: RequestInit): Promise<string> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      return fail(`no answer for ${path} (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!res.ok) return fail(`${path}: HTTP ${res.status}`);
    return (await res.text()).trim();
  };
  const token = await request('/latest/api/token', {
    method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) },
  });
  const get = (path: string): Promise<string> =>
    request(`/latest/meta-data/${path}`, { headers: { 'X-aws-ec2-metadata-token': token } });
  const [instanceId, zone, mac] = await Promise.all([
    get('instance-id'),
    get('placement/availability-zone'),
    get('mac'),
  ]);
  const iface = `network/interfaces/macs/${mac}`;
  const [networkInterfaceId, vpcId, subnetId] = await Promise.all([
    get(`${iface}/interface-id`),
    get(`${iface}/vpc-id`),
    get(`${iface}/subnet-id`),
  ]);
  return { instanceId, zone, networkInterfaceId, vpcId, subnetId };
}

/** The instance a Node's spec.providerID names, or undefined when it names none. */
export function identityFromProviderID(providerID: string | undefined): CloudIdentity | undefined {
  const m = /^aws:\/\/\/?(?:([a-z0-9-]+)\/)?(i-[0-9a-f]+)$/.exec(providerID ?? '');
  if (!m) return undefined;
  return { instanceId: m[2]!, ...(m[1] ? { zone: m[1] } : {}) };
}
