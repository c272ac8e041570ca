// Instance metadata (IMDSv2) for the lab's hosts, served where EC2 serves it: 169.254.169.254,
// one hop beyond each host (in the underlay), telling each caller about the instance its
// source address belongs to. A session token (PUT) comes first, as IMDSv2 requires. Its
// replies leave with TTL 1 (nftables, set up by lab up), so a pod behind a host gets nothing.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { LAB_REGION, type LabCloud, type LabInstance } from './cloud-plan.js';

const MAX_TOKEN_TTL_SECONDS = 21_600;

/** The metadata paths podnet reads, for one instance. */
export function metadataValues(cloud: LabCloud, i: LabInstance): Map<string, string> {
  const iface = `network/interfaces/macs/${i.mac}`;
  return new Map([
    ['instance-id', i.instanceId],
    ['local-ipv4', i.ip],
    ['mac', i.mac],
    ['placement/availability-zone', i.availabilityZone],
    ['placement/region', LAB_REGION],
    [`${iface}/interface-id`, i.networkInterfaceId],
    [`${iface}/vpc-id`, cloud.vpcId],
    [`${iface}/subnet-id`, i.subnetId],
    [`${iface}/local-ipv4s`, i.ip],
  ]);
}

export async function startMetadata(cloud: LabCloud, host: string, port = 80): Promise<Server> {
  const byAddress = new Map(cloud.instances.map((i) => [i.ip, metadataValues(cloud, i)]));
  const tokens = new Map<string, { address: string; expires: number }>();
  const server = createServer((req, res) => {
    const address = req.socket.remoteAddress ?? '';
    const values = byAddress.get(address);
    const send = (status: number, text: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(text);
    };
    if (!values) return send(403, 'not an instance of this VPC');
    if (req.url === '/latest/api/token' && req.method === 'PUT') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
        return send(400, 'X-aws-ec2-metadata-token-ttl-seconds: 1 to 21600');
      }
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, { address, expires: Date.now() + ttl * 1000 });
      return send(200, token);
    }
    const session = tokens.get(String(req.headers['x-aws-ec2-metadata-token'] ?? ''));
    if (!session || session.address !== address || session.expires < Date.now()) {
      return send(401, 'Unauthorized');
    }
    const path = /^\/latest\/meta-data\/(.+)$/.exec(req.url ?? '')?.[1];
    const value = path === undefined ? undefined : values.get(path);
    if (value === undefined) return send(404, 'Not Found');
    return send(200, value);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** nftables in the underlay: metadata replies leave with TTL 1, EC2's hop limit. */
export function metadataHopLimitScript(address: string, port = 80): string {
  return [
    'table ip podnet-metadata {',
    '  chain hop-limit {',
    '    type filter hook output priority mangle; policy accept;',
    `    ip saddr ${address} tcp sport ${port} ip ttl set 1`,
    '  }',
    '}',
    '',
  ].join('\n');
}
